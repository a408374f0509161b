package dev.manyone.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** manyone pack / unpack / verify, and inspect and extract reading a package instead of a directory. */
class PackCommandTest {
    @TempDir
    Path tmp;

    static Path tiny() {
        return CliRun.golden().resolve("tiny-hybrid");
    }

    static CliRun ok(CliRun run) {
        assertEquals(0, run.code(), run.toString());
        return run;
    }

    /** Every file under {@code dir} by relative path, with its bytes. */
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

    static void assertSameFiles(Path expected, Path actual) throws IOException {
        Map<String, byte[]> a = files(expected);
        Map<String, byte[]> b = files(actual);
        assertEquals(a.keySet(), b.keySet());
        a.forEach((name, bytes) -> assertArrayEquals(bytes, b.get(name), name));
    }

    private Path generatedParent() {
        Path parent = tmp.resolve("parent");
        ok(CliRun.of("generate", "--preset", "tiny", "--shard-size", "100kB", "-o", parent.toString()));
        return parent;
    }

    @Test
    void goldenChildFromThePackageIsByteIdentical() throws IOException {
        Path pkg = tmp.resolve("family.manyone");
        CliRun packed = ok(PackCli.of("pack", tiny().toString(), "-o", pkg.toString()));
        assertTrue(packed.err().contains("not packed") && packed.err().contains("golden.safetensors"), packed.toString());
        String spec = tiny().resolve("rankings.json").toString();
        ok(CliRun.of("extract", tiny().toString(), "--spec", spec, "--child", "6B-style", "-o", tmp.resolve("from-dir").toString()));
        ok(CliRun.of("extract", pkg.toString(), "--spec", spec, "--child", "6B-style", "-o", tmp.resolve("from-pkg").toString()));
        assertSameFiles(tmp.resolve("from-dir"), tmp.resolve("from-pkg"));
        assertTrue(Files.exists(tmp.resolve("from-pkg/model.safetensors")));
    }

    @Test
    void shardedParentFromThePackageGivesByteIdenticalChildren() throws IOException {
        Path parent = generatedParent();
        Path pkg = tmp.resolve("family.manyone");
        ok(PackCli.of("pack", parent.toString(), "-o", pkg.toString()));
        String spec = tiny().resolve("rankings.json").toString();
        for (String child : new String[] {"6B-style", "12B-style"}) {
            ok(CliRun.of("extract", parent.toString(), "--spec", spec, "--child", child, "--shard-size", "50kB",
                    "--format", "hf,onnx", "-o", tmp.resolve("dir-" + child).toString()));
            ok(CliRun.of("extract", pkg.toString(), "--spec", spec, "--child", child, "--shard-size", "50kB",
                    "--format", "hf,onnx", "-o", tmp.resolve("pkg-" + child).toString()));
            assertSameFiles(tmp.resolve("dir-" + child), tmp.resolve("pkg-" + child));
            assertTrue(Files.exists(tmp.resolve("pkg-" + child + "/hf/model.safetensors.index.json")), "a sharded child");
            assertTrue(Files.exists(tmp.resolve("pkg-" + child + "/hf/generation_config.json")), "side files copied from the package");
            assertTrue(Files.exists(tmp.resolve("pkg-" + child + "/onnx/generation_config.json")), "side files copied from the package");
        }
    }

    @Test
    void packIsDeterministicAndUnpackGivesTheSourceBack() throws IOException {
        Path parent = generatedParent();
        Path a = tmp.resolve("a.manyone");
        Path b = tmp.resolve("b.manyone");
        CliRun run = ok(PackCli.of("pack", parent.toString(), "-o", a.toString(), "--json"));
        JsonNode r = Surgery.JSON.readTree(run.out());
        assertEquals(Files.size(a), r.get("bytes").asLong());
        assertEquals(11, r.get("entries").size());
        ok(PackCli.of("pack", parent.toString(), "-o", b.toString()));
        assertEquals(-1L, Files.mismatch(a, b), "same parent, same bytes");
        ok(PackCli.of("unpack", a.toString(), "-o", tmp.resolve("unpacked").toString()));
        assertSameFiles(parent, tmp.resolve("unpacked"));
        CliRun again = PackCli.of("unpack", a.toString(), "-o", tmp.resolve("unpacked").toString());
        assertEquals(2, again.code(), again.toString());
        assertTrue(again.err().contains("--force"), again.toString());
        ok(PackCli.of("unpack", a.toString(), "-o", tmp.resolve("unpacked").toString(), "--force"));
    }

    @Test
    void inspectAndVerifyAcceptThePackage() throws IOException {
        Path parent = generatedParent();
        Path pkg = tmp.resolve("family.manyone");
        ok(PackCli.of("pack", parent.toString(), "-o", pkg.toString()));
        JsonNode fromDir = Surgery.JSON.readTree(ok(CliRun.of("inspect", parent.toString(), "--json")).out());
        JsonNode fromPkg = Surgery.JSON.readTree(ok(CliRun.of("inspect", pkg.toString(), "--json")).out());
        assertEquals(310_304, fromDir.get("params").get("total").asLong());
        assertEquals(fromDir.get("params"), fromPkg.get("params"));
        assertEquals(fromDir.get("stored_elements"), fromPkg.get("stored_elements"));
        assertEquals(fromDir.get("layers"), fromPkg.get("layers"));
        assertEquals(fromDir.get("side_files"), fromPkg.get("side_files"));
        assertEquals(Files.size(pkg), fromPkg.get("bytes_on_disk").asLong());
        assertTrue(fromPkg.get("valid").asBoolean());

        CliRun v = ok(PackCli.of("verify", pkg.toString()));
        assertTrue(v.out().contains("12 entries") && v.out().contains("every SHA-256 matches") && v.out().contains("310,304"), v.toString());
        JsonNode j = Surgery.JSON.readTree(ok(PackCli.of("verify", pkg.toString(), "--json")).out());
        assertTrue(j.get("valid").asBoolean());
        assertEquals(12, j.get("entries").size());
        CliRun d = ok(PackCli.of("verify", parent.toString()));
        assertTrue(d.out().contains("61 tensors (310,304 parameters) match config.json"), d.toString());
    }

    @Test
    void verifyNamesTheCorruptedEntry() throws IOException {
        Path parent = generatedParent();
        Path pkg = tmp.resolve("family.manyone");
        ok(PackCli.of("pack", parent.toString(), "-o", pkg.toString()));
        byte[] bytes = Files.readAllBytes(pkg);
        byte[] shard = Files.readAllBytes(parent.resolve("model-00003-of-00008.safetensors"));
        int at = indexOf(bytes, shard) + shard.length - 10; // a tensor byte of shard 3
        bytes[at] ^= 1;
        Files.write(pkg, bytes);
        CliRun run = PackCli.of("verify", pkg.toString());
        assertEquals(2, run.code(), run.toString());
        assertTrue(run.out().contains("CORRUPTED  model-00003-of-00008.safetensors"), run.toString());
        assertTrue(run.err().contains("entry 'model-00003-of-00008.safetensors' is corrupted"), run.toString());
        assertFalse(run.err().contains("\tat "), "no stack trace");
        CliRun unpack = PackCli.of("unpack", pkg.toString(), "-o", tmp.resolve("out").toString());
        assertEquals(2, unpack.code(), unpack.toString());
        assertFalse(Files.exists(tmp.resolve("out")));

        bytes[at] ^= 1; // repaired; now damage the manifest
        int manifest = indexOf(bytes, "\"format\": \"manyone-package\"".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        bytes[manifest + 3] ^= 1;
        Files.write(pkg, bytes);
        for (String command : new String[] {"verify", "inspect", "extract"}) {
            CliRun r = command.equals("extract")
                    ? CliRun.of("extract", pkg.toString(), "--hidden", "32", "-o", tmp.resolve("child").toString())
                    : PackCli.of(command, pkg.toString());
            assertEquals(2, r.code(), r.toString());
            assertTrue(r.err().contains("entry '.manyone-manifest.json' is corrupted"), r.toString());
        }
        assertFalse(Files.exists(tmp.resolve("child")));

        bytes[manifest + 3] ^= 1;
        Files.write(pkg, java.util.Arrays.copyOf(bytes, bytes.length / 2));
        CliRun cut = PackCli.of("verify", pkg.toString());
        assertEquals(2, cut.code(), cut.toString());
        assertTrue(cut.err().matches("(?s).*entry 'model-0000\\d-of-00008.safetensors' needs bytes .*truncated.*"), cut.toString());
    }

    @Test
    void hostilePackagesAreRefusedAndNothingIsWritten() throws IOException {
        Path pkg = tmp.resolve("evil.manyone");
        try (var out = Files.newOutputStream(pkg);
             var tar = new org.apache.commons.compress.archivers.tar.TarArchiveOutputStream(out)) {
            byte[] manifest = ("{\"format\": \"manyone-package\", \"format_version\": 1, \"alignment\": 4096, \"parent\": \"p\", "
                    + "\"entries\": [{\"name\": \"config.json\", \"size\": 2, \"sha256\": \"" + "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
                    + "\"}], \"config\": {}}").getBytes(java.nio.charset.StandardCharsets.UTF_8);
            var m = new org.apache.commons.compress.archivers.tar.TarArchiveEntry(".manyone-manifest.json");
            m.addPaxHeader("MANYONE.sha256", sha256(manifest));
            m.setSize(manifest.length);
            tar.putArchiveEntry(m);
            tar.write(manifest);
            tar.closeArchiveEntry();
            var evil = new org.apache.commons.compress.archivers.tar.TarArchiveEntry("../evil.sh", true);
            evil.setSize(4);
            tar.putArchiveEntry(evil);
            tar.write("boom".getBytes(java.nio.charset.StandardCharsets.UTF_8));
            tar.closeArchiveEntry();
        }
        Path out = tmp.resolve("out/dir");
        for (String[] args : new String[][] {
                {"unpack", pkg.toString(), "-o", out.toString()},
                {"verify", pkg.toString()},
                {"inspect", pkg.toString()},
                {"extract", pkg.toString(), "--hidden", "32", "-o", out.toString()}}) {
            CliRun r = args[0].equals("unpack") || args[0].equals("verify") ? PackCli.of(args) : CliRun.of(args);
            assertEquals(2, r.code(), r.toString());
            assertTrue(r.err().contains("entry '../evil.sh' has an unsafe name"), r.toString());
        }
        assertFalse(Files.exists(out));
        assertFalse(Files.exists(tmp.resolve("evil.sh")));
        assertFalse(Files.exists(tmp.resolve("out/evil.sh")));

        Files.writeString(pkg, "just text");
        CliRun r = CliRun.of("inspect", pkg.toString());
        assertEquals(2, r.code(), r.toString());
        assertTrue(r.err().contains("expected a manyone package"), r.toString());
    }

    @Test
    void packRefusesABadParentAndWritesNothing() throws IOException {
        Path parent = generatedParent();
        Files.delete(parent.resolve("model-00008-of-00008.safetensors"));
        Path pkg = tmp.resolve("family.manyone");
        CliRun r = PackCli.of("pack", parent.toString(), "-o", pkg.toString());
        assertEquals(2, r.code(), r.toString());
        assertTrue(r.err().contains("model-00008-of-00008.safetensors"), r.toString());
        assertFalse(Files.exists(pkg));
        CliRun notDir = PackCli.of("pack", pkg.toString(), "-o", tmp.resolve("x.manyone").toString());
        assertEquals(2, notDir.code(), notDir.toString());
        assertTrue(notDir.err().contains("expected a checkpoint directory to pack"), notDir.toString());
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i <= haystack.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        throw new AssertionError("not found");
    }

    private static String sha256(byte[] b) {
        try {
            return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(b));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
