package dev.hybridge.oip;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;

/** Helpers shared by the OIP tests. */
final class OipTestSupport {

    private OipTestSupport() {
    }

    /** JSON written with single quotes for readability; every ' becomes ". */
    static String json(String singleQuoted) {
        return singleQuoted.replace('\'', '"');
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String text(byte[] bytes) {
        return new String(bytes, StandardCharsets.UTF_8);
    }

    static byte[] concat(byte[]... parts) {
        int total = 0;
        for (byte[] p : parts) {
            total += p.length;
        }
        byte[] out = new byte[total];
        int at = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    static byte[] bytes(int... values) {
        byte[] out = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = (byte) values[i];
        }
        return out;
    }

    /** A request body with one input tensor whose JSON object members are given (single quotes allowed). */
    static byte[] oneInput(String tensorMembers) {
        return utf8(json("{'inputs':[{" + tensorMembers + "}]}"));
    }

    /** Runs {@code call}, which must throw an OipException with status 400, and returns it. */
    static OipException badRequest(ThrowingCallable call) {
        OipException e = catchThrowableOfType(OipException.class, call);
        assertThat(e).as("expected an OipException").isNotNull();
        assertThat(e.status()).as("status of: " + e.getMessage()).isEqualTo(400);
        assertThat(e.getMessage()).isNotBlank();
        return e;
    }

    static String badRequestMessage(ThrowingCallable call) {
        return badRequest(call).getMessage();
    }

    /**
     * The elements of a tensor data array in a form that compares exactly: floats and doubles
     * as their raw bits (so -0.0 differs from 0.0), BYTES elements as hex.
     */
    static List<Object> canonical(Object data) {
        List<Object> out = new ArrayList<>();
        if (data instanceof boolean[] a) {
            for (boolean v : a) out.add(v);
        } else if (data instanceof byte[] a) {
            for (byte v : a) out.add(v);
        } else if (data instanceof short[] a) {
            for (short v : a) out.add(v);
        } else if (data instanceof int[] a) {
            for (int v : a) out.add(v);
        } else if (data instanceof long[] a) {
            for (long v : a) out.add(v);
        } else if (data instanceof float[] a) {
            for (float v : a) out.add("f" + Integer.toHexString(Float.floatToRawIntBits(v)) + "(" + v + ")");
        } else if (data instanceof double[] a) {
            for (double v : a) out.add("d" + Long.toHexString(Double.doubleToRawLongBits(v)) + "(" + v + ")");
        } else if (data instanceof byte[][] a) {
            for (byte[] v : a) out.add("b:" + HexFormat.of().formatHex(v));
        } else {
            throw new IllegalArgumentException("not tensor data: " + data);
        }
        return out;
    }

    static void assertSameTensor(Tensor actual, Tensor expected) {
        assertThat(actual.name()).isEqualTo(expected.name());
        assertThat(actual.datatype()).isEqualTo(expected.datatype());
        assertThat(actual.shape()).containsExactly(expected.shape());
        assertThat(actual.data()).isInstanceOf(expected.datatype().arrayType());
        assertThat(canonical(actual.data())).as("data of " + expected).isEqualTo(canonical(expected.data()));
    }

    /** One tensor of every datatype, holding the extreme and awkward values of that type. */
    static List<Tensor> extremeTensors() {
        List<Tensor> t = new ArrayList<>();
        t.add(new Tensor("bool", Datatype.BOOL, new long[] {4}, new boolean[] {true, false, false, true}));
        t.add(new Tensor("uint8", Datatype.UINT8, new long[] {5}, bytes(0, 1, 127, 128, 255)));
        t.add(new Tensor("uint16", Datatype.UINT16, new long[] {5},
                new short[] {0, 1, 0x7FFF, (short) 0x8000, (short) 0xFFFF}));
        t.add(new Tensor("uint32", Datatype.UINT32, new long[] {5},
                new int[] {0, 1, Integer.MAX_VALUE, Integer.MIN_VALUE, -1})); // 2^31 and 4294967295
        t.add(new Tensor("uint64", Datatype.UINT64, new long[] {5},
                new long[] {0, 1, Long.MAX_VALUE, Long.MIN_VALUE, -1L})); // 2^63 and 18446744073709551615
        t.add(new Tensor("int8", Datatype.INT8, new long[] {5}, bytes(-128, -1, 0, 1, 127)));
        t.add(new Tensor("int16", Datatype.INT16, new long[] {5},
                new short[] {Short.MIN_VALUE, -1, 0, 1, Short.MAX_VALUE}));
        t.add(new Tensor("int32", Datatype.INT32, new long[] {5},
                new int[] {Integer.MIN_VALUE, -1, 0, 1, Integer.MAX_VALUE}));
        t.add(new Tensor("int64", Datatype.INT64, new long[] {5},
                new long[] {Long.MIN_VALUE, -1, 0, 1, Long.MAX_VALUE}));
        // +0, -0, smallest subnormal, largest subnormal, smallest normal, 1, 65504, -65504, ~1/3
        t.add(new Tensor("fp16", Datatype.FP16, new long[] {3, 3}, new short[] {
                0x0000, (short) 0x8000, 0x0001, 0x03FF, 0x0400, 0x3C00, 0x7BFF, (short) 0xFBFF, 0x3555}));
        // +0, -0, smallest subnormal, 1, largest finite, -largest finite, ~1/3, -2
        t.add(new Tensor("bf16", Datatype.BF16, new long[] {2, 4}, new short[] {
                0x0000, (short) 0x8000, 0x0001, 0x3F80, 0x7F7F, (short) 0xFF7F, 0x3EAB, (short) 0xC000}));
        t.add(new Tensor("fp32", Datatype.FP32, new long[] {2, 5}, new float[] {
                0f, -0f, Float.MIN_VALUE, -Float.MIN_VALUE, 1.0e-40f, Float.MIN_NORMAL, Float.MAX_VALUE,
                -Float.MAX_VALUE, 0.1f, 1f / 3f}));
        t.add(new Tensor("fp64", Datatype.FP64, new long[] {2, 5}, new double[] {
                0d, -0d, Double.MIN_VALUE, -Double.MIN_VALUE, 1.0e-310, Double.MIN_NORMAL, Double.MAX_VALUE,
                -Double.MAX_VALUE, 0.1, Math.PI}));
        t.add(new Tensor("bytes", Datatype.BYTES, new long[] {8}, new byte[][] {
                new byte[0], utf8("hello"), utf8("h\u00e9llo w\u00f6rld \u2713"), utf8("\u65e5\u672c\u8a9e"),
                utf8("emoji \uD83D\uDE00"), utf8("quote \" backslash \\ newline \n tab \t"), utf8("nul \u0000 ctrl \u0001"),
                utf8("[not, an, array]")}));
        return t;
    }
}
