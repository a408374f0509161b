package dev.manyone.importance;

import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.export.Probes;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Aggregates the probe activations of the full model, batch by batch, into {@link Scores} (every score by the one
 * rule of {@link Aggregation}):
 * <ul>
 *   <li>hidden channel c: the sum over every layer's pre-mixer RMSNorm output ({@code probe.i.norm}) and the final
 *       norm ({@code probe.norm_f}) of the aggregated {@code |RMSNorm(x)_c|};</li>
 *   <li>Mamba: per d_inner index {@code h·head_dim + c} the aggregated {@code |x|} of the x part of in_proj's output
 *       ({@code probe.i.mamba_x}); head channel c: the L2 norm of those over the heads; head h: the L2 norm over
 *       the top-ranked K channels of head h (Minitron-SSM; K defaults to head_dim);</li>
 *   <li>attention query head h: the aggregated per-position L2 norm of its o_proj input ({@code probe.i.attn});</li>
 *   <li>FFN neuron n: the aggregated {@code |relu(up(x))²|} at down_proj's input ({@code probe.i.ffn});</li>
 *   <li>MoE layer: experts by routing statistics ({@link ExpertStatistic}: REAP, frequency, mean or total routing
 *       weight; {@code probe.i.moe_weights}, {@code probe.i.expert_norm}), each expert's
 *       neurons by the FFN statistic over the tokens routed to it ({@code probe.i.expert_ffn}), the shared expert's
 *       over every token ({@code probe.i.shared_ffn}; {@link MoeAccumulator});</li>
 *   <li>cosine depth: the aggregated {@code 1 − cos(x_in, x_out)} of the residual stream around each layer.</li>
 * </ul>
 * Activations must arrive in calibration order; the accumulator is not thread-safe.
 */
public final class ScoreAccumulator {
    private final ModelDescription model;
    private final Map<String, Aggregation> hiddenParts = new TreeMap<>();
    private final Map<Integer, Aggregation> mamba = new HashMap<>();
    private final Map<Integer, Aggregation> attention = new HashMap<>();
    private final Map<Integer, Aggregation> ffn = new HashMap<>();
    private final Map<Integer, MoeAccumulator> moe = new HashMap<>();
    private final Map<Integer, Aggregation> cosine = new HashMap<>();

    public ScoreAccumulator(ModelDescription model) {
        this.model = model;
        int h = model.hidden();
        hiddenParts.put(Probes.NORM_F, new Aggregation(h));
        for (LayerSpec l : model.layers()) {
            int i = l.index();
            hiddenParts.put(Probes.norm(i), new Aggregation(h));
            cosine.put(i, new Aggregation(1));
            switch (l.kind()) {
                case MAMBA -> mamba.put(i, new Aggregation(l.dInner()));
                case ATTENTION -> attention.put(i, new Aggregation(l.attentionHeads()));
                case MLP -> ffn.put(i, new Aggregation(l.ffn()));
                case MOE -> moe.put(i, new MoeAccumulator(l));
            }
        }
    }

    /** The mixer probe outputs a pass must deliver for layer {@code l} (besides its norm and residual probes). */
    public static List<String> mixerProbes(LayerSpec l) {
        int i = l.index();
        return switch (l.kind()) {
            case MAMBA -> List.of(Probes.mambaX(i));
            case ATTENTION -> List.of(Probes.attention(i));
            case MLP -> List.of(Probes.ffn(i));
            case MOE -> List.of(Probes.moeWeights(i), Probes.expertNorm(i), Probes.expertFfn(i), Probes.sharedFfn(i));
        };
    }

    /** Reads one probe output of the current batch, [batch, seq, width]. */
    public interface ProbeOutputs {
        float[] get(String name);
    }

    /** Layer i's pre-mixer norm output and its mixer probes ({@link #mixerProbes}), [batch, seq, width]. */
    public void layer(int i, float[] norm, ProbeOutputs probes, int batch, int seq) {
        hiddenParts.get(Probes.norm(i)).add(norm, batch, seq, 1);
        LayerSpec l = model.layers().get(i);
        switch (l.kind()) {
            case MAMBA -> mamba.get(i).add(probes.get(Probes.mambaX(i)), batch, seq, 1);
            case ATTENTION -> attention.get(i).add(probes.get(Probes.attention(i)), batch, seq, model.headDim());
            case MLP -> ffn.get(i).add(probes.get(Probes.ffn(i)), batch, seq, 1);
            case MOE -> moe.get(i).add(probes.get(Probes.moeWeights(i)), probes.get(Probes.expertNorm(i)),
                    probes.get(Probes.expertFfn(i)), probes.get(Probes.sharedFfn(i)), batch, seq);
        }
    }

    /** The final norm's output. */
    public void normF(float[] normF, int batch, int seq) {
        hiddenParts.get(Probes.NORM_F).add(normF, batch, seq, 1);
    }

    /**
     * The final norm's output for tokens {@code [from, from + n)} of a batch of windows of {@code seq} tokens
     * ({@code normF} is [n, H]), in order: the head may run on chunks of tokens that cut windows anywhere.
     */
    public void normFTokens(float[] normF, int from, int seq) {
        Aggregation agg = hiddenParts.get(Probes.NORM_F);
        int h = model.hidden();
        int n = normF.length / h;
        int t = 0;
        while (t < n) {
            int inWindow = (from + t) % seq;
            int len = Math.min(n - t, seq - inWindow);
            agg.addPositions(t == 0 && len == n ? normF : java.util.Arrays.copyOfRange(normF, t * h, (t + len) * h), len, 1);
            if (inWindow + len == seq) {
                agg.endWindow(seq);
            }
            t += len;
        }
    }

    /** The residual stream before ({@code in}) and after ({@code out}) layer i, [batch, seq, H]. */
    public void residual(int i, float[] in, float[] out, int batch, int seq) {
        int h = model.hidden();
        double[] sum = new double[1];
        Aggregation agg = cosine.get(i);
        for (int b = 0; b < batch; b++) {
            sum[0] = 0;
            for (int t = 0; t < seq; t++) {
                sum[0] += cosineDistance(in, out, (b * seq + t) * h, h);
            }
            agg.addWindow(sum, seq);
        }
    }

    /** {@code 1 − cos(a, b)} over {@code [from, from + n)}, at least 0; 0 when either vector is zero. */
    static double cosineDistance(float[] a, float[] b, int from, int n) {
        double dot = 0;
        double na = 0;
        double nb = 0;
        for (int k = from; k < from + n; k++) {
            dot += (double) a[k] * b[k];
            na += (double) a[k] * a[k];
            nb += (double) b[k] * b[k];
        }
        return na == 0 || nb == 0 ? 0 : Math.max(0, 1 - dot / Math.sqrt(na * nb)); // ≥ 0 despite rounding
    }

    /** Cosine depth scores, one per layer. */
    public double[] cosineScores() {
        double[] out = new double[model.layers().size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = cosine.get(i).scores()[0];
        }
        return out;
    }

    /**
     * The scores, with the given depth scores (and layer order, or null for the order of the scores).
     *
     * @param headChannels K, the number of top-ranked channels a Mamba head's score is taken over (0: head_dim)
     * @param expertsBy    the statistic that ranks the experts of MoE layers
     */
    public Scores finish(double[] layers, int[] layerOrder, int headChannels, ExpertStatistic expertsBy) {
        double[] hidden = new double[model.hidden()];
        for (Aggregation a : hiddenParts.values()) { // TreeMap: a fixed summation order
            double[] s = a.scores();
            for (int c = 0; c < hidden.length; c++) {
                hidden[c] += s[c];
            }
        }
        Map<Integer, Scores.Layer> per = new TreeMap<>();
        for (LayerSpec l : model.layers()) {
            int i = l.index();
            per.put(i, switch (l.kind()) {
                case MAMBA -> mambaScores(l, mamba.get(i).scores(), headChannels);
                case ATTENTION -> new Scores.Layer(null, null, attention.get(i).scores(), null);
                case MLP -> new Scores.Layer(null, null, null, ffn.get(i).scores());
                case MOE -> moe.get(i).finish();
            });
        }
        return new Scores(hidden, layers, Map.copyOf(per), layerOrder, expertsBy);
    }

    /** Channels: L2 over heads; heads: L2 over the top-K channels (K = head_dim when 0 or larger). */
    static Scores.Layer mambaScores(LayerSpec l, double[] inner, int headChannels) {
        int heads = l.mambaHeads();
        int hd = l.mambaHeadDim();
        double[] channels = new double[hd];
        for (int c = 0; c < hd; c++) {
            double s = 0;
            for (int h = 0; h < heads; h++) {
                s += inner[h * hd + c] * inner[h * hd + c];
            }
            channels[c] = Math.sqrt(s);
        }
        int k = headChannels <= 0 || headChannels > hd ? hd : headChannels;
        int[] top = java.util.Arrays.copyOf(Scores.order(channels), k);
        java.util.Arrays.sort(top);
        double[] headScores = new double[heads];
        for (int h = 0; h < heads; h++) {
            double s = 0;
            for (int c : top) {
                s += inner[h * hd + c] * inner[h * hd + c];
            }
            headScores[h] = Math.sqrt(s);
        }
        return new Scores.Layer(headScores, channels, null, null);
    }
}
