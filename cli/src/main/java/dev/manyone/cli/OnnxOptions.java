package dev.manyone.cli;

import dev.manyone.elastic.export.ExportOptions;
import dev.manyone.formats.FormatException;
import picocli.CommandLine.Option;

/** The ONNX export choices, shared by {@code export} and {@code extract --format onnx}. */
final class OnnxOptions {
    @Option(names = "--dtype", defaultValue = "fp32", paramLabel = "fp32|fp16|int8|int4",
            description = "ONNX weight precision (default ${DEFAULT-VALUE}). int8/int4: linear layers as MatMulNBits and "
                    + "embeddings as GatherBlockQuantized, block-quantized (symmetric, round to nearest; with the default "
                    + "blocks, 8.125 and 4.25 bits a weight): smaller files and memory and fewer bytes read per token - use these "
                    + "for speed and memory. fp16 halves "
                    + "the file: its casts to fp32 are folded when a session is created, so it runs at fp32 speed and "
                    + "memory (it is for disk size).")
    String dtype;

    @Option(names = "--block-size", paramLabel = "N",
            description = "int8/int4: weights sharing one scale along the input dimension: 16, 32, 64, 128 or 256 (default "
                    + ExportOptions.Quantization.DEFAULT_BLOCK_SIZE_INT8 + " for int8, "
                    + ExportOptions.Quantization.DEFAULT_BLOCK_SIZE_INT4 + " for int4: the fastest that keep the quality "
                    + "targets on the trained test model; 32 for the lowest error, at 15-20%% lower decode speed and prefill slower than fp32).")
    Integer blockSize;

    @Option(names = "--accuracy-level", paramLabel = "4|1",
            description = "int8/int4: MatMulNBits accuracy_level. 4 (default): activations quantized to int8 per block, "
                    + "the fast int8 dot-product kernel; 1: fp32 activations (int4 weights only: ONNX Runtime has no "
                    + "packed fp32 kernel for 8-bit weights).")
    Integer accuracyLevel;

    @Option(names = "--lm-head-bits", paramLabel = "8|4",
            description = "int8/int4: bits of lm_head and the embeddings (default 8).")
    Integer lmHeadBits;

    @Option(names = "--mamba-proj-bits", paramLabel = "8|4",
            description = "int8/int4: bits of every Mamba in_proj and out_proj (default: those of --dtype); "
                    + "8 with --dtype int4 keeps the most sensitive projections at 8 bits.")
    Integer mambaProjBits;

    @Option(names = "--mamba", defaultValue = "contrib", paramLabel = "contrib|portable",
            description = "ONNX Mamba2 implementation: com.microsoft contrib ops or standard ops only (default ${DEFAULT-VALUE}).")
    String mamba;

    @Option(names = "--attention", defaultValue = "standard", paramLabel = "standard|gqa",
            description = "ONNX attention op: Attention (opset 23) or com.microsoft GroupQueryAttention (default ${DEFAULT-VALUE}; "
                    + "measured equally fast on CPU).")
    String attention;

    ExportOptions toExportOptions() {
        ExportOptions.Weights weights = ExportOptions.weights(dtype);
        ExportOptions options = new ExportOptions(ExportOptions.mamba(mamba), weights)
                .withAttention(ExportOptions.attention(attention));
        if (blockSize == null && accuracyLevel == null && lmHeadBits == null && mambaProjBits == null) {
            return options;
        }
        if (blockSize != null && blockSize == 0) {  // 0 is the record's "dtype default", not a block users can ask for
            throw new FormatException(null, "--block-size: expected 16, 32, 64, 128 or 256 (the block lengths of ONNX "
                    + "Runtime's packed MatMulNBits kernels), found 0");
        }
        ExportOptions.Quantization d = ExportOptions.Quantization.DEFAULT;
        return options.withQuantization(new ExportOptions.Quantization(
                blockSize != null ? blockSize : d.blockSize(),
                accuracyLevel != null ? accuracyLevel : d.accuracyLevel(),
                lmHeadBits != null ? lmHeadBits : d.lmHeadBits(),
                mambaProjBits != null ? mambaProjBits : d.mambaProjBits()));
    }
}
