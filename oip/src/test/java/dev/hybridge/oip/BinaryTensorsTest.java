package dev.hybridge.oip;

import static dev.hybridge.oip.OipTestSupport.assertSameTensor;
import static dev.hybridge.oip.OipTestSupport.badRequestMessage;
import static dev.hybridge.oip.OipTestSupport.bytes;
import static dev.hybridge.oip.OipTestSupport.canonical;
import static dev.hybridge.oip.OipTestSupport.concat;
import static dev.hybridge.oip.OipTestSupport.utf8;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

class BinaryTensorsTest {

    static java.util.stream.Stream<Tensor> tensors() {
        return OipTestSupport.extremeTensors().stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("tensors")
    void decodeInvertsEncodeEvenInTheMiddleOfALargerArray(Tensor tensor) {
        byte[] encoded = BinaryTensors.encode(tensor);
        byte[] padded = concat(bytes(9, 9, 9), encoded, bytes(7, 7));

        Object decoded = BinaryTensors.decode(tensor.name(), tensor.datatype(), padded, 3, encoded.length);

        assertSameTensor(new Tensor(tensor.name(), tensor.datatype(), tensor.shape(), decoded), tensor);
        if (tensor.datatype() != Datatype.BYTES) {
            assertThat(encoded).hasSize(tensor.elementCount() * tensor.datatype().byteSize());
        }
    }

    @Test
    void encodeIsLittleEndianAndPacked() {
        assertThat(BinaryTensors.encode(new Tensor("b", Datatype.BOOL, new long[] {3}, new boolean[] {true, false, true})))
                .containsExactly(bytes(1, 0, 1));
        assertThat(BinaryTensors.encode(new Tensor("u", Datatype.UINT32, new long[] {1}, new int[] {0x01020304})))
                .containsExactly(bytes(4, 3, 2, 1));
        assertThat(BinaryTensors.encode(new Tensor("l", Datatype.INT64, new long[] {1}, new long[] {Long.MIN_VALUE})))
                .containsExactly(bytes(0, 0, 0, 0, 0, 0, 0, 0x80));
        assertThat(BinaryTensors.encode(new Tensor("h", Datatype.FP16, new long[] {1}, new short[] {0x3C00})))
                .containsExactly(bytes(0, 0x3C));
        assertThat(BinaryTensors.encode(new Tensor("f", Datatype.FP32, new long[] {1}, new float[] {-0f})))
                .containsExactly(bytes(0, 0, 0, 0x80));
        assertThat(BinaryTensors.encode(new Tensor("d", Datatype.FP64, new long[] {1}, new double[] {1.0})))
                .containsExactly(bytes(0, 0, 0, 0, 0, 0, 0xF0, 0x3F));
        assertThat(BinaryTensors.encode(new Tensor("s", Datatype.BYTES, new long[] {2}, new byte[][] {utf8("\u00e9"), new byte[0]})))
                .containsExactly(bytes(2, 0, 0, 0, 0xC3, 0xA9, 0, 0, 0, 0));
    }

    @Test
    void bytesElementsMayHoldAnyBytes() {
        byte[] raw = bytes(0, 0xFF, 0xC3, 0x28); // not UTF-8
        byte[] encoded = BinaryTensors.encode(new Tensor("s", Datatype.BYTES, new long[] {1}, new byte[][] {raw}));
        byte[][] decoded = (byte[][]) BinaryTensors.decode("s", Datatype.BYTES, encoded, 0, encoded.length);
        assertThat(decoded).hasDimensions(1, 4);
        assertThat(decoded[0]).containsExactly(raw);
    }

    @Test
    void manyBytesElementsGrowTheArray() {
        byte[][] values = new byte[100][];
        for (int i = 0; i < values.length; i++) {
            values[i] = utf8("e" + i);
        }
        Tensor t = new Tensor("s", Datatype.BYTES, new long[] {100}, values);
        byte[] encoded = BinaryTensors.encode(t);
        assertThat(canonical(BinaryTensors.decode("s", Datatype.BYTES, encoded, 0, encoded.length))).isEqualTo(canonical(values));
    }

    @Test
    void decodeRejectsBadInput() {
        assertThat(badRequestMessage(() -> BinaryTensors.decode("x", Datatype.INT32, new byte[5], 0, 5)))
                .isEqualTo("tensor 'x': binary_data_size 5 is not a multiple of 4, the size of one INT32 element");
        assertThat(badRequestMessage(() -> BinaryTensors.decode("x", Datatype.BOOL, bytes(0, 1, 3), 0, 3)))
                .isEqualTo("tensor 'x': BOOL element 2 is the byte 3; only 0 and 1 are booleans");
        assertThat(badRequestMessage(() -> BinaryTensors.decode("x", Datatype.BYTES, bytes(0, 0, 0, 0, 1, 0), 0, 6)))
                .isEqualTo("tensor 'x': BYTES element 1 is cut short: its 4-byte length prefix is incomplete");
        assertThat(badRequestMessage(() -> BinaryTensors.decode("x", Datatype.BYTES, bytes(3, 0, 0, 0, 1, 2, 3), 0, 6)))
                .isEqualTo("tensor 'x': BYTES element 0 claims 3 bytes but only 2 remain");
        assertThat(badRequestMessage(() -> BinaryTensors.decode("x", Datatype.BYTES, bytes(0, 0, 0, 0x80), 0, 4)))
                .contains("claims 2147483648 bytes");
    }

    @Test
    void decodeReadsOnlyItsOwnSlice() {
        byte[] source = bytes(1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0);
        assertThat((int[]) BinaryTensors.decode("x", Datatype.INT32, source, 4, 4)).containsExactly(2);
        assertThat((boolean[]) BinaryTensors.decode("x", Datatype.BOOL, bytes(5, 1, 0, 5), 1, 2)).containsExactly(true, false);
    }
}
