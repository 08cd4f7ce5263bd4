package dev.hybridge.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import dev.hybridge.oip.Datatype;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.InferResponse;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.Tensor;
import dev.hybridge.policy.Reason;
import dev.hybridge.policy.Tier;
import dev.hybridge.policy.runtime.RouteAnswer;
import dev.hybridge.policy.runtime.RouteOutcome;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.data.redis.connection.RedisStandaloneConfiguration;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;

/**
 * What gateway replicas share through a real Redis server (Debian's redis-server, started on a
 * free loopback port; {@code .ci/run} installs it): budgets and the record of answered
 * escalations. Two ledgers, or two records, stand for two replicas.
 */
class RedisSharedStateTest {

    static final Duration HOUR = Duration.ofHours(1);

    static Process redis;
    static int port;
    static LettuceConnectionFactory connections;
    static ReactiveStringRedisTemplate template;

    /** A clock the test moves by hand. */
    static final class MovableClock extends Clock {
        Instant now = Instant.parse("2026-11-22T10:15:00Z");

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }

    @BeforeAll
    static void startRedis() throws Exception {
        assumeThat(Files.isExecutable(Path.of("/usr/bin/redis-server")))
                .as("redis-server is not installed (apt-get install redis-server)").isTrue();
        port = freePort();
        redis = new ProcessBuilder("/usr/bin/redis-server", "--port", Integer.toString(port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no").redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!accepts(port)) {
            assertThat(System.nanoTime()).as("redis-server did not start").isLessThan(deadline);
            assertThat(redis.isAlive()).as("redis-server exited").isTrue();
            Thread.sleep(20); // polling another process: there is nothing to be notified by
        }
        connections = new LettuceConnectionFactory(new RedisStandaloneConfiguration("127.0.0.1", port));
        connections.afterPropertiesSet();
        connections.start();
        template = new ReactiveStringRedisTemplate(connections);
    }

    @AfterAll
    static void stopRedis() {
        if (connections != null) {
            connections.destroy();
        }
        if (redis != null) {
            redis.destroy();
        }
    }

    @Test
    void spendingOnOneReplicaCountsOnTheOther() {
        MovableClock clock = new MovableClock();
        RedisSpendLedger a = new RedisSpendLedger(template, clock);
        RedisSpendLedger b = new RedisSpendLedger(template, clock);

        assertThat(b.spentUsd("acme", HOUR)).isZero(); // b now follows acme
        a.chargeInRedis("acme", HOUR, 0.25).block();
        a.chargeInRedis("acme", HOUR, 0.5).block();
        assertThat(a.spentUsd("acme", HOUR)).isEqualTo(0.75);
        assertThat(b.spentUsd("acme", HOUR)).as("until b reads the shared totals").isZero();

        b.refresh().block();
        assertThat(b.spentUsd("acme", HOUR)).isEqualTo(0.75);
        assertThat(b.fits("acme", HOUR, 1.0, 0.25)).isTrue();
        assertThat(b.fits("acme", HOUR, 1.0, 0.3)).isFalse();

        b.chargeInRedis("acme", HOUR, 0.1).block();
        assertThat(b.spentUsd("acme", HOUR)).as("b's charge returns the fleet total").isCloseTo(0.85,
                org.assertj.core.data.Offset.offset(1e-12));
        assertThat(b.spentUsd("other", HOUR)).isZero();
        assertThat(template.getExpire("hybridge:spend:acme:" + Instant.parse("2026-11-22T10:00:00Z").toEpochMilli())
                .block()).isBetween(Duration.ofMinutes(119), Duration.ofHours(2));
    }

    @Test
    void aNewWindowStartsAtZero() {
        MovableClock clock = new MovableClock();
        RedisSpendLedger a = new RedisSpendLedger(template, clock);
        a.chargeInRedis("windowed", HOUR, 0.4).block();
        assertThat(a.spentUsd("windowed", HOUR)).isEqualTo(0.4);
        clock.now = clock.now.plus(HOUR);
        assertThat(a.spentUsd("windowed", HOUR)).isZero();
        a.refresh().block();
        assertThat(a.spentUsd("windowed", HOUR)).isZero();
    }

    @Test
    void withoutRedisSpendingIsCountedLocally() {
        LettuceConnectionFactory nowhere = new LettuceConnectionFactory(
                new RedisStandaloneConfiguration("127.0.0.1", freePort()));
        nowhere.afterPropertiesSet();
        nowhere.start();
        try {
            RedisSpendLedger lonely = new RedisSpendLedger(new ReactiveStringRedisTemplate(nowhere), new MovableClock());
            lonely.charge("acme", HOUR, 0.3);
            assertThat(lonely.spentUsd("acme", HOUR)).isEqualTo(0.3);
            lonely.refresh().block(Duration.ofSeconds(30));
            assertThat(lonely.spentUsd("acme", HOUR)).isEqualTo(0.3);
            assertThat(lonely.failures()).isGreaterThan(0);
        } finally {
            nowhere.destroy();
        }
    }

    @Test
    void twoGatewaysShareOneBudget() throws Exception {
        Path policies = Files.createTempDirectory("shared-budget");
        Files.writeString(policies.resolve("paid.yaml"), """
                version: 1
                kind: cloud-only
                cloud: {model: big}
                cost: {cloud: {per-request-usd: 0.001}}
                """);
        Files.writeString(policies.resolve("tenants.yaml"), """
                version: 1
                default: {budget-usd: 0.0025, when-spent: reject}
                """);
        try (FakeWorker cloud = new FakeWorker("cloud");
             var a = gateway(policies, cloud);
             var b = gateway(policies, cloud)) {
            org.springframework.test.web.reactive.server.WebTestClient clientA = client(a);
            org.springframework.test.web.reactive.server.WebTestClient clientB = client(b);
            byte[] body = new dev.hybridge.oip.OipCodec().encodeRequest(new dev.hybridge.oip.InferRequest(
                    java.util.List.of(new dev.hybridge.oip.Tensor("audio", dev.hybridge.oip.Datatype.FP32,
                            new long[] {1, 2}, new float[] {0.5f, 0.25f}))), false).body();
            for (int i = 0; i < 2; i++) {
                clientA.post().uri("/v2/models/paid/infer").contentType(org.springframework.http.MediaType.APPLICATION_JSON)
                        .bodyValue(body).exchange().expectStatus().isOk();
            }
            // a third request on b: 0.003 would exceed 0.0025 once b knows what a spent
            RedisSpendLedger ledgerB = (RedisSpendLedger) b.getBean(dev.hybridge.policy.SpendLedger.class);
            ledgerB.spentUsd("anon", HOUR);
            RedisSpendLedger ledgerA = (RedisSpendLedger) a.getBean(dev.hybridge.policy.SpendLedger.class);
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (ledgerA.spentUsd("anon", HOUR) < 0.002 - 1e-9 && System.nanoTime() < until) {
                Thread.onSpinWait(); // the second charge's INCRBY is still on its way
            }
            ledgerA.refresh().block();
            ledgerB.refresh().block();
            assertThat(ledgerB.spentUsd("anon", HOUR)).isCloseTo(0.002, org.assertj.core.data.Offset.offset(1e-9));
            clientB.post().uri("/v2/models/paid/infer").contentType(org.springframework.http.MediaType.APPLICATION_JSON)
                    .bodyValue(body).exchange().expectStatus().isEqualTo(429)
                    .expectHeader().valueEquals("Hybridge-Reason", "budget_exhausted");
            assertThat(cloud.calls()).isEqualTo(2);
        } finally {
            TestFiles.deleteTree(policies);
        }
    }

    private static org.springframework.context.ConfigurableApplicationContext gateway(Path policies, FakeWorker cloud) {
        return new org.springframework.boot.builder.SpringApplicationBuilder(GatewayApplication.class)
                .run("--server.port=0", "--server.address=127.0.0.1",
                        "--hybridge.gateway.policy-folder=" + policies,
                        "--hybridge.gateway.cloud.addresses=" + cloud.address(),
                        "--hybridge.gateway.anonymous-tenant=anon",
                        "--hybridge.gateway.budget-store=redis",
                        "--hybridge.gateway.budget-refresh=1h", // refreshed by the test
                        "--spring.data.redis.host=127.0.0.1", "--spring.data.redis.port=" + port,
                        "--hybridge.gateway.policy-reload-interval=1h");
    }

    private static org.springframework.test.web.reactive.server.WebTestClient client(
            org.springframework.context.ConfigurableApplicationContext context) {
        int port = ((org.springframework.boot.web.server.context.WebServerApplicationContext) context).getWebServer().getPort();
        return org.springframework.test.web.reactive.server.WebTestClient.bindToServer()
                .baseUrl("http://127.0.0.1:" + port).build();
    }

    @Test
    void anEscalationChargedAgainUnderItsKeyIsCountedOnceAcrossReplicas() {
        MovableClock clock = new MovableClock();
        RedisSpendLedger a = new RedisSpendLedger(template, clock, Duration.ofHours(48));
        RedisSpendLedger b = new RedisSpendLedger(template, clock, Duration.ofHours(48));
        // a replica charged the escalation, then died before recording its answer; the replay's run charges again
        a.chargeInRedis("once-tenant", HOUR, 0.25, "once-tenant|digits|dev/7").block();
        b.chargeInRedis("once-tenant", HOUR, 0.25, "once-tenant|digits|dev/7").block();
        assertThat(b.spentUsd("once-tenant", HOUR)).isEqualTo(0.25);
        b.chargeInRedis("once-tenant", HOUR, 0.25, "once-tenant|digits|dev/8").block();
        assertThat(b.spentUsd("once-tenant", HOUR)).isEqualTo(0.5);
        assertThat(template.getExpire("hybridge:charged:once-tenant|digits|dev/7").block())
                .isBetween(Duration.ofHours(47), Duration.ofHours(48));
    }

    // ------------------------------------------------------------------ escalation record

    static RouteAnswer answer(String route, String label) {
        OipCodec codec = new OipCodec();
        byte[] body = codec.encodeResponse(new InferResponse(route, null, "r", Map.of("hybridge.label", label),
                List.of(new Tensor("probs", Datatype.FP32, new long[] {1, 2}, new float[] {0.1f, 0.9f}))),
                new InferRequest("r", Map.of(), List.of(), List.of())).body();
        return new RouteAnswer(new RouteOutcome(route, Tier.CLOUD, Reason.LOW_CONFIDENCE, 0.9, 0.0004, false, 200), body, -1);
    }

    @Test
    void anEscalationAnsweredOnOneReplicaIsAnsweredFromTheRecordOnTheOther() {
        RedisEscalationRecord a = new RedisEscalationRecord(template, Duration.ofHours(1), Duration.ofSeconds(30),
                new OipCodec(), new SimpleMeterRegistry());
        RedisEscalationRecord b = new RedisEscalationRecord(template, Duration.ofHours(1), Duration.ofSeconds(30),
                new OipCodec(), new SimpleMeterRegistry());
        AtomicInteger runs = new AtomicInteger();
        RouteAnswer first = a.once("t|digits|dev/1", () -> {
            runs.incrementAndGet();
            return CompletableFuture.completedFuture(answer("digits", "3"));
        }).join();
        RouteAnswer again = b.once("t|digits|dev/1", () -> {
            runs.incrementAndGet();
            return CompletableFuture.completedFuture(answer("digits", "5"));
        }).join();
        assertThat(runs).hasValue(1);
        assertThat(again.body()).isEqualTo(first.body());
        assertThat(again.outcome()).isEqualTo(first.outcome());
        assertThat(template.getExpire("hybridge:escalation:t|digits|dev/1").block())
                .isBetween(Duration.ofMinutes(59), Duration.ofHours(1));
    }

    @Test
    void aSendingWhileTheFirstStillRunsIsTold409AndAFailedRunFreesTheKey() {
        RedisEscalationRecord a = new RedisEscalationRecord(template, Duration.ofHours(1), Duration.ofSeconds(30),
                new OipCodec(), new SimpleMeterRegistry());
        CompletableFuture<RouteAnswer> running = new CompletableFuture<>();
        CompletableFuture<RouteAnswer> first = a.once("t|digits|dev/2", () -> running);
        RouteAnswer meanwhile = a.once("t|digits|dev/2", () -> CompletableFuture.completedFuture(answer("digits", "1")))
                .join();
        assertThat(meanwhile.outcome().status()).isEqualTo(409);
        running.complete(new RouteAnswer(new RouteOutcome("digits", null, Reason.CLOUD_UNAVAILABLE, null, 0, false, 503),
                new OipCodec().encodeError("no worker"), -1));
        assertThat(first.join().outcome().status()).isEqualTo(503);
        AtomicInteger runs = new AtomicInteger();
        RouteAnswer retried = a.once("t|digits|dev/2", () -> {
            runs.incrementAndGet();
            return CompletableFuture.completedFuture(answer("digits", "1"));
        }).join();
        assertThat(runs).as("the failed run left the key free").hasValue(1);
        assertThat(retried.outcome().status()).isEqualTo(200);
    }

    private static boolean accepts(int port) {
        try (Socket ignored = new Socket("127.0.0.1", port)) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static int freePort() {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
