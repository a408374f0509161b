package dev.manyone.formats;

import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HexFormat;

/** Sibling temporary names: {@code .<name>.partial-<random>} next to the target, so a final rename is atomic. */
final class TempNames {
    private static final SecureRandom RANDOM = new SecureRandom();

    private TempNames() {
    }

    static Path sibling(Path target, String kind) {
        Path abs = target.toAbsolutePath();
        Path parent = abs.getParent();
        if (parent == null || abs.getFileName() == null) {
            throw new IllegalArgumentException("target has no parent directory: " + target);
        }
        byte[] r = new byte[6];
        RANDOM.nextBytes(r);
        return parent.resolve("." + abs.getFileName() + "." + kind + "-" + HexFormat.of().formatHex(r));
    }

    static Path partial(Path target) {
        return sibling(target, "partial");
    }
}
