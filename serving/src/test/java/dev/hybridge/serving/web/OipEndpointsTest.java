package dev.hybridge.serving.web;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.hybridge.oip.Datatype;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.InferResponse;
import dev.hybridge.oip.OipCodec;
import dev.hybridge.oip.Tensor;
import dev.hybridge.serving.TestModels;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.http.MediaType;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.web.reactive.server.WebTestClient;

/** Every OIP endpoint over real HTTP on a random port, against the generated test models. */
@SpringBootTest(classes = TestServingApplication.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"hybridge.serving.server-name=test-server", "hybridge.serving.max-request-size=256KB",
                "management.endpoints.web.exposure.include=health,prometheus",
                "management.endpoint.health.probes.enabled=true",
                "management.endpoint.health.group.readiness.include=readinessState,models"})
class OipEndpointsTest {

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
        client = WebTestClient.bindToServer().baseUrl("http://127.0.0.1:" + port).build();
    }

    private static InferRequest audioRequest(int seed) {
        return new InferRequest("req-" + seed, Map.of("hybridge.device", "sensor-1"),
                List.of(new Tensor("audio", Datatype.FP32, new long[] {1, 8000}, TestModels.audio(seed))), List.of());
    }

    @Test
    void serverMetadataAndHealth() {
        client.get().uri("/v2").exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.name").isEqualTo("test-server")
                .jsonPath("$.extensions[0]").isEqualTo("binary_tensor_data");
        client.get().uri("/v2/health/live").exchange().expectStatus().isOk().expectBody().jsonPath("$.live").isEqualTo(true);
        client.get().uri("/v2/health/ready").exchange().expectStatus().isOk().expectBody().jsonPath("$.ready").isEqualTo(true);
        client.get().uri("/actuator/health/liveness").exchange().expectStatus().isOk();
        client.get().uri("/actuator/health/readiness").exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.status").isEqualTo("UP");
    }

    @Test
    void modelMetadataAndReadiness() {
        client.get().uri("/v2/models/classifier").exchange().expectStatus().isOk().expectBody()
                .jsonPath("$.name").isEqualTo("classifier")
                .jsonPath("$.versions[0]").isEqualTo("3")
                .jsonPath("$.platform").isEqualTo("onnxruntime_onnx")
                .jsonPath("$.inputs[0].name").isEqualTo("audio")
                .jsonPath("$.inputs[0].datatype").isEqualTo("FP32")
                .jsonPath("$.inputs[0].shape[0]").isEqualTo(-1)
                .jsonPath("$.inputs[0].shape[1]").isEqualTo(8000)
                .jsonPath("$.outputs[0].name").isEqualTo("probs");
        client.get().uri("/v2/models/classifier/versions/3").exchange().expectStatus().isOk();
        client.get().uri("/v2/models/classifier/versions/2").exchange().expectStatus().isNotFound()
                .expectBody().jsonPath("$.error").value(m -> assertThat((String) m).contains("version '3'"));
        client.get().uri("/v2/models/classifier/ready").exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.ready").isEqualTo(true);
        client.get().uri("/v2/models/classifier/versions/3/ready").exchange().expectStatus().isOk();
        client.get().uri("/v2/models/missing/ready").exchange().expectStatus().isNotFound();
        client.get().uri("/v2/models/missing").exchange().expectStatus().isNotFound()
                .expectBody().jsonPath("$.error").value(m -> assertThat((String) m).contains("'missing'"));
    }

    @Test
    void inferOverBinaryTensorsEchoesIdAndParametersAndCarriesConfidence() {
        InferRequest request = audioRequest(1);
        OipCodec.Encoded encoded = codec.encodeRequest(request, true);
        byte[] body = client.post().uri("/v2/models/classifier/infer")
                .header(OipCodec.HEADER_LENGTH, Integer.toString(encoded.jsonLength()))
                .contentType(MediaType.APPLICATION_OCTET_STREAM).bodyValue(encoded.body())
                .exchange().expectStatus().isOk().expectBody().returnResult().getResponseBody();
        InferResponse response = codec.decodeResponse(body, -1);
        assertThat(response.id()).isEqualTo("req-1");
        assertThat(response.modelName()).isEqualTo("classifier");
        assertThat(response.modelVersion()).isEqualTo("3");
        assertThat(response.parameters()).containsEntry("hybridge.device", "sensor-1")
                .containsKeys("hybridge.label", "hybridge.confidence", "hybridge.margin", "hybridge.entropy");
        float[] probs = (float[]) response.output("probs").data();
        float max = 0;
        for (float p : probs) {
            max = Math.max(max, p);
        }
        assertThat((double) response.parameters().get("hybridge.confidence")).isCloseTo(max, within(1e-6));
    }

    @Test
    void binaryOutputsWhenAskedForAndVersionedInfer() {
        InferRequest request = new InferRequest("b", Map.of(OipCodec.BINARY_DATA_OUTPUT, true),
                audioRequest(2).inputs(), List.of(new InferRequest.RequestedOutput("embedding"),
                new InferRequest.RequestedOutput("probs", Map.of(OipCodec.BINARY_DATA, false))));
        OipCodec.Encoded encoded = codec.encodeRequest(request, true);
        var result = client.post().uri("/v2/models/classifier/versions/3/infer")
                .header(OipCodec.HEADER_LENGTH, Integer.toString(encoded.jsonLength())).bodyValue(encoded.body())
                .exchange().expectStatus().isOk()
                .expectHeader().contentType(MediaType.APPLICATION_OCTET_STREAM)
                .expectBody().returnResult();
        int jsonLength = Integer.parseInt(result.getResponseHeaders().getFirst(OipCodec.HEADER_LENGTH));
        byte[] body = result.getResponseBody();
        String json = new String(body, 0, jsonLength, StandardCharsets.UTF_8);
        assertThat(json).contains("\"binary_data_size\":64").doesNotContain("binary_data_output");
        InferResponse response = codec.decodeResponse(body, jsonLength);
        assertThat(response.outputs()).extracting(Tensor::name).containsExactly("embedding", "probs");
        assertThat((float[]) response.output("embedding").data()).hasSize(16);
        assertThat((float[]) response.output("probs").data()).hasSize(10);
    }

    @Test
    void jsonInferWithNestedData() {
        String body = "{\"inputs\":[{\"name\":\"a\",\"shape\":[2,4],\"datatype\":\"FP32\",\"data\":[[1,2,3,4],[5,6,7,8]]},"
                + "{\"name\":\"b\",\"datatype\":\"FP32\",\"shape\":[2,4],\"data\":[1,1,1,1,1,1,1,1]}],"
                + "\"outputs\":[{\"name\":\"sum\"}]}";
        client.post().uri("/v2/models/add/infer").contentType(MediaType.APPLICATION_JSON).bodyValue(body)
                .exchange().expectStatus().isOk().expectBody()
                .jsonPath("$.outputs.length()").isEqualTo(1)
                .jsonPath("$.outputs[0].name").isEqualTo("sum")
                .jsonPath("$.outputs[0].shape[0]").isEqualTo(2)
                .jsonPath("$.outputs[0].data[7]").isEqualTo(9.0);
    }

    @Test
    void badInputIsA400WithAnOipErrorBody() {
        Map<String, String> cases = Map.of(
                "{\"inputs\":[{\"name\":\"zz\",\"datatype\":\"FP32\",\"shape\":[1,4],\"data\":[1,2,3,4]}]}", "no input 'zz'",
                "{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[1,4],\"data\":[1,2,3,4]}]}", "'b'",
                "{\"inputs\":[{\"name\":\"a\",\"datatype\":\"INT32\",\"shape\":[1,4],\"data\":[1,2,3,4]},"
                        + "{\"name\":\"b\",\"datatype\":\"FP32\",\"shape\":[1,4],\"data\":[1,2,3,4]}]}", "takes FP32",
                "{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[1,16],\"data\":[1,2,3]}]}", "needs 16",
                "{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[-1,4],\"data\":[]}]}", "zero or more",
                "{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",", "malformed JSON",
                "[1,2]", "must be a JSON object",
                "{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":"
                        + "[".repeat(100_000) + "]".repeat(100_000) + "}]}", "nests deeper",
                "{\"inputs\":[[1]]}", "must be an object but was an array");
        for (Map.Entry<String, String> c : cases.entrySet()) {
            client.post().uri("/v2/models/add/infer").contentType(MediaType.APPLICATION_JSON).bodyValue(c.getKey())
                    .exchange().expectStatus().isBadRequest()
                    .expectHeader().contentType(MediaType.APPLICATION_JSON)
                    .expectBody().jsonPath("$.error").value(m -> assertThat((String) m).as(c.getKey()).contains(c.getValue()));
        }
        client.post().uri("/v2/models/add/infer").exchange().expectStatus().isBadRequest()
                .expectBody().jsonPath("$.error").value(m -> assertThat((String) m).contains("empty"));
        client.post().uri("/v2/models/add/infer").header(OipCodec.HEADER_LENGTH, "ten").bodyValue("{}")
                .exchange().expectStatus().isBadRequest();
        // still serving after all that
        client.get().uri("/v2/health/live").exchange().expectStatus().isOk();
    }

    @Test
    void aBodyOverTheLimitIsA413() {
        float[] fourSeconds = new float[4 * 8000];
        for (int i = 0; i < 4; i++) {
            System.arraycopy(TestModels.audio(i), 0, fourSeconds, i * 8000, 8000);
        }
        InferRequest big = new InferRequest(List.of(new Tensor("audio", Datatype.FP32, new long[] {4, 8000},
                fourSeconds)));
        byte[] json = codec.encodeRequest(big, false).body();
        assertThat(json.length).isGreaterThan(256 * 1024);
        client.post().uri("/v2/models/classifier/infer").contentType(MediaType.APPLICATION_JSON).bodyValue(json)
                .exchange().expectStatus().isEqualTo(413)
                .expectBody().jsonPath("$.error").value(m -> assertThat((String) m).contains("max-request-size"));
        // the same audio as binary tensor data (128 KB) fits
        OipCodec.Encoded binary = codec.encodeRequest(big, true);
        client.post().uri("/v2/models/classifier/infer")
                .header(OipCodec.HEADER_LENGTH, Integer.toString(binary.jsonLength())).bodyValue(binary.body())
                .exchange().expectStatus().isOk();
    }

    @Test
    void unknownPathsAre404AndWrongMethods405() {
        client.get().uri("/v2/nothing/here").exchange().expectStatus().isNotFound()
                .expectBody().jsonPath("$.error").value(m -> assertThat((String) m).contains("no such endpoint"));
        client.post().uri("/v2/health/live").exchange().expectStatus().isEqualTo(405)
                .expectHeader().valueEquals("Allow", "GET");
        client.get().uri("/v2/models/add/infer").exchange().expectStatus().isEqualTo(405)
                .expectHeader().valueEquals("Allow", "POST");
    }

    @Test
    void metricsArePublishedForPrometheus() {
        client.post().uri("/v2/models/add/infer").contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[1,4],\"data\":[1,2,3,4]},"
                        + "{\"name\":\"b\",\"datatype\":\"FP32\",\"shape\":[1,4],\"data\":[1,2,3,4]}]}")
                .exchange().expectStatus().isOk();
        client.post().uri("/v2/models/no-such-model/infer").contentType(MediaType.APPLICATION_JSON).bodyValue("{}")
                .exchange().expectStatus().isNotFound()
                .expectBody().jsonPath("$.error").value(m -> assertThat((String) m).contains("'no-such-model'"));
        client.get().uri("/actuator/prometheus").exchange().expectStatus().isOk().expectBody(String.class)
                .value(text -> assertThat(text).contains("hybridge_model_run_seconds_count{model=\"add\"")
                        .contains("hybridge_queue_rejected_total{model=\"classifier\"")
                        // infer requests per served model and status; a name that is not served adds no series
                        .contains("hybridge_infer_requests_seconds_count{model=\"add\",status=\"200\"}")
                        .contains("hybridge_infer_requests_seconds_count{model=\"unknown\",status=\"404\"}")
                        .doesNotContain("no-such-model"));
    }
}
