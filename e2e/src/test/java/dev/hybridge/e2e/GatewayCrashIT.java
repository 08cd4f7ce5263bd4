package dev.hybridge.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import dev.hybridge.models.Fsdd;
import java.io.IOException;
import java.math.BigDecimal;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A gateway killed ({@code kill -9}) while an edge agent replays its outbox, and started again on
 * the same address with the same Redis (budgets and the record of answered escalations there):
 * no kept escalation is lost, and none is charged twice. The tenant's spending in Redis equals
 * the sum of the costs the answers report. Skipped where redis-server is not installed
 * ({@code .ci/run} installs it).
 */
class GatewayCrashIT {

    static Process redis;
    static int redisPort;
    static ProgramProcess cloud;
    static ProgramProcess gateway;
    static ProgramProcess agent;
    static Path policies;
    static Path state;

    @BeforeAll
    static void start() throws Exception {
        assumeThat(Files.isExecutable(Path.of("/usr/bin/redis-server")) && Files.isExecutable(Path.of("/usr/bin/redis-cli")))
                .as("redis-server is not installed (apt-get install redis-server)").isTrue();
        try (ServerSocket s = new ServerSocket(0)) {
            redisPort = s.getLocalPort();
        }
        redis = new ProcessBuilder("/usr/bin/redis-server", "--port", Integer.toString(redisPort), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no").redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!accepts(redisPort)) {
            assertThat(System.nanoTime()).as("redis-server did not start").isLessThan(until);
            Thread.sleep(20); // polling another process: there is nothing to be notified by
        }
        policies = E2e.shippedPolicies("hybridge-e2e-crash-policies");
        state = Files.createTempDirectory("hybridge-e2e-crash-state");
        cloud = E2e.start(E2e.CLOUD, E2e.DEMO.resolve("cloud"));
        cloud.awaitReady(E2e.START_TIMEOUT);
        gateway = startGateway(0);
        agent = E2e.startAgent(gateway.baseUri(), "crash-device", state,
                "--hybridge.edge.uplink.breaker.wait-in-open-state=300ms",
                "--hybridge.edge.uplink.probe.first-backoff=200ms",
                "--hybridge.edge.uplink.probe.max-backoff=500ms",
                "--hybridge.edge.outbox.first-backoff=200ms",
                "--hybridge.edge.outbox.max-backoff=2s");
        StoreAndForwardIT.clips = Fsdd.testSplit(Fsdd.recordings(ProgramProcess.root()));
    }

    /** A gateway with budgets and the escalation record in the test's Redis; on {@code port}, or a free one (0). */
    static ProgramProcess startGateway(int port) {
        List<String> args = List.of("--hybridge.gateway.policy-folder=" + policies,
                "--hybridge.gateway.cloud.addresses=" + cloud.baseUri(),
                "--hybridge.gateway.anonymous-tenant=fleet",
                "--hybridge.gateway.budget-store=redis",
                "--spring.data.redis.host=127.0.0.1",
                "--spring.data.redis.port=" + redisPort);
        ProgramProcess started = port == 0 ? E2e.startGateway(args.toArray(String[]::new))
                : ProgramProcess.startOn(port, "gateway", E2e.logDir(), E2e.GATEWAY_JVM, args);
        started.awaitReady(E2e.START_TIMEOUT);
        return started;
    }

    @AfterAll
    static void stop() throws IOException {
        for (ProgramProcess p : new ProgramProcess[] {agent, gateway, cloud}) {
            if (p != null) {
                p.close();
            }
        }
        if (redis != null) {
            redis.destroy();
        }
        E2e.deleteTrees(policies, state);
    }

    @Test
    void aGatewayKilledMidReplayLosesNoEscalationAndChargesNoneTwice() throws Exception {
        OipClient client = new OipClient(agent.baseUri());
        List<String> kept;
        gateway.freeze();
        try {
            kept = StoreAndForwardIT.whileCut(client, 0, 80, "crash-gw-");
            assertThat(kept).hasSizeGreaterThan(15);
        } finally {
            gateway.thaw();
        }
        // let the replay start, then kill the gateway in the middle of it
        long until = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (replayed(client) < 4) {
            assertThat(System.nanoTime()).as("the replay started").isLessThan(until);
            Thread.sleep(20);
        }
        int port = gateway.port();
        gateway.kill();
        long atKill = replayed(client);
        assertThat(atKill).as("killed mid-replay").isLessThan(kept.size());
        gateway = startGateway(port);

        List<String> states = StoreAndForwardIT.awaitAnswered(client, kept, Duration.ofSeconds(120));
        // every answer reports what it cost; the tenant's spending in Redis is their sum: none counted twice
        BigDecimal reported = BigDecimal.ZERO;
        Pattern cost = Pattern.compile("\"hybridge.cost_usd\":([0-9.Ee+-]+)");
        for (String s : states) {
            Matcher m = cost.matcher(s);
            assertThat(m.find()).as(s).isTrue();
            reported = reported.add(new BigDecimal(m.group(1)));
        }
        long spentNanos = 0;
        for (String key : redisCli("--scan", "--pattern", "hybridge:spend:fleet:*").split("\\s+")) {
            if (!key.isBlank()) {
                spentNanos += Long.parseLong(redisCli("GET", key).trim());
            }
        }
        long reportedNanos = reported.movePointRight(9).setScale(0, java.math.RoundingMode.HALF_UP).longValueExact();
        // each charge is rounded to the nano-dollar on its own: allow one per answer
        assertThat(spentNanos).isBetween(reportedNanos - kept.size(), reportedNanos + kept.size());
        System.out.printf("gateway crash: %d kept, %d answered when the gateway was killed, all %d answered after;"
                + " spent %d n$, answers report %d n$%n", kept.size(), atKill, states.size(), spentNanos, reportedNanos);
    }

    static long replayed(OipClient client) {
        Matcher m = Pattern.compile("\"replayed\":([0-9]+)").matcher(client.get("/v2/outbox").text());
        return m.find() ? Long.parseLong(m.group(1)) : 0;
    }

    static String redisCli(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("/usr/bin/redis-cli", "-p", Integer.toString(redisPort)));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor(10, TimeUnit.SECONDS);
        return out;
    }

    private static boolean accepts(int port) {
        try (Socket ignored = new Socket("127.0.0.1", port)) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
