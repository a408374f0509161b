package dev.manyone.router;

import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.formats.quant.QuantAlgo;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Candidate choices for parents whose metadata lists none (plain checkpoints, rankings-only parents without
 * {@code axes}), used by the untrained-target search:
 * <ul>
 *   <li>hidden: {@code k·H/16} for k = 8..16, rounded down to a multiple of 8 when H ≥ 128 (50%–100%);</li>
 *   <li>depth: ⌈L/2⌉ .. L layers;</li>
 *   <li>mamba_heads: multiples of n_groups from half the heads; attention_heads: multiples of the KV heads from half
 *       the heads;</li>
 *   <li>mamba_head_dim: {@code k·P/8} for k = 4..8 (50%–100%);</li>
 *   <li>ffn: {@code k·F/16} for k = 4..16, rounded down to a multiple of 8 when F ≥ 128 (25%–100%);</li>
 *   <li>MoE layers: experts {@code k·E/16} for k = 8..16 rounded down to a multiple of n_group (50%–100%), never fewer
 *       than the parent's k, 2 per router group or what topk_group needs for k; moe_ffn and shared_ffn as ffn;
 *       experts_per_token (model-wide) ⌈k/2⌉ .. k.</li>
 * </ul>
 * An NVFP4 parent keeps input columns in whole 16-column blocks only (golden README, "Input columns can only be kept
 * in whole aligned blocks of 16"), so there every axis that slices input columns (hidden, mamba_head_dim, ffn, moe_ffn,
 * shared_ffn) takes multiples of 16; whole Mamba and attention heads and whole experts keep whole blocks anyway.
 * A width axis is one whole-model list (children stay homogeneous, loadable by stock transformers) when every layer of
 * its kind has the same parent width, and per-layer lists otherwise. An axis the parent has no layer for is left out.
 */
public final class Candidates {
    private Candidates() {
    }

    public static Map<Axis, AxisChoices> defaults(ModelDescription parent) {
        Map<Axis, AxisChoices> out = new EnumMap<>(Axis.class);
        int h = parent.hidden();
        int block = columnBlock(parent);
        out.put(Axis.HIDDEN, AxisChoices.global(Axis.HIDDEN, blocks(fractions(h, 8, 16, 16, Math.max(h >= 128 ? 8 : 1, block)),
                h, 8, 16, block)));
        int n = parent.layers().size();
        out.put(Axis.DEPTH, AxisChoices.global(Axis.DEPTH, range((n + 1) / 2, n)));
        for (Axis a : new Axis[] {Axis.MAMBA_HEADS, Axis.MAMBA_HEAD_DIM, Axis.ATTENTION_HEADS, Axis.FFN,
                Axis.EXPERTS, Axis.MOE_FFN, Axis.SHARED_FFN}) {
            List<LayerSpec> layers = ElasticJson.layersOf(parent, a);
            if (layers.isEmpty()) {
                continue;
            }
            TreeSet<Integer> widths = new TreeSet<>();
            layers.forEach(l -> widths.add(a.parentWidth(parent, l)));
            if (widths.size() == 1) {
                out.put(a, AxisChoices.global(a, choices(parent, a, widths.first())));
            } else {
                TreeMap<Integer, int[]> per = new TreeMap<>();
                layers.forEach(l -> per.put(l.index(), choices(parent, a, a.parentWidth(parent, l))));
                out.put(a, AxisChoices.perLayer(a, per));
            }
        }
        parent.moe().ifPresent(moe -> {
            int k = moe.expertsPerToken();
            out.put(Axis.EXPERTS_PER_TOKEN, AxisChoices.global(Axis.EXPERTS_PER_TOKEN, range((k + 1) / 2, k)));
        });
        return out;
    }

    private static int[] choices(ModelDescription parent, Axis a, int w) {
        return switch (a) {
            case MAMBA_HEADS, ATTENTION_HEADS -> {
                int g = a.granule(parent);
                int from = Math.max(g, ((w / 2 + g - 1) / g) * g);
                TreeSet<Integer> s = new TreeSet<>();
                for (int v = from; v <= w; v += g) {
                    s.add(v);
                }
                s.add(w);
                yield s.stream().mapToInt(Integer::intValue).toArray();
            }
            case MAMBA_HEAD_DIM -> blocks(fractions(w, 4, 8, 8, columnBlock(parent)), w, 4, 8, columnBlock(parent));
            case FFN, MOE_FFN, SHARED_FFN -> blocks(fractions(w, 4, 16, 16, Math.max(w >= 128 ? 8 : 1, columnBlock(parent))),
                    w, 4, 16, columnBlock(parent));
            case EXPERTS -> {
                int least = leastExperts(parent);
                int[] f = fractions(w, 8, 16, 16, a.granule(parent));
                yield java.util.Arrays.stream(f).filter(v -> v >= least || v == w).toArray();
            }
            default -> throw new IllegalArgumentException(a.toString());
        };
    }

    /**
     * With a column block (NVFP4), the widths that rounding down to whole blocks took below the axis's smallest fraction
     * {@code from/den} of {@code w} (e.g. 32 of an 80-channel head, 40%, under the 50% floor) are dropped, unless
     * nothing else would remain below w. Without one, the choices are as {@link #fractions} made them.
     */
    private static int[] blocks(int[] choices, int w, int from, int den, int block) {
        if (block == 1) {
            return choices;
        }
        int[] kept = java.util.Arrays.stream(choices).filter(v -> (long) v * den >= (long) from * w || v == w).toArray();
        return kept.length > 1 ? kept : choices;
    }

    /** The column block a width must keep whole: 16 for an NVFP4 parent, 1 otherwise (8 and 16 divide each other's multiples). */
    static int columnBlock(ModelDescription parent) {
        return parent.layout().algo().filter(a -> a == QuantAlgo.NVFP4).map(a -> QuantAlgo.NVFP4_GROUP).orElse(1);
    }

    /**
     * The fewest experts a choice may keep so that the parent's k still routes (a multiple of n_group): "the child's k
     * must not exceed the kept experts of any MoE layer. With groups, it must not exceed topk_group × experts/n_group",
     * and at least 2 per router group.
     */
    static int leastExperts(ModelDescription parent) {
        var moe = parent.moe().orElseThrow();
        int g = moe.routerGroups();
        int k = moe.expertsPerToken();
        int least = g > 1 ? Math.max(2 * g, g * ((k + moe.topkGroup() - 1) / moe.topkGroup())) : k;
        return (least + g - 1) / g * g;
    }

    /** {@code k·w/den} for k = from..to, rounded down to {@code multiple}, positive, deduplicated, ascending; ends at w. */
    private static int[] fractions(int w, int from, int to, int den, int multiple) {
        TreeSet<Integer> s = new TreeSet<>();
        for (int k = from; k <= to; k++) {
            int v = (int) ((long) k * w / den);
            v = v / multiple * multiple;
            if (v > 0) {
                s.add(v);
            }
        }
        s.add(w);
        return s.stream().mapToInt(Integer::intValue).toArray();
    }

    private static int[] range(int from, int to) {
        int[] a = new int[Math.max(0, to - from + 1)];
        for (int i = 0; i < a.length; i++) {
            a[i] = from + i;
        }
        return a;
    }
}
