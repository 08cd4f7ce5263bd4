package dev.hybridge.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.hybridge.oip.Datatype;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.InferResponse;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.Tensor;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.http.MediaType;
import org.springframework.http.client.reactive.ReactorClientHttpConnector;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.web.reactive.server.EntityExchangeResult;
import org.springframework.test.web.reactive.server.WebTestClient;
import reactor.netty.http.client.HttpClient;

/**
 * A route as existing OIP clients see it: one model whose outputs are the same whichever tier
 * answers, errors that name the route, Triton's model configuration, compressed bodies both
 * ways, and an oversized body answered 413. The edge fake's model lists {@code probs} and
 * {@code embedding}; the cloud fake's only {@code probs}.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "hybridge.gateway.anonymous-tenant=anon", "hybridge.gateway.policy-reload-interval=1h",
        "hybridge.gateway.max-request-size=64KB", "hybridge.gateway.unread-body-linger=1s",
        "server.compression.enabled=true",
        "server.compression.min-response-size=2KB",
        "server.compression.mime-types=application/json,application/octet-stream"})
class GatewayClientsTest {

    static final FakeWorker EDGE = new FakeWorker("edge", true);
    static final FakeWorker CLOUD = new FakeWorker("cloud");
    static final Path POLICIES = policies();
    static final OipCodec CODEC = new OipCodec();

    @LocalServerPort
    int port;

    WebTestClient client;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        registry.add("hybridge.gateway.policy-folder", POLICIES::toString);
        registry.add("hybridge.gateway.edge.addresses", EDGE::address);
        registry.add("hybridge.gateway.cloud.addresses", CLOUD::address);
    }

    static Path policies() {
        return TestFiles.policyFolder("gateway-clients", Map.of("cascade.yaml", TestFiles.CASCADE,
                "split.yaml", TestFiles.SPLIT, "local.yaml", TestFiles.EDGE_ONLY,
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
        EDGE.reset().withEmbedding(true);
        CLOUD.reset().withEmbedding(false);
        // answers as they come: Spring's default client would decompress them
        client = WebTestClient.bindToServer(new ReactorClientHttpConnector(HttpClient.create()))
                .baseUrl("http://127.0.0.1:" + port).responseTimeout(Duration.ofSeconds(20)).build();
    }

    static InferRequest request(List<String> outputs) {
        return new InferRequest("r", Map.of(),
                List.of(new Tensor("audio", Datatype.FP32, new long[] {1, 4}, new float[] {0.1f, 0.2f, 0.3f, 0.4f})),
                outputs.stream().map(o -> new InferRequest.RequestedOutput(o, Map.of())).toList());
    }

    EntityExchangeResult<byte[]> infer(String route, byte[] body, Map<String, String> headers) {
        WebTestClient.RequestBodySpec spec = client.post().uri("/v2/models/" + route + "/infer")
                .contentType(MediaType.APPLICATION_JSON);
        headers.forEach(spec::header);
        return spec.bodyValue(body).exchange().expectBody(byte[].class).returnResult();
    }

    EntityExchangeResult<byte[]> infer(String route, List<String> outputs) {
        return infer(route, CODEC.encodeRequest(request(outputs), false).body(), Map.of());
    }

    static InferResponse ok(EntityExchangeResult<byte[]> result) {
        assertThat(result.getStatus().value()).as(text(result)).isEqualTo(200);
        return CODEC.decodeResponse(result.getResponseBody(), -1);
    }

    static String text(EntityExchangeResult<byte[]> result) {
        return result.getResponseBody() == null ? "" : new String(result.getResponseBody());
    }

    // -------------------------------------------------------------------------------- outputs

    @Test
    void aRoutesMetadataListsOnlyTheOutputsEveryAnsweringStageGives() {
        for (String route : List.of("cascade", "split")) {
            client.get().uri("/v2/models/" + route).exchange().expectStatus().isOk().expectBody()
                    .jsonPath("$.name").isEqualTo(route)
                    .jsonPath("$.inputs[0].name").isEqualTo("audio")
                    .jsonPath("$.outputs.length()").isEqualTo(1)
                    .jsonPath("$.outputs[0].name").isEqualTo("probs");
        }
        // an edge-only route answers from the edge alone: all of its outputs
        client.get().uri("/v2/models/local").exchange().expectStatus().isOk().expectBody()
                .jsonPath("$.outputs.length()").isEqualTo(2);
    }

    @Test
    void withNoOutputsNamedTheAnswerHasTheRoutesOutputsWhicheverTierAnswers() {
        EDGE.answering(0.9, "1");
        InferResponse edgeAnswer = ok(infer("cascade", List.of()));
        assertThat(edgeAnswer.parameters()).containsEntry("hybridge.tier", "edge");
        EDGE.answering(0.1, "1");
        CLOUD.answering(0.9, "1");
        InferResponse cloudAnswer = ok(infer("cascade", List.of()));
        assertThat(cloudAnswer.parameters()).containsEntry("hybridge.tier", "cloud");
        assertThat(edgeAnswer.outputs()).extracting(Tensor::name).containsExactly("probs");
        assertThat(cloudAnswer.outputs()).extracting(Tensor::name).containsExactly("probs");
    }

    @Test
    void anOutputTheRouteCannotAlwaysGiveIsA400NamingTheRouteAndNoWorkerIsCalled() {
        EntityExchangeResult<byte[]> refused = infer("cascade", List.of("embedding"));
        assertThat(refused.getStatus().value()).isEqualTo(400);
        assertThat(CODEC.decodeError(refused.getResponseBody()))
                .isEqualTo("route 'cascade' has no output 'embedding'; its outputs are probs (FP32 [-1, 2])");
        assertThat(EDGE.calls() + CLOUD.calls()).isZero();
        // the split route's hand-over tensor is internal
        assertThat(infer("split", List.of("embedding")).getStatus().value()).isEqualTo(400);
        // what the route lists can be asked for
        EDGE.answering(0.9, "1");
        assertThat(ok(infer("cascade", List.of("probs"))).outputs()).extracting(Tensor::name).containsExactly("probs");
    }

    @Test
    void aWorkersRefusalNamesTheRouteNotTheStagesModel() {
        EDGE.failing(400);
        EntityExchangeResult<byte[]> refused = infer("cascade", List.of());
        assertThat(refused.getStatus().value()).isEqualTo(400);
        assertThat(CODEC.decodeError(refused.getResponseBody())).isEqualTo("route 'cascade' refuses on purpose (edge)")
                .doesNotContain("small");
    }

    // -------------------------------------------------------------------------- configuration

    @Test
    void aRoutesConfigurationIsItsFirstStagesUnderItsNameWithItsOutputs() {
        client.get().uri("/v2").exchange().expectStatus().isOk().expectBody()
                .jsonPath("$.extensions[1]").isEqualTo("model_configuration");
        // the fake writes it as Triton does (numbers as strings, fields not read here)
        client.get().uri("/v2/models/cascade/config").exchange().expectStatus().isOk().expectBody()
                .jsonPath("$.name").isEqualTo("cascade")
                .jsonPath("$.max_batch_size").isEqualTo(4)
                .jsonPath("$.input[0].name").isEqualTo("audio")
                .jsonPath("$.input[0].dims[0]").isEqualTo(8000)
                .jsonPath("$.output.length()").isEqualTo(1)
                .jsonPath("$.output[0].name").isEqualTo("probs")
                .jsonPath("$.dynamic_batching.max_queue_delay_microseconds").isEqualTo(100)
                .jsonPath("$.instance_group[0].kind").isEqualTo("KIND_GPU");
        client.get().uri("/v2/models/nope/config").exchange().expectStatus().isNotFound();
        client.get().uri("/v2/models/cascade/versions/1/config").exchange().expectStatus().isNotFound();
    }

    // ---------------------------------------------------------------------------- compression

    @Test
    void aGzipBodyIsDecodedAndForwardedPlain() throws IOException {
        EDGE.answering(0.9, "1");
        byte[] json = CODEC.encodeRequest(request(List.of()), false).body();
        InferResponse answer = ok(infer("cascade", gzip(json), Map.of("Content-Encoding", "gzip")));
        assertThat(answer.id()).isEqualTo("r");
        assertThat(EDGE.requests().get(0).inputs().get(0).name()).isEqualTo("audio");
        EntityExchangeResult<byte[]> bomb = infer("cascade", gzip(new byte[8 * 1024 * 1024]),
                Map.of("Content-Encoding", "gzip"));
        assertThat(bomb.getStatus().value()).isEqualTo(413);
        assertThat(CODEC.decodeError(bomb.getResponseBody())).contains("65536")
                .contains("hybridge.gateway.max-request-size");
        assertThat(infer("cascade", json, Map.of("Content-Encoding", "br")).getStatus().value()).isEqualTo(415);
    }

    @Test
    void largeAnswersAreCompressedForClientsThatAcceptThem() throws IOException {
        // the edge-only route passes every output of the edge; its embedding echoes 2000 floats
        EDGE.answering(0.9, "1").echoingEmbedding(true);
        float[] audio = new float[2000];
        java.util.Arrays.fill(audio, 0.25f);
        InferRequest big = new InferRequest("r", Map.of(),
                List.of(new Tensor("audio", Datatype.FP32, new long[] {1, audio.length}, audio)), List.of());
        byte[] json = CODEC.encodeRequest(big, false).body();
        EntityExchangeResult<byte[]> plain = infer("local", json, Map.of());
        EntityExchangeResult<byte[]> compressed = infer("local", json, Map.of("Accept-Encoding", "gzip"));
        assertThat(plain.getResponseHeaders().getFirst("Content-Encoding")).isNull();
        assertThat(plain.getResponseBody().length).isGreaterThan(2048);
        assertThat(compressed.getResponseHeaders().getFirst("Content-Encoding")).isEqualTo("gzip");
        assertThat(compressed.getResponseBody().length).isLessThan(plain.getResponseBody().length / 2);
        try (var in = new GZIPInputStream(new ByteArrayInputStream(compressed.getResponseBody()))) {
            assertThat(in.readAllBytes()).isEqualTo(plain.getResponseBody());
        }
    }

    // ------------------------------------------------------------------------------- too large

    @Test
    void aBodyOverTheLimitIs413AndReachesNoWorker() {
        byte[] big = new byte[1024 * 1024];
        java.util.Arrays.fill(big, (byte) ' ');
        EntityExchangeResult<byte[]> refused = infer("cascade", big, Map.of());
        assertThat(refused.getStatus().value()).isEqualTo(413);
        assertThat(CODEC.decodeError(refused.getResponseBody())).contains("65536");
        assertThat(EDGE.calls() + CLOUD.calls()).isZero();
        client.get().uri("/v2/health/ready").exchange().expectStatus().isOk();
    }

    /**
     * A client that announces far more than the limit and keeps the connection open without
     * sending it all: after the linger time it gets its 413, and the connection is closed.
     */
    @Test
    void aBodyThatNeverEndsGets413AfterTheLingerTimeAndTheConnectionCloses() throws IOException {
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", port)) {
            socket.setSoTimeout(20_000);
            var out = socket.getOutputStream();
            out.write(("POST /v2/models/cascade/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    + "Content-Length: 1073741824\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            out.write(new byte[128 * 1024]);
            out.flush();
            byte[] answer = socket.getInputStream().readAllBytes(); // to the end: the gateway closes
            String text = new String(answer, java.nio.charset.StandardCharsets.UTF_8);
            assertThat(text).startsWith("HTTP/1.1 413").containsIgnoringCase("connection: close").contains("65536");
        }
        assertThat(EDGE.calls() + CLOUD.calls()).isZero();
    }

    static byte[] gzip(byte[] data) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(data);
        }
        return out.toByteArray();
    }
}
