package dev.manyone.formats.pack;

import dev.manyone.formats.FormatException;
import dev.manyone.formats.Progress;
import dev.manyone.formats.Safetensors;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Damaged packages: a flipped byte anywhere, a truncated file, extra bytes. The damaged entry is always named. */
class CorruptPackageTest {
    @TempDir
    Path tmp;
    Path pkg;
    PackageFile good;

    @BeforeEach
    void pack() throws Exception {
        Path dir = Fixtures.checkpoint(tmp.resolve("parent"), 100_000);
        pkg = tmp.resolve("p.manyone");
        PackageWriter.pack(dir, pkg, false, Progress.NONE);
        good = PackageFile.open(pkg);
    }

    private PackageEntry entry(String name) {
        return good.entry(name).orElseThrow();
    }

    private String shard(int i) {
        return String.format("model-%05d-of-%05d.safetensors", i, good.entries().stream().filter(e -> e.name().startsWith("model-")).count());
    }

    private FormatException openFails(String... fragments) {
        FormatException e = assertThrows(FormatException.class, () -> PackageFile.open(pkg));
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "expected '" + f + "' in: " + e.getMessage());
        }
        assertTrue(e.getMessage().startsWith(pkg.toString()), e.getMessage());
        return e;
    }

    /** verify finds exactly {@code name}; unpacking fails naming it and writes nothing. */
    private void onlyCorrupted(String name) throws IOException {
        PackageFile opened = PackageFile.open(pkg);
        List<PackageVerifier.Check> bad = PackageVerifier.corrupted(PackageVerifier.verify(opened, Progress.NONE));
        assertEquals(List.of(name), bad.stream().map(c -> c.entry().name()).toList());
        FormatException e = assertThrows(FormatException.class, () -> Unpacker.unpack(pkg, tmp.resolve("out"), false, Progress.NONE));
        assertTrue(e.getMessage().contains("entry '" + name + "' is corrupted: the manifest records SHA-256 "), e.getMessage());
        assertFalse(Files.exists(tmp.resolve("out")));
    }

    @Test
    void flippedTensorByteIsFoundByVerifyAndUnpack() throws IOException {
        PackageEntry e = entry(shard(3));
        Fixtures.flip(pkg, e.offset() + e.size() - 100); // in the last tensor's data
        onlyCorrupted(shard(3));
    }

    @Test
    void flippedSafetensorsHeaderByteIsNamedToo() throws IOException {
        PackageEntry e = entry(shard(2));
        Fixtures.flip(pkg, e.offset() + 1); // the header length
        onlyCorrupted(shard(2));
        FormatException x = assertThrows(FormatException.class, () -> PackageFile.open(pkg).tensors());
        assertTrue(x.getMessage().startsWith(pkg.resolve(shard(2)).toString()), x.getMessage());
    }

    @Test
    void flippedSideFileByteIsFoundWhenCopied() throws IOException {
        PackageEntry e = entry("tokenizer.json");
        Fixtures.flip(pkg, e.offset() + 3);
        onlyCorrupted("tokenizer.json");
        Path copy = tmp.resolve("tokenizer.json");
        PackageEntry reopened = PackageFile.open(pkg).entry("tokenizer.json").orElseThrow();
        FormatException x = assertThrows(FormatException.class, () -> reopened.copyTo(copy, Progress.NONE));
        assertTrue(x.getMessage().contains("entry 'tokenizer.json' is corrupted"), x.getMessage());
        assertFalse(Files.exists(copy));
    }

    @Test
    void flippedManifestByteIsRefusedOnOpen() throws IOException {
        Fixtures.flip(pkg, good.manifestEntry().offset() + 200);
        openFails("entry '.manyone-manifest.json' is corrupted: its tar header records SHA-256");
    }

    @Test
    void flippedMetadataBytesAreRefusedOnOpen() throws IOException {
        Fixtures.flip(pkg, entry("config.json").offset() + 10);
        openFails("entry 'config.json' is corrupted");
        Fixtures.flip(pkg, entry("config.json").offset() + 10);
        Fixtures.flip(pkg, entry(Safetensors.INDEX_FILE).offset() + 10);
        openFails("entry 'model.safetensors.index.json' is corrupted");
        Fixtures.flip(pkg, entry(Safetensors.INDEX_FILE).offset() + 10);
        Fixtures.flip(pkg, entry("elastic.json").offset() + 10);
        openFails("entry 'elastic.json' is corrupted");
    }

    @Test
    void flippedTarHeaderByteIsRefused() throws IOException {
        Fixtures.flip(pkg, entry(shard(2)).offset() - 512 + 3); // in the name field of its ustar header
        openFails("has a damaged tar header: its checksum does not match (the manifest lists '" + shard(2) + "' there)");
    }

    @Test
    void flippedByteOutsideAnyEntryIsRefused() throws IOException {
        PackageEntry e = entry("tokenizer.json");
        Fixtures.flip(pkg, e.offset() - 1024 - 40); // in the PAX padding record before tokenizer.json's ustar header
        openFails("the tar headers of entry 'tokenizer.json' (bytes", "are damaged");
        Fixtures.flip(pkg, e.offset() - 1024 - 40);
        Fixtures.flip(pkg, e.offset() + e.size() + 5); // the zeros completing its last block
        openFails("the padding after entry 'tokenizer.json'", "expected zeros");
        Fixtures.flip(pkg, e.offset() + e.size() + 5);
        Fixtures.flip(pkg, Files.size(pkg) - 700);
        openFails("the end-of-archive blocks");
    }

    @Test
    void truncatedFileNamesTheEntryItCut() throws IOException {
        PackageEntry e = entry(shard(4));
        Fixtures.truncate(pkg, e.offset() + e.size() / 2);
        openFails("entry '" + shard(4) + "' needs bytes " + e.offset() + " to " + (e.offset() + e.size()), "truncated?");
        Fixtures.truncate(pkg, entry("config.json").offset() - 100); // inside the headers before config.json
        openFails("entry 'config.json' needs bytes");
    }

    @Test
    void missingEndOfArchiveOrExtraBytesAreRefused() throws IOException {
        long size = Files.size(pkg);
        Fixtures.truncate(pkg, size - 1024);
        openFails("before the end-of-archive blocks", "truncated?");
        Fixtures.truncate(pkg, 0);
        PackageWriter.pack(tmp.resolve("parent"), pkg, true, Progress.NONE);
        Files.write(pkg, new byte[] {1, 2, 3}, StandardOpenOption.APPEND);
        openFails("3 unexpected bytes after the end of the archive at byte " + size);
    }
}
