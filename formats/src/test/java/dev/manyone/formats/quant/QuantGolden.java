package dev.manyone.formats.quant;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.manyone.formats.JsonFiles;
import dev.manyone.formats.TensorInfo;
import dev.manyone.formats.TensorSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;

/** Test helpers for the quantized golden data (README section "Quantized checkpoints (FP8, NVFP4)"). */
final class QuantGolden {
    private QuantGolden() {
    }

    /** The shared golden folder (as formats' TestFiles finds it); fails when missing. */
    static Path golden() {
        String prop = System.getProperty("manyone.golden");
        Path dir = prop != null ? Path.of(prop) : Path.of("../../shared/golden");
        assertTrue(Files.isDirectory(dir.resolve("tiny-moe-nvfp4")), "golden data missing at " + dir.toAbsolutePath());
        return dir;
    }

    static JsonNode json(Path file) {
        return JsonFiles.read(file, "golden JSON");
    }

    static byte[] bytes(TensorSource src, TensorInfo t) {
        byte[] b = new byte[(int) t.byteSize()];
        src.bytes(t).get(b);
        return b;
    }

    static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }
}
