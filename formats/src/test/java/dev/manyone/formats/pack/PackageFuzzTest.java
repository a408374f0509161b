package dev.manyone.formats.pack;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.Progress;
import dev.manyone.formats.TensorSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Fuzzes the many-in-one package reader: the tar container, the manifest and the entries, then verifies every
 * checksum and opens the tensors. Only {@link FormatException} and I/O exceptions may escape. Seeds: {@code
 * src/test/resources/dev/manyone/formats/pack/PackageFuzzTestInputs/open/} (a small package holding config.json and
 * one safetensors file); fuzz with {@code JAZZER_FUZZ=1} (docs/fuzzing.md).
 */
class PackageFuzzTest {
    private static final Path DIR;

    static {
        try {
            DIR = Files.createTempDirectory("package-fuzz");
            DIR.toFile().deleteOnExit();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @FuzzTest(maxDuration = "2m")
    void open(byte[] data) throws IOException {
        Path f = DIR.resolve("p.manyone");
        Files.write(f, data);
        try {
            PackageFile pkg = PackageFile.open(f);
            pkg.manifest();
            pkg.configText();
            pkg.sideEntries();
            PackageVerifier.corrupted(PackageVerifier.verify(pkg, Progress.NONE));
            try (TensorSource src = pkg.tensors()) {
                src.tensors();
            }
        } catch (FormatException | UncheckedIOException expected) {
            // documented
        } catch (IOException io) {
            // verify() declares IOException for real read failures
        }
    }
}
