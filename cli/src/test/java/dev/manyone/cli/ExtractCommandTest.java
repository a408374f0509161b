package dev.manyone.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ExtractCommandTest {
    @TempDir
    Path tmp;

    Path tiny() {
        return CliRun.golden().resolve("tiny-hybrid");
    }

    @Test
    void goldenChildFromRankingsFile() throws Exception {
        Path out = tmp.resolve("6b");
        CliRun run = CliRun.of("extract", tiny().toString(), "--spec", tiny().resolve("rankings.json").toString(),
                "--child", "6B-style", "-o", out.toString(), "--json");
        assertEquals(0, run.code(), run.toString());
        JsonNode r = Surgery.JSON.readTree(run.out());
        assertEquals(155_832, r.get("params").asLong()); // rankings.json children.6B-style.params
        assertEquals("M-*-MM*-", r.get("hybrid_override_pattern").asText());
        assertEquals("given", r.get("rankings").asText());
        JsonNode inspected = Surgery.JSON.readTree(CliRun.of("inspect", out.toString(), "--json").out());
        assertTrue(inspected.get("valid").asBoolean());
        assertEquals(155_832, inspected.get("params").get("total").asLong());
        assertEquals(Surgery.elementCount(out.resolve("model.safetensors")), 155_832);
    }

    @Test
    void homogeneousChildFromFlagsWarnsAboutIdentityRankings() throws Exception {
        Path out = tmp.resolve("flags");
        CliRun run = CliRun.of("extract", tiny().toString(), "--hidden", "48", "--mamba-heads", "4", "--mamba-head-dim", "8",
                "--attention-heads", "2", "--ffn", "96", "--drop-layers", "6", "-o", out.toString());
        assertEquals(0, run.code(), run.toString());
        assertTrue(run.err().contains("identity order"), run.toString());
        JsonNode config = Surgery.JSON.readTree(out.resolve("config.json").toFile());
        assertEquals("M-M*-MM*-", config.get("hybrid_override_pattern").asText());
        assertEquals(48, config.get("hidden_size").asInt());
        assertEquals(4, config.get("mamba_num_heads").asInt());
        assertEquals(8, config.get("mamba_head_dim").asInt());
        assertEquals(2, config.get("num_attention_heads").asInt());
        assertEquals(96, config.get("intermediate_size").asInt());
        assertFalse(config.has("layer_configs"), "a homogeneous child needs no layer_configs");
        assertEquals(0, CliRun.of("inspect", out.toString()).code());
    }

    @Test
    void severalChildrenInOnePass() throws Exception {
        Path out = tmp.resolve("family");
        CliRun run = CliRun.of("extract", tiny().toString(), "--spec", tiny().resolve("rankings.json").toString(),
                "--child", "6B-style,9B-style", "--format", "hf,onnx", "-o", out.toString(), "--json");
        assertEquals(0, run.code(), run.toString());
        JsonNode r = Surgery.JSON.readTree(run.out());
        assertEquals(2, r.get("children").size());
        assertEquals(155_832, r.get("children").get(0).get("params").asLong());
        assertEquals(228_348, r.get("children").get(1).get("params").asLong()); // rankings.json children.9B-style.params
        for (String c : new String[] {"6B-style", "9B-style"}) {
            assertEquals(0, CliRun.of("inspect", out.resolve(c).resolve("hf").toString()).code(), c);
            assertTrue(Files.exists(out.resolve(c).resolve("onnx").resolve("model.onnx")), c);
        }
    }

    @Test
    void impossibleSpecWritesNothing() throws Exception {
        Path out = tmp.resolve("wide");
        CliRun run = CliRun.of("extract", tiny().toString(), "--ffn", "1000", "-o", out.toString());
        assertEquals(2, run.code(), run.toString());
        assertTrue(run.err().contains("the parent has 192, the spec asks for 1000"), run.toString());
        assertFalse(Files.exists(out));
        try (var files = Files.list(tmp)) {
            assertEquals(0, files.count(), "no partial output left behind");
        }
    }

    @Test
    void specFileWithSeveralChildrenNeedsChild() {
        CliRun run = CliRun.of("extract", tiny().toString(), "--spec", tiny().resolve("rankings.json").toString(),
                "-o", tmp.resolve("x").toString());
        assertEquals(2, run.code(), run.toString());
        assertTrue(run.err().contains("6B-style, 9B-style, 12B-style"), run.toString());
        assertTrue(run.err().contains("rankings.json"), run.toString());
    }

    @Test
    void noChildGivenIsBadInput() {
        CliRun run = CliRun.of("extract", tiny().toString(), "-o", tmp.resolve("x").toString());
        assertEquals(2, run.code(), run.toString());
        assertTrue(run.err().contains("no child given"), run.toString());
    }

    @Test
    void specAndFlagsTogetherIsBadInput() {
        CliRun run = CliRun.of("extract", tiny().toString(), "--spec", tiny().resolve("rankings.json").toString(),
                "--child", "6B-style", "--ffn", "12", "-o", tmp.resolve("x").toString());
        assertEquals(2, run.code(), run.toString());
        assertTrue(run.err().contains("not both"), run.toString());
    }

    @Test
    void extractingTwiceGivesIdenticalBytes() throws Exception {
        for (String name : new String[] {"a", "b"}) {
            CliRun run = CliRun.of("extract", tiny().toString(), "--spec", tiny().resolve("rankings.json").toString(),
                    "--child", "9B-style", "-o", tmp.resolve(name).toString(), "--shard-size", "100kB");
            assertEquals(0, run.code(), run.toString());
        }
        try (var files = Files.list(tmp.resolve("a"))) {
            for (Path f : (Iterable<Path>) files::iterator) {
                assertTrue(java.util.Arrays.equals(Files.readAllBytes(f), Files.readAllBytes(tmp.resolve("b").resolve(f.getFileName()))),
                        f.getFileName().toString());
            }
        }
    }

    /**
     * A Hugging Face cache snapshot: config, weights and tokenizer are all links into blobs/. The child is extracted as
     * from the plain directory, and the tokenizer travels with it as a regular file.
     */
    @Test
    void huggingFaceCacheSnapshotOfLinks() throws Exception {
        Path blobs = Files.createDirectories(tmp.resolve("hub/models--org--tiny/blobs"));
        Path snapshot = Files.createDirectories(tmp.resolve("hub/models--org--tiny/snapshots/0a1b2c"));
        Files.writeString(blobs.resolve("t0k"), "{\"version\": \"1.0\"}\n");
        Files.createSymbolicLink(snapshot.resolve("tokenizer.json"), Path.of("../../blobs/t0k"));
        for (String name : new String[] {"config.json", "model.safetensors"}) {
            Files.copy(tiny().resolve(name), blobs.resolve("blob-" + name));
            Files.createSymbolicLink(snapshot.resolve(name), Path.of("../../blobs/blob-" + name));
        }
        String spec = tiny().resolve("rankings.json").toString();
        CliRun linked = CliRun.of("extract", snapshot.toString(), "--spec", spec, "--child", "6B-style", "-o", tmp.resolve("from-links").toString());
        assertEquals(0, linked.code(), linked.toString());
        CliRun plain = CliRun.of("extract", tiny().toString(), "--spec", spec, "--child", "6B-style", "-o", tmp.resolve("plain").toString());
        assertEquals(0, plain.code(), plain.toString());
        try (var a = dev.manyone.formats.Safetensors.open(tmp.resolve("plain"));
             var b = dev.manyone.formats.Safetensors.open(tmp.resolve("from-links"))) {
            assertEquals(a.tensors().size(), b.tensors().size());
            for (var t : a.tensors()) { // same tensors; the metadata differs only in manyone.parent (the folder's name)
                var u = b.require(t.name());
                assertEquals(t.byteSize(), u.byteSize(), t.name());
                assertTrue(a.bytes(t, 0, (int) t.byteSize()).equals(b.bytes(u, 0, (int) u.byteSize())), t.name());
            }
        }
        Path tokenizer = tmp.resolve("from-links/tokenizer.json");
        assertFalse(Files.isSymbolicLink(tokenizer), "copied, not linked");
        assertEquals("{\"version\": \"1.0\"}\n", Files.readString(tokenizer));
    }

    /**
     * The golden MoE "small" children are homogeneous, so the MoE flags alone (with the golden rankings) must give
     * them: every tensor's SHA-256 and the config as in rankings.json, the ONNX export beside it.
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource(delimiter = '|', value = {
        "tiny-moe        | --hidden 48 --drop-layers 5 --experts 4 --moe-ffn 16 --shared-ffn 24 --mamba-heads 4 --attention-heads 2 --ffn 64",
        "tiny-latent-moe | --hidden 40 --drop-layers 6 --experts 6 --moe-ffn 8 --shared-ffn 20 --experts-per-token 2 "
            + "--mamba-heads 4 --mamba-head-dim 12 --attention-heads 2 --ffn 64",
    })
    void goldenMoeChildFromFlags(String model, String flags) throws Exception {
        Path parent = CliRun.golden().resolve(model);
        Path out = tmp.resolve("small");
        java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("extract", parent.toString()));
        args.addAll(java.util.List.of(flags.trim().split(" +")));
        args.addAll(java.util.List.of("--rankings", parent.resolve("rankings.json").toString(), "--format", "hf,onnx",
                "-o", out.toString()));
        CliRun run = CliRun.of(args.toArray(String[]::new));
        assertEquals(0, run.code(), run.toString());
        JsonNode golden = Surgery.JSON.readTree(parent.resolve("rankings.json").toFile()).get("children").get("small");
        assertEquals(golden.get("config"), Surgery.JSON.readTree(out.resolve("hf/config.json").toFile()));
        java.util.Map<String, String> hashes = new java.util.TreeMap<>();
        try (dev.manyone.formats.TensorSource t = dev.manyone.formats.Safetensors.open(out.resolve("hf"))) {
            for (dev.manyone.formats.TensorInfo info : t.tensors()) {
                java.security.MessageDigest sha = java.security.MessageDigest.getInstance("SHA-256");
                sha.update(t.bytes(info));
                hashes.put(info.name(), java.util.HexFormat.of().formatHex(sha.digest()));
            }
        }
        java.util.Map<String, String> want = new java.util.TreeMap<>();
        golden.get("tensor_sha256").fields().forEachRemaining(e -> want.put(e.getKey(), e.getValue().asText()));
        assertEquals(want, hashes);
        CliRun gen = CliRun.of("run", out.resolve("onnx").toString(), "--prompt-ids", "5,6,7", "--max-new-tokens", "4");
        assertEquals(0, gen.code(), gen.toString());
    }

    @Test
    void moeFlagsOnADenseParentAreBadInput() {
        CliRun run = CliRun.of("extract", tiny().toString(), "--experts", "4", "-o", tmp.resolve("x").toString());
        assertEquals(2, run.code(), run.toString());
        assertTrue(run.err().contains("the parent has none"), run.toString());
    }

    @Test
    void helpTeachesTheMoeFlags() {
        CliRun run = CliRun.of("extract", "--help");
        assertEquals(0, run.code(), run.toString());
        for (String f : new String[] {"--experts", "--moe-ffn", "--shared-ffn", "--experts-per-token", "per router group"}) {
            assertTrue(run.out().contains(f), f + " in\n" + run.out());
        }
    }
}
