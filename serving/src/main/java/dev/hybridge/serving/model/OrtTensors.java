package dev.hybridge.serving.model;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.TensorInfo;
import dev.hybridge.oip.BinaryTensors;
import dev.hybridge.oip.Datatype;
import dev.hybridge.oip.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** Conversions between OIP tensors and ONNX Runtime tensors. */
final class OrtTensors {

    static {
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            throw new ExceptionInInitializerError("ONNX Runtime tensors are read as little-endian; this platform is not");
        }
    }

    private OrtTensors() {
    }

    /** The OIP datatype of an ONNX tensor type, or null when OIP has none. */
    static Datatype datatypeOf(TensorInfo.OnnxTensorType type) {
        return switch (type) {
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL -> Datatype.BOOL;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8 -> Datatype.UINT8;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16 -> Datatype.UINT16;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT32 -> Datatype.UINT32;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64 -> Datatype.UINT64;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8 -> Datatype.INT8;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16 -> Datatype.INT16;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32 -> Datatype.INT32;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64 -> Datatype.INT64;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16 -> Datatype.FP16;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16 -> Datatype.BF16;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT -> Datatype.FP32;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE -> Datatype.FP64;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING -> Datatype.BYTES;
            default -> null;
        };
    }

    /**
     * Whether ONNX Runtime's Java API can build an input tensor of this datatype. It has no
     * tensor constructors for UINT16, UINT32 or UINT64 (they can still come back as outputs).
     */
    static boolean canFeed(Datatype datatype) {
        return datatype != Datatype.UINT16 && datatype != Datatype.UINT32 && datatype != Datatype.UINT64;
    }

    /** Builds an ONNX Runtime tensor; the caller closes it. */
    static OnnxTensor toOrt(OrtEnvironment env, Tensor t) throws OrtException {
        long[] shape = t.shape();
        Object data = t.data();
        return switch (t.datatype()) {
            case FP32 -> OnnxTensor.createTensor(env, FloatBuffer.wrap((float[]) data), shape);
            case FP64 -> OnnxTensor.createTensor(env, DoubleBuffer.wrap((double[]) data), shape);
            case INT64 -> OnnxTensor.createTensor(env, LongBuffer.wrap((long[]) data), shape);
            case INT32 -> OnnxTensor.createTensor(env, IntBuffer.wrap((int[]) data), shape);
            case INT16 -> OnnxTensor.createTensor(env, ShortBuffer.wrap((short[]) data), shape);
            case FP16 -> OnnxTensor.createTensor(env, ShortBuffer.wrap((short[]) data), shape, OnnxJavaType.FLOAT16);
            case BF16 -> OnnxTensor.createTensor(env, ShortBuffer.wrap((short[]) data), shape, OnnxJavaType.BFLOAT16);
            case INT8 -> OnnxTensor.createTensor(env, ByteBuffer.wrap((byte[]) data), shape, OnnxJavaType.INT8);
            case UINT8 -> OnnxTensor.createTensor(env, ByteBuffer.wrap((byte[]) data), shape, OnnxJavaType.UINT8);
            case BOOL -> {
                boolean[] values = (boolean[]) data;
                byte[] bytes = new byte[values.length];
                for (int i = 0; i < values.length; i++) {
                    bytes[i] = (byte) (values[i] ? 1 : 0);
                }
                yield OnnxTensor.createTensor(env, ByteBuffer.wrap(bytes), shape, OnnxJavaType.BOOL);
            }
            case BYTES -> {
                byte[][] values = (byte[][]) data;
                String[] strings = new String[values.length];
                for (int i = 0; i < values.length; i++) {
                    strings[i] = new String(values[i], StandardCharsets.UTF_8);
                }
                yield OnnxTensor.createTensor(env, strings, shape);
            }
            case UINT16, UINT32, UINT64 -> throw new IllegalStateException(
                    "ONNX Runtime's Java API cannot build " + t.datatype() + " tensors");
        };
    }

    /** Copies an ONNX Runtime output into an OIP tensor. */
    static Tensor fromOrt(String name, Datatype datatype, OnnxTensor value) throws OrtException {
        long[] shape = value.getInfo().getShape();
        if (datatype == Datatype.BYTES) {
            List<byte[]> flat = new ArrayList<>();
            flattenStrings(value.getValue(), flat);
            return new Tensor(name, datatype, shape, flat.toArray(new byte[0][]));
        }
        // getByteBuffer copies the raw elements in native (little-endian) order, the binary extension's layout
        ByteBuffer raw = value.getByteBuffer();
        byte[] bytes = raw.hasArray() && raw.arrayOffset() == 0 && raw.array().length == raw.remaining()
                ? raw.array() : copy(raw);
        return new Tensor(name, datatype, shape, BinaryTensors.decode(name, datatype, bytes, 0, bytes.length));
    }

    private static byte[] copy(ByteBuffer raw) {
        byte[] bytes = new byte[raw.remaining()];
        raw.duplicate().get(bytes);
        return bytes;
    }

    private static void flattenStrings(Object value, List<byte[]> out) {
        if (value instanceof String s) {
            out.add(s.getBytes(StandardCharsets.UTF_8));
        } else if (value instanceof Object[] array) {
            for (Object element : array) {
                flattenStrings(element, out);
            }
        } else {
            throw new IllegalStateException("unexpected string tensor element " + value);
        }
    }
}
