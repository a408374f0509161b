package dev.manyone.formats.pack;

import dev.manyone.formats.CheckpointWriter;
import dev.manyone.formats.DType;
import dev.manyone.formats.SafetensorsFile;
import dev.manyone.formats.SafetensorsWriter;
import dev.manyone.formats.TensorInfo;
import dev.manyone.formats.TensorSpec;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Checkpoint directories and byte surgery for the package tests. */
final class Fixtures {
    static final String ELASTIC_JSON = "{\"format_version\": 1, \"budgets\": {\"6B\": {\"params\": 155832}, \"big\": Infinity}}\n";

    private Fixtures() {
    }

    static Path golden() {
        String prop = System.getProperty("manyone.golden");
        Path dir = prop != null ? Path.of(prop) : Path.of("../../shared/golden");
        assertTrue(Files.isDirectory(dir.resolve("tiny-hybrid")), "golden data missing at " + dir.toAbsolutePath());
        return dir.resolve("tiny-hybrid");
    }

    /**
     * The golden tiny model re-sharded into shards of at most {@code shardBytes}, with its config.json, a tokenizer,
     * a generation config, elastic.json + elastic.safetensors, and things that are not packed: a hidden file, a
     * subdirectory and a shard-like file the index does not name.
     */
    static Path checkpoint(Path dir, long shardBytes) throws IOException {
        Files.createDirectories(dir.getParent());
        try (SafetensorsFile src = SafetensorsFile.open(golden().resolve("model.safetensors"))) {
            List<TensorInfo> order = src.tensorsByOffset();
            try (CheckpointWriter w = CheckpointWriter.create(dir, order.stream().map(TensorSpec::of).toList(), src.metadata(), shardBytes)) {
                for (TensorInfo t : order) {
                    w.transferFrom(t.name(), src, t);
                }
                w.finish();
            }
        }
        Files.copy(golden().resolve("config.json"), dir.resolve("config.json"));
        Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}}\n");
        Files.writeString(dir.resolve("generation_config.json"), "{\"eos_token_id\": 2}\n");
        Files.writeString(dir.resolve("elastic.json"), ELASTIC_JSON);
        tensorFile(dir.resolve("elastic.safetensors"), "rankings.hidden", 256);
        Files.writeString(dir.resolve(".cache"), "not packed");
        Files.createDirectories(dir.resolve("sub"));
        Files.writeString(dir.resolve("sub/file.txt"), "not packed");
        tensorFile(dir.resolve("unreferenced.safetensors"), "x", 16);
        return dir;
    }

    /** A safetensors file with one U8 tensor of {@code bytes} bytes (i * 31 + 7), written in 1 MiB chunks. */
    static Path tensorFile(Path file, String name, long bytes) throws IOException {
        try (SafetensorsWriter w = SafetensorsWriter.create(file, List.of(new TensorSpec(name, DType.U8, new long[] {bytes})), Map.of())) {
            ByteBuffer chunk = ByteBuffer.allocate(1 << 20);
            for (long pos = 0; pos < bytes; ) {
                int n = (int) Math.min(chunk.capacity(), bytes - pos);
                chunk.clear().limit(n);
                for (int i = 0; i < n; i++) {
                    chunk.put(i, (byte) ((pos + i) * 31 + 7));
                }
                w.write(name, chunk);
                pos += n;
            }
            w.finish();
        }
        return file;
    }

    /** Every regular file under {@code dir} (recursively), by relative path, with its bytes. */
    static Map<String, byte[]> files(Path dir) throws IOException {
        Map<String, byte[]> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                if (Files.isRegularFile(p)) {
                    out.put(dir.relativize(p).toString(), Files.readAllBytes(p));
                }
            }
        }
        return out;
    }

    /** Adds {@code delta} to the byte at {@code offset}. */
    static void flip(Path file, long offset) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            ch.read(b, offset);
            b.put(0, (byte) (b.get(0) ^ 0x5a)).rewind();
            ch.write(b, offset);
        }
    }

    static void truncate(Path file, long size) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.truncate(size);
        }
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
