package dev.hybridge.edge;

import static org.assertj.core.api.Assertions.assertThat;

import dev.hybridge.oip.Datatype;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.Tensor;
import dev.hybridge.policy.runtime.Admission;
import dev.hybridge.serving.TestModels;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * The agent's door (hybridge.edge.admission.*, two places here) over raw sockets: it is passed
 * before a request's body is read, so a request whose body has not been sent yet holds a place,
 * and a request over the limit is refused from its headers alone, before its body is sent.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "hybridge.edge.device-id=dev-door",
        "hybridge.edge.admission.initial-limit=2",
        "hybridge.edge.admission.min-limit=2",
        "hybridge.edge.admission.max-limit=2",
        "hybridge.edge.admission.retry-after=3s"})
class EdgeDoorTest {

    static final Path POLICIES = policies();
    static final OipCodec CODEC = new OipCodec();

    @LocalServerPort
    int port;

    @Autowired
    Admission admission;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        registry.add("hybridge.serving.model-repository", () -> TestModels.root().resolve("models/demo/repository/edge").toString());
        registry.add("hybridge.edge.policy-folder", POLICIES::toString);
        registry.add("hybridge.edge.state-dir", () -> POLICIES.resolveSibling(POLICIES.getFileName() + "-state").toString());
    }

    static Path policies() {
        try {
            Path folder = Files.createTempDirectory("edge-door");
            Files.writeString(folder.resolve("local.yaml"), "version: 1\nkind: edge-only\nedge: {model: digits-edge}\n");
            return folder;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @AfterAll
    static void clean() throws IOException {
        try (var files = Files.walk(POLICIES)) {
            for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    static byte[] audioRequest() {
        return CODEC.encodeRequest(new InferRequest("door", Map.of(), List.of(new Tensor("audio", Datatype.FP32,
                new long[] {1, 8000}, TestModels.audio(3))), List.of()), false).body();
    }

    @Test
    void requestsOverTheLimitAreRefusedFromTheirHeadersAndEscalationsHaveTheirOwnPlace() throws Exception {
        byte[] body = audioRequest();
        List<Socket> holding = new ArrayList<>();
        try {
            // two requests whose bodies are not sent yet take the door's two places
            for (int i = 0; i < 2; i++) {
                Socket socket = open();
                sendHead(socket, body.length, Map.of());
                holding.add(socket);
                awaitInFlight(i + 1); // each connection has its own event loop: one at a time
            }
            try (Socket third = open()) {
                // refused before its body is sent: the agent answers from the headers
                sendHead(third, body.length, Map.of());
                Response refused = read(third);
                assertThat(refused.status()).isEqualTo(503);
                assertThat(refused.headers()).containsPattern("retry-after: [3-6]\\b").contains("hybridge-reason: overloaded");
                assertThat(refused.body()).contains("overloaded: door (limit 2, 2 in flight) is full for client requests");
                // the body sent after the answer is read away, and the connection serves the next request
                third.getOutputStream().write(body);
                for (Socket socket : holding) {
                    socket.getOutputStream().write(body);
                    assertThat(read(socket).status()).as("the places' holders are answered").isEqualTo(200);
                }
                third.getOutputStream().write(head(body.length, Map.of()));
                third.getOutputStream().write(body);
                Response after = read(third);
                assertThat(after.status()).as(after.body()).isEqualTo(200);
                assertThat(after.headers()).contains("hybridge-tier: edge");
            }
            // full of client requests, the door still lets an escalation in (its share: a quarter, at least one)
            for (Socket socket : holding) {
                sendHead(socket, body.length, Map.of());
            }
            awaitInFlight(2);
            try (Socket escalation = open()) {
                sendHead(escalation, body.length, Map.of("Hybridge-Escalation", "true"));
                escalation.getOutputStream().write(body);
                assertThat(read(escalation).status()).isEqualTo(200);
            }
            for (Socket socket : holding) {
                socket.getOutputStream().write(body);
                assertThat(read(socket).status()).isEqualTo(200);
            }
        } finally {
            for (Socket socket : holding) {
                socket.close();
            }
        }
    }

    /** Waits (ten seconds at most) until the door holds {@code places}. */
    void awaitInFlight(int places) {
        long end = System.nanoTime() + 10_000_000_000L;
        while (admission.door().inFlight() != places) {
            assertThat(System.nanoTime()).as("the door holding " + places + ": " + admission.door()).isLessThan(end);
            Thread.onSpinWait();
        }
    }

    Socket open() throws IOException {
        Socket socket = new Socket("127.0.0.1", port);
        socket.setSoTimeout(10_000);
        return socket;
    }

    static byte[] head(int length, Map<String, String> extra) {
        StringBuilder head = new StringBuilder("POST /v2/models/local/infer HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                + "Content-Type: application/json\r\nContent-Length: " + length + "\r\n");
        extra.forEach((k, v) -> head.append(k).append(": ").append(v).append("\r\n"));
        return head.append("\r\n").toString().getBytes(StandardCharsets.US_ASCII);
    }

    static void sendHead(Socket socket, int length, Map<String, String> extra) throws IOException {
        OutputStream out = socket.getOutputStream();
        out.write(head(length, extra));
        out.flush();
    }

    record Response(int status, String headers, String body) {
    }

    /** One response (Content-Length framed); header names lower-cased. */
    static Response read(Socket socket) throws IOException {
        InputStream in = socket.getInputStream();
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        while (true) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("connection closed in the response head: " + head);
            }
            head.write(b);
            byte[] h = head.toByteArray();
            int n = h.length;
            if (n >= 4 && h[n - 4] == '\r' && h[n - 3] == '\n' && h[n - 2] == '\r' && h[n - 1] == '\n') {
                break;
            }
        }
        String headers = head.toString(StandardCharsets.US_ASCII).toLowerCase(Locale.ROOT);
        int status = Integer.parseInt(headers.substring(9, 12));
        int length = 0;
        for (String line : headers.split("\r\n")) {
            if (line.startsWith("content-length:")) {
                length = Integer.parseInt(line.substring("content-length:".length()).trim());
            }
        }
        byte[] body = in.readNBytes(length);
        return new Response(status, headers, new String(body, StandardCharsets.UTF_8));
    }
}
