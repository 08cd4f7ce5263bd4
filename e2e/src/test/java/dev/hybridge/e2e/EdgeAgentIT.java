package dev.hybridge.e2e;

import static dev.hybridge.e2e.E2e.CLASSIFIER_LABELS;
import static dev.hybridge.e2e.E2e.errorOf;
import static dev.hybridge.e2e.E2e.jsonObject;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.hybridge.oip.Datatype;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.InferResponse;
import dev.hybridge.oip.ModelMetadata;
import dev.hybridge.oip.Tensor;
import dev.hybridge.oip.TensorSpec;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The edge-agent on the good test models: protocol endpoints, inference over JSON and the binary
 * tensor extension, datatypes end to end, and every kind of bad request answered with an OIP error.
 * The last test checks the program survived all of it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class EdgeAgentIT {

    private ProgramProcess edge;
    private OipClient client;

    @BeforeAll
    void start() {
        edge = E2e.start(E2e.EDGE, E2e.testdata("repository"));
        edge.awaitReady(E2e.START_TIMEOUT);
        client = new OipClient(edge.baseUri());
    }

    @AfterAll
    void stop() {
        E2e.closeQuietly(edge);
    }

    // ------------------------------------------------------------------------------ metadata and health

    @Test
    @Order(1)
    void serverMetadataNamesTheProgramAndTheBinaryExtension() {
        OipClient.Answer answer = client.get("/v2");
        assertThat(answer.status()).isEqualTo(200);
        Map<String, Object> metadata = jsonObject(answer);
        assertThat(metadata).containsEntry("name", "hybridge-edge-agent");
        assertThat(metadata.get("version")).isInstanceOf(String.class).asString().isNotBlank();
        assertThat(metadata.get("extensions")).asList().contains("binary_tensor_data");
    }

    @Test
    @Order(1)
    void liveAndReady() {
        OipClient.Answer live = client.get("/v2/health/live");
        assertThat(live.status()).isEqualTo(200);
        assertThat(jsonObject(live)).containsEntry("live", true);
        OipClient.Answer ready = client.get("/v2/health/ready");
        assertThat(ready.status()).isEqualTo(200);
        assertThat(jsonObject(ready)).containsEntry("ready", true);
    }

    @Test
    @Order(1)
    void classifierMetadata() {
        for (String path : List.of("/v2/models/classifier", "/v2/models/classifier/versions/3")) {
            OipClient.Answer answer = client.get(path);
            assertThat(answer.status()).as(path).isEqualTo(200);
            ModelMetadata metadata = client.codec().decodeModelMetadata(answer.body());
            assertThat(metadata.name()).as(path).isEqualTo("classifier");
            assertThat(metadata.versions()).as(path).containsExactly("3");
            assertThat(metadata.platform()).as(path).isEqualTo("onnxruntime_onnx");
            assertThat(metadata.inputs()).as(path)
                    .containsExactly(new TensorSpec("audio", Datatype.FP32, new long[] {-1, 8000}));
            assertThat(metadata.outputs()).as(path).containsExactlyInAnyOrder(
                    new TensorSpec("probs", Datatype.FP32, new long[] {-1, 10}),
                    new TensorSpec("logits", Datatype.FP32, new long[] {-1, 10}),
                    new TensorSpec("embedding", Datatype.FP32, new long[] {-1, 16}));
        }
    }

    @Test
    @Order(1)
    void unknownVersionIsNotFound() {
        for (String path : List.of("/v2/models/classifier/versions/9", "/v2/models/classifier/versions/9/ready")) {
            OipClient.Answer answer = client.get(path);
            assertThat(answer.status()).as(path).isEqualTo(404);
            assertThat(errorOf(client, answer)).as(path).contains("classifier").contains("9");
        }
        OipClient.Answer infer = client.infer("classifier/versions/9",
                E2e.classifierRequest(null, 0, Map.of()), false);
        assertThat(infer.status()).isEqualTo(404);
        assertThat(errorOf(client, infer)).contains("9");
        // the version it serves answers at its versioned path
        InferResponse versioned = client.inferOk("classifier/versions/3", E2e.classifierRequest("v3", 0, Map.of()), true);
        assertThat(versioned.id()).isEqualTo("v3");
        assertThat(versioned.modelVersion()).isEqualTo("3");
    }

    @Test
    @Order(1)
    void modelReadyEndpoints() {
        for (String path : List.of("/v2/models/classifier/ready", "/v2/models/classifier/versions/3/ready")) {
            OipClient.Answer answer = client.get(path);
            assertThat(answer.status()).as(path).isEqualTo(200);
            assertThat(jsonObject(answer)).as(path).containsEntry("name", "classifier").containsEntry("ready", true);
        }
        OipClient.Answer unknown = client.get("/v2/models/no_such_model/ready");
        assertThat(unknown.status()).isEqualTo(404);
        assertThat(errorOf(client, unknown)).contains("no_such_model");
    }

    // ---------------------------------------------------------------------------------------- inference

    @Test
    @Order(2)
    void classifierOverJsonAndBinaryAgrees() {
        Map<String, Object> parameters = new LinkedHashMap<>();
        parameters.put("trace", "e2e-trace-7");
        parameters.put("priority", 7L);
        parameters.put("urgent", true);
        parameters.put("ratio", 0.25);

        InferResponse json = client.inferOk("classifier", E2e.classifierRequest("req-json", 3, parameters), false);
        InferResponse binaryIn = client.inferOk("classifier", E2e.classifierRequest("req-bin", 3, parameters), true);

        Map<String, Object> binaryOutParameters = new LinkedHashMap<>(parameters);
        binaryOutParameters.put("binary_data_output", true);
        OipClient.Answer binaryOutAnswer = client.infer("classifier",
                E2e.classifierRequest("req-bin-out", 3, binaryOutParameters), true);
        assertThat(binaryOutAnswer.status()).as(binaryOutAnswer.text()).isEqualTo(200);
        assertThat(binaryOutAnswer.header("Content-Type")).startsWith("application/octet-stream");
        assertThat(binaryOutAnswer.jsonLength()).as("Inference-Header-Content-Length of a binary answer")
                .isPositive().isLessThan(binaryOutAnswer.body().length);
        String jsonPart = new String(binaryOutAnswer.body(), 0, binaryOutAnswer.jsonLength(), StandardCharsets.UTF_8);
        assertThat(jsonPart).contains("binary_data_size").doesNotContain("\"data\"");
        // 10 + 10 + 16 FP32 values follow the JSON part
        assertThat(binaryOutAnswer.body().length - binaryOutAnswer.jsonLength()).isEqualTo((10 + 10 + 16) * 4);
        InferResponse binaryOut = client.codec().decodeResponse(binaryOutAnswer.body(), binaryOutAnswer.jsonLength());

        for (var entry : Map.of("req-json", json, "req-bin", binaryIn, "req-bin-out", binaryOut).entrySet()) {
            InferResponse response = entry.getValue();
            String id = entry.getKey();
            assertThat(response.id()).isEqualTo(id);
            assertThat(response.modelName()).isEqualTo("classifier");
            assertThat(response.modelVersion()).isEqualTo("3");
            assertThat(response.outputs()).extracting(Tensor::name)
                    .containsExactlyInAnyOrder("probs", "logits", "embedding");
            Tensor probs = response.output("probs");
            assertThat(probs.datatype()).isEqualTo(Datatype.FP32);
            assertThat(probs.shape()).containsExactly(1, 10);
            assertThat(response.output("embedding").shape()).containsExactly(1, 16);
            // the caller's parameters come back
            assertThat(response.parameters()).as(id).containsAllEntriesOf(parameters);
            checkConfidence(id, response);
        }
        float[] expected = (float[]) json.output("probs").data();
        assertThat((float[]) binaryIn.output("probs").data()).containsExactly(expected);
        assertThat((float[]) binaryOut.output("probs").data()).containsExactly(expected);
        assertThat((float[]) binaryOut.output("logits").data()).containsExactly((float[]) json.output("logits").data());
        assertThat((float[]) binaryOut.output("embedding").data())
                .containsExactly((float[]) json.output("embedding").data());
    }

    @Test
    @Order(2)
    void differentInputsGiveDifferentAnswers() {
        // guards the agreement above against a program that answers the same whatever it is sent
        float[] a = (float[]) client.inferOk("classifier", E2e.classifierRequest(null, 1, Map.of()), true)
                .output("probs").data();
        float[] b = (float[]) client.inferOk("classifier", E2e.classifierRequest(null, 2, Map.of()), true)
                .output("probs").data();
        assertThat(a).isNotEqualTo(b);
    }

    /** The confidence parameters agree with the probabilities they were read from. */
    static void checkConfidence(String what, InferResponse response) {
        float[] probs = (float[]) response.output("probs").data();
        int top = E2e.argmax(probs);
        double sum = 0;
        double second = 0;
        double entropy = 0;
        for (int i = 0; i < probs.length; i++) {
            sum += probs[i];
            if (i != top) {
                second = Math.max(second, probs[i]);
            }
            if (probs[i] > 0) {
                entropy -= probs[i] * Math.log(probs[i]);
            }
        }
        assertThat(sum).as("%s: probabilities sum to one", what).isCloseTo(1.0, within(1e-4));
        Map<String, Object> p = response.parameters();
        assertThat(p).as(what).containsKeys("hybridge.confidence", "hybridge.label", "hybridge.margin",
                "hybridge.entropy");
        assertThat(((Number) p.get("hybridge.confidence")).doubleValue()).as("%s: confidence", what)
                .isCloseTo(probs[top], within(1e-6));
        assertThat(p.get("hybridge.label")).as("%s: label", what).isEqualTo(CLASSIFIER_LABELS.get(top));
        assertThat(((Number) p.get("hybridge.margin")).doubleValue()).as("%s: margin", what)
                .isCloseTo(probs[top] - second, within(1e-5));
        assertThat(((Number) p.get("hybridge.entropy")).doubleValue()).as("%s: entropy", what)
                .isCloseTo(entropy, within(1e-4));
    }

    @Test
    @Order(2)
    void fp16ThroughIdentity() {
        // 1.5, -2, the largest half (65504), the smallest subnormal, negative zero, 1/3 rounded to half
        short[] bits = {0x3E00, (short) 0xC000, 0x7BFF, 0x0001, (short) 0x8000, 0x3555};
        for (boolean binary : new boolean[] {false, true}) {
            Tensor out = identity("identity_fp16", new Tensor("x", Datatype.FP16, new long[] {2, 3}, bits), binary);
            assertThat(out.datatype()).isEqualTo(Datatype.FP16);
            assertThat(out.shape()).containsExactly(2, 3);
            assertThat((short[]) out.data()).as("binary=%s", binary).containsExactly(bits);
        }
    }

    @Test
    @Order(2)
    void nonFiniteFloatsRoundTripOverJson() {
        // NaN and infinities travel in JSON as the strings "NaN", "Infinity", "-Infinity"
        float[] values = {Float.POSITIVE_INFINITY, Float.NaN, Float.NEGATIVE_INFINITY, 1};
        Tensor fp32 = new Tensor("x", Datatype.FP32, new long[] {1, 4}, values);
        // in as binary, out as JSON: the answer is readable
        OipClient.Answer answer = client.infer("identity_fp32", new InferRequest(List.of(fp32)), true);
        assertThat(answer.status()).as(answer.text()).isEqualTo(200);
        assertThat(answer.jsonLength()).isNegative();
        assertThat(answer.text()).contains("\"Infinity\"", "\"NaN\"", "\"-Infinity\"");
        assertThat((float[]) client.codec().decodeResponse(answer.body(), -1).output("y").data())
                .containsExactly(values);
        // and what the program writes, it reads
        assertThat((float[]) identity("identity_fp32", fp32, false).data()).containsExactly(values);
        short[] half = {0x7C00, (short) 0xFC00, 0x3C00};
        assertThat((short[]) identity("identity_fp16", new Tensor("x", Datatype.FP16, new long[] {1, 3}, half), false)
                .data()).containsExactly(half);
        short[] halfNaN = (short[]) identity("identity_fp16",
                new Tensor("x", Datatype.FP16, new long[] {1, 1}, new short[] {0x7E00}), false).data();
        assertThat(Float.isNaN(dev.hybridge.oip.HalfFloats.fp16ToFloat(halfNaN[0]))).as("FP16 NaN").isTrue();
    }

    @Test
    @Order(2)
    void otherDatatypesThroughIdentity() {
        List<Tensor> inputs = List.of(
                new Tensor("x", Datatype.INT8, new long[] {1, 3}, new byte[] {Byte.MIN_VALUE, -1, Byte.MAX_VALUE}),
                new Tensor("x", Datatype.INT16, new long[] {1, 3}, new short[] {Short.MIN_VALUE, -1, Short.MAX_VALUE}),
                new Tensor("x", Datatype.INT32, new long[] {1, 3}, new int[] {Integer.MIN_VALUE, -1, Integer.MAX_VALUE}),
                new Tensor("x", Datatype.FP64, new long[] {1, 3}, new double[] {Math.PI, -Double.MAX_VALUE, Double.MIN_VALUE}),
                // bfloat16 1.0, -2.5 and the largest finite value
                new Tensor("x", Datatype.BF16, new long[] {1, 3}, new short[] {0x3F80, (short) 0xC020, 0x7F7F}),
                new Tensor("x", Datatype.FP32, new long[] {1, 3}, new float[] {Float.MIN_VALUE, -0f, Float.MAX_VALUE}));
        for (Tensor x : inputs) {
            String model = "identity_" + x.datatype().name().toLowerCase(java.util.Locale.ROOT);
            for (boolean binary : new boolean[] {false, true}) {
                Tensor y = identity(model, x, binary);
                assertThat(y.datatype()).as(model).isEqualTo(x.datatype());
                assertThat(java.util.Objects.deepEquals(y.data(), x.data()))
                        .as("%s binary=%s: %s", model, binary, y).isTrue();
            }
        }
    }

    @Test
    @Order(2)
    void uint8ThroughIdentity() {
        byte[] values = {0, 1, 127, (byte) 128, (byte) 255};
        for (boolean binary : new boolean[] {false, true}) {
            Tensor out = identity("identity_uint8", new Tensor("x", Datatype.UINT8, new long[] {1, 5}, values), binary);
            assertThat(out.datatype()).isEqualTo(Datatype.UINT8);
            assertThat((byte[]) out.data()).as("binary=%s", binary).containsExactly(values);
        }
        // and as the JSON numbers a caller writes
        OipClient.Answer answer = client.post("/v2/models/identity_uint8/infer",
                "{\"inputs\":[{\"name\":\"x\",\"datatype\":\"UINT8\",\"shape\":[1,3],\"data\":[0,128,255]}]}"
                        .getBytes(StandardCharsets.UTF_8), -1);
        assertThat(answer.status()).as(answer.text()).isEqualTo(200);
        assertThat(answer.text()).contains("\"data\":[0,128,255]");
    }

    @Test
    @Order(2)
    void bytesThroughIdentity() {
        byte[][] values = {"hello".getBytes(StandardCharsets.UTF_8), new byte[0],
                "héllo wörld ✓".getBytes(StandardCharsets.UTF_8), "quote \" and \\ backslash".getBytes(StandardCharsets.UTF_8)};
        for (boolean binary : new boolean[] {false, true}) {
            Tensor out = identity("identity_bytes", new Tensor("x", Datatype.BYTES, new long[] {2, 2}, values), binary);
            assertThat(out.datatype()).isEqualTo(Datatype.BYTES);
            assertThat(out.shape()).containsExactly(2, 2);
            byte[][] got = (byte[][]) out.data();
            assertThat(got.length).as("binary=%s: elements", binary).isEqualTo(values.length);
            for (int i = 0; i < values.length; i++) {
                assertThat(got[i]).as("binary=%s element %d", binary, i).containsExactly(values[i]);
            }
        }
    }

    @Test
    @Order(2)
    void int64ExtremesThroughIdentity() {
        long[] values = {Long.MAX_VALUE, Long.MIN_VALUE, 0, -1, 1L << 53, (1L << 53) + 1};
        for (boolean binary : new boolean[] {false, true}) {
            Tensor out = identity("identity_int64", new Tensor("x", Datatype.INT64, new long[] {3, 2}, values), binary);
            assertThat(out.datatype()).isEqualTo(Datatype.INT64);
            assertThat((long[]) out.data()).as("binary=%s", binary).containsExactly(values);
        }
    }

    @Test
    @Order(2)
    void boolThroughIdentity() {
        boolean[] values = {true, false, false, true};
        for (boolean binary : new boolean[] {false, true}) {
            Tensor out = identity("identity_bool", new Tensor("x", Datatype.BOOL, new long[] {1, 4}, values), binary);
            assertThat(out.datatype()).isEqualTo(Datatype.BOOL);
            assertThat((boolean[]) out.data()).as("binary=%s", binary).containsExactly(values);
        }
    }

    @Test
    @Order(2)
    void castUnsignedGivesWideUnsignedOutputs() {
        long[] input = {Long.MAX_VALUE, 5, -1};
        for (boolean binaryOut : new boolean[] {false, true}) {
            InferRequest request = new InferRequest("cast", binaryOut ? Map.of("binary_data_output", true) : Map.of(),
                    List.of(new Tensor("x", Datatype.INT64, new long[] {1, 3}, input)), List.of());
            InferResponse response = client.inferOk("cast_unsigned", request, false);
            Tensor u64 = response.output("u64");
            assertThat(u64.datatype()).isEqualTo(Datatype.UINT64);
            assertThat(u64.shape()).containsExactly(1, 3);
            // UINT64 keeps its 64 bits: -1 cast is 2^64-1, held as the long -1
            assertThat((long[]) u64.data()).as("binary=%s", binaryOut).containsExactly(Long.MAX_VALUE, 5, -1);
            Tensor u32 = response.output("u32");
            assertThat(u32.datatype()).isEqualTo(Datatype.UINT32);
            assertThat((int[]) u32.data()).as("binary=%s", binaryOut).containsExactly(-1, 5, -1);
            Tensor u16 = response.output("u16");
            assertThat(u16.datatype()).isEqualTo(Datatype.UINT16);
            assertThat((short[]) u16.data()).as("binary=%s", binaryOut).containsExactly((short) -1, (short) 5, (short) -1);
        }
        // on the JSON wire the large values are written as unsigned numbers
        OipClient.Answer answer = client.post("/v2/models/cast_unsigned/infer",
                "{\"inputs\":[{\"name\":\"x\",\"datatype\":\"INT64\",\"shape\":[1,2],\"data\":[9223372036854775807,-1]}],\"outputs\":[{\"name\":\"u64\"}]}"
                        .getBytes(StandardCharsets.UTF_8), -1);
        assertThat(answer.status()).as(answer.text()).isEqualTo(200);
        assertThat(answer.text()).contains("\"data\":[9223372036854775807,18446744073709551615]");
    }

    @Test
    @Order(2)
    void onlyTheRequestedOutputComesBack() {
        float[] a = {1, 2, 3, 4, 5, 6, 7, 8};
        float[] b = {0.5f, 4, -3, 2, 10, 0, 7, -8};
        InferRequest request = new InferRequest("only-diff", Map.of(),
                List.of(new Tensor("a", Datatype.FP32, new long[] {2, 4}, a), new Tensor("b", Datatype.FP32, new long[] {2, 4}, b)),
                List.of(new InferRequest.RequestedOutput("diff")));
        for (boolean binary : new boolean[] {false, true}) {
            InferResponse response = client.inferOk("add", request, binary);
            assertThat(response.outputs()).extracting(Tensor::name).containsExactly("diff");
            assertThat(response.output("diff").shape()).containsExactly(2, 4);
            assertThat((float[]) response.output("diff").data())
                    .containsExactly(0.5f, -2, 6, 2, -5, 6, 0, 16);
        }
        // and all outputs when none is asked for
        InferResponse both = client.inferOk("add", new InferRequest(request.inputs()), false);
        assertThat(both.outputs()).extracting(Tensor::name).containsExactlyInAnyOrder("sum", "diff");
        assertThat((float[]) both.output("sum").data()).containsExactly(1.5f, 6, 0, 6, 15, 6, 14, 0);
    }

    @Test
    @Order(2)
    void binaryDataPerOutput() {
        InferRequest request = new InferRequest("per-output", Map.of(),
                List.of(new Tensor("a", Datatype.FP32, new long[] {1, 4}, new float[] {1, 2, 3, 4}),
                        new Tensor("b", Datatype.FP32, new long[] {1, 4}, new float[] {1, 1, 1, 1})),
                List.of(new InferRequest.RequestedOutput("sum", Map.of("binary_data", true)),
                        new InferRequest.RequestedOutput("diff", Map.of("binary_data", false))));
        OipClient.Answer answer = client.infer("add", request, false);
        assertThat(answer.status()).as(answer.text()).isEqualTo(200);
        assertThat(answer.jsonLength()).isPositive();
        assertThat(answer.body().length - answer.jsonLength()).as("only sum travels as binary").isEqualTo(16);
        InferResponse response = client.codec().decodeResponse(answer.body(), answer.jsonLength());
        assertThat((float[]) response.output("sum").data()).containsExactly(2, 3, 4, 5);
        assertThat((float[]) response.output("diff").data()).containsExactly(0, 1, 2, 3);
    }

    private Tensor identity(String model, Tensor x, boolean binary) {
        InferRequest request = new InferRequest("id-" + model, binary ? Map.of("binary_data_output", true) : Map.of(),
                List.of(x), List.of());
        InferResponse response = client.inferOk(model, request, binary);
        assertThat(response.modelName()).isEqualTo(model);
        assertThat(response.id()).isEqualTo("id-" + model);
        assertThat(response.outputs()).hasSize(1);
        Tensor y = response.output("y");
        assertThat(y.shape()).containsExactly(x.shape());
        return y;
    }

    // ------------------------------------------------------------------------------------------- errors

    private static final String ADD_B = "{\"name\":\"b\",\"datatype\":\"FP32\",\"shape\":[1,4],\"data\":[4,3,2,1]}";

    private OipClient.Answer postJson(String model, String body) {
        return client.post("/v2/models/" + model + "/infer", body.getBytes(StandardCharsets.UTF_8), -1);
    }

    private String expectError(int status, OipClient.Answer answer) {
        assertThat(answer.status()).as(answer.text()).isEqualTo(status);
        return errorOf(client, answer);
    }

    @Test
    @Order(3)
    void unknownModelIsNotFound() {
        String message = expectError(404, postJson("no_such_model",
                "{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,1],\"data\":[1]}]}"));
        assertThat(message).contains("no_such_model");
        assertThat(expectError(404, client.get("/v2/models/no_such_model"))).contains("no_such_model");
    }

    @Test
    @Order(3)
    void unknownInputIsBadRequest() {
        String message = expectError(400, postJson("add",
                "{\"inputs\":[{\"name\":\"c\",\"datatype\":\"FP32\",\"shape\":[1,4],\"data\":[1,2,3,4]}," + ADD_B + "]}"));
        assertThat(message).contains("'c'");
    }

    @Test
    @Order(3)
    void missingInputIsBadRequest() {
        assertThat(expectError(400, postJson("add", "{\"inputs\":[" + ADD_B + "]}"))).contains("'a'").contains("missing");
        assertThat(expectError(400, postJson("add", "{\"id\":\"no-inputs\"}"))).contains("inputs");
    }

    @Test
    @Order(3)
    void repeatedOrUnknownNamesAreBadRequest() {
        assertThat(expectError(400, postJson("add",
                "{\"inputs\":[" + ADD_B + "," + ADD_B + "]}"))).contains("'b'");
        String inputs = "{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[1,4],\"data\":[1,2,3,4]}," + ADD_B;
        assertThat(expectError(400, postJson("add",
                "{\"inputs\":[" + inputs + "],\"outputs\":[{\"name\":\"product\"}]}"))).contains("'product'");
        assertThat(expectError(400, postJson("add",
                "{\"inputs\":[" + inputs + "],\"outputs\":[{\"name\":\"sum\"},{\"name\":\"sum\"}]}"))).contains("'sum'");
    }

    @Test
    @Order(3)
    void badBinaryHeaderIsBadRequest() {
        byte[] body = ("{\"inputs\":[" + ADD_B + "]}").getBytes(StandardCharsets.UTF_8);
        // the JSON part cannot be longer than the body
        assertThat(expectError(400, client.post("/v2/models/add/infer", body, body.length + 10)))
                .contains("Inference-Header-Content-Length");
        // and must be a number of bytes
        OipClient.Answer answer = client.send(java.net.http.HttpRequest.newBuilder(
                        edge.baseUri().resolve("/v2/models/add/infer"))
                .header("Inference-Header-Content-Length", "ten")
                .header("Content-Type", "application/octet-stream")
                .POST(java.net.http.HttpRequest.BodyPublishers.ofByteArray(body)));
        assertThat(expectError(400, answer)).contains("Inference-Header-Content-Length");
        // binary data that no tensor claims
        byte[] extra = java.util.Arrays.copyOf(body, body.length + 8);
        assertThat(expectError(400, client.post("/v2/models/add/infer", extra, body.length))).contains("8 bytes");
    }

    @Test
    @Order(3)
    void wrongDatatypeIsBadRequest() {
        String message = expectError(400, postJson("add",
                "{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP64\",\"shape\":[1,4],\"data\":[1,2,3,4]}," + ADD_B + "]}"));
        assertThat(message).contains("FP64").contains("FP32");
        assertThat(expectError(400, postJson("add",
                "{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FLOAT\",\"shape\":[1,4],\"data\":[1,2,3,4]}," + ADD_B + "]}")))
                .contains("FLOAT");
    }

    @Test
    @Order(3)
    void shapeAndDataMismatchIsBadRequest() {
        assertThat(expectError(400, postJson("add",
                "{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[1,4],\"data\":[1,2,3]}," + ADD_B + "]}")))
                .contains("'a'");
        // the model's fixed inner dimension of 4
        assertThat(expectError(400, postJson("add",
                "{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[1,3],\"data\":[1,2,3]},"
                        + "{\"name\":\"b\",\"datatype\":\"FP32\",\"shape\":[1,3],\"data\":[1,2,3]}]}")))
                .contains("'a'");
        // binary data shorter than its shape
        InferRequest request = new InferRequest(List.of(new Tensor("x", Datatype.FP32, new long[] {1, 2}, new float[] {1, 2})));
        var encoded = client.codec().encodeRequest(request, true);
        byte[] truncated = java.util.Arrays.copyOf(encoded.body(), encoded.body().length - 4);
        assertThat(expectError(400, client.post("/v2/models/identity_fp32/infer", truncated, encoded.jsonLength())))
                .contains("'x'");
    }

    @Test
    @Order(3)
    void numbersOutOfRangeForTheDatatypeAreBadRequest() {
        String[][] cases = {{"identity_fp32", "FP32", "1e39"}, {"identity_fp16", "FP16", "70000"},
                {"identity_uint8", "UINT8", "256"}, {"identity_int8", "INT8", "-129"},
                {"identity_int64", "INT64", "9223372036854775808"}};
        for (String[] c : cases) {
            String message = expectError(400, postJson(c[0], "{\"inputs\":[{\"name\":\"x\",\"datatype\":\"" + c[1]
                    + "\",\"shape\":[1,2],\"data\":[1," + c[2] + "]}]}"));
            assertThat(message).as(c[1]).contains("'x'").contains(c[1]);
        }
    }

    @Test
    @Order(3)
    void negativeDimensionIsBadRequest() {
        assertThat(expectError(400, postJson("add",
                "{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[-1,4],\"data\":[1,2,3,4]}," + ADD_B + "]}")))
                .contains("-1");
    }

    @Test
    @Order(3)
    void malformedJsonIsBadRequest() {
        assertThat(expectError(400, postJson("add", "{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\","))).containsIgnoringCase("JSON");
        assertThat(expectError(400, postJson("add", "not json at all"))).containsIgnoringCase("JSON");
        assertThat(expectError(400, postJson("add", ""))).isNotBlank();
        assertThat(expectError(400, postJson("add", "[1,2,3]"))).isNotBlank();
    }

    @Test
    @Order(3)
    void deeplyNestedJsonIsBadRequest() {
        int depth = 100_000;
        // deep in the data of a tensor, and deep in a field the server would otherwise skip
        String inData = "{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[1,4],\"data\":"
                + "[".repeat(depth) + "]".repeat(depth) + "}," + ADD_B + "]}";
        assertThat(expectError(400, postJson("add", inData))).contains("nest");
        String inSkipped = "{\"extension\":" + "[{\"a\":".repeat(depth / 2) + "1" + "}]".repeat(depth / 2)
                + ",\"inputs\":[]}";
        assertThat(expectError(400, postJson("add", inSkipped))).contains("nest");
        String inParameters = "{\"parameters\":{\"p\":" + "[".repeat(depth) + "]".repeat(depth) + "},\"inputs\":[]}";
        assertThat(expectError(400, postJson("add", inParameters))).isNotBlank();
    }

    @Test
    @Order(3)
    void wrongMethodIsNotAllowed() {
        OipClient.Answer post = client.post("/v2/health/live", "{}".getBytes(StandardCharsets.UTF_8), -1);
        assertThat(expectError(405, post)).contains("POST");
        assertThat(post.header("Allow")).isEqualTo("GET");
        OipClient.Answer get = client.get("/v2/models/add/infer");
        assertThat(expectError(405, get)).contains("GET");
        assertThat(get.header("Allow")).isEqualTo("POST");
    }

    @Test
    @Order(3)
    void unknownPathIsNotFound() {
        assertThat(expectError(404, client.get("/v2/no/such/endpoint"))).contains("/v2/no/such/endpoint");
        assertThat(expectError(404, client.post("/v2/models/add/explain", "{}".getBytes(StandardCharsets.UTF_8), -1)))
                .isNotBlank();
    }

    @Test
    @Order(99)
    void stillServesAfterAllTheBadInput() {
        assertThat(edge.isAlive()).as("edge-agent process alive").isTrue();
        assertThat(client.get("/v2/health/ready").status()).isEqualTo(200);
        InferResponse response = client.inferOk("classifier", E2e.classifierRequest("after", 3, Map.of()), false);
        assertThat(response.id()).isEqualTo("after");
        checkConfidence("after bad input", response);
        // no request, however bad, was the program's own fault
        assertThat(edge.logText()).doesNotContain("Unexpected failure serving a request")
                .doesNotContain("OutOfMemoryError").doesNotContain("StackOverflowError");
    }
}
