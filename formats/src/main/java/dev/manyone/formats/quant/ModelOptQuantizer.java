package dev.manyone.formats.quant;

import java.util.Objects;

/**
 * ModelOpt's weight quantization recipe, in float32 arithmetic as in its PyTorch code (golden README, "How the
 * weights were quantized"):
 * <blockquote>Every encoding rounds to nearest, ties to even, and saturates at 448 (E4M3) or 6 (E2M1).
 * <ul>
 * <li>FP8: {@code weight_scale = amax|W| / 448}, and the codes are {@code e4m3(W / weight_scale)}.</li>
 * <li>NVFP4: {@code weight_scale_2 = amax|W| / 2688} (6 · 448); each block scale is
 * {@code e4m3(amax|block| / (6 · weight_scale_2))} (a block of zeros would get 1.0); the codes are
 * {@code e2m1(W / (e4m3(block scale) · weight_scale_2))}, with the product rounded to float32 first.</li>
 * </ul></blockquote>
 * Every quotient and product below is a float operation (rounded to float32). Not specified by the README, and
 * chosen here: an all-zero tensor gets scale 1.0 (as a zero block does), so its codes are zeros. Used to re-quantize
 * and to prove the codecs against stored checkpoints.
 */
public final class ModelOptQuantizer {
    private ModelOptQuantizer() {
    }

    /** FP8 weight: codes [out, in] row-major and the per-tensor {@code weight_scale}. */
    public record Fp8(byte[] codes, float weightScale) {
    }

    /** NVFP4 weight: packed codes [out, in/2], block scales [out, in/16] (E4M3 codes) and {@code weight_scale_2}. */
    public record Nvfp4(byte[] packed, byte[] blockScales, float weightScale2) {
    }

    /** Quantizes {@code w} (any shape, row-major) to FP8. */
    public static Fp8 fp8(float[] w) {
        float amax = amax(w, 0, w.length);
        float scale = amax / 448f;
        if (scale == 0f) {
            scale = 1f;
        }
        byte[] codes = new byte[w.length];
        for (int k = 0; k < w.length; k++) {
            codes[k] = (byte) E4M3.encode(w[k] / scale);
        }
        return new Fp8(codes, scale);
    }

    /** Quantizes the [out, in] weight {@code w} (row-major, in a multiple of 16) to NVFP4. */
    public static Nvfp4 nvfp4(float[] w, int out, int in) {
        Objects.requireNonNull(w);
        if (in % QuantAlgo.NVFP4_GROUP != 0 || Math.multiplyExact(out, in) != w.length) {
            throw new IllegalArgumentException("expected [" + out + ", " + in + "] with in a multiple of 16, got "
                    + w.length + " values");
        }
        int blocks = in / QuantAlgo.NVFP4_GROUP;
        float scale2 = amax(w, 0, w.length) / 2688f;
        if (scale2 == 0f) {
            scale2 = 1f;
        }
        float sixScale2 = 6f * scale2;
        byte[] packed = new byte[w.length / 2];
        byte[] scales = new byte[Math.multiplyExact(out, blocks)];
        for (int r = 0; r < out; r++) {
            for (int b = 0; b < blocks; b++) {
                int start = r * in + b * QuantAlgo.NVFP4_GROUP;
                float blockScale = amax(w, start, QuantAlgo.NVFP4_GROUP) / sixScale2;
                if (blockScale == 0f) {
                    blockScale = 1f;
                }
                int scaleCode = E4M3.encode(blockScale);
                scales[r * blocks + b] = (byte) scaleCode;
                float divisor = E4M3.decode(scaleCode) * scale2; // float product: rounded to float32 first
                for (int j = 0; j < QuantAlgo.NVFP4_GROUP; j += 2) {
                    int low = E2M1.encode(w[start + j] / divisor);
                    int high = E2M1.encode(w[start + j + 1] / divisor);
                    packed[start / 2 + j / 2] = E2M1.pack(low, high);
                }
            }
        }
        return new Nvfp4(packed, scales, scale2);
    }

    private static float amax(float[] w, int from, int count) {
        float m = 0f;
        for (int k = from; k < from + count; k++) {
            float a = Math.abs(w[k]);
            if (Float.isNaN(a)) {
                throw new IllegalArgumentException("cannot quantize NaN (element " + k + ")");
            }
            m = Math.max(m, a);
        }
        return m;
    }
}
