package dev.manyone.router;

import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.NemotronHConfig;
import dev.manyone.elastic.generate.Presets;

import java.io.IOException;
import java.nio.file.Path;

/** Test parents. */
final class Parents {
    private Parents() {
    }

    static NemotronHConfig tiny() {
        return Presets.load("tiny");
    }

    static ModelDescription tinyModel() {
        return ModelDescription.of(tiny());
    }

    /** A tiny parent with weights and the given recipe's metadata in {@code dir}. */
    static ElasticMetadata write(Path dir, ElasticParentGenerator.Recipe recipe, long seed) throws IOException {
        return ElasticParentGenerator.write(tiny(), recipe, seed, dir, false);
    }

    static Path golden() {
        String p = System.getProperty("manyone.golden");
        Path dir = p != null ? Path.of(p) : Path.of("../../shared/golden");
        if (!dir.resolve("README.md").toFile().exists()) {
            throw new IllegalStateException("golden data not found at " + dir.toAbsolutePath());
        }
        return dir;
    }
}
