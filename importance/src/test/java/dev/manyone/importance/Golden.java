package dev.manyone.importance;

import java.nio.file.Path;

/** The golden data beside the checkout (system property manyone.golden, set by the build). */
final class Golden {
    private Golden() {
    }

    static Path dir() {
        String p = System.getProperty("manyone.golden");
        Path dir = p != null ? Path.of(p) : Path.of("../../shared/golden");
        if (!dir.resolve("README.md").toFile().exists()) {
            throw new IllegalStateException("golden data not found at " + dir.toAbsolutePath());
        }
        return dir;
    }

    static Path tiny() {
        return dir().resolve("tiny-hybrid");
    }

    static Path trained() {
        return dir().resolve("trained-hybrid");
    }

    static Path tinyMoe() {
        return dir().resolve("tiny-moe");
    }

    static Path trainedMoe() {
        return dir().resolve("trained-moe");
    }
}
