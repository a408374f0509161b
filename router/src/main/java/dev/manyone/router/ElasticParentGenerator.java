package dev.manyone.router;

import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.NemotronHConfig;
import dev.manyone.elastic.generate.ModelGenerator;
import dev.manyone.elastic.slice.Rankings;
import dev.manyone.formats.AtomicDirectory;
import dev.manyone.formats.Progress;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Writes elastic test parents: a random-weight Nemotron-H checkpoint ({@link ModelGenerator}) plus elastic metadata
 * whose router decisions are known by construction. Deterministic: the same config, recipe and seed give the same
 * bytes.
 *
 * <p>A {@link RouterKind#CONSTRUCTED} router picks, for budget k of B, choice {@link #constructedChoice
 * ⌊k·(C−1)/(B−1)⌋} of every segment with C choices (so the first budget picks every smallest choice and the last every
 * largest): fc1's first B hidden units copy the one-hot input (fc1 = identity block, bias 0, the other units random),
 * and fc2 adds 6 to the weight from unit k to the chosen output of each segment on top of N(0, 0.02²) noise, a margin
 * of about 25 standard deviations. A {@link RouterKind#RANDOM} router has plain random weights (its decisions are
 * whatever the arithmetic gives: for checking an independent implementation). Budget targets are the exact parameter
 * counts of the routed configurations.
 */
public final class ElasticParentGenerator {
    /** Nemotron Elastic's router hidden width. */
    public static final int PAPER_ROUTER_WIDTH = 256;
    public static final double DEFAULT_SLOPE = 0.01;

    public enum RouterKind { NONE, CONSTRUCTED, RANDOM }

    /**
     * What to generate.
     *
     * @param budgets     budget names, smallest first
     * @param axes        candidate choices
     * @param routerWidth hidden width of every axis router
     * @param slope       LeakyReLU slope
     * @param scores      also write raw importance scores (rankings are then their descending order)
     */
    public record Recipe(List<String> budgets, Map<Axis, AxisChoices> axes, int routerWidth, double slope, boolean scores,
                         RouterKind router) {
        public Recipe {
            budgets = List.copyOf(budgets);
            axes = Map.copyOf(axes);
            if (router == RouterKind.CONSTRUCTED && routerWidth < budgets.size()) {
                throw new IllegalArgumentException("a constructed router needs at least one hidden unit per budget");
            }
        }

        public Recipe withRouter(RouterKind kind) {
            return new Recipe(budgets, axes, routerWidth, slope, scores, kind);
        }

        public Recipe withScores(boolean withScores) {
            return new Recipe(budgets, axes, routerWidth, slope, withScores, router);
        }
    }

    private ElasticParentGenerator() {
    }

    /** The choice a constructed router makes for budget k of B on a segment of C choices: ⌊k·(C−1)/(B−1)⌋. */
    public static int constructedChoice(int k, int budgets, int choices) {
        return budgets == 1 ? choices - 1 : (int) ((long) k * (choices - 1) / (budgets - 1));
    }

    /**
     * The README's example: budgets {@code small}, {@code medium}, {@code full}; hidden 5/8..8/8 of the parent, depth
     * L−4, L−2, L; Mamba heads and head channels and attention heads at 1/2, 3/4, 1; FFN per layer (heterogeneous) at
     * 1/2, 2/3, 5/6, 1; a constructed router of width 256; raw scores. For the {@code example} preset: hidden
     * [160, 192, 224, 256], depth [13, 15, 17], mamba_heads [8, 12, 16], mamba_head_dim [16, 24, 32],
     * attention_heads [4, 6, 8], ffn [384, 512, 640, 768] in every MLP layer.
     * <p>
     * A parent with MoE layers also gets experts at 1/2, 3/4, 1 (multiples of n_group, at least 2 per group and k),
     * moe_ffn and shared_ffn at 1/2, 3/4, 1, and experts_per_token ⌈k/2⌉..k: for the {@code moe-example} preset
     * (16 experts of 128 neurons, shared 256, top-2) experts [8, 12, 16], moe_ffn [64, 96, 128], shared_ffn
     * [128, 192, 256], experts_per_token [1, 2].
     */
    public static Recipe example(ModelDescription parent) {
        Map<Axis, AxisChoices> axes = new EnumMap<>(Axis.class);
        int h = parent.hidden();
        axes.put(Axis.HIDDEN, AxisChoices.global(Axis.HIDDEN, set(1, 5 * h / 8, 6 * h / 8, 7 * h / 8, h)));
        int n = parent.layers().size();
        axes.put(Axis.DEPTH, AxisChoices.global(Axis.DEPTH, set(1, Math.max(1, n - 4), Math.max(1, n - 2), n)));
        for (Axis a : new Axis[] {Axis.MAMBA_HEADS, Axis.MAMBA_HEAD_DIM, Axis.ATTENTION_HEADS}) {
            List<LayerSpec> layers = ElasticJson.layersOf(parent, a);
            if (!layers.isEmpty()) {
                int w = layers.stream().mapToInt(l -> a.parentWidth(parent, l)).min().orElseThrow();
                axes.put(a, AxisChoices.global(a, set(a.granule(parent), w / 2, 3 * w / 4, w)));
            }
        }
        TreeMap<Integer, int[]> ffn = new TreeMap<>();
        for (LayerSpec l : ElasticJson.layersOf(parent, Axis.FFN)) {
            int f = l.ffn();
            ffn.put(l.index(), set(f >= 64 ? 8 : 1, f / 2, 2 * f / 3, 5 * f / 6, f));
        }
        if (!ffn.isEmpty()) {
            axes.put(Axis.FFN, AxisChoices.perLayer(Axis.FFN, ffn));
        }
        parent.moe().ifPresent(moe -> {
            int e = ElasticJson.layersOf(parent, Axis.EXPERTS).stream().mapToInt(LayerSpec::experts).min().orElseThrow();
            int g = moe.routerGroups();
            int k = moe.expertsPerToken();
            int least = Candidates.leastExperts(parent);
            int[] experts = java.util.Arrays.stream(set(g, e / 2, 3 * e / 4, e)).filter(v -> v >= least || v == e).toArray();
            axes.put(Axis.EXPERTS, AxisChoices.global(Axis.EXPERTS, experts));
            for (Axis a : new Axis[] {Axis.MOE_FFN, Axis.SHARED_FFN}) {
                int w = ElasticJson.layersOf(parent, a).stream().mapToInt(l -> a.parentWidth(parent, l)).min().orElseThrow();
                axes.put(a, AxisChoices.global(a, set(w >= 64 ? 8 : 1, w / 2, 3 * w / 4, w)));
            }
            int[] ks = new int[k - (k + 1) / 2 + 1];
            for (int i = 0; i < ks.length; i++) {
                ks[i] = (k + 1) / 2 + i;
            }
            axes.put(Axis.EXPERTS_PER_TOKEN, AxisChoices.global(Axis.EXPERTS_PER_TOKEN, ks));
        });
        return new Recipe(List.of("small", "medium", "full"), axes, PAPER_ROUTER_WIDTH, DEFAULT_SLOPE, true, RouterKind.CONSTRUCTED);
    }

    /**
     * Random candidate lists for tests: every axis, each width axis randomly whole-model or per-layer, 2–4 valid choices
     * per list, {@code budgets} budgets named b0, b1, …, router width 32.
     */
    public static Recipe random(ModelDescription parent, int budgets, long seed, RouterKind router) {
        SplittableRandom r = new SplittableRandom(seed ^ 0x5eedL);
        Map<Axis, AxisChoices> axes = new EnumMap<>(Axis.class);
        axes.put(Axis.HIDDEN, AxisChoices.global(Axis.HIDDEN, pick(r, parent.hidden() / 2, parent.hidden(), 1)));
        int n = parent.layers().size();
        axes.put(Axis.DEPTH, AxisChoices.global(Axis.DEPTH, pick(r, (n + 1) / 2, n, 1)));
        for (Axis a : new Axis[] {Axis.MAMBA_HEADS, Axis.MAMBA_HEAD_DIM, Axis.ATTENTION_HEADS, Axis.FFN, Axis.EXPERTS,
                Axis.MOE_FFN, Axis.SHARED_FFN}) {
            List<LayerSpec> layers = ElasticJson.layersOf(parent, a);
            if (layers.isEmpty()) {
                continue;
            }
            int g = a == Axis.EXPERTS ? Candidates.leastExperts(parent) : a.granule(parent);
            if (r.nextBoolean()) {
                int w = layers.stream().mapToInt(l -> a.parentWidth(parent, l)).min().orElseThrow();
                axes.put(a, AxisChoices.global(a, pick(r, g, w, g)));
            } else {
                TreeMap<Integer, int[]> per = new TreeMap<>();
                for (LayerSpec l : layers) {
                    if (per.isEmpty() || r.nextInt(4) > 0) {
                        per.put(l.index(), pick(r, g, a.parentWidth(parent, l), g));
                    }
                }
                axes.put(a, AxisChoices.perLayer(a, per));
            }
        }
        parent.moe().ifPresent(moe -> axes.put(Axis.EXPERTS_PER_TOKEN,
                AxisChoices.global(Axis.EXPERTS_PER_TOKEN, pick(r, 1, moe.expertsPerToken(), 1))));
        List<String> names = new ArrayList<>();
        for (int k = 0; k < budgets; k++) {
            names.add("b" + k);
        }
        return new Recipe(names, axes, 32, DEFAULT_SLOPE, r.nextBoolean(), router);
    }

    /** 2–4 distinct multiples of {@code granule} in [from, to], always including {@code to}, ascending. */
    private static int[] pick(SplittableRandom r, int from, int to, int granule) {
        TreeSet<Integer> s = new TreeSet<>();
        s.add(to);
        int lo = Math.max(granule, (from + granule - 1) / granule * granule);
        int options = (to - lo) / granule; // multiples below `to`
        int want = Math.min(options, 1 + r.nextInt(3));
        while (s.size() < want + 1) {
            s.add(lo + granule * r.nextInt(options));
        }
        return s.stream().mapToInt(Integer::intValue).toArray();
    }

    private static int[] set(int multiple, int... values) {
        TreeSet<Integer> s = new TreeSet<>();
        int top = values[values.length - 1];
        for (int v : values) {
            int w = v == top ? v : Math.max(multiple, v / multiple * multiple);
            if (w > 0 && w <= top) {
                s.add(w);
            }
        }
        return s.stream().mapToInt(Integer::intValue).toArray();
    }

    /** The metadata of {@code recipe} for {@code parent}. */
    public static ElasticMetadata metadata(ModelDescription parent, Recipe recipe, long seed) {
        SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + 0x6a09e667L);
        // rankings (and scores): per axis, random scores, ranking = descending order (ties by index)
        float[] sHidden = scores(r, parent.hidden());
        float[] sLayers = scores(r, parent.layers().size());
        Map<Integer, Rankings.Layer> per = new TreeMap<>();
        Map<Integer, ImportanceScores.Layer> perScores = new TreeMap<>();
        for (LayerSpec l : parent.layers()) {
            float[][] s = new float[4][];
            int[] sizes = {l.mambaHeads(), l.mambaHeadDim(), l.attentionHeads(), l.ffn()};
            for (int f = 0; f < 4; f++) {
                s[f] = sizes[f] == 0 ? null : scores(r, sizes[f]);
            }
            float[] sExperts = null;
            float[][] sExpertFfn = null;
            float[] sShared = null;
            int[][] rExpertFfn = null;
            if (l.kind() == dev.manyone.elastic.LayerKind.MOE) {
                sExperts = scores(r, l.experts());
                sExpertFfn = new float[l.experts()][];
                rExpertFfn = new int[l.experts()][];
                for (int j = 0; j < l.experts(); j++) {
                    sExpertFfn[j] = scores(r, l.moeFfn());
                    rExpertFfn[j] = order(sExpertFfn[j]);
                }
                sShared = scores(r, l.sharedFfn());
            }
            per.put(l.index(), new Rankings.Layer(order(s[0]), order(s[1]), order(s[2]), order(s[3]), order(sExperts),
                    rExpertFfn, order(sShared)));
            perScores.put(l.index(), new ImportanceScores.Layer(s[0], s[1], s[2], s[3], sExperts, sExpertFfn, sShared));
        }
        Rankings rankings = new Rankings(order(sHidden), order(sLayers), Map.copyOf(per), false);
        ImportanceScores scores = recipe.scores() ? new ImportanceScores(sHidden, sLayers, Map.copyOf(perScores)) : null;

        int b = recipe.budgets().size();
        Router router = null;
        if (recipe.router() != RouterKind.NONE) {
            Map<Axis, AxisRouter> routers = new EnumMap<>(Axis.class);
            int hw = recipe.routerWidth();
            for (AxisChoices c : new TreeMap<>(recipe.axes()).values()) {
                routers.put(c.axis(), recipe.router() == RouterKind.CONSTRUCTED ? constructed(r, c, b, hw) : random(r, c, b, hw));
            }
            router = new Router(b, hw, recipe.slope(), routers);
        }
        List<Budget> budgets = new ArrayList<>();
        ElasticMetadata.Kind kind = router == null ? ElasticMetadata.Kind.RANKINGS : ElasticMetadata.Kind.ROUTER;
        if (router != null) {
            ChoiceSpace space = new ChoiceSpace(parent, rankings, recipe.axes());
            CostModel costs = new CostModel(parent);
            for (int k = 0; k < b; k++) {
                Configuration c = space.configuration(space.state(router.decide(k, space.axes())));
                budgets.add(new Budget(recipe.budgets().get(k), costs.params(c)));
            }
        } else {
            long full = parent.params().total();
            for (int k = 0; k < b; k++) {
                double f = b == 1 ? 1 : 0.5 + 0.5 * k / (b - 1);
                budgets.add(new Budget(recipe.budgets().get(k), Math.round(f * full)));
            }
        }
        return new ElasticMetadata(kind, null, budgets, recipe.axes(), router, rankings, scores);
    }

    private static float[] scores(SplittableRandom r, int n) {
        float[] s = new float[n];
        for (int i = 0; i < n; i++) {
            s[i] = (float) (-Math.log(1 - r.nextDouble())); // exponential: a few items carry most of the mass
        }
        return s;
    }

    /** Indices by descending score, ties by index. */
    private static int[] order(float[] s) {
        if (s == null) {
            return null;
        }
        Integer[] idx = new Integer[s.length];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = i;
        }
        java.util.Arrays.sort(idx, (a, b) -> s[a] != s[b] ? Float.compare(s[b], s[a]) : Integer.compare(a, b));
        int[] out = new int[idx.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = idx[i];
        }
        return out;
    }

    private static float gauss(SplittableRandom r, double std) {
        double u1 = 1 - r.nextDouble();
        double u2 = r.nextDouble();
        return (float) (std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2));
    }

    private static AxisRouter constructed(SplittableRandom r, AxisChoices c, int b, int hw) {
        int out = c.outputs();
        float[] w1 = new float[hw * b];
        float[] b1 = new float[hw];
        for (int j = 0; j < hw; j++) {
            for (int k = 0; k < b; k++) {
                w1[j * b + k] = j < b ? (j == k ? 1f : 0f) : gauss(r, 0.5);
            }
            b1[j] = j < b ? 0f : gauss(r, 0.5);
        }
        float[] w2 = new float[out * hw];
        float[] b2 = new float[out];
        for (int i = 0; i < w2.length; i++) {
            w2[i] = gauss(r, 0.02);
        }
        for (int i = 0; i < out; i++) {
            b2[i] = gauss(r, 0.05);
        }
        for (AxisChoices.Segment s : c.segments()) {
            for (int k = 0; k < b; k++) {
                int pick = constructedChoice(k, b, s.choices().length);
                w2[(s.offset() + pick) * hw + k] += 6f;
            }
        }
        return new AxisRouter(c.axis(), b, hw, out, w1, b1, w2, b2);
    }

    private static AxisRouter random(SplittableRandom r, AxisChoices c, int b, int hw) {
        int out = c.outputs();
        float[] w1 = new float[hw * b];
        float[] b1 = new float[hw];
        float[] w2 = new float[out * hw];
        float[] b2 = new float[out];
        for (int i = 0; i < w1.length; i++) {
            w1[i] = gauss(r, 1.0);
        }
        for (int i = 0; i < hw; i++) {
            b1[i] = gauss(r, 0.5);
        }
        for (int i = 0; i < w2.length; i++) {
            w2[i] = gauss(r, 1 / Math.sqrt(hw));
        }
        for (int i = 0; i < out; i++) {
            b2[i] = gauss(r, 0.1);
        }
        return new AxisRouter(c.axis(), b, hw, out, w1, b1, w2, b2);
    }

    /**
     * Writes the parent — config.json, BF16 random weights, generation_config.json, elastic.json and
     * elastic.safetensors — to {@code target}, atomically.
     */
    public static ElasticMetadata write(NemotronHConfig config, Recipe recipe, long seed, Path target, boolean overwrite)
            throws IOException {
        ModelDescription parent = ModelDescription.of(config);
        ElasticMetadata m = metadata(parent, recipe, seed);
        try (AtomicDirectory out = AtomicDirectory.create(target, overwrite)) {
            new ModelGenerator(config, seed, ModelGenerator.DEFAULT_SHARD_BYTES, Runtime.getRuntime().availableProcessors())
                    .write(out.path(), true, Progress.NONE);
            ElasticFiles.write(out.path(), m, parent);
            out.commit();
        }
        return m;
    }
}
