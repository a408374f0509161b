package dev.manyone.elastic.slice;

import com.fasterxml.jackson.databind.JsonNode;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.JsonFiles;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Reads child specs and rankings from files (schemas in {@code docs/child-spec.md}):
 * <ul>
 *   <li>a spec file is either a spec object ({@code hidden}, {@code layers}, {@code per_layer}) or a
 *       rankings.json-shaped file ({@code rankings} + {@code children}), from which {@code --child NAME} picks
 *       {@code children.NAME.spec};</li>
 *   <li>a rankings file is a rankings.json-shaped file (its {@code rankings} object is used) or a bare rankings
 *       object.</li>
 * </ul>
 */
public final class SpecFiles {
    private SpecFiles() {
    }

    /** The spec in {@code file}; {@code child} is required when the file holds several children. */
    public static ChildSpec readSpec(Path file, String child) {
        JsonNode root = JsonFiles.read(file, "child spec");
        if (!root.isObject()) {
            throw new FormatException(file, "expected a JSON object (a child spec or a rankings.json), found " + root.getNodeType().toString().toLowerCase());
        }
        if (root.has("children")) {
            JsonNode children = root.get("children");
            if (child == null) {
                throw new FormatException(file, "the file holds several children; choose one with --child (one of "
                        + names(children) + ")");
            }
            JsonNode c = children.get(child);
            if (c == null) {
                throw new FormatException(file, "no child '" + child + "'; expected one of " + names(children));
            }
            return ChildSpec.parse(c.get("spec"), file);
        }
        if (child != null) {
            throw new FormatException(file, "--child " + child + " was given, but the file is a single spec, not a rankings.json with 'children'");
        }
        return ChildSpec.parse(root, file);
    }

    /** The rankings object of {@code file} if it has one (a rankings.json-shaped spec file carries its rankings). */
    public static Optional<Rankings> rankingsIn(Path file, ModelDescription parent) {
        JsonNode root = JsonFiles.read(file, "rankings");
        if (root.isObject() && root.has("rankings")) {
            return Optional.of(Rankings.parse(root.get("rankings"), parent, file));
        }
        return Optional.empty();
    }

    /** Reads a rankings file: a rankings.json-shaped file or a bare rankings object. */
    public static Rankings readRankings(Path file, ModelDescription parent) {
        JsonNode root = JsonFiles.read(file, "rankings");
        JsonNode r = root.isObject() && root.has("rankings") ? root.get("rankings") : root;
        return Rankings.parse(r, parent, file);
    }

    private static String names(JsonNode children) {
        List<String> names = new ArrayList<>();
        children.fieldNames().forEachRemaining(names::add);
        return String.join(", ", names);
    }
}
