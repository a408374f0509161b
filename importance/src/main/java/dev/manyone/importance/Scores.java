package dev.manyone.importance;

import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.slice.Rankings;

import java.util.Arrays;
import java.util.Comparator;
import java.util.Map;
import java.util.TreeMap;

/**
 * Raw importance scores, indexed by each item's original index (not by rank); higher is more important. The axes are
 * those of {@link Rankings}: {@code hidden} [H], {@code layers} [L], and per layer {@code mamba_heads} [heads],
 * {@code mamba_head_channels} [head_dim], {@code attention_heads} [q_heads], {@code ffn} [F], or for an MoE layer
 * {@code experts} [E] (by {@link #expertsBy}), {@code expert_ffn} [E][I] (by original expert id) and
 * {@code shared_ffn} [Is].
 *
 * @param layerOrder the layer ranking when it is not the order of {@code layers} (iterative depth search: the
 *                   reverse of the removal order), else null
 * @param expertsBy  which statistic ranks the experts
 */
public record Scores(double[] hidden, double[] layers, Map<Integer, Layer> perLayer, int[] layerOrder,
                     ExpertStatistic expertsBy) {

    /** Experts ranked by REAP. */
    public Scores(double[] hidden, double[] layers, Map<Integer, Layer> perLayer, int[] layerOrder) {
        this(hidden, layers, perLayer, layerOrder, ExpertStatistic.REAP);
    }

    /** The same scores with the experts ranked by {@code by}. */
    public Scores withExpertsBy(ExpertStatistic by) {
        return new Scores(hidden, layers, perLayer, layerOrder, by);
    }

    /** One layer's scores; arrays of other kinds are null. */
    public record Layer(double[] mambaHeads, double[] mambaHeadChannels, double[] attentionHeads, double[] ffn,
                        Experts experts, double[][] expertFfn, double[] sharedFfn) {

        /** A dense layer's scores. */
        public Layer(double[] mambaHeads, double[] mambaHeadChannels, double[] attentionHeads, double[] ffn) {
            this(mambaHeads, mambaHeadChannels, attentionHeads, ffn, null, null, null);
        }

        /** An MoE layer's scores. */
        public static Layer moe(Experts experts, double[][] expertFfn, double[] sharedFfn) {
            return new Layer(null, null, null, null, experts, expertFfn, sharedFfn);
        }
    }

    /**
     * The expert statistics of an MoE layer ({@link ExpertStatistic}): the calibration tokens routed to each expert,
     * the mean over them of routing weight × output norm (REAP) and of the routing weight (times the token count: the
     * total routing weight, MASS). Data-free scores
     * ({@link #dataFree}) have no token counts and give the same score for every statistic.
     */
    public record Experts(long[] tokens, double[] reap, double[] weight) {

        public static Experts dataFree(double[] scores) {
            return new Experts(null, scores, scores);
        }

        /** The score of every expert by {@code by}. */
        public double[] score(ExpertStatistic by) {
            if (tokens == null) {
                return reap.clone();
            }
            return switch (by) {
                case REAP -> reap.clone();
                case WEIGHT -> weight.clone();
                case FREQUENCY -> Arrays.stream(tokens).asDoubleStream().toArray();
                case MASS -> {
                    double[] m = new double[tokens.length];
                    for (int j = 0; j < m.length; j++) {
                        m[j] = weight[j] * tokens[j];
                    }
                    yield m;
                }
            };
        }

        /**
         * Experts by descending score, the never-routed ones (no calibration token chose them) after every routed
         * one, ties by ascending id.
         */
        public int[] order(ExpertStatistic by) {
            double[] s = score(by);
            Integer[] idx = new Integer[s.length];
            for (int j = 0; j < idx.length; j++) {
                idx[j] = j;
            }
            Arrays.sort(idx, Comparator.<Integer>comparingInt(j -> tokens == null || tokens[j] > 0 ? 0 : 1)
                    .thenComparingDouble(j -> -s[j]).thenComparingInt(j -> j));
            return Arrays.stream(idx).mapToInt(Integer::intValue).toArray();
        }
    }

    /**
     * The rankings: every axis sorted by descending score, ties broken by the lower original index (deterministic).
     * Grouped axes (Mamba heads per SSM group, query heads per KV head, experts per router group) are ranked globally;
     * the slicer keeps each group's top items by this order, which is the within-group ranking.
     */
    public Rankings rankings(ModelDescription model) {
        Map<Integer, Rankings.Layer> per = new TreeMap<>();
        for (LayerSpec l : model.layers()) {
            Layer s = perLayer.get(l.index());
            per.put(l.index(), switch (l.kind()) {
                case MAMBA, ATTENTION, MLP -> new Rankings.Layer(order(s.mambaHeads()), order(s.mambaHeadChannels()),
                        order(s.attentionHeads()), order(s.ffn()));
                case MOE -> new Rankings.Layer(null, null, null, null, s.experts().order(expertsBy),
                        Arrays.stream(s.expertFfn()).map(Scores::order).toArray(int[][]::new), order(s.sharedFfn()));
            });
        }
        return new Rankings(order(hidden), layerOrder != null ? layerOrder.clone() : order(layers), Map.copyOf(per), false);
    }

    /** Indices by descending score, ties by ascending index; null for null. */
    public static int[] order(double[] scores) {
        if (scores == null) {
            return null;
        }
        Integer[] idx = new Integer[scores.length];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = i;
        }
        Arrays.sort(idx, Comparator.<Integer>comparingDouble(i -> -scores[i]).thenComparingInt(i -> i));
        int[] out = new int[idx.length];
        for (int i = 0; i < idx.length; i++) {
            out[i] = idx[i];
        }
        return out;
    }
}
