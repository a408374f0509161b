package dev.manyone.formats;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointWriterTest {
    @TempDir
    Path dir;

    private static List<String> names(Path d) throws Exception {
        try (Stream<Path> s = Files.list(d)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /** Writes the golden tiny model into {@code out} through CheckpointWriter, half the tensors by transferFrom. */
    private static List<String> writeGolden(Path out, long maxShardBytes) throws Exception {
        try (SafetensorsFile src = SafetensorsFile.open(TestFiles.tinyModel())) {
            List<TensorInfo> order = src.tensorsByOffset();
            try (CheckpointWriter w = CheckpointWriter.create(out, order.stream().map(TensorSpec::of).toList(), src.metadata(), maxShardBytes)) {
                for (int i = 0; i < order.size(); i++) {
                    TensorInfo t = order.get(i);
                    if (i % 2 == 0) {
                        w.transferFrom(t.name(), src, t);
                    } else {
                        w.write(t.name(), src.bytes(t));
                    }
                }
                w.finish();
                return w.shardFiles();
            }
        }
    }

    @Test
    void shardedRoundTrip() throws Exception {
        Path out = dir.resolve("ckpt");
        List<String> shards = writeGolden(out, 100_000);
        int n = shards.size();
        assertTrue(n >= 5, "several shards: " + shards);
        assertEquals(String.format("model-00001-of-%05d.safetensors", n), shards.get(0));
        List<String> expectedFiles = new ArrayList<>(shards);
        expectedFiles.add("model.safetensors.index.json");
        assertEquals(expectedFiles.stream().sorted().toList(), names(out));
        try (TensorSource a = Safetensors.open(TestFiles.tinyModel()); TensorSource b = Safetensors.open(out)) {
            assertInstanceOf(ShardedCheckpoint.class, b);
            assertEquals(a.tensors().stream().map(TensorSpec::of).toList(), b.tensors().stream().map(TensorSpec::of).toList());
            for (TensorInfo t : a.tensors()) {
                assertArrayEquals(TestFiles.toArray(a.bytes(t)), TestFiles.toArray(b.bytes(b.require(t.name()))), t.name());
            }
            assertEquals(a.metadata(), b.metadata());
            for (SafetensorsFile shard : ((ShardedCheckpoint) b).shards()) {
                assertTrue(shard.totalBytes() <= 100_000 || shard.tensors().size() == 1, shard.location() + " within the limit");
            }
            JsonNode index = new ObjectMapper().readTree(out.resolve("model.safetensors.index.json").toFile());
            assertEquals(a.totalBytes(), index.get("metadata").get("total_size").longValue());
            List<String> keys = new ArrayList<>();
            index.get("weight_map").fieldNames().forEachRemaining(keys::add);
            assertEquals(keys.stream().sorted().toList(), keys, "weight_map sorted by name");
        }
        Path again = dir.resolve("again");
        writeGolden(again, 100_000);
        for (String f : names(out)) {
            assertArrayEquals(Files.readAllBytes(out.resolve(f)), Files.readAllBytes(again.resolve(f)), "deterministic " + f);
        }
    }

    @Test
    void oneShardIsModelSafetensorsWithoutIndex() throws Exception {
        Path out = dir.resolve("single");
        assertEquals(List.of("model.safetensors"), writeGolden(out, Long.MAX_VALUE));
        assertEquals(List.of("model.safetensors"), names(out));
        assertArrayEquals(Files.readAllBytes(TestFiles.tinyModel()), Files.readAllBytes(out.resolve("model.safetensors")));
    }

    @Test
    void splitsAtTensorBoundariesAndWritesExactIndex() throws Exception {
        List<TensorSpec> plan = List.of(new TensorSpec("b", DType.U8, new long[] {10}), new TensorSpec("a", DType.U8, new long[] {100}),
                new TensorSpec("c", DType.U8, new long[] {20}), new TensorSpec("d", DType.U8, new long[] {30}),
                new TensorSpec("e", DType.U8, new long[] {0}));
        Path out = dir.resolve("x");
        try (CheckpointWriter w = CheckpointWriter.create(out, plan, Map.of(), 50)) {
            // [b] [a: alone, larger than the limit] [c, d: exactly 50] [e: empty, still fits]
            assertEquals(List.of("model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                    "model-00003-of-00003.safetensors"), w.shardFiles());
            for (TensorSpec t : plan) {
                w.write(t.name(), ByteBuffer.wrap(TestFiles.bytes((int) t.byteSize())));
            }
            w.finish();
        }
        String expected = """
                {
                  "metadata": {
                    "total_size": 160
                  },
                  "weight_map": {
                    "a": "model-00002-of-00003.safetensors",
                    "b": "model-00001-of-00003.safetensors",
                    "c": "model-00003-of-00003.safetensors",
                    "d": "model-00003-of-00003.safetensors",
                    "e": "model-00003-of-00003.safetensors"
                  }
                }
                """;
        assertEquals(expected, Files.readString(out.resolve("model.safetensors.index.json")));
        try (TensorSource src = Safetensors.open(out)) {
            assertEquals(List.of("a", "b", "c", "d", "e"), src.tensors().stream().map(TensorInfo::name).toList());
            assertArrayEquals(TestFiles.bytes(30), TestFiles.toArray(src.bytes(src.require("d"))));
        }
    }

    @Test
    void shardsOfOnlyEmptyTensorsAreWrittenToo() throws Exception {
        // [a: over the limit] [z: empty] [b: over the limit] [y: empty]
        List<TensorSpec> plan = List.of(new TensorSpec("a", DType.U8, new long[] {20}), new TensorSpec("z", DType.F32, new long[] {0, 4}),
                new TensorSpec("b", DType.U8, new long[] {20}), new TensorSpec("y", DType.F32, new long[] {0}));
        Path out = dir.resolve("x");
        try (CheckpointWriter w = CheckpointWriter.create(out, plan, Map.of("format", "pt"), 10)) {
            assertEquals(4, w.shardFiles().size());
            w.write("a", ByteBuffer.wrap(TestFiles.bytes(20)));
            w.write("b", ByteBuffer.wrap(TestFiles.bytes(20))); // finishes the empty shard of z on the way
            w.write("z", ByteBuffer.allocate(0));               // empty write to a finished tensor: allowed no-op
            w.finish();                                         // writes the shard of y
        }
        try (TensorSource src = Safetensors.open(out)) {
            assertEquals(List.of("a", "b", "y", "z"), src.tensors().stream().map(TensorInfo::name).toList());
            assertEquals(0, src.bytes(src.require("z")).remaining());
            assertEquals(out.resolve("model-00004-of-00004.safetensors"), src.require("y").file());
            assertArrayEquals(TestFiles.bytes(20), TestFiles.toArray(src.bytes(src.require("b"))));
        }
    }

    @Test
    void shardedCheckpointWithTinyWindowsReadsTheSameBytes() throws Exception {
        Path out = dir.resolve("ckpt");
        writeGolden(out, 150_000);
        try (TensorSource a = Safetensors.open(TestFiles.tinyModel()); TensorSource b = Safetensors.open(out, 1024)) {
            for (TensorInfo t : a.tensors()) {
                TensorInfo u = b.require(t.name());
                assertArrayEquals(TestFiles.toArray(a.bytes(t)), TestFiles.toArray(b.bytes(u)), t.name());
                assertArrayEquals(a.readFloats(t), b.readFloats(u), t.name());
            }
        }
    }

    @Test
    void abortRemovesEverythingWritten() throws Exception {
        List<TensorSpec> plan = List.of(new TensorSpec("a", DType.U8, new long[] {10}), new TensorSpec("b", DType.U8, new long[] {10}),
                new TensorSpec("c", DType.U8, new long[] {10}));
        Path out = dir.resolve("x");
        try (CheckpointWriter w = CheckpointWriter.create(out, plan, Map.of(), 10)) {
            w.write("a", ByteBuffer.allocate(10));
            w.write("b", ByteBuffer.allocate(4));
            assertEquals(2, names(out).size(), "shard 1 finished, shard 2 in progress");
            assertThrows(IllegalStateException.class, () -> w.write("c", ByteBuffer.allocate(1)), "b incomplete");
            assertThrows(IllegalStateException.class, () -> w.write("a", ByteBuffer.allocate(1)), "shard 1 finished");
            assertThrows(IllegalStateException.class, w::finish);
        }
        assertEquals(List.of(), names(out));
        assertThrows(IllegalArgumentException.class, () -> CheckpointWriter.create(out, plan, Map.of(), 0));
        assertFalse(Files.exists(out.resolve("model.safetensors.index.json")));
    }
}
