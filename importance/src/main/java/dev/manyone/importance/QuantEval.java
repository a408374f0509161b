package dev.manyone.importance;

import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.elastic.export.ExportOptions;
import dev.manyone.elastic.export.ExportOptions.Quantization;
import dev.manyone.elastic.export.ExportOptions.Weights;
import dev.manyone.elastic.runtime.TokenFile;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The quality table of docs/quantization.md: a checkpoint exported with each weight type and quantization policy,
 * run by ONNX Runtime on held-out tokens, against its fp32 export: KL(fp32 ‖ exported) and NLL in nats per token,
 * with the weight bytes on disk and read per decode step. One block size for every quantized row.
 */
public final class QuantEval {
    private QuantEval() {
    }

    /**
     * One setting: a label, the options, whether it is the fp32 simulation of the options' weight-only quantization
     * (no int8 activations; bytes are the simulation's), and what was measured.
     */
    public record Row(String dtype, String policy, ExportOptions options, boolean simulated,
                      ChildQuality.ExportMetrics metrics) {
    }

    /** The settings measured: fp32, fp16, int8, and int4 under each policy. */
    public static List<Row> settings(int blockSize) {
        List<Row> rows = new ArrayList<>();
        ExportOptions fp = new ExportOptions(ExportOptions.Mamba.CONTRIB, Weights.FP32);
        rows.add(new Row("fp32", "-", fp, false, null));
        rows.add(new Row("fp16", "-", new ExportOptions(ExportOptions.Mamba.CONTRIB, Weights.FP16), false, null));
        rows.add(row(Weights.INT8, "default (lm_head 8)", new Quantization(blockSize, 4, 8, 0)));
        rows.add(simulated(Weights.INT8, "default, weights only (simulated in fp32)", new Quantization(blockSize, 4, 8, 0)));
        rows.add(row(Weights.INT4, "default (lm_head 8)", new Quantization(blockSize, 4, 8, 0)));
        rows.add(simulated(Weights.INT4, "default, weights only (simulated in fp32)", new Quantization(blockSize, 4, 8, 0)));
        rows.add(row(Weights.INT4, "lm_head 8, Mamba in/out_proj 8", new Quantization(blockSize, 4, 8, 8)));
        rows.add(row(Weights.INT4, "all 4-bit (lm_head 4)", new Quantization(blockSize, 4, 4, 0)));
        rows.add(row(Weights.INT4, "all 4-bit, fp32 activations (accuracy_level 1)", new Quantization(blockSize, 1, 4, 0)));
        return rows;
    }

    private static Row row(Weights w, String policy, Quantization q) {
        return new Row(w.name().toLowerCase(java.util.Locale.ROOT), policy,
                new ExportOptions(ExportOptions.Mamba.CONTRIB, w).withQuantization(q), false, null);
    }

    private static Row simulated(Weights w, String policy, Quantization q) {
        Row r = row(w, policy, q);
        return new Row(r.dtype(), r.policy(), r.options(), true, null);
    }

    /** Measures every setting on the sequences of {@code tokens} (.jsonl or .safetensors input_ids). */
    public static Report run(Path checkpoint, Path tokens, int blockSize, int threads) {
        try (Checkpoint cp = Checkpoint.open(checkpoint)) {
            List<long[]> ids = TokenFile.read(tokens, cp.model().vocab());
            Path work = Files.createTempDirectory("manyone-quant-eval");
            try {
                ChildQuality quality = new ChildQuality(cp, ids, work, threads);
                List<Row> out = new ArrayList<>();
                for (Row r : settings(blockSize)) {
                    out.add(new Row(r.dtype(), r.policy(), r.options(), r.simulated(),
                            r.simulated() ? quality.weightsOnly(r.options()) : quality.exported(r.options())));
                }
                long scored = ids.stream().mapToLong(x -> x.length - 1L).sum();
                return new Report(quality.parentNll(), ids.size(), scored, List.copyOf(out));
            } finally {
                try (var files = Files.walk(work)) {
                    files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The fp32 NLL, how many sequences and tokens were scored, and one row per setting. */
    public record Report(double fp32Nll, int sequences, long tokensScored, List<Row> rows) {
    }
}
