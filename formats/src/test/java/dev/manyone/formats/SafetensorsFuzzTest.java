package dev.manyone.formats;

import com.code_intelligence.jazzer.junit.FuzzTest;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Fuzzes the safetensors reader (header, data layout) and the sharded index. Only {@link FormatException} (and
 * UncheckedIOException for real I/O) may escape; anything else fails the test. Without JAZZER_FUZZ this runs the
 * committed seeds in {@code src/test/resources/dev/manyone/formats/SafetensorsFuzzTestInputs/<method>/};
 * {@code JAZZER_FUZZ=1 mvn -pl formats test -Dtest=SafetensorsFuzzTest} fuzzes (docs/fuzzing.md).
 */
class SafetensorsFuzzTest {
    private static final Path DIR;

    static {
        try {
            DIR = Files.createTempDirectory("safetensors-fuzz");
            DIR.toFile().deleteOnExit();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** One file, bytes as given: header length, header JSON, data. */
    @FuzzTest(maxDuration = "2m")
    void file(byte[] data) throws IOException {
        Path f = DIR.resolve("model.safetensors");
        Files.write(f, data);
        readAll(f);
    }

    /**
     * A directory with an index and two shards, {@code a.safetensors} and {@code b.safetensors}. Input layout (so
     * seeds can be written by hand): u16 LE length of a, u16 LE length of b, a's bytes, b's bytes, the index JSON.
     */
    @FuzzTest(maxDuration = "2m")
    void index(byte[] data) throws IOException {
        Path dir = DIR.resolve("sharded");
        Files.createDirectories(dir);
        ByteBuffer in = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        int a = in.remaining() >= 2 ? in.getShort() & 0xffff : 0;
        int b = in.remaining() >= 2 ? in.getShort() & 0xffff : 0;
        byte[] shardA = new byte[Math.min(a, in.remaining())];
        in.get(shardA);
        byte[] shardB = new byte[Math.min(b, in.remaining())];
        in.get(shardB);
        byte[] index = new byte[in.remaining()];
        in.get(index);
        Files.write(dir.resolve("a.safetensors"), shardA);
        Files.write(dir.resolve("b.safetensors"), shardB);
        Files.write(dir.resolve(Safetensors.INDEX_FILE), index);
        readAll(dir);
    }

    static void readAll(Path path) throws IOException {
        try (TensorSource src = Safetensors.open(path)) {
            src.metadata();
            src.totalBytes();
            for (TensorInfo t : src.tensors()) {
                src.find(t.name());
                if (t.byteSize() <= 1 << 16) {
                    ByteBuffer b = src.bytes(t);
                    if (b.remaining() != t.byteSize()) {
                        throw new AssertionError(t + ": " + b.remaining() + " bytes read");
                    }
                    if (t.dtype().isFloatingPoint()) {
                        src.readFloats(t);
                    }
                    src.copyTo(t, Channels.newChannel(java.io.OutputStream.nullOutputStream()));
                }
            }
        } catch (FormatException | UncheckedIOException expected) {
            // the documented outcomes for bad input
        }
    }
}
