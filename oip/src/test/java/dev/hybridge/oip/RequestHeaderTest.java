package dev.hybridge.oip;

import static dev.hybridge.oip.OipTestSupport.badRequestMessage;
import static dev.hybridge.oip.OipTestSupport.json;
import static dev.hybridge.oip.OipTestSupport.utf8;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@link OipCodec#decodeRequestHeader}: what a router needs of a request, without its data. */
class RequestHeaderTest {

    private final OipCodec codec = new OipCodec();

    @Test
    void jsonAndBinaryRequestsGiveTheSameHeader() {
        InferRequest request = new InferRequest("r1", Map.of("hybridge.route", "cloud"),
                List.of(new Tensor("audio", Datatype.FP32, new long[] {1, 3}, new float[] {1, 2, 3}),
                        new Tensor("flags", Datatype.BOOL, new long[] {2}, new boolean[] {true, false})),
                List.of(new InferRequest.RequestedOutput("probs", Map.of("binary_data", true))));
        for (boolean binary : new boolean[] {false, true}) {
            OipCodec.Encoded encoded = codec.encodeRequest(request, binary);
            OipCodec.RequestHeader header = codec.decodeRequestHeader(encoded.body(), encoded.jsonLength());
            assertThat(header.id()).isEqualTo("r1");
            assertThat(header.parameters()).containsEntry("hybridge.route", "cloud");
            assertThat(header.inputs()).containsExactly(new TensorSpec("audio", Datatype.FP32, new long[] {1, 3}),
                    new TensorSpec("flags", Datatype.BOOL, new long[] {2}));
            assertThat(header.outputs()).extracting(InferRequest.RequestedOutput::name).containsExactly("probs");
            assertThat(OipCodec.wantsBinary(header.withoutInputs(), "probs")).isTrue();
        }
    }

    @Test
    void theStructureIsCheckedButTheDataIsNotRead() {
        // three numbers for a shape of two: the full decode refuses it, the header does not look
        byte[] body = utf8(json("{'inputs': [{'name': 'x', 'datatype': 'FP32', 'shape': [2], 'data': [1, 2, 3]}]}"));
        assertThat(codec.decodeRequestHeader(body, -1).inputs()).hasSize(1);
        assertThat(badRequestMessage(() -> codec.decodeRequest(body, -1))).contains("needs 2 elements but data has 3");

        assertThat(badRequestMessage(() -> codec.decodeRequestHeader(utf8(json(
                "{'inputs': [{'name': 'x', 'datatype': 'FP32', 'shape': [2]}]}")), -1)))
                .isEqualTo("tensor 'x' has no 'data' and no binary_data_size");
        assertThat(badRequestMessage(() -> codec.decodeRequestHeader(utf8(json(
                "{'inputs': [{'name': 'x', 'datatype': 'FP33', 'shape': [2], 'data': [1, 2]}]}")), -1)))
                .contains("FP33");
        assertThat(badRequestMessage(() -> codec.decodeRequestHeader(utf8(json(
                "{'inputs': [{'name': 'x', 'datatype': 'FP32', 'shape': [2], 'data': [1, 2]}")), -1)))
                .contains("malformed");
    }
}
