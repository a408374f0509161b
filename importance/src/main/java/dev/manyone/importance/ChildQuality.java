package dev.manyone.importance;

import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.elastic.export.CheckpointWeights;
import dev.manyone.elastic.export.DequantizedWeights;
import dev.manyone.elastic.export.ExportOptions;
import dev.manyone.elastic.export.NemotronHGraph;
import dev.manyone.elastic.export.StateNames;
import dev.manyone.elastic.export.WeightSource;
import dev.manyone.elastic.slice.ChildSpec;
import dev.manyone.elastic.slice.Rankings;
import dev.manyone.elastic.slice.SlicePlan;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * How close a zero-shot child stays to its parent on held-out tokens, in nats per token: the mean
 * {@code KL(parent ‖ child) = Σ_v p(v) (log p(v) − log q(v))} of the next-token distributions and the child's mean
 * NLL {@code −log q(x_{t+1})}, both over the positions t that have a next token. Logits come from ONNX Runtime (the
 * child is sliced straight from the parent into an ONNX graph); Java only reduces them, in double.
 */
public final class ChildQuality {
    private final Checkpoint parent;
    private final List<long[][]> batches;
    private final List<float[]> parentLogits = new ArrayList<>();
    private final Path work;
    private final int threads;
    private final double parentNll;

    /** Quality on {@code rows}; the parent's logits are computed once, here. */
    public ChildQuality(Checkpoint parent, List<long[]> rows, Path work, int threads) {
        this.parent = parent;
        this.batches = Calibration.of(rows, "held-out", "token ids", Calibration.Sampling.ALL, null).batches(8);
        this.work = work;
        this.threads = threads;
        ModelDescription model = parent.model();
        try (OrtGraph g = OrtGraph.open(NemotronHGraph.build(model, CheckpointWeights.of(parent), ExportOptions.DEFAULT),
                work, "parent", threads)) {
            for (long[][] batch : batches) {
                parentLogits.add(g.runOne(model, batch, null, StateNames.LOGITS));
            }
        }
        this.parentNll = measure(parentLogits).nll();
    }

    /** KL(parent ‖ child) and NLL, nats per token; {@code params} is the child's parameter count. */
    public record Metrics(long params, double kl, double nll) {
    }

    public double parentNll() {
        return parentNll;
    }

    /** The child of {@code spec} sliced by {@code rankings}. */
    public Metrics child(ChildSpec spec, Rankings rankings) {
        SlicePlan plan = SlicePlan.of(parent.model(), spec, rankings, null);
        ModelDescription child = ModelDescription.of(plan.config());
        List<float[]> logits = new ArrayList<>();
        try (OrtGraph g = OrtGraph.open(NemotronHGraph.build(child, new ChildWeights(parent.tensors(), plan), ExportOptions.DEFAULT),
                work, "child", threads)) {
            for (long[][] batch : batches) {
                logits.add(g.runOne(child, batch, null, StateNames.LOGITS));
            }
        }
        Metrics m = measure(logits);
        return new Metrics(plan.params(), m.kl(), m.nll());
    }

    /**
     * The parent itself exported with {@code options} (its dtype: fp16, int8, int4 and their settings), against the
     * fp32 parent: KL(fp32 ‖ exported) and NLL, nats per token, with the weights' bytes on disk and read per decode
     * step.
     */
    public ExportMetrics exported(ExportOptions options) {
        return exported(options, CheckpointWeights.of(parent));
    }

    /**
     * The weight-only quantization of {@code options} (INT8/INT4) simulated in fp32 ({@link DequantizedWeights}):
     * what the export would measure with fp32 activations. Bytes are those of the fp32 simulation.
     */
    public ExportMetrics weightsOnly(ExportOptions options) {
        return exported(ExportOptions.DEFAULT, new DequantizedWeights(CheckpointWeights.of(parent),
                parent.model(), options));
    }

    private ExportMetrics exported(ExportOptions options, WeightSource weights) {
        ModelDescription model = parent.model();
        List<float[]> logits = new ArrayList<>();
        long dataBytes;
        long decodeBytes;
        try (OrtGraph g = OrtGraph.open(NemotronHGraph.build(model, weights, options), work, "exported", threads)) {
            for (long[][] batch : batches) {
                logits.add(g.runOne(model, batch, null, StateNames.LOGITS));
            }
            dataBytes = g.dataBytes();
            decodeBytes = Long.parseLong(g.metadata(NemotronHGraph.DECODE_BYTES_KEY));
        }
        Metrics m = measure(logits);
        return new ExportMetrics(m.kl(), m.nll(), dataBytes, decodeBytes);
    }

    /** KL(fp32 ‖ exported) and NLL (nats per token), weight bytes on disk and read per batch-1 decode step. */
    public record ExportMetrics(double kl, double nll, long dataBytes, long decodeBytesPerToken) {
    }

    private Metrics measure(List<float[]> logits) {
        int vocab = parent.model().vocab();
        double kl = 0;
        double nll = 0;
        long n = 0;
        double[] logP = new double[vocab];
        double[] logQ = new double[vocab];
        for (int k = 0; k < batches.size(); k++) {
            long[][] batch = batches.get(k);
            int seq = batch[0].length;
            for (int b = 0; b < batch.length; b++) {
                for (int t = 0; t + 1 < seq; t++) {
                    int off = (b * seq + t) * vocab;
                    logSoftmax(parentLogits.get(k), off, logP);
                    logSoftmax(logits.get(k), off, logQ);
                    double d = 0;
                    for (int v = 0; v < vocab; v++) {
                        d += Math.exp(logP[v]) * (logP[v] - logQ[v]);
                    }
                    kl += d;
                    nll -= logQ[(int) batch[b][t + 1]];
                    n++;
                }
            }
        }
        return new Metrics(0, kl / n, nll / n);
    }

    static void logSoftmax(float[] x, int off, double[] out) {
        double max = Double.NEGATIVE_INFINITY;
        for (int v = 0; v < out.length; v++) {
            max = Math.max(max, x[off + v]);
        }
        double sum = 0;
        for (int v = 0; v < out.length; v++) {
            sum += Math.exp(x[off + v] - max);
        }
        double log = max + Math.log(sum);
        for (int v = 0; v < out.length; v++) {
            out[v] = x[off + v] - log;
        }
    }
}
