package dev.manyone.router;

import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.slice.Rankings;

import java.util.HashMap;
import java.util.Map;

/**
 * The importance mass a configuration keeps, in [0, 1] (1 for the parent):
 * <pre>
 *   J = m_hidden(h) · Σ over kept layers ℓ of  λ_ℓ · Π over ℓ's width axes a of m_{a,ℓ}(w)
 * </pre>
 * <ul>
 *   <li>{@code m(w)} is the fraction of an axis's score mass in the items a width-w child keeps: the top w of the
 *       ranking, or, for Mamba heads and attention query heads, the top w/groups of every group (n_groups, KV heads),
 *       exactly as extraction selects them;</li>
 *   <li>MoE layers have four width factors: {@code experts} (the top experts/n_group of every router group),
 *       {@code moe_ffn} (the mean over experts of each expert's own neuron fraction — each kept expert keeps its own
 *       top neurons), {@code shared_ffn}, and the model-wide k ({@code experts_per_token}), whose "items" are the
 *       parent's k routing slots scored by the rank proxy (the first slot carries the most routing weight: experts
 *       are chosen by descending score);</li>
 *   <li>{@code λ_ℓ} is layer ℓ's share of the layer score mass (Σ λ = 1); depth keeps the top of rankings.layers;</li>
 *   <li>scores are the raw importance scores of elastic.safetensors ({@code scores.*}) where present; otherwise the
 *       <em>rank proxy</em>: the item at rank r of n scores {@code (n − r) / n} (linear from 1 down to 1/n). A set of
 *       raw scores that sums to 0 counts every item equally.</li>
 * </ul>
 */
final class ImportanceMass {
    private final ModelDescription parent;
    private final Rankings rankings;
    private final ImportanceScores scores;
    private final double[] hidden;
    private final double[] lambda;
    private final Map<Long, double[]> cache = new HashMap<>();

    ImportanceMass(ModelDescription parent, Rankings rankings, ImportanceScores scores) {
        this.parent = parent;
        this.rankings = rankings;
        this.scores = scores;
        this.hidden = prefix(rankings.hidden(), scores.hidden(), 1);
        int n = parent.layers().size();
        double[] s = itemScores(rankings.layers(), scores.layers());
        double total = 0;
        for (double v : s) {
            total += v;
        }
        lambda = new double[n];
        for (int i = 0; i < n; i++) {
            lambda[i] = total > 0 ? s[i] / total : 1.0 / n;
        }
    }

    /** The mass of configuration {@code c}. */
    double of(Configuration c) {
        double sum = 0;
        for (LayerSpec l : c.layers()) {
            double m = lambda[l.index()];
            switch (l.kind()) {
                case MAMBA -> m *= width(Axis.MAMBA_HEADS, l.index(), l.mambaHeads())
                        * width(Axis.MAMBA_HEAD_DIM, l.index(), l.mambaHeadDim());
                case ATTENTION -> m *= width(Axis.ATTENTION_HEADS, l.index(), l.attentionHeads());
                case MLP -> m *= width(Axis.FFN, l.index(), l.ffn());
                case MOE -> m *= width(Axis.EXPERTS, l.index(), l.experts())
                        * width(Axis.MOE_FFN, l.index(), l.moeFfn())
                        * width(Axis.SHARED_FFN, l.index(), l.sharedFfn())
                        * width(Axis.EXPERTS_PER_TOKEN, -1, c.expertsPerToken());
            }
            sum += m;
        }
        return hidden[c.hidden()] * sum;
    }

    /** λ of parent layer {@code i}. */
    double layerWeight(int i) {
        return lambda[i];
    }

    /** m_{axis, layer}(w). */
    double width(Axis axis, int layer, int w) {
        long key = ((long) axis.ordinal() << 32) | (layer & 0xffffffffL);
        double[] p = cache.get(key);
        if (p == null) {
            Rankings.Layer r = rankings.layer(layer);
            ImportanceScores.Layer s = scores.layer(layer);
            p = switch (axis) {
                case MAMBA_HEADS -> prefix(r.mambaHeads(), s == null ? null : s.mambaHeads(), parent.nGroups());
                case MAMBA_HEAD_DIM -> prefix(r.mambaHeadChannels(), s == null ? null : s.mambaHeadChannels(), 1);
                case ATTENTION_HEADS -> prefix(r.attentionHeads(), s == null ? null : s.attentionHeads(), parent.kvHeads());
                case FFN -> prefix(r.ffn(), s == null ? null : s.ffn(), 1);
                case EXPERTS -> prefix(r.experts(), s == null ? null : s.experts(), axis.granule(parent));
                case MOE_FFN -> meanPrefix(r.expertFfn(), s == null ? null : s.expertFfn());
                case SHARED_FFN -> prefix(r.sharedFfn(), s == null ? null : s.sharedFfn(), 1);
                case EXPERTS_PER_TOKEN -> prefix(identity(Axis.EXPERTS_PER_TOKEN.parentWidth(parent, null)), null, 1);
                default -> throw new IllegalArgumentException(axis.toString());
            };
            cache.put(key, p);
        }
        return p[w];
    }

    /** The mean over experts of each expert's own neuron prefix (each kept expert keeps its own top neurons). */
    private static double[] meanPrefix(int[][] rankings, float[][] raw) {
        double[] out = null;
        for (int j = 0; j < rankings.length; j++) {
            double[] p = prefix(rankings[j], raw == null ? null : raw[j], 1);
            if (out == null) {
                out = new double[p.length];
            }
            for (int w = 0; w < p.length; w++) {
                out[w] += p[w] / rankings.length;
            }
        }
        return out;
    }

    private static int[] identity(int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        return a;
    }

    /** Scores by original index: the raw ones, or the rank proxy (n − r) / n. */
    private static double[] itemScores(int[] ranking, float[] raw) {
        int n = ranking.length;
        double[] s = new double[n];
        for (int r = 0; r < n; r++) {
            s[ranking[r]] = raw != null ? raw[ranking[r]] : (double) (n - r) / n;
        }
        return s;
    }

    /**
     * out[k] = mass fraction kept at width k: with {@code groups} contiguous groups, each group keeps its top
     * ⌊k / groups⌋ items in ranking order.
     */
    private static double[] prefix(int[] ranking, float[] raw, int groups) {
        int n = ranking.length;
        double[] s = itemScores(ranking, raw);
        double total = 0;
        for (double v : s) {
            total += v;
        }
        boolean uniform = total <= 0;
        int perGroup = n / groups;
        // per group, the scores of its items in ranking order
        double[][] byGroup = new double[groups][perGroup];
        int[] filled = new int[groups];
        for (int item : ranking) {
            int g = item / perGroup;
            byGroup[g][filled[g]++] = uniform ? 1 : s[item];
        }
        double denom = uniform ? n : total;
        double[][] cum = new double[groups][perGroup + 1];
        for (int g = 0; g < groups; g++) {
            for (int j = 0; j < perGroup; j++) {
                cum[g][j + 1] = cum[g][j] + byGroup[g][j];
            }
        }
        double[] out = new double[n + 1];
        for (int k = 0; k <= n; k++) {
            int keep = k / groups;
            double m = 0;
            for (int g = 0; g < groups; g++) {
                m += cum[g][keep];
            }
            out[k] = m / denom;
        }
        return out;
    }
}
