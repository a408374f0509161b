package dev.manyone.formats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class TensorSpecTest {

    @Test
    void valueSemanticsOnShapeContents() {
        long[] shape = {3, 4};
        TensorSpec a = new TensorSpec("w", DType.BF16, shape);
        shape[0] = 99; // defensive copy
        TensorSpec b = new TensorSpec("w", DType.BF16, new long[] {3, 4});
        assertEquals(a, b);
        assertEquals(a.hashCode(), b.hashCode());
        assertNotEquals(a, new TensorSpec("w", DType.F16, new long[] {3, 4}));
        assertNotEquals(a, new TensorSpec("w", DType.BF16, new long[] {4, 3}));
        assertEquals(12, a.elementCount());
        assertEquals(24, a.byteSize());
        assertEquals(1, new TensorSpec("s", DType.F64, new long[] {}).elementCount());
        assertEquals(8, new TensorSpec("s", DType.F64, new long[] {}).byteSize());
        assertEquals("w BF16[3, 4]", a.toString());
    }

    @Test
    void rejectsNegativeAndOverflow() {
        assertThrows(IllegalArgumentException.class, () -> new TensorSpec("w", DType.F32, new long[] {-1}));
        TensorSpec huge = new TensorSpec("w", DType.F32, new long[] {1L << 31, 1L << 31});
        assertEquals(1L << 62, huge.elementCount());
        assertThrows(ArithmeticException.class, huge::byteSize);
        assertThrows(ArithmeticException.class, () -> new TensorSpec("w", DType.U8, new long[] {1L << 32, 1L << 32}).elementCount());
    }
}
