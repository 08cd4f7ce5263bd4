package dev.hybridge.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.hybridge.gateway.pool.WorkerPool;
import dev.hybridge.oip.Datatype;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.Tensor;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.http.MediaType;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.web.reactive.server.EntityExchangeResult;
import org.springframework.test.web.reactive.server.WebTestClient;

/**
 * The gateway under overload, over real HTTP against fake workers: an edge tier that sheds load,
 * and a door of two places (hybridge.gateway.admission.*) filled by slow requests.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class OverloadTest {

    static final FakeWorker EDGE = new FakeWorker("edge");
    static final FakeWorker CLOUD = new FakeWorker("cloud");
    static final Path POLICIES = policies();
    static final OipCodec CODEC = new OipCodec();

    @LocalServerPort
    int port;

    @Autowired
    @Qualifier("edgePool")
    WorkerPool edgePool;

    WebTestClient client;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        registry.add("hybridge.gateway.policy-folder", POLICIES::toString);
        registry.add("hybridge.gateway.edge.addresses", EDGE::address);
        registry.add("hybridge.gateway.cloud.addresses", CLOUD::address);
        registry.add("hybridge.gateway.anonymous-tenant", () -> "anon");
        registry.add("hybridge.gateway.admission.initial-limit", () -> "2");
        registry.add("hybridge.gateway.admission.min-limit", () -> "2");
        registry.add("hybridge.gateway.admission.max-limit", () -> "2");
        registry.add("hybridge.gateway.admission.retry-after", () -> "2s");
        registry.add("hybridge.gateway.max-buffered-request-bytes", () -> "1MB");
        registry.add("hybridge.gateway.edge.breaker.minimum-number-of-calls", () -> "2");
        registry.add("hybridge.gateway.edge.breaker.sliding-window-size", () -> "4");
        // an operator's own path for a route: the door is passed in the Hybridge filter there
        registry.add("spring.cloud.gateway.server.webflux.routes[0].id", () -> "partner");
        registry.add("spring.cloud.gateway.server.webflux.routes[0].uri", () -> "hybridge:partner");
        registry.add("spring.cloud.gateway.server.webflux.routes[0].predicates[0]", () -> "Path=/partner/infer");
        registry.add("spring.cloud.gateway.server.webflux.routes[0].filters[0]", () -> "Hybridge=partner");
    }

    static Path policies() {
        // the cascade's deadline leaves room for the slow edge of the door's test
        return TestFiles.policyFolder("gateway-overload-policies", Map.of(
                "cascade.yaml", TestFiles.CASCADE + "deadline: 5s\n",
                "spill.yaml", TestFiles.CASCADE + "cloud-on-edge-overload: true\n",
                "partner.yaml", TestFiles.CASCADE,
                "tenants.yaml", "version: 1\ndefault: {allow: [auto, edge, cloud]}\n"));
    }

    @AfterAll
    static void stopWorkers() throws IOException {
        EDGE.close();
        CLOUD.close();
        TestFiles.deleteTree(POLICIES);
    }

    @BeforeEach
    void reset() {
        EDGE.reset();
        CLOUD.reset();
        edgePool.breakers().getAllCircuitBreakers().forEach(CircuitBreaker::reset);
        client = WebTestClient.bindToServer().baseUrl("http://127.0.0.1:" + port).responseTimeout(Duration.ofSeconds(10))
                .build();
    }

    static byte[] request(int samples) {
        return request(samples, Map.of());
    }

    static byte[] request(int samples, Map<String, Object> parameters) {
        return CODEC.encodeRequest(new InferRequest("req-1", parameters, List.of(new Tensor("audio", Datatype.FP32,
                new long[] {1, samples}, new float[samples])), List.of()), false).body();
    }

    EntityExchangeResult<byte[]> infer(String route) {
        return client.post().uri("/v2/models/" + route + "/infer").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(request(4)).exchange().expectBody(byte[].class).returnResult();
    }

    @Test
    void anEdgeThatShedsLoadGets503WithRetryAfterAndNoCloudCallAndItsBreakerStaysClosed() {
        EDGE.shedding();
        for (int i = 0; i < 6; i++) {
            EntityExchangeResult<byte[]> result = infer("cascade");
            assertThat(result.getStatus().value()).isEqualTo(503);
            assertThat(result.getResponseHeaders().getFirst("Retry-After")).as("retry-after 2s, up to twice").isIn("2", "3", "4");
            assertThat(result.getResponseHeaders().getFirst("Hybridge-Reason")).isEqualTo("overloaded");
            assertThat(CODEC.decodeError(result.getResponseBody())).startsWith("the edge tier is overloaded")
                    .contains("queue is full");
        }
        assertThat(CLOUD.calls()).as("no cloud budget spent on what the edge would have answered").isZero();
        assertThat(edgePool.breakers().getAllCircuitBreakers())
                .allMatch(b -> b.getState() == CircuitBreaker.State.CLOSED, "a busy worker is not a sick one");
    }

    @Test
    void aRouteThatSaysSoSendsWhatTheEdgeShedsToTheCloud() {
        EDGE.shedding();
        EntityExchangeResult<byte[]> result = infer("spill");
        assertThat(result.getStatus().value()).isEqualTo(200);
        assertThat(result.getResponseHeaders().getFirst("Hybridge-Tier")).isEqualTo("cloud");
        assertThat(CLOUD.calls()).isEqualTo(1);
    }

    @Test
    void overTheDoorsLimitARequestIsRefusedAtOnceUnreadAndTheConnectionStaysUsable() throws Exception {
        EDGE.delayed(Duration.ofMillis(1500));
        List<CompletableFuture<EntityExchangeResult<byte[]>>> slow = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            slow.add(CompletableFuture.supplyAsync(() -> infer("cascade")));
        }
        EDGE.firstCall().get();
        while (EDGE.calls() < 2) {
            Thread.onSpinWait();
        }
        try (Socket socket = new Socket("127.0.0.1", port)) {
            socket.setSoTimeout(10_000);
            // refused from the headers alone, before the body is sent; the body sent after is dropped unread
            byte[] big = request(200_000);
            long sent = System.nanoTime();
            socket.getOutputStream().write(head(big.length, Map.of()));
            Response refused = read(socket);
            socket.getOutputStream().write(big);
            assertThat(refused.status()).isEqualTo(503);
            assertThat(refused.headers()).containsPattern("retry-after: [234]\\b").contains("hybridge-reason: overloaded");
            assertThat(refused.body()).contains("overloaded: door (limit 2, 2 in flight) is full for client requests");
            assertThat(Duration.ofNanos(System.nanoTime() - sent)).as("not queued behind the slow ones")
                    .isLessThan(Duration.ofMillis(1000));
            // on an operator's own path, the same door, passed in the Hybridge filter
            EntityExchangeResult<byte[]> partner = client.post().uri("/partner/infer").contentType(MediaType.APPLICATION_JSON)
                    .bodyValue(request(4)).exchange().expectBody(byte[].class).returnResult();
            assertThat(partner.getStatus().value()).isEqualTo(503);
            assertThat(partner.getResponseHeaders().getFirst("Hybridge-Reason")).isEqualTo("overloaded");
            assertThat(CODEC.decodeError(partner.getResponseBody()))
                    .startsWith("overloaded: door (limit 2, 2 in flight) is full for client requests");
            // an edge agent's escalation has a place of its own (a quarter of the limit, at least one)
            EDGE.delayed(Duration.ZERO);
            CLOUD.answering(0.9, "4");
            Response escalation = exchange(socket, request(4, Map.of("hybridge.escalation", true,
                    "hybridge.confidence", 0.2)), Map.of("Hybridge-Escalation", "true"));
            assertThat(escalation.status()).as(escalation.body()).isEqualTo(200);
            assertThat(escalation.headers()).contains("hybridge-tier: cloud");
            for (CompletableFuture<EntityExchangeResult<byte[]>> f : slow) {
                assertThat(f.get().getStatus().value()).isEqualTo(200);
            }
            Response after = exchange(socket, request(4), Map.of());
            assertThat(after.status()).as("the same connection, once places are free").isEqualTo(200);
        }
    }

    @Test
    void aBodyThatWouldTakeTheHeldBytesOverTheirLimitIsRefusedUnread() throws Exception {
        byte[] big = request(400_000);
        assertThat(big.length).isBetween(1_100_000, 8_000_000); // over the 1 MB held at once, under max-request-size
        try (Socket socket = new Socket("127.0.0.1", port)) {
            socket.setSoTimeout(10_000);
            Response refused = exchange(socket, big, Map.of());
            assertThat(refused.status()).isEqualTo(503);
            assertThat(refused.headers()).containsPattern("retry-after: [234]\\b").contains("hybridge-reason: overloaded");
            assertThat(refused.body()).contains("hybridge.gateway.max-buffered-request-bytes");
            assertThat(EDGE.calls()).isZero();
            Response small = exchange(socket, request(4), Map.of());
            assertThat(small.status()).as("the same connection, the bytes given back").isEqualTo(200);
        }
        String metrics = client.get().uri("/actuator/prometheus").exchange().expectBody(String.class).returnResult()
                .getResponseBody();
        assertThat(metrics).contains("hybridge_gateway_buffered_request_bytes 0.0");
    }

    @Test
    void aBodyWithoutALengthThatOutgrowsTheHeldBytesIsRefusedWithTheRoutesRetryAfter() throws Exception {
        // chunked, so its size is learnt as it is read: 16 KB reserved first, then doubled while it
        // grows, until doubling past 512 KB would take the held bytes over the 1 MB limit
        byte[] chunk = new byte[64 * 1024];
        java.util.Arrays.fill(chunk, (byte) ' ');
        try (Socket socket = new Socket("127.0.0.1", port)) {
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            out.write(("POST /v2/models/cascade/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    + "Transfer-Encoding: chunked\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            for (int i = 0; i < 9; i++) { // 576 KB, and the body is not ended: the answer cannot wait for its end
                out.write((Integer.toHexString(chunk.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
                out.write(chunk);
                out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
            }
            out.flush();
            Response refused = read(socket);
            assertThat(refused.status()).isEqualTo(503);
            assertThat(refused.headers()).as("the route's Retry-After (2 s, spread to at most 4)")
                    .containsPattern("retry-after: [234]\\b").contains("hybridge-reason: overloaded")
                    .contains("connection: close");
            assertThat(refused.body()).contains("hybridge.gateway.max-buffered-request-bytes");
        }
        assertThat(EDGE.calls()).isZero();
        assertThat(infer("cascade").getStatus().value()).as("the bytes given back").isEqualTo(200);
        String metrics = client.get().uri("/actuator/prometheus").exchange().expectBody(String.class).returnResult()
                .getResponseBody();
        assertThat(metrics).contains("hybridge_gateway_buffered_request_bytes 0.0");
    }

    record Response(int status, String headers, String body) {
    }

    /** One request on a kept-alive socket, and its response (Content-Length framed). */
    static Response exchange(Socket socket, byte[] body, Map<String, String> extra) throws IOException {
        OutputStream out = socket.getOutputStream();
        out.write(head(body.length, extra));
        out.write(body);
        out.flush();
        return read(socket);
    }

    /** A request's head, for a JSON body of {@code length} bytes. */
    static byte[] head(int length, Map<String, String> extra) {
        StringBuilder head = new StringBuilder("POST /v2/models/cascade/infer HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                + "Content-Type: application/json\r\nContent-Length: " + length + "\r\n");
        extra.forEach((k, v) -> head.append(k).append(": ").append(v).append("\r\n"));
        return head.append("\r\n").toString().getBytes(StandardCharsets.US_ASCII);
    }

    /** The next response on the socket (Content-Length framed); header names lower-cased. */
    static Response read(Socket socket) throws IOException {
        InputStream in = socket.getInputStream();
        StringBuilder headers = new StringBuilder();
        String line;
        int status = Integer.parseInt(readLine(in).substring(9, 12));
        int length = 0;
        while (!(line = readLine(in)).isEmpty()) {
            headers.append(line.toLowerCase(java.util.Locale.ROOT)).append('\n');
            if (line.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
                length = Integer.parseInt(line.substring(15).trim());
            }
        }
        return new Response(status, headers.toString(), new String(in.readNBytes(length), StandardCharsets.UTF_8));
    }

    private static String readLine(InputStream in) throws IOException {
        StringBuilder s = new StringBuilder();
        int b;
        while ((b = in.read()) != -1 && b != '\n') {
            if (b != '\r') {
                s.append((char) b);
            }
        }
        return s.toString();
    }
}
