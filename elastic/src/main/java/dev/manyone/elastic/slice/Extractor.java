package dev.manyone.elastic.slice;

import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.formats.AtomicDirectory;
import dev.manyone.formats.CheckpointWriter;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.Progress;
import dev.manyone.formats.TensorInfo;
import dev.manyone.formats.TensorSpec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes a child as a Hugging Face checkpoint: config.json, sharded safetensors (+ index) in the parent's dtype
 * with the parent's stored bits sliced, and the parent's side files copied unchanged. Streaming: one tensor
 * slice in memory at a time. Atomic: the directory appears only when complete.
 */
public final class Extractor {
    private Extractor() {
    }

    /** Result figures of one extraction. */
    public record Result(Path output, long params, long bytesRead, long bytesWritten, int tensors) {
    }

    /** Parent files that describe the parent's elasticity and do not belong in a child. */
    static final Set<String> ELASTIC_METADATA = Set.of("rankings.json", "elastic.json");

    public static Result writeHuggingFace(Checkpoint parent, SlicePlan plan, Path target, boolean overwrite,
                                          long maxShardBytes, Map<String, String> provenance, Progress progress) throws IOException {
        List<TensorSpec> specs = new ArrayList<>();
        List<TensorInfo> sources = new ArrayList<>();
        long total = 0;
        for (TensorSlice t : plan.tensors()) {
            TensorInfo src = parent.tensors().require(t.parentName());
            if (!src.dtype().isFloatingPoint()) {
                throw new FormatException(src.file(), src.name(), "expected a floating-point weight, found " + src.dtype());
            }
            sources.add(src);
            TensorSpec spec = new TensorSpec(t.name(), src.dtype(), t.shape());
            specs.add(spec);
            total += spec.byteSize();
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("format", "pt");
        metadata.putAll(provenance);
        long read = 0;
        progress.start("extract", total);
        try (AtomicDirectory out = AtomicDirectory.create(target, overwrite)) {
            plan.config().write(out.path().resolve("config.json"));
            copySideFiles(parent, out.path());
            SliceCopier copier = new SliceCopier();
            try (CheckpointWriter writer = CheckpointWriter.create(out.path(), specs, metadata, maxShardBytes)) {
                for (int k = 0; k < specs.size(); k++) {
                    read += copier.copy(parent.tensors(), sources.get(k), plan.tensors().get(k), writer);
                    progress.advance(specs.get(k).byteSize());
                }
                writer.finish();
            }
            out.commit();
        }
        progress.done();
        return new Result(target, plan.params(), read, total, specs.size());
    }

    private static void copySideFiles(Checkpoint parent, Path to) throws IOException {
        for (Path f : childSideFiles(parent)) {
            Files.copy(f, to.resolve(f.getFileName().toString()));
        }
    }

    /** The parent's side files that belong in a child: all but the elastic metadata. */
    public static List<Path> childSideFiles(Checkpoint parent) {
        return parent.sideFiles().stream().filter(f -> !ELASTIC_METADATA.contains(f.getFileName().toString())).toList();
    }
}
