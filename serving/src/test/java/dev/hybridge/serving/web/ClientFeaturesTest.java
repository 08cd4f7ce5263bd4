package dev.hybridge.serving.web;

import static org.assertj.core.api.Assertions.assertThat;

import dev.hybridge.oip.Datatype;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.InferResponse;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.Tensor;
import dev.hybridge.serving.TestModels;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.zip.DeflaterOutputStream;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.http.MediaType;
import org.springframework.http.client.reactive.ReactorClientHttpConnector;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.web.reactive.server.WebTestClient;
import reactor.netty.http.client.HttpClient;

/**
 * What Triton's and KServe's clients use beyond plain inference: compressed request bodies,
 * compressed answers, and the model configuration extension.
 */
@SpringBootTest(classes = TestServingApplication.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"hybridge.serving.max-request-size=256KB", "server.compression.enabled=true",
                "server.compression.min-response-size=2KB",
                "server.compression.mime-types=application/json,application/octet-stream"})
class ClientFeaturesTest {

    @DynamicPropertySource
    static void repository(DynamicPropertyRegistry registry) {
        registry.add("hybridge.serving.model-repository", () -> TestModels.repository().toString());
    }

    @LocalServerPort
    int port;

    WebTestClient client;
    final OipCodec codec = new OipCodec();

    @BeforeEach
    void client() {
        // a client that leaves answers as they come (Spring's default one decompresses): the test reads them itself
        client = WebTestClient.bindToServer(new ReactorClientHttpConnector(HttpClient.create()))
                .baseUrl("http://127.0.0.1:" + port).build();
    }

    static byte[] gzip(byte[] data) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(data);
        }
        return out.toByteArray();
    }

    static byte[] zlib(byte[] data) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (DeflaterOutputStream z = new DeflaterOutputStream(out)) {
            z.write(data);
        }
        return out.toByteArray();
    }

    private InferRequest audio(int seed) {
        return new InferRequest("c-" + seed, Map.of(),
                List.of(new Tensor("audio", Datatype.FP32, new long[] {1, 8000}, TestModels.audio(seed))), List.of());
    }

    private byte[] infer(String model, byte[] body, String contentEncoding, int expectedStatus) {
        var request = client.post().uri("/v2/models/" + model + "/infer").contentType(MediaType.APPLICATION_JSON);
        if (contentEncoding != null) {
            request = request.header("Content-Encoding", contentEncoding);
        }
        return request.bodyValue(body).exchange().expectStatus().isEqualTo(expectedStatus)
                .expectBody().returnResult().getResponseBody();
    }

    @Test
    void gzipAndDeflateBodiesAnswerAsThePlainBodyDoes() throws IOException {
        byte[] json = codec.encodeRequest(audio(3), false).body();
        InferResponse plain = codec.decodeResponse(infer("classifier", json, null, 200), -1);
        for (var coded : Map.of("gzip", gzip(json), "deflate", zlib(json)).entrySet()) {
            InferResponse answer = codec.decodeResponse(infer("classifier", coded.getValue(), coded.getKey(), 200), -1);
            assertThat(answer.id()).isEqualTo("c-3");
            assertThat((float[]) answer.output("probs").data()).as(coded.getKey())
                    .containsExactly((float[]) plain.output("probs").data());
        }
    }

    @Test
    void aBinaryTensorBodyMayBeCompressedToo() throws IOException {
        OipCodec.Encoded binary = codec.encodeRequest(audio(5), true);
        byte[] answer = client.post().uri("/v2/models/classifier/infer")
                .header(OipCodec.HEADER_LENGTH, Integer.toString(binary.jsonLength()))
                .header("Content-Encoding", "gzip").contentType(MediaType.APPLICATION_OCTET_STREAM)
                .bodyValue(gzip(binary.body())).exchange().expectStatus().isOk()
                .expectBody().returnResult().getResponseBody();
        assertThat(codec.decodeResponse(answer, -1).id()).isEqualTo("c-5");
    }

    @Test
    void aSmallBodyThatDecodesPastTheLimitIs413AndTheProgramServesOn() throws IOException {
        byte[] bomb = gzip(new byte[16 * 1024 * 1024]);
        assertThat(bomb.length).isLessThan(256 * 1024);
        String error = codec.decodeError(infer("classifier", bomb, "gzip", 413));
        assertThat(error).contains("262144").contains("hybridge.serving.max-request-size").contains("decoded");
        infer("classifier", codec.encodeRequest(audio(1), false).body(), null, 200);
    }

    @Test
    void anUnsupportedCodingIs415AndCorruptDataIs400() {
        byte[] json = codec.encodeRequest(audio(2), false).body();
        assertThat(codec.decodeError(infer("classifier", json, "br", 415))).contains("gzip, deflate");
        assertThat(codec.decodeError(infer("classifier", json, "gzip", 400))).contains("gzip");
    }

    @Test
    void answersAreCompressedForClientsThatAcceptIt() throws IOException {
        // identity_fp32 echoes its input: 8000 floats as JSON is far over the 2 KB threshold
        InferRequest request = new InferRequest("big", Map.of(),
                List.of(new Tensor("x", Datatype.FP32, new long[] {1, 8000}, TestModels.audio(4))), List.of());
        byte[] json = codec.encodeRequest(request, false).body();
        var result = client.post().uri("/v2/models/identity_fp32/infer").contentType(MediaType.APPLICATION_JSON)
                .header("Accept-Encoding", "gzip").bodyValue(json).exchange().expectStatus().isOk()
                .expectHeader().valueEquals("Content-Encoding", "gzip")
                .expectBody().returnResult();
        byte[] compressed = result.getResponseBody();
        byte[] body;
        try (var in = new GZIPInputStream(new ByteArrayInputStream(compressed))) {
            body = in.readAllBytes();
        }
        assertThat(compressed.length).isLessThan(body.length / 2);
        assertThat((float[]) codec.decodeResponse(body, -1).output("y").data()).containsExactly(TestModels.audio(4));
        // without Accept-Encoding, as it is
        client.post().uri("/v2/models/identity_fp32/infer").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(json).exchange().expectStatus().isOk()
                .expectHeader().doesNotExist("Content-Encoding");
    }

    @Test
    void theModelConfigurationUsesTritonsFields() {
        client.get().uri("/v2").exchange().expectStatus().isOk().expectBody()
                .jsonPath("$.extensions[1]").isEqualTo("model_configuration");
        // classifier: batched (its config.yaml), so the batch dimension is left out of dims
        client.get().uri("/v2/models/classifier/config").exchange().expectStatus().isOk().expectBody()
                .jsonPath("$.name").isEqualTo("classifier")
                .jsonPath("$.platform").isEqualTo("onnxruntime_onnx")
                .jsonPath("$.backend").isEqualTo("onnxruntime")
                .jsonPath("$.max_batch_size").isEqualTo(8)
                .jsonPath("$.input[0].name").isEqualTo("audio")
                .jsonPath("$.input[0].data_type").isEqualTo("TYPE_FP32")
                .jsonPath("$.input[0].dims.length()").isEqualTo(1)
                .jsonPath("$.input[0].dims[0]").isEqualTo(8000)
                .jsonPath("$.output[0].name").isEqualTo("probs")
                .jsonPath("$.output[0].dims[0]").isEqualTo(10)
                .jsonPath("$.dynamic_batching.max_queue_delay_microseconds").isEqualTo(5000)
                .jsonPath("$.dynamic_batching.default_queue_policy.max_queue_size").isEqualTo(64)
                .jsonPath("$.instance_group[0].kind").isEqualTo("KIND_CPU");
        client.get().uri("/v2/models/classifier/versions/3/config").exchange().expectStatus().isOk();
        // fixed_batch cannot batch (a fixed first dimension): max_batch_size 0 and the full shape
        client.get().uri("/v2/models/fixed_batch/config").exchange().expectStatus().isOk().expectBody()
                .jsonPath("$.max_batch_size").isEqualTo(0)
                .jsonPath("$.dynamic_batching").doesNotExist();
        client.get().uri("/v2/models/identity_bytes/config").exchange().expectStatus().isOk().expectBody()
                .jsonPath("$.input[0].data_type").isEqualTo("TYPE_STRING");
        // an input with a default in config.yaml is optional, as in Triton; the others are not
        client.get().uri("/v2/models/add_default/config").exchange().expectStatus().isOk().expectBody()
                .jsonPath("$.input[?(@.name == 'b')].optional").isEqualTo(true)
                .jsonPath("$.input[?(@.name == 'a')].optional").isEqualTo(false);
        byte[] config = client.get().uri("/v2/models/add_default/config").exchange().expectStatus().isOk()
                .expectBody().returnResult().getResponseBody();
        assertThat(dev.hybridge.oip.ModelConfiguration.decode(config).optionalInputs()).containsExactly("b");
        // and a request may leave it out, over HTTP too
        client.post().uri("/v2/models/add_default/infer").contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"inputs\": [{\"name\": \"a\", \"datatype\": \"FP32\", \"shape\": [1, 4], \"data\": [1, 1, 1, 1]}]}")
                .exchange().expectStatus().isOk().expectBody()
                .jsonPath("$.outputs[0].name").isEqualTo("sum")
                .jsonPath("$.outputs[0].data").isEqualTo(List.of(2.0, 3.0, 4.0, 5.0));
        client.get().uri("/v2/models/nope/config").exchange().expectStatus().isNotFound()
                .expectBody().jsonPath("$.error").exists();
        client.post().uri("/v2/models/classifier/config").exchange().expectStatus().isEqualTo(405)
                .expectHeader().valueEquals("Allow", "GET");
    }
}
