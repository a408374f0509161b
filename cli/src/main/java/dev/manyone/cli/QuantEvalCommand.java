package dev.manyone.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.manyone.elastic.export.ExportOptions;
import dev.manyone.importance.QuantEval;
import dev.manyone.formats.FormatException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "quant-eval", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
            "Measure what each ONNX weight type costs in quality: export the checkpoint as fp32, fp16, int8 and",
            "int4 (each quantization policy), run every export in ONNX Runtime on held-out sequences, and print",
            "KL(fp32 || export) and NLL (nats per token) with the weight bytes on disk and read per decode step.",
            "",
            "Example (the table of docs/quantization.md):",
            "  manyone quant-eval ../shared/golden/trained-hybrid --tokens ../shared/golden/trained-hybrid/heldout.safetensors"})
final class QuantEvalCommand implements Callable<Integer> {
    @Parameters(paramLabel = "CHECKPOINT", description = "Checkpoint directory (config.json + *.safetensors).")
    Path checkpoint;

    @Option(names = "--tokens", required = true, paramLabel = "FILE", description = "Held-out sequences: .jsonl or .safetensors input_ids.")
    Path tokens;

    @Option(names = "--block-size", defaultValue = "0", paramLabel = "N",
            description = "Quantization block of every int8/int4 row: 16, 32, 64, 128 or 256; 0 (default) gives each dtype "
                    + "its export default (int8 " + ExportOptions.Quantization.DEFAULT_BLOCK_SIZE_INT8 + ", int4 "
                    + ExportOptions.Quantization.DEFAULT_BLOCK_SIZE_INT4 + ").")
    int blockSize;

    @Option(names = "--threads", defaultValue = "0", description = "ONNX Runtime intra-op threads; 0 lets it choose.")
    int threads;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Mixin
    CommonOptions common;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        // the same check as export's, before any work
        new ExportOptions(ExportOptions.Mamba.CONTRIB, ExportOptions.Weights.INT4)
                .withQuantization(new ExportOptions.Quantization(blockSize, 4, 8, 0));
        if (threads < 0) {
            throw new FormatException(null, "--threads: expected 0 (automatic) or more, found " + threads);
        }
        QuantEval.Report r = QuantEval.run(checkpoint, tokens, blockSize, threads);
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            ObjectNode o = Json.object();
            o.put("fp32_nll", r.fp32Nll());
            o.put("sequences", r.sequences());
            o.put("tokens_scored", r.tokensScored());
            o.put("block_size_int8", blockSize == 0 ? ExportOptions.Quantization.DEFAULT_BLOCK_SIZE_INT8 : blockSize);
            o.put("block_size_int4", blockSize == 0 ? ExportOptions.Quantization.DEFAULT_BLOCK_SIZE_INT4 : blockSize);
            ArrayNode rows = o.putArray("rows");
            for (QuantEval.Row row : r.rows()) {
                ObjectNode x = rows.addObject();
                x.put("dtype", row.dtype());
                x.put("policy", row.policy());
                x.put("simulated", row.simulated());
                x.put("kl", row.metrics().kl());
                x.put("nll", row.metrics().nll());
                x.put("data_bytes", row.metrics().dataBytes());
                x.put("decode_weight_bytes_per_token", row.metrics().decodeBytesPerToken());
            }
            out.println(Json.write(o));
            return Main.OK;
        }
        out.printf(Locale.ROOT, "%d sequences, %,d tokens scored; block size %s; fp32 NLL %.4f nats/token%n%n", r.sequences(),
                r.tokensScored(), blockSize == 0 ? "int8 " + ExportOptions.Quantization.DEFAULT_BLOCK_SIZE_INT8 + ", int4 "
                        + ExportOptions.Quantization.DEFAULT_BLOCK_SIZE_INT4 + " (the defaults)" : Integer.toString(blockSize),
                r.fp32Nll());
        out.println("| dtype | policy | KL(fp32 ‖ export) | NLL | weights on disk | weight bytes read per decode step |");
        out.println("|---|---|---:|---:|---:|---:|");
        for (QuantEval.Row row : r.rows()) {
            String bytes = row.simulated() ? "| - | - |" : String.format(Locale.ROOT, "| %,d | %,d |",
                    row.metrics().dataBytes(), row.metrics().decodeBytesPerToken());
            out.printf(Locale.ROOT, "| %s | %s | %.5f | %.4f %s%n", row.dtype(), row.policy(), row.metrics().kl(),
                    row.metrics().nll(), bytes);
        }
        return Main.OK;
    }
}
