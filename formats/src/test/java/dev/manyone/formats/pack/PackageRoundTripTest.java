package dev.manyone.formats.pack;

import com.fasterxml.jackson.databind.JsonNode;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.Progress;
import dev.manyone.formats.Safetensors;
import dev.manyone.formats.SafetensorsFile;
import dev.manyone.formats.TensorInfo;
import dev.manyone.formats.TensorSource;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PackageRoundTripTest {
    @TempDir
    Path tmp;

    static final List<String> PACKED_AFTER_SHARDS = List.of("elastic.json", "elastic.safetensors", "generation_config.json", "tokenizer.json");

    private Path pack(Path dir, String name) throws Exception {
        Path out = tmp.resolve(name);
        PackageWriter.pack(dir, out, false, Progress.NONE);
        return out;
    }

    @Test
    void packsEveryFileInOrderAlignedAndReportsWhatItSkips() throws Exception {
        Path dir = Fixtures.checkpoint(tmp.resolve("parent"), 100_000);
        PackageWriter.Result r = PackageWriter.pack(dir, tmp.resolve("p.manyone"), false, Progress.NONE);
        List<String> shards;
        try (Stream<Path> s = Files.list(dir)) {
            shards = s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("model-")).sorted().toList();
        }
        assertTrue(shards.size() >= 5, "several shards: " + shards);
        List<String> expected = new ArrayList<>(List.of("config.json", Safetensors.INDEX_FILE));
        expected.addAll(shards);
        expected.addAll(PACKED_AFTER_SHARDS);
        assertEquals(expected, r.entries());
        assertEquals(List.of(".cache", "sub/", "unreferenced.safetensors"), r.skipped());
        assertEquals(Files.size(r.target()), r.bytes());

        PackageFile pkg = PackageFile.open(r.target());
        assertEquals(expected, pkg.entries().stream().map(PackageEntry::name).toList());
        assertEquals(0, pkg.manifestEntry().offset() % PackageFormat.ALIGNMENT);
        for (PackageEntry e : pkg.entries()) {
            assertEquals(0, e.offset() % PackageFormat.ALIGNMENT, e.name() + " at " + e.offset());
            assertEquals(Files.size(dir.resolve(e.name())), e.size(), e.name());
            assertEquals(Sha256.hex(Files.readAllBytes(dir.resolve(e.name()))), e.sha256(), e.name());
        }
        Manifest m = pkg.manifest();
        assertEquals("parent", m.parent());
        assertEquals(Manifest.parseJson(Files.readAllBytes(dir.resolve("config.json")), dir, "config"), m.config());
        JsonNode elastic = m.elasticMetadata().orElseThrow();
        assertEquals(155832, elastic.get("budgets").get("6B").get("params").asLong());
        assertTrue(Double.isInfinite(elastic.get("budgets").get("big").asDouble()), "bare Infinity survives: " + elastic);
        assertEquals(List.of("elastic.json", "generation_config.json", "tokenizer.json"),
                pkg.sideEntries().stream().map(PackageEntry::name).toList());
        assertTrue(PackageVerifier.corrupted(PackageVerifier.verify(pkg, Progress.NONE)).isEmpty());
    }

    @Test
    void sameDirectorySameBytes() throws Exception {
        Path dir = Fixtures.checkpoint(tmp.resolve("parent"), 100_000);
        Path a = pack(dir, "a.manyone");
        assertTrue(dir.resolve("tokenizer.json").toFile().setLastModified(1_000_000_000_000L)); // must not reach the headers
        Path b = pack(dir, "b.manyone");
        assertEquals(-1L, Files.mismatch(a, b));
    }

    @Test
    void unpackGivesBackThePackedFiles() throws Exception {
        Path dir = Fixtures.checkpoint(tmp.resolve("parent"), 100_000);
        Path pkg = pack(dir, "p.manyone");
        Unpacker.Result r = Unpacker.unpack(pkg, tmp.resolve("out"), false, Progress.NONE);
        Map<String, byte[]> source = Fixtures.files(dir);
        source.keySet().removeAll(List.of(".cache", "sub/file.txt", "unreferenced.safetensors"));
        Map<String, byte[]> unpacked = Fixtures.files(tmp.resolve("out"));
        assertEquals(source.keySet(), unpacked.keySet());
        source.forEach((name, bytes) -> assertArrayEquals(bytes, unpacked.get(name), name));
        assertEquals(r.files().size(), unpacked.size());
        // repacking the unpacked directory gives the same package (its name is recorded, so use the same name)
        Path again = tmp.resolve("again/parent");
        Files.createDirectories(again.getParent());
        Files.move(tmp.resolve("out"), again);
        assertEquals(-1L, Files.mismatch(pkg, pack(again, "again.manyone")));
    }

    @Test
    void anyTarReaderSeesThePlainFiles() throws Exception {
        Path dir = Fixtures.checkpoint(tmp.resolve("parent"), 100_000);
        Path pkg = pack(dir, "p.manyone");
        Map<String, byte[]> seen = new LinkedHashMap<>();
        try (InputStream in = Files.newInputStream(pkg); TarArchiveInputStream tar = new TarArchiveInputStream(in)) {
            for (TarArchiveEntry e = tar.getNextEntry(); e != null; e = tar.getNextEntry()) {
                assertTrue(e.isFile(), e.getName());
                assertEquals(0, e.getModTime().getTime());
                assertEquals(0, e.getLongUserId());
                assertEquals("", e.getUserName());
                seen.put(e.getName(), tar.readAllBytes());
            }
        }
        List<String> names = new ArrayList<>(seen.keySet());
        assertEquals(PackageFormat.MANIFEST, names.get(0));
        for (String n : names.subList(1, names.size())) {
            assertArrayEquals(Files.readAllBytes(dir.resolve(n)), seen.get(n), n);
        }
        assertEquals(PackageFile.open(pkg).manifest(), Manifest.parse(seen.get(PackageFormat.MANIFEST), pkg));
    }

    @Test
    void tensorsAreMappedInPlace() throws Exception {
        Path dir = Fixtures.checkpoint(tmp.resolve("parent"), 100_000);
        Path pkg = pack(dir, "p.manyone");
        List<String> before = Fixtures.files(tmp).keySet().stream().toList();
        PackageFile file = PackageFile.open(pkg);
        try (TensorSource packed = file.tensors(); TensorSource plain = Safetensors.open(dir)) {
            assertEquals(pkg, packed.location());
            assertEquals(plain.tensors().size(), packed.tensors().size());
            for (int i = 0; i < plain.tensors().size(); i++) {
                TensorInfo p = packed.tensors().get(i);
                TensorInfo d = plain.tensors().get(i);
                assertEquals(d.name(), p.name());
                assertArrayEquals(d.shape(), p.shape());
                assertEquals(pkg, p.file(), "the tensor's bytes are in the package itself");
                PackageEntry e = file.entry(d.file().getFileName().toString()).orElseThrow();
                assertTrue(p.offset() >= e.offset() && p.offset() + p.byteSize() <= e.offset() + e.size(), p.name());
                assertEquals(d.offset() + e.offset(), p.offset(), "same place in the shard, shifted by the entry's offset");
                ByteBuffer view = packed.bytes(p);
                assertTrue(view.isDirect(), "a mapped view, not a copy");
                assertEquals(plain.bytes(d), view, p.name());
            }
        }
        assertEquals(file.manifest().elastic(), file.readJson(PackageFile.ELASTIC).orElseThrow());
        assertTrue(file.readJson("rankings.json").isEmpty());
        try (SafetensorsFile elastic = file.openSafetensors(PackageFile.ELASTIC_TENSORS)) {
            assertEquals(256, elastic.require("rankings.hidden").byteSize());
        }
        assertEquals(before, Fixtures.files(tmp).keySet().stream().toList(), "no temporary copy was written");
    }

    @Test
    void singleFileParentIsPackedAsIs() throws Exception {
        Path dir = Fixtures.checkpoint(tmp.resolve("parent"), Long.MAX_VALUE);
        assertTrue(Files.exists(dir.resolve(Safetensors.SINGLE_FILE)));
        PackageFile pkg = PackageFile.open(pack(dir, "p.manyone"));
        assertEquals(List.of("config.json", Safetensors.SINGLE_FILE, "elastic.json", "elastic.safetensors",
                "generation_config.json", "tokenizer.json"), pkg.entries().stream().map(PackageEntry::name).toList());
        try (TensorSource t = pkg.tensors(); TensorSource d = Safetensors.open(dir)) {
            assertEquals(d.totalBytes(), t.totalBytes());
            assertEquals(pkg.path().resolve(Safetensors.SINGLE_FILE), t.location());
        }
    }

    @Test
    void existingTargetNeedsOverwriteAndFailuresLeaveNothing() throws Exception {
        Path dir = Fixtures.checkpoint(tmp.resolve("parent"), 100_000);
        Path target = tmp.resolve("p.manyone");
        Files.writeString(target, "precious");
        FormatException e = assertThrows(FormatException.class, () -> PackageWriter.pack(dir, target, false, Progress.NONE));
        assertTrue(e.getMessage().contains("--force"), e.getMessage());
        assertEquals("precious", Files.readString(target));
        PackageWriter.pack(dir, target, true, Progress.NONE);
        PackageFile.open(target);

        e = assertThrows(FormatException.class, () -> PackageWriter.pack(dir, dir.resolve("self.manyone"), false, Progress.NONE));
        assertTrue(e.getMessage().contains("cannot be written into the directory being packed"), e.getMessage());

        Files.writeString(dir.resolve("notes:windows.txt"), "a name no package may hold");
        Path other = tmp.resolve("q.manyone");
        e = assertThrows(FormatException.class, () -> PackageWriter.pack(dir, other, false, Progress.NONE));
        assertTrue(e.getMessage().contains("notes:windows.txt") && e.getMessage().contains("':' is not allowed"), e.getMessage());
        assertFalse(Files.exists(other));
        try (Stream<Path> s = Files.list(tmp)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().contains(".partial-")), "no temp file left");
        }
    }
}
