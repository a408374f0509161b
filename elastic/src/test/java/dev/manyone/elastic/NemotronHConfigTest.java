package dev.manyone.elastic;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.manyone.formats.FormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class NemotronHConfigTest {

    private static final Path SOURCE = Path.of("/models/tiny/config.json");

    // ------------------------------------------------------------------------------------------------ round trip

    @ParameterizedTest
    @ValueSource(strings = {"tiny-hybrid", "trained-hybrid"})
    void goldenConfigRoundTripsExactly(String model) throws IOException {
        Path file = Golden.configPath(model);
        NemotronHConfig config = NemotronHConfig.read(file);
        String text = config.toJson();

        NemotronHConfig again = NemotronHConfig.parse(text, file);
        assertEquals(config.json(), again.json());
        assertEquals(config, again);
        // the writer follows Python's json.dumps(indent=2), so the Hub-style file comes back byte for byte
        assertEquals(Files.readString(file, StandardCharsets.UTF_8).stripTrailing() + "\n", text);
        assertEquals(text, again.toJson());
    }

    @Test
    void infinityStaysABareToken() {
        NemotronHConfig config = Golden.config("tiny-hybrid");
        JsonNode limit = config.json().get("time_step_limit");
        assertEquals(0.0, limit.get(0).doubleValue());
        assertEquals(Double.POSITIVE_INFINITY, limit.get(1).doubleValue());
        String text = config.toJson();
        assertTrue(text.contains("  \"time_step_limit\": [\n    0.0,\n    Infinity\n  ],\n"), text);
        assertFalse(text.contains("\"Infinity\""));
    }

    @Test
    void unknownFieldsSurviveInOrder() {
        String text = Golden.resourceText("nano-v2-12b-config.json")
                .replace("\"model_type\": \"nemotron_h\",",
                        "\"model_type\": \"nemotron_h\",\n  \"manyone_unknown\": {\"nested\": [1, 2.5, null, true]},");
        NemotronHConfig config = NemotronHConfig.parse(text, SOURCE);
        NemotronHConfig again = NemotronHConfig.parse(config.toJson(), SOURCE);
        assertEquals(1, again.json().get("manyone_unknown").get("nested").get(0).intValue());
        assertEquals(2.5, again.json().get("manyone_unknown").get("nested").get(1).doubleValue());
        assertTrue(again.json().get("manyone_unknown").get("nested").get(2).isNull());
        assertEquals(List.of("architectures", "model_type", "manyone_unknown", "vocab_size"),
                fieldNames(again.json()).subList(0, 4));
        assertTrue(config.toJson().contains("  \"manyone_unknown\": {\n    \"nested\": [\n      1,\n      2.5,\n"
                + "      null,\n      true\n    ]\n  },\n"));
    }

    @Test
    void editedFieldsKeepTheirPosition() {
        NemotronHConfig tiny = Golden.config("tiny-hybrid");
        NemotronHConfig edited = tiny.with(o -> o.put("vocab_size", 1024).put("manyone_new", "added"));
        List<String> names = fieldNames(edited.json());
        assertEquals(fieldNames(tiny.json()), names.subList(0, names.size() - 1));
        assertEquals("manyone_new", names.get(names.size() - 1));
        assertEquals(1024, edited.vocabSize());
        assertEquals(512, tiny.vocabSize(), "the original is unchanged");
        assertNull(edited.source());
    }

    @Test
    void jsonIsACopy() {
        NemotronHConfig tiny = Golden.config("tiny-hybrid");
        ObjectNode copy = tiny.json();
        copy.put("hidden_size", 1);
        assertEquals(64, tiny.json().get("hidden_size").intValue());
        assertEquals(64, tiny.hiddenSize());
    }

    // ------------------------------------------------------------------------------------------------ accessors

    @Test
    void tinyAccessors() {
        NemotronHConfig c = Golden.config("tiny-hybrid");
        assertEquals(512, c.vocabSize());
        assertEquals(64, c.hiddenSize());
        assertEquals(192, c.intermediateSize());
        assertEquals(10, c.numHiddenLayers());
        assertEquals(4, c.numAttentionHeads());
        assertEquals(2, c.numKeyValueHeads());
        assertEquals(16, c.headDim());
        assertEquals(8, c.mambaNumHeads());
        assertEquals(16, c.mambaHeadDim());
        assertEquals(2, c.nGroups());
        assertEquals(16, c.ssmStateSize());
        assertEquals(4, c.convKernel());
        assertEquals(1e-5, c.layerNormEpsilon());
        assertFalse(c.tieWordEmbeddings());
        assertEquals("M-M*-M-M*-", c.hybridOverridePattern());
        assertEquals(List.of(2), c.eosTokenIds());
        assertEquals(Optional.of("bfloat16"), c.torchDtype());
        assertEquals(Golden.configPath("tiny-hybrid"), c.source());
        assertEquals(List.of(
                LayerSpec.mamba(0, 8, 16), LayerSpec.mlp(1, 192), LayerSpec.mamba(2, 8, 16),
                LayerSpec.attention(3, 4), LayerSpec.mlp(4, 192), LayerSpec.mamba(5, 8, 16),
                LayerSpec.mlp(6, 192), LayerSpec.mamba(7, 8, 16), LayerSpec.attention(8, 4),
                LayerSpec.mlp(9, 192)), c.layers());
    }

    @Test
    void defaultsAndAlternativeForms() {
        NemotronHConfig c = Golden.config("tiny-hybrid").with(o -> {
            o.remove("head_dim");
            o.remove("tie_word_embeddings");
            o.remove("torch_dtype");
            o.remove("layer_norm_epsilon");
            o.putArray("eos_token_id").add(2).add(11);
        });
        assertEquals(64 / 4, c.headDim(), "HF: hidden_size / num_attention_heads");
        assertFalse(c.tieWordEmbeddings());
        assertEquals(Optional.empty(), c.torchDtype());
        assertEquals(1e-5, c.layerNormEpsilon());
        assertEquals(List.of(2, 11), c.eosTokenIds());

        NemotronHConfig tied = c.with(o -> o.put("tie_word_embeddings", true).put("dtype", "float32")
                .put("head_dim", 24).remove("eos_token_id"));
        assertTrue(tied.tieWordEmbeddings());
        assertEquals(Optional.of("float32"), tied.torchDtype());
        assertEquals(24, tied.headDim());
        assertEquals(List.of(), tied.eosTokenIds());
    }

    @Test
    void layerConfigsOverrideTheScalars() {
        NemotronHConfig c = Golden.config("tiny-hybrid").with(o -> {
            var a = o.putArray("layer_configs");
            for (char ch : "M-M*-M-M*-".toCharArray()) {
                ObjectNode e = a.addObject();
                e.put("block_type", LayerKind.fromSymbol(ch, 0, SOURCE).blockType());
            }
            ((ObjectNode) a.get(0)).put("mamba_num_heads", 4).put("mamba_head_dim", 12);
            ((ObjectNode) a.get(2)).put("mamba_head_dim", 8); // heads fall back to the scalar 8
            ((ObjectNode) a.get(3)).put("num_attention_heads", 2);
            ((ObjectNode) a.get(4)).put("intermediate_size", 100);
        });
        assertEquals(LayerSpec.mamba(0, 4, 12), c.layers().get(0));
        assertEquals(LayerSpec.mamba(2, 8, 8), c.layers().get(2));
        assertEquals(LayerSpec.attention(3, 2), c.layers().get(3));
        assertEquals(LayerSpec.mlp(4, 100), c.layers().get(4));
        assertEquals(LayerSpec.mlp(6, 192), c.layers().get(6));
        assertEquals(48, c.layers().get(0).dInner());
    }

    // ------------------------------------------------------------------------------------------------ errors

    @Test
    void missingField() {
        FormatException e = bad(o -> o.remove("ssm_state_size"));
        assertEquals(Optional.of(SOURCE), e.file());
        assertTrue(e.getMessage().startsWith(SOURCE + ": "), e.getMessage());
        assertContains(e, "missing required field \"ssm_state_size\" (expected a positive integer)");
    }

    @Test
    void wrongType() {
        assertContains(bad(o -> o.put("hidden_size", "64")),
                "field \"hidden_size\": expected an integer, found a string (\"64\")");
        assertContains(bad(o -> o.put("n_groups", 2.5)),
                "field \"n_groups\": expected an integer, found a floating-point number (2.5)");
        assertContains(bad(o -> o.putNull("vocab_size")), "field \"vocab_size\": expected an integer, found null");
        assertContains(bad(o -> o.put("conv_kernel", 0)),
                "field \"conv_kernel\": expected a positive integer, found 0");
        assertContains(bad(o -> o.put("layer_norm_epsilon", -1e-5)),
                "field \"layer_norm_epsilon\": expected a positive finite number, found -1e-05");
        assertContains(bad(o -> o.put("tie_word_embeddings", "no")),
                "field \"tie_word_embeddings\": expected true or false, found a string (\"no\")");
        assertContains(bad(o -> o.put("eos_token_id", "</s>")),
                "field \"eos_token_id\": expected a token id (an integer >= 0), found a string (\"</s>\")");
        assertContains(bad(o -> o.put("hybrid_override_pattern", 5)),
                "field \"hybrid_override_pattern\": expected a string, found an integer (5)");
    }

    @Test
    void badModelType() {
        assertContains(bad(o -> o.put("model_type", "mamba2")),
                "field \"model_type\": expected \"nemotron_h\", found \"mamba2\"");
        assertContains(bad(o -> o.remove("model_type")), "missing required field \"model_type\"");
    }

    @Test
    void patternLengthMismatch() {
        assertContains(bad(o -> o.put("hybrid_override_pattern", "M-M*-M-M*")),
                "hybrid_override_pattern \"M-M*-M-M*\" has 9 layers, expected num_hidden_layers = 10");
    }

    @Test
    void expertLayersNeedTheMoeFields() {
        FormatException e = bad(o -> o.put("hybrid_override_pattern", "M-ME-M-M*-"));
        assertContains(e, "missing required field \"num_experts_per_tok\"");
        assertEquals(Optional.of(SOURCE), e.file());
        assertContains(bad(o -> o.put("hybrid_override_pattern", "M-M*-M-MA-")),
                "layer 8 is 'A', expected one of M, *, -, E");
    }

    @Test
    void indivisibleHeads() {
        assertContains(bad(o -> o.put("mamba_num_heads", 7)),
                "field \"mamba_num_heads\": expected a multiple of n_groups (2), found 7");
        assertContains(bad(o -> o.put("num_attention_heads", 3)),
                "field \"num_attention_heads\": expected a multiple of num_key_value_heads (2), found 3");
        assertContains(bad(o -> layerConfigs(o).get(7).put("mamba_num_heads", 5)),
                "field \"layer_configs[7].mamba_num_heads\": expected a multiple of n_groups (2), found 5");
        assertContains(bad(o -> layerConfigs(o).get(8).put("num_attention_heads", 1)),
                "field \"layer_configs[8].num_attention_heads\": expected a multiple of num_key_value_heads (2), "
                        + "found 1");
    }

    @Test
    void layerConfigsMustMatchThePattern() {
        assertContains(bad(o -> layerConfigs(o).get(3).put("block_type", "mlp")),
                "field \"layer_configs[3].block_type\": expected \"attention\" (hybrid_override_pattern has '*' at "
                        + "layer 3), found \"mlp\"");
        assertContains(bad(o -> layerConfigs(o).get(0).remove("block_type")),
                "field \"layer_configs[0].block_type\": expected \"mamba\", found nothing");
        assertContains(bad(o -> {
            layerConfigs(o);
            o.withArray("layer_configs").remove(9);
        }), "field \"layer_configs\": expected one entry per layer (10), found 9");
        assertContains(bad(o -> o.put("layer_configs", "none")),
                "field \"layer_configs\": expected an array of 10 objects, found a string (\"none\")");
        assertContains(bad(o -> layerConfigs(o).get(4).put("intermediate_size", "big")),
                "field \"layer_configs[4].intermediate_size\": expected an integer, found a string (\"big\")");
    }

    @Test
    void malformedJsonNamesLineAndColumn() {
        FormatException e = assertThrows(FormatException.class,
                () -> NemotronHConfig.parse("{\n  \"model_type\": \"nemotron_h\",\n  \"vocab_size\": ,\n}", SOURCE));
        assertEquals(Optional.of(SOURCE), e.file());
        assertContains(e, "malformed JSON at line 3, column 17");

        assertContains(assertThrows(FormatException.class,
                        () -> NemotronHConfig.parse("{\"model_type\": \"nemotron_h\", \"model_type\": \"x\"}", SOURCE)),
                "Duplicate field 'model_type'");
        assertContains(assertThrows(FormatException.class, () -> NemotronHConfig.parse("{} {}", SOURCE)),
                "malformed JSON at line 1");
        assertContains(assertThrows(FormatException.class, () -> NemotronHConfig.parse("[1]", SOURCE)),
                "expected a JSON object, found an array");
        assertContains(assertThrows(FormatException.class, () -> NemotronHConfig.parse("", SOURCE)),
                "expected a JSON object, found an empty file");
    }

    @Test
    void missingFile(@TempDir Path dir) {
        Path file = dir.resolve("config.json");
        FormatException e = assertThrows(FormatException.class, () -> NemotronHConfig.read(file));
        assertEquals(Optional.of(file), e.file());
        assertEquals("config.json not found", e.reason());
        // a directory means its config.json
        FormatException d = assertThrows(FormatException.class, () -> NemotronHConfig.read(dir));
        assertEquals(Optional.of(file), d.file());
    }

    @Test
    void derivedConfigsAreValidated() {
        NemotronHConfig tiny = Golden.config("tiny-hybrid");
        FormatException e = assertThrows(FormatException.class, () -> tiny.with(o -> o.put("n_groups", 3)));
        assertContains(e, "expected a multiple of n_groups (3), found 8");
        assertEquals(Optional.of(Path.of("config.json")), e.file());
    }

    // ------------------------------------------------------------------------------------------------ writing

    @Test
    void writeIsAtomicAndReplaces(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("config.json");
        Files.writeString(file, "old");
        NemotronHConfig tiny = Golden.config("tiny-hybrid");
        tiny.write(file);
        assertEquals(tiny.toJson(), Files.readString(file));
        assertEquals(tiny, NemotronHConfig.read(file));
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(file), files.toList(), "no temporary file is left behind");
        }
    }

    @Test
    void floatsAreWrittenAsPythonDoes() {
        assertEquals("1e-05", HubJson.pythonRepr(1e-5));
        assertEquals("0.0001", HubJson.pythonRepr(1e-4));
        assertEquals("0.02", HubJson.pythonRepr(0.02));
        assertEquals("0.0", HubJson.pythonRepr(0.0));
        assertEquals("-0.0", HubJson.pythonRepr(-0.0));
        assertEquals("64.0", HubJson.pythonRepr(64));
        assertEquals("1e+16", HubJson.pythonRepr(1e16));
        assertEquals("1000000000000000.0", HubJson.pythonRepr(1e15));
        assertEquals("-1.5e-07", HubJson.pythonRepr(-1.5e-7));
        assertEquals("Infinity", HubJson.pythonRepr(Double.POSITIVE_INFINITY));
        assertEquals("-Infinity", HubJson.pythonRepr(Double.NEGATIVE_INFINITY));
        assertEquals("NaN", HubJson.pythonRepr(Double.NaN));
    }

    @Test
    void equalityIsTheJson() {
        NemotronHConfig a = Golden.config("tiny-hybrid");
        NemotronHConfig b = NemotronHConfig.parse(a.toJson(), null);
        assertEquals(a, b);
        assertEquals(a.hashCode(), b.hashCode());
        assertNotEquals(a, Golden.config("trained-hybrid"));
    }

    // ------------------------------------------------------------------------------------------------ helpers

    /** Edits the tiny config's JSON and parses it as if it were the file SOURCE; expects a FormatException. */
    private static FormatException bad(Consumer<ObjectNode> edit) {
        ObjectNode json = Golden.config("tiny-hybrid").json();
        edit.accept(json);
        String text;
        try {
            text = Golden.LENIENT.writeValueAsString(json);
        } catch (JsonProcessingException e) {
            throw new AssertionError(e);
        }
        return assertThrows(FormatException.class, () -> NemotronHConfig.parse(text, SOURCE));
    }

    /** Adds a full, valid layer_configs for the tiny pattern and returns its entries for editing. */
    private static List<ObjectNode> layerConfigs(ObjectNode o) {
        var a = o.putArray("layer_configs");
        for (char ch : o.get("hybrid_override_pattern").asText().toCharArray()) {
            ObjectNode e = a.addObject();
            switch (ch) {
                case 'M' -> e.put("block_type", "mamba").put("mamba_num_heads", 8).put("mamba_head_dim", 16);
                case '*' -> e.put("block_type", "attention").put("num_attention_heads", 4);
                default -> e.put("block_type", "mlp").put("intermediate_size", 192);
            }
        }
        return Stream.iterate(0, k -> k < a.size(), k -> k + 1).map(k -> (ObjectNode) a.get(k)).toList();
    }

    static List<String> fieldNames(JsonNode node) {
        List<String> names = new ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        return names;
    }

    private static void assertContains(FormatException e, String expected) {
        assertTrue(e.getMessage().contains(expected), () -> "message <" + e.getMessage() + "> lacks <" + expected + ">");
    }
}
