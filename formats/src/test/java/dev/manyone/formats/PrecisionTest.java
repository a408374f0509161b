package dev.manyone.formats;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import java.util.function.IntFunction;
import org.junit.jupiter.api.Test;

class PrecisionTest {

    @Test
    void everyBf16PatternRoundTrips() {
        for (int h = 0; h < 65536; h++) {
            float f = Precision.bf16ToFloat((short) h);
            assertEquals(h << 16, Float.floatToRawIntBits(f));
            short back = Precision.floatToBf16(f);
            if (Float.isNaN(f)) {
                assertTrue(Float.isNaN(Precision.bf16ToFloat(back)), Integer.toHexString(h));
            } else {
                assertEquals((short) h, back, Integer.toHexString(h));
            }
        }
    }

    @Test
    void everyF16PatternRoundTrips() {
        float previous = Float.NEGATIVE_INFINITY;
        for (int h = 0; h < 65536; h++) {
            float f = Precision.f16ToFloat((short) h);
            short back = Precision.floatToF16(f);
            boolean nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0;
            assertEquals(nan, Float.isNaN(f), Integer.toHexString(h));
            if (nan) {
                assertEquals((short) (h | 0x200), back, "NaN keeps sign and payload, gains the quiet bit");
            } else {
                assertEquals((short) h, back, Integer.toHexString(h));
            }
            if (h > 0 && h <= 0x7c00) {
                assertTrue(f > previous, "positive patterns are increasing at " + Integer.toHexString(h));
            }
            previous = f;
        }
    }

    @Test
    void knownValues() {
        assertEquals((short) 0x3f80, Precision.floatToBf16(1f));
        assertEquals((short) 0x3f80, Precision.floatToBf16(Float.intBitsToFloat(0x3f808000)), "tie to even (down)");
        assertEquals((short) 0x3f82, Precision.floatToBf16(Float.intBitsToFloat(0x3f818000)), "tie to even (up)");
        assertEquals((short) 0x3f81, Precision.floatToBf16(Float.intBitsToFloat(0x3f808001)));
        assertEquals((short) 0x7f80, Precision.floatToBf16(Float.MAX_VALUE), "overflow to infinity");
        assertEquals((short) 0x8000, Precision.floatToBf16(-0f));
        assertTrue(Float.isNaN(Precision.bf16ToFloat(Precision.floatToBf16(Float.NaN))));
        assertTrue(Float.isNaN(Precision.bf16ToFloat(Precision.floatToBf16(Float.intBitsToFloat(0x7f800001)))), "low-payload NaN stays NaN");
        assertEquals(-2.5f, Precision.bf16ToFloat((short) 0xc020));

        assertEquals(1f, Precision.f16ToFloat((short) 0x3c00));
        assertEquals(65504f, Precision.f16ToFloat((short) 0x7bff));
        assertEquals(0x1p-24f, Precision.f16ToFloat((short) 0x0001));
        assertEquals(0x1p-14f, Precision.f16ToFloat((short) 0x0400));
        assertEquals(-2f, Precision.f16ToFloat((short) 0xc000));
        assertEquals(Float.POSITIVE_INFINITY, Precision.f16ToFloat((short) 0x7c00));
        assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(Precision.f16ToFloat((short) 0x8000)));
        assertEquals((short) 0x7bff, Precision.floatToF16(65519f));
        assertEquals((short) 0x7c00, Precision.floatToF16(65520f), "tie past the largest finite goes to infinity");
        assertEquals((short) 0xfc00, Precision.floatToF16(-1e6f));
        assertEquals((short) 0x0000, Precision.floatToF16(0x1p-25f), "tie to even zero");
        assertEquals((short) 0x0001, Precision.floatToF16(Math.nextUp(0x1p-25f)));
        assertEquals((short) 0x0002, Precision.floatToF16(1.5f * 0x1p-24f));
        assertEquals((short) 0x0002, Precision.floatToF16(2.5f * 0x1p-24f));
        assertEquals((short) 0x0400, Precision.floatToF16(Math.nextDown(0x1p-14f)), "rounds up into the normals");
        assertEquals((short) 0x3c00, Precision.floatToF16(1f + 0x1p-11f), "tie to even (down)");
        assertEquals((short) 0x3c02, Precision.floatToF16(1f + 3 * 0x1p-11f), "tie to even (up)");
        assertEquals((short) 0x3555, Precision.floatToF16(1f / 3));
    }

    /** Round-to-nearest-even by exact arithmetic: {@code decode} maps the positive patterns 0..inf to values, in order. */
    private static int reference(float f, int infPattern, IntFunction<BigDecimal> decode) {
        BigDecimal x = new BigDecimal(Math.abs(f));
        int lo = 0;
        int hi = infPattern; // decode(infPattern) is the first value past the largest finite one
        if (x.compareTo(decode.apply(hi)) >= 0) {
            return infPattern;
        }
        while (hi - lo > 1) {
            int mid = (lo + hi) >>> 1;
            if (decode.apply(mid).compareTo(x) <= 0) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        int c = x.subtract(decode.apply(lo)).compareTo(decode.apply(hi).subtract(x));
        return c < 0 || (c == 0 && (lo & 1) == 0) ? lo : hi;
    }

    @Test
    void narrowingMatchesExactReference() {
        IntFunction<BigDecimal> f16 = p -> p == 0x7c00 ? new BigDecimal(65536) : new BigDecimal(Precision.f16ToFloat((short) p));
        IntFunction<BigDecimal> bf16 = p -> p == 0x7f80 ? new BigDecimal(Math.scalb(1.0, 128)) : new BigDecimal(Precision.bf16ToFloat((short) p));
        Random random = new Random(42);
        for (int i = 0; i < 200_000; i++) {
            float f = i % 2 == 0
                    ? Float.intBitsToFloat(random.nextInt())                               // any float
                    : Float.intBitsToFloat(0x33000000 + random.nextInt(0x47800000 - 0x33000000)); // f16 range
            if (Float.isNaN(f)) {
                continue;
            }
            int sign = f < 0 || Float.floatToRawIntBits(f) == 0x80000000 ? 0x8000 : 0;
            assertEquals((short) (sign | reference(f, 0x7c00, f16)), Precision.floatToF16(f), "f16 of " + f);
            assertEquals((short) (sign | reference(f, 0x7f80, bf16)), Precision.floatToBf16(f), "bf16 of " + f);
        }
    }

    @Test
    void bulkConversionIsLittleEndianAndAdvances() {
        float[] values = {0f, -1.5f, 3.140625f, 65504f, 1e-3f, -7f};
        for (DType t : new DType[] {DType.F32, DType.F64, DType.F16, DType.BF16}) {
            ByteBuffer buf = ByteBuffer.allocate(4 + values.length * t.size()).order(ByteOrder.BIG_ENDIAN);
            buf.position(4);
            Precision.fromFloats(values, 1, 5, t, buf);
            assertEquals(4 + 5 * t.size(), buf.position());
            assertEquals(ByteOrder.BIG_ENDIAN, buf.order());
            ByteBuffer le = buf.duplicate().order(ByteOrder.LITTLE_ENDIAN);
            switch (t) {
                case F32 -> assertEquals(-1.5f, le.getFloat(4));
                case F64 -> assertEquals(-1.5, le.getDouble(4));
                case F16 -> assertEquals((short) 0xbe00, le.getShort(4));
                case BF16 -> assertEquals((short) 0xbfc0, le.getShort(4));
                default -> throw new AssertionError();
            }
            float[] back = new float[7];
            buf.position(4);
            Precision.toFloats(buf, t, back, 2, 5);
            assertEquals(4 + 5 * t.size(), buf.position());
            float[] expected = new float[7];
            for (int i = 0; i < 5; i++) {
                float v = values[1 + i];
                expected[2 + i] = switch (t) {
                    case F16 -> Precision.f16ToFloat(Precision.floatToF16(v));
                    case BF16 -> Precision.bf16ToFloat(Precision.floatToBf16(v));
                    default -> v;
                };
            }
            assertArrayEquals(expected, back, t.toString());
        }
        assertThrows(IllegalArgumentException.class, () -> Precision.toFloats(ByteBuffer.allocate(8), DType.I32, new float[2], 0, 2));
        assertThrows(IllegalArgumentException.class, () -> Precision.toFloats(ByteBuffer.allocate(6), DType.F32, new float[2], 0, 2));
    }
}
