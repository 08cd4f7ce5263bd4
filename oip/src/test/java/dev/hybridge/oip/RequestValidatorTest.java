package dev.hybridge.oip;

import static dev.hybridge.oip.OipTestSupport.badRequestMessage;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RequestValidatorTest {

    private static final ModelMetadata MODEL = new ModelMetadata("resnet", List.of("1"), "onnxruntime_onnx",
            List.of(new TensorSpec("image", Datatype.FP32, new long[] {-1, 3, 2, 2}),
                    new TensorSpec("scale", Datatype.FP64, new long[] {1})),
            List.of(new TensorSpec("logits", Datatype.FP32, new long[] {-1, 10}),
                    new TensorSpec("label", Datatype.BYTES, new long[] {-1})));

    private static Tensor image(long batch) {
        return new Tensor("image", Datatype.FP32, new long[] {batch, 3, 2, 2}, new float[(int) batch * 12]);
    }

    private static Tensor scale() {
        return new Tensor("scale", Datatype.FP64, new long[] {1}, new double[] {0.5});
    }

    private static InferRequest request(List<Tensor> inputs, String... outputs) {
        return new InferRequest("r", Map.of(), inputs,
                java.util.Arrays.stream(outputs).map(InferRequest.RequestedOutput::new).toList());
    }

    private static String reject(InferRequest request) {
        return badRequestMessage(() -> RequestValidator.validate(request, MODEL));
    }

    @Test
    void aWellFormedRequestPasses() {
        assertThatCode(() -> RequestValidator.validate(request(List.of(image(1), scale())), MODEL)).doesNotThrowAnyException();
        assertThatCode(() -> RequestValidator.validate(request(List.of(scale(), image(4)), "label", "logits"), MODEL))
                .doesNotThrowAnyException();
    }

    @Test
    void dynamicDimensionsAcceptAnySizeIncludingZero() {
        for (long batch : new long[] {0, 1, 7}) {
            assertThatCode(() -> RequestValidator.validate(request(List.of(image(batch), scale())), MODEL))
                    .as("batch " + batch).doesNotThrowAnyException();
        }
    }

    @Test
    void unknownInputIsNamedWithTheModelsInputs() {
        Tensor extra = new Tensor("mask", Datatype.BOOL, new long[] {1}, new boolean[] {true});
        assertThat(reject(request(List.of(image(1), scale(), extra))))
                .isEqualTo("model 'resnet' has no input 'mask'; its inputs are image (FP32 [-1, 3, 2, 2]), scale (FP64 [1])");
    }

    @Test
    void missingInputIsNamed() {
        assertThat(reject(request(List.of(image(1)))))
                .isEqualTo("input 'scale' (FP64 [1]) is missing; model 'resnet' needs it");
        assertThat(reject(request(List.of()))).contains("input 'image'").contains("model 'resnet'").contains("missing");
    }

    @Test
    void duplicateInputIsRejected() {
        assertThat(reject(request(List.of(image(1), scale(), image(1)))))
                .contains("input 'image' is given more than once");
    }

    @Test
    void wrongDatatypeIsRejected() {
        Tensor wrong = new Tensor("scale", Datatype.FP32, new long[] {1}, new float[] {0.5f});
        assertThat(reject(request(List.of(image(1), wrong))))
                .isEqualTo("input 'scale' is FP32 but model 'resnet' takes FP64");
    }

    @Test
    void wrongRankIsRejected() {
        Tensor flat = new Tensor("image", Datatype.FP32, new long[] {12}, new float[12]);
        assertThat(reject(request(List.of(flat, scale()))))
                .isEqualTo("input 'image' has shape [12] (rank 1) but model 'resnet' takes [-1, 3, 2, 2] (rank 4)");
    }

    @Test
    void fixedDimensionMismatchIsRejected() {
        Tensor wrong = new Tensor("image", Datatype.FP32, new long[] {1, 4, 2, 2}, new float[16]);
        assertThat(reject(request(List.of(wrong, scale()))))
                .isEqualTo("input 'image' has shape [1, 4, 2, 2] but model 'resnet' takes [-1, 3, 2, 2]: dimension 1 must be 3");
        Tensor scalarScale = new Tensor("scale", Datatype.FP64, new long[] {2}, new double[2]);
        assertThat(reject(request(List.of(image(1), scalarScale)))).contains("input 'scale'").contains("dimension 0 must be 1");
    }

    @Test
    void aFixedZeroDimensionIsNotDynamic() {
        ModelMetadata model = new ModelMetadata("empty", List.of(), "p",
                List.of(new TensorSpec("e", Datatype.INT8, new long[] {0})), List.of());
        Tensor zero = new Tensor("e", Datatype.INT8, new long[] {0}, new byte[0]);
        assertThatCode(() -> RequestValidator.validate(request(List.of(zero)), model)).doesNotThrowAnyException();
        Tensor two = new Tensor("e", Datatype.INT8, new long[] {2}, new byte[2]);
        assertThat(badRequestMessage(() -> RequestValidator.validate(request(List.of(two)), model)))
                .contains("input 'e'").contains("model 'empty'").contains("dimension 0 must be 0");
    }

    @Test
    void elementCountMustMatchTheShape() {
        Tensor shortData = new Tensor("image", Datatype.FP32, new long[] {2, 3, 2, 2}, new float[12]);
        assertThat(reject(request(List.of(shortData, scale()))))
                .contains("tensor 'image'").contains("needs 24 elements but data has 12");
    }

    @Test
    void negativeDimensionInARequestIsNotADynamicWildcard() {
        Tensor negative = new Tensor("image", Datatype.FP32, new long[] {-1, 3, 2, 2}, new float[12]);
        assertThat(reject(request(List.of(negative, scale()))))
                .contains("tensor 'image'").contains("dimension 0 is -1");
    }

    @Test
    void unknownRequestedOutputIsNamedWithTheModelsOutputs() {
        assertThat(reject(request(List.of(image(1), scale()), "probs")))
                .isEqualTo("model 'resnet' has no output 'probs'; its outputs are logits (FP32 [-1, 10]), label (BYTES [-1])");
    }

    @Test
    void duplicateRequestedOutputIsRejected() {
        assertThat(reject(request(List.of(image(1), scale()), "logits", "label", "logits")))
                .contains("output 'logits' is asked for more than once");
    }

    @Test
    void validatesADecodedRequest() {
        OipCodec codec = new OipCodec();
        byte[] body = OipTestSupport.utf8(OipTestSupport.json("{'inputs':["
                + "{'name':'image','datatype':'FP32','shape':[1,3,2,2],'data':[[[[1,2],[3,4]],[[5,6],[7,8]],[[9,10],[11,12]]]]},"
                + "{'name':'scale','datatype':'FP64','shape':[1],'data':[2]}],'outputs':[{'name':'label'}]}"));
        InferRequest request = codec.decodeRequest(body, -1);
        assertThatCode(() -> RequestValidator.validate(request, MODEL)).doesNotThrowAnyException();
        assertThat((float[]) request.inputs().get(0).data()).containsExactly(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12);
    }
}
