package dev.manyone.elastic.export;

import dev.manyone.elastic.TensorNames;
import dev.manyone.formats.FormatException;

import java.util.Locale;

/**
 * How a Nemotron-H model is written to ONNX.
 *
 * @param mamba     CONTRIB: ONNX Runtime's com.microsoft {@code CausalConvWithState} + {@code LinearAttention}
 *                  (update_rule "gated"), which have CPU kernels in onnxruntime 1.29; PORTABLE: standard ONNX ops only
 *                  (depthwise {@code Conv} and a {@code Scan} over time) for runtimes without those ops
 * @param weights   FP32; FP16 (weights stored in half precision and cast to fp32 inside the graph: half the
 *                  file size, but no faster: computation stays fp32 because ONNX Runtime's CPU LinearAttention is
 *                  fp32-only, and each call reads the fp16 weight and the fp32 copy it casts it to); INT8 or INT4
 *                  (linear layers as com.microsoft {@code MatMulNBits}, embeddings as {@code GatherBlockQuantized},
 *                  block-quantized by {@link BlockQuantizer} with the {@code quantization} settings: fewer bytes on
 *                  disk, in memory and per decode step)
 * @param probes    also output the activations importance estimation reads ({@link Probes})
 * @param attention STANDARD: ONNX {@code Attention} (opset 23, is_causal); GQA: com.microsoft
 *                  {@code GroupQueryAttention} (no rotary). Both keep the KV cache in [batch, kv_heads, seq, head_dim].
 * @param quantization the INT8/INT4 settings ({@link Quantization#DEFAULT} when null; a block size of 0 becomes the
 *                     dtype's, {@link Quantization#defaultBlockSize}); must be null for FP32/FP16
 */
public record ExportOptions(Mamba mamba, Weights weights, boolean probes, Attention attention,
                            Quantization quantization) {

    public enum Mamba { CONTRIB, PORTABLE }

    public enum Weights {
        FP32, FP16, INT8, INT4;

        /** Bits of a quantized type; 0 for the float types. */
        public int bits() {
            return this == INT8 ? 8 : this == INT4 ? 4 : 0;
        }

        public boolean quantized() {
            return bits() > 0;
        }
    }

    public enum Attention { STANDARD, GQA }

    public static final ExportOptions DEFAULT = new ExportOptions(Mamba.CONTRIB, Weights.FP32);

    public ExportOptions {
        if (quantization == null && weights.quantized()) {
            quantization = Quantization.DEFAULT;
        }
        if (quantization == null) {
            // fp32 / fp16
        } else if (!weights.quantized()) {
            throw new FormatException(null, "quantization settings (--block-size, --accuracy-level, --lm-head-bits, "
                    + "--mamba-proj-bits) apply to --dtype int8 or int4, found --dtype " + weights.name().toLowerCase(Locale.ROOT));
        } else {
            if (quantization.blockSize() == 0) {
                quantization = new Quantization(Quantization.defaultBlockSize(weights), quantization.accuracyLevel(),
                        quantization.lmHeadBits(), quantization.mambaProjBits());
            }
            quantization.check(weights);
        }
    }

    public ExportOptions(Mamba mamba, Weights weights, boolean probes, Attention attention) {
        this(mamba, weights, probes, attention, null);
    }

    public ExportOptions(Mamba mamba, Weights weights) {
        this(mamba, weights, false, Attention.STANDARD);
    }

    public ExportOptions withProbes() {
        return new ExportOptions(mamba, weights, true, attention, quantization);
    }

    public ExportOptions withAttention(Attention a) {
        return new ExportOptions(mamba, weights, probes, a, quantization);
    }

    /** These options with {@code q} as the quantization settings (weights must be INT8 or INT4). */
    public ExportOptions withQuantization(Quantization q) {
        return new ExportOptions(mamba, weights, probes, attention, q);
    }

    /**
     * Settings of an INT8/INT4 export.
     *
     * @param blockSize     elements of K (a row of a [out, in] weight) sharing one scale: 16, 32, 64, 128 or 256, the
     *                      block lengths of ONNX Runtime's packed MatMulNBits CPU kernels (MLAS
     *                      {@code MlasIsQNBitGemmAvailable}); other powers of two would run the unpacked fallback.
     *                      0 = the dtype's default, {@link #defaultBlockSize}
     * @param accuracyLevel MatMulNBits {@code accuracy_level}: 4 (default) quantizes activations to int8 per block
     *                      and uses the int8 dot-product kernel ("input int8, accumulator int32"); 1 keeps fp32
     *                      activations ("input fp32, accumulator fp32"), offered for int4 only because ONNX Runtime
     *                      1.29 has no packed fp32-activation kernel for 8-bit weights and would dequantize every
     *                      weight on every call
     * @param lmHeadBits    bits of lm_head and of the embeddings (the vocabulary tables): 8 by default, so an INT4
     *                      export keeps its most sensitive layer at 8 bits; 4 to quantize them like the rest
     * @param mambaProjBits bits of every Mamba in_proj and out_proj: 0 (default) = the export's bits; 8 keeps them at
     *                      8 bits in an INT4 export
     */
    public record Quantization(int blockSize, int accuracyLevel, int lmHeadBits, int mambaProjBits) {
        /** The default block of INT4 exports. */
        public static final int DEFAULT_BLOCK_SIZE_INT4 = 128;
        /** The default block of INT8 exports. */
        public static final int DEFAULT_BLOCK_SIZE_INT8 = 256;
        public static final int DEFAULT_ACCURACY_LEVEL = 4;

        /**
         * The dtype's block (0 in the record until {@link ExportOptions} resolves it), accuracy_level 4, lm_head and
         * embeddings 8-bit, Mamba projections at the export's bits.
         */
        public static final Quantization DEFAULT = new Quantization(0, DEFAULT_ACCURACY_LEVEL, 8, 0);

        /**
         * The default block by measurement (docs/quantization.md, "Speed"): at blocks 16-64 ONNX Runtime 1.29's batch-1
         * kernels are compute-bound (int4 at 15-16 GB/s at block 32 on a 22-24 GB/s machine) and int8/int4 prefill is
         * about as fast as fp32 or slower; at 128 (int4) and 256 (int8) they stream at the memory bandwidth, prefill is
         * 1.3-1.45x fp32, and the quality stays within the targets on trained-hybrid (a 128-wide model, where these
         * blocks are one scale per row, the coarsest case).
         */
        public static int defaultBlockSize(Weights weights) {
            return weights == Weights.INT8 ? DEFAULT_BLOCK_SIZE_INT8 : DEFAULT_BLOCK_SIZE_INT4;
        }

        /** Refuses settings that ONNX Runtime would not run with its packed kernels (a usage error, exit code 2). */
        void check(Weights weights) {
            if (blockSize < 16 || blockSize > 256 || Integer.bitCount(blockSize) != 1) {
                throw new FormatException(null, "--block-size: expected 16, 32, 64, 128 or 256 (the block lengths of "
                        + "ONNX Runtime's packed MatMulNBits kernels), found " + blockSize);
            }
            if (accuracyLevel != 1 && accuracyLevel != 4) {
                throw new FormatException(null, "--accuracy-level: expected 4 (int8 activations) or 1 (fp32 "
                        + "activations, int4 only), found " + accuracyLevel);
            }
            if (lmHeadBits != 4 && lmHeadBits != 8) {
                throw new FormatException(null, "--lm-head-bits: expected 4 or 8, found " + lmHeadBits);
            }
            if (mambaProjBits != 0 && mambaProjBits != 4 && mambaProjBits != 8) {
                throw new FormatException(null, "--mamba-proj-bits: expected 4 or 8, found " + mambaProjBits);
            }
            if (accuracyLevel == 1 && (weights.bits() == 8 || lmHeadBits == 8 || mambaProjBits == 8)) {
                throw new FormatException(null, "--accuracy-level 1 with 8-bit weights (--dtype " + weights.name()
                        .toLowerCase(Locale.ROOT) + ", --lm-head-bits " + lmHeadBits + (mambaProjBits == 0 ? ""
                        : ", --mamba-proj-bits " + mambaProjBits) + "): ONNX Runtime 1.29 has no packed fp32-activation "
                        + "kernel for 8-bit MatMulNBits and would dequantize those weights on every call; use "
                        + "--accuracy-level 4, or 4-bit weights throughout (--dtype int4 --lm-head-bits 4)");
            }
        }

        /**
         * The block of a row of {@code k} elements: {@link #blockSize}, or for a shorter row the smallest power of two
         * (at least 16) that holds it. A block that covers the whole row either way has the same largest element, so
         * the codes and scales are the same; only the zero padding (up to half of a 128-block on a 64-wide row) is
         * saved.
         */
        public int blockSize(long k) {
            if (blockSize == 0) {
                throw new IllegalStateException("block 0 (the dtype's default) is resolved by ExportOptions first");
            }
            int rowBlock = k <= 16 ? 16 : Integer.highestOneBit((int) Math.min(k - 1, 1 << 20)) << 1;
            return Math.min(blockSize, rowBlock);
        }

        /** Bits of the linear weight or embedding table {@code name} in an export of {@code weights}. */
        public int bits(Weights weights, String name) {
            if (name.equals(TensorNames.LM_HEAD) || name.equals(TensorNames.EMBEDDINGS)) {
                return lmHeadBits;
            }
            if (mambaProjBits != 0 && (name.endsWith(".mixer.in_proj.weight") || name.endsWith(".mixer.out_proj.weight"))) {
                return mambaProjBits;
            }
            return weights.bits();
        }

        /** "int4 block 128, accuracy level 4, lm_head 8-bit, mamba projections 8-bit": for metadata and reports. */
        public String describe(Weights weights) {
            return weights.name().toLowerCase(Locale.ROOT) + " block " + blockSize + ", accuracy level " + accuracyLevel
                    + ", lm_head/embeddings " + lmHeadBits + "-bit, mamba in/out_proj "
                    + (mambaProjBits == 0 ? weights.bits() : mambaProjBits) + "-bit";
        }
    }

    public static Attention attention(String text) {
        return switch (text.toLowerCase(Locale.ROOT)) {
            case "standard" -> Attention.STANDARD;
            case "gqa" -> Attention.GQA;
            default -> throw new FormatException(null, "--attention: expected standard or gqa, found '" + text + "'");
        };
    }

    public static Mamba mamba(String text) {
        return switch (text.toLowerCase(Locale.ROOT)) {
            case "contrib" -> Mamba.CONTRIB;
            case "portable" -> Mamba.PORTABLE;
            default -> throw new FormatException(null, "--mamba: expected contrib or portable, found '" + text + "'");
        };
    }

    public static Weights weights(String text) {
        return switch (text.toLowerCase(Locale.ROOT)) {
            case "fp32", "float32" -> Weights.FP32;
            case "fp16", "float16" -> Weights.FP16;
            case "int8" -> Weights.INT8;
            case "int4" -> Weights.INT4;
            case "bf16", "bfloat16" -> throw new FormatException(null,
                    "--dtype bf16: ONNX Runtime's CPU provider has no bf16 MatMul; use fp32, fp16, int8 or int4");
            default -> throw new FormatException(null, "--dtype: expected fp32, fp16, int8 or int4, found '" + text + "'");
        };
    }
}
