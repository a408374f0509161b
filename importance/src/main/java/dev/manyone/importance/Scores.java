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
 * {@code mamba_head_channels} [head_dim], {@code attention_heads} [q_heads] or {@code ffn} [F].
 *
 * @param layerOrder the layer ranking when it is not the order of {@code layers} (iterative depth search: the
 *                   reverse of the removal order), else null
 */
public record Scores(double[] hidden, double[] layers, Map<Integer, Layer> perLayer, int[] layerOrder) {

    /** One layer's scores; arrays of other kinds are null. */
    public record Layer(double[] mambaHeads, double[] mambaHeadChannels, double[] attentionHeads, double[] ffn) {
    }

    /**
     * The rankings: every axis sorted by descending score, ties broken by the lower original index (deterministic).
     * Grouped axes (Mamba heads per SSM group, query heads per KV head) are ranked globally; the slicer keeps each
     * group's top items by this order, which is the within-group ranking.
     */
    public Rankings rankings(ModelDescription model) {
        Map<Integer, Rankings.Layer> per = new TreeMap<>();
        for (LayerSpec l : model.layers()) {
            Layer s = perLayer.get(l.index());
            per.put(l.index(), new Rankings.Layer(order(s.mambaHeads()), order(s.mambaHeadChannels()),
                    order(s.attentionHeads()), order(s.ffn())));
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
