package dev.manyone.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class InspectCommandTest {

    static List<String> kinds(String pattern) {
        List<String> kinds = new ArrayList<>();
        for (char c : pattern.toCharArray()) {
            kinds.add(switch (c) {
                case 'M' -> "mamba";
                case '*' -> "attention";
                case '-' -> "mlp";
                default -> throw new IllegalArgumentException(pattern);
            });
        }
        return kinds;
    }

    static JsonNode inspectJson(Path dir) throws Exception {
        CliRun run = CliRun.of("inspect", dir.toString(), "--json");
        assertEquals(0, run.code(), run.toString());
        return Surgery.JSON.readTree(run.out());
    }

    static void assertConsistent(Path dir, Path weights, String pattern) throws Exception {
        JsonNode r = inspectJson(dir);
        List<String> found = new ArrayList<>();
        r.get("layers").forEach(l -> found.add(l.get("kind").asText()));
        assertEquals(kinds(pattern), found);
        long fromHeaders = Surgery.elementCount(weights);
        assertEquals(fromHeaders, r.get("params").get("total").asLong(), "config-derived count vs tensors");
        assertEquals(fromHeaders, r.get("stored_elements").asLong());
        long perLayer = 0;
        for (JsonNode l : r.get("layers")) {
            perLayer += l.get("params").asLong();
        }
        JsonNode p = r.get("params");
        assertEquals(fromHeaders, perLayer + p.get("embeddings").asLong() + p.get("lm_head").asLong()
                + p.get("norm_f").asLong());
        assertTrue(r.get("valid").asBoolean());
    }

    @Test
    void goldenTinyHybrid() throws Exception {
        Path dir = CliRun.golden().resolve("tiny-hybrid");
        assertConsistent(dir, dir.resolve("model.safetensors"), "M-M*-M-M*-");
        JsonNode r = inspectJson(dir);
        assertEquals(310_304, r.get("params").get("total").asLong()); // stated by the golden README
        int tensors = Surgery.header(dir.resolve("model.safetensors")).size() - 1; // minus __metadata__
        assertEquals(tensors, r.get("dtypes").get("BF16").asInt());
        assertEquals(tensors, r.get("tensors").asInt());
    }

    @Test
    void goldenTrainedHybrid() throws Exception {
        Path dir = CliRun.golden().resolve("trained-hybrid");
        assertConsistent(dir, dir.resolve("model.safetensors"), "M-M*-M-M*-");
        assertEquals(796_384, inspectJson(dir).get("params").get("total").asLong()); // golden README
    }

    @Test
    void generatedPresetsAreConsistent(@TempDir Path tmp) throws Exception {
        for (String preset : List.of("tiny", "example")) {
            Path dir = tmp.resolve(preset);
            CliRun gen = CliRun.of("generate", "--preset", preset, "-o", dir.toString());
            assertEquals(0, gen.code(), gen.toString());
            String pattern = Surgery.JSON.readTree(dir.resolve("config.json").toFile()).get("hybrid_override_pattern").asText();
            assertConsistent(dir, dir.resolve("model.safetensors"), pattern);
        }
    }

    @Test
    void textReportShowsTableAndValidation() {
        CliRun run = CliRun.of("inspect", CliRun.golden().resolve("tiny-hybrid").toString());
        assertEquals(0, run.code(), run.toString());
        assertTrue(run.out().contains("M-M*-M-M*-"), run.out());
        assertTrue(run.out().contains("310,304"), run.out());
        assertTrue(run.out().contains("validation   ok"), run.out());
        assertTrue(run.out().lines().filter(l -> l.matches("\\s+\\d+\\s+(mamba|attention|mlp)\\s.*")).count() == 10, run.out());
    }

    @Test
    void memoryEstimateScalesWithBatchAndContext() throws Exception {
        Path dir = CliRun.golden().resolve("tiny-hybrid");
        JsonNode a = Surgery.JSON.readTree(CliRun.of("inspect", dir.toString(), "--json", "--batch", "1", "--context", "100").out());
        JsonNode b = Surgery.JSON.readTree(CliRun.of("inspect", dir.toString(), "--json", "--batch", "2", "--context", "200").out());
        // KV cache: 2 attention layers × 2 (K and V) × 2 kv heads × 16 head_dim × context × 4 bytes (fp32 state)
        assertEquals(2L * 2 * 2 * 16 * 100 * 4, a.get("memory").get("kv_cache_bytes").asLong());
        assertEquals(4 * a.get("memory").get("kv_cache_bytes").asLong(), b.get("memory").get("kv_cache_bytes").asLong());
        assertEquals(2 * a.get("memory").get("mamba_state_bytes").asLong(), b.get("memory").get("mamba_state_bytes").asLong());
        // Mamba state: 4 layers × ((128 + 2·2·16) · 3 conv steps + 8 heads · 16 · 16 state) × 4 bytes
        assertEquals(4L * ((128 + 64) * 3 + 8 * 16 * 16) * 4, a.get("memory").get("mamba_state_bytes").asLong());
        // bytes on disk: the weights, config.json and the side files (here rankings.json), not the other golden files
        long expected = java.nio.file.Files.size(dir.resolve("model.safetensors")) + java.nio.file.Files.size(dir.resolve("config.json"))
                + java.nio.file.Files.size(dir.resolve("rankings.json"));
        assertEquals(expected, a.get("bytes_on_disk").asLong());
    }
}
