package dev.manyone.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * `bench-extract` at toy size: every step is reported with consistent byte counts, the one-pass step reads what the
 * larger child alone reads, and the scratch directory is left empty. Timings are not asserted (benchmarks, not tests).
 */
class BenchExtractCommandTest {
    @TempDir
    Path tmp;

    @Test
    void reportsEveryStepAndCleansUp() throws Exception {
        Path parent = tmp.resolve("parent");
        CliRun gen = CliRun.of("generate", "--preset", "tiny", "-o", parent.toString(), "--shard-size", "64kB");
        assertEquals(0, gen.code(), gen.toString());
        Path spec = tmp.resolve("children.json");
        Files.writeString(spec, """
                {"children": {
                  "big":   {"spec": {"hidden": 56, "per_layer": {"1": {"ffn": 160}}}},
                  "small": {"spec": {"hidden": 48, "layers": [0, 1, 2, 3, 4, 5, 6, 7],
                                     "per_layer": {"0": {"mamba_heads": 6}, "3": {"attention_heads": 2}, "1": {"ffn": 128}}}}
                }}
                """);
        Path work = tmp.resolve("work");
        CliRun run = CliRun.of("bench-extract", parent.toString(), "--spec", spec.toString(), "--child", "big,small",
                "--work", work.toString(), "--onnx", "--json");
        assertEquals(0, run.code(), run.toString());
        JsonNode r = Surgery.JSON.readTree(run.out());
        List<String> names = new ArrayList<>();
        r.get("steps").forEach(s -> names.add(s.get("name").asText()));
        assertEquals(List.of("cp (parent shards)", "hf big", "hf small", "hf big+small (one pass)", "onnx fp16 big", "onnx fp16 small"),
                names);
        JsonNode cp = r.get("steps").get(0);
        assertEquals(r.get("parent_bytes").asLong(), cp.get("bytes_read").asLong());
        assertEquals(1.0, cp.get("ratio_to_cp").asDouble(), 1e-12);
        JsonNode big = r.get("steps").get(1);
        JsonNode small = r.get("steps").get(2);
        JsonNode both = r.get("steps").get(3);
        assertTrue(small.get("bytes_written").asLong() < big.get("bytes_written").asLong());
        assertEquals(big.get("bytes_written").asLong() + small.get("bytes_written").asLong(), both.get("bytes_written").asLong());
        assertEquals(Math.max(big.get("bytes_read").asLong(), small.get("bytes_read").asLong()), both.get("bytes_read").asLong(),
                "one pass reads each parent tensor once");
        for (JsonNode s : r.get("steps")) {
            assertTrue(s.get("seconds").asDouble() > 0, s.toString());
            assertEquals(s.get("mb_per_second").asDouble() / cp.get("mb_per_second").asDouble(), s.get("ratio_to_cp").asDouble(), 1e-9);
        }
        assertTrue(r.get("extraction_peak_rss_bytes").asLong() > 0);
        assertTrue(r.get("notes").toString().contains("ONNX Runtime session created"), r.toString());
        try (var left = Files.list(work)) {
            assertFalse(left.findAny().isPresent(), "outputs deleted after each step");
        }
    }
}
