package dev.manyone.formats;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * One tensor of a safetensors file as its header describes it.
 *
 * @param name      the tensor name, e.g. {@code backbone.layers.0.mixer.in_proj.weight}
 * @param dtype     element type
 * @param shape     dimensions, outermost first (row-major); a scalar has length 0. Do not mutate.
 * @param file      the shard that holds the bytes
 * @param offset    absolute byte offset of the first element in {@code file} (header already added)
 * @param byteSize  number of bytes: product(shape) * dtype.size()
 */
public record TensorInfo(String name, DType dtype, long[] shape, Path file, long offset, long byteSize) {

    /** product(shape); 1 for a scalar. */
    public long elementCount() {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    public int rank() {
        return shape.length;
    }

    public long dim(int i) {
        return shape[i];
    }

    public String shapeString() {
        return Arrays.toString(shape);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && name.equals(t.name) && dtype == t.dtype && Arrays.equals(shape, t.shape)
                && file.equals(t.file) && offset == t.offset && byteSize == t.byteSize;
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + " " + dtype + shapeString();
    }
}
