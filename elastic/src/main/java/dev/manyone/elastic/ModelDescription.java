package dev.manyone.elastic;

import dev.manyone.formats.DType;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.TensorInfo;
import dev.manyone.formats.TensorSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;

/**
 * What a Nemotron-H checkpoint of a given config contains: every tensor with its shape, the parameter count and the
 * inference memory. Shapes, per layer (widths from {@link LayerSpec}; d_inner = heads · head_dim, G = n_groups,
 * N = ssm_state_size, K = conv_kernel, H = hidden, V = vocab, F = ffn):
 * <ul>
 *   <li>every layer: {@code norm.weight [H]};</li>
 *   <li>Mamba2: {@code in_proj [2·d_inner + 2·G·N + heads, H]}, {@code conv1d.weight [d_inner + 2·G·N, 1, K]},
 *       {@code conv1d.bias [d_inner + 2·G·N]}, {@code A_log}, {@code D}, {@code dt_bias [heads]},
 *       {@code norm.weight [d_inner]}, {@code out_proj [H, d_inner]};</li>
 *   <li>attention: {@code q_proj [heads·head_dim, H]}, {@code k_proj} and {@code v_proj [kv_heads·head_dim, H]},
 *       {@code o_proj [H, heads·head_dim]};</li>
 *   <li>MLP: {@code up_proj [F, H]}, {@code down_proj [H, F]};</li>
 *   <li>MoE (E experts of I neurons, shared expert Is, Hm = latent L or H): {@code gate.weight [E, H]},
 *       {@code gate.e_score_correction_bias [E]} (F32), per expert j {@code experts.j.up_proj [I, Hm]} and
 *       {@code experts.j.down_proj [Hm, I]}, {@code shared_experts.up_proj [Is, H]} and {@code down_proj [H, Is]},
 *       with a latent {@code fc1_latent_proj [L, H]} and {@code fc2_latent_proj [H, L]};</li>
 *   <li>model: {@code embeddings [V, H]}, {@code norm_f [H]}, {@code lm_head [V, H]} unless the embeddings are
 *       tied.</li>
 * </ul>
 */
public final class ModelDescription {

    private final NemotronHConfig config;
    private final List<LayerSpec> layers;
    private final int hidden;
    private final int vocab;
    private final int nGroups;
    private final int ssmState;
    private final int convKernel;
    private final int kvHeads;
    private final int headDim;
    private final boolean tied;
    private final MoeConfig moe;
    private final List<List<ExpectedTensor>> layerTensors;
    private final List<ExpectedTensor> expectedTensors;
    private final WeightLayout layout;

    private ModelDescription(NemotronHConfig config, WeightLayout layout) {
        this.config = config;
        this.layout = layout;
        this.layers = config.layers();
        this.hidden = config.hiddenSize();
        this.vocab = config.vocabSize();
        this.nGroups = config.nGroups();
        this.ssmState = config.ssmStateSize();
        this.convKernel = config.convKernel();
        this.kvHeads = config.numKeyValueHeads();
        this.headDim = config.headDim();
        this.tied = config.tieWordEmbeddings();
        this.moe = config.moe().orElse(null);

        List<List<ExpectedTensor>> perLayer = new ArrayList<>();
        for (LayerSpec l : layers) {
            perLayer.add(List.copyOf(buildLayer(l)));
        }
        this.layerTensors = List.copyOf(perLayer);

        List<ExpectedTensor> all = new ArrayList<>();
        all.add(t(TensorNames.EMBEDDINGS, "[vocab, hidden]", vocab, hidden)); // [V, H]
        perLayer.forEach(all::addAll);
        all.add(t(TensorNames.NORM_F, "[hidden]", hidden)); // [H]
        if (!tied) {
            all.add(t(TensorNames.LM_HEAD, "[vocab, hidden]", vocab, hidden)); // [V, H]
        }
        this.expectedTensors = List.copyOf(all);
    }

    /**
     * The description of the model that {@code config} defines, stored as its own {@code quantization_config} says
     * (plain when it has none; see {@link WeightLayout#of(NemotronHConfig)}).
     */
    public static ModelDescription of(NemotronHConfig config) {
        return new ModelDescription(config, WeightLayout.of(config));
    }

    /** The description of the model that {@code config} defines, its tensors stored as {@code layout} says. */
    public static ModelDescription of(NemotronHConfig config, WeightLayout layout) {
        return new ModelDescription(config, java.util.Objects.requireNonNull(layout, "layout"));
    }

    private List<ExpectedTensor> buildLayer(LayerSpec l) {
        int i = l.index();
        long h = hidden;
        List<ExpectedTensor> out = new ArrayList<>();
        out.add(t(TensorNames.layerNorm(i), "[hidden]", h)); // [H]
        switch (l.kind()) {
            case MAMBA -> {
                long heads = l.mambaHeads();
                long dInner = l.dInner();
                long groupState = 2L * nGroups * ssmState;
                long convChannels = dInner + groupState;
                // [2*d_inner + 2*G*N + heads, hidden]: z | x | B | C | dt
                out.add(t(TensorNames.inProj(i), "[2*d_inner + 2*G*N + heads, hidden]",
                        2 * dInner + groupState + heads, h));
                // [d_inner + 2*G*N, 1, K]: depthwise conv over x | B | C
                out.add(t(TensorNames.conv1dWeight(i), "[d_inner + 2*G*N, 1, K]", convChannels, 1, convKernel));
                // [d_inner + 2*G*N]
                out.add(t(TensorNames.conv1dBias(i), "[d_inner + 2*G*N]", convChannels));
                out.add(t(TensorNames.aLog(i), "[heads]", heads)); // [heads]
                out.add(t(TensorNames.d(i), "[heads]", heads)); // [heads]
                out.add(t(TensorNames.dtBias(i), "[heads]", heads)); // [heads]
                out.add(t(TensorNames.mambaNorm(i), "[d_inner]", dInner)); // [d_inner]
                out.add(t(TensorNames.outProj(i), "[hidden, d_inner]", h, dInner)); // [H, d_inner]
            }
            case ATTENTION -> {
                long q = (long) l.attentionHeads() * headDim;
                long kv = (long) kvHeads * headDim;
                out.add(t(TensorNames.qProj(i), "[heads*head_dim, hidden]", q, h)); // [heads*head_dim, H]
                out.add(t(TensorNames.kProj(i), "[kv_heads*head_dim, hidden]", kv, h)); // [kv*head_dim, H]
                out.add(t(TensorNames.vProj(i), "[kv_heads*head_dim, hidden]", kv, h)); // [kv*head_dim, H]
                out.add(t(TensorNames.oProj(i), "[hidden, heads*head_dim]", h, q)); // [H, heads*head_dim]
            }
            case MLP -> {
                out.add(t(TensorNames.upProj(i), "[ffn, hidden]", l.ffn(), h)); // [F, H]
                out.add(t(TensorNames.downProj(i), "[hidden, ffn]", h, l.ffn())); // [H, F]
            }
            case MOE -> {
                long e = l.experts();
                long hm = moe.expertWidth(hidden);
                String hmDoc = moe.hasLatent() ? "latent" : "hidden";
                out.add(t(TensorNames.gate(i), "[experts, hidden]", e, h)); // [E, H]
                out.add(t(TensorNames.correctionBias(i), "[experts]", e)); // [E], F32
                for (int j = 0; j < l.experts(); j++) {
                    out.add(t(TensorNames.expertUp(i, j), "[moe_ffn, " + hmDoc + "]", l.moeFfn(), hm)); // [I, Hm]
                    out.add(t(TensorNames.expertDown(i, j), "[" + hmDoc + ", moe_ffn]", hm, l.moeFfn())); // [Hm, I]
                }
                out.add(t(TensorNames.sharedUp(i), "[shared_ffn, hidden]", l.sharedFfn(), h)); // [Is, H]
                out.add(t(TensorNames.sharedDown(i), "[hidden, shared_ffn]", h, l.sharedFfn())); // [H, Is]
                if (moe.hasLatent()) {
                    out.add(t(TensorNames.latentIn(i), "[latent, hidden]", hm, h)); // [L, H]
                    out.add(t(TensorNames.latentOut(i), "[hidden, latent]", h, hm)); // [H, L]
                }
            }
        }
        return out;
    }

    private static ExpectedTensor t(String name, String doc, long... shape) {
        return new ExpectedTensor(name, shape, doc);
    }

    // ------------------------------------------------------------------------------------------------ accessors

    public NemotronHConfig config() {
        return config;
    }

    public List<LayerSpec> layers() {
        return layers;
    }

    public int hidden() {
        return hidden;
    }

    public int vocab() {
        return vocab;
    }

    public int nGroups() {
        return nGroups;
    }

    public int ssmState() {
        return ssmState;
    }

    public int convKernel() {
        return convKernel;
    }

    public int kvHeads() {
        return kvHeads;
    }

    public int headDim() {
        return headDim;
    }

    /** The MoE settings, present when the model has an {@code E} layer. */
    public Optional<MoeConfig> moe() {
        return Optional.ofNullable(moe);
    }

    /** How the tensors are stored: plain, or some linear weights quantized (FP8, NVFP4). */
    public WeightLayout layout() {
        return layout;
    }

    /** True when {@code lm_head} is the embedding matrix (no {@code lm_head.weight} tensor). */
    public boolean tied() {
        return tied;
    }

    /**
     * Every tensor in canonical order: embeddings; for each layer its norm, then its mixer tensors in the order of
     * the golden README; norm_f; lm_head unless tied.
     */
    public List<ExpectedTensor> expectedTensors() {
        return expectedTensors;
    }

    /** The tensors of layer {@code i}: its norm, then its mixer tensors. */
    public List<ExpectedTensor> layerTensors(int i) {
        if (i < 0 || i >= layerTensors.size()) {
            throw new IndexOutOfBoundsException("layer " + i + " of a model with " + layerTensors.size() + " layers");
        }
        return layerTensors.get(i);
    }

    // ------------------------------------------------------------------------------------------------ checking

    /**
     * Compares a checkpoint with this description and reports every difference at once: missing tensors, unexpected
     * tensors, wrong shapes, and weights whose dtype is not floating point.
     *
     * @throws FormatException naming {@code src.location()}, one problem per line, if anything differs
     */
    public void check(TensorSource src) {
        List<String> problems = problems(src);
        if (!problems.isEmpty()) {
            Path cfg = config.source() != null ? config.source() : Path.of("config.json");
            throw new FormatException(src.location(), "checkpoint does not match " + cfg + " ("
                    + problems.size() + (problems.size() == 1 ? " problem" : " problems") + "):\n"
                    + String.join("\n", problems));
        }
    }

    /**
     * Every difference between the checkpoint and this description, one line each; empty when they agree. Each
     * expected tensor is checked as {@link #layout()} stores it: a floating-point tensor of its shape, or a quantized
     * module's weight and scales (wrong dtypes, shapes and scales, missing scales, named per tensor).
     */
    public List<String> problems(TensorSource src) {
        List<String> problems = new ArrayList<>();
        Set<String> expectedNames = new HashSet<>();
        for (ExpectedTensor e : expectedTensors) {
            expectedNames.addAll(layout.storedNames(e));
            layout.problems(e, src, problems);
        }
        for (TensorInfo t : src.tensors()) {
            if (!expectedNames.contains(t.name()) && !unused(t)) {
                problems.add("unexpected tensor " + t.name() + unexpectedHint(t.name()));
            }
        }
        return List.copyOf(problems);
    }

    private boolean unused(TensorInfo t) {
        return TensorNames.isMtp(t.name()) || layout.isKvCacheScale(t);
    }

    /**
     * The checkpoint's tensors that manyone reads past: the multi-token-prediction head ({@code mtp.*}) of some
     * Nemotron 3 checkpoints, and the KV-cache scales of a checkpoint with {@code kv_cache_quant_algo} (manyone keeps
     * the KV cache in fp32). {@link #check} accepts them; children and exports drop them.
     */
    public List<String> unusedTensors(TensorSource src) {
        List<String> out = new ArrayList<>();
        for (TensorInfo t : src.tensors()) {
            if (unused(t)) {
                out.add(t.name());
            }
        }
        return List.copyOf(out);
    }

    private String unexpectedHint(String name) {
        if (name.equals(TensorNames.LM_HEAD) && tied) {
            return " (tie_word_embeddings is true)";
        }
        String quant = layout.unexpectedHint(name);
        if (!quant.isEmpty()) {
            return quant;
        }
        OptionalInt layer = TensorNames.layerOf(name);
        if (layer.isPresent()) {
            int i = layer.getAsInt();
            return i < layers.size()
                    ? " (layer " + i + " is " + layers.get(i).kind().blockType() + " in hybrid_override_pattern)"
                    : " (the config has " + layers.size() + " layers)";
        }
        return "";
    }

    // ------------------------------------------------------------------------------------------------ sizes

    /**
     * Exact parameter counts, from the shapes of {@link #expectedTensors()}. The active count per token is the total
     * less, in every MoE layer, the routed experts a token does not use: it keeps k experts (k =
     * {@code num_experts_per_tok}), the shared expert, the router and its bias, the latent projections and everything
     * outside the MoE layers.
     */
    public ParamCount params() {
        long embeddings = count(List.of(expectedTensors.get(0)));
        long finalNorm = (long) hidden;
        long lmHead = tied ? 0 : (long) vocab * hidden;
        List<Long> perLayer = new ArrayList<>();
        Map<LayerKind, Long> perKind = new EnumMap<>(LayerKind.class);
        long total = embeddings + finalNorm + lmHead;
        long inactive = 0;
        for (int i = 0; i < layers.size(); i++) {
            LayerSpec l = layers.get(i);
            long n = count(layerTensors.get(i));
            perLayer.add(n);
            perKind.merge(l.kind(), n, Math::addExact);
            total = Math.addExact(total, n);
            if (l.kind() == LayerKind.MOE) {
                long perExpert = mul(2, l.moeFfn(), moe.expertWidth(hidden));
                inactive = Math.addExact(inactive, mul(l.experts() - Math.min(l.experts(), moe.expertsPerToken()),
                        perExpert));
            }
        }
        return new ParamCount(total, total - inactive, embeddings, lmHead, finalNorm, perLayer, perKind);
    }

    private static long count(List<ExpectedTensor> tensors) {
        long n = 0;
        for (ExpectedTensor t : tensors) {
            n = Math.addExact(n, t.elementCount());
        }
        return n;
    }

    /**
     * Inference memory for {@code batch} sequences of {@code context} tokens (see {@link MemoryEstimate}):
     * <ul>
     *   <li>weights: params().total() · weightDtype bytes (every expert resident; the F32 correction biases are
     *       counted at the weight dtype);</li>
     *   <li>KV cache: Σ over attention layers of {@code 2 · batch · kv_heads · context · head_dim · bytes};</li>
     *   <li>Mamba state: Σ over Mamba2 layers of
     *       {@code batch · ((d_inner + 2·G·N) · (K − 1) + heads · head_dim · N) · bytes};</li>
     * </ul>
     * where bytes is the size of {@code stateDtype}.
     */
    public MemoryEstimate memory(DType weightDtype, int batch, long context, DType stateDtype) {
        if (batch <= 0 || context < 0) {
            throw new IllegalArgumentException("batch must be positive and context >= 0, got " + batch + ", " + context);
        }
        long weights = Math.multiplyExact(params().total(), weightDtype.size());
        long bytes = stateDtype.size();
        long kv = 0;
        long mamba = 0;
        for (LayerSpec l : layers) {
            switch (l.kind()) {
                case ATTENTION -> kv = Math.addExact(kv,
                        mul(2, batch, kvHeads, context, headDim, bytes));
                case MAMBA -> {
                    long conv = mul((long) l.dInner() + 2L * nGroups * ssmState, convKernel - 1);
                    long ssm = mul(l.mambaHeads(), l.mambaHeadDim(), ssmState);
                    mamba = Math.addExact(mamba, mul(batch, Math.addExact(conv, ssm), bytes));
                }
                case MLP, MOE -> {
                    // stateless
                }
            }
        }
        return new MemoryEstimate(weights, kv, mamba);
    }

    private static long mul(long... factors) {
        long n = 1;
        for (long f : factors) {
            n = Math.multiplyExact(n, f);
        }
        return n;
    }

    @Override
    public String toString() {
        return "ModelDescription[" + config.hybridOverridePattern() + ", hidden " + hidden + ", "
                + expectedTensors.size() + " tensors" + (layout == WeightLayout.PLAIN ? "" : ", " + layout) + "]";
    }
}
