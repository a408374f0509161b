package dev.manyone.formats;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * A sharded Hugging Face checkpoint: a directory with {@code model.safetensors.index.json}
 * <pre>
 *   {"metadata": {"total_size": 123}, "weight_map": {"tensor.name": "model-00001-of-00002.safetensors", ...}}
 * </pre>
 * and the shards it names. Checked on open: shard names are plain file names in the directory (no separators, no
 * "..", not absolute); every shard exists and is a valid safetensors file; every tensor of the weight map is in
 * its shard; every tensor of every shard is in the weight map, under that shard (so none is in two shards).
 * {@code metadata.total_size} is informational and not checked (some published indexes disagree with their shards).
 */
public final class ShardedCheckpoint implements TensorSource {
    private final Path dir;
    private final List<SafetensorsFile> shards;
    private final Map<String, SafetensorsFile> shardOf;
    private final List<TensorInfo> sorted;

    private ShardedCheckpoint(Path dir, List<SafetensorsFile> shards, Map<String, SafetensorsFile> shardOf) {
        this.dir = dir;
        this.shards = List.copyOf(shards);
        this.shardOf = shardOf;
        List<TensorInfo> all = new ArrayList<>();
        for (SafetensorsFile s : shards) {
            all.addAll(s.tensors());
        }
        all.sort(Comparator.comparing(TensorInfo::name));
        this.sorted = List.copyOf(all);
    }

    /** Opens the checkpoint in {@code dir}, which must contain {@value Safetensors#INDEX_FILE}. */
    public static ShardedCheckpoint open(Path dir) {
        return open(dir, MappedWindows.DEFAULT_LIMIT);
    }

    static ShardedCheckpoint open(Path dir, long windowLimit) {
        Path index = dir.resolve(Safetensors.INDEX_FILE);
        ShardStore files = new ShardStore() {
            @Override
            public boolean contains(String file) {
                return Files.isRegularFile(dir.resolve(file));
            }

            @Override
            public SafetensorsFile open(String file) {
                return SafetensorsFile.open(dir.resolve(file), windowLimit);
            }
        };
        return open(dir, index, readIndex(index), files);
    }

    /** Where the shards an index names are stored: files of a directory, or entries of a package. */
    public interface ShardStore {
        /** Whether a shard of that (plain, already checked) name exists. */
        boolean contains(String file);

        /** Opens and validates the shard (see {@link SafetensorsFile}). */
        SafetensorsFile open(String file);
    }

    /**
     * Opens a sharded checkpoint whose index and shards are stored elsewhere than in a directory of their own, e.g. in
     * a package: {@code indexBytes} is the content of the index, {@code index} the path named in its error messages,
     * {@code location} what {@link #location()} returns. Checked as {@link #open(Path)}.
     */
    public static ShardedCheckpoint open(Path location, Path index, byte[] indexBytes, ShardStore store) {
        Map<String, String> weightMap = readWeightMap(index, indexBytes);
        Map<String, String> firstTensorOf = new TreeMap<>(); // shard file -> a tensor naming it, for messages
        weightMap.forEach((tensor, file) -> firstTensorOf.putIfAbsent(file, tensor));
        for (Map.Entry<String, String> e : firstTensorOf.entrySet()) {
            if (!store.contains(e.getKey())) {
                throw new FormatException(index, e.getValue(), "shard '" + e.getKey() + "' named by the index does not exist in "
                        + location);
            }
        }
        List<SafetensorsFile> shards = new ArrayList<>();
        try {
            Map<String, SafetensorsFile> byFile = new HashMap<>();
            for (String file : firstTensorOf.keySet()) {
                SafetensorsFile s = store.open(file);
                shards.add(s);
                byFile.put(file, s);
            }
            Map<String, SafetensorsFile> shardOf = new HashMap<>();
            for (Map.Entry<String, String> e : weightMap.entrySet()) {
                SafetensorsFile s = byFile.get(e.getValue());
                if (s.find(e.getKey()).isEmpty()) {
                    throw new FormatException(index, e.getKey(), "listed in the index under shard '" + e.getValue()
                            + "', but that shard has no such tensor");
                }
                shardOf.put(e.getKey(), s);
            }
            for (SafetensorsFile s : shards) {
                String file = s.location().getFileName().toString();
                for (TensorInfo t : s.tensors()) {
                    String listed = weightMap.get(t.name());
                    if (listed == null) {
                        throw new FormatException(s.location(), t.name(), "tensor is in shard '" + file
                                + "' but not listed in " + index);
                    }
                    if (!listed.equals(file)) {
                        throw new FormatException(s.location(), t.name(), "tensor is in two shards, '" + listed + "' and '"
                                + file + "'; the index " + index + " lists it under '" + listed + "'");
                    }
                }
            }
            return new ShardedCheckpoint(location, shards, shardOf);
        } catch (RuntimeException e) {
            for (SafetensorsFile s : shards) {
                try {
                    s.close();
                } catch (RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
    }

    private static byte[] readIndex(Path index) {
        try {
            return Files.readAllBytes(index);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The weight map, validated: an object of tensor name to plain shard file name. */
    private static Map<String, String> readWeightMap(Path index, byte[] bytes) {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes)).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new FormatException(index, null, "index is not valid UTF-8", e);
        }
        JsonNode root = Json.parse(text, index, "index");
        if (!root.isObject()) {
            throw new FormatException(index, "expected a JSON object with \"weight_map\", found " + Json.describe(root));
        }
        JsonNode map = root.get("weight_map");
        if (map == null || !map.isObject()) {
            throw new FormatException(index, "expected \"weight_map\" to be an object of tensor name to shard file, found "
                    + Json.describe(map));
        }
        if (map.isEmpty()) {
            throw new FormatException(index, "\"weight_map\" is empty; expected at least one tensor");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : map.properties()) {
            JsonNode v = e.getValue();
            if (!v.isTextual()) {
                throw new FormatException(index, e.getKey(), "expected the shard file name to be a string, found " + Json.describe(v));
            }
            checkPlainName(index, e.getKey(), v.textValue());
            out.put(e.getKey(), v.textValue());
        }
        return out;
    }

    /** A shard must be a file directly in the checkpoint directory: no path separators, no "." or "..", not absolute. */
    static void checkPlainName(Path index, String tensor, String file) {
        boolean bad = file.isEmpty() || file.equals(".") || file.equals("..") || file.indexOf('/') >= 0
                || file.indexOf('\\') >= 0 || file.indexOf('\0') >= 0 || file.indexOf(':') >= 0;
        if (!bad) {
            try {
                Path p = Path.of(file);
                bad = p.isAbsolute() || p.getNameCount() != 1 || !p.getFileName().toString().equals(file);
            } catch (java.nio.file.InvalidPathException e) {
                bad = true;
            }
        }
        if (bad) {
            throw new FormatException(index, tensor, "shard file '" + file
                    + "' is not a plain file name in the checkpoint directory (path separators, '..' and absolute paths are rejected)");
        }
    }

    @Override
    public Path location() {
        return dir;
    }

    /** The shards, sorted by file name. */
    public List<SafetensorsFile> shards() {
        return shards;
    }

    @Override
    public List<TensorInfo> tensors() {
        return sorted;
    }

    @Override
    public Optional<TensorInfo> find(String name) {
        SafetensorsFile s = shardOf.get(name);
        return s == null ? Optional.empty() : s.find(name);
    }

    private SafetensorsFile shard(TensorInfo t) {
        SafetensorsFile s = shardOf.get(t.name());
        if (s == null) {
            throw new IllegalArgumentException("tensor " + t + " of " + t.file() + " is not from " + dir);
        }
        return s;
    }

    @Override
    public ByteBuffer bytes(TensorInfo tensor, long byteOffset, int length) {
        return shard(tensor).bytes(tensor, byteOffset, length);
    }

    @Override
    public float[] readFloats(TensorInfo tensor) {
        return shard(tensor).readFloats(tensor);
    }

    @Override
    public void copyTo(TensorInfo tensor, WritableByteChannel out) throws IOException {
        shard(tensor).copyTo(tensor, out);
    }

    /** The first shard's {@code __metadata__}. */
    @Override
    public Map<String, String> metadata() {
        return shards.isEmpty() ? Map.of() : shards.get(0).metadata();
    }

    @Override
    public void close() {
        RuntimeException first = null;
        for (SafetensorsFile s : shards) {
            try {
                s.close();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
