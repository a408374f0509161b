package dev.manyone.elastic.export;

import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.MoeConfig;
import dev.manyone.elastic.TensorNames;
import dev.manyone.formats.onnx.Attrs;
import dev.manyone.formats.onnx.ElemType;
import dev.manyone.formats.onnx.GraphBuilder;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The mixture-of-experts mixer of one {@code E} layer (golden README, "MoE layers (Nemotron 3)"; E experts of I
 * neurons, k chosen per token, Hm = latent L or hidden H):
 * <ol>
 *   <li>router, always in fp32 (the correction bias stays F32 in every export dtype; rounded to 16 bits it flips
 *       choices): {@code s = sigmoid(h·gateᵀ)}, {@code sel = s + e_score_correction_bias};</li>
 *   <li>with {@code n_group} > 1 a group scores the sum of its two largest sel; only the {@code topk_group} best
 *       groups stay eligible (the others get sel = −inf);</li>
 *   <li>the k largest sel choose; the weights are the unbiased s, renormalised by (Σ + 1e-20) with
 *       {@code norm_topk_prob}, times {@code routed_scaling_factor};</li>
 *   <li>{@code routed = Σ w_j · down_j(relu(up_j(z))²)} with z = fc1_latent(h) or h, then fc2_latent;</li>
 *   <li>{@code moe(h) = routed + shared_down(relu(shared_up(h))²)}.</li>
 * </ol>
 * <b>Sparse dispatch.</b> The T·k (token, expert) assignments are sorted by expert id (one {@code TopK}); the
 * tokens' inputs are gathered in that order, and expert e computes on its own contiguous slice of rows (start and
 * end counted once for all experts). An expert no token chose gets a 0-row slice: its {@code Gemm}s do no work and
 * do not read its weights. A decode step therefore reads the k chosen experts' weights, and prefill computes each
 * token on its k experts only. The weighted expert outputs are put back in assignment order by a {@code Gather} with
 * the inverse of the sort permutation and summed over each token's k slots (in TopK order), deterministically (a
 * {@code ScatterND} with reduction add races in ONNX Runtime's multi-threaded CPU kernel when one token's rows land
 * on different threads: lost updates). docs/moe.md compares this with the
 * alternatives that were measured; they can still be exported, for measurement only, with the system property
 * {@code -Dmanyone.moe.dispatch=dense|gather} ({@link Dispatch}).
 */
final class MoeMixer {

    /** How the routed experts are evaluated. Only SORTED is sparse in both decode and prefill. */
    enum Dispatch {
        /** Assignments sorted by expert, one row slice per expert (the default). */
        SORTED,
        /** Every expert on every token, mixed with a weight that is 0 for unchosen experts (reads all weights). */
        DENSE,
        /** The chosen experts' weights gathered from stacked [E, …] initializers per assignment (copies them). */
        GATHER;

        static Dispatch current() {
            String p = System.getProperty("manyone.moe.dispatch", "sorted");
            for (Dispatch d : values()) {
                if (d.name().equalsIgnoreCase(p)) {
                    return d;
                }
            }
            throw new IllegalArgumentException("-Dmanyone.moe.dispatch: expected sorted, dense or gather, found '" + p + "'");
        }
    }

    private final NemotronHGraph graph;
    private final GraphBuilder g;
    private final LayerSpec layer;
    private final MoeConfig moe;
    private final int i;
    private final int h;
    private final int hm;

    MoeMixer(NemotronHGraph graph, LayerSpec layer) {
        ModelDescription m = graph.model();
        this.graph = graph;
        this.g = graph.g;
        this.layer = layer;
        this.moe = m.moe().orElseThrow(() -> new IllegalStateException("layer " + layer.index()
                + " is an MoE layer in a model without MoE settings"));
        this.i = layer.index();
        this.h = m.hidden();
        this.hm = moe.expertWidth(h);
    }

    /** u: the normed residual stream [T, H] → the mixer output [T, H]. */
    String build(String u) {
        int e = layer.experts();
        int k = moe.expertsPerToken();
        // ---- router (fp32) ----
        String logits = graph.linear(u, graph.weightF32(TensorNames.gate(i), e, h));        // [T, E]
        String s = g.op("Sigmoid", Attrs.none(), logits);                                    // [T, E]
        String sel = g.op("Add", Attrs.none(), s, graph.weightF32(TensorNames.correctionBias(i), e)); // [T, E]
        if (moe.routerGroups() > 1) {
            sel = limitGroups(sel, e);
        }
        List<String> top = g.ops("TopK", 2, Attrs.none().i("axis", -1).i("largest", 1).i("sorted", 1), sel,
                g.constantInt64("k", k));
        String idx = top.get(1);                                                             // [T, k] int64
        String w = g.op("GatherElements", Attrs.none().i("axis", 1), s, idx);               // [T, k]
        if (moe.normTopkProb()) {
            String sum = g.op("ReduceSum", Attrs.none().i("keepdims", 1), w, g.constantInt64("axes", -1));
            w = g.op("Div", Attrs.none(), w,
                    g.op("Add", Attrs.none(), sum, g.scalarFloat("eps", (float) MoeConfig.NORM_EPSILON)));
        }
        String weights = g.op("Mul", Attrs.none(), w, g.scalarFloat("scale", (float) moe.routedScalingFactor()));

        // ---- routed experts, dispatched sparsely ----
        String z = moe.hasLatent()
                ? graph.linear(u, TensorNames.latentIn(i), hm, h)                            // [T, L]
                : u;
        Dispatch dispatch = Dispatch.current();
        if (graph.options().probes() && dispatch != Dispatch.SORTED) {
            throw new IllegalStateException("MoE probes come from the sorted dispatch; -Dmanyone.moe.dispatch="
                    + dispatch.name().toLowerCase(java.util.Locale.ROOT) + " is for measurement only");
        }
        String routed = graph.routed(k, e, () -> switch (dispatch) {                      // [T, Hm]
            case SORTED -> dispatch(z, idx, weights, e, k);
            case DENSE -> denseDispatch(z, idx, weights, e);
            case GATHER -> gatherDispatch(z, idx, weights, e, k);
        });
        if (moe.hasLatent()) {
            routed = graph.linear(routed, TensorNames.latentOut(i), h, hm);                // [T, H]
        }
        // ---- shared expert, on every token ----
        List<String> sharedAct = new ArrayList<>(1);
        String shared = relu2Mlp(u, TensorNames.sharedUp(i), TensorNames.sharedDown(i), layer.sharedFfn(), h, sharedAct);
        graph.probe(Probes.sharedFfn(i), sharedAct.get(0), layer.sharedFfn());
        return g.op("Add", Attrs.none(), routed, shared);
    }

    /** sel [T, E] with every expert outside the topk_group best groups set to −inf. */
    private String limitGroups(String sel, int e) {
        int groups = moe.routerGroups();
        int per = e / groups;
        String sel3 = graph.reshape(sel, -1, groups, per);                                  // [T, G, E/G]
        String best2 = g.ops("TopK", 2, Attrs.none().i("axis", -1).i("largest", 1).i("sorted", 1), sel3,
                g.constantInt64("k", 2)).get(0);                                             // [T, G, 2]
        String score = g.op("ReduceSum", Attrs.none().i("keepdims", 0), best2, g.constantInt64("axes", -1)); // [T, G]
        String bestGroups = g.ops("TopK", 2, Attrs.none().i("axis", -1).i("largest", 1).i("sorted", 1), score,
                g.constantInt64("k", moe.topkGroup())).get(0);                               // [T, topk_group]
        String threshold = g.op("ReduceMin", Attrs.none().i("keepdims", 1), bestGroups,
                g.constantInt64("axes", -1));                                                // [T, 1]
        String keep = g.op("GreaterOrEqual", Attrs.none(), score, threshold);              // [T, G]
        keep = g.op("Unsqueeze", Attrs.none(), keep, g.constantInt64("axes", -1));         // [T, G, 1]
        String masked = g.op("Where", Attrs.none(), keep, sel3,
                g.scalarFloat("neg_inf", Float.NEGATIVE_INFINITY));                          // [T, G, E/G]
        return graph.reshape(masked, -1, e);                                                 // [T, E]
    }

    /**
     * Σ over each token's k experts of w · expert(z): assignments sorted by expert id, one contiguous slice of rows
     * per expert, weighted outputs put back in assignment order (a Gather by the inverse permutation) and summed over
     * each token's k slots.
     */
    private String dispatch(String z, String idx, String w, int e, int k) {
        String flat = graph.reshape(idx, -1);                                                // [T·k] expert ids
        String n = g.op("Shape", Attrs.none(), flat);                                        // [1] = T·k
        List<String> sorted = g.ops("TopK", 2, Attrs.none().i("axis", 0).i("largest", 0).i("sorted", 1), flat, n);
        String sortedExperts = sorted.get(0);                                                // [T·k] ascending
        String order = sorted.get(1);                                                        // [T·k] positions
        String token = g.op("Div", Attrs.none(), order, g.scalarInt64("k", k));             // [T·k] token of each row
        String rowWeight = g.op("Gather", Attrs.none().i("axis", 0), graph.reshape(w, -1), order); // [T·k]
        String rows = g.op("Gather", Attrs.none().i("axis", 0), z, token);                  // [T·k, Hm]

        // start of expert j = #assignments with id < j; end = #assignments with id < j + 1
        long[] ids = new long[e + 1];
        for (int j = 0; j <= e; j++) {
            ids[j] = j;
        }
        String bounds = g.op("ReduceSum", Attrs.none().i("keepdims", 0),
                g.op("Cast", Attrs.none().i("to", ElemType.INT64.code()),
                        g.op("Less", Attrs.none(), graph.reshape(sortedExperts, 1, -1),
                                graph.reshape(g.constantInt64("expert_ids", ids), e + 1, 1))),
                g.constantInt64("axes", 1));                                                 // [E + 1]
        long[] ones = new long[e + 1];
        Arrays.fill(ones, 1);
        List<String> bound = g.ops("Split", e + 1, Attrs.none().i("axis", 0), bounds,
                g.constantInt64("split", ones));                                             // E + 1 × [1]
        List<String> outputs = new ArrayList<>(e);
        List<String> activations = new ArrayList<>(e);
        String axis0 = g.constantInt64("axes", 0);
        for (int j = 0; j < e; j++) {
            String x = g.op("Slice", Attrs.none(), rows, bound.get(j), bound.get(j + 1), axis0); // [n_j, Hm]
            outputs.add(relu2Mlp(x, TensorNames.expertUp(i, j), TensorNames.expertDown(i, j), layer.moeFfn(), hm,
                    activations));
        }
        String all = g.op("Concat", Attrs.none().i("axis", 0), outputs.toArray(String[]::new)); // [T·k, Hm]
        if (graph.options().probes()) {
            probes(z, token, sortedExperts, rowWeight, all, activations, e);
        }
        String weighted = g.op("Mul", Attrs.none(), all,
                g.op("Unsqueeze", Attrs.none(), rowWeight, g.constantInt64("axes", 1)));   // [T·k, Hm]
        // back to assignment order (row t·k + slot) by the inverse permutation of `order`, then Σ over the k slots.
        // Not ScatterND(reduction add): ONNX Runtime's CPU kernel splits the updates over threads, and two rows of
        // one token on different threads race (lost updates, measured on trained-moe with 2 intra-op threads)
        String inverse = g.ops("TopK", 2, Attrs.none().i("axis", 0).i("largest", 0).i("sorted", 1), order, n).get(1);
        String unsorted = g.op("Gather", Attrs.none().i("axis", 0), weighted, inverse);    // [T·k, Hm]
        return g.op("ReduceSum", Attrs.none().i("keepdims", 0), graph.reshape(unsorted, -1, k, hm),
                g.constantInt64("axes", 1));                                                 // [T, Hm]
    }

    /**
     * The probes of the sorted dispatch, each scattered from the T·k assignment rows into a dense per-token matrix that
     * is 0 where an expert was not chosen: {@link Probes#moeWeights} [T, E] (the final routing weight),
     * {@link Probes#expertNorm} [T, E] (‖expert output‖₂, unweighted) and {@link Probes#expertFfn} [T, E·I] (each
     * expert's relu² activations). Every (token, expert) pair occurs at most once, so the scatters need no reduction.
     */
    private void probes(String z, String token, String sortedExperts, String rowWeight, String all,
                        List<String> activations, int e) {
        int f = layer.moeFfn();
        String axis1 = g.constantInt64("axes", 1);
        String pairs = g.op("Concat", Attrs.none().i("axis", 1), g.op("Unsqueeze", Attrs.none(), token, axis1),
                g.op("Unsqueeze", Attrs.none(), sortedExperts, axis1));                    // [T·k, 2] (token, expert)
        String tokens = g.op("Shape", Attrs.none().i("end", 1), z);                          // [1] = T
        String zero = g.scalarFloat("zero", 0f);
        String zerosTE = g.op("Expand", Attrs.none(), zero,
                g.op("Concat", Attrs.none().i("axis", 0), tokens, g.constantInt64("experts", e))); // [T, E]
        graph.probe(Probes.moeWeights(i), g.op("ScatterND", Attrs.none(), zerosTE, pairs, rowWeight), e);
        String norm = g.op("Sqrt", Attrs.none(), g.op("ReduceSum", Attrs.none().i("keepdims", 0),
                g.op("Mul", Attrs.none(), all, all), axis1));                                // [T·k]
        graph.probe(Probes.expertNorm(i), g.op("ScatterND", Attrs.none(), zerosTE, pairs, norm), e);
        String act = g.op("Concat", Attrs.none().i("axis", 0), activations.toArray(String[]::new)); // [T·k, I]
        String zerosTEI = g.op("Expand", Attrs.none(), zero,
                g.op("Concat", Attrs.none().i("axis", 0), tokens, g.constantInt64("expert_width", e, f))); // [T, E, I]
        graph.probe(Probes.expertFfn(i), graph.reshape(g.op("ScatterND", Attrs.none(), zerosTEI, pairs, act), -1,
                (long) e * f), (long) e * f);                                                // [T, E·I]
    }

    /** Measurement baseline: Σ_j weight_j(token) · expert_j(z) over all E experts, weight 0 where unchosen. */
    private String denseDispatch(String z, String idx, String w, int e) {
        String sum = null;
        String zero = g.scalarFloat("zero", 0f);
        for (int j = 0; j < e; j++) {
            String chosen = g.op("Equal", Attrs.none(), idx, g.scalarInt64("expert", j));         // [T, k]
            String wj = g.op("ReduceSum", Attrs.none().i("keepdims", 1),
                    g.op("Where", Attrs.none(), chosen, w, zero), g.constantInt64("axes", 1));  // [T, 1]
            String y = g.op("Mul", Attrs.none(),
                    relu2Mlp(z, TensorNames.expertUp(i, j), TensorNames.expertDown(i, j), layer.moeFfn(), hm), wj);
            sum = sum == null ? y : g.op("Add", Attrs.none(), sum, y);
        }
        return sum;                                                                           // [T, Hm]
    }

    /**
     * Measurement alternative: the chosen experts' weights gathered per (token, expert) assignment from stacked
     * initializers up [E, I, Hm] and down [E, Hm, I], then batched matrix-vector products.
     */
    private String gatherDispatch(String z, String idx, String w, int e, int k) {
        int f = layer.moeFfn();
        String[] ups = new String[e];
        String[] downs = new String[e];
        for (int j = 0; j < e; j++) {
            ups[j] = TensorNames.expertUp(i, j);
            downs[j] = TensorNames.expertDown(i, j);
        }
        String upAll = graph.stackedWeight("experts_up" + i, ups, e, f, hm);                 // [E, I, Hm]
        String downAll = graph.stackedWeight("experts_down" + i, downs, e, hm, f);           // [E, Hm, I]
        String flat = graph.reshape(idx, -1);                                                // [T·k]
        String token = g.op("Div", Attrs.none(), g.op("Range", Attrs.none(), g.scalarInt64("zero", 0),
                g.op("Squeeze", Attrs.none(), g.op("Shape", Attrs.none(), flat), g.constantInt64("axes", 0)),
                g.scalarInt64("one", 1)), g.scalarInt64("k", k));                            // [T·k]
        String x = g.op("Unsqueeze", Attrs.none(), g.op("Gather", Attrs.none().i("axis", 0), z, token),
                g.constantInt64("axes", 2));                                                 // [T·k, Hm, 1]
        String up = g.op("MatMul", Attrs.none(), g.op("Gather", Attrs.none().i("axis", 0), upAll, flat), x); // [T·k, I, 1]
        String r = g.op("Relu", Attrs.none(), up);
        String y = g.op("MatMul", Attrs.none(), g.op("Gather", Attrs.none().i("axis", 0), downAll, flat),
                g.op("Mul", Attrs.none(), r, r));                                            // [T·k, Hm, 1]
        String weighted = g.op("Mul", Attrs.none(), graph.reshape(y, -1, k, hm),
                g.op("Unsqueeze", Attrs.none(), w, g.constantInt64("axes", 2)));             // [T, k, Hm]
        return g.op("ReduceSum", Attrs.none().i("keepdims", 0), weighted, g.constantInt64("axes", 1)); // [T, Hm]
    }

    /** down(relu(up(x))²): up [f, width], down [width, f]; quantized like every linear in int8/int4 exports. */
    private String relu2Mlp(String x, String upName, String downName, int f, int width) {
        return relu2Mlp(x, upName, downName, f, width, new ArrayList<>(1));
    }

    /** As {@link #relu2Mlp(String, String, String, int, int)}, adding the relu² activations [n, f] to {@code activations}. */
    private String relu2Mlp(String x, String upName, String downName, int f, int width, List<String> activations) {
        String up = graph.linear(x, upName, f, width);                                       // [n, f]
        String r = g.op("Relu", Attrs.none(), up);
        String sq = g.op("Mul", Attrs.none(), r, r);
        activations.add(sq);
        return graph.linear(sq, downName, width, f);                                         // [n, width]
    }
}
