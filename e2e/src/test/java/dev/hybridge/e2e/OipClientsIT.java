package dev.hybridge.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.hybridge.models.Fsdd;
import dev.hybridge.oip.Datatype;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The three programs as the clients people already have use them: Triton's and KServe's clients
 * keep connections alive and interleave health and metadata calls with inference on them. Runs
 * the demo models (an edge agent, a cloud worker, and the gateway over both with the shipped
 * policies) on real spoken-digit recordings.
 */
class OipClientsIT {

    static final Path DEMO = ProgramProcess.root().resolve("models/demo/repository");
    /** Long enough for any answer on a busy machine; a request still unanswered after it never will be. */
    static final Duration UNANSWERED = Duration.ofSeconds(10);

    static ProgramProcess edge;
    static ProgramProcess cloud;
    static ProgramProcess gateway;
    static Path policies;
    static List<Fsdd.Clip> clips;

    @BeforeAll
    static void start() throws IOException {
        policies = Files.createTempDirectory("hybridge-e2e-clients");
        try (var shipped = Files.list(ProgramProcess.root().resolve("config/policies"))) {
            for (Path f : shipped.toList()) {
                Files.copy(f, policies.resolve(f.getFileName()));
            }
        }
        edge = E2e.start(E2e.EDGE, DEMO.resolve("edge"));
        cloud = E2e.start(E2e.CLOUD, DEMO.resolve("cloud"));
        edge.awaitReady(E2e.START_TIMEOUT);
        cloud.awaitReady(E2e.START_TIMEOUT);
        gateway = ProgramProcess.start("gateway", E2e.logDir(), List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"),
                List.of("--hybridge.gateway.policy-folder=" + policies,
                        "--hybridge.gateway.edge.addresses=" + edge.baseUri(),
                        "--hybridge.gateway.cloud.addresses=" + cloud.baseUri(),
                        "--hybridge.gateway.anonymous-tenant=demo"));
        gateway.awaitReady(E2e.START_TIMEOUT);
        clips = Fsdd.testSplit(Fsdd.recordings(ProgramProcess.root()));
    }

    @AfterAll
    static void stop() throws IOException {
        for (ProgramProcess p : new ProgramProcess[] {gateway, cloud, edge}) {
            E2e.closeQuietly(p);
        }
        if (policies != null) {
            try (var paths = Files.walk(policies)) {
                for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    static InferRequest clip(Fsdd.Clip clip) {
        return new InferRequest(clip.file(), Map.of(),
                List.of(new Tensor("audio", Datatype.FP32, new long[] {1, Fsdd.SAMPLES}, clip.audio())), List.of());
    }

    // ------------------------------------------------------------------------------ keep-alive

    @Test
    void edgeAgentAnswersEveryRequestOnAKeptAliveConnection() {
        inferThenGetOnOneConnection(edge.baseUri(), "digits-edge", 300);
    }

    @Test
    void cloudWorkerAnswersEveryRequestOnAKeptAliveConnection() {
        inferThenGetOnOneConnection(cloud.baseUri(), "digits-cloud", 300);
    }

    /** Through the gateway, whose own calls to the workers (infer and metadata) reuse its pooled connections. */
    @Test
    void gatewayAnswersEveryRequestOnAKeptAliveConnection() {
        inferThenGetOnOneConnection(gateway.baseUri(), "digits", 200);
    }

    /**
     * What Triton's examples do on a pooled connection: an infer, then at once a health or
     * metadata call, then the next infer, all on one connection. Every request must be answered.
     */
    static void inferThenGetOnOneConnection(URI base, String model, int pairs) {
        OipCodec codec = new OipCodec();
        List<byte[]> infers = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            infers.add(RawHttp.post(base, "/v2/models/" + model + "/infer",
                    codec.encodeRequest(clip(clips.get(i * 7 % clips.size())), i % 2 == 0)));
        }
        List<byte[]> gets = List.of(RawHttp.get(base, "/v2/health/live"), RawHttp.get(base, "/v2/health/ready"),
                RawHttp.get(base, "/v2/models/" + model), RawHttp.get(base, "/v2/models/" + model + "/ready"));
        int answered = 0;
        try (RawHttp connection = new RawHttp(base, UNANSWERED)) {
            for (int i = 0; i < pairs; i++) {
                for (byte[] request : List.of(infers.get(i % infers.size()), gets.get(i % gets.size()))) {
                    int status;
                    try {
                        status = connection.send(request);
                    } catch (UncheckedIOException e) {
                        if (e.getCause() instanceof SocketTimeoutException) {
                            fail("request %d of %d on one connection to %s went unanswered for %s (%d answered)",
                                    answered + 1, 2 * pairs, base, UNANSWERED, answered);
                        }
                        throw e;
                    }
                    assertThat(status).as("request %d: %s", answered + 1, connection.bodyText()).isEqualTo(200);
                    answered++;
                }
            }
        }
        assertThat(answered).isEqualTo(2 * pairs);
    }

    // ------------------------------------------------------------------------- oversized bodies

    @Test
    void edgeAgentAnswers413ToAClientThatWritesAWholeOversizedBodyFirst() throws Exception {
        oversizedBodyWrittenWhole(edge.baseUri(), "digits-edge", "hybridge.serving.max-request-size");
    }

    @Test
    void cloudWorkerAnswers413ToAClientThatWritesAWholeOversizedBodyFirst() throws Exception {
        oversizedBodyWrittenWhole(cloud.baseUri(), "digits-cloud", "hybridge.serving.max-request-size");
    }

    @Test
    void gatewayAnswers413ToAClientThatWritesAWholeOversizedBodyFirst() throws Exception {
        oversizedBodyWrittenWhole(gateway.baseUri(), "digits", "hybridge.gateway.max-request-size");
    }

    /**
     * 64 MB, over every program's limit, written whole before the answer is read (as simple
     * clients do), announced with Content-Length and then sent chunked: each is answered 413,
     * never a connection reset, and the program serves the next connection.
     */
    static void oversizedBodyWrittenWhole(URI base, String model, String limitName) throws Exception {
        byte[] body = new byte[64 * 1024 * 1024];
        java.util.Arrays.fill(body, (byte) ' ');
        String path = "/v2/models/" + model + "/infer";
        byte[] announced = RawHttp.request("POST", base, path, Map.of("Content-Type", "application/json"), body);
        byte[] chunked = chunked(base, path, body);
        for (byte[] request : List.of(announced, chunked)) {
            java.util.concurrent.ExecutorService writer = java.util.concurrent.Executors.newSingleThreadExecutor();
            try (RawHttp connection = new RawHttp(base, Duration.ofSeconds(30))) {
                java.util.concurrent.Future<?> written = writer.submit(() -> {
                    connection.write(request);
                    return null;
                });
                written.get(60, java.util.concurrent.TimeUnit.SECONDS);
                RawHttp.Response response = connection.read();
                assertThat(response.status()).as(response.text()).isEqualTo(413);
                assertThat(response.header("Content-Type")).startsWith("application/json");
                assertThat(response.text()).contains("\"error\"").contains(limitName);
            } finally {
                writer.shutdownNow();
            }
        }
        try (RawHttp connection = new RawHttp(base, UNANSWERED)) {
            assertThat(connection.send(RawHttp.get(base, "/v2/health/ready"))).isEqualTo(200);
        }
    }

    /** A request whose body is sent in 64 KB chunks, without Content-Length. */
    static byte[] chunked(URI base, String path, byte[] body) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(body.length + body.length / 1000 + 256);
        byte[] head = RawHttp.request("POST", base, path, Map.of("Content-Type", "application/json",
                "Transfer-Encoding", "chunked"), null);
        out.writeBytes(head);
        int chunk = 64 * 1024;
        for (int offset = 0; offset < body.length; offset += chunk) {
            int n = Math.min(chunk, body.length - offset);
            out.writeBytes((Integer.toHexString(n) + "\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            out.write(body, offset, n);
            out.writeBytes("\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        }
        out.writeBytes("0\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        return out.toByteArray();
    }
}
