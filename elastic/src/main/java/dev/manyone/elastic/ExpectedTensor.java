package dev.manyone.elastic;

import java.util.Arrays;

/**
 * A tensor that a Nemotron-H checkpoint must contain, with its shape and the symbolic shape rule it comes from.
 *
 * @param name     canonical name (see {@link TensorNames})
 * @param shape    dimensions, outermost first; copied, never mutated
 * @param shapeDoc the rule, e.g. {@code [2*d_inner + 2*G*N + heads, hidden]}
 */
public record ExpectedTensor(String name, long[] shape, String shapeDoc) {

    public ExpectedTensor {
        if (name == null || shape == null || shapeDoc == null) {
            throw new IllegalArgumentException("name, shape and shapeDoc are required");
        }
        shape = shape.clone();
        for (long d : shape) {
            if (d <= 0) {
                throw new IllegalArgumentException(name + ": every dimension must be positive, got " + Arrays.toString(shape));
            }
        }
    }

    /** A copy of the shape. */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** product(shape). */
    public long elementCount() {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** True if {@code other} has exactly this shape. */
    public boolean hasShape(long[] other) {
        return Arrays.equals(shape, other);
    }

    /** e.g. {@code [64, 328]}. */
    public String shapeString() {
        return Arrays.toString(shape);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ExpectedTensor t && name.equals(t.name) && Arrays.equals(shape, t.shape)
                && shapeDoc.equals(t.shapeDoc);
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + " " + shapeString() + " " + shapeDoc;
    }
}
