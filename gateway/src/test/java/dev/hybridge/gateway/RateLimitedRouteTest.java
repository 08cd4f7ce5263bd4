package dev.hybridge.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import dev.hybridge.oip.Datatype;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.Tensor;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.cloud.gateway.filter.ratelimit.KeyResolver;
import org.springframework.context.annotation.Bean;
import org.springframework.http.MediaType;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.web.reactive.server.EntityExchangeResult;
import org.springframework.test.web.reactive.server.WebTestClient;
import reactor.core.publisher.Mono;

/**
 * Spring Cloud Gateway's own rate limiter, backed by a real Redis server, on a Hybridge route:
 * the operator's route allows one request a minute per caller, and the second one is refused
 * (429) before the route runs. Skipped where redis-server is not installed
 * ({@code .ci/run} installs it).
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "hybridge.gateway.anonymous-tenant=anon", "hybridge.gateway.policy-reload-interval=1h"})
class RateLimitedRouteTest {

    static final FakeWorker EDGE = new FakeWorker("edge");
    static final FakeWorker CLOUD = new FakeWorker("cloud");
    static Process redis;
    static Path policies;

    /** The rate limiter's key: the X-Caller header of the request. */
    @TestConfiguration
    static class Keys {
        @Bean
        KeyResolver callerKey() {
            return exchange -> Mono.just(String.valueOf(exchange.getRequest().getHeaders().getFirst("X-Caller")));
        }
    }

    @LocalServerPort
    int port;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) throws Exception {
        assumeThat(Files.isExecutable(Path.of("/usr/bin/redis-server")))
                .as("redis-server is not installed (apt-get install redis-server)").isTrue();
        int redisPort;
        try (ServerSocket s = new ServerSocket(0)) {
            redisPort = s.getLocalPort();
        }
        redis = new ProcessBuilder("/usr/bin/redis-server", "--port", Integer.toString(redisPort), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no").redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!accepts(redisPort)) {
            assertThat(System.nanoTime()).as("redis-server did not start").isLessThan(deadline);
            Thread.sleep(20); // polling another process: there is nothing to be notified by
        }
        policies = TestFiles.policyFolder("rate-limited", Map.of("cascade.yaml", TestFiles.CASCADE));
        int port = redisPort;
        registry.add("spring.data.redis.host", () -> "127.0.0.1");
        registry.add("spring.data.redis.port", () -> port);
        registry.add("hybridge.gateway.policy-folder", policies::toString);
        registry.add("hybridge.gateway.edge.addresses", EDGE::address);
        registry.add("hybridge.gateway.cloud.addresses", CLOUD::address);
        String route = "spring.cloud.gateway.server.webflux.routes[0].";
        registry.add(route + "id", () -> "cascade-limited");
        registry.add(route + "uri", () -> "hybridge:cascade");
        registry.add(route + "predicates[0]", () -> "Path=/v2/models/cascade/infer");
        registry.add(route + "filters[0].name", () -> "RequestRateLimiter");
        registry.add(route + "filters[0].args.redis-rate-limiter.replenishRate", () -> "1");
        // one request a minute: a request takes all 60 tokens, and one comes back each second
        registry.add(route + "filters[0].args.redis-rate-limiter.burstCapacity", () -> "60");
        registry.add(route + "filters[0].args.redis-rate-limiter.requestedTokens", () -> "60");
        registry.add(route + "filters[0].args.key-resolver", () -> "#{@callerKey}");
        registry.add(route + "filters[1]", () -> "Hybridge=cascade");
    }

    static boolean accepts(int port) {
        try (Socket socket = new Socket("127.0.0.1", port)) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    @AfterAll
    static void stop() throws IOException {
        EDGE.close();
        CLOUD.close();
        if (redis != null) {
            redis.destroy();
        }
        TestFiles.deleteTree(policies);
    }

    @Test
    void theOperatorsRateLimiterRefusesTheSecondRequestBeforeTheRouteRuns() {
        WebTestClient client = WebTestClient.bindToServer().baseUrl("http://127.0.0.1:" + port)
                .responseTimeout(Duration.ofSeconds(10)).build();
        byte[] body = new OipCodec().encodeRequest(new InferRequest("r", Map.of(),
                List.of(new Tensor("audio", Datatype.FP32, new long[] {1, 4}, new float[] {1, 2, 3, 4})), List.of()),
                false).body();
        EDGE.answering(0.9, "1");
        EntityExchangeResult<byte[]> first = client.post().uri("/v2/models/cascade/infer")
                .contentType(MediaType.APPLICATION_JSON).header("X-Caller", "caller-a").bodyValue(body)
                .exchange().expectBody(byte[].class).returnResult();
        EntityExchangeResult<byte[]> second = client.post().uri("/v2/models/cascade/infer")
                .contentType(MediaType.APPLICATION_JSON).header("X-Caller", "caller-a").bodyValue(body)
                .exchange().expectBody(byte[].class).returnResult();
        assertThat(first.getStatus().value()).isEqualTo(200);
        assertThat(first.getResponseHeaders().getFirst("X-RateLimit-Remaining")).isEqualTo("0");
        assertThat(second.getStatus().value()).isEqualTo(429);
        assertThat(EDGE.calls()).isEqualTo(1);
    }
}
