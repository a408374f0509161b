package dev.manyone.elastic.checkpoint;

import dev.manyone.elastic.ExpectedTensor;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.NemotronHConfig;
import dev.manyone.elastic.WeightLayout;
import dev.manyone.formats.DType;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.Safetensors;
import dev.manyone.formats.SafetensorsWriter;
import dev.manyone.formats.TensorInfo;
import dev.manyone.formats.TensorSource;
import dev.manyone.formats.TensorSpec;
import dev.manyone.formats.quant.QuantAlgo;
import dev.manyone.formats.quant.QuantizationConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Quantized parents open and validate (golden README, "Quantized checkpoints (FP8, NVFP4)"): the golden FP8 and NVFP4
 * parents check clean with tiny-moe's 303,968 parameters and the modules the README lists as quantized; copies with
 * one tensor broken are refused naming that tensor; E4M3 NaN codes count as NaN.
 */
class QuantizedCheckpointTest {
    private static final String L0_IN = "backbone.layers.0.mixer.in_proj";
    private static final String L7_DOWN = "backbone.layers.7.mixer.down_proj";

    @TempDir
    Path tmp;

    static Path golden() {
        Path p = Path.of("../../shared/golden");
        if (!Files.isDirectory(p)) {
            p = Path.of("../shared/golden");
        }
        return p.toAbsolutePath().normalize();
    }

    /**
     * "Quantized: Mamba in_proj and out_proj; MLP up_proj and down_proj; every routed expert's up_proj and down_proj;
     * the shared expert's up_proj and down_proj." tiny-moe: Mamba layers 0, 2, 5; MoE 1, 4, 6 (8 experts); MLP 7.
     */
    private static final int QUANTIZED_MODULES = 3 * 2 + 1 * 2 + 3 * 8 * 2 + 3 * 2;
    /** Stored as in tiny-moe, linear: lm_head, attention q/k/v/o, and each MoE layer's gate. */
    private static final int KEPT_LINEAR_MODULES = 1 + 4 + 3;

    @Test
    void goldenParentsOpenAndValidate() {
        for (String name : List.of("tiny-moe-fp8", "tiny-moe-nvfp4")) {
            try (Checkpoint cp = Checkpoint.open(golden().resolve(name))) {
                ModelDescription m = cp.model();
                QuantAlgo algo = name.endsWith("fp8") ? QuantAlgo.FP8 : QuantAlgo.NVFP4;
                assertEquals(Optional.of(algo), m.layout().algo(), name);
                assertEquals(List.of(), m.problems(cp.tensors()), name);
                m.check(cp.tensors());
                assertEquals(303_968L, m.params().total(), name + ": tiny-moe's parameters");
                assertEquals(List.of(), m.unusedTensors(cp.tensors()));

                CheckpointReport r = CheckpointReport.of(cp, 1, 16);
                assertTrue(r.valid(), name);
                CheckpointReport.Quantization q = r.quantization();
                assertEquals(algo.name(), q.algo());
                assertEquals(algo == QuantAlgo.NVFP4 ? 16 : 0, q.groupSize());
                assertNull(q.kvCacheQuantAlgo());
                assertEquals(QUANTIZED_MODULES, q.quantizedModules(), name);
                assertEquals(KEPT_LINEAR_MODULES, q.keptModules(), name);
                int perModule = algo == QuantAlgo.NVFP4 ? 4 : 3; // weight, weight_scale, [weight_scale_2,] input_scale
                assertEquals(QUANTIZED_MODULES * perModule, q.quantizedTensors(), name);
                assertEquals(cp.tensors().tensors().size() - QUANTIZED_MODULES * perModule, q.keptTensors(), name);
                assertEquals(12, q.excludeModules().size());

                // the stored tensors are the README's: a quantized module's codes, a kept one as tiny-moe's BF16
                assertEquals(algo.weightDType(), cp.tensors().require(L0_IN + ".weight").dtype());
                assertEquals(DType.BF16, cp.tensors().require("backbone.layers.3.mixer.q_proj.weight").dtype());

                NonFinite.Report values = NonFinite.scan(cp.tensors());
                assertTrue(values.finite(), name);
                assertTrue(values.tensors().stream().anyMatch(c -> c.dtype() == DType.F8_E4M3), "F8 tensors are scanned");
            }
        }
    }

    @Test
    void theDescriptionOfAConfigAloneKnowsItsLayout() {
        NemotronHConfig config = NemotronHConfig.read(golden().resolve("tiny-moe-nvfp4/config.json"));
        WeightLayout layout = ModelDescription.of(config).layout();
        assertEquals(Optional.of(QuantAlgo.NVFP4), layout.algo());
        ExpectedTensor inProj = ModelDescription.of(config).expectedTensors().stream()
                .filter(e -> e.name().equals(L0_IN + ".weight")).findFirst().orElseThrow();
        assertEquals(List.of(L0_IN + ".weight", L0_IN + ".weight_scale", L0_IN + ".weight_scale_2", L0_IN + ".input_scale"),
                layout.storedNames(inProj));
        assertEquals(WeightLayout.PLAIN, ModelDescription.of(NemotronHConfig.read(golden().resolve("tiny-moe/config.json"))).layout());
    }

    /** vLLM's matching, as the README puts it: "exactly, as substrings, or as fnmatch wildcards". */
    @Test
    void excludeEntriesMatchExactlyAsSubstringsOrWildcards() {
        WeightLayout l = WeightLayout.of(Optional.of(new QuantizationConfig(QuantAlgo.FP8,
                List.of("lm_head", "*.mixer.gate", "backbone.layers.[0-2].mixer.conv1d", "layers.5.mixer.out_proj"), null)));
        assertTrue(l.excluded("lm_head"));
        assertTrue(l.excluded("backbone.layers.14.mixer.gate"));
        assertTrue(l.excluded("backbone.layers.2.mixer.conv1d"));
        assertFalse(l.excluded("backbone.layers.3.mixer.conv1d"));
        assertTrue(l.excluded("backbone.layers.5.mixer.out_proj"), "substring");
        assertFalse(l.excluded("backbone.layers.5.mixer.in_proj"));
        assertFalse(l.excluded("backbone.layers.1.mixer.gate_proj.x"), "a wildcard matches the whole name");
    }

    // ---------------------------------------------------------------------------------------------- broken copies

    private static ByteBuffer f32(float v) {
        return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(0, v);
    }

    /**
     * A copy of golden parent {@code name} (config.json, hf_quant_config.json) whose weights are the parent's with
     * {@code edits} applied: name → {dtype, shape, bytes} replaces or adds a tensor, name → null removes it.
     */
    private Path copy(String name, Map<String, Object[]> edits) throws Exception {
        Path from = golden().resolve(name);
        Path to = Files.createDirectory(tmp.resolve(name + "-" + System.nanoTime()));
        Files.copy(from.resolve("config.json"), to.resolve("config.json"));
        Files.copy(from.resolve("hf_quant_config.json"), to.resolve("hf_quant_config.json"));
        try (TensorSource src = Safetensors.open(from.resolve("model.safetensors"))) {
            Map<String, Object[]> tensors = new LinkedHashMap<>();
            for (TensorInfo t : src.tensors()) {
                ByteBuffer b = ByteBuffer.allocate((int) t.byteSize());
                b.put(src.bytes(t)).flip();
                tensors.put(t.name(), new Object[] {t.dtype(), t.shape(), b});
            }
            for (Map.Entry<String, Object[]> e : edits.entrySet()) {
                if (e.getValue() == null) {
                    tensors.remove(e.getKey());
                } else {
                    tensors.put(e.getKey(), e.getValue());
                }
            }
            List<TensorSpec> plan = new ArrayList<>();
            tensors.forEach((n, v) -> plan.add(new TensorSpec(n, (DType) v[0], (long[]) v[1])));
            try (SafetensorsWriter w = SafetensorsWriter.create(to.resolve("model.safetensors"), plan, Map.of())) {
                for (Map.Entry<String, Object[]> e : tensors.entrySet()) {
                    w.write(e.getKey(), ((ByteBuffer) e.getValue()[2]).duplicate());
                }
                w.finish();
            }
        }
        return to;
    }

    private static List<String> problems(Path dir) {
        try (Checkpoint cp = Checkpoint.open(dir)) {
            List<String> p = cp.model().problems(cp.tensors());
            FormatException e = assertThrows(FormatException.class, () -> cp.model().check(cp.tensors()));
            for (String line : p) {
                assertTrue(e.getMessage().contains(line), e.getMessage());
            }
            return p;
        }
    }

    private static void assertOneProblem(List<String> problems, String... fragments) {
        assertEquals(1, problems.size(), problems.toString());
        for (String f : fragments) {
            assertTrue(problems.get(0).contains(f), "expected '" + f + "' in: " + problems.get(0));
        }
    }

    @Test
    void brokenQuantizedTensorsAreNamed() throws Exception {
        // NVFP4 block scales of in_proj ([out, in/16] = [328, 4]) stored as [328, 2]
        assertOneProblem(problems(copy("tiny-moe-nvfp4", Map.of(L0_IN + ".weight_scale",
                        new Object[] {DType.F8_E4M3, new long[] {328, 2}, ByteBuffer.allocate(656)}))),
                L0_IN + ".weight_scale", "expected shape [328, 4]", "found [328, 2]");
        // NVFP4 without weight_scale_2
        assertOneProblem(problems(copy("tiny-moe-nvfp4", mapOfNull(L0_IN + ".weight_scale_2"))),
                L0_IN + ".weight_scale_2", "missing");
        // FP8 weight_scale of the wrong dtype / shape
        assertOneProblem(problems(copy("tiny-moe-fp8", Map.of(L7_DOWN + ".weight_scale",
                        new Object[] {DType.F32, new long[] {64}, ByteBuffer.allocate(256)}))),
                L7_DOWN + ".weight_scale", "expected shape []", "found [64]");
        // FP8 weight_scale missing
        assertOneProblem(problems(copy("tiny-moe-fp8", mapOfNull(L7_DOWN + ".weight_scale"))),
                L7_DOWN + ".weight_scale", "missing");
        // a NaN scale
        assertOneProblem(problems(copy("tiny-moe-fp8", Map.of(L7_DOWN + ".weight_scale",
                        new Object[] {DType.F32, new long[0], f32(Float.NaN)}))),
                L7_DOWN + ".weight_scale", "expected a finite scale", "NaN");
        // input_scale missing: the format table has one for both algos
        assertOneProblem(problems(copy("tiny-moe-fp8", mapOfNull(L7_DOWN + ".input_scale"))),
                "missing tensor " + L7_DOWN + ".input_scale");
        // logical shape: an FP8 weight [64, 64] where [64, 128] is expected (its scales are scalars, so only the
        // description can tell)
        assertOneProblem(problems(copy("tiny-moe-fp8", Map.of(L7_DOWN + ".weight",
                        new Object[] {DType.F8_E4M3, new long[] {64, 64}, ByteBuffer.allocate(64 * 64)}))),
                L7_DOWN + ".weight", "logical shape [64, 64]", "expected [64, 128]");
        // a module the config quantizes, stored as BF16 without scales
        Map<String, Object[]> bf16 = new LinkedHashMap<>(mapOfNull(L7_DOWN + ".weight_scale"));
        bf16.put(L7_DOWN + ".input_scale", null);
        bf16.put(L7_DOWN + ".weight", new Object[] {DType.BF16, new long[] {64, 128}, ByteBuffer.allocate(64 * 128 * 2)});
        assertOneProblem(problems(copy("tiny-moe-fp8", bf16)), L7_DOWN + ".weight", "has dtype BF16, expected F8_E4M3",
                "not in exclude_modules");
        // a scale for a module that exclude_modules keeps unquantized
        assertOneProblem(problems(copy("tiny-moe-fp8", Map.of("backbone.layers.3.mixer.q_proj.weight_scale",
                        new Object[] {DType.F32, new long[0], f32(1f)}))),
                "unexpected tensor backbone.layers.3.mixer.q_proj.weight_scale", "exclude_modules");
    }

    @Test
    void e4m3NaNCodesCountAsNaN() throws Exception {
        // FP8 codes of in_proj: [328, 64]; two NaN codes (0x7F, 0xFF) among them
        ByteBuffer codes;
        try (TensorSource src = Safetensors.open(golden().resolve("tiny-moe-fp8/model.safetensors"))) {
            TensorInfo t = src.require(L0_IN + ".weight");
            codes = ByteBuffer.allocate((int) t.byteSize());
            codes.put(src.bytes(t)).flip();
        }
        codes.put(5, (byte) 0x7F).put(700, (byte) 0xFF);
        Path dir = copy("tiny-moe-fp8", Map.of(L0_IN + ".weight", new Object[] {DType.F8_E4M3, new long[] {328, 64}, codes}));
        NonFinite.Report r = NonFinite.scan(dir);
        assertEquals(2, r.nan());
        assertEquals(0, r.inf());
        assertEquals(List.of(L0_IN + ".weight"), r.offending().stream().map(NonFinite.Count::tensor).toList());
    }

    @Test
    void configAndHfQuantConfigMustAgreeWhenOpening() throws Exception {
        Path dir = copy("tiny-moe-fp8", Map.of());
        Files.writeString(dir.resolve("hf_quant_config.json"), Files.readString(dir.resolve("hf_quant_config.json"))
                .replace("\"FP8\"", "\"NVFP4\",\n    \"group_size\": 16"));
        FormatException e = assertThrows(FormatException.class, () -> Checkpoint.open(dir).close());
        assertEquals(Optional.of(dir.resolve("hf_quant_config.json")), e.file());
        assertTrue(e.getMessage().contains("quantization.quant_algo: expected \"FP8\""), e.getMessage());
    }

    /**
     * {@code kv_cache_quant_algo} is data: with it set, the KV-cache scales ModelOpt writes beside k_proj and v_proj are
     * read past (manyone keeps the KV cache in fp32); without it they are unexpected.
     */
    @Test
    void kvCacheScalesAreReadPastWhenTheConfigSaysSo() throws Exception {
        Map<String, Object[]> kv = new LinkedHashMap<>();
        kv.put("backbone.layers.3.mixer.k_proj.k_scale", new Object[] {DType.F32, new long[0], f32(0.25f)});
        kv.put("backbone.layers.3.mixer.v_proj.v_scale", new Object[] {DType.F32, new long[0], f32(0.5f)});
        Path dir = copy("tiny-moe-fp8", kv);
        List<String> without = problems(dir);
        assertEquals(2, without.size(), without.toString());
        assertTrue(without.get(0).startsWith("unexpected tensor backbone.layers.3.mixer.k_proj.k_scale"), without.toString());

        Path hf = dir.resolve("hf_quant_config.json");
        Files.writeString(hf, Files.readString(hf).replace("\"kv_cache_quant_algo\": null", "\"kv_cache_quant_algo\": \"FP8\""));
        try (Checkpoint cp = Checkpoint.open(dir)) {
            assertEquals(List.of(), cp.model().problems(cp.tensors()));
            assertEquals(List.of("backbone.layers.3.mixer.k_proj.k_scale", "backbone.layers.3.mixer.v_proj.v_scale"),
                    cp.model().unusedTensors(cp.tensors()));
            assertEquals("FP8", CheckpointReport.of(cp, 1, 16).quantization().kvCacheQuantAlgo());
        }
    }

    private static Map<String, Object[]> mapOfNull(String name) {
        Map<String, Object[]> m = new LinkedHashMap<>();
        m.put(name, null);
        return m;
    }
}
