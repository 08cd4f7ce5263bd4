package dev.hybridge.serving.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.onnxruntime.OrtProvider;
import dev.hybridge.oip.ClassifierParameters;
import dev.hybridge.oip.Datatype;
import dev.hybridge.oip.HalfFloats;
import dev.hybridge.oip.InferRequest;
import dev.hybridge.oip.InferResponse;
import dev.hybridge.oip.OipException;
import dev.hybridge.oip.Tensor;
import dev.hybridge.serving.TestModels;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** The model host against the generated test models, through real ONNX Runtime sessions. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ModelHostTest {

    private ModelHost host;
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();

    @BeforeAll
    void load() {
        host = new ModelHost(HostSettings.defaults(TestModels.repository()), meters);
        host.loadAll();
    }

    @AfterAll
    void close() {
        host.close();
    }

    private InferResponse infer(String model, Tensor... inputs) {
        return infer(model, new InferRequest(List.of(inputs)));
    }

    private InferResponse infer(String model, InferRequest request) {
        try {
            return host.infer(model, null, request).get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw (RuntimeException) e.getCause();
        } catch (RuntimeException e) {
            throw e; // validation fails before anything is queued
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void everyModelOfTheRepositoryLoads() {
        assertThat(host.failures()).isEmpty();
        assertThat(host.modelNames()).contains("add", "classifier", "classifier_external", "identity_bytes");
        assertThat(host.isLoaded()).isTrue();
    }

    @Test
    void everyFeedableDatatypeRoundTripsThroughOnnxRuntime() {
        long[] shape = {2, 2};
        Map<String, Object> samples = Map.ofEntries(
                Map.entry("identity_bool", new boolean[] {true, false, false, true}),
                Map.entry("identity_uint8", new byte[] {0, 1, (byte) 200, (byte) 255}),
                Map.entry("identity_int8", new byte[] {-128, -1, 0, 127}),
                Map.entry("identity_int16", new short[] {Short.MIN_VALUE, -1, 0, Short.MAX_VALUE}),
                Map.entry("identity_int32", new int[] {Integer.MIN_VALUE, -1, 0, Integer.MAX_VALUE}),
                Map.entry("identity_int64", new long[] {Long.MIN_VALUE, -1, 0, Long.MAX_VALUE}),
                Map.entry("identity_fp16", new short[] {HalfFloats.floatToFp16(1.5f), HalfFloats.floatToFp16(-65504f),
                        HalfFloats.floatToFp16(0.000061035156f), (short) 0x8000}),
                Map.entry("identity_bf16", new short[] {HalfFloats.floatToBf16(3.0f), HalfFloats.floatToBf16(-1e30f),
                        0, (short) 0x8000}),
                Map.entry("identity_fp32", new float[] {Float.MIN_VALUE, -0.0f, 1e38f, 3.14159f}),
                Map.entry("identity_fp64", new double[] {Double.MIN_VALUE, -0.0, 1e300, Math.PI}),
                Map.entry("identity_bytes", new byte[][] {"héllo".getBytes(StandardCharsets.UTF_8), new byte[0],
                        "x".getBytes(StandardCharsets.UTF_8), "日本".getBytes(StandardCharsets.UTF_8)}));
        Map<String, Datatype> types = Map.ofEntries(Map.entry("identity_bool", Datatype.BOOL),
                Map.entry("identity_uint8", Datatype.UINT8), Map.entry("identity_int8", Datatype.INT8),
                Map.entry("identity_int16", Datatype.INT16), Map.entry("identity_int32", Datatype.INT32),
                Map.entry("identity_int64", Datatype.INT64), Map.entry("identity_fp16", Datatype.FP16),
                Map.entry("identity_bf16", Datatype.BF16), Map.entry("identity_fp32", Datatype.FP32),
                Map.entry("identity_fp64", Datatype.FP64), Map.entry("identity_bytes", Datatype.BYTES));
        for (Map.Entry<String, Object> sample : samples.entrySet()) {
            Datatype datatype = types.get(sample.getKey());
            InferResponse response = infer(sample.getKey(), new Tensor("x", datatype, shape, sample.getValue()));
            Tensor y = response.output("y");
            assertThat(y.datatype()).as(sample.getKey()).isEqualTo(datatype);
            assertThat(y.shape()).as(sample.getKey()).containsExactly(2, 2);
            assertThat(y.data()).as(sample.getKey()).isEqualTo(sample.getValue());
        }
    }

    @Test
    void unsignedOutputsKeepTheirValues() {
        long big = (1L << 40) + 7;
        InferResponse response = infer("cast_unsigned",
                new Tensor("x", Datatype.INT64, new long[] {1, 3}, new long[] {0, 65535, big}));
        assertThat(response.output("u16").datatype()).isEqualTo(Datatype.UINT16);
        assertThat((short[]) response.output("u16").data()).containsExactly((short) 0, (short) 65535, (short) 7);
        assertThat((int[]) response.output("u32").data()).containsExactly(0, 65535, 7);
        assertThat((long[]) response.output("u64").data()).containsExactly(0L, 65535L, big);
    }

    @Test
    void requestedOutputsAreTheOnlyOnesReturned() {
        Tensor a = new Tensor("a", Datatype.FP32, new long[] {1, 4}, new float[] {1, 2, 3, 4});
        Tensor b = new Tensor("b", Datatype.FP32, new long[] {1, 4}, new float[] {10, 20, 30, 40});
        InferResponse response = infer("add", new InferRequest("req-7", Map.of("trace", "abc"), List.of(a, b),
                List.of(new InferRequest.RequestedOutput("diff"))));
        assertThat(response.outputs()).extracting(Tensor::name).containsExactly("diff");
        assertThat((float[]) response.output("diff").data()).containsExactly(-9, -18, -27, -36);
        assertThat(response.id()).isEqualTo("req-7");
        assertThat(response.parameters()).containsEntry("trace", "abc");
        assertThat(response.modelVersion()).isEqualTo("1");
    }

    @Test
    void classifierAnswersCarryLabelAndConfidence() {
        InferResponse response = infer("classifier",
                new Tensor("audio", Datatype.FP32, new long[] {1, 8000}, TestModels.audio(1)));
        float[] probs = (float[]) response.output("probs").data();
        int top = 0;
        for (int i = 1; i < probs.length; i++) {
            top = probs[i] > probs[top] ? i : top;
        }
        List<String> labels = List.of("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine");
        assertThat(response.parameters().get(ClassifierParameters.LABEL)).isEqualTo(labels.get(top));
        assertThat(response.parameters().get(ClassifierParameters.LABEL_INDEX)).isEqualTo((long) top);
        assertThat((double) response.parameters().get(ClassifierParameters.CONFIDENCE)).isCloseTo(probs[top], within(1e-6));
        assertThat((double) response.parameters().get(ClassifierParameters.MARGIN)).isBetween(0.0, 1.0);
        assertThat((double) response.parameters().get(ClassifierParameters.ENTROPY)).isBetween(0.0, Math.log(10) + 1e-9);
        assertThat(response.modelVersion()).isEqualTo("3");
    }

    @Test
    void externalWeightsAndLogitScoresGiveTheSameAnswerAsTheEmbeddedModel() {
        Tensor audio = new Tensor("audio", Datatype.FP32, new long[] {1, 8000}, TestModels.audio(2));
        InferResponse embedded = infer("classifier", audio);
        InferResponse external = infer("classifier_external", audio);
        assertThat((float[]) external.output("probs").data()).containsExactly((float[]) embedded.output("probs").data());
        // scores read from logits through a softmax agree with the model's own softmax output
        assertThat((double) external.parameters().get(ClassifierParameters.CONFIDENCE))
                .isCloseTo((double) embedded.parameters().get(ClassifierParameters.CONFIDENCE), within(1e-5));
        assertThat(external.parameters().get(ClassifierParameters.LABEL)).isEqualTo(embedded.parameters().get(ClassifierParameters.LABEL));
    }

    @Test
    void aBatchedRunGivesEachRequestWhatItWouldGetAlone() {
        OnnxModel model = host.require("classifier", null).model();
        List<InferRequest> requests = List.of(
                new InferRequest(List.of(new Tensor("audio", Datatype.FP32, new long[] {1, 8000}, TestModels.audio(3)))),
                new InferRequest(List.of(new Tensor("audio", Datatype.FP32, new long[] {2, 8000}, concat(
                        TestModels.audio(4), TestModels.audio(5))))),
                new InferRequest("last", Map.of(), List.of(new Tensor("audio", Datatype.FP32, new long[] {1, 8000},
                        TestModels.audio(6))), List.of(new InferRequest.RequestedOutput("embedding"))));
        List<InferResponse> batched = model.inferBatch(requests);
        assertThat(batched).hasSize(3);
        for (int i = 0; i < requests.size(); i++) {
            InferResponse alone = model.infer(requests.get(i));
            assertThat(batched.get(i).outputs()).extracting(Tensor::name)
                    .containsExactlyElementsOf(alone.outputs().stream().map(Tensor::name).toList());
            for (Tensor expected : alone.outputs()) {
                Tensor actual = batched.get(i).output(expected.name());
                assertThat(actual.shape()).isEqualTo(expected.shape());
                float[] want = (float[]) expected.data();
                float[] got = (float[]) actual.data();
                for (int k = 0; k < want.length; k++) {
                    assertThat(got[k]).isCloseTo(want[k], within(1e-5f));
                }
            }
            assertThat(batched.get(i).parameters().get(ClassifierParameters.CONFIDENCE))
                    .isEqualTo(alone.parameters().get(ClassifierParameters.CONFIDENCE));
        }
        assertThat(batched.get(2).id()).isEqualTo("last");
        assertThat(batched.get(1).parameters()).doesNotContainKey(ClassifierParameters.LABEL); // two rows: no single label
    }

    @Test
    void onlyModelsWithADynamicFirstDimensionAreBatchable() {
        assertThat(host.require("classifier", null).model().batchable()).isTrue();
        assertThat(host.require("fixed_batch", null).model().batchable()).isFalse();
    }

    @Test
    void unknownModelsAndVersionsAre404AndBadInputIs400() {
        assertThatThrownBy(() -> host.require("nope", null)).isInstanceOf(OipException.class)
                .extracting(e -> ((OipException) e).status()).isEqualTo(404);
        assertThatThrownBy(() -> host.require("classifier", "1")).isInstanceOf(OipException.class)
                .hasMessageContaining("version '3'").extracting(e -> ((OipException) e).status()).isEqualTo(404);
        assertThat(host.require("classifier", "3").model().name()).isEqualTo("classifier");
        assertThatThrownBy(() -> infer("add", new Tensor("a", Datatype.FP32, new long[] {1, 4}, new float[4])))
                .isInstanceOf(OipException.class).hasMessageContaining("'b'")
                .extracting(e -> ((OipException) e).status()).isEqualTo(400);
        // dynamic dimensions that the graph cannot combine fail as the caller's error, not a crash
        Tensor a = new Tensor("a", Datatype.FP32, new long[] {2, 4}, new float[8]);
        Tensor b = new Tensor("b", Datatype.FP32, new long[] {3, 4}, new float[12]);
        assertThatThrownBy(() -> infer("add", a, b)).isInstanceOf(OipException.class)
                .extracting(e -> ((OipException) e).status()).isEqualTo(400);
    }

    @Test
    void anInputLeftOutIsFedItsConfiguredDefaultInEveryRow() {
        Tensor a = new Tensor("a", Datatype.FP32, new long[] {2, 4}, new float[] {10, 20, 30, 40, 50, 60, 70, 80});
        InferResponse response = infer("add_default", a);
        assertThat((float[]) response.output("sum").data()).containsExactly(11, 22, 33, 44, 51, 62, 73, 84);
        assertThat(response.output("sum").shape()).containsExactly(2, 4);
        // a request that sends it is run on what it sent
        Tensor b = new Tensor("b", Datatype.FP32, new long[] {2, 4}, new float[8]);
        assertThat((float[]) infer("add_default", a, b).output("sum").data()).containsExactly(10, 20, 30, 40, 50, 60, 70, 80);
        // without a default it is still required
        assertThatThrownBy(() -> infer("add", a)).isInstanceOf(OipException.class).hasMessageContaining("'b'")
                .extracting(e -> ((OipException) e).status()).isEqualTo(400);
        // a shape claiming rows its data does not hold gets no default: the request is refused for what it is
        Tensor empty = new Tensor("a", Datatype.FP32, new long[] {50_000_000, 0}, new float[0]);
        assertThatThrownBy(() -> infer("add_default", empty)).isInstanceOf(OipException.class)
                .extracting(e -> ((OipException) e).status()).isEqualTo(400);
        // filling it out has a limit, which the refusal names
        int rows = (int) (OnnxModel.MAX_DEFAULT_VALUES / 4) + 1;
        Tensor many = new Tensor("a", Datatype.FP32, new long[] {rows, 4}, new float[rows * 4]);
        assertThatThrownBy(() -> infer("add_default", many)).isInstanceOf(OipException.class)
                .hasMessageContaining("over the limit of " + OnnxModel.MAX_DEFAULT_VALUES)
                .extracting(e -> ((OipException) e).status()).isEqualTo(400);
        // the metadata still lists it, as ONNX Runtime reports it
        assertThat(host.require("add_default", null).model().metadata().input("b")).isNotNull();
    }

    @Test
    void askingForCudaWithoutItRunsOnCpu() {
        HostSettings cuda = HostSettings.defaults(TestModels.repository())
                .withExecutionProvider(HostSettings.ExecutionProvider.CUDA);
        try (ModelHost cudaHost = new ModelHost(cuda, new SimpleMeterRegistry())) {
            cudaHost.loadAll();
            OrtProvider provider = cudaHost.require("add", null).model().provider();
            if (ai.onnxruntime.OrtEnvironment.getAvailableProviders().contains(OrtProvider.CUDA)) {
                assertThat(provider).isIn(OrtProvider.CUDA, OrtProvider.CPU);
            } else {
                assertThat(provider).isEqualTo(OrtProvider.CPU);
            }
        }
    }

    @Test
    void runsAreTimedPerModel() {
        infer("add", new Tensor("a", Datatype.FP32, new long[] {1, 4}, new float[4]),
                new Tensor("b", Datatype.FP32, new long[] {1, 4}, new float[4]));
        assertThat(meters.get("hybridge.model.run").tag("model", "add").timer().count()).isGreaterThanOrEqualTo(1);
    }

    private static float[] concat(float[] a, float[] b) {
        float[] out = new float[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
