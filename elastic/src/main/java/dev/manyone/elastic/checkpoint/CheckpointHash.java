package dev.manyone.elastic.checkpoint;

import dev.manyone.formats.TensorInfo;
import dev.manyone.formats.pack.PackageEntry;
import dev.manyone.formats.pack.PackageFile;
import dev.manyone.formats.pack.Sha256;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The SHA-256 that identifies a checkpoint in provenance metadata ({@code manyone.source_sha256}): the SHA-256 of a
 * {@code sha256sum}-style listing of config.json and the weight files, one line per file in name order (byte order
 * of the names, as {@code LC_ALL=C} sorts them):
 * <pre>
 *   &lt;64 lowercase hex digits of the file's SHA-256&gt;␠␠&lt;file name&gt;\n
 * </pre>
 * so {@code LC_ALL=C sha256sum config.json *.safetensors | sha256sum} gives it for a directory whose
 * {@code *.safetensors} are exactly its weights. A directory is hashed file by file (every byte read once); a
 * many-in-one package gives the same value from its manifest's per-entry SHA-256s without reading the weights, so
 * a package and the directory it was packed from have one identity.
 */
public final class CheckpointHash {
    private CheckpointHash() {
    }

    public static String sha256(Checkpoint checkpoint) {
        Map<String, String> lines = new TreeMap<>();
        Optional<PackageFile> pkg = checkpoint.packageFile();
        if (pkg.isPresent()) {
            for (PackageEntry e : pkg.get().entries()) {
                if (isWeightOrConfig(e.name())) {
                    lines.put(e.name(), e.sha256());
                }
            }
        } else {
            Map<String, Path> files = new TreeMap<>();
            files.put("config.json", checkpoint.dir().resolve("config.json"));
            for (TensorInfo t : checkpoint.tensors().tensors()) {
                files.put(t.file().getFileName().toString(), t.file());
            }
            for (Map.Entry<String, Path> f : files.entrySet()) {
                try {
                    lines.put(f.getKey(), Sha256.ofFile(f.getValue()));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        }
        StringBuilder listing = new StringBuilder();
        lines.forEach((name, hex) -> listing.append(hex).append("  ").append(name).append('\n'));
        return Sha256.hex(listing.toString().getBytes(StandardCharsets.UTF_8));
    }

    /** config.json and the weights a package holds (its shards or model.safetensors; not elastic.safetensors). */
    private static boolean isWeightOrConfig(String name) {
        return name.equals("config.json") || (name.endsWith(".safetensors") && !name.equals(PackageFile.ELASTIC_TENSORS));
    }
}
