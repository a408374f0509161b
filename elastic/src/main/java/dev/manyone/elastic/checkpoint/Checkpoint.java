package dev.manyone.elastic.checkpoint;

import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.NemotronHConfig;
import dev.manyone.elastic.WeightLayout;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.Progress;
import dev.manyone.formats.Safetensors;
import dev.manyone.formats.SideFiles;
import dev.manyone.formats.TensorSource;
import dev.manyone.formats.pack.PackageEntry;
import dev.manyone.formats.pack.PackageFile;
import dev.manyone.formats.quant.QuantizationConfig;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * A Hugging Face Nemotron-H checkpoint: a directory with {@code config.json}, the weights ({@code model.safetensors}
 * or shards with {@code model.safetensors.index.json}) and side files (tokenizer, generation config, …), or the same
 * files in a package ({@code manyone pack}, docs/package-format.md), whose weights are mapped in place. Side files are
 * carried through unchanged wherever a checkpoint is copied or derived. Owns the memory-mapped weights.
 */
public final class Checkpoint implements AutoCloseable {
    private final Path dir;
    private final String name;
    private final PackageFile pkg;
    private final NemotronHConfig config;
    private final ModelDescription model;
    private final TensorSource tensors;

    private Checkpoint(Path dir, String name, PackageFile pkg, NemotronHConfig config, ModelDescription model, TensorSource tensors) {
        this.dir = dir;
        this.name = name;
        this.pkg = pkg;
        this.config = config;
        this.model = model;
        this.tensors = tensors;
    }

    /**
     * Opens a checkpoint directory or package. Reads and validates config.json and the safetensors headers (of a
     * package also its structure and manifest, see {@link PackageFile#open}) and, for a quantized checkpoint,
     * config.json's {@code quantization_config} against {@code hf_quant_config.json} ({@link QuantizationConfig#read});
     * does not check the tensors against the config (see {@link ModelDescription#check}).
     */
    public static Checkpoint open(Path dir) {
        if (!Files.exists(dir)) {
            throw new FormatException(dir, "no such file or directory");
        }
        if (Files.isRegularFile(dir)) {
            String file = dir.getFileName().toString();
            if (file.endsWith(".safetensors") || file.endsWith(".json")) {
                throw new FormatException(dir, "expected a checkpoint directory (config.json + *.safetensors) or a package "
                        + "(manyone pack), found the file '" + file + "'; pass its directory");
            }
            return openPackage(dir);
        }
        if (!Files.isDirectory(dir)) {
            throw new FormatException(dir, "expected a checkpoint directory (config.json + *.safetensors) or a package, found neither");
        }
        NemotronHConfig config = NemotronHConfig.read(dir.resolve("config.json"));
        // config.json's quantization_config and hf_quant_config.json, which must agree
        ModelDescription model = ModelDescription.of(config, WeightLayout.of(QuantizationConfig.read(dir)));
        TensorSource tensors = Safetensors.open(dir);
        Path abs = dir.toAbsolutePath().normalize();
        String name = abs.getFileName() == null ? abs.toString() : abs.getFileName().toString();
        return new Checkpoint(dir, name, null, config, model, tensors);
    }

    private static Checkpoint openPackage(Path file) {
        PackageFile pkg = PackageFile.open(file);
        NemotronHConfig config = NemotronHConfig.parse(pkg.configText(), file.resolve(PackageFile.CONFIG));
        ModelDescription model = ModelDescription.of(config, WeightLayout.of(packedQuantization(pkg, file, config)));
        TensorSource tensors = pkg.tensors();
        return new Checkpoint(file, pkg.manifest().parent(), pkg, config, model, tensors);
    }

    /** As {@link QuantizationConfig#read} for a package: its config.json and its hf_quant_config.json entry. */
    private static Optional<QuantizationConfig> packedQuantization(PackageFile pkg, Path file, NemotronHConfig config) {
        Optional<QuantizationConfig> fromConfig = QuantizationConfig.fromConfig(config.source(), config.json());
        for (PackageEntry e : pkg.sideEntries()) {
            if (e.name().equals(QuantizationConfig.HF_QUANT_CONFIG_FILE)) {
                Path label = e.label();
                try {
                    byte[] bytes = e.readVerified(1 << 20);
                    JsonNode hf = new ObjectMapper().readTree(bytes);
                    return QuantizationConfig.agreeing(fromConfig, QuantizationConfig.fromHfQuantConfig(label, hf), label);
                } catch (com.fasterxml.jackson.core.JsonProcessingException ex) {
                    throw new FormatException(label, "malformed JSON: " + ex.getOriginalMessage());
                } catch (IOException ex) {
                    throw new UncheckedIOException(ex);
                }
            }
        }
        return fromConfig;
    }

    /** The directory, or the package file. */
    public Path dir() {
        return dir;
    }

    /**
     * The parent's name for provenance: the directory's name, or for a package the name of the directory it was
     * packed from (recorded in its manifest), so a child extracted from either carries the same bytes.
     */
    public String name() {
        return name;
    }

    /** The package, when the checkpoint is one. */
    public Optional<PackageFile> packageFile() {
        return Optional.ofNullable(pkg);
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

    /**
     * Files other than config.json and the weights (tokenizer.json, generation_config.json, …), sorted. For a package
     * these are paths of entries inside it ({@code family.manyone/tokenizer.json}), for listings only: they are not
     * files on disk; copy them with {@link #sideFileEntries()}.
     */
    public List<Path> sideFiles() {
        return sideFileEntries().stream().map(SideFile::file).toList();
    }

    /** The side files, sorted by name, each able to copy itself. */
    public List<SideFile> sideFileEntries() {
        if (pkg != null) {
            return pkg.sideEntries().stream().map(e -> new SideFile(e.name(), e.label(), e))
                    .sorted(java.util.Comparator.comparing(SideFile::name)).toList();
        }
        try {
            return SideFiles.list(dir).stream().map(p -> new SideFile(p.getFileName().toString(), p, null)).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A side file of a checkpoint.
     *
     * @param name   its file name
     * @param file   the file, or for a package the entry's label ({@code family.manyone/tokenizer.json})
     * @param packed the package entry, or null for a file of a directory
     */
    public record SideFile(String name, Path file, PackageEntry packed) {
        /** Copies it, byte for byte, to {@code target}, which must not exist (a packed entry's SHA-256 is checked on the way). */
        public void copyTo(Path target) throws IOException {
            if (packed == null) {
                Files.copy(file, target);
            } else {
                packed.copyTo(target, Progress.NONE);
            }
        }
    }

    @Override
    public void close() {
        tensors.close();
    }
}
