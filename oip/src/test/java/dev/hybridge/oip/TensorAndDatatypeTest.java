package dev.hybridge.oip;

import static dev.hybridge.oip.OipTestSupport.badRequestMessage;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class TensorAndDatatypeTest {

    @ParameterizedTest
    @EnumSource(Datatype.class)
    void wireNamesParseExactly(Datatype datatype) {
        assertThat(Datatype.fromWire(datatype.name())).isSameAs(datatype);
        assertThat(badRequestMessage(() -> Datatype.fromWire(datatype.name().toLowerCase())))
                .contains("unknown datatype '" + datatype.name().toLowerCase() + "'").contains("upper case");
    }

    @Test
    void unknownAndMissingDatatypes() {
        assertThat(badRequestMessage(() -> Datatype.fromWire("STRING"))).contains("unknown datatype 'STRING'")
                .contains("BYTES").doesNotContain("upper case");
        assertThat(badRequestMessage(() -> Datatype.fromWire(" FP32"))).contains("unknown datatype ' FP32'");
        assertThat(badRequestMessage(() -> Datatype.fromWire(null))).contains("datatype is missing");
    }

    @Test
    void datatypeSizesAndKinds() {
        assertThat(Datatype.BOOL.byteSize()).isEqualTo(1);
        assertThat(Datatype.UINT8.byteSize()).isEqualTo(1);
        assertThat(Datatype.INT16.byteSize()).isEqualTo(2);
        assertThat(Datatype.FP16.byteSize()).isEqualTo(2);
        assertThat(Datatype.BF16.byteSize()).isEqualTo(2);
        assertThat(Datatype.UINT32.byteSize()).isEqualTo(4);
        assertThat(Datatype.FP32.byteSize()).isEqualTo(4);
        assertThat(Datatype.INT64.byteSize()).isEqualTo(8);
        assertThat(Datatype.FP64.byteSize()).isEqualTo(8);
        assertThat(Datatype.BYTES.byteSize()).isEqualTo(-1);
        assertThat(List.of(Datatype.values())).filteredOn(Datatype::isUnsigned)
                .containsExactly(Datatype.UINT8, Datatype.UINT16, Datatype.UINT32, Datatype.UINT64);
        assertThat(List.of(Datatype.values())).filteredOn(Datatype::isInteger).hasSize(8);
        assertThat(List.of(Datatype.values())).filteredOn(Datatype::isFloatingPoint)
                .containsExactly(Datatype.FP16, Datatype.BF16, Datatype.FP32, Datatype.FP64);
    }

    @Test
    void tensorChecksItsArrayType() {
        assertThatIllegalArgumentException()
                .isThrownBy(() -> new Tensor("t", Datatype.FP32, new long[] {1}, new double[] {1}))
                .withMessageContaining("tensor 't' of datatype FP32 must hold float[] but held double[]");
        assertThatIllegalArgumentException()
                .isThrownBy(() -> new Tensor("t", Datatype.UINT64, new long[] {1}, new int[] {1}));
        assertThatNullPointerException().isThrownBy(() -> new Tensor(null, Datatype.FP32, new long[] {1}, new float[1]));
        assertThatNullPointerException().isThrownBy(() -> new Tensor("t", Datatype.FP32, new long[] {1}, null));
    }

    @Test
    void tensorCopies() {
        Tensor t = new Tensor("t", Datatype.INT8, new long[] {2}, new byte[] {1, 2}, null);
        assertThat(t.parameters()).isEmpty();
        assertThat(t.elementCount()).isEqualTo(2);
        Tensor renamed = t.withName("u");
        assertThat(renamed.name()).isEqualTo("u");
        assertThat(renamed.data()).isSameAs(t.data());
        assertThat(t.withParameters(Map.of("k", "v")).parameters()).containsExactly(Map.entry("k", "v"));
        assertThat(t).hasToString("Tensor[t, INT8, [2]]");
    }

    @Test
    void shapeProduct() {
        assertThat(Tensor.shapeProduct("t", new long[0])).isEqualTo(1);
        assertThat(Tensor.shapeProduct("t", new long[] {2, 3, 4})).isEqualTo(24);
        assertThat(Tensor.shapeProduct("t", new long[] {5, 0, Long.MAX_VALUE})).isZero();
        assertThat(Tensor.shapeProduct("t", new long[] {Long.MAX_VALUE})).isEqualTo(Long.MAX_VALUE);
        assertThat(badRequestMessage(() -> Tensor.shapeProduct("t", new long[] {2, -3})))
                .isEqualTo("tensor 't': dimension 1 is -3; dimensions must be zero or more");
        assertThat(badRequestMessage(() -> Tensor.shapeProduct("t", new long[] {4294967296L, 4294967296L, 4294967296L})))
                .isEqualTo("tensor 't': shape [4294967296, 4294967296, 4294967296] has more elements than can be held");
        assertThat(badRequestMessage(() -> Tensor.shapeProduct("t", new long[] {Long.MAX_VALUE, 2})))
                .contains("more elements than can be held");
    }

    @Test
    void tensorSpecEqualityComparesShapes() {
        TensorSpec a = new TensorSpec("x", Datatype.FP32, new long[] {-1, 3});
        assertThat(a).isEqualTo(new TensorSpec("x", Datatype.FP32, new long[] {-1, 3}));
        assertThat(a).hasSameHashCodeAs(new TensorSpec("x", Datatype.FP32, new long[] {-1, 3}));
        assertThat(a).isNotEqualTo(new TensorSpec("x", Datatype.FP32, new long[] {-1, 4}));
        assertThat(a).isNotEqualTo(new TensorSpec("x", Datatype.FP64, new long[] {-1, 3}));
        assertThat(a).hasToString("x:FP32[-1, 3]");
    }

    @Test
    void oipExceptionStatuses() {
        assertThat(OipException.badRequest("m").status()).isEqualTo(400);
        assertThat(OipException.notFound("m").status()).isEqualTo(404);
        assertThat(OipException.payloadTooLarge("m").status()).isEqualTo(413);
        assertThat(OipException.unsupportedMediaType("m").status()).isEqualTo(415);
        assertThat(OipException.unavailable("m").status()).isEqualTo(503);
        assertThat(OipException.badRequest("what went wrong")).hasMessage("what went wrong");
    }

    @Test
    void responseOutputLookup() {
        Tensor o = new Tensor("o", Datatype.INT8, new long[] {1}, new byte[] {1});
        InferResponse response = new InferResponse("m", null, null, null, List.of(o));
        assertThat(response.output("o")).isSameAs(o);
        assertThat(response.parameters()).isEmpty();
        assertThatIllegalArgumentException().isThrownBy(() -> response.output("p"))
                .withMessageContaining("no output named 'p'");
    }
}
