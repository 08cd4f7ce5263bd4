package dev.hybridge.oip;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import tools.jackson.core.JsonParser;
import tools.jackson.core.JsonToken;

/**
 * Collects the scalar elements of a JSON {@code data} array into the primitive array of one
 * datatype, checking each element's kind and range as it arrives.
 */
abstract class ElementSink {

    private static final BigInteger UINT64_MAX = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);

    final String tensorName;
    final Datatype datatype;
    int size;

    ElementSink(String tensorName, Datatype datatype) {
        this.tensorName = tensorName;
        this.datatype = datatype;
    }

    abstract void accept(JsonParser p, JsonToken token);

    abstract Object toArray();

    static ElementSink forDatatype(String tensorName, Datatype datatype) {
        return switch (datatype) {
            case BOOL -> new BoolSink(tensorName);
            case FP32 -> new FloatSink(tensorName);
            case FP64 -> new DoubleSink(tensorName);
            case FP16, BF16 -> new HalfSink(tensorName, datatype);
            case BYTES -> new BytesSink(tensorName);
            default -> new IntegerSink(tensorName, datatype);
        };
    }

    OipException wrongKind(JsonToken token, String expected) {
        return OipException.badRequest("tensor '" + tensorName + "': element " + size + " is "
                + describe(token) + " but datatype " + datatype + " takes " + expected);
    }

    /**
     * Floating-point elements may also be the strings {@code "NaN"}, {@code "Infinity"} and
     * {@code "-Infinity"}, which is how such values are written (JSON numbers cannot hold them).
     */
    double special(JsonParser p, JsonToken token) {
        return switch (p.getString()) {
            case "NaN" -> Double.NaN;
            case "Infinity" -> Double.POSITIVE_INFINITY;
            case "-Infinity" -> Double.NEGATIVE_INFINITY;
            default -> throw wrongKind(token, "numbers (or \"NaN\", \"Infinity\", \"-Infinity\")");
        };
    }

    void requireNumber(JsonToken token) {
        if (token != JsonToken.VALUE_NUMBER_FLOAT && token != JsonToken.VALUE_NUMBER_INT) {
            throw wrongKind(token, "numbers");
        }
    }

    /** A finite number must stay finite in the datatype: 1e39 is no FP32. */
    void requireFinite(JsonParser p, boolean overflowed) {
        if (overflowed) {
            throw OipException.badRequest("tensor '" + tensorName + "': element " + size + " is " + p.getString()
                    + ", out of range for " + datatype);
        }
    }

    static String describe(JsonToken token) {
        return switch (token) {
            case VALUE_STRING -> "a string";
            case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> "a number";
            case VALUE_TRUE, VALUE_FALSE -> "a boolean";
            case VALUE_NULL -> "null";
            case START_OBJECT -> "an object";
            case START_ARRAY -> "an array";
            default -> String.valueOf(token);
        };
    }

    private static final class BoolSink extends ElementSink {
        private boolean[] values = new boolean[64];

        BoolSink(String tensorName) {
            super(tensorName, Datatype.BOOL);
        }

        @Override
        void accept(JsonParser p, JsonToken token) {
            if (token != JsonToken.VALUE_TRUE && token != JsonToken.VALUE_FALSE) {
                throw wrongKind(token, "true or false");
            }
            if (size == values.length) {
                values = Arrays.copyOf(values, size * 2);
            }
            values[size++] = token == JsonToken.VALUE_TRUE;
        }

        @Override
        Object toArray() {
            return Arrays.copyOf(values, size);
        }
    }

    private static final class FloatSink extends ElementSink {
        private float[] values = new float[1024];

        FloatSink(String tensorName) {
            super(tensorName, Datatype.FP32);
        }

        @Override
        void accept(JsonParser p, JsonToken token) {
            float value;
            if (token == JsonToken.VALUE_STRING) {
                value = (float) special(p, token);
            } else {
                requireNumber(token);
                value = p.getFloatValue();
                requireFinite(p, Float.isInfinite(value));
            }
            if (size == values.length) {
                values = Arrays.copyOf(values, size * 2);
            }
            values[size++] = value;
        }

        @Override
        Object toArray() {
            return size == values.length ? values : Arrays.copyOf(values, size);
        }
    }

    private static final class DoubleSink extends ElementSink {
        private double[] values = new double[256];

        DoubleSink(String tensorName) {
            super(tensorName, Datatype.FP64);
        }

        @Override
        void accept(JsonParser p, JsonToken token) {
            double value;
            if (token == JsonToken.VALUE_STRING) {
                value = special(p, token);
            } else {
                requireNumber(token);
                value = p.getDoubleValue();
                requireFinite(p, Double.isInfinite(value));
            }
            if (size == values.length) {
                values = Arrays.copyOf(values, size * 2);
            }
            values[size++] = value;
        }

        @Override
        Object toArray() {
            return Arrays.copyOf(values, size);
        }
    }

    private static final class HalfSink extends ElementSink {
        private short[] values = new short[256];

        HalfSink(String tensorName, Datatype datatype) {
            super(tensorName, datatype);
        }

        @Override
        void accept(JsonParser p, JsonToken token) {
            short bits;
            if (token == JsonToken.VALUE_STRING) {
                float f = (float) special(p, token);
                bits = datatype == Datatype.FP16 ? HalfFloats.floatToFp16(f) : HalfFloats.floatToBf16(f);
            } else {
                requireNumber(token);
                float f = p.getFloatValue();
                bits = datatype == Datatype.FP16 ? HalfFloats.floatToFp16(f) : HalfFloats.floatToBf16(f);
                float back = datatype == Datatype.FP16 ? HalfFloats.fp16ToFloat(bits) : HalfFloats.bf16ToFloat(bits);
                requireFinite(p, Float.isInfinite(back));
            }
            if (size == values.length) {
                values = Arrays.copyOf(values, size * 2);
            }
            values[size++] = bits;
        }

        @Override
        Object toArray() {
            return Arrays.copyOf(values, size);
        }
    }

    private static final class BytesSink extends ElementSink {
        private byte[][] values = new byte[16][];

        BytesSink(String tensorName) {
            super(tensorName, Datatype.BYTES);
        }

        @Override
        void accept(JsonParser p, JsonToken token) {
            if (token != JsonToken.VALUE_STRING) {
                throw wrongKind(token, "strings");
            }
            if (size == values.length) {
                values = Arrays.copyOf(values, size * 2);
            }
            values[size++] = p.getString().getBytes(StandardCharsets.UTF_8);
        }

        @Override
        Object toArray() {
            return Arrays.copyOf(values, size);
        }
    }

    /** All integer datatypes: values are range-checked, then stored in the array of their width. */
    private static final class IntegerSink extends ElementSink {
        private final long min;
        private final long max;
        private long[] values = new long[256];

        IntegerSink(String tensorName, Datatype datatype) {
            super(tensorName, datatype);
            min = minOf(datatype);
            max = maxOf(datatype);
        }

        @Override
        void accept(JsonParser p, JsonToken token) {
            if (token != JsonToken.VALUE_NUMBER_INT) {
                throw wrongKind(token, "whole numbers");
            }
            long value;
            if (p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
                BigInteger big = p.getBigIntegerValue();
                if (datatype != Datatype.UINT64 || big.signum() < 0 || big.compareTo(UINT64_MAX) > 0) {
                    throw outOfRange(big.toString());
                }
                value = big.longValue(); // keeps the 64 bits
            } else {
                value = p.getLongValue();
                if (value < min || value > max) {
                    throw outOfRange(Long.toString(value));
                }
            }
            if (size == values.length) {
                values = Arrays.copyOf(values, size * 2);
            }
            values[size++] = value;
        }

        private OipException outOfRange(String value) {
            String range = datatype == Datatype.UINT64 ? "0 to 18446744073709551615" : min + " to " + max;
            return OipException.badRequest("tensor '" + tensorName + "': element " + size + " is " + value
                    + ", out of range for " + datatype + " (" + range + ")");
        }

        @Override
        Object toArray() {
            return narrow(values, size, datatype);
        }
    }

    /** The smallest value of an integer datatype (UINT64 as far as a long reaches). */
    static long minOf(Datatype datatype) {
        return switch (datatype) {
            case UINT8, UINT16, UINT32, UINT64 -> 0;
            case INT8 -> Byte.MIN_VALUE;
            case INT16 -> Short.MIN_VALUE;
            case INT32 -> Integer.MIN_VALUE;
            case INT64 -> Long.MIN_VALUE;
            default -> throw new IllegalArgumentException("not an integer datatype: " + datatype);
        };
    }

    /** The largest value of an integer datatype; larger UINT64 values arrive as BigInteger. */
    static long maxOf(Datatype datatype) {
        return switch (datatype) {
            case UINT8 -> 0xFF;
            case UINT16 -> 0xFFFF;
            case UINT32 -> 0xFFFFFFFFL;
            case INT8 -> Byte.MAX_VALUE;
            case INT16 -> Short.MAX_VALUE;
            case INT32 -> Integer.MAX_VALUE;
            case UINT64, INT64 -> Long.MAX_VALUE;
            default -> throw new IllegalArgumentException("not an integer datatype: " + datatype);
        };
    }

    /** Range-checked integer values stored in the array of their datatype's width. */
    static Object narrow(long[] values, int size, Datatype datatype) {
        switch (datatype) {
            case UINT8, INT8 -> {
                byte[] out = new byte[size];
                for (int i = 0; i < size; i++) {
                    out[i] = (byte) values[i];
                }
                return out;
            }
            case UINT16, INT16 -> {
                short[] out = new short[size];
                for (int i = 0; i < size; i++) {
                    out[i] = (short) values[i];
                }
                return out;
            }
            case UINT32, INT32 -> {
                int[] out = new int[size];
                for (int i = 0; i < size; i++) {
                    out[i] = (int) values[i];
                }
                return out;
            }
            default -> {
                return Arrays.copyOf(values, size);
            }
        }
    }
}
