package dev.hybridge.oip;

import java.util.Arrays;
import java.util.Map;
import java.util.Objects;

/**
 * A named tensor as it travels in an inference request or response.
 *
 * <p>Elements are held flat, row-major, in the primitive array that {@link Datatype#arrayType()}
 * names: unsigned types share the signed array of their width and keep their bits (a UINT8
 * of 255 is the byte {@code -1}), FP16 and BF16 keep their 16 raw bits.
 */
public final class Tensor {

    private final String name;
    private final Datatype datatype;
    private final long[] shape;
    private final Object data;
    private final Map<String, Object> parameters;

    public Tensor(String name, Datatype datatype, long[] shape, Object data, Map<String, Object> parameters) {
        this.name = Objects.requireNonNull(name, "name");
        this.datatype = Objects.requireNonNull(datatype, "datatype");
        this.shape = Objects.requireNonNull(shape, "shape");
        this.data = Objects.requireNonNull(data, "data");
        if (!datatype.arrayType().isInstance(data)) {
            throw new IllegalArgumentException("tensor '" + name + "' of datatype " + datatype
                    + " must hold " + datatype.arrayType().getSimpleName() + " but held "
                    + data.getClass().getSimpleName());
        }
        this.parameters = parameters == null ? Map.of() : parameters;
    }

    public Tensor(String name, Datatype datatype, long[] shape, Object data) {
        this(name, datatype, shape, data, Map.of());
    }

    public String name() {
        return name;
    }

    public Datatype datatype() {
        return datatype;
    }

    /** The shape; callers must not modify it. */
    public long[] shape() {
        return shape;
    }

    /** The flat element array; callers must not modify it. */
    public Object data() {
        return data;
    }

    public Map<String, Object> parameters() {
        return parameters;
    }

    public int elementCount() {
        return elementCount(data);
    }

    public Tensor withName(String newName) {
        return new Tensor(newName, datatype, shape, data, parameters);
    }

    public Tensor withParameters(Map<String, Object> newParameters) {
        return new Tensor(name, datatype, shape, data, newParameters);
    }

    static int elementCount(Object array) {
        return java.lang.reflect.Array.getLength(array);
    }

    /**
     * How many rows a request holds, by its first input: its first dimension, when its data holds at
     * least one element for each row (1 for a scalar or no input); -1 for a shape claiming rows its
     * data does not hold, so that nothing is made for them.
     */
    public static long rowsHeld(java.util.List<Tensor> inputs) {
        if (inputs.isEmpty() || inputs.get(0).shape().length == 0) {
            return 1;
        }
        Tensor first = inputs.get(0);
        long rows = first.shape()[0];
        return rows >= 1 && rows <= first.elementCount() ? rows : -1;
    }

    /** An FP32 tensor of this shape holding {@code row} once for each of its rows (its first dimension). */
    public static Tensor repeatedRow(String name, float[] row, long[] shape) {
        float[] data = new float[Math.toIntExact(shape[0] * row.length)];
        for (int r = 0; r < shape[0]; r++) {
            System.arraycopy(row, 0, data, r * row.length, row.length);
        }
        return new Tensor(name, Datatype.FP32, shape, data);
    }

    /** The product of the dimensions, or an error naming the tensor when it is negative or overflows. */
    public static long shapeProduct(String tensorName, long[] shape) {
        long product = 1;
        for (int i = 0; i < shape.length; i++) {
            long d = shape[i];
            if (d < 0) {
                throw OipException.badRequest("tensor '" + tensorName + "': dimension " + i
                        + " is " + d + "; dimensions must be zero or more");
            }
            try {
                product = Math.multiplyExact(product, d);
            } catch (ArithmeticException e) {
                throw OipException.badRequest("tensor '" + tensorName + "': shape "
                        + Arrays.toString(shape) + " has more elements than can be held");
            }
        }
        return product;
    }

    @Override
    public String toString() {
        return "Tensor[" + name + ", " + datatype + ", " + Arrays.toString(shape) + "]";
    }
}
