package dev.manyone.formats.pack;

import dev.manyone.formats.FormatException;
import dev.manyone.formats.Progress;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Hostile and inconsistent packages: each is refused by {@link PackageFile#open} with a FormatException naming the
 * package and the problem, and {@link Unpacker} writes nothing, neither its target nor anything beside it.
 */
class HostilePackageTest {
    @TempDir
    Path tmp;

    private final Tars.Raw config = Tars.Raw.file("config.json", Tars.CONFIG);

    /** Opening and unpacking {@code pkg} both fail with every fragment in the message; nothing is written. */
    private void refused(Path pkg, String... fragments) throws IOException {
        FormatException e = assertThrows(FormatException.class, () -> PackageFile.open(pkg));
        assertTrue(e.file().orElseThrow().startsWith(pkg), e.getMessage());
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "expected '" + f + "' in: " + e.getMessage());
        }
        // the target is three levels down, so any escape ("..", "../..", …) would still land inside tmp
        Path out = tmp.resolve("a/b/out");
        Files.createDirectories(out.getParent());
        Set<String> before = tree();
        FormatException u = assertThrows(FormatException.class, () -> Unpacker.unpack(pkg, out, false, Progress.NONE));
        assertEquals(e.getMessage(), u.getMessage());
        assertFalse(Files.exists(out));
        assertEquals(before, tree(), "nothing written anywhere");
    }

    private Set<String> tree() throws IOException {
        Set<String> out = new TreeSet<>();
        try (Stream<Path> s = Files.walk(tmp)) {
            s.forEach(p -> out.add(tmp.relativize(p).toString()));
        }
        return out;
    }

    private Path raw(List<Tars.Raw> listed, List<Tars.Raw> archived) throws IOException {
        return Tars.raw(tmp.resolve("bad.manyone"), Tars.manifest(listed), null, archived);
    }

    @Test
    void notATarArchive() throws IOException {
        Path pkg = tmp.resolve("noise.manyone");
        byte[] noise = new byte[10_000];
        new java.util.Random(7).nextBytes(noise);
        Files.write(pkg, noise);
        refused(pkg, "expected a manyone package", "not a tar archive");
        Files.write(pkg, new byte[0]);
        refused(pkg, "expected a manyone package");
        Files.write(pkg, new byte[4096]);
        refused(pkg, "expected a manyone package", "an empty tar archive");
    }

    @Test
    void firstEntryMustBeTheManifest() throws IOException {
        Path pkg = Tars.raw(tmp.resolve("bad.manyone"), null, null, List.of(config));
        refused(pkg, "first entry is 'config.json'");
    }

    @Test
    void absolutePathsAndDotDotAreRefused() throws IOException {
        for (String name : List.of("/tmp/evil", "../evil", "sub/../../evil", "..", "C:evil", "dir\\evil")) {
            Tars.Raw evil = Tars.Raw.file(name, "pwned");
            refused(raw(List.of(config), List.of(config, evil)), "unsafe name");
            refused(raw(List.of(config, evil), List.of(config, evil)), "the manifest lists entry", "not a safe plain file name");
        }
        assertFalse(Files.exists(tmp.resolve("a/evil")));
        assertFalse(Files.exists(tmp.resolve("evil")));
    }

    @Test
    void linksDevicesFifosAndDirectoriesAreRefused() throws IOException {
        refused(raw(List.of(config), List.of(config, new Tars.Raw("tokenizer.json", TarConstants.LF_SYMLINK, null, "/etc/passwd"))),
                "entry 'tokenizer.json' is a symbolic link to '/etc/passwd'");
        refused(raw(List.of(config), List.of(config, new Tars.Raw("tokenizer.json", TarConstants.LF_LINK, null, "config.json"))),
                "entry 'tokenizer.json' is a hard link");
        refused(raw(List.of(config), List.of(config, new Tars.Raw("null", TarConstants.LF_CHR, null, null))), "is a device");
        refused(raw(List.of(config), List.of(config, new Tars.Raw("disk", TarConstants.LF_BLK, null, null))), "is a device");
        refused(raw(List.of(config), List.of(config, new Tars.Raw("pipe", TarConstants.LF_FIFO, null, null))), "is a FIFO");
        refused(raw(List.of(config), List.of(config, new Tars.Raw("sub/", TarConstants.LF_DIR, null, null))), "is a directory");
    }

    @Test
    void duplicateNamesAreRefused() throws IOException {
        refused(raw(List.of(config), List.of(config, config)), "entry 'config.json' appears twice");
        refused(raw(List.of(config), List.of(config, Tars.Raw.file("CONFIG.json", "x"))), "'CONFIG.json' appears twice");
        refused(raw(List.of(config, config), List.of(config)), "lists entry 'config.json' twice");
    }

    @Test
    void manifestMustAgreeWithTheEntries() throws IOException {
        Tars.Raw tok = Tars.Raw.file("tokenizer.json", "{}");
        refused(raw(List.of(config), List.of(config, tok)), "entry 'tokenizer.json' is not listed in the manifest");
        Path pkg = tmp.resolve("bad.manyone");
        // listed but missing
        Tars.aligned(pkg, Tars.manifest(List.of(config, tok)), List.of(config));
        refused(pkg, "the manifest lists 2 entries but the archive holds 1 besides the manifest; 'tokenizer.json' and any after it are missing");
        // another order
        Tars.aligned(pkg, Tars.manifest(List.of(tok, config)), List.of(config, tok));
        refused(pkg, "entry 'config.json' is entry 1 of the archive, where the manifest lists 'tokenizer.json'");
        // another size
        Tars.aligned(pkg, Tars.manifest(List.of(config, Tars.Raw.file("tokenizer.json", "{ }"))), List.of(config, tok));
        refused(pkg, "entry 'tokenizer.json' has 2 bytes, the manifest says 3");
        // another hash: found when the entry is read (config.json always is)
        Tars.aligned(pkg, Tars.manifest(List.of(Tars.Raw.file("config.json", "{\"model_type\": \"nemotron_X\"}"))), List.of(config));
        refused(pkg, "entry 'config.json' is corrupted");
        // the manifest's config disagrees with config.json
        byte[] m = new String(Tars.manifest(List.of(config)), java.nio.charset.StandardCharsets.UTF_8)
                .replace("\"nemotron_h\"", "\"nemotron_x\"").getBytes(java.nio.charset.StandardCharsets.UTF_8);
        Tars.aligned(pkg, m, List.of(config));
        refused(pkg, "the manifest's \"config\" disagrees with entry 'config.json'");
        // unaligned data (a tar made by another tool), padded so nothing looks truncated
        Path other = raw(List.of(config), List.of(config));
        Files.write(other, new byte[20_000], java.nio.file.StandardOpenOption.APPEND);
        refused(other, "entry '.manyone-manifest.json' starts at byte", "expected 4096");
    }

    @Test
    void sizesBeyondTheFileAreRefused() throws IOException {
        Path pkg = tmp.resolve("bad.manyone");
        String big = "{\"name\": \"config.json\", \"size\": 1000000000000";
        byte[] m = new String(Tars.manifest(List.of(config)), java.nio.charset.StandardCharsets.UTF_8)
                .replaceFirst("\\{\\s*\"name\": \"config.json\",\\s*\"size\": \\d+", java.util.regex.Matcher.quoteReplacement(big))
                .getBytes(java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(new String(m, java.nio.charset.StandardCharsets.UTF_8).contains("1000000000000"));
        Tars.aligned(pkg, m, List.of(config));
        refused(pkg, "entry 'config.json' needs bytes", "but the file has only", "truncated?");
        String huge = "{\"name\": \"config.json\", \"size\": 9223372036854775807";
        Tars.aligned(pkg, new String(m, java.nio.charset.StandardCharsets.UTF_8).replace(big, huge)
                .getBytes(java.nio.charset.StandardCharsets.UTF_8), List.of(config));
        refused(pkg, "more than a file can hold");
    }

    @Test
    void unknownFormatVersionIsRefused() throws IOException {
        Path pkg = tmp.resolve("bad.manyone");
        byte[] m = new String(Tars.manifest(List.of(config)), java.nio.charset.StandardCharsets.UTF_8)
                .replace("\"format_version\": 1", "\"format_version\": 2").getBytes(java.nio.charset.StandardCharsets.UTF_8);
        Tars.aligned(pkg, m, List.of(config));
        refused(pkg, "unknown package format version 2; this manyone reads version 1");
        Tars.aligned(pkg, Fixtures.utf8("{\"format\": \"something-else\"}"), List.of(config));
        refused(pkg, "expected \"format\": \"manyone-package\"");
        Tars.aligned(pkg, Fixtures.utf8("[1, 2"), List.of(config));
        refused(pkg, "the manifest is not valid JSON");
    }

    @Test
    void manifestWithoutItsHashIsRefused() throws IOException {
        Path pkg = Tars.raw(tmp.resolve("bad.manyone"), Tars.manifest(List.of(config)), "0".repeat(64), List.of(config));
        refused(pkg, "entry '.manyone-manifest.json' is corrupted: its tar header records SHA-256 " + "0".repeat(64));
    }
}
