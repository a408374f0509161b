package dev.manyone.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code inspect} of the golden quantized parents (golden README, "Quantized checkpoints (FP8, NVFP4)"): valid, tiny-moe's
 * 303,968 parameters, the scheme and the modules and tensors quantized vs kept, in text and --json; a
 * {@code kv_cache_quant_algo} is reported, not refused; {@code export} of a quantized parent works at fp16.
 */
class InspectQuantizedTest {
    /** Mamba in/out (layers 0, 2, 5), MLP up/down (7), 8 experts' and the shared expert's up/down (1, 4, 6). */
    static final int QUANTIZED_MODULES = 3 * 2 + 2 + 3 * 8 * 2 + 3 * 2;
    /** lm_head, attention q/k/v/o (3), the routers' gate (1, 4, 6). */
    static final int KEPT_MODULES = 1 + 4 + 3;

    @Test
    void goldenQuantizedParents() throws Exception {
        for (String algo : new String[] {"FP8", "NVFP4"}) {
            Path dir = CliRun.golden().resolve("tiny-moe-" + algo.toLowerCase(java.util.Locale.ROOT));
            JsonNode r = InspectCommandTest.inspectJson(dir);
            assertTrue(r.get("valid").asBoolean(), r.toString());
            assertEquals(303_968, r.get("params").get("total").asLong()); // "the parent has tiny-moe's 303,968"
            JsonNode q = r.get("quantization");
            assertEquals("modelopt", q.get("quant_method").asText());
            assertEquals(algo, q.get("quant_algo").asText());
            assertEquals(algo.equals("NVFP4") ? 16 : 0, q.get("group_size").asInt());
            assertTrue(q.get("kv_cache_quant_algo").isNull());
            assertEquals(QUANTIZED_MODULES, q.get("quantized_modules").asInt());
            assertEquals(KEPT_MODULES, q.get("kept_modules").asInt());
            int perModule = algo.equals("NVFP4") ? 4 : 3;
            assertEquals(QUANTIZED_MODULES * perModule, q.get("quantized_tensors").asInt());
            assertEquals(r.get("tensors").asInt(), q.get("quantized_tensors").asInt() + q.get("kept_tensors").asInt());
            assertEquals(12, q.get("exclude_modules").size());
            assertEquals(0, r.get("values").get("nan").asLong());
            assertEquals(QUANTIZED_MODULES, r.get("dtypes").get(algo.equals("FP8") ? "F8_E4M3" : "U8").asInt());

            // config.json alone: the same scheme and module counts, and a weight-memory estimate that agrees with the
            // bytes actually stored (within the F32 correction biases, counted at BF16)
            JsonNode c = InspectCommandTest.inspectJson(dir.resolve("config.json"));
            assertEquals(algo, c.get("quantization").get("quant_algo").asText());
            assertEquals(QUANTIZED_MODULES, c.get("quantization").get("quantized_modules").asInt());
            long stored = r.get("memory").get("weights_bytes").asLong();
            long estimated = c.get("memory").get("weights_bytes").asLong();
            assertTrue(Math.abs(stored - estimated) <= 3 * 8 * 2, stored + " stored vs " + estimated + " estimated");

            CliRun text = CliRun.of("inspect", dir.toString());
            assertEquals(0, text.code(), text.toString());
            assertTrue(text.out().contains("quantized    " + algo + " (ModelOpt"), text.out());
            assertTrue(text.out().contains(QUANTIZED_MODULES + " linear modules quantized"), text.out());
            assertTrue(text.out().contains("validation   ok"), text.out());
        }
        JsonNode plain = InspectCommandTest.inspectJson(CliRun.golden().resolve("tiny-moe"));
        assertTrue(plain.get("quantization").isNull());
    }

    @Test
    void kvCacheQuantAlgoIsReported(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("nvfp4");
        Surgery.copyDir(CliRun.golden().resolve("tiny-moe-nvfp4"), dir);
        ErrorCatalogueTest.replaceIn(dir.resolve("hf_quant_config.json"), "\"kv_cache_quant_algo\": null", "\"kv_cache_quant_algo\": \"FP8\"");
        JsonNode r = InspectCommandTest.inspectJson(dir);
        assertTrue(r.get("valid").asBoolean());
        assertEquals("FP8", r.get("quantization").get("kv_cache_quant_algo").asText());
        CliRun text = CliRun.of("inspect", dir.toString());
        assertTrue(text.out().contains("KV cache FP8 (data only: manyone keeps it in fp32)"), text.out());
    }

    /** A package of a quantized parent reads its hf_quant_config.json entry as the directory reads the file. */
    @Test
    void packedQuantizedParent(@TempDir Path tmp) throws Exception {
        Path pkg = tmp.resolve("fp8.manyone");
        CliRun pack = CliRun.of("pack", CliRun.golden().resolve("tiny-moe-fp8").toString(), "-o", pkg.toString());
        assertEquals(0, pack.code(), pack.toString());
        JsonNode r = InspectCommandTest.inspectJson(pkg);
        assertTrue(r.get("valid").asBoolean(), r.toString());
        assertEquals("FP8", r.get("quantization").get("quant_algo").asText());
        assertEquals(QUANTIZED_MODULES, r.get("quantization").get("quantized_modules").asInt());
    }

    @Test
    void exportOfAQuantizedParentAtFp16(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("onnx");
        CliRun run = CliRun.of("export", CliRun.golden().resolve("tiny-moe-nvfp4").toString(), "-o", out.toString(),
                "--dtype", "fp16", "--no-progress");
        assertEquals(0, run.code(), run.toString());
        assertTrue(Files.exists(out.resolve("model.onnx.data")));
        assertFalse(Files.exists(out.resolve("hf_quant_config.json")));
        assertFalse(Files.readString(out.resolve("config.json")).contains("quantization_config"));
    }
}
