package dev.manyone.elastic.slice;

import dev.manyone.elastic.ExpectedTensor;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.TensorNames;
import dev.manyone.elastic.WeightLayout;
import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.elastic.checkpoint.TensorReader;
import dev.manyone.formats.AtomicDirectory;
import dev.manyone.formats.CheckpointWriter;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.Progress;
import dev.manyone.formats.TensorInfo;
import dev.manyone.formats.TensorSpec;
import dev.manyone.formats.quant.QuantizationConfig;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;

/**
 * Writes children as Hugging Face checkpoints: config.json, sharded safetensors (+ index) in the parent's dtype
 * with the parent's stored bits sliced ({@link SlicePlan#stored()}: a quantized parent's FP8 / NVFP4 codes and
 * scales as they are stored), the parent's side files copied unchanged, and for a quantized parent the child's own
 * {@code hf_quant_config.json}. Several children are written
 * in one pass over the parent: each parent tensor is read once and every child that keeps part of it gets its
 * slice. Streaming (one block of one tensor in memory per child) and atomic (each directory appears only when
 * complete; if any child fails, none is written).
 */
public final class Extractor {
    private Extractor() {
    }

    /** One child to write. */
    public record Target(SlicePlan plan, Path dir, Map<String, String> provenance) {
    }

    /** Result figures of one extraction. */
    public record Result(List<Path> outputs, long params, long bytesRead, long bytesWritten, int tensors) {
    }

    /** Parent files that describe the parent's elasticity and do not belong in a child. */
    static final Set<String> ELASTIC_METADATA = Set.of("rankings.json", "elastic.json", "elastic.safetensors");

    public static Result writeHuggingFace(Checkpoint parent, SlicePlan plan, Path target, boolean overwrite,
                                          long maxShardBytes, Map<String, String> provenance, Progress progress) throws IOException {
        return writeHuggingFace(parent, List.of(new Target(plan, target, provenance)), overwrite, maxShardBytes, progress);
    }

    /** Writes every target in one pass over the parent's tensors, refusing NaN and Inf in what they keep. */
    public static Result writeHuggingFace(Checkpoint parent, List<Target> targets, boolean overwrite, long maxShardBytes,
                                          Progress progress) throws IOException {
        return writeHuggingFace(parent, targets, overwrite, maxShardBytes, true, progress);
    }

    /**
     * Writes every target in one pass over the parent's tensors.
     *
     * @param checkFinite refuse NaN and Inf in what a child keeps ({@link FiniteCheck}: checked on the gathered
     *                    bytes, so whole tensors are gathered too instead of transferred by the kernel)
     */
    public static Result writeHuggingFace(Checkpoint parent, List<Target> targets, boolean overwrite, long maxShardBytes,
                                          boolean checkFinite, Progress progress) throws IOException {
        // per child: its tensors keyed by parent tensor name, and its writer plan in its own (canonical) order
        List<Map<String, TensorSlice>> byParent = new ArrayList<>();
        List<List<TensorSpec>> specs = new ArrayList<>();
        long total = 0;
        long params = 0;
        int tensors = 0;
        Set<String> quantizedParts = quantizedParts(parent.model());
        for (Target t : targets) {
            Map<String, TensorSlice> map = new LinkedHashMap<>();
            List<TensorSpec> plan = new ArrayList<>();
            for (TensorSlice s : withKvCacheScales(parent, t.plan())) {
                TensorInfo src = parent.tensors().require(s.parentName());
                if (!src.dtype().isFloatingPoint() && !quantizedParts.contains(s.parentName())) {
                    throw new FormatException(src.file(), src.name(), "expected a floating-point weight, found " + src.dtype());
                }
                map.put(s.parentName(), s);
                TensorSpec spec = new TensorSpec(s.name(), src.dtype(), s.shape());
                plan.add(spec);
                total += spec.byteSize();
            }
            byParent.add(map);
            specs.add(plan);
            params += t.plan().params();
            tensors += plan.size();
        }
        long read = 0;
        progress.start("extract", total);
        List<AtomicDirectory> dirs = new ArrayList<>();
        List<CheckpointWriter> writers = new ArrayList<>();
        try (TensorReader reader = new TensorReader()) {
            for (int c = 0; c < targets.size(); c++) {
                Target t = targets.get(c);
                AtomicDirectory dir = AtomicDirectory.create(t.dir(), overwrite);
                dirs.add(dir);
                t.plan().config().write(dir.path().resolve("config.json"));
                copySideFiles(parent, dir.path());
                if (t.plan().quantization() != null) { // the child's own list, not the parent's file
                    t.plan().quantization().writeHfQuantConfig(dir.path());
                }
                Map<String, String> metadata = new LinkedHashMap<>();
                metadata.put("format", "pt");
                metadata.putAll(t.provenance());
                writers.add(CheckpointWriter.create(dir.path(), specs.get(c), metadata, maxShardBytes));
            }
            SliceCopier copier = new SliceCopier(reader);
            List<FiniteCheck> checks = new ArrayList<>();
            for (Target t : targets) {
                checks.add(checkFinite ? new FiniteCheck(t.dir().getFileName().toString()) : null);
            }
            // the parent's canonical order; each child's tensors come in the same relative order (layers renumbered)
            for (String name : storedNames(parent)) {
                List<SliceCopier.Target> wanted = new ArrayList<>();
                long elements = 0;
                for (int c = 0; c < targets.size(); c++) {
                    TensorSlice s = byParent.get(c).get(name);
                    if (s != null) {
                        wanted.add(new SliceCopier.Target(s, writers.get(c), checks.get(c)));
                        elements += s.elementCount();
                    }
                }
                if (!wanted.isEmpty()) { // read once, whatever the number of children that keep part of it
                    TensorInfo src = parent.tensors().require(name);
                    read += copier.copyAll(parent.tensors(), src, wanted);
                    progress.advance(elements * src.dtype().size());
                }
            }
            for (CheckpointWriter w : writers) {
                w.finish();
            }
            for (CheckpointWriter w : writers) {
                w.close();
            }
            writers.clear();
            for (AtomicDirectory d : dirs) {
                d.commit();
            }
        } finally {
            for (CheckpointWriter w : writers) {
                w.close();
            }
            for (AtomicDirectory d : dirs) {
                d.close();
            }
        }
        progress.done();
        return new Result(targets.stream().map(Target::dir).toList(), params, read, total, tensors);
    }

    private static void copySideFiles(Checkpoint parent, Path to) throws IOException {
        for (Checkpoint.SideFile f : childSideFiles(parent)) {
            f.copyTo(to.resolve(f.name()));
        }
    }

    /**
     * The parent's side files that belong in a child: all but the elastic metadata and {@code hf_quant_config.json}
     * (a quantized child writes its own, {@link SlicePlan#quantization()}: "The child's hf_quant_config.json holds
     * the same list" as its config.json).
     */
    public static List<Checkpoint.SideFile> childSideFiles(Checkpoint parent) {
        return parent.sideFileEntries().stream().filter(f -> !ELASTIC_METADATA.contains(f.name())
                && !f.name().equals(QuantizationConfig.HF_QUANT_CONFIG_FILE)).toList();
    }

    /**
     * The parent's stored tensors in canonical order: each expected tensor as its layout stores it, then the
     * KV-cache scales ({@link #withKvCacheScales}).
     */
    private static List<String> storedNames(Checkpoint parent) {
        ModelDescription model = parent.model();
        List<String> out = new ArrayList<>();
        for (ExpectedTensor e : model.expectedTensors()) {
            out.addAll(model.layout().storedNames(e));
        }
        for (TensorInfo t : parent.tensors().tensors()) {
            if (model.layout().isKvCacheScale(t)) {
                out.add(t.name());
            }
        }
        return out;
    }

    /**
     * {@code plan}'s stored tensors, plus, for a parent whose {@code quantization_config} sets
     * {@code kv_cache_quant_algo} (which the child's keeps), the KV-cache scales of its kept layers ({@code …k_proj.k_scale},
     * {@code …v_proj.v_scale}, F32 scalars, one per layer whatever the heads kept) renumbered with their layer and
     * copied unchanged, so the child's config does not promise scales it lacks.
     */
    static List<TensorSlice> withKvCacheScales(Checkpoint parent, SlicePlan plan) {
        WeightLayout layout = parent.model().layout();
        if (layout.quantization().isEmpty() || layout.quantization().get().kvCacheQuantAlgo() == null) {
            return plan.stored();
        }
        Map<Integer, Integer> newIndex = SlicePlan.newIndex(plan.parentLayers());
        List<TensorSlice> out = new ArrayList<>(plan.stored());
        for (TensorInfo t : parent.tensors().tensors()) {
            OptionalInt layer = TensorNames.layerOf(t.name());
            if (layout.isKvCacheScale(t) && layer.isPresent() && newIndex.containsKey(layer.getAsInt())) {
                String from = "backbone.layers." + layer.getAsInt() + ".";
                if (t.name().startsWith(from)) {
                    String name = "backbone.layers." + newIndex.get(layer.getAsInt()) + "." + t.name().substring(from.length());
                    out.add(new TensorSlice(name, t.name(), new long[0], null, null));
                }
            }
        }
        return out;
    }

    /** The parent's stored tensors that are parts of quantized modules (codes and scales, not floating point). */
    private static Set<String> quantizedParts(ModelDescription model) {
        Set<String> out = new HashSet<>();
        for (ExpectedTensor e : model.expectedTensors()) {
            if (model.layout().quantized(e)) {
                out.addAll(model.layout().storedNames(e));
            }
        }
        return out;
    }
}
