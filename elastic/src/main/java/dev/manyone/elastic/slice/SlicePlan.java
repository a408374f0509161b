package dev.manyone.elastic.slice;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.manyone.elastic.ExpectedTensor;
import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.MoeConfig;
import dev.manyone.elastic.NemotronHConfig;
import dev.manyone.elastic.TensorNames;
import dev.manyone.elastic.WeightLayout;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.quant.QuantSlice;
import dev.manyone.formats.quant.QuantizationConfig;
import dev.manyone.formats.quant.QuantizedLinear;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The complete recipe for one child: its config and, in canonical order, every child tensor as a slice of a
 * parent tensor. Implements the golden README's "Child extraction rules":
 * <ul>
 *   <li>hidden: the top {@code hidden} channels, in embeddings and lm_head columns, every norm, the input columns
 *       of in_proj / q / k / v / up_proj and the output rows of out_proj / o_proj / down_proj;</li>
 *   <li>Mamba: per group its top heads, one shared set of head channels; in_proj rows z | x at the kept d_inner
 *       indices, all B/C rows, the dt rows of kept heads; conv1d rows of kept x channels then all B/C rows;
 *       A_log, D, dt_bias by head; norm.weight by d_inner index; out_proj columns; G and N never change;</li>
 *   <li>attention: every KV head; per KV group its top query heads (q rows, o columns);</li>
 *   <li>MLP: the top {@code ffn} neurons (up rows, down columns);</li>
 *   <li>MoE ("Rankings, specs and child rules"): the top {@code experts} by the layer's ranking, per router group
 *       when n_group &gt; 1 ("keep experts/n_group from each group, each group's best by the ranking"), written
 *       "in ascending original id and renumber[ed] 0..E′−1"; "gate.weight rows and e_score_correction_bias
 *       entries follow the kept experts"; "each kept expert keeps its own top moe_ffn neurons by its own ranking,
 *       expert_ffn[original id]" (up rows, down columns), the shared expert its top {@code shared_ffn}; hidden
 *       cuts the gate columns, the shared expert's up columns and down rows, and the experts' up columns and down
 *       rows without a latent or the fc1_latent_proj columns and fc2_latent_proj rows with one ("the experts keep
 *       their latent width"); the child's k is the spec's {@code num_experts_per_tok} or the parent's;</li>
 *   <li>depth: layers not kept are removed and the rest renumbered.</li>
 * </ul>
 * {@link #tensors()} are the logical tensors (what the graph reads, what {@link #params()} counts); {@link #stored()}
 * the tensors the child checkpoint holds, each a slice of a stored parent tensor. They are the same for a plain
 * parent. For a quantized one (FP8, NVFP4) the parent's {@link WeightLayout} expands each logical slice of a quantized
 * module into its stored tensors (golden README, "Slicing rules for quantized tensors": "The child extraction rules
 * above choose the rows and columns; what gets sliced is the stored bytes"), and the child's
 * {@code quantization_config} is the parent's with "an entry {@code backbone.layers.<i>.…} of its lists mov[ed] with
 * layer i to the layer's new index, or [gone] when layer i is dropped; other entries stay"
 * ({@link QuantizationConfig#forChild}).
 *
 * @param config       the child's config.json (with its own {@code quantization_config} for a quantized parent)
 * @param parentLayers the parent layers kept, as the spec resolved them
 * @param hidden       the kept hidden channels
 * @param tensors      the logical child tensors, canonical order
 * @param stored       the stored child tensors, canonical order (a quantized module: weight, weight_scale,
 *                     [weight_scale_2,] input_scale)
 * @param quantization the child's quantization (also written as its hf_quant_config.json), or null for a plain parent
 */
public record SlicePlan(NemotronHConfig config, List<LayerSpec> parentLayers, int[] hidden, List<TensorSlice> tensors,
                        List<TensorSlice> stored, QuantizationConfig quantization) {

    /** Plans a child; refuses impossible specs with a FormatException naming {@code specFile}. */
    public static SlicePlan of(ModelDescription parent, ChildSpec spec, Rankings rankings, Path specFile) {
        List<LayerSpec> kept = spec.resolve(parent, specFile);
        int h = spec.hidden() == null ? parent.hidden() : spec.hidden();
        int[] hidden = Selection.top(rankings.hidden(), h);
        boolean allHidden = h == parent.hidden();
        int[] hCols = allHidden ? null : hidden;

        NemotronHConfig childConfig = parent.config().withLayers(h, kept, spec.childExpertsPerToken(parent));
        QuantizationConfig childQuant = parent.layout().quantization().map(q -> q.forChild(newIndex(kept))).orElse(null);
        if (childQuant != null) {
            ObjectNode q = childQuant.toConfigJson();
            childConfig = childConfig.with(o -> o.set(QUANTIZATION_CONFIG, q));
        }
        List<TensorSlice> out = new ArrayList<>();
        out.add(new TensorSlice(TensorNames.EMBEDDINGS, TensorNames.EMBEDDINGS, shape(parent.vocab(), h), null, hCols));
        for (int j = 0; j < kept.size(); j++) {
            LayerSpec c = kept.get(j);
            int i = c.index();
            LayerSpec p = parent.layers().get(i);
            Rankings.Layer r = rankings.layer(i);
            // [H]
            out.add(new TensorSlice(TensorNames.layerNorm(j), TensorNames.layerNorm(i), shape(h), hCols, null));
            switch (c.kind()) {
                case MAMBA -> mamba(out, parent, p, c, r, i, j, h, hCols);
                case ATTENTION -> attention(out, parent, p, c, r, i, j, h, hCols);
                case MLP -> mlp(out, p, c, r, i, j, h, hCols);
                case MOE -> moe(out, parent, p, c, r, i, j, h, hCols);
            }
        }
        out.add(new TensorSlice(TensorNames.NORM_F, TensorNames.NORM_F, shape(h), hCols, null));
        if (!parent.tied()) {
            out.add(new TensorSlice(TensorNames.LM_HEAD, TensorNames.LM_HEAD, shape(parent.vocab(), h), null, hCols));
        }
        List<TensorSlice> logical = List.copyOf(out);
        WeightLayout childLayout = WeightLayout.of(Optional.ofNullable(childQuant));
        requireSameQuantization(parent, childLayout, logical);
        SlicePlan plan = new SlicePlan(childConfig, kept, hidden, logical, stored(parent, logical), childQuant);
        plan.checkAgainst(ModelDescription.of(childConfig, childLayout));
        return plan;
    }

    private static final String QUANTIZATION_CONFIG = "quantization_config";

    /** Parent layer index to child layer index, for the kept layers. */
    static Map<Integer, Integer> newIndex(List<LayerSpec> kept) {
        Map<Integer, Integer> m = new HashMap<>();
        for (int j = 0; j < kept.size(); j++) {
            m.put(kept.get(j).index(), j);
        }
        return m;
    }

    /**
     * The stored child tensors: each logical slice expanded by the parent's layout
     * ({@link WeightLayout#storedSlices}); a stored tensor {@code X.suffix} of parent module {@code X} becomes
     * {@code X'.suffix} of the child's module. Refuses (FormatException, before anything is read or written) a
     * selection the stored format cannot represent: NVFP4 columns that cut a 16-column block.
     */
    private static List<TensorSlice> stored(ModelDescription parent, List<TensorSlice> logical) {
        WeightLayout layout = parent.layout();
        if (layout.quantization().isEmpty()) {
            return logical;
        }
        Map<String, ExpectedTensor> byName = new HashMap<>();
        for (ExpectedTensor e : parent.expectedTensors()) {
            byName.put(e.name(), e);
        }
        Path file = parent.config().source() == null ? null : parent.config().source().toAbsolutePath().getParent();
        List<TensorSlice> out = new ArrayList<>();
        for (TensorSlice t : logical) {
            ExpectedTensor e = byName.get(t.parentName());
            String parentModule = module(t.parentName());
            String childModule = module(t.name());
            for (QuantSlice.Stored s : layout.storedSlices(e, file, t.rows(), t.cols())) {
                String name = s.name().equals(t.parentName()) ? t.name() : childModule + s.name().substring(parentModule.length());
                out.add(new TensorSlice(name, s.name(), s.shape(), s.rows(), s.cols()));
            }
        }
        return List.copyOf(out);
    }

    /**
     * Every child tensor must be stored as its parent tensor is: the renumbered exclude list must not quantize a
     * module the parent keeps in floating point or the reverse. That can only happen with exclude entries that match
     * by substring or wildcard across layer numbers (e.g. {@code backbone.layers.1} also matching layer 10); such a
     * child is refused, naming the module.
     */
    private static void requireSameQuantization(ModelDescription parent, WeightLayout child, List<TensorSlice> logical) {
        if (parent.layout().quantization().isEmpty()) {
            return;
        }
        Map<String, ExpectedTensor> byName = new HashMap<>();
        for (ExpectedTensor e : parent.expectedTensors()) {
            byName.put(e.name(), e);
        }
        for (TensorSlice t : logical) {
            boolean was = parent.layout().quantized(byName.get(t.parentName()));
            boolean is = child.quantized(new ExpectedTensor(t.name(), t.shape(), "child"));
            if (was != is) {
                Path cfg = parent.config().source();
                throw new FormatException(cfg, "quantization_config.exclude_modules: renumbered for the child, the list "
                        + (is ? "no longer excludes " + module(t.name()) + " (parent " + module(t.parentName()) + ", stored unquantized)"
                        : "excludes " + module(t.name()) + " (parent " + module(t.parentName()) + ", stored quantized)")
                        + "; expected entries that name whole layers' modules exactly (e.g. backbone.layers.3.mixer.q_proj)");
            }
        }
    }

    /** {@code X} of {@code X.weight}; the name itself otherwise. */
    private static String module(String name) {
        return name.endsWith(QuantizedLinear.WEIGHT) ? name.substring(0, name.length() - QuantizedLinear.WEIGHT.length()) : name;
    }

    private static void mamba(List<TensorSlice> out, ModelDescription parent, LayerSpec p, LayerSpec c,
                              Rankings.Layer r, int i, int j, int h, int[] hCols) {
        int groups = parent.nGroups();
        int gn = groups * parent.ssmState();
        int dInner = p.dInner();
        int[] heads = Selection.topPerGroup(r.mambaHeads(), groups, c.mambaHeads());
        int[] channels = Selection.top(r.mambaHeadChannels(), c.mambaHeadDim());
        int[] inner = Selection.headChannels(heads, channels, p.mambaHeadDim()); // kept d_inner indices
        boolean allInner = inner.length == dInner;
        int childInner = inner.length;
        // in_proj rows: z [d_inner] | x [d_inner] | B [G·N] | C [G·N] | dt [heads]
        int[] inRows = Selection.concat(inner, Selection.offset(inner, dInner), Selection.range(2 * dInner, 2 * dInner + 2 * gn),
                Selection.offset(heads, 2 * dInner + 2 * gn));
        // conv channels: x [d_inner] | B [G·N] | C [G·N]
        int[] convRows = Selection.concat(inner, Selection.range(dInner, dInner + 2 * gn));
        int[] headRows = heads.length == p.mambaHeads() ? null : heads;
        int[] innerRows = allInner ? null : inner;
        int[] innerRowsFull = allInner ? null : inRows;
        int[] convRowsFull = allInner ? null : convRows;
        // [2·d_inner' + 2·G·N + heads', H']
        out.add(new TensorSlice(TensorNames.inProj(j), TensorNames.inProj(i),
                shape(2L * childInner + 2L * gn + heads.length, h), innerRowsFull, hCols));
        // [d_inner' + 2·G·N, 1, K]
        out.add(new TensorSlice(TensorNames.conv1dWeight(j), TensorNames.conv1dWeight(i),
                shape(childInner + 2L * gn, 1, parent.convKernel()), convRowsFull, null));
        // [d_inner' + 2·G·N]
        out.add(new TensorSlice(TensorNames.conv1dBias(j), TensorNames.conv1dBias(i), shape(childInner + 2L * gn), convRowsFull, null));
        // [heads']
        out.add(new TensorSlice(TensorNames.aLog(j), TensorNames.aLog(i), shape(heads.length), headRows, null));
        out.add(new TensorSlice(TensorNames.d(j), TensorNames.d(i), shape(heads.length), headRows, null));
        out.add(new TensorSlice(TensorNames.dtBias(j), TensorNames.dtBias(i), shape(heads.length), headRows, null));
        // [d_inner']
        out.add(new TensorSlice(TensorNames.mambaNorm(j), TensorNames.mambaNorm(i), shape(childInner), innerRows, null));
        // [H', d_inner']
        out.add(new TensorSlice(TensorNames.outProj(j), TensorNames.outProj(i), shape(h, childInner), hCols, innerRows));
    }

    private static void attention(List<TensorSlice> out, ModelDescription parent, LayerSpec p, LayerSpec c,
                                  Rankings.Layer r, int i, int j, int h, int[] hCols) {
        int hd = parent.headDim();
        int kv = parent.kvHeads();
        int[] heads = Selection.topPerGroup(r.attentionHeads(), kv, c.attentionHeads());
        int[] qRows = heads.length == p.attentionHeads() ? null : Selection.blocks(heads, hd);
        // q [heads'·hd, H'], k and v [kv·hd, H'], o [H', heads'·hd]
        out.add(new TensorSlice(TensorNames.qProj(j), TensorNames.qProj(i), shape((long) heads.length * hd, h), qRows, hCols));
        out.add(new TensorSlice(TensorNames.kProj(j), TensorNames.kProj(i), shape((long) kv * hd, h), null, hCols));
        out.add(new TensorSlice(TensorNames.vProj(j), TensorNames.vProj(i), shape((long) kv * hd, h), null, hCols));
        out.add(new TensorSlice(TensorNames.oProj(j), TensorNames.oProj(i), shape(h, (long) heads.length * hd), hCols, qRows));
    }

    private static void mlp(List<TensorSlice> out, LayerSpec p, LayerSpec c, Rankings.Layer r, int i, int j, int h, int[] hCols) {
        int[] neurons = c.ffn() == p.ffn() ? null : Selection.top(r.ffn(), c.ffn());
        // up [F', H'], down [H', F']
        out.add(new TensorSlice(TensorNames.upProj(j), TensorNames.upProj(i), shape(c.ffn(), h), neurons, hCols));
        out.add(new TensorSlice(TensorNames.downProj(j), TensorNames.downProj(i), shape(h, c.ffn()), hCols, neurons));
    }

    private static void moe(List<TensorSlice> out, ModelDescription parent, LayerSpec p, LayerSpec c,
                            Rankings.Layer r, int i, int j, int h, int[] hCols) {
        MoeConfig moe = parent.moe().orElseThrow();
        int groups = moe.routerGroups();
        // kept experts by original id, ascending; child expert e' is parent expert experts[e']
        int[] experts = groups > 1 ? Selection.topPerGroup(r.experts(), groups, c.experts()) : Selection.top(r.experts(), c.experts());
        int[] expertRows = experts.length == p.experts() ? null : experts;
        boolean latent = moe.hasLatent();
        int hm = latent ? moe.latentSize() : h; // the width the experts read and write
        int[] expertHidden = latent ? null : hCols; // with a latent the experts keep their latent width
        // gate [E', H'], correction bias [E'] (F32; stored bytes copied as they are)
        out.add(new TensorSlice(TensorNames.gate(j), TensorNames.gate(i), shape(experts.length, h), expertRows, hCols));
        out.add(new TensorSlice(TensorNames.correctionBias(j), TensorNames.correctionBias(i), shape(experts.length), expertRows, null));
        for (int e = 0; e < experts.length; e++) {
            int original = experts[e];
            int[] neurons = c.moeFfn() == p.moeFfn() ? null : Selection.top(r.expertFfn()[original], c.moeFfn());
            // up [I', Hm'], down [Hm', I']
            out.add(new TensorSlice(TensorNames.expertUp(j, e), TensorNames.expertUp(i, original),
                    shape(c.moeFfn(), hm), neurons, expertHidden));
            out.add(new TensorSlice(TensorNames.expertDown(j, e), TensorNames.expertDown(i, original),
                    shape(hm, c.moeFfn()), expertHidden, neurons));
        }
        int[] shared = c.sharedFfn() == p.sharedFfn() ? null : Selection.top(r.sharedFfn(), c.sharedFfn());
        // shared up [Is', H'], down [H', Is']
        out.add(new TensorSlice(TensorNames.sharedUp(j), TensorNames.sharedUp(i), shape(c.sharedFfn(), h), shared, hCols));
        out.add(new TensorSlice(TensorNames.sharedDown(j), TensorNames.sharedDown(i), shape(h, c.sharedFfn()), hCols, shared));
        if (latent) {
            // fc1 [L, H'], fc2 [H', L]
            out.add(new TensorSlice(TensorNames.latentIn(j), TensorNames.latentIn(i), shape(hm, h), null, hCols));
            out.add(new TensorSlice(TensorNames.latentOut(j), TensorNames.latentOut(i), shape(h, hm), hCols, null));
        }
    }

    private static long[] shape(long... dims) {
        return dims;
    }

    /**
     * The plan must produce exactly the tensors the child config describes, logical and as the child's layout stores
     * them (a bug otherwise, not bad input).
     */
    private void checkAgainst(ModelDescription child) {
        List<ExpectedTensor> expected = child.expectedTensors();
        if (expected.size() != tensors.size()) {
            throw new IllegalStateException("slice plan has " + tensors.size() + " tensors, child config expects " + expected.size());
        }
        for (int k = 0; k < expected.size(); k++) {
            ExpectedTensor e = expected.get(k);
            TensorSlice t = tensors.get(k);
            if (!e.name().equals(t.name()) || !Arrays.equals(e.shape(), t.shape())) {
                throw new IllegalStateException("slice plan tensor " + t + " does not match the child config's " + e);
            }
        }
        List<QuantSlice.Stored> expectedStored = new ArrayList<>();
        for (ExpectedTensor e : expected) {
            expectedStored.addAll(child.layout().stored(e));
        }
        if (expectedStored.size() != stored.size()) {
            throw new IllegalStateException("slice plan stores " + stored.size() + " tensors, the child's layout ("
                    + child.layout() + ") expects " + expectedStored.size());
        }
        for (int k = 0; k < stored.size(); k++) {
            QuantSlice.Stored e = expectedStored.get(k);
            TensorSlice t = stored.get(k);
            if (!e.name().equals(t.name()) || !Arrays.equals(e.shape(), t.shape())) {
                throw new IllegalStateException("slice plan stored tensor " + t + " does not match the child layout's "
                        + e.name() + Arrays.toString(e.shape()));
            }
        }
    }

    /**
     * Total child parameters: the logical weights, "an NVFP4 byte holds 2 parameters and an FP8 byte 1. Scales are
     * not parameters."
     */
    public long params() {
        long n = 0;
        for (TensorSlice t : tensors) {
            n += t.elementCount();
        }
        return n;
    }
}
