package dev.hybridge.oip;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The binary tensor data extension: elements little-endian and packed; BOOL one byte each;
 * each BYTES element a 4-byte little-endian length followed by its bytes.
 */
public final class BinaryTensors {

    private BinaryTensors() {
    }

    /** Decodes {@code length} bytes at {@code offset} into the element array of {@code datatype}. */
    public static Object decode(String tensorName, Datatype datatype, byte[] source, int offset, int length) {
        ByteBuffer buffer = ByteBuffer.wrap(source, offset, length).slice().order(ByteOrder.LITTLE_ENDIAN);
        if (datatype == Datatype.BYTES) {
            return decodeBytes(tensorName, buffer);
        }
        int width = datatype.byteSize();
        if (length % width != 0) {
            throw OipException.badRequest("tensor '" + tensorName + "': binary_data_size " + length
                    + " is not a multiple of " + width + ", the size of one " + datatype + " element");
        }
        int count = length / width;
        switch (datatype) {
            case BOOL -> {
                boolean[] out = new boolean[count];
                for (int i = 0; i < count; i++) {
                    byte b = buffer.get(i);
                    if (b != 0 && b != 1) {
                        throw OipException.badRequest("tensor '" + tensorName + "': BOOL element " + i
                                + " is the byte " + (b & 0xFF) + "; only 0 and 1 are booleans");
                    }
                    out[i] = b == 1;
                }
                return out;
            }
            case UINT8, INT8 -> {
                byte[] out = new byte[count];
                buffer.get(out);
                return out;
            }
            case UINT16, INT16, FP16, BF16 -> {
                short[] out = new short[count];
                buffer.asShortBuffer().get(out);
                return out;
            }
            case UINT32, INT32 -> {
                int[] out = new int[count];
                buffer.asIntBuffer().get(out);
                return out;
            }
            case UINT64, INT64 -> {
                long[] out = new long[count];
                buffer.asLongBuffer().get(out);
                return out;
            }
            case FP32 -> {
                float[] out = new float[count];
                buffer.asFloatBuffer().get(out);
                return out;
            }
            case FP64 -> {
                double[] out = new double[count];
                buffer.asDoubleBuffer().get(out);
                return out;
            }
            default -> throw new IllegalStateException("unhandled datatype " + datatype);
        }
    }

    private static byte[][] decodeBytes(String tensorName, ByteBuffer buffer) {
        byte[][] values = new byte[16][];
        int count = 0;
        while (buffer.hasRemaining()) {
            if (buffer.remaining() < 4) {
                throw OipException.badRequest("tensor '" + tensorName + "': BYTES element " + count
                        + " is cut short: its 4-byte length prefix is incomplete");
            }
            int len = buffer.getInt();
            if (len < 0 || len > buffer.remaining()) {
                throw OipException.badRequest("tensor '" + tensorName + "': BYTES element " + count
                        + " claims " + Integer.toUnsignedString(len) + " bytes but only " + buffer.remaining() + " remain");
            }
            byte[] element = new byte[len];
            buffer.get(element);
            if (count == values.length) {
                values = java.util.Arrays.copyOf(values, count * 2);
            }
            values[count++] = element;
        }
        return java.util.Arrays.copyOf(values, count);
    }

    /** Encodes a tensor's elements; the inverse of {@link #decode}. */
    public static byte[] encode(Tensor tensor) {
        Object data = tensor.data();
        switch (tensor.datatype()) {
            case BOOL -> {
                boolean[] values = (boolean[]) data;
                byte[] out = new byte[values.length];
                for (int i = 0; i < values.length; i++) {
                    out[i] = (byte) (values[i] ? 1 : 0);
                }
                return out;
            }
            case UINT8, INT8 -> {
                return ((byte[]) data).clone();
            }
            case UINT16, INT16, FP16, BF16 -> {
                short[] values = (short[]) data;
                ByteBuffer out = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
                out.asShortBuffer().put(values);
                return out.array();
            }
            case UINT32, INT32 -> {
                int[] values = (int[]) data;
                ByteBuffer out = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
                out.asIntBuffer().put(values);
                return out.array();
            }
            case UINT64, INT64 -> {
                long[] values = (long[]) data;
                ByteBuffer out = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
                out.asLongBuffer().put(values);
                return out.array();
            }
            case FP32 -> {
                float[] values = (float[]) data;
                ByteBuffer out = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
                out.asFloatBuffer().put(values);
                return out.array();
            }
            case FP64 -> {
                double[] values = (double[]) data;
                ByteBuffer out = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
                out.asDoubleBuffer().put(values);
                return out.array();
            }
            case BYTES -> {
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                byte[] prefix = new byte[4];
                for (byte[] element : (byte[][]) data) {
                    ByteBuffer.wrap(prefix).order(ByteOrder.LITTLE_ENDIAN).putInt(0, element.length);
                    out.writeBytes(prefix);
                    out.writeBytes(element);
                }
                return out.toByteArray();
            }
            default -> throw new IllegalStateException("unhandled datatype " + tensor.datatype());
        }
    }
}
