package dev.manyone.formats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicTest {
    @TempDir
    Path dir;

    private List<String> names() throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void commitRenamesIntoPlace() throws Exception {
        Path target = dir.resolve("out");
        try (AtomicDirectory out = AtomicDirectory.create(target, false)) {
            assertTrue(out.path().getFileName().toString().startsWith(".out.partial-"));
            Files.writeString(out.path().resolve("a.txt"), "hello");
            Files.createDirectory(out.path().resolve("sub"));
            assertFalse(Files.exists(target));
            out.commit();
            assertEquals(target, out.path());
        }
        assertEquals("hello", Files.readString(target.resolve("a.txt")));
        assertEquals(List.of("out"), names());
    }

    @Test
    void closeWithoutCommitDeletesTheTempTree() throws Exception {
        Path target = dir.resolve("out");
        try (AtomicDirectory out = AtomicDirectory.create(target, false)) {
            Files.createDirectories(out.path().resolve("a/b"));
            Files.writeString(out.path().resolve("a/b/c.bin"), "x");
            Files.createSymbolicLink(out.path().resolve("link"), dir.resolve("keep.txt"));
        }
        Files.writeString(dir.resolve("keep.txt"), "kept");
        assertEquals(List.of("keep.txt"), names());
    }

    @Test
    void existingTargetWithoutOverwriteIsRefused() throws Exception {
        Path target = Files.createDirectory(dir.resolve("out"));
        FormatException e = assertThrows(FormatException.class, () -> AtomicDirectory.create(target, false));
        assertEquals(Optional.of(target), e.file());
        assertEquals("output already exists; pass --force to replace it", e.reason());
        Path later = dir.resolve("later");
        try (AtomicDirectory out = AtomicDirectory.create(later, false)) {
            Files.createDirectory(later);
            Files.writeString(later.resolve("theirs"), "x");
            assertThrows(FormatException.class, out::commit);
        }
        assertEquals("x", Files.readString(later.resolve("theirs")));
        assertEquals(List.of("later", "out"), names());
    }

    @Test
    void overwriteReplacesTheOldOutput() throws Exception {
        Path target = Files.createDirectory(dir.resolve("out"));
        Files.writeString(target.resolve("old.txt"), "old");
        try (AtomicDirectory out = AtomicDirectory.create(target, true)) {
            Files.writeString(out.path().resolve("new.txt"), "new");
            assertTrue(Files.exists(target.resolve("old.txt")), "old output intact until commit");
            out.commit();
        }
        assertFalse(Files.exists(target.resolve("old.txt")));
        assertEquals("new", Files.readString(target.resolve("new.txt")));
        assertEquals(List.of("out"), names());
    }

    @Test
    void atomicFileWrite() throws Exception {
        Path target = dir.resolve("config.json");
        AtomicFiles.write(target, "{}".getBytes(StandardCharsets.UTF_8));
        AtomicFiles.write(target, "{\"a\":1}".getBytes(StandardCharsets.UTF_8));
        assertEquals("{\"a\":1}", Files.readString(target));
        assertEquals(List.of("config.json"), names());
    }
}
