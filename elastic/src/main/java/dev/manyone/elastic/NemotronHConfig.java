package dev.manyone.elastic;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.manyone.formats.FormatException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * A validated Hugging Face Nemotron-H {@code config.json} ({@code model_type: nemotron_h}).
 *
 * <p>The config keeps the whole JSON object, so fields manyone does not know survive a read/write round trip in
 * their original order. The fields manyone needs are validated once, at construction, and every problem is a
 * {@link FormatException} that names the config file, the field, what was expected and what was found.
 *
 * <p>Rules (see the golden README):
 * <ul>
 *   <li>required positive integers: {@code vocab_size, hidden_size, intermediate_size, num_hidden_layers,
 *       num_attention_heads, num_key_value_heads, mamba_num_heads, mamba_head_dim, n_groups, ssm_state_size,
 *       conv_kernel}; {@code head_dim} defaults, as in Hugging Face, to {@code hidden_size / num_attention_heads};</li>
 *   <li>{@code layer_norm_epsilon} is a positive number (Hugging Face's default 1e-5 when absent);</li>
 *   <li>{@code hybrid_override_pattern} has one character per layer: {@code M} Mamba2, {@code *} attention,
 *       {@code -} MLP, {@code E} MoE (then the MoE fields of {@link MoeConfig} and the widths
 *       {@code n_routed_experts}, {@code moe_intermediate_size}, {@code moe_shared_expert_intermediate_size} are
 *       required, and k, router groups and experts must be consistent);</li>
 *   <li>mamba heads are a multiple of {@code n_groups}; query heads are a multiple of {@code num_key_value_heads};</li>
 *   <li>optional {@code layer_configs} (written by manyone for heterogeneous children): one object per layer,
 *       {@code {"block_type": "mamba", "mamba_num_heads": …, "mamba_head_dim": …}},
 *       {@code {"block_type": "attention", "num_attention_heads": …}} or
 *       {@code {"block_type": "mlp", "intermediate_size": …}} or {@code {"block_type": "moe", "n_routed_experts": …,
 *       "moe_intermediate_size": …, "moe_shared_expert_intermediate_size": …}}; the block type agrees with the pattern, a width
 *       missing from an entry is the scalar field, and the divisibility rules hold per layer.</li>
 * </ul>
 * Instances are immutable; {@link #with} and {@link #withLayers} derive new, validated configs.
 */
public final class NemotronHConfig {

    /** Hugging Face NemotronHConfig's default {@code layer_norm_epsilon}. */
    public static final double DEFAULT_LAYER_NORM_EPSILON = 1e-5;

    private static final String LAYER_CONFIGS = "layer_configs";

    private final ObjectNode json;
    private final Path source;

    private final int vocabSize;
    private final int hiddenSize;
    private final int intermediateSize;
    private final int numHiddenLayers;
    private final int numAttentionHeads;
    private final int numKeyValueHeads;
    private final int headDim;
    private final int mambaNumHeads;
    private final int mambaHeadDim;
    private final int nGroups;
    private final int ssmStateSize;
    private final int convKernel;
    private final double layerNormEpsilon;
    private final boolean tieWordEmbeddings;
    private final String hybridOverridePattern;
    private final List<LayerSpec> layers;
    private final List<Integer> eosTokenIds;
    private final String torchDtype;
    private final double[] timeStepLimit;
    /** Null when the pattern has no {@code E} layer (MoE fields of dense configs are ignored, as HF does). */
    private final MoeConfig moe;

    // ------------------------------------------------------------------------------------------------ reading

    /**
     * Reads and validates a config.json. A directory is taken to mean its {@code config.json}.
     *
     * @throws FormatException if the file is missing, unreadable, not JSON or not a valid Nemotron-H config
     */
    public static NemotronHConfig read(Path configJson) {
        Path file = Files.isDirectory(configJson) ? configJson.resolve("config.json") : configJson;
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new FormatException(file, "config.json not found");
        } catch (IOException e) {
            throw new FormatException(file, null, "cannot read config.json: " + e, e);
        }
        return parse(text, file);
    }

    /**
     * Parses and validates config JSON text. The bare tokens {@code Infinity}, {@code -Infinity} and {@code NaN}
     * are accepted (the Hub configs write them); duplicate keys and trailing content are rejected.
     *
     * @param sourceForMessages the file named in error messages and returned by {@link #source()}; may be null
     */
    public static NemotronHConfig parse(String json, Path sourceForMessages) {
        Path where = messageFile(sourceForMessages);
        JsonNode root = HubJson.read(json, where);
        if (root == null || root.isMissingNode()) {
            throw new FormatException(where, "expected a JSON object, found an empty file");
        }
        if (!root.isObject()) {
            throw new FormatException(where, "expected a JSON object, found " + describe(root));
        }
        return new NemotronHConfig((ObjectNode) root, sourceForMessages);
    }

    private NemotronHConfig(ObjectNode json, Path source) {
        this.json = json;
        this.source = source;

        JsonNode modelType = json.get("model_type");
        if (modelType == null) {
            throw error("missing required field \"model_type\" (expected \"nemotron_h\")");
        }
        if (!modelType.isTextual() || !modelType.asText().equals("nemotron_h")) {
            throw error("field \"model_type\": expected \"nemotron_h\", found "
                    + (modelType.isTextual() ? "\"" + modelType.asText() + "\"" : describe(modelType)));
        }
        vocabSize = requiredPositiveInt(json, "vocab_size", "");
        hiddenSize = requiredPositiveInt(json, "hidden_size", "");
        intermediateSize = requiredPositiveInt(json, "intermediate_size", "");
        numHiddenLayers = requiredPositiveInt(json, "num_hidden_layers", "");
        numAttentionHeads = requiredPositiveInt(json, "num_attention_heads", "");
        numKeyValueHeads = requiredPositiveInt(json, "num_key_value_heads", "");
        JsonNode hd = json.get("head_dim");
        if (hd == null || hd.isNull()) {
            headDim = hiddenSize / numAttentionHeads; // as Hugging Face derives it
            if (headDim == 0) {
                throw error("head_dim is absent and hidden_size / num_attention_heads = " + hiddenSize + " / "
                        + numAttentionHeads + " rounds to 0; expected a positive head_dim");
            }
        } else {
            headDim = requiredPositiveInt(json, "head_dim", "");
        }
        mambaNumHeads = requiredPositiveInt(json, "mamba_num_heads", "");
        mambaHeadDim = requiredPositiveInt(json, "mamba_head_dim", "");
        nGroups = requiredPositiveInt(json, "n_groups", "");
        ssmStateSize = requiredPositiveInt(json, "ssm_state_size", "");
        convKernel = requiredPositiveInt(json, "conv_kernel", "");
        layerNormEpsilon = positiveNumber(json, "layer_norm_epsilon", DEFAULT_LAYER_NORM_EPSILON);
        tieWordEmbeddings = optionalBoolean(json, "tie_word_embeddings", false);
        checkDivisible("mamba_num_heads", mambaNumHeads, "n_groups", nGroups);
        checkDivisible("num_attention_heads", numAttentionHeads, "num_key_value_heads", numKeyValueHeads);

        JsonNode pattern = json.get("hybrid_override_pattern");
        if (pattern == null) {
            throw error("missing required field \"hybrid_override_pattern\" (expected a string such as \"M-M*-\")");
        }
        if (!pattern.isTextual()) {
            throw error("field \"hybrid_override_pattern\": expected a string, found " + describe(pattern));
        }
        hybridOverridePattern = pattern.asText();
        if (hybridOverridePattern.length() != numHiddenLayers) {
            throw error("hybrid_override_pattern \"" + hybridOverridePattern + "\" has "
                    + hybridOverridePattern.length() + " layers, expected num_hidden_layers = " + numHiddenLayers);
        }
        moe = hybridOverridePattern.indexOf(LayerKind.MOE.symbol()) >= 0 ? readMoe() : null;
        layers = readLayers();
        eosTokenIds = readEosTokenIds();
        torchDtype = readTorchDtype();
        timeStepLimit = readTimeStepLimit();
    }

    /**
     * The model-wide MoE fields (golden README, "MoE layers"): {@code num_experts_per_tok}, {@code n_group},
     * {@code topk_group}, {@code norm_topk_prob}, {@code routed_scaling_factor}, {@code n_shared_experts} (must be 1)
     * and {@code moe_latent_size} (absent or null: no latent). The widths {@code n_routed_experts},
     * {@code moe_intermediate_size} and {@code moe_shared_expert_intermediate_size} are read per layer.
     */
    private MoeConfig readMoe() {
        int k = requiredPositiveInt(json, "num_experts_per_tok", "");
        int groups = optionalPositiveInt(json, "n_group", 1);
        int topkGroup = optionalPositiveInt(json, "topk_group", groups);
        if (topkGroup > groups) {
            throw error("field \"topk_group\": expected at most n_group (" + groups + "), found " + topkGroup);
        }
        int shared = optionalPositiveInt(json, "n_shared_experts", 1);
        if (shared != 1) {
            throw error("field \"n_shared_experts\": expected 1 (Nemotron-H has one shared expert of "
                    + "moe_shared_expert_intermediate_size neurons), found " + shared);
        }
        boolean norm = optionalBoolean(json, "norm_topk_prob", true);
        double scale = positiveNumber(json, "routed_scaling_factor", 1.0);
        JsonNode latent = json.get("moe_latent_size");
        int latentSize = latent == null || latent.isNull() ? 0 : requiredPositiveInt(json, "moe_latent_size", "");
        return new MoeConfig(k, groups, topkGroup, norm, scale, latentSize);
    }

    private int optionalPositiveInt(JsonNode object, String field, int fallback) {
        JsonNode n = object.get(field);
        return n == null || n.isNull() ? fallback : requiredPositiveInt(object, field, "");
    }

    /**
     * The routing rules one MoE layer must satisfy: experts divisible by n_group, at least two per group when
     * grouped (a group scores the sum of its two best), and k no more than the experts the groups leave eligible.
     */
    private void checkMoeLayer(String where, int experts) {
        checkDivisible(where + "n_routed_experts", experts, "n_group", moe.routerGroups());
        int perGroup = experts / moe.routerGroups();
        if (moe.routerGroups() > 1 && perGroup < 2) {
            throw error("field \"" + where + "n_routed_experts\": expected at least 2 experts per router group ("
                    + "a group scores the sum of its two best), found " + experts + " experts in "
                    + moe.routerGroups() + " groups");
        }
        int eligible = moe.topkGroup() * perGroup;
        if (moe.expertsPerToken() > eligible) {
            throw error("field \"num_experts_per_tok\": expected at most " + eligible + " ("
                    + (moe.routerGroups() > 1 ? "topk_group " + moe.topkGroup() + " × " + perGroup
                    + " experts per group" : "the routed experts") + (where.isEmpty() ? "" : " of " + where
                    .substring(0, where.length() - 1)) + "), found " + moe.expertsPerToken());
        }
    }

    /** {@code time_step_limit} [min, max] (max may be Infinity), or null when absent. */
    private double[] readTimeStepLimit() {
        JsonNode n = json.get("time_step_limit");
        if (n == null || n.isNull()) {
            return null;
        }
        if (!n.isArray() || n.size() != 2 || !n.get(0).isNumber() || !n.get(1).isNumber()) {
            throw error("field \"time_step_limit\": expected [min, max], found " + describe(n));
        }
        double lo = n.get(0).doubleValue();
        double hi = n.get(1).doubleValue();
        if (Double.isNaN(lo) || Double.isNaN(hi) || lo < 0 || hi < lo) {
            throw error("field \"time_step_limit\": expected 0 <= min <= max, found [" + lo + ", " + hi + "]");
        }
        return new double[] {lo, hi};
    }

    /** One LayerSpec per pattern character, widths from {@code layer_configs} or else the scalar fields. */
    private List<LayerSpec> readLayers() {
        LayerKind[] kinds = new LayerKind[numHiddenLayers];
        for (int i = 0; i < numHiddenLayers; i++) {
            kinds[i] = LayerKind.fromSymbol(hybridOverridePattern.charAt(i), i, messageFile(source));
        }
        JsonNode configs = json.get(LAYER_CONFIGS);
        if (configs != null && !configs.isNull()) {
            if (!configs.isArray()) {
                throw error("field \"layer_configs\": expected an array of " + numHiddenLayers
                        + " objects, found " + describe(configs));
            }
            if (configs.size() != numHiddenLayers) {
                throw error("field \"layer_configs\": expected one entry per layer (" + numHiddenLayers
                        + "), found " + configs.size());
            }
        } else {
            configs = null;
        }
        List<LayerSpec> out = new ArrayList<>(numHiddenLayers);
        for (int i = 0; i < numHiddenLayers; i++) {
            JsonNode entry = configs == null ? null : configs.get(i);
            String where = "layer_configs[" + i + "].";
            if (entry != null) {
                if (!entry.isObject()) {
                    throw error("field \"layer_configs[" + i + "]\": expected an object, found " + describe(entry));
                }
                JsonNode bt = entry.get("block_type");
                if (bt == null || !bt.isTextual()) {
                    throw error("field \"" + where + "block_type\": expected \"" + kinds[i].blockType()
                            + "\", found " + (bt == null ? "nothing" : describe(bt)));
                }
                LayerKind declared = LayerKind.fromBlockType(bt.asText());
                if (declared != kinds[i]) {
                    throw error("field \"" + where + "block_type\": expected \"" + kinds[i].blockType()
                            + "\" (hybrid_override_pattern has '" + kinds[i].symbol() + "' at layer " + i
                            + "), found \"" + bt.asText() + "\"");
                }
            }
            LayerSpec spec = switch (kinds[i]) {
                case MAMBA -> {
                    int heads = entryInt(entry, "mamba_num_heads", where, mambaNumHeads);
                    int dim = entryInt(entry, "mamba_head_dim", where, mambaHeadDim);
                    checkDivisible(where + "mamba_num_heads", heads, "n_groups", nGroups);
                    yield LayerSpec.mamba(i, heads, dim);
                }
                case ATTENTION -> {
                    int heads = entryInt(entry, "num_attention_heads", where, numAttentionHeads);
                    checkDivisible(where + "num_attention_heads", heads, "num_key_value_heads", numKeyValueHeads);
                    yield LayerSpec.attention(i, heads);
                }
                case MLP -> LayerSpec.mlp(i, entryInt(entry, "intermediate_size", where, intermediateSize));
                case MOE -> {
                    int experts = entryInt(entry, "n_routed_experts", where,
                            requiredPositiveInt(json, "n_routed_experts", ""));
                    int moeFfn = entryInt(entry, "moe_intermediate_size", where,
                            requiredPositiveInt(json, "moe_intermediate_size", ""));
                    int sharedFfn = entryInt(entry, "moe_shared_expert_intermediate_size", where,
                            requiredPositiveInt(json, "moe_shared_expert_intermediate_size", ""));
                    checkMoeLayer(entry == null ? "" : where, experts);
                    yield LayerSpec.moe(i, experts, moeFfn, sharedFfn);
                }
            };
            out.add(spec);
        }
        return List.copyOf(out);
    }

    private int entryInt(JsonNode entry, String field, String prefix, int fallback) {
        if (entry == null || !entry.has(field)) {
            return fallback;
        }
        return requiredPositiveInt(entry, field, prefix);
    }

    /** {@code eos_token_id}: absent or null, an integer, or a list of integers. */
    private List<Integer> readEosTokenIds() {
        JsonNode n = json.get("eos_token_id");
        if (n == null || n.isNull()) {
            return List.of();
        }
        List<Integer> ids = new ArrayList<>();
        if (n.isArray()) {
            for (int k = 0; k < n.size(); k++) {
                ids.add(tokenId(n.get(k), "eos_token_id[" + k + "]"));
            }
        } else {
            ids.add(tokenId(n, "eos_token_id"));
        }
        return List.copyOf(ids);
    }

    private int tokenId(JsonNode n, String field) {
        if (!n.isIntegralNumber() || !n.canConvertToInt() || n.intValue() < 0) {
            throw error("field \"" + field + "\": expected a token id (an integer >= 0), found " + describe(n));
        }
        return n.intValue();
    }

    /** {@code torch_dtype}, or {@code dtype} (its name since transformers 4.56). */
    private String readTorchDtype() {
        for (String field : new String[]{"torch_dtype", "dtype"}) {
            JsonNode n = json.get(field);
            if (n != null && !n.isNull()) {
                if (!n.isTextual()) {
                    throw error("field \"" + field + "\": expected a string such as \"bfloat16\", found " + describe(n));
                }
                return n.asText();
            }
        }
        return null;
    }

    private int requiredPositiveInt(JsonNode object, String field, String prefix) {
        JsonNode n = object.get(field);
        String name = "\"" + prefix + field + "\"";
        if (n == null) {
            throw error("missing required field " + name + " (expected a positive integer)");
        }
        if (!n.isIntegralNumber()) {
            throw error("field " + name + ": expected an integer, found " + describe(n));
        }
        if (!n.canConvertToInt()) {
            throw error("field " + name + ": expected an integer below 2^31, found " + n.asText());
        }
        if (n.intValue() <= 0) {
            throw error("field " + name + ": expected a positive integer, found " + n.intValue());
        }
        return n.intValue();
    }

    private double positiveNumber(JsonNode object, String field, double fallback) {
        JsonNode n = object.get(field);
        if (n == null) {
            return fallback;
        }
        if (!n.isNumber()) {
            throw error("field \"" + field + "\": expected a positive number, found " + describe(n));
        }
        double v = n.doubleValue();
        if (!(v > 0) || Double.isInfinite(v)) {
            throw error("field \"" + field + "\": expected a positive finite number, found " + HubJson.pythonRepr(v));
        }
        return v;
    }

    private boolean optionalBoolean(JsonNode object, String field, boolean fallback) {
        JsonNode n = object.get(field);
        if (n == null || n.isNull()) {
            return fallback;
        }
        if (!n.isBoolean()) {
            throw error("field \"" + field + "\": expected true or false, found " + describe(n));
        }
        return n.booleanValue();
    }

    private void checkDivisible(String field, int value, String byField, int by) {
        if (value % by != 0) {
            throw error("field \"" + field + "\": expected a multiple of " + byField + " (" + by + "), found "
                    + value);
        }
    }

    private FormatException error(String reason) {
        return new FormatException(messageFile(source), reason);
    }

    /** Derived configs have no file; their messages name "config.json". */
    private static Path messageFile(Path source) {
        return source != null ? source : Path.of("config.json");
    }

    /** "a string ("64")", "a boolean (true)", "null", "an array", ... for messages. */
    private static String describe(JsonNode n) {
        if (n.isTextual()) {
            String s = n.asText();
            return "a string (\"" + (s.length() > 40 ? s.substring(0, 40) + "…" : s) + "\")";
        }
        if (n.isBoolean()) {
            return "a boolean (" + n.asText() + ")";
        }
        if (n.isNull()) {
            return "null";
        }
        if (n.isArray()) {
            return "an array";
        }
        if (n.isObject()) {
            return "an object";
        }
        if (n.isNumber()) {
            return n.isIntegralNumber() ? "an integer (" + n.asText() + ")"
                    : "a floating-point number (" + HubJson.pythonRepr(n.doubleValue()) + ")";
        }
        return n.getNodeType().toString().toLowerCase();
    }

    // ------------------------------------------------------------------------------------------------ accessors

    public int vocabSize() {
        return vocabSize;
    }

    public int hiddenSize() {
        return hiddenSize;
    }

    /** MLP width; with layer_configs, the largest of the MLP layers. */
    public int intermediateSize() {
        return intermediateSize;
    }

    public int numHiddenLayers() {
        return numHiddenLayers;
    }

    /** Query heads; with layer_configs, the largest of the attention layers. */
    public int numAttentionHeads() {
        return numAttentionHeads;
    }

    public int numKeyValueHeads() {
        return numKeyValueHeads;
    }

    /** {@code head_dim}, or {@code hidden_size / num_attention_heads} when absent. */
    public int headDim() {
        return headDim;
    }

    public int mambaNumHeads() {
        return mambaNumHeads;
    }

    public int mambaHeadDim() {
        return mambaHeadDim;
    }

    public int nGroups() {
        return nGroups;
    }

    public int ssmStateSize() {
        return ssmStateSize;
    }

    public int convKernel() {
        return convKernel;
    }

    public double layerNormEpsilon() {
        return layerNormEpsilon;
    }

    /** {@code tie_word_embeddings}, false when absent. */
    public boolean tieWordEmbeddings() {
        return tieWordEmbeddings;
    }

    public String hybridOverridePattern() {
        return hybridOverridePattern;
    }

    /** One spec per layer, in order, widths from {@code layer_configs} where given. */
    public List<LayerSpec> layers() {
        return layers;
    }

    /** {@code eos_token_id} as a list (it may be an integer or a list); empty when absent. */
    public List<Integer> eosTokenIds() {
        return eosTokenIds;
    }

    /** The dt clamp [min, max] of the Mamba layers ({@code time_step_limit}), or null when the config has none. */
    public double[] timeStepLimit() {
        return timeStepLimit == null ? null : timeStepLimit.clone();
    }

    /** The MoE settings, present when the pattern has an {@code E} layer. */
    public Optional<MoeConfig> moe() {
        return Optional.ofNullable(moe);
    }

    /** {@code torch_dtype} (or {@code dtype}), e.g. "bfloat16". */
    public Optional<String> torchDtype() {
        return Optional.ofNullable(torchDtype);
    }

    /** The file this config was read from; null for configs parsed without one or derived with {@link #with}. */
    public Path source() {
        return source;
    }

    /** A deep copy of the whole JSON object, unknown fields included. */
    public ObjectNode json() {
        return json.deepCopy();
    }

    // ------------------------------------------------------------------------------------------------ deriving

    /**
     * A new validated config: a copy of this JSON edited by {@code edit}. This config is not changed.
     *
     * @throws FormatException if the edited JSON is not a valid Nemotron-H config
     */
    public NemotronHConfig with(Consumer<ObjectNode> edit) {
        ObjectNode copy = json.deepCopy();
        edit.accept(copy);
        return new NemotronHConfig(copy, null);
    }

    /**
     * The config of a child with {@code hidden} channels and the given layers (golden README, "Child config"):
     * <ul>
     *   <li>{@code hidden_size}, {@code num_hidden_layers} and {@code hybrid_override_pattern} are rewritten; layer j
     *       of the list becomes child layer j (the specs' own indices are ignored);</li>
     *   <li>each scalar width field ({@code mamba_num_heads}, {@code mamba_head_dim}, {@code num_attention_heads},
     *       {@code intermediate_size}) takes the largest value among the child's layers of that kind, and keeps the
     *       parent's value when the child has no layer of that kind;</li>
     *   <li>when any layer differs from its scalar, {@code layer_configs} lists one object per child layer;
     *       otherwise it is removed;</li>
     *   <li>if the parent relies on the default {@code head_dim} and the child's default would differ, the parent's
     *       head_dim is written explicitly (the attention head size never changes).</li>
     * </ul>
     * Every other field is the parent's, in the parent's order.
     */
    public NemotronHConfig withLayers(int hidden, List<LayerSpec> childLayers) {
        return withLayers(hidden, childLayers, 0);
    }

    /**
     * As {@link #withLayers(int, List)}, for MoE children too: {@code n_routed_experts},
     * {@code moe_intermediate_size} and {@code moe_shared_expert_intermediate_size} take the largest value among the
     * child's MoE layers, and {@code num_experts_per_tok} becomes {@code expertsPerToken} unless that is 0 (keep the
     * parent's k). {@code n_group}, {@code topk_group}, {@code norm_topk_prob}, {@code routed_scaling_factor} and
     * {@code moe_latent_size} never change.
     */
    public NemotronHConfig withLayers(int hidden, List<LayerSpec> childLayers, int expertsPerToken) {
        if (hidden <= 0) {
            throw new IllegalArgumentException("hidden must be positive, got " + hidden);
        }
        if (childLayers.isEmpty()) {
            throw new IllegalArgumentException("a child needs at least one layer");
        }
        List<LayerSpec> renumbered = new ArrayList<>(childLayers.size());
        StringBuilder pattern = new StringBuilder();
        int maxMambaHeads = 0;
        int maxMambaHeadDim = 0;
        int maxAttentionHeads = 0;
        int maxFfn = 0;
        int maxExperts = 0;
        int maxMoeFfn = 0;
        int maxSharedFfn = 0;
        for (int j = 0; j < childLayers.size(); j++) {
            LayerSpec l = childLayers.get(j).withIndex(j);
            renumbered.add(l);
            pattern.append(l.kind().symbol());
            maxMambaHeads = Math.max(maxMambaHeads, l.mambaHeads());
            maxMambaHeadDim = Math.max(maxMambaHeadDim, l.mambaHeadDim());
            maxAttentionHeads = Math.max(maxAttentionHeads, l.attentionHeads());
            maxFfn = Math.max(maxFfn, l.ffn());
            maxExperts = Math.max(maxExperts, l.experts());
            maxMoeFfn = Math.max(maxMoeFfn, l.moeFfn());
            maxSharedFfn = Math.max(maxSharedFfn, l.sharedFfn());
        }
        boolean hasMoe = maxExperts > 0;
        int mambaHeads = maxMambaHeads > 0 ? maxMambaHeads : mambaNumHeads;
        int mambaDim = maxMambaHeadDim > 0 ? maxMambaHeadDim : mambaHeadDim;
        int attentionHeads = maxAttentionHeads > 0 ? maxAttentionHeads : numAttentionHeads;
        int ffn = maxFfn > 0 ? maxFfn : intermediateSize;

        boolean heterogeneous = false;
        for (LayerSpec l : renumbered) {
            heterogeneous |= switch (l.kind()) {
                case MAMBA -> l.mambaHeads() != mambaHeads || l.mambaHeadDim() != mambaDim;
                case ATTENTION -> l.attentionHeads() != attentionHeads;
                case MLP -> l.ffn() != ffn;
                case MOE -> l.experts() != maxExperts || l.moeFfn() != maxMoeFfn || l.sharedFfn() != maxSharedFfn;
            };
        }
        int experts = maxExperts;
        int moeFfn = maxMoeFfn;
        int sharedFfn = maxSharedFfn;
        boolean heterogeneousFinal = heterogeneous;
        return with(o -> {
            o.put("hidden_size", hidden);
            o.put("num_hidden_layers", renumbered.size());
            o.put("hybrid_override_pattern", pattern.toString());
            o.put("mamba_num_heads", mambaHeads);
            o.put("mamba_head_dim", mambaDim);
            o.put("num_attention_heads", attentionHeads);
            o.put("intermediate_size", ffn);
            if (hasMoe) {
                o.put("n_routed_experts", experts);
                o.put("moe_intermediate_size", moeFfn);
                o.put("moe_shared_expert_intermediate_size", sharedFfn);
            }
            if (expertsPerToken > 0) {
                o.put("num_experts_per_tok", expertsPerToken);
            }
            JsonNode hd = o.get("head_dim");
            if ((hd == null || hd.isNull()) && hidden / attentionHeads != headDim) {
                o.put("head_dim", headDim);
            }
            if (heterogeneousFinal) {
                ArrayNode array = o.putArray(LAYER_CONFIGS);
                for (LayerSpec l : renumbered) {
                    ObjectNode e = array.addObject();
                    e.put("block_type", l.kind().blockType());
                    switch (l.kind()) {
                        case MAMBA -> {
                            e.put("mamba_num_heads", l.mambaHeads());
                            e.put("mamba_head_dim", l.mambaHeadDim());
                        }
                        case ATTENTION -> e.put("num_attention_heads", l.attentionHeads());
                        case MLP -> e.put("intermediate_size", l.ffn());
                        case MOE -> {
                            e.put("n_routed_experts", l.experts());
                            e.put("moe_intermediate_size", l.moeFfn());
                            e.put("moe_shared_expert_intermediate_size", l.sharedFfn());
                        }
                    }
                }
            } else {
                o.remove(LAYER_CONFIGS);
            }
        });
    }

    // ------------------------------------------------------------------------------------------------ writing

    /**
     * The JSON text: 2-space indentation, fields in their original order, one array element per line, floats in
     * Python's repr (so {@code 1e-05} stays {@code 1e-05}), non-finite numbers as the bare tokens {@code Infinity},
     * {@code -Infinity} and {@code NaN} as the Hub configs write them, and a trailing newline. Deterministic.
     */
    public String toJson() {
        return HubJson.write(json);
    }

    /**
     * Writes {@link #toJson()} to {@code file} atomically: a temporary file in the same directory, flushed to disk,
     * then moved over {@code file} with {@code ATOMIC_MOVE}.
     *
     * @throws java.io.UncheckedIOException if the file cannot be written
     */
    public void write(Path file) {
        HubJson.writeAtomically(file, toJson());
    }

    // ------------------------------------------------------------------------------------------------ identity

    /** Equal when the JSON objects are equal (the source file does not matter). */
    @Override
    public boolean equals(Object o) {
        return o instanceof NemotronHConfig c && json.equals(c.json);
    }

    @Override
    public int hashCode() {
        return json.hashCode();
    }

    @Override
    public String toString() {
        return "NemotronHConfig[" + (source == null ? "derived" : source) + ", pattern " + hybridOverridePattern
                + ", hidden " + hiddenSize + ", vocab " + vocabSize + "]";
    }
}
