package dev.manyone.elastic.export;

import dev.manyone.formats.FormatException;

import java.util.Locale;

/**
 * How a Nemotron-H model is written to ONNX.
 *
 * @param mamba     CONTRIB: ONNX Runtime's com.microsoft {@code CausalConvWithState} + {@code LinearAttention}
 *                  (update_rule "gated"), which have CPU kernels in onnxruntime 1.29; PORTABLE: standard ONNX ops only
 *                  (depthwise {@code Conv} and a {@code Scan} over time) for runtimes without those ops
 * @param weights   FP32, or FP16 (weights stored in half precision and cast to fp32 inside the graph: half the
 *                  file size; computation stays fp32 because ONNX Runtime's CPU LinearAttention is fp32-only)
 * @param probes    also output the activations importance estimation reads ({@link Probes})
 * @param attention STANDARD: ONNX {@code Attention} (opset 23, is_causal); GQA: com.microsoft
 *                  {@code GroupQueryAttention} (no rotary). Both keep the KV cache in [batch, kv_heads, seq, head_dim].
 */
public record ExportOptions(Mamba mamba, Weights weights, boolean probes, Attention attention) {

    public enum Mamba { CONTRIB, PORTABLE }

    public enum Weights { FP32, FP16 }

    public enum Attention { STANDARD, GQA }

    public static final ExportOptions DEFAULT = new ExportOptions(Mamba.CONTRIB, Weights.FP32);

    public ExportOptions(Mamba mamba, Weights weights) {
        this(mamba, weights, false, Attention.STANDARD);
    }

    public ExportOptions withProbes() {
        return new ExportOptions(mamba, weights, true, attention);
    }

    public ExportOptions withAttention(Attention a) {
        return new ExportOptions(mamba, weights, probes, a);
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
            case "bf16", "bfloat16" -> throw new FormatException(null,
                    "--dtype bf16: ONNX Runtime's CPU provider has no bf16 MatMul; use fp32 or fp16");
            default -> throw new FormatException(null, "--dtype: expected fp32 or fp16, found '" + text + "'");
        };
    }
}
