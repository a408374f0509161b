package dev.manyone.formats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.function.Executable;

/** Test helpers: the golden folder, hand-built safetensors files, FormatException checks. */
final class TestFiles {
    private TestFiles() {
    }

    /** The shared golden folder; fails (does not skip) when it is missing. */
    static Path golden() {
        String prop = System.getProperty("manyone.golden");
        Path dir = prop != null ? Path.of(prop) : Path.of("../../shared/golden");
        assertTrue(Files.isDirectory(dir.resolve("tiny-hybrid")), "golden data missing at " + dir.toAbsolutePath());
        return dir;
    }

    static Path tinyModel() {
        return golden().resolve("tiny-hybrid/model.safetensors");
    }

    /** Writes u64 LE header length, the header as given (no padding) and {@code data}. */
    static Path write(Path file, String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        return writeRaw(file, h.length, h, data);
    }

    /** Writes {@code n} as the header length whatever the bytes that follow. */
    static Path writeRaw(Path file, long n, byte[] header, byte[] data) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(n).put(header).put(data);
        Files.write(file, b.array());
        return file;
    }

    static byte[] bytes(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * 7 + 3);
        }
        return b;
    }

    static byte[] toArray(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }

    /** Runs {@code open}, expects a FormatException about {@code file} (and {@code tensor}) whose message has every fragment. */
    static FormatException assertFormat(Path file, String tensor, Executable open, String... fragments) {
        FormatException e = assertThrows(FormatException.class, open);
        assertEquals(Optional.of(file), e.file(), e.getMessage());
        assertEquals(Optional.ofNullable(tensor), e.tensor(), e.getMessage());
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
        if (tensor != null) {
            assertTrue(e.getMessage().contains("'" + tensor + "'"), e.getMessage());
        }
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "expected '" + f + "' in: " + e.getMessage());
        }
        return e;
    }

    /** Opens {@code path} with Safetensors.open and closes it at once (for tests that expect it to fail). */
    static void openAndClose(Path path) {
        Safetensors.open(path).close();
    }
}
