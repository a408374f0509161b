package dev.manyone.elastic.slice;

import java.util.Arrays;

/**
 * One child tensor: which rows (leading dimension) and, for matrices, which columns of a parent tensor it keeps.
 * A "row" is everything behind the leading index: a matrix row, a conv1d filter {@code [1, K]}, one element of a
 * vector. Stored bits are copied as they are; no value changes.
 *
 * @param name       the child tensor name (layers renumbered)
 * @param parentName the parent tensor it is cut from
 * @param shape      the child shape
 * @param rows       kept leading indices, ascending, or null for all
 * @param cols       kept column indices of a matrix, ascending, or null for all
 */
public record TensorSlice(String name, String parentName, long[] shape, int[] rows, int[] cols) {

    /** True if the child tensor is the parent tensor unchanged (only renamed, perhaps). */
    public boolean whole() {
        return rows == null && cols == null;
    }

    public long elementCount() {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorSlice t && name.equals(t.name) && parentName.equals(t.parentName)
                && Arrays.equals(shape, t.shape) && Arrays.equals(rows, t.rows) && Arrays.equals(cols, t.cols);
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + " <- " + parentName + Arrays.toString(shape);
    }
}
