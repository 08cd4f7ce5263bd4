package dev.hybridge.oip;

import java.util.Arrays;

/**
 * An input or output as a model declares it. A dimension of -1 is dynamic: any size fits.
 */
public record TensorSpec(String name, Datatype datatype, long[] shape) {

    public boolean isDynamic(int dimension) {
        return shape[dimension] < 0;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorSpec other && name.equals(other.name) && datatype == other.datatype
                && Arrays.equals(shape, other.shape);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * name.hashCode() + datatype.hashCode()) + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + ":" + datatype + Arrays.toString(shape);
    }
}
