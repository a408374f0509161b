package dev.manyone.elastic.checkpoint;

import dev.manyone.elastic.generate.ModelGenerator;
import dev.manyone.elastic.generate.Presets;
import dev.manyone.formats.Progress;
import dev.manyone.formats.pack.PackageWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The provenance hash is `sha256sum config.json *.safetensors | sha256sum`, and a package has its directory's. */
class CheckpointHashTest {
    @TempDir
    Path tmp;

    private static String hex(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    @Test
    void directoryHashIsTheSha256sumListingAndThePackageHasTheSame() throws Exception {
        Path dir = tmp.resolve("parent");
        new ModelGenerator(Presets.load("tiny"), 3, 64_000, 2).write(dir, false, Progress.NONE);
        Files.writeString(dir.resolve("tokenizer.json"), "{}"); // a side file: not part of the identity
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(p -> p.getFileName().toString().equals("config.json") || p.toString().endsWith(".safetensors"))
                    .sorted().toList();
        }
        assertTrue(files.size() > 2, "sharded: " + files);
        // what `LC_ALL=C sha256sum config.json model-*.safetensors | sha256sum` prints
        StringBuilder listing = new StringBuilder();
        for (Path f : files) {
            listing.append(hex(Files.readAllBytes(f))).append("  ").append(f.getFileName()).append('\n');
        }
        String expected = hex(listing.toString().getBytes(StandardCharsets.UTF_8));

        String fromDir;
        try (Checkpoint cp = Checkpoint.open(dir)) {
            fromDir = CheckpointHash.sha256(cp);
        }
        assertEquals(expected, fromDir);

        Path pkg = tmp.resolve("parent.manyone");
        PackageWriter.pack(dir, pkg, false, Progress.NONE);
        try (Checkpoint cp = Checkpoint.open(pkg)) {
            assertEquals(fromDir, CheckpointHash.sha256(cp), "package = the directory it was packed from");
        }

        Files.writeString(dir.resolve("config.json"), Files.readString(dir.resolve("config.json")) + " ");
        try (Checkpoint cp = Checkpoint.open(dir)) {
            assertNotEquals(fromDir, CheckpointHash.sha256(cp), "config.json is part of the identity");
        }
    }
}
