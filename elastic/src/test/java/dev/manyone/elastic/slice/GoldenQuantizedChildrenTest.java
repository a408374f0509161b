package dev.manyone.elastic.slice;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.elastic.export.CheckpointWeights;
import dev.manyone.elastic.export.ExportOptions;
import dev.manyone.elastic.export.OnnxExporter;
import dev.manyone.elastic.export.WeightSource;
import dev.manyone.elastic.runtime.Evaluator;
import dev.manyone.elastic.runtime.OnnxDecoder;
import dev.manyone.elastic.runtime.TokenFile;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.Progress;
import dev.manyone.formats.Safetensors;
import dev.manyone.formats.TensorInfo;
import dev.manyone.formats.TensorSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Extraction of the golden quantized parents tiny-moe-fp8 and tiny-moe-nvfp4 (golden README, "Slicing rules for
 * quantized tensors"): the stored bytes are sliced, so every child tensor, codes and scales included, has the
 * golden {@code tensor_sha256}; the child config (with its {@code quantization_config}) and {@code params} are the
 * golden ones; the child's hf_quant_config.json holds the same list; its exports, straight from the parent or from
 * the written child, give the golden child logits (computed from the dequantized weights) within 1e-4.
 */
class GoldenQuantizedChildrenTest {
    static final String CHILD = "prefix";

    static Path parentDir(String model) {
        return GoldenChildrenTest.golden().resolve(model);
    }

    static JsonNode goldenChild(String model) throws Exception {
        return GoldenChildrenTest.JSON.readTree(parentDir(model).resolve("rankings.json").toFile()).get("children").get(CHILD);
    }

    static SlicePlan plan(Checkpoint parent, Path rankingsFile) {
        return SlicePlan.of(parent.model(), SpecFiles.readSpec(rankingsFile, CHILD),
                SpecFiles.rankingsIn(rankingsFile, parent.model()).orElseThrow(), rankingsFile);
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-moe-fp8", "tiny-moe-nvfp4"})
    void prefixChildMatchesGolden(String model, @TempDir Path tmp) throws Exception {
        Path dir = parentDir(model);
        Path rankingsFile = dir.resolve("rankings.json");
        JsonNode expected = goldenChild(model);
        Path out = tmp.resolve(CHILD);
        try (Checkpoint parent = Checkpoint.open(dir)) {
            SlicePlan plan = plan(parent, rankingsFile);
            assertEquals(expected.get("params").asLong(), plan.params());
            Extractor.Result r = Extractor.writeHuggingFace(parent, plan, out, false, 40_000, Map.of(), Progress.NONE);
            assertEquals(expected.get("params").asLong(), r.params());
        }
        JsonNode config = GoldenChildrenTest.JSON.readTree(out.resolve("config.json").toFile());
        assertEquals(expected.get("config"), config, "child config.json");
        assertEquals(goldenHashes(expected), hashes(out));
        // "The child's hf_quant_config.json holds the same list": the parent's file with the child's list
        ObjectNode hf = (ObjectNode) GoldenChildrenTest.JSON.readTree(dir.resolve("hf_quant_config.json").toFile());
        ((ObjectNode) hf.get("quantization")).set("exclude_modules", expected.get("config").get("quantization_config")
                .get("exclude_modules"));
        assertEquals(hf, GoldenChildrenTest.JSON.readTree(out.resolve("hf_quant_config.json").toFile()));
        // every layer is kept, so the list, and the file, are the parent's
        assertEquals(Files.readString(dir.resolve("hf_quant_config.json")), Files.readString(out.resolve("hf_quant_config.json")));
        assertTrue(Files.notExists(out.resolve("rankings.json")));
        try (Checkpoint child = Checkpoint.open(out)) { // the child validates as a quantized checkpoint
            assertEquals(expected.get("params").asLong(), child.model().params().total());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-moe-fp8", "tiny-moe-nvfp4"})
    void prefixChildLogitsMatchGolden(String model, @TempDir Path tmp) throws Exception {
        Path dir = parentDir(model);
        Path rankingsFile = dir.resolve("rankings.json");
        ExportOptions fp32 = new ExportOptions(ExportOptions.Mamba.CONTRIB, ExportOptions.Weights.FP32);
        // straight from the parent
        try (Checkpoint parent = Checkpoint.open(dir)) {
            SlicePlan plan = plan(parent, rankingsFile);
            export(ModelDescription.of(plan.config()), new SlicedWeights(parent.tensors(), plan), fp32, tmp.resolve("direct"));
            Extractor.writeHuggingFace(parent, plan, tmp.resolve("hf"), false, Long.MAX_VALUE, Map.of(), Progress.NONE);
        }
        assertLogits(dir, tmp.resolve("direct"), model + " direct");
        assertFalse(GoldenChildrenTest.JSON.readTree(tmp.resolve("direct/config.json").toFile()).has("quantization_config"));
        assertTrue(Files.notExists(tmp.resolve("direct/hf_quant_config.json")));
        // from the written child checkpoint
        try (Checkpoint child = Checkpoint.open(tmp.resolve("hf"))) {
            export(child.model(), CheckpointWeights.of(child), fp32, tmp.resolve("exported"));
        }
        assertLogits(dir, tmp.resolve("exported"), model + " exported");
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-moe-fp8", "tiny-moe-nvfp4"})
    void identityChildIsTheParentBitForBit(String model, @TempDir Path tmp) throws Exception {
        Path dir = parentDir(model);
        Path out = tmp.resolve("full");
        try (Checkpoint parent = Checkpoint.open(dir)) {
            SlicePlan plan = SlicePlan.of(parent.model(), ChildSpec.full(), Rankings.identity(parent.model()), null);
            Extractor.writeHuggingFace(parent, plan, out, false, Long.MAX_VALUE, Map.of(), Progress.NONE);
        }
        assertEquals(GoldenChildrenTest.JSON.readTree(dir.resolve("config.json").toFile()),
                GoldenChildrenTest.JSON.readTree(out.resolve("config.json").toFile()));
        assertEquals(Files.readString(dir.resolve("hf_quant_config.json")), Files.readString(out.resolve("hf_quant_config.json")));
        try (TensorSource a = Safetensors.open(dir); TensorSource b = Safetensors.open(out)) {
            assertEquals(a.tensors().size(), b.tensors().size());
            for (TensorInfo t : a.tensors()) {
                TensorInfo u = b.require(t.name());
                assertEquals(t.dtype(), u.dtype(), t.name());
                assertArrayEquals(t.shape(), u.shape(), t.name());
                assertEquals(a.bytes(t), b.bytes(u), t.name());
            }
        }
    }

    /** Several quantized children in one pass over the parent are the same files as each written alone. */
    @ParameterizedTest
    @ValueSource(strings = {"tiny-moe-fp8", "tiny-moe-nvfp4"})
    void onePassWritesTheSameChildrenAsSeparatePasses(String model, @TempDir Path tmp) throws Exception {
        Path dir = parentDir(model);
        Path rankingsFile = dir.resolve("rankings.json");
        try (Checkpoint parent = Checkpoint.open(dir)) {
            List<SlicePlan> plans = List.of(plan(parent, rankingsFile),
                    SlicePlan.of(parent.model(), ChildSpec.full(), Rankings.identity(parent.model()), null));
            List<Extractor.Target> together = new java.util.ArrayList<>();
            for (int k = 0; k < plans.size(); k++) {
                Extractor.writeHuggingFace(parent, plans.get(k), tmp.resolve("alone-" + k), false, 100_000, Map.of(), Progress.NONE);
                together.add(new Extractor.Target(plans.get(k), tmp.resolve("together-" + k), Map.of()));
            }
            Extractor.writeHuggingFace(parent, together, false, 100_000, Progress.NONE);
        }
        for (int k = 0; k < 2; k++) {
            try (var files = Files.list(tmp.resolve("alone-" + k))) {
                for (Path f : (Iterable<Path>) files::iterator) {
                    assertArrayEquals(Files.readAllBytes(f), Files.readAllBytes(tmp.resolve("together-" + k).resolve(f.getFileName())),
                            k + "/" + f.getFileName());
                }
            }
        }
        assertEquals(goldenHashes(goldenChild(model)), hashes(tmp.resolve("together-0")));
    }

    /**
     * "A slice that cuts a block cannot be represented without re-quantizing, so it must be refused with an error
     * that names the tensor and the columns. An example is hidden 40, which is 2.5 blocks of in_proj's input."
     */
    @Test
    void nvfp4SliceCuttingABlockIsRefusedBeforeAnythingIsWritten(@TempDir Path tmp) throws Exception {
        Path dir = parentDir("tiny-moe-nvfp4");
        try (Checkpoint parent = Checkpoint.open(dir)) {
            Rankings rankings = SpecFiles.rankingsIn(dir.resolve("rankings.json"), parent.model()).orElseThrow();
            FormatException e = assertThrows(FormatException.class, () -> SlicePlan.of(parent.model(),
                    new ChildSpec(40, null, Map.of()), rankings, null));
            assertTrue(e.getMessage().contains("backbone.layers.0.mixer.in_proj.weight"), e.getMessage());
            assertTrue(e.getMessage().contains("NVFP4 slices whole 16-column blocks"), e.getMessage());
            assertTrue(e.getMessage().contains("columns"), e.getMessage());
        }
        assertTrue(Files.notExists(tmp.resolve("out")));
    }

    /** FP8 slices any index set: hidden 40 is a valid FP8 child. */
    @Test
    void fp8SlicesAnyColumns(@TempDir Path tmp) throws Exception {
        Path dir = parentDir("tiny-moe-fp8");
        try (Checkpoint parent = Checkpoint.open(dir)) {
            Rankings rankings = SpecFiles.rankingsIn(dir.resolve("rankings.json"), parent.model()).orElseThrow();
            SlicePlan plan = SlicePlan.of(parent.model(), new ChildSpec(40, null, Map.of()), rankings, null);
            Extractor.writeHuggingFace(parent, plan, tmp.resolve("h40"), false, Long.MAX_VALUE, Map.of(), Progress.NONE);
        }
        try (Checkpoint child = Checkpoint.open(tmp.resolve("h40"))) {
            assertEquals(40, child.model().hidden());
        }
    }

    /**
     * "An entry backbone.layers.&lt;i&gt;.… of its lists moves with layer i to the layer's new index, or goes when layer
     * i is dropped; other entries stay." Dropping tiny-moe-fp8's layers 2 and 3 (a Mamba and the attention layer):
     * the list below is the golden parent's, edited by hand by that rule.
     */
    @Test
    void droppedLayersLeaveTheExcludeList(@TempDir Path tmp) throws Exception {
        Path dir = parentDir("tiny-moe-fp8");
        Path out = tmp.resolve("drop");
        try (Checkpoint parent = Checkpoint.open(dir)) {
            Rankings rankings = SpecFiles.rankingsIn(dir.resolve("rankings.json"), parent.model()).orElseThrow();
            SlicePlan plan = SlicePlan.of(parent.model(), new ChildSpec(null, List.of(0, 1, 4, 5, 6, 7), Map.of()), rankings, null);
            Extractor.writeHuggingFace(parent, plan, out, false, Long.MAX_VALUE, Map.of(), Progress.NONE);
        }
        List<String> want = List.of("lm_head", "backbone.embeddings", "backbone.layers.0.mixer.conv1d",
                "backbone.layers.1.mixer.gate", "backbone.layers.2.mixer.gate", "backbone.layers.3.mixer.conv1d",
                "backbone.layers.4.mixer.gate");
        JsonNode q = GoldenChildrenTest.JSON.readTree(out.resolve("config.json").toFile()).get("quantization_config");
        assertEquals(GoldenChildrenTest.JSON.valueToTree(want), q.get("exclude_modules"));
        assertEquals(GoldenChildrenTest.JSON.valueToTree(want), q.get("ignore"));
        JsonNode hf = GoldenChildrenTest.JSON.readTree(out.resolve("hf_quant_config.json").toFile());
        assertEquals(GoldenChildrenTest.JSON.valueToTree(want), hf.get("quantization").get("exclude_modules"));
        try (Checkpoint child = Checkpoint.open(out)) {
            assertEquals("MEEME-", child.model().config().hybridOverridePattern());
        }
    }

    /**
     * What a child keeps is checked for NaN as it is copied: an E4M3 NaN code (0x7F; "there are no infinities; 0x7F
     * and 0xFF are NaN") in a kept FP8 weight fails the extraction, leaving no output; without the check it is copied.
     */
    @Test
    void fp8NaNCodeInAKeptWeightIsRefused(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("parent");
        Files.createDirectories(dir);
        for (String f : List.of("config.json", "hf_quant_config.json", "model.safetensors")) {
            Files.copy(parentDir("tiny-moe-fp8").resolve(f), dir.resolve(f));
        }
        String tensor = "backbone.layers.7.mixer.down_proj.weight";
        byte[] file = Files.readAllBytes(dir.resolve("model.safetensors"));
        long n = java.nio.ByteBuffer.wrap(file, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        JsonNode header = GoldenChildrenTest.JSON.readTree(new String(file, 8, (int) n, java.nio.charset.StandardCharsets.UTF_8));
        assertEquals("F8_E4M3", header.get(tensor).get("dtype").asText());
        file[(int) (8 + n + header.get(tensor).get("data_offsets").get(0).asLong())] = 0x7F;
        Files.write(dir.resolve("model.safetensors"), file);
        try (Checkpoint parent = Checkpoint.open(dir)) {
            SlicePlan plan = SlicePlan.of(parent.model(), ChildSpec.full(), Rankings.identity(parent.model()), null);
            FormatException e = assertThrows(FormatException.class, () -> Extractor.writeHuggingFace(parent,
                    List.of(new Extractor.Target(plan, tmp.resolve("out"), Map.of())), false, Long.MAX_VALUE, true, Progress.NONE));
            assertTrue(e.getMessage().contains(tensor) && e.getMessage().contains("1 NaN"), e.getMessage());
            assertTrue(Files.notExists(tmp.resolve("out")));
            Extractor.writeHuggingFace(parent, List.of(new Extractor.Target(plan, tmp.resolve("out"), Map.of())), false,
                    Long.MAX_VALUE, false, Progress.NONE);
        }
        try (TensorSource t = Safetensors.open(tmp.resolve("out"))) {
            assertEquals(0x7F, t.bytes(t.require(tensor)).get(0));
        }
    }

    /**
     * An exclude entry that is not a {@code backbone.layers.<i>.…} name stays as it is, so after renumbering it can
     * match a different module: {@code *layers.2.mixer.in_proj} keeps parent layer 2's in_proj unquantized, but with
     * layer 0 dropped that layer is child layer 1, and the entry would make the child quantize it. Refused, naming
     * the module, instead of writing a child whose config misdescribes its tensors.
     */
    @Test
    void excludeEntryThatWouldChangeMeaningIsRefused() throws Exception {
        String text = Files.readString(parentDir("tiny-moe-fp8").resolve("config.json"));
        text = text.replace("\"backbone.layers.0.mixer.conv1d\",", "\"backbone.layers.0.mixer.conv1d\", \"*layers.2.mixer.in_proj\",");
        dev.manyone.elastic.NemotronHConfig config = dev.manyone.elastic.NemotronHConfig.parse(text, Path.of("config.json"));
        ModelDescription parent = ModelDescription.of(config);
        assertTrue(parent.layout().excluded("backbone.layers.2.mixer.in_proj"));
        FormatException e = assertThrows(FormatException.class, () -> SlicePlan.of(parent,
                new ChildSpec(null, List.of(1, 2, 3, 4, 5, 6, 7), Map.of()), Rankings.identity(parent), null));
        assertTrue(e.getMessage().contains("no longer excludes backbone.layers.1.mixer.in_proj"), e.getMessage());
    }

    /**
     * With {@code kv_cache_quant_algo} set, the KV-cache scales beside a kept attention layer's k_proj and v_proj go
     * with the layer to its new index, unchanged, and the child (whose quantization config keeps the KV-cache algo)
     * validates; a dropped layer's scales go with it.
     */
    @Test
    void kvCacheScalesMoveWithTheirLayer(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("parent");
        Files.createDirectories(dir);
        for (String f : List.of("config.json", "hf_quant_config.json")) {
            Files.copy(parentDir("tiny-moe-fp8").resolve(f), dir.resolve(f));
        }
        Path hf = dir.resolve("hf_quant_config.json");
        Files.writeString(hf, Files.readString(hf).replace("\"kv_cache_quant_algo\": null", "\"kv_cache_quant_algo\": \"FP8\""));
        byte[] file = Files.readAllBytes(parentDir("tiny-moe-fp8").resolve("model.safetensors"));
        long n = java.nio.ByteBuffer.wrap(file, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        ObjectNode header = (ObjectNode) GoldenChildrenTest.JSON.readTree(new String(file, 8, (int) n, java.nio.charset.StandardCharsets.UTF_8));
        int data = file.length - 8 - (int) n;
        header.putObject("backbone.layers.3.mixer.k_proj.k_scale").put("dtype", "F32")
                .<ObjectNode>set("shape", GoldenChildrenTest.JSON.createArrayNode())
                .set("data_offsets", GoldenChildrenTest.JSON.createArrayNode().add(data).add(data + 4));
        header.putObject("backbone.layers.3.mixer.v_proj.v_scale").put("dtype", "F32")
                .<ObjectNode>set("shape", GoldenChildrenTest.JSON.createArrayNode())
                .set("data_offsets", GoldenChildrenTest.JSON.createArrayNode().add(data + 4).add(data + 8));
        StringBuilder text = new StringBuilder(GoldenChildrenTest.JSON.writeValueAsString(header));
        while (text.length() % 8 != 0) {
            text.append(' ');
        }
        byte[] h = text.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        try (var out = Files.newOutputStream(dir.resolve("model.safetensors"))) {
            out.write(java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(h.length).array());
            out.write(h);
            out.write(file, 8 + (int) n, data);
            out.write(java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN).putFloat(0.25f).putFloat(0.5f).array());
        }
        Path kept = tmp.resolve("kept");
        Path dropped = tmp.resolve("dropped");
        try (Checkpoint parent = Checkpoint.open(dir)) {
            Rankings rankings = Rankings.identity(parent.model());
            Extractor.writeHuggingFace(parent, SlicePlan.of(parent.model(), new ChildSpec(null, List.of(0, 1, 3, 4, 5, 6, 7),
                    Map.of()), rankings, null), kept, false, Long.MAX_VALUE, Map.of(), Progress.NONE);
            Extractor.writeHuggingFace(parent, SlicePlan.of(parent.model(), new ChildSpec(null, List.of(0, 1, 2, 4, 5, 6, 7),
                    Map.of()), rankings, null), dropped, false, Long.MAX_VALUE, Map.of(), Progress.NONE);
        }
        try (Checkpoint child = Checkpoint.open(kept)) {
            assertEquals(List.of("backbone.layers.2.mixer.k_proj.k_scale", "backbone.layers.2.mixer.v_proj.v_scale"),
                    child.model().unusedTensors(child.tensors()));
            assertEquals(0.25f, child.tensors().bytes(child.tensors().require("backbone.layers.2.mixer.k_proj.k_scale"))
                    .order(java.nio.ByteOrder.LITTLE_ENDIAN).getFloat(0));
            assertEquals(0.5f, child.tensors().bytes(child.tensors().require("backbone.layers.2.mixer.v_proj.v_scale"))
                    .order(java.nio.ByteOrder.LITTLE_ENDIAN).getFloat(0));
            assertEquals("FP8", child.model().layout().quantization().orElseThrow().kvCacheQuantAlgo());
        }
        try (Checkpoint child = Checkpoint.open(dropped)) {
            assertEquals(List.of(), child.model().unusedTensors(child.tensors()));
        }
    }

    private static void export(ModelDescription model, WeightSource weights, ExportOptions options, Path out) throws Exception {
        OnnxExporter.export(model, weights, options, out, false, Map.of(), List.of(), "test", Progress.NONE);
    }

    private static void assertLogits(Path parentDir, Path onnx, String what) throws Exception {
        List<long[]> ids = TokenFile.read(parentDir.resolve("golden.safetensors"), Integer.MAX_VALUE);
        float[] expected;
        long[] shape;
        try (TensorSource src = Safetensors.open(parentDir.resolve("child-" + CHILD + ".safetensors"))) {
            TensorInfo t = src.require("logits");
            expected = src.readFloats(t);
            shape = t.shape();
        }
        int n = (int) (shape[1] * shape[2]);
        try (OnnxDecoder decoder = OnnxDecoder.open(onnx, 0)) {
            float[][] ours = Evaluator.logits(decoder, ids, 0);
            double max = 0;
            for (int b = 0; b < ids.size(); b++) {
                for (int i = 0; i < n; i++) {
                    max = Math.max(max, Math.abs(ours[b][i] - expected[b * n + i]));
                }
            }
            System.out.printf("%s: max |diff| %.3g%n", what, max);
            assertTrue(max < 1e-4, what + ": " + max);
        }
    }

    private static Map<String, String> goldenHashes(JsonNode child) {
        Map<String, String> want = new TreeMap<>();
        child.get("tensor_sha256").fields().forEachRemaining(e -> want.put(e.getKey(), e.getValue().asText()));
        return want;
    }

    private static Map<String, String> hashes(Path dir) throws Exception {
        Map<String, String> out = new TreeMap<>();
        try (TensorSource t = Safetensors.open(dir)) {
            for (TensorInfo info : t.tensors()) {
                MessageDigest sha = MessageDigest.getInstance("SHA-256");
                sha.update(t.bytes(info));
                out.put(info.name(), HexFormat.of().formatHex(sha.digest()));
            }
        }
        return out;
    }
}
