package dev.manyone.cli;

import dev.manyone.elastic.export.ExportOptions;
import picocli.CommandLine.Option;

/** The ONNX export choices, shared by {@code export} and {@code extract --format onnx}. */
final class OnnxOptions {
    @Option(names = "--dtype", defaultValue = "fp32", paramLabel = "fp32|fp16",
            description = "ONNX weight precision (default ${DEFAULT-VALUE}); fp16 weights are cast to fp32 in the graph.")
    String dtype;

    @Option(names = "--mamba", defaultValue = "contrib", paramLabel = "contrib|portable",
            description = "ONNX Mamba2 implementation: com.microsoft contrib ops or standard ops only (default ${DEFAULT-VALUE}).")
    String mamba;

    @Option(names = "--attention", defaultValue = "standard", paramLabel = "standard|gqa",
            description = "ONNX attention op: Attention (opset 23) or com.microsoft GroupQueryAttention (default ${DEFAULT-VALUE}; "
                    + "measured equally fast on CPU).")
    String attention;

    ExportOptions toExportOptions() {
        return new ExportOptions(ExportOptions.mamba(mamba), ExportOptions.weights(dtype))
                .withAttention(ExportOptions.attention(attention));
    }
}
