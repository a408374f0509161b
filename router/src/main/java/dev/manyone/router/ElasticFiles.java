package dev.manyone.router;

import com.fasterxml.jackson.databind.JsonNode;
import dev.manyone.formats.pack.PackageFile;

import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.slice.Rankings;
import dev.manyone.elastic.slice.SpecFiles;
import dev.manyone.formats.AtomicFiles;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.JsonFiles;
import dev.manyone.formats.Safetensors;
import dev.manyone.formats.TensorSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.List;
import java.util.Map;

/**
 * Reads and writes a parent's elastic metadata, beside its config.json (docs/elastic-format.md):
 * <ul>
 *   <li>{@code elastic.json} and {@code elastic.safetensors} together: {@link ElasticMetadata.Kind#ROUTER} when
 *       elastic.json has a {@code router}, else {@link ElasticMetadata.Kind#RANKINGS};</li>
 *   <li>neither, but a golden-style {@code rankings.json}: its {@code rankings}, {@link ElasticMetadata.Kind#RANKINGS};</li>
 *   <li>nothing: {@link ElasticMetadata.Kind#PLAIN}, identity rankings.</li>
 * </ul>
 * One of the two elastic files without the other is refused.
 */
public final class ElasticFiles {
    public static final String JSON = ElasticJson.FILE;
    public static final String SAFETENSORS = ElasticTensors.FILE;
    public static final String GOLDEN_RANKINGS = "rankings.json";

    private ElasticFiles() {
    }

    /** The metadata of the parent in {@code dir} (or in a package file), validated against {@code parent}. */
    public static ElasticMetadata read(Path dir, ModelDescription parent) {
        if (Files.isRegularFile(dir)) {
            return readPackage(dir, parent);
        }
        Path json = dir.resolve(JSON);
        Path tensors = dir.resolve(SAFETENSORS);
        boolean hasJson = Files.isRegularFile(json);
        boolean hasTensors = Files.isRegularFile(tensors);
        if (hasTensors && !hasJson) {
            throw new FormatException(json, "missing: " + SAFETENSORS + " is present, and " + JSON
                    + " (format version, budgets, axes, router shape) must accompany it");
        }
        if (hasJson && !hasTensors) {
            throw new FormatException(tensors, "missing: " + JSON + " is present, and the rankings (and router weights) "
                    + "it refers to live in " + SAFETENSORS);
        }
        if (!hasJson) {
            Path golden = dir.resolve(GOLDEN_RANKINGS);
            if (Files.isRegularFile(golden)) {
                Rankings r = SpecFiles.readRankings(golden, parent);
                return new ElasticMetadata(ElasticMetadata.Kind.RANKINGS, golden, List.of(), Map.of(), null, r, null);
            }
            return new ElasticMetadata(ElasticMetadata.Kind.PLAIN, null, List.of(), Map.of(), null,
                    Rankings.identity(parent), null);
        }
        ElasticJson.Parsed p = ElasticJson.parse(JsonFiles.read(json, "elastic metadata"), parent, json);
        ElasticTensors.Contents c;
        try (TensorSource src = Safetensors.open(tensors)) {
            c = ElasticTensors.read(src, parent, p.router(), tensors);
        }
        ElasticMetadata.Kind kind = c.router() != null ? ElasticMetadata.Kind.ROUTER : ElasticMetadata.Kind.RANKINGS;
        return new ElasticMetadata(kind, json, p.budgets(), p.axes(), c.router(), c.rankings(), c.scores());
    }

    /** The same files read in place from a many-in-one package (entries named as in a directory). */
    private static ElasticMetadata readPackage(Path file, ModelDescription parent) {
        PackageFile pkg = PackageFile.open(file);
        Path json = Path.of(file + "/" + JSON); // labels for messages: the package and the entry
        Path tensors = Path.of(file + "/" + SAFETENSORS);
        Optional<JsonNode> meta = pkg.readJson(JSON);
        boolean hasTensors = pkg.entry(SAFETENSORS).isPresent();
        if (hasTensors != meta.isPresent()) {
            throw new FormatException(meta.isPresent() ? tensors : json, "missing from the package: " + JSON + " and "
                    + SAFETENSORS + " come together");
        }
        if (meta.isEmpty()) {
            Optional<JsonNode> golden = pkg.readJson(GOLDEN_RANKINGS);
            if (golden.isPresent()) {
                Path label = Path.of(file + "/" + GOLDEN_RANKINGS);
                JsonNode g = golden.get();
                Rankings r = Rankings.parse(g.has("rankings") ? g.get("rankings") : g, parent, label);
                return new ElasticMetadata(ElasticMetadata.Kind.RANKINGS, label, List.of(), Map.of(), null, r, null);
            }
            return new ElasticMetadata(ElasticMetadata.Kind.PLAIN, null, List.of(), Map.of(), null,
                    Rankings.identity(parent), null);
        }
        ElasticJson.Parsed p = ElasticJson.parse(meta.get(), parent, json);
        ElasticTensors.Contents c;
        try (TensorSource src = pkg.openSafetensors(SAFETENSORS)) {
            c = ElasticTensors.read(src, parent, p.router(), tensors);
        }
        ElasticMetadata.Kind kind = c.router() != null ? ElasticMetadata.Kind.ROUTER : ElasticMetadata.Kind.RANKINGS;
        return new ElasticMetadata(kind, json, p.budgets(), p.axes(), c.router(), c.rankings(), c.scores());
    }

    /**
     * Writes elastic.safetensors then elastic.json into {@code dir}, each atomically (replacing existing ones).
     * Deterministic bytes. The metadata is validated by reading it back; a FormatException then means the caller
     * built inconsistent metadata.
     */
    public static void write(Path dir, ElasticMetadata m, ModelDescription parent) throws IOException {
        if (m.kind() == ElasticMetadata.Kind.PLAIN) {
            throw new IllegalArgumentException("a plain checkpoint has no elastic metadata to write");
        }
        ElasticTensors.write(dir.resolve(SAFETENSORS), m, parent);
        AtomicFiles.write(dir.resolve(JSON), ElasticJson.write(m).getBytes(StandardCharsets.UTF_8));
        read(dir, parent);
    }

    /** The elastic.json text of {@code m} (for docs and tests). */
    public static String json(ElasticMetadata m) {
        return ElasticJson.write(m);
    }
}
