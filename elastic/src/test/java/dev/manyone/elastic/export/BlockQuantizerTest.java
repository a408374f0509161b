package dev.manyone.elastic.export;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The quantizer against the rules it quotes (MLAS symmetric blockwise quantization, contrib-op packing). */
class BlockQuantizerTest {

    private static byte[] pack(BlockQuantizer q, float[] row, float[] scales) {
        byte[] out = new byte[(int) q.paddedRowBytes(row.length)];
        q.scales(row, row.length, scales, 0);
        q.pack(row, row.length, scales, 0, out, 0);
        return out;
    }

    @Test
    void negativeExtremeMapsToCodeZeroAndNibblesAreLowFirst() {
        BlockQuantizer q = new BlockQuantizer(4, 16);
        float[] row = new float[16];
        row[0] = -1.0f;      // the largest magnitude: scale = -1 / -8 = 0.125
        row[1] = 0.25f;      // 2 steps → code 10
        row[2] = 0.0625f;    // half a step, rounded away from zero → code 9
        row[3] = -0.0625f;   // → code 7
        row[4] = 0.875f;     // 7 steps → code 15
        float[] scales = new float[1];
        byte[] b = pack(q, row, scales);
        assertEquals(0.125f, scales[0]);
        assertEquals(0xA0, b[0] & 0xFF, "element 0 (code 0) in the low nibble, element 1 (code 10) in the high one");
        assertEquals(0x79, b[1] & 0xFF, "element 2 (code 9) low, element 3 (code 7) high");
        assertEquals(0x8F, b[2] & 0xFF, "element 4 (code 15) low, element 5 (zero, code 8) high");
        assertEquals(-1.0f, q.dequantize(b, 0, scales, 0, 0));
        assertEquals(0.875f, q.dequantize(b, 0, scales, 0, 4));
    }

    @Test
    void positiveExtremeGivesANegativeScale() {
        BlockQuantizer q = new BlockQuantizer(8, 16);
        float[] row = new float[16];
        row[0] = 2.0f;     // scale = 2 / -128 = -1/64; 2.0 → code 0
        row[1] = -1.0f;    // 64 steps up → code 192
        row[2] = 1.0f;     // → code 64
        float[] scales = new float[1];
        byte[] b = pack(q, row, scales);
        assertEquals(-1.0f / 64, scales[0]);
        assertEquals(0, b[0] & 0xFF);
        assertEquals(192, b[1] & 0xFF);
        assertEquals(64, b[2] & 0xFF);
        assertEquals(128, b[3] & 0xFF, "zero is the zero point 2^(bits-1)");
    }

    @Test
    void aTieGoesToTheNegativeExtremeAndThePositiveOneSaturates() {
        BlockQuantizer q = new BlockQuantizer(8, 16);
        float[] row = new float[16];
        row[0] = 2.0f;     // |max| == |min|: "fabsf(max) > fabsf(min) ? max : min" takes min, scale = -2 / -128
        row[1] = -2.0f;
        float[] scales = new float[1];
        byte[] b = pack(q, row, scales);
        assertEquals(1.0f / 64, scales[0]);
        assertEquals(255, b[0] & 0xFF, "128 steps up is clamped to 255");
        assertEquals(0, b[1] & 0xFF);
    }

    @Test
    void zeroBlockAndPadding() {
        BlockQuantizer q = new BlockQuantizer(4, 32);
        float[] row = new float[40];  // block 0: zeros; block 1: 8 values then 24 padding elements
        row[35] = 3.0f;
        float[] scales = new float[2];
        byte[] b = pack(q, row, scales);
        assertEquals(32, b.length, "2 blocks × 16 bytes");
        assertEquals(0, scales[0], 0.0, "a block of zeros has scale 0");
        for (int j = 0; j < 16; j++) {
            assertEquals(0x88, b[j] & 0xFF, "a zero block is all zero points");
        }
        assertEquals(3.0f, q.dequantize(b, 0, scales, 0, 35));
        for (int j = 40; j < 64; j++) {
            assertEquals(8, q.code(b, 0, j), "padding is the zero point");
        }
        assertEquals(20, q.rowBytes(40), "GatherBlockQuantized rows are not padded");
    }

    @Test
    void roundToNearestErrorIsAtMostHalfAStep() {
        SplittableRandom r = new SplittableRandom(7);
        for (int bits : new int[] {4, 8}) {
            BlockQuantizer q = new BlockQuantizer(bits, 32);
            float[] row = new float[256];
            for (int j = 0; j < row.length; j++) {
                row[j] = (float) r.nextGaussian();
            }
            float[] scales = new float[8];
            byte[] b = pack(q, row, scales);
            for (int j = 0; j < row.length; j++) {
                float step = Math.abs(scales[j / 32]);
                float err = Math.abs(q.dequantize(b, 0, scales, 0, j) - row[j]);
                // the one-sided range [-2^(bits-1), 2^(bits-1) - 1] clamps the opposite extreme by at most one step
                assertTrue(err <= step * 0.5f * (1 + 1e-6f) || err <= step * (1 + 1e-6f) && Math.abs(row[j])
                        > (Math.pow(2, bits - 1) - 1) * step, bits + "-bit element " + j + ": error " + err + ", step " + step);
            }
        }
    }

    @Test
    void roundsHalvesAwayFromZero() {
        assertEquals(1, BlockQuantizer.roundHalfAway(0.5f));
        assertEquals(-1, BlockQuantizer.roundHalfAway(-0.5f));
        assertEquals(0, BlockQuantizer.roundHalfAway(0.49999997f));
        assertEquals(2, BlockQuantizer.roundHalfAway(1.5f));
        assertEquals(3, BlockQuantizer.roundHalfAway(2.5f));
    }

    @Test
    void aRowShorterThanTheBlockGetsTheSmallestBlockHoldingIt() {
        ExportOptions.Quantization d = new ExportOptions(ExportOptions.Mamba.CONTRIB, ExportOptions.Weights.INT4).quantization();
        assertEquals(128, d.blockSize());
        assertEquals(256, new ExportOptions(ExportOptions.Mamba.CONTRIB, ExportOptions.Weights.INT8).quantization().blockSize());
        assertEquals(128, d.blockSize(2048));
        assertEquals(128, d.blockSize(1856));
        assertEquals(128, d.blockSize(128));
        assertEquals(128, d.blockSize(65));
        assertEquals(64, d.blockSize(64));
        assertEquals(64, d.blockSize(48));
        assertEquals(16, d.blockSize(10));
        ExportOptions.Quantization b32 = new ExportOptions.Quantization(32, 4, 8, 0);
        assertEquals(32, b32.blockSize(64));
        assertEquals(16, b32.blockSize(16));
        // the same largest element, so the same scale and codes: only the padding differs
        float[] row = new float[48];
        SplittableRandom r = new SplittableRandom(5);
        for (int j = 0; j < row.length; j++) {
            row[j] = (float) r.nextGaussian();
        }
        for (int bits : new int[] {4, 8}) {
            BlockQuantizer small = new BlockQuantizer(bits, 64);
            BlockQuantizer big = new BlockQuantizer(bits, 128);
            float[] s1 = new float[1];
            float[] s2 = new float[1];
            byte[] p1 = pack(small, row, s1);
            byte[] p2 = pack(big, row, s2);
            assertEquals(s2[0], s1[0]);
            assertEquals(2 * p1.length, p2.length);
            for (int j = 0; j < row.length; j++) {
                assertEquals(big.dequantize(p2, 0, s2, 0, j), small.dequantize(p1, 0, s1, 0, j), bits + "-bit element " + j);
            }
        }
    }

    @Test
    void refusesUnsupportedShapes() {
        assertThrows(IllegalArgumentException.class, () -> new BlockQuantizer(3, 32));
        assertThrows(IllegalArgumentException.class, () -> new BlockQuantizer(4, 48));
        assertThrows(IllegalArgumentException.class, () -> new BlockQuantizer(8, 8));
    }
}
