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
        policies = E2e.shippedPolicies("hybridge-e2e-clients");
        edge = E2e.start(E2e.EDGE, DEMO.resolve("edge"));
        cloud = E2e.start(E2e.CLOUD, DEMO.resolve("cloud"));
        edge.awaitReady(E2e.START_TIMEOUT);
        cloud.awaitReady(E2e.START_TIMEOUT);
        gateway = E2e.startGateway("--hybridge.gateway.policy-folder=" + policies,
                "--hybridge.gateway.edge.addresses=" + edge.baseUri(),
                "--hybridge.gateway.cloud.addresses=" + cloud.baseUri(),
                "--hybridge.gateway.anonymous-tenant=demo");
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

    // ---------------------------------------------------------------------------- route outputs

    /**
     * The cascade as one model: its metadata lists what both tiers give, and with no outputs
     * named every answer has exactly those, whichever tier answered (about a third escalate).
     */
    @Test
    void theDigitsRouteAnswersWithTheSameOutputsWhicheverTierAnswers() {
        OipClient client = new OipClient(gateway.baseUri());
        Map<String, Object> metadata = E2e.jsonObject(client.get("/v2/models/digits"));
        assertThat(metadata.get("name")).isEqualTo("digits");
        assertThat((List<?>) metadata.get("outputs")).hasSize(1);
        assertThat(((Map<?, ?>) ((List<?>) metadata.get("outputs")).get(0)).get("name")).isEqualTo("probs");
        java.util.Set<Object> tiers = new java.util.HashSet<>();
        for (int i = 0; i < clips.size(); i += 10) {
            var response = client.inferOk("digits", clip(clips.get(i)), true);
            tiers.add(response.parameters().get("hybridge.tier"));
            assertThat(response.outputs()).as(clips.get(i).file()).extracting(Tensor::name).containsExactly("probs");
        }
        assertThat(tiers).as("both tiers answered some").containsExactlyInAnyOrder("edge", "cloud");
        InferRequest asksForEmbedding = new InferRequest("e", Map.of(), clip(clips.get(0)).inputs(),
                List.of(new InferRequest.RequestedOutput("embedding", Map.of())));
        OipClient.Answer refused = client.infer("digits", asksForEmbedding, true);
        assertThat(refused.status()).isEqualTo(400);
        assertThat(E2e.errorOf(client, refused)).startsWith("route 'digits' has no output 'embedding'")
                .doesNotContain("digits-cloud").doesNotContain("digits-edge");
    }

    // ----------------------------------------------------------------------------- compression

    @Test
    void everyProgramTakesGzipAndDeflateBodiesAndCompressesLargeAnswers() throws IOException {
        for (var target : List.of(Map.entry(edge.baseUri(), "digits-edge"), Map.entry(cloud.baseUri(), "digits-cloud"),
                Map.entry(gateway.baseUri(), "digits"))) {
            URI base = target.getKey();
            String path = "/v2/models/" + target.getValue() + "/infer";
            byte[] json = new OipCodec().encodeRequest(clip(clips.get(3)), false).body();
            try (RawHttp connection = new RawHttp(base, UNANSWERED)) {
                RawHttp.Response plain = connection.exchange(RawHttp.request("POST", base, path,
                        Map.of("Content-Type", "application/json"), json));
                assertThat(plain.status()).as(plain.text()).isEqualTo(200);
                for (var coding : Map.of("gzip", gzip(json), "deflate", deflate(json)).entrySet()) {
                    RawHttp.Response answer = connection.exchange(RawHttp.request("POST", base, path,
                            Map.of("Content-Type", "application/json", "Content-Encoding", coding.getKey()),
                            coding.getValue()));
                    assertThat(answer.status()).as("%s %s: %s", base, coding.getKey(), answer.text()).isEqualTo(200);
                    assertThat(answer.text()).as("same answer as the plain body").isEqualTo(plain.text());
                }
            }
        }
        // the edge agent's answer with its 4560-value embedding is well over the 2 KB threshold
        URI base = edge.baseUri();
        byte[] json = new OipCodec().encodeRequest(clip(clips.get(4)), false).body();
        try (RawHttp connection = new RawHttp(base, UNANSWERED)) {
            RawHttp.Response plain = connection.exchange(RawHttp.request("POST", base, "/v2/models/digits-edge/infer",
                    Map.of("Content-Type", "application/json"), json));
            RawHttp.Response compressed = connection.exchange(RawHttp.request("POST", base,
                    "/v2/models/digits-edge/infer",
                    Map.of("Content-Type", "application/json", "Accept-Encoding", "gzip, deflate"), json));
            assertThat(compressed.header("Content-Encoding")).isEqualTo("gzip");
            assertThat(compressed.body().length).isLessThan(plain.body().length / 2);
            try (var in = new java.util.zip.GZIPInputStream(new java.io.ByteArrayInputStream(compressed.body()))) {
                assertThat(new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8)).isEqualTo(plain.text());
            }
        }
    }

    static byte[] gzip(byte[] data) throws IOException {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        try (var gz = new java.util.zip.GZIPOutputStream(out)) {
            gz.write(data);
        }
        return out.toByteArray();
    }

    static byte[] deflate(byte[] data) throws IOException {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        try (var z = new java.util.zip.DeflaterOutputStream(out)) {
            z.write(data);
        }
        return out.toByteArray();
    }

    // --------------------------------------------------------------------------- configuration

    /** What perf_analyzer reads before it sends anything: the batch size, inputs, outputs, batching. */
    @Test
    void everyProgramServesTritonsModelConfiguration() {
        for (var target : List.of(Map.entry(edge.baseUri(), "digits-edge"), Map.entry(cloud.baseUri(), "digits-cloud"),
                Map.entry(gateway.baseUri(), "digits"))) {
            OipClient client = new OipClient(target.getKey());
            assertThat(E2e.jsonObject(client.get("/v2")).get("extensions").toString()).contains("model_configuration");
            Map<String, Object> config = E2e.jsonObject(client.get("/v2/models/" + target.getValue() + "/config"));
            assertThat(config.get("name")).isEqualTo(target.getValue());
            assertThat(config.get("platform")).isEqualTo("onnxruntime_onnx");
            assertThat((Long) config.get("max_batch_size")).isPositive();
            Map<?, ?> input = (Map<?, ?>) ((List<?>) config.get("input")).get(0);
            assertThat(input.get("name")).isEqualTo("audio");
            assertThat(input.get("data_type")).isEqualTo("TYPE_FP32");
            assertThat(input.get("dims")).isEqualTo(List.of(8000L));
            assertThat(((List<?>) config.get("output")).stream().map(o -> ((Map<?, ?>) o).get("name")).toList())
                    .as("outputs").asString().contains("probs");
        }
        // the cloud worker batches: its batcher's settings, in Triton's words
        Map<String, Object> cloudConfig = E2e.jsonObject(new OipClient(cloud.baseUri()).get("/v2/models/digits-cloud/config"));
        assertThat(cloudConfig.get("max_batch_size")).isEqualTo(8L);
        assertThat(((Map<?, ?>) cloudConfig.get("dynamic_batching")).get("max_queue_delay_microseconds")).isEqualTo(2000L);
        // the route: its first stage's, with the route's outputs only
        Map<String, Object> routeConfig = E2e.jsonObject(new OipClient(gateway.baseUri()).get("/v2/models/digits/config"));
        assertThat((List<?>) routeConfig.get("output")).hasSize(1);
    }
}
