package dev.manyone.formats;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes a Hugging Face checkpoint, split at tensor boundaries into shards of at most {@code maxShardBytes} of
 * tensor data (a larger tensor gets a shard of its own). One shard is written as {@code model.safetensors}; several
 * as {@code model-00001-of-0000N.safetensors} plus {@code model.safetensors.index.json}, written last:
 * <pre>
 * {
 *   "metadata": {
 *     "total_size": 1234
 *   },
 *   "weight_map": {
 *     "name": "model-00001-of-00002.safetensors",   (sorted by tensor name)
 *     ...
 *   }
 * }
 * </pre>
 * as transformers' {@code save_pretrained} writes it ({@code json.dumps(index, indent=2, sort_keys=True) + "\n"}).
 * Tensors arrive in plan order through the same API as {@link SafetensorsWriter}; a shard's file is created when its
 * first tensor is written and finished (renamed into place) when its last one is complete. {@link #close()} without
 * {@link #finish()} removes every file this writer created.
 */
public final class CheckpointWriter implements AutoCloseable {
    private final Path dir;
    private final List<List<TensorSpec>> shardPlans;
    private final List<String> shardNames;
    private final Map<String, Integer> shardOf = new HashMap<>();
    private final Map<String, String> metadata;
    private final long totalSize;
    private final List<Path> created = new ArrayList<>();
    private SafetensorsWriter open;
    private int current; // first shard not finished
    private boolean finished;
    private boolean closed;

    private CheckpointWriter(Path dir, List<List<TensorSpec>> shardPlans, Map<String, String> metadata, long totalSize) {
        this.dir = dir;
        this.shardPlans = shardPlans;
        this.metadata = Map.copyOf(metadata);
        this.totalSize = totalSize;
        int n = shardPlans.size();
        List<String> names = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            names.add(n == 1 ? Safetensors.SINGLE_FILE : String.format(Locale.ROOT, "model-%05d-of-%05d.safetensors", i + 1, n));
            for (TensorSpec t : shardPlans.get(i)) {
                shardOf.put(t.name(), i);
            }
        }
        this.shardNames = List.copyOf(names);
    }

    /** Plans the shards; creates {@code dir} if needed. No file is written before the first tensor. */
    public static CheckpointWriter create(Path dir, List<TensorSpec> plan, Map<String, String> metadata, long maxShardBytes)
            throws IOException {
        if (maxShardBytes <= 0) {
            throw new IllegalArgumentException("maxShardBytes must be positive, got " + maxShardBytes);
        }
        SafetensorsWriter.header(plan, metadata); // validates names, sizes and header size up front
        List<List<TensorSpec>> shards = new ArrayList<>();
        List<TensorSpec> shard = new ArrayList<>();
        long bytes = 0;
        long total = 0;
        for (TensorSpec t : plan) {
            long size = t.byteSize();
            if (!shard.isEmpty() && (bytes + size > maxShardBytes || bytes + size < 0)) {
                shards.add(List.copyOf(shard));
                shard.clear();
                bytes = 0;
            }
            shard.add(t);
            bytes += size;
            total = Math.addExact(total, size);
        }
        shards.add(List.copyOf(shard));
        Files.createDirectories(dir);
        return new CheckpointWriter(dir, List.copyOf(shards), metadata, total);
    }

    /** The file names of the shards, in order ({@code model.safetensors} alone, or {@code model-0000i-of-0000N.safetensors}). */
    public List<String> shardFiles() {
        return shardNames;
    }

    /** Appends bytes to tensor {@code name}; the rules of {@link SafetensorsWriter#write}. */
    public void write(String name, ByteBuffer chunk) throws IOException {
        Integer s = shardOf.get(name);
        if (s != null && s < current && !chunk.hasRemaining() && !finished && !closed) {
            return; // an empty write to a tensor of a finished shard: nothing to do, as in SafetensorsWriter
        }
        shardFor(name).write(name, chunk);
        closeShardIfComplete();
    }

    /** Copies a whole tensor; the rules of {@link SafetensorsWriter#transferFrom}. */
    public void transferFrom(String name, TensorSource src, TensorInfo t) throws IOException {
        shardFor(name).transferFrom(name, src, t);
        closeShardIfComplete();
    }

    private SafetensorsWriter shardFor(String name) throws IOException {
        if (finished || closed) {
            throw new IllegalStateException("checkpoint writer for " + dir + " is " + (finished ? "finished" : "closed"));
        }
        Integer s = shardOf.get(name);
        if (s == null) {
            throw new IllegalStateException("tensor '" + name + "' is not in the plan of " + dir);
        }
        if (s < current) {
            throw new IllegalStateException("tensor '" + name + "' belongs to shard " + shardNames.get(s) + ", already finished");
        }
        while (current < s) { // earlier shards may only be complete if they hold nothing but empty tensors
            openCurrent();
            if (!open.isComplete()) {
                throw new IllegalStateException("tensor '" + name + "' written before shard " + shardNames.get(current)
                        + " is complete");
            }
            closeShardIfComplete();
        }
        return openCurrent();
    }

    private SafetensorsWriter openCurrent() throws IOException {
        if (open == null) {
            Path file = dir.resolve(shardNames.get(current));
            open = SafetensorsWriter.create(file, shardPlans.get(current), metadata);
        }
        return open;
    }

    private void closeShardIfComplete() throws IOException {
        if (open != null && open.isComplete()) {
            open.finish();
            created.add(open.target());
            open.close();
            open = null;
            current++;
        }
    }

    /** Finishes the remaining (empty-tensor-only) shards, checks all tensors were written, writes the index if sharded. */
    public void finish() throws IOException {
        if (finished || closed) {
            throw new IllegalStateException("checkpoint writer for " + dir + " is already " + (finished ? "finished" : "closed"));
        }
        while (current < shardPlans.size()) {
            SafetensorsWriter w = openCurrent();
            if (!w.isComplete()) {
                w.finish(); // throws IllegalStateException naming the incomplete tensor
            }
            closeShardIfComplete();
        }
        if (shardPlans.size() > 1) {
            Path index = dir.resolve(Safetensors.INDEX_FILE);
            AtomicFiles.write(index, indexJson().getBytes(StandardCharsets.UTF_8));
            created.add(index);
        }
        finished = true;
    }

    /** The index file's text, byte-stable. */
    String indexJson() {
        Map<String, String> weightMap = new TreeMap<>();
        for (int i = 0; i < shardPlans.size(); i++) {
            for (TensorSpec t : shardPlans.get(i)) {
                weightMap.put(t.name(), shardNames.get(i));
            }
        }
        StringBuilder sb = new StringBuilder("{\n  \"metadata\": {\n    \"total_size\": ").append(totalSize)
                .append("\n  },\n  \"weight_map\": {");
        boolean first = true;
        for (Map.Entry<String, String> e : weightMap.entrySet()) {
            sb.append(first ? "\n    " : ",\n    ");
            Json.quote(sb, e.getKey()).append(": ");
            Json.quote(sb, e.getValue());
            first = false;
        }
        return sb.append(first ? "}\n}\n" : "\n  }\n}\n").toString();
    }

    /** Without a successful {@link #finish()}: deletes the open shard's temp file and the shards already renamed. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (finished) {
            return;
        }
        UncheckedIOException failure = null;
        if (open != null) {
            try {
                open.close();
            } catch (UncheckedIOException e) {
                failure = e;
            }
            open = null;
        }
        for (Path p : created) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException e) {
                if (failure == null) {
                    failure = new UncheckedIOException(e);
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
