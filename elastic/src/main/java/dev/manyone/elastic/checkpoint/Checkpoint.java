package dev.manyone.elastic.checkpoint;

import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.NemotronHConfig;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.Safetensors;
import dev.manyone.formats.SideFiles;
import dev.manyone.formats.TensorSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A Hugging Face Nemotron-H checkpoint directory: {@code config.json}, the weights ({@code model.safetensors} or
 * shards with {@code model.safetensors.index.json}) and side files (tokenizer, generation config, …), which are
 * carried through unchanged wherever a checkpoint is copied or derived. Owns the memory-mapped weights.
 */
public final class Checkpoint implements AutoCloseable {
    private final Path dir;
    private final NemotronHConfig config;
    private final ModelDescription model;
    private final TensorSource tensors;

    private Checkpoint(Path dir, NemotronHConfig config, ModelDescription model, TensorSource tensors) {
        this.dir = dir;
        this.config = config;
        this.model = model;
        this.tensors = tensors;
    }

    /**
     * Opens a checkpoint directory. Reads and validates config.json and the safetensors headers; does not check
     * the tensors against the config (see {@link ModelDescription#check}).
     */
    public static Checkpoint open(Path dir) {
        if (!Files.exists(dir)) {
            throw new FormatException(dir, "no such file or directory");
        }
        if (!Files.isDirectory(dir)) {
            throw new FormatException(dir, "expected a checkpoint directory (config.json + *.safetensors), found a file");
        }
        NemotronHConfig config = NemotronHConfig.read(dir.resolve("config.json"));
        ModelDescription model = ModelDescription.of(config);
        TensorSource tensors = Safetensors.open(dir);
        return new Checkpoint(dir, config, model, tensors);
    }

    public Path dir() {
        return dir;
    }

    public NemotronHConfig config() {
        return config;
    }

    public ModelDescription model() {
        return model;
    }

    public TensorSource tensors() {
        return tensors;
    }

    /** Files other than config.json and the weights (tokenizer.json, generation_config.json, …), sorted. */
    public List<Path> sideFiles() {
        try {
            return SideFiles.list(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        tensors.close();
    }
}
