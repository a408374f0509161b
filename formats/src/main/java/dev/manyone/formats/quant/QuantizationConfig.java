package dev.manyone.formats.quant;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.manyone.formats.AtomicFiles;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.JsonFiles;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How a ModelOpt checkpoint is quantized: {@code quantization_config} in {@code config.json} and
 * {@code hf_quant_config.json} (golden README, "config.json and hf_quant_config.json"):
 * <blockquote>
 * {@code config.json} is tiny-moe's plus {@code quantization_config}: {@code {"quant_method": "modelopt",
 * "quant_algo": "FP8" or "NVFP4", "group_size": 16 (NVFP4 only), "exclude_modules": [...], "ignore": [...]}}. The two
 * lists are the same. {@code exclude_modules} is ModelOpt's name for it; {@code ignore} is the key that vLLM reads
 * from a flat {@code quantization_config} in config.json.<br>
 * {@code hf_quant_config.json} is {@code {"producer": {"name": "modelopt"}, "quantization": {"quant_algo": …,
 * "kv_cache_quant_algo": null, "group_size": 16 (NVFP4 only), "exclude_modules": [...]}}}. There is no KV-cache
 * quantization.
 * </blockquote>
 * Real NVIDIA checkpoints carry more than this ({@code config_groups}, {@code producer}, {@code kv_cache_scheme}, …
 * in config.json; more fields in hf_quant_config.json): fields manyone does not read are kept, unchanged and in
 * their place, and written back as they came ({@link #toConfigJson()}, {@link #hfQuantConfigText()}). What manyone
 * does read is validated, and a wrong value is refused with a {@link FormatException} naming the file, the field,
 * what was expected and what was found: {@code quant_method} must be modelopt, {@code quant_algo} FP8 or NVFP4,
 * NVFP4's {@code group_size} 16 (required in hf_quant_config.json, optional in config.json, whose
 * {@code config_groups} may carry it instead), FP8 has none, and {@code exclude_modules} and {@code ignore} must be
 * the same list when both are present (either may stand alone; neither means nothing is excluded).
 * {@code kv_cache_quant_algo} is data (null, or a name such as {@code "FP8"}): it concerns the KV cache of a runtime
 * that quantizes it, never the weights that manyone reads, dequantizes and slices, so it is reported, not refused.
 * Writing is deterministic; {@link #hfQuantConfigText()} is Python's {@code json.dumps(indent=2)} plus a newline, so
 * a parent's file comes back byte for byte.
 *
 * @param algo             FP8 or NVFP4
 * @param excludeModules   modules kept unquantized, in file order, no duplicates
 * @param producerVersion  {@code producer.version} of hf_quant_config.json, or null when absent
 * @param kvCacheQuantAlgo {@code kv_cache_quant_algo}, or null (no KV-cache quantization)
 * @param configJson       config.json's {@code quantization_config} as read (unknown fields included), or null
 * @param hfJson           hf_quant_config.json as read (unknown fields included), or null
 */
public record QuantizationConfig(QuantAlgo algo, List<String> excludeModules, String producerVersion,
                                 String kvCacheQuantAlgo, ObjectNode configJson, ObjectNode hfJson) {
    public static final String CONFIG_FILE = "config.json";
    public static final String HF_QUANT_CONFIG_FILE = "hf_quant_config.json";
    public static final String METHOD = "modelopt";

    /** {@code backbone.layers.<i>} followed by the end or a dot; i in canonical decimal. */
    private static final Pattern LAYER_ENTRY = Pattern.compile("backbone\\.layers\\.(0|[1-9][0-9]{0,8})(\\..*)?", Pattern.DOTALL);

    public QuantizationConfig {
        Objects.requireNonNull(algo, "algo");
        excludeModules = List.copyOf(excludeModules);
        configJson = configJson == null ? null : configJson.deepCopy();
        hfJson = hfJson == null ? null : hfJson.deepCopy();
    }

    /** A configuration with no KV-cache quantization and no files behind it (written in the golden layout). */
    public QuantizationConfig(QuantAlgo algo, List<String> excludeModules, String producerVersion) {
        this(algo, excludeModules, producerVersion, null, null, null);
    }

    @Override
    public ObjectNode configJson() {
        return configJson == null ? null : configJson.deepCopy();
    }

    @Override
    public ObjectNode hfJson() {
        return hfJson == null ? null : hfJson.deepCopy();
    }

    /** {@value QuantAlgo#NVFP4_GROUP} for NVFP4, absent for FP8. */
    public Optional<Integer> groupSize() {
        return algo == QuantAlgo.NVFP4 ? Optional.of(QuantAlgo.NVFP4_GROUP) : Optional.empty();
    }

    /**
     * The quantization of checkpoint directory {@code dir}: from {@code config.json}'s {@code quantization_config}
     * and {@code hf_quant_config.json}, which must agree when both are present; empty if neither says the model is
     * quantized (a BF16 checkpoint).
     */
    public static Optional<QuantizationConfig> read(Path dir) {
        Path config = dir.resolve(CONFIG_FILE);
        Path hf = dir.resolve(HF_QUANT_CONFIG_FILE);
        Optional<QuantizationConfig> fromConfig = Files.exists(config)
                ? fromConfig(config, JsonFiles.read(config, "config")) : Optional.empty();
        if (!Files.exists(hf)) {
            return fromConfig;
        }
        return agreeing(fromConfig, fromHfQuantConfig(hf, JsonFiles.read(hf, "ModelOpt quantization config")), hf);
    }

    /**
     * The quantization of a checkpoint whose config.json's {@code quantization_config} is {@code fromConfig} and whose
     * {@code hf_quant_config.json} ({@code hfFile}, named in errors) is {@code fromHf}: they must agree on the algo,
     * the exclude list and (when config.json has one) the KV-cache algo. The result keeps both files' fields.
     */
    public static Optional<QuantizationConfig> agreeing(Optional<QuantizationConfig> fromConfig, QuantizationConfig fromHf,
                                                        Path hfFile) {
        Path hf = hfFile;
        if (fromConfig.isPresent()) {
            QuantizationConfig c = fromConfig.get();
            if (c.algo != fromHf.algo) {
                throw new FormatException(hf, "quantization.quant_algo: expected \"" + c.algo + "\" as in "
                        + CONFIG_FILE + "'s quantization_config, found \"" + fromHf.algo + "\"");
            }
            requireSameList(hf, "quantization.exclude_modules", fromHf.excludeModules,
                    CONFIG_FILE + "'s quantization_config.exclude_modules", c.excludeModules);
            if (c.configJson != null && c.configJson.has("kv_cache_quant_algo")
                    && !Objects.equals(c.kvCacheQuantAlgo, fromHf.kvCacheQuantAlgo)) {
                throw new FormatException(hf, "quantization.kv_cache_quant_algo: expected " + quoted(c.kvCacheQuantAlgo)
                        + " as in " + CONFIG_FILE + "'s quantization_config, found " + quoted(fromHf.kvCacheQuantAlgo));
            }
            return Optional.of(new QuantizationConfig(fromHf.algo, fromHf.excludeModules, fromHf.producerVersion,
                    fromHf.kvCacheQuantAlgo, c.configJson, fromHf.hfJson));
        }
        return Optional.of(fromHf);
    }

    /**
     * The {@code quantization_config} of a parsed config.json ({@code file} is named in errors); empty when the
     * config has none.
     */
    public static Optional<QuantizationConfig> fromConfig(Path file, JsonNode config) {
        if (config == null || !config.isObject()) {
            throw new FormatException(file, "expected a JSON object, found " + describe(config));
        }
        JsonNode q = config.get("quantization_config");
        if (q == null) {
            return Optional.empty();
        }
        String at = "quantization_config";
        requireObject(file, at, q);
        String method = text(file, at + ".quant_method", q.get("quant_method"));
        if (!method.equals(METHOD)) {
            throw new FormatException(file, at + ".quant_method: expected \"" + METHOD + "\" (NVIDIA ModelOpt), found \""
                    + method + "\"");
        }
        QuantAlgo algo = algo(file, at + ".quant_algo", q.get("quant_algo"));
        groupSize(file, at + ".group_size", algo, q.get("group_size"), false);
        String kv = kvCache(file, at + ".kv_cache_quant_algo", q.get("kv_cache_quant_algo"), false);
        List<String> exclude;
        if (q.has("exclude_modules")) {
            exclude = names(file, at + ".exclude_modules", q.get("exclude_modules"));
            if (q.has("ignore")) {
                requireSameList(file, at + ".ignore", names(file, at + ".ignore", q.get("ignore")), at + ".exclude_modules", exclude);
            }
        } else if (q.has("ignore")) {
            exclude = names(file, at + ".ignore", q.get("ignore"));
        } else {
            exclude = List.of();
        }
        return Optional.of(new QuantizationConfig(algo, exclude, null, kv, (ObjectNode) q, null));
    }

    /** A parsed hf_quant_config.json ({@code file} is named in errors). */
    public static QuantizationConfig fromHfQuantConfig(Path file, JsonNode root) {
        requireObject(file, "the top level", root);
        JsonNode producer = root.get("producer");
        requireObject(file, "producer", producer);
        String name = text(file, "producer.name", producer.get("name"));
        if (!name.equals(METHOD)) {
            throw new FormatException(file, "producer.name: expected \"" + METHOD + "\" (NVIDIA ModelOpt), found \"" + name + "\"");
        }
        String version = producer.has("version") ? text(file, "producer.version", producer.get("version")) : null;
        JsonNode q = root.get("quantization");
        requireObject(file, "quantization", q);
        QuantAlgo algo = algo(file, "quantization.quant_algo", q.get("quant_algo"));
        groupSize(file, "quantization.group_size", algo, q.get("group_size"), true);
        String kv = kvCache(file, "quantization.kv_cache_quant_algo", q.get("kv_cache_quant_algo"), true);
        List<String> exclude = names(file, "quantization.exclude_modules", q.get("exclude_modules"));
        return new QuantizationConfig(algo, exclude, version, kv, null, (ObjectNode) root);
    }

    /**
     * The child's configuration (golden README, "Slicing rules for quantized tensors"): "An entry
     * {@code backbone.layers.<i>.…} of its lists moves with layer i to the layer's new index, or goes when layer i is
     * dropped; other entries stay." {@code newIndex} maps each kept parent layer to its child index; a layer it does
     * not hold is dropped. Order is kept.
     */
    public QuantizationConfig forChild(Map<Integer, Integer> newIndex) {
        List<String> out = new ArrayList<>(excludeModules.size());
        for (String entry : excludeModules) {
            Matcher m = LAYER_ENTRY.matcher(entry);
            if (!m.matches()) {
                out.add(entry);
                continue;
            }
            Integer to = newIndex.get(Integer.parseInt(m.group(1)));
            if (to != null) {
                out.add("backbone.layers." + to + (m.group(2) == null ? "" : m.group(2)));
            }
        }
        return new QuantizationConfig(algo, out, producerVersion, kvCacheQuantAlgo, configJson, hfJson);
    }

    /**
     * {@code quantization_config} for config.json: the one read, every field unchanged and in its place except
     * {@code exclude_modules} and {@code ignore} (whichever it had), which hold {@link #excludeModules()}; for a
     * configuration not read from a file, the golden key order: quant_method, quant_algo, group_size (NVFP4 only),
     * exclude_modules, ignore (the same list).
     */
    public ObjectNode toConfigJson() {
        if (configJson != null) {
            ObjectNode q = configJson.deepCopy();
            for (String key : List.of("exclude_modules", "ignore")) {
                if (q.has(key)) {
                    q.set(key, array(excludeModules));
                }
            }
            return q;
        }
        ObjectNode q = JsonNodeFactory.instance.objectNode();
        q.put("quant_method", METHOD);
        q.put("quant_algo", algo.name());
        groupSize().ifPresent(g -> q.put("group_size", g));
        if (kvCacheQuantAlgo != null) {
            q.put("kv_cache_quant_algo", kvCacheQuantAlgo);
        }
        q.set("exclude_modules", array(excludeModules));
        q.set("ignore", array(excludeModules));
        return q;
    }

    /**
     * hf_quant_config.json as a tree: the one read, every field unchanged except {@code quantization.exclude_modules};
     * otherwise in the golden key order.
     */
    public ObjectNode toHfQuantConfigJson() {
        if (hfJson != null) {
            ObjectNode root = hfJson.deepCopy();
            ((ObjectNode) root.get("quantization")).set("exclude_modules", array(excludeModules));
            return root;
        }
        ObjectNode root = JsonNodeFactory.instance.objectNode();
        ObjectNode producer = root.putObject("producer");
        producer.put("name", METHOD);
        if (producerVersion != null) {
            producer.put("version", producerVersion);
        }
        ObjectNode q = root.putObject("quantization");
        q.put("quant_algo", algo.name());
        if (kvCacheQuantAlgo == null) {
            q.putNull("kv_cache_quant_algo");
        } else {
            q.put("kv_cache_quant_algo", kvCacheQuantAlgo);
        }
        groupSize().ifPresent(g -> q.put("group_size", g));
        q.set("exclude_modules", array(excludeModules));
        return root;
    }

    private static com.fasterxml.jackson.databind.node.ArrayNode array(List<String> names) {
        var a = JsonNodeFactory.instance.arrayNode();
        names.forEach(a::add);
        return a;
    }

    /** hf_quant_config.json's text: Python's {@code json.dumps(indent=2)} of {@link #toHfQuantConfigJson()} and "\n". */
    public String hfQuantConfigText() {
        return PythonJson.write(toHfQuantConfigJson());
    }

    /** Writes {@value #HF_QUANT_CONFIG_FILE} into {@code dir} atomically. */
    public void writeHfQuantConfig(Path dir) throws IOException {
        AtomicFiles.write(dir.resolve(HF_QUANT_CONFIG_FILE), hfQuantConfigText().getBytes(StandardCharsets.UTF_8));
    }

    // ---- validation helpers: each names the file, the field, what was expected and what was found

    private static void requireObject(Path file, String at, JsonNode n) {
        if (n == null || !n.isObject()) {
            throw new FormatException(file, at + ": expected a JSON object, found " + describe(n));
        }
    }

    private static String text(Path file, String at, JsonNode n) {
        if (n == null || !n.isTextual()) {
            throw new FormatException(file, at + ": expected a string, found " + describe(n));
        }
        return n.textValue();
    }

    private static QuantAlgo algo(Path file, String at, JsonNode n) {
        String s = text(file, at, n);
        QuantAlgo a = QuantAlgo.parse(s);
        if (a == null) {
            throw new FormatException(file, at + ": expected \"FP8\" or \"NVFP4\", found \"" + s + "\"");
        }
        return a;
    }

    private static void groupSize(Path file, String at, QuantAlgo algo, JsonNode n, boolean required) {
        if (algo == QuantAlgo.FP8) {
            if (n != null && !n.isNull()) {
                throw new FormatException(file, at + ": expected no group_size for FP8 (one scale per tensor), found "
                        + describe(n));
            }
            return;
        }
        if (n == null && !required) {
            return;
        }
        if (n == null) {
            throw new FormatException(file, at + ": expected 16 for NVFP4 (blocks of 16 input columns), found nothing");
        }
        if (!n.isIntegralNumber() || !n.canConvertToInt() || n.intValue() != QuantAlgo.NVFP4_GROUP) {
            throw new FormatException(file, at + ": expected 16 for NVFP4 (blocks of 16 input columns), found " + describe(n));
        }
    }

    /**
     * {@code kv_cache_quant_algo}: null or a non-empty name, kept as data (it concerns a runtime's KV cache, not the
     * weights manyone reads); hf_quant_config.json must have the field.
     */
    private static String kvCache(Path file, String at, JsonNode n, boolean required) {
        if (n == null && !required) {
            return null;
        }
        if (n != null && n.isNull()) {
            return null;
        }
        if (n == null || !n.isTextual() || n.textValue().isEmpty()) {
            throw new FormatException(file, at + ": expected null or the name of a KV-cache format (e.g. \"FP8\"), found "
                    + describe(n));
        }
        return n.textValue();
    }

    private static String quoted(String s) {
        return s == null ? "null" : "\"" + s + "\"";
    }

    private static List<String> names(Path file, String at, JsonNode n) {
        if (n == null || !n.isArray()) {
            throw new FormatException(file, at + ": expected an array of module names, found " + describe(n));
        }
        List<String> out = new ArrayList<>(n.size());
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < n.size(); i++) {
            JsonNode e = n.get(i);
            if (!e.isTextual() || e.textValue().isEmpty()) {
                throw new FormatException(file, at + "[" + i + "]: expected a non-empty module name, found " + describe(e));
            }
            if (!seen.add(e.textValue())) {
                throw new FormatException(file, at + "[" + i + "]: expected each module once, found \"" + e.textValue()
                        + "\" again");
            }
            out.add(e.textValue());
        }
        return out;
    }

    private static void requireSameList(Path file, String at, List<String> found, String otherName, List<String> expected) {
        if (found.equals(expected)) {
            return;
        }
        int i = 0;
        while (i < found.size() && i < expected.size() && found.get(i).equals(expected.get(i))) {
            i++;
        }
        String exp = i < expected.size() ? "\"" + expected.get(i) + "\"" : "the end of the list";
        String got = i < found.size() ? "\"" + found.get(i) + "\"" : "the end of the list";
        throw new FormatException(file, at + ": expected the same list as " + otherName + " (" + expected.size()
                + " entries), found a different one: at index " + i + " expected " + exp + ", found " + got);
    }

    private static String describe(JsonNode n) {
        if (n == null || n.isMissingNode()) {
            return "nothing";
        }
        return switch (n.getNodeType()) {
            case ARRAY -> "an array";
            case OBJECT -> "an object";
            case NULL -> "null";
            default -> n.toString();
        };
    }
}
