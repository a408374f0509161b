package dev.manyone.formats.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.manyone.formats.FormatException;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * quantization_config and hf_quant_config.json (golden README, "config.json and hf_quant_config.json"): the golden
 * parents parse, write back byte for byte (hf_quant_config.json) and JSON-equal in key order (quantization_config);
 * bad files are refused naming the file, the field, what was expected and what was found; the child renaming rule.
 */
class QuantConfigTest {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    @TempDir
    Path tmp;

    private static List<String> fieldNames(JsonNode n) {
        List<String> out = new ArrayList<>();
        n.properties().forEach(e -> out.add(e.getKey()));
        return out;
    }

    @Test
    void goldenParentsParseAndWriteBack() throws Exception {
        for (String name : new String[] {"tiny-moe-fp8", "tiny-moe-nvfp4"}) {
            Path dir = QuantGolden.golden().resolve(name);
            QuantizationConfig q = QuantizationConfig.read(dir).orElseThrow();
            assertEquals(name.endsWith("fp8") ? QuantAlgo.FP8 : QuantAlgo.NVFP4, q.algo());
            assertEquals(12, q.excludeModules().size());
            assertEquals("lm_head", q.excludeModules().get(0));
            assertEquals("backbone.layers.6.mixer.gate", q.excludeModules().get(11));

            byte[] original = Files.readAllBytes(dir.resolve("hf_quant_config.json"));
            assertEquals(new String(original, StandardCharsets.UTF_8), q.hfQuantConfigText(), name);
            q.writeHfQuantConfig(tmp);
            assertEquals(-1L, Files.mismatch(dir.resolve("hf_quant_config.json"), tmp.resolve("hf_quant_config.json")));

            JsonNode golden = QuantGolden.json(dir.resolve("config.json")).get("quantization_config");
            ObjectNode mine = q.toConfigJson();
            assertEquals(golden, mine, name);
            assertEquals(fieldNames(golden), fieldNames(mine), name);
            assertEquals(QuantGolden.json(dir.resolve("hf_quant_config.json")), q.toHfQuantConfigJson());
        }
    }

    @Test
    void goldenChildCarriesTheListOver() {
        Path dir = QuantGolden.golden().resolve("tiny-moe-nvfp4");
        QuantizationConfig q = QuantizationConfig.read(dir).orElseThrow();
        Map<Integer, Integer> identity = Map.of(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
        JsonNode child = QuantGolden.json(dir.resolve("rankings.json")).get("children").get("prefix").get("config");
        assertEquals(child.get("quantization_config"), q.forChild(identity).toConfigJson());
    }

    @Test
    void layerEntriesMoveWithTheirLayerOrGo() {
        QuantizationConfig q = new QuantizationConfig(QuantAlgo.NVFP4, List.of("lm_head", "backbone.embeddings",
                "backbone.layers.0.mixer.conv1d", "backbone.layers.1.mixer.gate", "backbone.layers.3.mixer.q_proj",
                "backbone.layers.4.mixer.gate", "backbone.layers.5.mixer.conv1d", "backbone.layers.6.mixer.gate",
                "backbone.layers.6", "backbone.layers.*.mixer.conv1d", "backbone.layers.06.mixer.gate",
                "backbone.layers.60.mixer.gate", "backbone.layers.6mixer"), null);
        // layers 3 and 5 dropped: 4 -> 3, 6 -> 4, 7 -> 5
        QuantizationConfig c = q.forChild(Map.of(0, 0, 1, 1, 2, 2, 4, 3, 6, 4, 7, 5));
        assertEquals(List.of("lm_head", "backbone.embeddings", "backbone.layers.0.mixer.conv1d",
                "backbone.layers.1.mixer.gate", "backbone.layers.3.mixer.gate", "backbone.layers.4.mixer.gate",
                "backbone.layers.4", "backbone.layers.*.mixer.conv1d", "backbone.layers.06.mixer.gate",
                "backbone.layers.6mixer"), c.excludeModules());
        assertEquals(QuantAlgo.NVFP4, c.algo());
    }

    private static JsonNode parse(String json) throws Exception {
        return MAPPER.readTree(json);
    }

    private static final String LIST = "[\"lm_head\", \"backbone.layers.3.mixer.q_proj\"]";

    private static String config(String quant) {
        return "{\"model_type\": \"nemotron_h\", \"quantization_config\": " + quant + "}";
    }

    private void refusedConfig(String quant, String... fragments) throws Exception {
        Path file = tmp.resolve("config.json");
        FormatException e = assertThrows(FormatException.class, () -> QuantizationConfig.fromConfig(file, parse(config(quant))));
        assertEquals(Optional.of(file), e.file());
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "expected '" + f + "' in: " + e.getMessage());
        }
    }

    @Test
    void badQuantizationConfigsAreRefused() throws Exception {
        String ok = "{\"quant_method\": \"modelopt\", \"quant_algo\": \"NVFP4\", \"group_size\": 16, \"exclude_modules\": "
                + LIST + ", \"ignore\": " + LIST + "}";
        assertEquals(QuantAlgo.NVFP4, QuantizationConfig.fromConfig(tmp, parse(config(ok))).orElseThrow().algo());
        assertTrue(QuantizationConfig.fromConfig(tmp, parse("{\"model_type\": \"nemotron_h\"}")).isEmpty());

        refusedConfig(ok.replace("\"NVFP4\"", "\"INT4\""), "quantization_config.quant_algo", "expected \"FP8\" or \"NVFP4\"", "found \"INT4\"");
        assertEquals(QuantAlgo.NVFP4, QuantizationConfig.fromConfig(tmp, parse(config(ok.replace("\"group_size\": 16, ", ""))))
                .orElseThrow().algo(), "config.json may leave group_size to config_groups");
        refusedConfig(ok.replace("16", "32"), "quantization_config.group_size", "expected 16", "found 32");
        refusedConfig(ok.replace("16", "\"16\""), "quantization_config.group_size", "expected 16", "found \"16\"");
        refusedConfig(ok.replace("\"NVFP4\"", "\"FP8\""), "quantization_config.group_size", "expected no group_size for FP8", "found 16");
        refusedConfig(ok.replace("\"ignore\": " + LIST, "\"ignore\": [\"lm_head\"]"), "quantization_config.ignore",
                "expected the same list as quantization_config.exclude_modules (2 entries)",
                "at index 1 expected \"backbone.layers.3.mixer.q_proj\", found the end of the list");
        refusedConfig(ok.replace("\"ignore\": " + LIST, "\"ignore\": [\"lm_head\", \"backbone.layers.4.mixer.q_proj\"]"),
                "quantization_config.ignore", "found \"backbone.layers.4.mixer.q_proj\"");
        refusedConfig(ok.replace("\"modelopt\"", "\"gptq\""), "quantization_config.quant_method", "expected \"modelopt\"", "found \"gptq\"");
        refusedConfig(ok.replace("{\"quant_method\"", "{\"kv_cache_quant_algo\": 8, \"quant_method\""),
                "quantization_config.kv_cache_quant_algo", "expected null or the name of a KV-cache format", "found 8");
        refusedConfig(ok.replace("\"exclude_modules\": " + LIST, "\"exclude_modules\": [\"lm_head\", \"lm_head\"]"),
                "quantization_config.exclude_modules[1]", "expected each module once");
        refusedConfig(ok.replace("\"exclude_modules\": " + LIST, "\"exclude_modules\": [\"lm_head\", 3]"),
                "quantization_config.exclude_modules[1]", "expected a non-empty module name, found 3");
        refusedConfig("[]", "quantization_config: expected a JSON object, found an array");
    }

    private void refusedHf(String json, String... fragments) throws Exception {
        Path file = tmp.resolve("hf_quant_config.json");
        FormatException e = assertThrows(FormatException.class, () -> QuantizationConfig.fromHfQuantConfig(file, parse(json)));
        assertEquals(Optional.of(file), e.file());
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "expected '" + f + "' in: " + e.getMessage());
        }
    }

    @Test
    void badHfQuantConfigsAreRefused() throws Exception {
        String ok = "{\"producer\": {\"name\": \"modelopt\", \"version\": \"0.37.0\"}, \"quantization\": {\"quant_algo\": \"FP8\","
                + " \"kv_cache_quant_algo\": null, \"exclude_modules\": " + LIST + "}}";
        QuantizationConfig q = QuantizationConfig.fromHfQuantConfig(tmp, parse(ok));
        assertEquals("0.37.0", q.producerVersion());
        assertTrue(q.hfQuantConfigText().contains("\"version\": \"0.37.0\""));
        refusedHf(ok.replace("\"FP8\"", "\"W4A16\""), "quantization.quant_algo", "found \"W4A16\"");
        refusedHf(ok.replace("\"FP8\",", "\"NVFP4\","), "quantization.group_size", "expected 16 for NVFP4", "found nothing");
        assertEquals("FP8", QuantizationConfig.fromHfQuantConfig(tmp, parse(ok.replace("null", "\"FP8\""))).kvCacheQuantAlgo());
        refusedHf(ok.replace("null", "[]"), "quantization.kv_cache_quant_algo", "expected null or the name", "found an array");
        refusedHf(ok.replace(" \"kv_cache_quant_algo\": null,", ""), "quantization.kv_cache_quant_algo", "found nothing");
        refusedHf(ok.replace("\"name\": \"modelopt\"", "\"name\": \"llmcompressor\""), "producer.name", "found \"llmcompressor\"");
        refusedHf("{\"producer\": {\"name\": \"modelopt\"}}", "quantization: expected a JSON object, found nothing");
    }

    @Test
    void configAndHfQuantConfigMustAgree() throws Exception {
        Path gold = QuantGolden.golden().resolve("tiny-moe-nvfp4");
        Files.copy(gold.resolve("config.json"), tmp.resolve("config.json"));
        String hf = Files.readString(gold.resolve("hf_quant_config.json"));
        Files.writeString(tmp.resolve("hf_quant_config.json"), hf.replace("backbone.layers.5.mixer.conv1d", "backbone.layers.5.mixer.in_proj"));
        FormatException e = assertThrows(FormatException.class, () -> QuantizationConfig.read(tmp));
        assertEquals(Optional.of(tmp.resolve("hf_quant_config.json")), e.file());
        assertTrue(e.getMessage().contains("quantization.exclude_modules: expected the same list as config.json's"
                + " quantization_config.exclude_modules (12 entries), found a different one: at index 10 expected"
                + " \"backbone.layers.5.mixer.conv1d\", found \"backbone.layers.5.mixer.in_proj\""), e.getMessage());

        Files.writeString(tmp.resolve("hf_quant_config.json"),
                Files.readString(QuantGolden.golden().resolve("tiny-moe-fp8/hf_quant_config.json")));
        e = assertThrows(FormatException.class, () -> QuantizationConfig.read(tmp));
        assertTrue(e.getMessage().contains("quantization.quant_algo: expected \"NVFP4\" as in config.json's"
                + " quantization_config, found \"FP8\""), e.getMessage());

        Files.delete(tmp.resolve("hf_quant_config.json"));
        assertEquals(QuantAlgo.NVFP4, QuantizationConfig.read(tmp).orElseThrow().algo());
        Files.copy(QuantGolden.golden().resolve("tiny-moe/config.json"), tmp.resolve("config.json"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        assertTrue(QuantizationConfig.read(tmp).isEmpty(), "a BF16 checkpoint is not quantized");
    }

    /**
     * A quantization_config shaped like NVIDIA's newer ModelOpt exports (config_groups, producer, kv_cache_scheme,
     * ignore without exclude_modules, no top-level group_size) and an hf_quant_config.json with an FP8 KV cache and
     * extra fields: both parse, the unknown fields come back unchanged and in place, the list follows a child.
     */
    @Test
    void unknownFieldsOfRealConfigsAreKeptAndWrittenBack() throws Exception {
        String quant = "{\"config_groups\": {\"group_0\": {\"weights\": {\"num_bits\": 4, \"type\": \"float\", \"group_size\": 16,"
                + " \"dynamic\": false}, \"targets\": [\"Linear\"]}}, \"ignore\": [\"lm_head\", \"backbone.layers.3.mixer.q_proj\"],"
                + " \"kv_cache_quant_algo\": \"FP8\", \"quant_algo\": \"NVFP4\", \"producer\": {\"name\": \"modelopt\", \"version\": \"0.39.0\"},"
                + " \"kv_cache_scheme\": {\"num_bits\": 8, \"type\": \"float\", \"scale\": 0.5}, \"quant_method\": \"modelopt\"}";
        JsonNode original = parse(quant);
        QuantizationConfig q = QuantizationConfig.fromConfig(tmp, parse(config(quant))).orElseThrow();
        assertEquals(QuantAlgo.NVFP4, q.algo());
        assertEquals("FP8", q.kvCacheQuantAlgo());
        assertEquals(List.of("lm_head", "backbone.layers.3.mixer.q_proj"), q.excludeModules());
        assertEquals(original, q.toConfigJson());
        assertEquals(fieldNames(original), fieldNames(q.toConfigJson()));
        JsonNode child = q.forChild(Map.of(0, 0, 1, 1, 2, 2, 4, 3)).toConfigJson();
        assertEquals(MAPPER.readTree("[\"lm_head\"]"), child.get("ignore"));
        assertEquals(original.get("config_groups"), child.get("config_groups"));
        assertTrue(!child.has("exclude_modules"), "no list is added that the file did not have");

        String hf = "{\n  \"producer\": {\n    \"name\": \"modelopt\",\n    \"version\": \"0.39.0\"\n  },\n  \"quantization\": {\n"
                + "    \"quant_algo\": \"NVFP4\",\n    \"kv_cache_quant_algo\": \"FP8\",\n    \"group_size\": 16,\n"
                + "    \"exclude_modules\": [\n      \"lm_head\",\n      \"backbone.layers.3.mixer.q_proj\"\n    ],\n"
                + "    \"kv_cache_scale\": 0.0001,\n    \"eps\": 1e-05,\n    \"calibrated\": true\n  },\n  \"extra\": null\n}\n";
        QuantizationConfig h = QuantizationConfig.fromHfQuantConfig(tmp, parse(hf));
        assertEquals("FP8", h.kvCacheQuantAlgo());
        assertEquals(hf, h.hfQuantConfigText(), "unknown fields come back byte for byte");

        Files.writeString(tmp.resolve("config.json"), config(quant));
        Files.writeString(tmp.resolve("hf_quant_config.json"), hf);
        QuantizationConfig both = QuantizationConfig.read(tmp).orElseThrow();
        assertEquals(original, both.toConfigJson());
        assertEquals(hf, both.hfQuantConfigText());
        Files.writeString(tmp.resolve("hf_quant_config.json"), hf.replace("\"kv_cache_quant_algo\": \"FP8\"", "\"kv_cache_quant_algo\": null"));
        FormatException e = assertThrows(FormatException.class, () -> QuantizationConfig.read(tmp));
        assertTrue(e.getMessage().contains("quantization.kv_cache_quant_algo: expected \"FP8\" as in config.json's"
                + " quantization_config, found null"), e.getMessage());
    }
}
