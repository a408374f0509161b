package dev.manyone.formats;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/** Entry point for reading safetensors checkpoints. */
public final class Safetensors {
    /** Largest header accepted, as huggingface/safetensors ({@code MAX_HEADER_SIZE = 100_000_000}). */
    public static final long MAX_HEADER_BYTES = 100_000_000;
    /** The single-file checkpoint name in a Hugging Face model directory. */
    public static final String SINGLE_FILE = "model.safetensors";
    /** The index of a sharded checkpoint: {"metadata": {...}, "weight_map": {tensor: shard file}}. */
    public static final String INDEX_FILE = "model.safetensors.index.json";

    private Safetensors() {
    }

    /**
     * Opens a checkpoint: a {@code .safetensors} file, a directory with {@value #INDEX_FILE} (sharded), or a directory
     * with a single {@value #SINGLE_FILE}. Everything is validated before this returns. FormatException for anything
     * else; UncheckedIOException on I/O failure.
     */
    public static TensorSource open(Path path) {
        return open(path, MappedWindows.DEFAULT_LIMIT);
    }

    /** As {@link #open(Path)} with a smaller mapping window, so tests can force tensors across many windows. */
    static TensorSource open(Path path, long windowLimit) {
        if (Files.isRegularFile(path)) {
            String name = path.getFileName().toString();
            if (!name.endsWith(".safetensors")) {
                throw new FormatException(path, "expected a .safetensors file or a checkpoint directory containing "
                        + INDEX_FILE + " or " + SINGLE_FILE + ", found a file named '" + name + "'");
            }
            return SafetensorsFile.open(path, windowLimit);
        }
        if (Files.isDirectory(path)) {
            Path index = path.resolve(INDEX_FILE);
            Path single = path.resolve(SINGLE_FILE);
            boolean hasIndex = Files.exists(index, LinkOption.NOFOLLOW_LINKS);
            boolean hasSingle = Files.exists(single, LinkOption.NOFOLLOW_LINKS);
            if (hasIndex && hasSingle) {
                throw new FormatException(path, "directory contains both " + INDEX_FILE + " and " + SINGLE_FILE
                        + "; expected exactly one of them");
            }
            if (hasIndex) {
                return ShardedCheckpoint.open(path, windowLimit);
            }
            if (hasSingle) {
                return SafetensorsFile.open(single, windowLimit);
            }
            throw new FormatException(path, "directory contains neither " + INDEX_FILE + " nor " + SINGLE_FILE
                    + "; expected a Hugging Face checkpoint directory");
        }
        throw new FormatException(path, Files.exists(path)
                ? "expected a .safetensors file or a checkpoint directory, found neither a regular file nor a directory"
                : "no such file or directory; expected a .safetensors file or a checkpoint directory");
    }
}
