package dev.manyone.formats.quant;

import java.util.Objects;

/**
 * Dequantization of ModelOpt weights to float, on plain arrays of stored bytes, one block of rows at a time (golden
 * README, "Formats"):
 * <blockquote>FP8: {@code W = e4m3(weight) · weight_scale}; NVFP4: {@code W[o, i] = e2m1(code[o, i]) ·
 * e4m3(weight_scale[o, i // 16]) · weight_scale_2}. Both products are exact in float64. In fp32 they round (relative
 * error about 1e-7 per weight), which moves logits by about 1.5e-6.</blockquote>
 * So every product is formed in double (E2M1 has 2 significant bits, E4M3 4, the F32 scale 24: at most 30 of
 * double's 53) and rounded to float once. NaN codes (E4M3 0x7F, 0xFF) give NaN; {@link QuantizedLinear} refuses
 * them in a checkpoint.
 */
public final class Dequantize {
    private Dequantize() {
    }

    /**
     * FP8: {@code out[outOff + k] = (float) (e4m3(codes[codesOff + k]) · weightScale)} for k &lt; count. Rows are
     * contiguous, so any whole-row block of a [out, in] weight is {@code count = rows · in} codes.
     */
    public static void fp8(byte[] codes, int codesOff, int count, float weightScale, float[] out, int outOff) {
        Objects.checkFromIndexSize(codesOff, count, codes.length);
        Objects.checkFromIndexSize(outOff, count, out.length);
        double scale = weightScale;
        for (int k = 0; k < count; k++) {
            out[outOff + k] = (float) (E4M3.decode(codes[codesOff + k]) * scale);
        }
    }

    /**
     * NVFP4, {@code rows} whole rows of a weight with {@code in} logical input columns (a multiple of 16): the packed
     * codes are {@code rows · in/2} bytes from {@code packedOff} (row-major; element 2j in the low nibble of byte j,
     * 2j+1 in the high nibble), the block scales {@code rows · in/16} E4M3 bytes from {@code scalesOff}, and the
     * result {@code rows · in} floats from {@code outOff}.
     */
    public static void nvfp4(byte[] packed, int packedOff, byte[] blockScales, int scalesOff, float weightScale2,
                             int rows, int in, float[] out, int outOff) {
        if (in % QuantAlgo.NVFP4_GROUP != 0 || rows < 0 || in < 0) {
            throw new IllegalArgumentException("NVFP4 needs whole blocks of 16 input columns, got " + rows + " rows of " + in);
        }
        int blocks = in / QuantAlgo.NVFP4_GROUP;
        Objects.checkFromIndexSize(packedOff, Math.multiplyExact(rows, in / 2), packed.length);
        Objects.checkFromIndexSize(scalesOff, Math.multiplyExact(rows, blocks), blockScales.length);
        Objects.checkFromIndexSize(outOff, Math.multiplyExact(rows, in), out.length);
        double scale2 = weightScale2;
        int p = packedOff;
        int o = outOff;
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < blocks; b++) {
                double factor = E4M3.decode(blockScales[scalesOff + r * blocks + b]) * scale2; // exact: 4 + 24 bits
                for (int j = 0; j < QuantAlgo.NVFP4_GROUP / 2; j++) {
                    int v = packed[p++];
                    out[o++] = (float) (E2M1.decode(v) * factor);
                    out[o++] = (float) (E2M1.decode(v >>> 4) * factor);
                }
            }
        }
    }
}
