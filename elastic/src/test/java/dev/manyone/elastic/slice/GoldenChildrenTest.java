package dev.manyone.elastic.slice;

import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.formats.Progress;
import dev.manyone.formats.Safetensors;
import dev.manyone.formats.TensorInfo;
import dev.manyone.formats.TensorSource;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Extraction against the golden children: every child tensor's SHA-256 (of its BF16 bytes, "the parent's stored
 * bits, sliced") and the child config must equal what the independent reference wrote in rankings.json.
 */
class GoldenChildrenTest {
    static final ObjectMapper JSON = JsonMapper.builder().enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build();

    static Path golden() {
        String p = System.getProperty("manyone.golden");
        return Path.of(p != null ? p : "../../shared/golden");
    }

    @ParameterizedTest
    @CsvSource({"tiny-hybrid,6B-style", "tiny-hybrid,9B-style", "tiny-hybrid,12B-style",
        "trained-hybrid,75pct", "trained-hybrid,50pct",
        "tiny-moe,small", "tiny-moe,medium", "tiny-moe,full", "tiny-latent-moe,small", "tiny-latent-moe,full"})
    void childMatchesGolden(String model, String child, @TempDir Path tmp) throws Exception {
        Path parentDir = golden().resolve(model);
        Path rankingsFile = parentDir.resolve("rankings.json");
        JsonNode expected = JSON.readTree(rankingsFile.toFile()).get("children").get(child);
        Path out = tmp.resolve(child);
        try (Checkpoint parent = Checkpoint.open(parentDir)) {
            ChildSpec spec = SpecFiles.readSpec(rankingsFile, child);
            Rankings rankings = SpecFiles.rankingsIn(rankingsFile, parent.model()).orElseThrow();
            SlicePlan plan = SlicePlan.of(parent.model(), spec, rankings, rankingsFile);
            assertEquals(expected.get("params").asLong(), plan.params());
            // a small shard size so the child is sharded and the index is exercised
            Extractor.writeHuggingFace(parent, plan, out, false, 40_000, Map.of("manyone.test", "golden"), Progress.NONE);
        }
        assertEquals(JSON.readTree(out.resolve("config.json").toFile()), expected.get("config"), "child config.json");
        Map<String, String> hashes = new TreeMap<>();
        try (TensorSource t = Safetensors.open(out)) {
            for (TensorInfo info : t.tensors()) {
                MessageDigest sha = MessageDigest.getInstance("SHA-256");
                ByteBuffer bytes = t.bytes(info);
                sha.update(bytes);
                hashes.put(info.name(), HexFormat.of().formatHex(sha.digest()));
            }
        }
        Map<String, String> want = new TreeMap<>();
        expected.get("tensor_sha256").fields().forEachRemaining(e -> want.put(e.getKey(), e.getValue().asText()));
        assertEquals(want, hashes);
        assertTrue(Files.exists(out.resolve("model.safetensors.index.json")));
        assertTrue(Files.notExists(out.resolve("rankings.json")), "the parent's rankings do not belong in a child");
    }

    @ParameterizedTest
    @CsvSource({"tiny-hybrid,6B-style,9B-style", "tiny-moe,small,medium", "tiny-latent-moe,small,full"})
    void onePassOverTheParentWritesTheSameChildrenAsSeparatePasses(String model, String smaller, String larger,
                                                                   @TempDir Path tmp) throws Exception {
        Path parentDir = golden().resolve(model);
        Path rankingsFile = parentDir.resolve("rankings.json");
        java.util.List<Extractor.Target> targets = new java.util.ArrayList<>();
        try (Checkpoint parent = Checkpoint.open(parentDir)) {
            Rankings rankings = SpecFiles.rankingsIn(rankingsFile, parent.model()).orElseThrow();
            for (String child : new String[] {smaller, larger}) {
                SlicePlan plan = SlicePlan.of(parent.model(), SpecFiles.readSpec(rankingsFile, child), rankings, rankingsFile);
                Extractor.writeHuggingFace(parent, plan, tmp.resolve("alone-" + child), false, 100_000, Map.of(), Progress.NONE);
                targets.add(new Extractor.Target(plan, tmp.resolve("together-" + child), Map.of()));
            }
            Extractor.Result r = Extractor.writeHuggingFace(parent, targets, false, 100_000, Progress.NONE);
            // the larger child keeps a superset of every tensor the 6B-style child reads: the pass reads each
            // parent tensor once, as much of it as the larger child needs, not once per child
            assertTrue(r.bytesRead() <= Files.size(parentDir.resolve("model.safetensors")), "read " + r.bytesRead());
        }
        for (String child : new String[] {smaller, larger}) {
            try (var files = Files.list(tmp.resolve("alone-" + child))) {
                for (Path f : (Iterable<Path>) files::iterator) {
                    assertArrayEquals(Files.readAllBytes(f), Files.readAllBytes(tmp.resolve("together-" + child).resolve(f.getFileName())),
                            child + "/" + f.getFileName());
                }
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"tiny-hybrid", "trained-hybrid", "tiny-moe", "tiny-latent-moe"})
    void identityChildIsTheParentBitForBit(String model, @TempDir Path tmp) throws Exception {
        Path parentDir = golden().resolve(model);
        Path out = tmp.resolve("full");
        try (Checkpoint parent = Checkpoint.open(parentDir)) {
            SlicePlan plan = SlicePlan.of(parent.model(), ChildSpec.full(), Rankings.identity(parent.model()), null);
            Extractor.writeHuggingFace(parent, plan, out, false, Long.MAX_VALUE, Map.of(), Progress.NONE);
        }
        // same JSON (trained-hybrid's file lacks the final newline our writer always adds)
        assertEquals(JSON.readTree(parentDir.resolve("config.json").toFile()), JSON.readTree(out.resolve("config.json").toFile()));
        try (TensorSource a = Safetensors.open(parentDir); TensorSource b = Safetensors.open(out)) {
            assertEquals(a.tensors().size(), b.tensors().size());
            for (TensorInfo t : a.tensors()) {
                TensorInfo u = b.require(t.name());
                assertArrayEquals(t.shape(), u.shape());
                assertEquals(a.bytes(t), b.bytes(u), t.name());
            }
        }
    }

    /**
     * A Nemotron 3 checkpoint may carry a multi-token-prediction head ({@code mtp.*}); a child does not: the golden
     * tiny-moe parent with an mtp tensor appended gives the golden {@code medium} child, tensor for tensor.
     */
    @org.junit.jupiter.api.Test
    void parentsMtpHeadIsDropped(@TempDir Path tmp) throws Exception {
        Path golden = golden().resolve("tiny-moe");
        Path parentDir = Files.createDirectories(tmp.resolve("parent"));
        Files.copy(golden.resolve("config.json"), parentDir.resolve("config.json"));
        byte[] file = Files.readAllBytes(golden.resolve("model.safetensors"));
        long n = ByteBuffer.wrap(file, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        com.fasterxml.jackson.databind.node.ObjectNode header =
                (com.fasterxml.jackson.databind.node.ObjectNode) JSON.readTree(new String(file, 8, (int) n, java.nio.charset.StandardCharsets.UTF_8));
        int data = file.length - 8 - (int) n;
        header.putObject("mtp.layers.0.norm.weight").put("dtype", "BF16")
                .<com.fasterxml.jackson.databind.node.ObjectNode>set("shape", JSON.createArrayNode().add(64))
                .set("data_offsets", JSON.createArrayNode().add(data).add(data + 128));
        StringBuilder text = new StringBuilder(JSON.writeValueAsString(header));
        while ((8 + text.length()) % 8 != 0) {
            text.append(' ');
        }
        byte[] h = text.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        try (var out = Files.newOutputStream(parentDir.resolve("model.safetensors"))) {
            out.write(ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(h.length).array());
            out.write(h);
            out.write(file, 8 + (int) n, data);
            out.write(new byte[128]);
        }
        Path rankingsFile = golden.resolve("rankings.json");
        JsonNode expected = JSON.readTree(rankingsFile.toFile()).get("children").get("medium");
        Path out = tmp.resolve("medium");
        try (Checkpoint parent = Checkpoint.open(parentDir)) {
            org.junit.jupiter.api.Assertions.assertNotNull(parent.tensors().require("mtp.layers.0.norm.weight"));
            SlicePlan plan = SlicePlan.of(parent.model(), SpecFiles.readSpec(rankingsFile, "medium"),
                    SpecFiles.rankingsIn(rankingsFile, parent.model()).orElseThrow(), rankingsFile);
            Extractor.writeHuggingFace(parent, plan, out, false, Long.MAX_VALUE, Map.of(), Progress.NONE);
        }
        Map<String, String> hashes = new TreeMap<>();
        try (TensorSource t = Safetensors.open(out)) {
            for (TensorInfo info : t.tensors()) {
                MessageDigest sha = MessageDigest.getInstance("SHA-256");
                sha.update(t.bytes(info));
                hashes.put(info.name(), HexFormat.of().formatHex(sha.digest()));
            }
        }
        Map<String, String> want = new TreeMap<>();
        expected.get("tensor_sha256").fields().forEachRemaining(e -> want.put(e.getKey(), e.getValue().asText()));
        assertEquals(want, hashes);
    }
}
