package dev.manyone.importance;

import dev.manyone.elastic.LayerSpec;

import java.util.Arrays;

/**
 * The calibration statistics of one MoE layer, from its probes ({@code dev.manyone.elastic.export.Probes}): the
 * dense routing weights {@code moe_weights} [E] (0 where an expert was not chosen), the expert output norms
 * {@code expert_norm} [E], every expert's relu² activations {@code expert_ffn} [E·I] and the shared expert's
 * {@code shared_ffn} [Is], each [batch, seq, width]. Expert j counts token t as routed to it when its weight is
 * positive (a chosen expert's weight is a sigmoid, renormalised and scaled: positive unless it underflows).
 * <ul>
 *   <li>experts: per expert the routed-token count |T_j|, Σ w_j(t) and Σ w_j(t)·‖y_j(t)‖₂ over T_j, summed in double
 *       in calibration order; {@link ExpertStatistic} turns them into scores;</li>
 *   <li>{@code expert_ffn[j]}: the dense MLP's statistic ({@link Aggregation}) over the tokens routed to j only:
 *       {@code score(n) = sqrt( Σ_s ( (1/|T_{j,s}|) Σ_{t ∈ T_{j,s}} |a_{t,n}| )² )}, where T_{j,s} are the tokens of
 *       window s routed to j (a window with none adds nothing);</li>
 *   <li>{@code shared_ffn}: the dense MLP's statistic over every token.</li>
 * </ul>
 */
final class MoeAccumulator {
    private final int experts;
    private final int width;
    private final long[] tokens;
    private final double[] weightSum;
    private final double[] reapSum;
    private final double[][] neuronSquares;
    private final Aggregation shared;

    MoeAccumulator(LayerSpec l) {
        this.experts = l.experts();
        this.width = l.moeFfn();
        this.tokens = new long[experts];
        this.weightSum = new double[experts];
        this.reapSum = new double[experts];
        this.neuronSquares = new double[experts][width];
        this.shared = new Aggregation(l.sharedFfn());
    }

    /** One batch of windows: weights and norms [batch, seq, E], act [batch, seq, E·I], sharedAct [batch, seq, Is]. */
    void add(float[] weights, float[] norms, float[] act, float[] sharedAct, int batch, int seq) {
        long n = (long) batch * seq;
        if (weights.length != n * experts || norms.length != n * experts || act.length != n * experts * width) {
            throw new IllegalArgumentException("MoE probes of " + weights.length + ", " + norms.length + " and " + act.length
                    + " values are not [" + batch + ", " + seq + ", " + experts + " / " + experts + " / " + experts * width + "]");
        }
        double[][] sums = new double[experts][width];
        int[] routed = new int[experts];
        for (int b = 0; b < batch; b++) {
            for (double[] s : sums) {
                Arrays.fill(s, 0);
            }
            Arrays.fill(routed, 0);
            for (int t = 0; t < seq; t++) {
                int token = b * seq + t;
                for (int j = 0; j < experts; j++) {
                    float w = weights[token * experts + j];
                    if (!(w > 0)) {
                        continue;
                    }
                    routed[j]++;
                    tokens[j]++;
                    weightSum[j] += w;
                    reapSum[j] += (double) w * norms[token * experts + j];
                    int base = (token * experts + j) * width;
                    double[] s = sums[j];
                    for (int u = 0; u < width; u++) {
                        s[u] += Math.abs(act[base + u]);
                    }
                }
            }
            for (int j = 0; j < experts; j++) {
                if (routed[j] == 0) {
                    continue;
                }
                for (int u = 0; u < width; u++) {
                    double m = sums[j][u] / routed[j];
                    neuronSquares[j][u] += m * m;
                }
            }
        }
        shared.add(sharedAct, batch, seq, 1);
    }

    /** The layer's scores. */
    Scores.Layer finish() {
        double[] reap = new double[experts];
        double[] weight = new double[experts];
        for (int j = 0; j < experts; j++) {
            reap[j] = tokens[j] == 0 ? 0 : reapSum[j] / tokens[j];
            weight[j] = tokens[j] == 0 ? 0 : weightSum[j] / tokens[j];
        }
        double[][] neurons = new double[experts][width];
        for (int j = 0; j < experts; j++) {
            for (int u = 0; u < width; u++) {
                neurons[j][u] = Math.sqrt(neuronSquares[j][u]);
            }
        }
        return Scores.Layer.moe(new Scores.Experts(tokens.clone(), reap, weight), neurons, shared.scores());
    }
}
