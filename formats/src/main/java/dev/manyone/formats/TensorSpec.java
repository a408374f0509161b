package dev.manyone.formats;

import java.util.Arrays;
import java.util.Objects;

/**
 * A tensor to be written: name, element type and shape (row-major, outermost first; a scalar has length 0).
 * The shape is copied on construction; do not mutate the array returned by {@link #shape()}.
 */
public record TensorSpec(String name, DType dtype, long[] shape) {

    public TensorSpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        shape = Objects.requireNonNull(shape, "shape").clone();
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("tensor '" + name + "': negative dimension in shape " + Arrays.toString(shape));
            }
        }
    }

    /** The spec of an existing tensor (same name, dtype and shape). */
    public static TensorSpec of(TensorInfo t) {
        return new TensorSpec(t.name(), t.dtype(), t.shape());
    }

    /** product(shape), 1 for a scalar; ArithmeticException on overflow. */
    public long elementCount() {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** elementCount() * dtype.size(); ArithmeticException on overflow. */
    public long byteSize() {
        return Math.multiplyExact(elementCount(), (long) dtype.size());
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorSpec t && name.equals(t.name) && dtype == t.dtype && Arrays.equals(shape, t.shape);
    }

    @Override
    public int hashCode() {
        return (name.hashCode() * 31 + dtype.hashCode()) * 31 + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape);
    }
}
