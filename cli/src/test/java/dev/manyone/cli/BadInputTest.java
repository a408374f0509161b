package dev.manyone.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The bad-input catalogue of the foundation issue: each case is a damaged copy of the golden tiny-hybrid
 * checkpoint; {@code manyone inspect} must exit 2 with one message naming the file and the problem, and no stack
 * trace.
 */
class BadInputTest {
    static final String Q_PROJ = "backbone.layers.3.mixer.q_proj.weight";

    @TempDir
    Path tmp;
    Path dir;
    Path weights;

    @BeforeEach
    void copyGolden() throws IOException {
        dir = tmp.resolve("ckpt");
        Surgery.copyDir(CliRun.golden().resolve("tiny-hybrid"), dir);
        weights = dir.resolve("model.safetensors");
    }

    private CliRun inspectExpectingBadInput(String... mustContain) {
        CliRun run = CliRun.of("inspect", dir.toString());
        assertEquals(2, run.code(), run.toString());
        String all = run.out() + run.err();
        for (String s : mustContain) {
            assertTrue(all.contains(s), "expected '" + s + "' in:\n" + run);
        }
        assertFalse(run.err().contains("\tat "), "no stack trace for user errors:\n" + run);
        return run;
    }

    @Test
    void truncatedFile() throws IOException {
        try (FileChannel ch = FileChannel.open(weights, StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() - 1000);
        }
        inspectExpectingBadInput("model.safetensors", "lm_head.weight", "truncated");
    }

    @Test
    void headerLengthBeyondFile() throws IOException {
        try (FileChannel ch = FileChannel.open(weights, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 50_000_000L), 0);
        }
        inspectExpectingBadInput("model.safetensors", "50000000", "header");
    }

    @Test
    void fileShorterThanHeaderLength() throws IOException {
        Files.write(weights, new byte[] {1, 2, 3});
        inspectExpectingBadInput("model.safetensors");
    }

    @Test
    void overlappingOffsets() throws IOException {
        // k_proj and v_proj have the same size: give the later one the earlier one's bytes, so the scan in offset
        // order meets the overlap before the hole the moved tensor leaves behind
        Surgery.editHeader(weights, h -> {
            ArrayNode k = (ArrayNode) h.get("backbone.layers.3.mixer.k_proj.weight").get("data_offsets");
            ArrayNode v = (ArrayNode) h.get("backbone.layers.3.mixer.v_proj.weight").get("data_offsets");
            ArrayNode first = k.get(0).asLong() < v.get(0).asLong() ? k : v;
            ArrayNode second = first == k ? v : k;
            second.set(0, first.get(0).asLong());
            second.set(1, first.get(1).asLong());
        });
        inspectExpectingBadInput("model.safetensors", "overlap");
    }

    @Test
    void shapeDisagreesWithByteSpan() throws IOException {
        Surgery.editHeader(weights, h -> ((ObjectNode) h.get(Q_PROJ)).putArray("shape").add(64).add(63));
        inspectExpectingBadInput("model.safetensors", Q_PROJ, "8192");
    }

    @Test
    void unknownDtype() throws IOException {
        Surgery.editHeader(weights, h -> ((ObjectNode) h.get(Q_PROJ)).put("dtype", "Q4_K"));
        inspectExpectingBadInput("model.safetensors", Q_PROJ, "Q4_K");
    }

    @Test
    void tensorMissingFromCheckpoint() throws IOException {
        Surgery.editHeader(weights, h -> h.set("renamed.q_proj.weight", h.remove(Q_PROJ)));
        CliRun run = inspectExpectingBadInput(Q_PROJ, "renamed.q_proj.weight");
        assertTrue(run.out().contains("missing"), run.toString());
    }

    @Test
    void wrongTensorShapeForConfig() throws IOException {
        // same byte span, so the file is well formed, but the config says [64, 64]
        Surgery.editHeader(weights, h -> ((ObjectNode) h.get(Q_PROJ)).putArray("shape").add(32).add(128));
        CliRun run = inspectExpectingBadInput(Q_PROJ, "[32, 128]", "[64, 64]");
        assertTrue(run.err().contains(dir.toString()), run.toString());
    }

    @Test
    void malformedConfig() throws IOException {
        String text = Files.readString(dir.resolve("config.json"));
        Files.writeString(dir.resolve("config.json"), text.substring(0, text.length() / 2));
        inspectExpectingBadInput("config.json");
    }

    @Test
    void configWithWrongFieldType() throws IOException {
        String text = Files.readString(dir.resolve("config.json")).replace("\"hidden_size\": 64", "\"hidden_size\": \"64\"");
        Files.writeString(dir.resolve("config.json"), text);
        inspectExpectingBadInput("config.json", "hidden_size");
    }

    @Test
    void patternLengthDisagreesWithLayerCount() throws IOException {
        String text = Files.readString(dir.resolve("config.json")).replace("\"M-M*-M-M*-\"", "\"M-M*-M-M*\"");
        Files.writeString(dir.resolve("config.json"), text);
        inspectExpectingBadInput("config.json", "hybrid_override_pattern", "10");
    }

    @Test
    void moeLayerWithoutMoeFieldsIsRefused() throws IOException {
        String text = Files.readString(dir.resolve("config.json")).replace("\"M-M*-M-M*-\"", "\"M-M*-E-M*-\"");
        Files.writeString(dir.resolve("config.json"), text);
        inspectExpectingBadInput("config.json", "missing required field \"num_experts_per_tok\"");
    }

    @Test
    void missingShard() throws IOException {
        Path sharded = tmp.resolve("sharded");
        CliRun gen = CliRun.of("generate", "--preset", "tiny", "-o", sharded.toString(), "--shard-size", "200kB");
        assertEquals(0, gen.code(), gen.toString());
        try (var files = Files.list(sharded)) {
            String[] shards = files.map(p -> p.getFileName().toString()).filter(n -> n.matches("model-\\d{5}-of-\\d{5}\\.safetensors"))
                    .sorted().toArray(String[]::new);
            assertTrue(shards.length >= 3, Arrays.toString(shards));
            Files.delete(sharded.resolve(shards[1]));
            dir = sharded;
            inspectExpectingBadInput(shards[1], "model.safetensors.index.json");
        }
    }

    @Test
    void notACheckpoint() {
        dir = tmp.resolve("nothing-here");
        inspectExpectingBadInput("nothing-here");
        dir = weights;
        inspectExpectingBadInput("model.safetensors", "directory");
    }

    @Test
    void nonFiniteWeightsAreReportedAndRefused() throws IOException {
        // BF16 NaN (0x7FC0) into the first element of q_proj, +Inf (0x7F80) into the second
        var offsets = Surgery.header(weights).get(Q_PROJ).get("data_offsets");
        long headerLength;
        try (FileChannel ch = FileChannel.open(weights, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(len, 0);
            headerLength = len.getLong(0);
            long at = 8 + headerLength + offsets.get(0).asLong();
            ch.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putShort((short) 0x7FC0).putShort((short) 0x7F80).flip(), at);
        }
        CliRun run = inspectExpectingBadInput("1 NaN and 1 Inf", Q_PROJ);
        assertTrue(run.out().contains("NOT FINITE"), run.toString());
        Path out = tmp.resolve("child");
        CliRun extract = CliRun.of("extract", dir.toString(), "--ffn", "96", "-o", out.toString());
        assertEquals(2, extract.code(), extract.toString());
        assertTrue(extract.err().contains("--allow-nonfinite") && extract.err().contains(Q_PROJ), extract.toString());
        assertFalse(Files.exists(out));
        assertEquals(0, CliRun.of("extract", dir.toString(), "--ffn", "96", "-o", out.toString(), "--allow-nonfinite").code());
        assertEquals(0, CliRun.of("inspect", dir.toString(), "--skip-values").code());
    }

    @Test
    void usageErrorsExitTwo() {
        CliRun run = CliRun.of("inspect");
        assertEquals(2, run.code(), run.toString());
        assertTrue(run.err().contains("CHECKPOINT"), run.toString());
        run = CliRun.of("generate", "--preset", "no-such-model", "-o", tmp.resolve("x").toString());
        assertEquals(2, run.code(), run.toString());
        assertTrue(run.err().contains("nano-v2-12b"), run.toString());
        run = CliRun.of("generate", "--preset", "tiny", "-o", tmp.resolve("x").toString(), "--shard-size", "lots");
        assertEquals(2, run.code(), run.toString());
        assertTrue(run.err().contains("--shard-size"), run.toString());
    }
}
