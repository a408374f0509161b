package dev.manyone.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The elastic MoE example end to end: {@code generate --preset moe-example --elastic} → {@code budgets} (total and
 * active parameters) → {@code extract --budget} / {@code --active-params} → the child passes {@code inspect}'s tensor
 * check and its ONNX export runs. Active counts are recomputed here from the widths the command reports.
 */
class MoeBudgetsCommandTest {
    @TempDir
    Path tmp;

    /** moe-example: vocab 1024, 16 experts of 128 neurons, k 2; MoE layers 1, 4, 6 (MEM*EME-). */
    private static long idle(JsonNode configuration, int hidden) {
        int k = configuration.get("num_experts_per_tok").asInt();
        long idle = 0;
        for (JsonNode l : configuration.get("layers")) {
            int i = l.asInt();
            if (i == 1 || i == 4 || i == 6) {
                JsonNode w = configuration.get("per_layer").get(Integer.toString(i));
                int e = w == null ? 16 : w.get("experts").asInt();
                int f = w == null ? 128 : w.get("moe_ffn").asInt();
                idle += (long) (e - k) * 2 * f * hidden;
            }
        }
        return idle;
    }

    private Path parent() {
        Path dir = tmp.resolve("parent");
        CliRun g = CliRun.of("generate", "--preset", "moe-example", "--elastic", "-o", dir.toString());
        assertEquals(0, g.code(), g.toString());
        return dir;
    }

    @Test
    void budgetsExtractInspectRun() throws Exception {
        Path parent = parent();
        CliRun b = CliRun.of("budgets", parent.toString(), "--json");
        assertEquals(0, b.code(), b.toString());
        JsonNode j = Surgery.JSON.readTree(b.out());
        assertEquals(j.get("parent_params").asLong() - 3L * 14 * 2 * 128 * 256, j.get("parent_active_params").asLong());
        assertEquals(3, j.get("budgets").size());
        int[] ks = {1, 1, 2};
        int[] experts = {8, 12, 16};
        for (int k = 0; k < 3; k++) {
            JsonNode e = j.get("budgets").get(k);
            JsonNode c = e.get("configuration");
            assertEquals(ks[k], c.get("num_experts_per_tok").asInt(), e.toString());
            assertEquals(ks[k], e.get("experts_per_token").asInt());
            for (JsonNode w : e.get("widths").get("experts")) {
                assertEquals(experts[k], w.asInt());
            }
            assertEquals(e.get("params").asLong() - idle(c, c.get("hidden").asInt()), e.get("active_params").asLong(), e.toString());
            assertEquals(2 * e.get("params").asLong(), e.get("memory").get("weights_bytes").asLong(), "every expert resident");
        }
        CliRun text = CliRun.of("budgets", parent.toString());
        assertEquals(0, text.code(), text.toString());
        assertTrue(text.out().contains("active") && text.out().contains("experts") && text.out().contains("moe ffn"), text.out());
        assertTrue(text.out().contains("the budgets are nested"), text.out());

        Path child = tmp.resolve("small");
        CliRun x = CliRun.of("extract", parent.toString(), "--budget", "small", "--format", "hf,onnx", "-o", child.toString(), "--json");
        assertEquals(0, x.code(), x.toString());
        JsonNode small = j.get("budgets").get(0);
        JsonNode xj = Surgery.JSON.readTree(x.out());
        assertEquals(small.get("params").asLong(), xj.get("params").asLong());
        assertEquals(small.get("active_params").asLong(), xj.get("active_params").asLong());
        JsonNode config = Surgery.JSON.readTree(Files.readString(child.resolve("hf/config.json")));
        assertEquals(1, config.get("num_experts_per_tok").asInt());
        assertEquals(8, config.get("n_routed_experts").asInt());
        assertEquals(64, config.get("moe_intermediate_size").asInt());
        assertEquals(128, config.get("moe_shared_expert_intermediate_size").asInt());
        CliRun inspect = CliRun.of("inspect", child.resolve("hf").toString(), "--json");
        assertEquals(0, inspect.code(), inspect.toString());
        JsonNode ij = Surgery.JSON.readTree(inspect.out());
        assertEquals(small.get("params").asLong(), ij.get("params").get("total").asLong());
        assertEquals(small.get("active_params").asLong(), ij.get("params").get("active").asLong());
        CliRun run = CliRun.of("run", child.resolve("onnx").toString(), "--prompt-ids", "1,2,3", "--max-new-tokens", "2");
        assertEquals(0, run.code(), run.toString());
    }

    @Test
    void activeParamsTarget() throws Exception {
        Path parent = parent();
        long active = Surgery.JSON.readTree(CliRun.of("budgets", parent.toString(), "--json").out()).get("parent_active_params").asLong();
        long target = active * 3 / 4;
        Path child = tmp.resolve("child");
        CliRun x = CliRun.of("extract", parent.toString(), "--active-params", Long.toString(target), "-o", child.toString(), "--json");
        assertEquals(0, x.code(), x.toString());
        JsonNode xj = Surgery.JSON.readTree(x.out());
        assertTrue(xj.get("active_params").asLong() <= target, x.out());
        JsonNode meta = Surgery.header(child.resolve("model.safetensors")).get("__metadata__");
        assertEquals("greedy-active-params", meta.get("manyone.selection").asText());
        assertEquals(Long.toString(target), meta.get("manyone.target_active_params").asText());
        assertEquals("false", meta.get("manyone.router_trained").asText());

        CliRun both = CliRun.of("extract", parent.toString(), "--active-params", "1M", "--params", "2M", "-o", tmp.resolve("x").toString());
        assertEquals(2, both.code(), both.toString());
        assertTrue(both.err().contains("give one of --budget, --params, --active-params"), both.err());
        CliRun tooSmall = CliRun.of("extract", parent.toString(), "--active-params", "1000", "-o", tmp.resolve("y").toString());
        assertEquals(2, tooSmall.code(), tooSmall.toString());
        assertTrue(tooSmall.err().contains("--active-params 1K: no configuration of the candidate choices is that small"), tooSmall.err());
        assertTrue(tooSmall.err().contains("active parameters"), tooSmall.err());
    }
}
