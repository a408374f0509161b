package dev.manyone.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The catalogue of bad inputs in docs/errors.md, executed. The doc is the single source of the commands and
 * messages: each table row {@code | `id` | what is wrong | `manyone command` | `message` |} is run here after the setup registered under
 * {@code id} in {@link #SETUPS} has built the bad input in a fresh directory {@code {W}}; the command must exit 2
 * and print the documented message ({@code {W}} replaced by that directory) and no stack trace. Every setup must
 * have a row and every row a setup.
 *
 * <p>To refresh the messages after a wording change: {@code mvn -pl cli test -Dtest=ErrorCatalogueTest
 * -Dmanyone.errors.regenerate=true} writes {@code cli/target/errors-table.md} with the messages seen; paste it into
 * the doc.
 */
class ErrorCatalogueTest {
    static final Path DOC = Path.of("..", "docs", "errors.md");
    static final Pattern ROW = Pattern.compile("^\\| `([a-z0-9-]+)` \\| [^|]+ \\| `manyone ([^`]+)` \\| `([^`]+)` \\|$");

    interface Setup {
        void build(Path w) throws Exception;
    }

    static Path root;
    static Path elastic;
    static Path moeElastic;
    static Path onnx;
    static final Map<String, String> seen = new LinkedHashMap<>();

    static Path golden() {
        return CliRun.golden().resolve("tiny-hybrid");
    }

    @BeforeAll
    static void fixtures() throws IOException {
        root = Files.createTempDirectory("errors");
        elastic = root.resolve("elastic");
        CliRun g = CliRun.of("generate", "--preset", "tiny", "--elastic", "-o", elastic.toString());
        assertEquals(0, g.code(), g.toString());
        moeElastic = root.resolve("moe-elastic");
        CliRun m = CliRun.of("generate", "--preset", "moe-example", "--elastic", "-o", moeElastic.toString());
        assertEquals(0, m.code(), m.toString());
        onnx = root.resolve("onnx");
        CliRun e = CliRun.of("export", golden().toString(), "-o", onnx.toString());
        assertEquals(0, e.code(), e.toString());
    }

    @AfterAll
    static void writeSeen() throws IOException {
        if (Boolean.getBoolean("manyone.errors.regenerate")) {
            StringBuilder sb = new StringBuilder();
            for (var e : seen.entrySet()) {
                sb.append(e.getKey()).append('\t').append(e.getValue()).append('\n');
            }
            Files.writeString(Path.of("target", "errors-table.md"), sb.toString());
        }
    }

    static void parent(Path w) throws IOException {
        Surgery.copyDir(golden(), w.resolve("parent"));
    }

    /** {@code {W}/moe}: a copy of the golden tiny-moe (Nemotron 3 style MoE) checkpoint. */
    static void moeParent(Path w) throws IOException {
        Surgery.copyDir(CliRun.golden().resolve("tiny-moe"), w.resolve("moe"));
    }

    static void latentParent(Path w) throws IOException {
        Surgery.copyDir(CliRun.golden().resolve("tiny-latent-moe"), w.resolve("latent"));
    }

    /** {@code {W}/fp8}, {@code {W}/nvfp4}: copies of the golden quantized parents tiny-moe-fp8 and tiny-moe-nvfp4. */
    static void quantizedParent(Path w, String algo) throws IOException {
        Surgery.copyDir(CliRun.golden().resolve("tiny-moe-" + algo), w.resolve(algo));
    }

    static void replaceIn(Path file, String from, String to) throws IOException {
        String s = Files.readString(file, StandardCharsets.UTF_8);
        if (!s.contains(from)) {
            throw new IllegalStateException(file + " has no '" + from + "'");
        }
        Files.writeString(file, s.replace(from, to), StandardCharsets.UTF_8);
    }

    static void elasticParent(Path w) throws IOException {
        Surgery.copyDir(elastic, w.resolve("elastic"));
    }

    /** {@code {W}/moe-elastic}: a {@code generate --preset moe-example --elastic} parent. */
    static void moeElasticParent(Path w) throws IOException {
        Surgery.copyDir(moeElastic, w.resolve("moe-elastic"));
    }

    /** Replaces axis {@code axis} of an elastic.json with {@code choices} (a whole-model list). */
    static void editAxis(Path dir, String axis, int... choices) throws IOException {
        Path j = dir.resolve("elastic.json");
        ObjectNode o = (ObjectNode) Surgery.JSON.readTree(j.toFile());
        var a = ((ObjectNode) o.get("axes")).putArray(axis);
        for (int c : choices) {
            a.add(c);
        }
        Files.writeString(j, Surgery.JSON.writeValueAsString(o));
    }

    static void exported(Path w) throws IOException {
        Surgery.copyDir(onnx, w.resolve("onnx"));
    }

    static void text(Path f, String s) throws IOException {
        Files.createDirectories(f.getParent());
        Files.writeString(f, s, StandardCharsets.UTF_8);
    }

    /** Replaces one {@code "key": value} of a config.json textually (keeps the Hub's bare Infinity). */
    static void editConfig(Path dir, String key, Object value) throws IOException {
        Path c = dir.resolve("config.json");
        String text = Files.readString(c);
        String edited = text.replaceFirst("\"" + key + "\": *[^,\\n}]+", "\"" + key + "\": " + value);
        assertFalse(edited.equals(text), key + " not found in " + c);
        Files.writeString(c, edited);
    }

    /** Builds each documented bad input in the case's directory W. */
    static final Map<String, Setup> SETUPS = new LinkedHashMap<>();

    static {
        // inspect
        SETUPS.put("inspect-no-such-dir", w -> { });
        SETUPS.put("inspect-no-config", w -> {
            parent(w);
            Files.delete(w.resolve("parent/config.json"));
        });
        SETUPS.put("inspect-config-not-json", w -> {
            parent(w);
            text(w.resolve("parent/config.json"), "{\"hidden_size\": 64,");
        });
        SETUPS.put("inspect-config-bad-pattern", w -> {
            parent(w);
            editConfig(w.resolve("parent"), "hybrid_override_pattern", "\"M-X*-M-M*-\"");
        });
        SETUPS.put("inspect-config-width-mismatch", w -> {
            parent(w);
            editConfig(w.resolve("parent"), "intermediate_size", 256);
        });
        SETUPS.put("inspect-truncated", w -> {
            parent(w);
            try (FileChannel ch = FileChannel.open(w.resolve("parent/model.safetensors"), StandardOpenOption.WRITE)) {
                ch.truncate(ch.size() - 1000);
            }
        });
        SETUPS.put("inspect-header-length", w -> {
            parent(w);
            try (FileChannel ch = FileChannel.open(w.resolve("parent/model.safetensors"), StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 50_000_000L), 0);
            }
        });
        SETUPS.put("inspect-unknown-dtype", w -> {
            parent(w);
            Surgery.editHeader(w.resolve("parent/model.safetensors"),
                    h -> ((ObjectNode) h.get("lm_head.weight")).put("dtype", "Q4"));
        });
        SETUPS.put("inspect-missing-tensor", w -> {
            parent(w);
            Surgery.editHeader(w.resolve("parent/model.safetensors"), h -> h.set("extra.weight", h.remove("lm_head.weight")));
        });
        SETUPS.put("inspect-batch-zero", w -> parent(w));
        SETUPS.put("inspect-moe-k-too-large", w -> {
            moeParent(w);
            editConfig(w.resolve("moe"), "num_experts_per_tok", 9);
        });
        SETUPS.put("inspect-moe-groups-not-dividing", w -> {
            moeParent(w);
            editConfig(w.resolve("moe"), "n_group", 3);
        });
        SETUPS.put("inspect-moe-topk-group", w -> {
            moeParent(w);
            editConfig(w.resolve("moe"), "topk_group", 2);
        });
        SETUPS.put("inspect-moe-no-k", w -> {
            moeParent(w);
            Path c = w.resolve("moe/config.json");
            Files.writeString(c, Files.readString(c).replaceFirst("\\s*\"num_experts_per_tok\": *2,", ""));
        });
        SETUPS.put("export-moe-missing-expert", w -> {
            moeParent(w);
            Surgery.editHeader(w.resolve("moe/model.safetensors"), h -> h.set("backbone.layers.4.mixer.experts.7.up.weight",
                    h.remove("backbone.layers.4.mixer.experts.7.up_proj.weight")));
        });
        // quantized parents
        SETUPS.put("inspect-quant-algo-mismatch", w -> {
            quantizedParent(w, "fp8");
            replaceIn(w.resolve("fp8/hf_quant_config.json"), "\"quant_algo\": \"FP8\",", "\"quant_algo\": \"NVFP4\",\n    \"group_size\": 16,");
        });
        SETUPS.put("inspect-quant-bad-algo", w -> {
            quantizedParent(w, "nvfp4");
            replaceIn(w.resolve("nvfp4/config.json"), "\"quant_algo\": \"NVFP4\"", "\"quant_algo\": \"INT4\"");
        });
        SETUPS.put("export-quant-exclude-mismatch", w -> {
            quantizedParent(w, "nvfp4");
            replaceIn(w.resolve("nvfp4/hf_quant_config.json"), "\"backbone.layers.5.mixer.conv1d\"", "\"backbone.layers.5.mixer.in_proj\"");
        });
        SETUPS.put("export-nvfp4-scale-shape", w -> {
            quantizedParent(w, "nvfp4");
            // the block scales of in_proj, [328, 4], relabelled [656, 2] (same bytes)
            Surgery.editHeader(w.resolve("nvfp4/model.safetensors"), h -> ((com.fasterxml.jackson.databind.node.ObjectNode)
                    h.get("backbone.layers.0.mixer.in_proj.weight_scale")).putArray("shape").add(656).add(2));
        });
        SETUPS.put("export-fp8-missing-scale", w -> {
            quantizedParent(w, "fp8");
            Surgery.editHeader(w.resolve("fp8/model.safetensors"), h -> h.set("backbone.layers.7.mixer.down_proj.scale",
                    h.remove("backbone.layers.7.mixer.down_proj.weight_scale")));
        });
        // generate
        SETUPS.put("generate-unknown-preset", w -> { });
        SETUPS.put("generate-bad-shard-size", w -> { });
        SETUPS.put("generate-bad-config", w -> {
            parent(w);
            editConfig(w.resolve("parent"), "num_attention_heads", 3);
        });
        SETUPS.put("generate-output-exists", w -> Files.createDirectories(w.resolve("out")));
        // extract
        SETUPS.put("extract-no-child", w -> parent(w));
        SETUPS.put("extract-bad-format", w -> parent(w));
        SETUPS.put("extract-spec-not-json", w -> {
            parent(w);
            text(w.resolve("spec.json"), "{\"hidden\": 32");
        });
        SETUPS.put("extract-spec-too-wide", w -> {
            parent(w);
            text(w.resolve("spec.json"), "{\"hidden\": 1000}");
        });
        SETUPS.put("extract-spec-unknown-field", w -> {
            parent(w);
            text(w.resolve("spec.json"), "{\"hiden\": 32}");
        });
        SETUPS.put("extract-unknown-child", w -> parent(w));
        SETUPS.put("extract-drop-missing-layer", w -> parent(w));
        SETUPS.put("extract-mamba-heads-not-multiple", w -> parent(w));
        SETUPS.put("extract-experts-fewer-than-k", w -> moeParent(w));
        SETUPS.put("extract-k-more-than-experts", w -> moeParent(w));
        SETUPS.put("extract-experts-not-per-group", w -> latentParent(w));
        SETUPS.put("extract-experts-one-per-group", w -> latentParent(w));
        SETUPS.put("extract-experts-groups-fewer-than-k", w -> latentParent(w));
        SETUPS.put("extract-moe-ffn-too-wide", w -> moeParent(w));
        SETUPS.put("extract-moe-width-on-mamba", w -> {
            moeParent(w);
            text(w.resolve("spec.json"), "{\"per_layer\": {\"0\": {\"experts\": 4}}}");
        });
        SETUPS.put("extract-moe-flags-dense-parent", w -> parent(w));
        SETUPS.put("extract-nvfp4-cuts-block", w -> quantizedParent(w, "nvfp4"));
        SETUPS.put("extract-rankings-duplicate", w -> {
            parent(w);
            ObjectNode r = (ObjectNode) Surgery.JSON.readTree(golden().resolve("rankings.json").toFile());
            ArrayNode hidden = (ArrayNode) r.get("rankings").get("hidden");
            hidden.set(1, hidden.get(0));
            Files.writeString(w.resolve("rankings.json"), Surgery.JSON.writeValueAsString(r.get("rankings")));
        });
        SETUPS.put("extract-unknown-budget", w -> elasticParent(w));
        SETUPS.put("extract-budget-and-params", w -> elasticParent(w));
        SETUPS.put("extract-params-too-small", w -> elasticParent(w));
        SETUPS.put("extract-active-params-too-small", w -> moeElasticParent(w));
        SETUPS.put("extract-bad-memory", w -> elasticParent(w));
        // export
        SETUPS.put("export-bad-dtype", w -> parent(w));
        SETUPS.put("export-bad-mamba", w -> parent(w));
        SETUPS.put("export-bad-block-size", w -> parent(w));
        SETUPS.put("export-block-size-zero", w -> parent(w));
        SETUPS.put("export-int8-fp32-activations", w -> parent(w));
        SETUPS.put("export-quantization-for-float", w -> parent(w));
        SETUPS.put("export-not-a-checkpoint", w -> text(w.resolve("empty/README"), "nothing here"));
        // run
        SETUPS.put("run-zero-tokens", w -> exported(w));
        SETUPS.put("run-id-outside-vocab", w -> exported(w));
        SETUPS.put("run-no-prompt", w -> exported(w));
        SETUPS.put("run-text-without-tokenizer", w -> exported(w));
        // eval
        SETUPS.put("eval-id-outside-vocab", w -> {
            exported(w);
            text(w.resolve("tokens.jsonl"), "[1, 2, 3]\n[4, 100000, 6]\n");
        });
        SETUPS.put("eval-one-token", w -> {
            exported(w);
            text(w.resolve("tokens.jsonl"), "[1]\n");
        });
        SETUPS.put("eval-empty-tokens", w -> {
            exported(w);
            text(w.resolve("tokens.jsonl"), "");
        });
        SETUPS.put("eval-tokens-not-json", w -> {
            exported(w);
            text(w.resolve("tokens.jsonl"), "1 2 3\n");
        });
        SETUPS.put("eval-negative-prefill", w -> {
            exported(w);
            text(w.resolve("tokens.jsonl"), "[1, 2, 3]\n");
        });
        // budgets
        SETUPS.put("budgets-json-without-tensors", w -> {
            elasticParent(w);
            Files.delete(w.resolve("elastic/elastic.safetensors"));
        });
        SETUPS.put("budgets-bad-format-version", w -> {
            elasticParent(w);
            Path j = w.resolve("elastic/elastic.json");
            ObjectNode o = (ObjectNode) Surgery.JSON.readTree(j.toFile());
            o.put("format_version", 99);
            Files.writeString(j, Surgery.JSON.writeValueAsString(o));
        });
        SETUPS.put("budgets-batch-zero", w -> elasticParent(w));
        SETUPS.put("budgets-moe-k-above-experts", w -> {
            moeElasticParent(w);
            editAxis(w.resolve("moe-elastic"), "experts", 1, 12, 16);
        });
        SETUPS.put("budgets-moe-experts-not-per-group", w -> {
            moeElasticParent(w);
            editConfig(w.resolve("moe-elastic"), "n_group", 4);
            editAxis(w.resolve("moe-elastic"), "experts", 6, 12, 16);
        });
        SETUPS.put("budgets-moe-axis-dense-parent", w -> {
            elasticParent(w);
            editAxis(w.resolve("elastic"), "experts", 4);
        });
    }

    record Case(String id, String command, String message) {
        @Override
        public String toString() {
            return id;
        }
    }

    static List<Case> cases() throws IOException {
        List<Case> out = new ArrayList<>();
        for (String line : Files.readAllLines(DOC)) {
            Matcher m = ROW.matcher(line);
            if (m.matches()) {
                out.add(new Case(m.group(1), m.group(2).replace("\\|", "|"), m.group(3).replace("\\|", "|")));
            }
        }
        return out;
    }

    @Test
    void everyDocumentedCaseHasASetupAndViceVersa() throws IOException {
        TreeSet<String> documented = new TreeSet<>();
        for (Case c : cases()) {
            assertTrue(documented.add(c.id()), "duplicate id " + c.id());
        }
        assertEquals(new TreeSet<>(SETUPS.keySet()), documented, "docs/errors.md rows vs. ErrorCatalogueTest.SETUPS");
        assertTrue(documented.size() >= 25, documented.size() + " cases");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void exitsTwoWithTheDocumentedMessage(Case c) throws Exception {
        Path w = Files.createDirectories(root.resolve("case-" + c.id()));
        Setup setup = SETUPS.get(c.id());
        assertTrue(setup != null, "no setup for " + c.id());
        setup.build(w);
        String[] args = c.command().replace("{W}", w.toString()).split(" ");
        CliRun run = CliRun.of(args);
        String[] lines = run.err().strip().split("\n");
        seen.put(c.id(), lines[lines.length - 1].replace(w.toString(), "{W}"));
        assertEquals(2, run.code(), c.id() + ": " + run);
        String expected = c.message().replace("{W}", w.toString());
        assertTrue(run.err().contains(expected), c.id() + ": expected\n  " + expected + "\nin\n" + run);
        assertFalse(run.err().contains("\tat "), "no stack trace for user errors:\n" + run);
    }
}
