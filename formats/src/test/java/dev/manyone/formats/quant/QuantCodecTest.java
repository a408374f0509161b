package dev.manyone.formats.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.manyone.formats.Safetensors;
import dev.manyone.formats.TensorSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The codecs against the golden decode tables ({@code quant-codecs.safetensors}) bit for bit, and the encoders
 * against the tables: every code round-trips, midpoints go to the even code, their float neighbours to the nearer
 * code, values beyond the range saturate, and random values agree with a brute-force nearest search.
 */
class QuantCodecTest {

    private static float[] goldenTable(String name) {
        try (TensorSource src = Safetensors.open(QuantGolden.golden().resolve("quant-codecs.safetensors"))) {
            return src.readFloats(src.require(name));
        }
    }

    @Test
    void e4m3TableEqualsGoldenBitForBit() {
        float[] golden = goldenTable("e4m3fn_to_f32");
        float[] mine = E4M3.table();
        assertEquals(256, golden.length);
        for (int c = 0; c < 256; c++) {
            boolean nan = c == 0x7F || c == 0xFF;
            assertEquals(nan, Float.isNaN(golden[c]), "golden NaN positions, code " + c);
            assertEquals(nan, Float.isNaN(mine[c]), "code " + c);
            assertEquals(nan, E4M3.isNaN(c), "code " + c);
            if (!nan) {
                assertEquals(Float.floatToRawIntBits(golden[c]), Float.floatToRawIntBits(mine[c]), "code 0x" + Integer.toHexString(c));
            }
            assertEquals(Float.floatToRawIntBits(mine[c]), Float.floatToRawIntBits(E4M3.decode((byte) c)));
        }
        // the spec's landmarks, independent of both tables
        assertEquals(448f, E4M3.decode(0x7E));
        assertEquals(-448f, E4M3.decode(0xFE));
        assertEquals(0x1p-9f, E4M3.decode(0x01)); // smallest subnormal 1/8 · 2^-6
        assertEquals(0x1p-6f, E4M3.decode(0x08)); // smallest normal
        assertEquals(1f, E4M3.decode(0x38));
        assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(E4M3.decode(0x80)));
    }

    @Test
    void e2m1TableEqualsGoldenBitForBit() {
        float[] golden = goldenTable("e2m1_to_f32");
        float[] mine = E2M1.table();
        float[] magnitudes = {0f, 0.5f, 1f, 1.5f, 2f, 3f, 4f, 6f};
        for (int c = 0; c < 16; c++) {
            assertEquals(Float.floatToRawIntBits(golden[c]), Float.floatToRawIntBits(mine[c]), "code " + c);
            float expected = c < 8 ? magnitudes[c] : -magnitudes[c - 8];
            assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(E2M1.decode(c)), "code " + c);
        }
        assertEquals(0x21, E2M1.pack(1, 2) & 0xFF); // element 2j low nibble, 2j+1 high nibble
        assertEquals(1, E2M1.nibble(0x21, false));
        assertEquals(2, E2M1.nibble(0x21, true));
    }

    /** The golden table's finite non-negative values with their codes, increasing. */
    private record Point(double value, int code) {
    }

    private static List<Point> positives(float[] table, int codes) {
        List<Point> out = new ArrayList<>();
        for (int c = 0; c < codes; c++) {
            if (!Float.isNaN(table[c])) {
                out.add(new Point(table[c], c));
            }
        }
        for (int k = 1; k < out.size(); k++) {
            assertTrue(out.get(k).value > out.get(k - 1).value, "golden table increasing");
        }
        return out;
    }

    @Test
    void e4m3EncoderRoundTripsAndRoundsToNearestEven() {
        float[] golden = goldenTable("e4m3fn_to_f32");
        for (int c = 0; c < 256; c++) {
            if (c != 0x7F && c != 0xFF) {
                assertEquals(c, E4M3.encode(golden[c]), "round trip of code 0x" + Integer.toHexString(c));
            }
        }
        List<Point> p = positives(golden, 0x7F);
        assertEquals(127, p.size());
        for (int k = 0; k + 1 < p.size(); k++) {
            Point a = p.get(k);
            Point b = p.get(k + 1);
            float mid = (float) ((a.value + b.value) / 2);
            assertEquals((a.value + b.value) / 2, mid, 0.0, "midpoint exact in float");
            int even = (a.code & 1) == 0 ? a.code : b.code;
            assertEquals(even, E4M3.encode(mid), "midpoint " + mid);
            assertEquals(even | 0x80, E4M3.encode(-mid), "midpoint " + -mid);
            assertEquals(a.code, E4M3.encode(Math.nextDown(mid)));
            assertEquals(b.code, E4M3.encode(Math.nextUp(mid)));
            assertEquals(a.code | 0x80, E4M3.encode(-Math.nextDown(mid)));
        }
        assertEquals(0x7E, E4M3.encode(464f)); // would round to 480, which does not exist: saturates
        assertEquals(0x7E, E4M3.encode(1e30f));
        assertEquals(0x7E, E4M3.encode(Float.POSITIVE_INFINITY));
        assertEquals(0xFE, E4M3.encode(Float.NEGATIVE_INFINITY));
        assertEquals(0x7F, E4M3.encode(Float.NaN));
        assertEquals(0x00, E4M3.encode(0x1p-10f)); // half the smallest subnormal: tie, to the even zero
        assertEquals(0x80, E4M3.encode(-1e-30f));
    }

    @Test
    void e2m1EncoderRoundTripsAndRoundsToNearestEven() {
        float[] golden = goldenTable("e2m1_to_f32");
        for (int c = 0; c < 16; c++) {
            assertEquals(c, E2M1.encode(golden[c]), "round trip of code " + c);
        }
        List<Point> p = positives(golden, 8);
        for (int k = 0; k + 1 < p.size(); k++) {
            Point a = p.get(k);
            Point b = p.get(k + 1);
            float mid = (float) ((a.value + b.value) / 2);
            int even = (a.code & 1) == 0 ? a.code : b.code;
            assertEquals(even, E2M1.encode(mid), "midpoint " + mid);
            assertEquals(even | 8, E2M1.encode(-mid), "midpoint " + -mid);
            assertEquals(a.code, E2M1.encode(Math.nextDown(mid)));
            assertEquals(b.code, E2M1.encode(Math.nextUp(mid)));
        }
        assertEquals(7, E2M1.encode(7f)); // 6 and the missing 8 would tie at 7: saturates
        assertEquals(7, E2M1.encode(1e9f));
        assertEquals(15, E2M1.encode(Float.NEGATIVE_INFINITY));
        assertEquals(8, E2M1.encode(-0.1f));
        assertThrows(IllegalArgumentException.class, () -> E2M1.encode(Float.NaN));
    }

    /** Brute force: the nearest table value by scanning every code in double, ties to the even code, saturating. */
    private static int bruteForce(float[] table, int positiveCodes, int signBit, float x) {
        double a = Math.abs((double) x);
        int best = -1;
        double bestDistance = Double.POSITIVE_INFINITY;
        for (int c = 0; c < positiveCodes; c++) {
            if (Float.isNaN(table[c])) {
                continue;
            }
            double d = Math.abs(table[c] - a);
            if (d < bestDistance || (d == bestDistance && (c & 1) == 0)) {
                best = c;
                bestDistance = d;
            }
        }
        double max = table[positiveCodes - 1 - (Float.isNaN(table[positiveCodes - 1]) ? 1 : 0)];
        if (a >= max) {
            best = positiveCodes - 1 - (Float.isNaN(table[positiveCodes - 1]) ? 1 : 0);
        }
        return (Float.floatToRawIntBits(x) < 0 ? signBit : 0) | best;
    }

    @Test
    void randomValuesAgreeWithBruteForce() {
        float[] e4m3 = goldenTable("e4m3fn_to_f32");
        float[] e2m1 = goldenTable("e2m1_to_f32");
        Random rnd = new Random(20261207);
        for (int i = 0; i < 20_000; i++) {
            // magnitudes from 2^-12 to 2^10, so subnormals, normals and saturation all occur
            float x = (float) ((rnd.nextBoolean() ? 1 : -1) * Math.scalb(1 + rnd.nextDouble(), rnd.nextInt(23) - 12));
            assertEquals(bruteForce(e4m3, 0x80, 0x80, x), E4M3.encode(x), "e4m3 " + x);
            float y = x / 64f;
            assertEquals(bruteForce(e2m1, 8, 8, y), E2M1.encode(y), "e2m1 " + y);
        }
    }
}
