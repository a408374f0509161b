package dev.manyone.formats;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsWriterTest {
    @TempDir
    Path dir;

    /** Copies every tensor of {@code source} in offset order, alternating write() in uneven chunks and transferFrom(). */
    static void copyAll(Path source, Path target) throws Exception {
        try (SafetensorsFile src = SafetensorsFile.open(source)) {
            List<TensorInfo> order = src.tensorsByOffset();
            List<TensorSpec> plan = order.stream().map(TensorSpec::of).toList();
            try (SafetensorsWriter w = SafetensorsWriter.create(target, plan, src.metadata())) {
                for (int i = 0; i < order.size(); i++) {
                    TensorInfo t = order.get(i);
                    if (i % 2 == 0) {
                        w.transferFrom(t.name(), src, t);
                    } else {
                        ByteBuffer b = src.bytes(t);
                        int chunk = 1 + i * 37;
                        while (b.hasRemaining()) {
                            ByteBuffer part = b.slice(b.position(), Math.min(chunk, b.remaining()));
                            b.position(b.position() + part.remaining());
                            w.write(t.name(), part);
                        }
                    }
                }
                w.finish();
            }
        }
    }

    @Test
    void goldenFilesRoundTripAndModelsRewriteByteForByte() throws Exception {
        for (String name : new String[] {"tiny-hybrid/model.safetensors", "tiny-hybrid/golden.safetensors", "trained-hybrid/model.safetensors"}) {
            Path source = TestFiles.golden().resolve(name);
            Path out = dir.resolve("out.safetensors");
            copyAll(source, out);
            if (name.equals("tiny-hybrid/model.safetensors")) {
                // same layout as the golden writer: compact JSON, metadata first, tensors by offset, 8-byte padding
                // (the other two differ only in where __metadata__ sits and the order of its keys)
                assertArrayEquals(Files.readAllBytes(source), Files.readAllBytes(out), name);
            }
            try (TensorSource a = Safetensors.open(source); TensorSource b = Safetensors.open(out)) {
                assertEquals(a.metadata(), b.metadata());
                assertEquals(a.tensors().size(), b.tensors().size());
                for (int i = 0; i < a.tensors().size(); i++) {
                    TensorInfo x = a.tensors().get(i);
                    TensorInfo y = b.tensors().get(i);
                    assertEquals(TensorSpec.of(x), TensorSpec.of(y));
                    assertArrayEquals(TestFiles.toArray(a.bytes(x)), TestFiles.toArray(b.bytes(y)), x.name());
                }
            }
        }
    }

    @Test
    void deterministicAndPadded() throws Exception {
        Path one = dir.resolve("one.safetensors");
        Path two = dir.resolve("two.safetensors");
        copyAll(TestFiles.tinyModel(), one);
        copyAll(TestFiles.tinyModel(), two);
        assertArrayEquals(Files.readAllBytes(one), Files.readAllBytes(two));
        List<TensorSpec> plan = List.of(new TensorSpec("x", DType.F32, new long[] {2}), new TensorSpec("ä\"\\\n", DType.I8, new long[] {}));
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("z", "1");
        meta.put("a", "2");
        byte[] header = SafetensorsWriter.header(plan, meta);
        String expected = "{\"__metadata__\":{\"a\":\"2\",\"z\":\"1\"},\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"ä\\\"\\\\\\n\":{\"dtype\":\"I8\",\"shape\":[],\"data_offsets\":[8,9]}}";
        long n = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, (8 + n) % 8);
        assertEquals(header.length, 8 + n);
        int json = expected.getBytes(StandardCharsets.UTF_8).length;
        assertEquals(expected, new String(header, 8, json, StandardCharsets.UTF_8));
        assertEquals((json + 7) & ~7, n, "padded to the next multiple of 8, no more");
        for (int i = 8 + json; i < header.length; i++) {
            assertEquals(' ', header[i], "padding is spaces");
        }
        assertFalse(new String(SafetensorsWriter.header(plan, Map.of()), StandardCharsets.UTF_8).contains("__metadata__"));
    }

    @Test
    void escapedNamesScalarsAndEmptyTensorsRoundTrip() throws Exception {
        List<TensorSpec> plan = List.of(new TensorSpec("ä\"\\\n\u0001", DType.I64, new long[] {}),
                new TensorSpec("empty", DType.F16, new long[] {3, 0}), new TensorSpec("big", DType.U8, new long[] {9 << 20}));
        byte[] big = TestFiles.bytes(9 << 20);
        Path out = dir.resolve("x.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(out, plan, Map.of("k", "v"))) {
            w.write("ä\"\\\n\u0001", ByteBuffer.wrap(TestFiles.bytes(8)));
            w.write("big", ByteBuffer.wrap(big, 0, 5));             // buffered
            w.write("big", ByteBuffer.wrap(big, 5, (8 << 20) + 1)); // direct
            w.write("big", ByteBuffer.wrap(big, (8 << 20) + 6, big.length - (8 << 20) - 6));
            w.finish();
        }
        try (TensorSource src = Safetensors.open(out)) {
            assertArrayEquals(TestFiles.bytes(8), TestFiles.toArray(src.bytes(src.require("ä\"\\\n\u0001"))));
            assertEquals(0, src.require("empty").byteSize());
            assertArrayEquals(big, TestFiles.toArray(src.bytes(src.require("big"))));
            assertEquals(Map.of("k", "v"), src.metadata());
        }
    }

    @Test
    void misuseIsIllegalState() throws Exception {
        List<TensorSpec> plan = List.of(new TensorSpec("a", DType.F32, new long[] {2}), new TensorSpec("b", DType.F32, new long[] {1}));
        try (SafetensorsWriter w = SafetensorsWriter.create(dir.resolve("m.safetensors"), plan, Map.of())) {
            assertThrows(IllegalStateException.class, () -> w.write("nope", ByteBuffer.allocate(1)));
            assertThrows(IllegalStateException.class, () -> w.write("b", ByteBuffer.allocate(4)), "b before a is complete");
            assertThrows(IllegalStateException.class, () -> w.write("a", ByteBuffer.allocate(9)), "too many bytes");
            w.write("a", ByteBuffer.allocate(4));
            assertThrows(IllegalStateException.class, () -> w.write("b", ByteBuffer.allocate(4)), "a still incomplete");
            w.write("a", ByteBuffer.allocate(4));
            assertThrows(IllegalStateException.class, () -> w.write("a", ByteBuffer.allocate(1)), "a is complete");
            assertThrows(IllegalStateException.class, w::finish, "b missing");
            try (TensorSource src = Safetensors.open(TestFiles.tinyModel())) {
                TensorInfo t = src.require("backbone.layers.0.mixer.D");
                assertThrows(IllegalStateException.class, () -> w.transferFrom("b", src, t), "wrong dtype and size");
            }
            w.write("b", ByteBuffer.allocate(4));
            w.finish();
            assertThrows(IllegalStateException.class, () -> w.write("b", ByteBuffer.allocate(0)));
        }
        assertThrows(IllegalArgumentException.class, () -> SafetensorsWriter.create(dir.resolve("d.safetensors"),
                List.of(new TensorSpec("a", DType.F32, new long[] {1}), new TensorSpec("a", DType.F32, new long[] {1})), Map.of()));
        assertThrows(IllegalArgumentException.class, () -> SafetensorsWriter.create(dir.resolve("d.safetensors"),
                List.of(new TensorSpec("__metadata__", DType.F32, new long[] {1})), Map.of()));
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(dir.resolve("m.safetensors")), files.toList());
        }
    }

    @Test
    void closeWithoutFinishLeavesNothing() throws Exception {
        Path target = dir.resolve("model.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(target, List.of(new TensorSpec("a", DType.U8, new long[] {4})), Map.of())) {
            w.write("a", ByteBuffer.allocate(2));
            try (Stream<Path> files = Files.list(dir)) {
                assertTrue(files.anyMatch(p -> p.getFileName().toString().startsWith(".model.safetensors.partial-")));
            }
        }
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(), files.toList());
        }
    }

    @Test
    void finishReplacesAnExistingTarget() throws Exception {
        Path target = Files.writeString(dir.resolve("model.safetensors"), "old");
        try (SafetensorsWriter w = SafetensorsWriter.create(target, List.of(new TensorSpec("a", DType.U8, new long[] {1})), Map.of())) {
            assertEquals("old", Files.readString(target), "untouched until finish");
            w.write("a", ByteBuffer.wrap(new byte[] {42}));
            w.finish();
        }
        try (TensorSource src = Safetensors.open(target)) {
            assertEquals(42, src.bytes(src.require("a")).get(0));
        }
    }

    /**
     * Direct I/O (aligned buffers, a padded last block, then a truncate) and buffered writes give the same file, for
     * sizes around the block and buffer boundaries, with whole-tensor transfers between written chunks.
     */
    @Test
    void directAndBufferedWritesGiveTheSameBytes() throws Exception {
        java.util.SplittableRandom r = new java.util.SplittableRandom(3);
        long[] sizes = {1, 4095, 4096, 4097, (8 << 20) - 3, (8 << 20) + 5000, 70_001};
        List<TensorSpec> plan = new java.util.ArrayList<>();
        List<byte[]> data = new java.util.ArrayList<>();
        for (int i = 0; i < sizes.length; i++) {
            plan.add(new TensorSpec("t" + i, DType.U8, new long[] {sizes[i]}));
            byte[] b = new byte[(int) sizes[i]];
            r.nextBytes(b);
            data.add(b);
        }
        Path source = dir.resolve("source.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(source, plan, Map.of())) {
            for (int i = 0; i < sizes.length; i++) {
                w.write("t" + i, ByteBuffer.wrap(data.get(i)));
            }
            w.finish();
        }
        byte[][] files = new byte[2][];
        for (int k = 0; k < 2; k++) {
            String before = System.getProperty(OutputFiles.PROPERTY);
            System.setProperty(OutputFiles.PROPERTY, k == 0 ? "true" : "false");
            Path out = dir.resolve("out" + k + ".safetensors");
            try (TensorSource src = Safetensors.open(source); SafetensorsWriter w = SafetensorsWriter.create(out, plan, Map.of("k", "v"))) {
                for (int i = 0; i < sizes.length; i++) {
                    if (i % 2 == 1) {
                        w.transferFrom("t" + i, src, src.require("t" + i)); // whole tensor between chunked ones
                    } else {
                        ByteBuffer b = ByteBuffer.wrap(data.get(i));
                        while (b.hasRemaining()) { // odd chunk sizes
                            int n = Math.min(b.remaining(), 1 + r.nextInt(100_000));
                            w.write("t" + i, b.slice().limit(n));
                            b.position(b.position() + n);
                        }
                    }
                }
                w.finish();
            } finally {
                if (before == null) {
                    System.clearProperty(OutputFiles.PROPERTY);
                } else {
                    System.setProperty(OutputFiles.PROPERTY, before);
                }
            }
            files[k] = Files.readAllBytes(out);
        }
        org.junit.jupiter.api.Assertions.assertArrayEquals(files[1], files[0]);
        try (TensorSource src = Safetensors.open(dir.resolve("out0.safetensors"))) {
            for (int i = 0; i < sizes.length; i++) {
                org.junit.jupiter.api.Assertions.assertEquals(ByteBuffer.wrap(data.get(i)), src.bytes(src.require("t" + i)), "t" + i);
            }
        }
    }
}
