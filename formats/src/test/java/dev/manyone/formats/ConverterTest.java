package dev.manyone.formats;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The table-driven bulk conversions give exactly the bytes of the scalar path (toFloats, then fromFloats). */
class ConverterTest {
    /** Every 16-bit pattern once, little-endian. */
    private static ByteBuffer all16() {
        ByteBuffer b = ByteBuffer.allocateDirect(2 << 16).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 1 << 16; i++) {
            b.putShort((short) i);
        }
        return b.flip();
    }

    private static ByteBuffer random32(int n) {
        SplittableRandom r = new SplittableRandom(11);
        ByteBuffer b = ByteBuffer.allocateDirect(4 * n).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            b.putInt(r.nextInt());
        }
        return b.flip();
    }

    private static byte[] scalar(ByteBuffer src, DType from, int count, DType to) {
        float[] f = new float[count];
        Precision.toFloats(src.duplicate(), from, f, 0, count);
        ByteBuffer out = ByteBuffer.allocate(count * to.size());
        Precision.fromFloats(f, 0, count, to, out);
        return out.array();
    }

    private static byte[] bulk(Converter c, ByteBuffer src, DType from, int count, DType to) {
        ByteBuffer in = src.duplicate();
        ByteBuffer out = ByteBuffer.allocateDirect(count * to.size() + 3).order(ByteOrder.BIG_ENDIAN); // order ignored
        out.position(3);
        c.convert(in, from, count, to, out);
        assertEquals(count * from.size(), in.position() - src.position(), "source position advanced");
        assertEquals(3 + count * to.size(), out.position(), "target position advanced");
        byte[] bytes = new byte[count * to.size()];
        out.get(3, bytes);
        return bytes;
    }

    @Test
    void everySixteenBitPatternMatchesTheScalarPath() {
        Converter c = new Converter(1 << 16);
        ByteBuffer src = all16();
        for (DType from : new DType[] {DType.BF16, DType.F16}) {
            for (DType to : new DType[] {DType.F16, DType.BF16, DType.F32, DType.F64}) {
                int n = 1 << 16;
                byte[] expected = from == to ? bytes(src) : scalar(src, from, n, to);
                assertArrayEquals(expected, bulk(c, src, from, n, to), from + " → " + to);
            }
        }
    }

    @Test
    void thirtyTwoBitSourcesMatchTheScalarPath() {
        Converter c = new Converter(100_000);
        ByteBuffer src = random32(100_000);
        for (DType to : new DType[] {DType.F16, DType.BF16, DType.F32}) {
            byte[] expected = to == DType.F32 ? bytes(src) : scalar(src, DType.F32, 100_000, to);
            assertArrayEquals(expected, bulk(c, src, DType.F32, 100_000, to), "F32 → " + to);
        }
    }

    @Test
    void writeConvertsEverythingInChunks() throws Exception {
        Converter c = new Converter(1000); // 65,536 elements: 66 chunks, the last one partial
        ByteBuffer src = all16();
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        c.write(src.duplicate(), DType.BF16, DType.F16, java.nio.channels.Channels.newChannel(out));
        assertArrayEquals(scalar(src, DType.BF16, 1 << 16, DType.F16), out.toByteArray());
    }

    @Test
    void refusesMoreThanItHoldsOrTheBuffersHave() {
        Converter c = new Converter(4);
        assertThrows(IllegalArgumentException.class, () -> c.convert(ByteBuffer.allocate(10), DType.BF16, 5, DType.F16, ByteBuffer.allocate(10)));
        assertThrows(IllegalArgumentException.class, () -> c.convert(ByteBuffer.allocate(8), DType.BF16, 4, DType.F32, ByteBuffer.allocate(15)));
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] a = new byte[b.remaining()];
        b.duplicate().get(a);
        return a;
    }
}
