package dev.manyone.elastic.checkpoint;

import dev.manyone.elastic.ExpectedTensor;
import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.MemoryEstimate;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.NemotronHConfig;
import dev.manyone.elastic.ParamCount;
import dev.manyone.elastic.WeightLayout;
import dev.manyone.formats.DType;
import dev.manyone.formats.TensorInfo;
import dev.manyone.formats.TensorSource;
import dev.manyone.formats.quant.QuantizationConfig;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * What {@code manyone inspect} shows: the architecture, a per-layer table, exact parameter counts (from the config
 * and from the tensors actually stored), dtypes, bytes on disk, a memory estimate and the validation result.
 *
 * @param unusedTensors tensors the checkpoint carries that manyone reads past (the {@code mtp.*} multi-token
 *                      prediction head); children and exports drop them
 * @param configOnly    true when only a config.json was inspected: no tensors were read or checked
 * @param problems one line per problem found when checking the tensors against the config; empty when valid
 * @param quantization  how the weights are quantized (FP8, NVFP4), or null for a plain checkpoint
 */
public record CheckpointReport(
        Path location,
        String pattern,
        int hidden,
        int vocab,
        List<Layer> layers,
        ParamCount params,
        long storedElements,
        Map<DType, Integer> dtypes,
        long bytesOnDisk,
        int tensorCount,
        int batch,
        long context,
        MemoryEstimate memory,
        List<String> sideFiles,
        List<String> unusedTensors,
        List<String> problems,
        boolean configOnly,
        Quantization quantization) {

    /** One row of the per-layer table. */
    public record Layer(LayerSpec spec, String widths, long params) {
    }

    /**
     * The quantization of a ModelOpt checkpoint (golden README, "Quantized checkpoints (FP8, NVFP4)").
     *
     * @param algo             {@code quant_algo}: FP8 or NVFP4
     * @param groupSize        NVFP4's block of input columns (16), or 0 for FP8 (one scale per tensor)
     * @param kvCacheQuantAlgo {@code kv_cache_quant_algo}, or null (no KV-cache quantization); data only: manyone
     *                         keeps the KV cache in fp32
     * @param quantizedModules linear layers the config quantizes (their weight stored as FP8 / NVFP4 codes)
     * @param keptModules      linear layers kept unquantized by {@code exclude_modules}
     * @param quantizedTensors stored tensors of the quantized modules: weights and their scales
     * @param keptTensors      every other stored tensor
     * @param quantizedParams  logical weights of the quantized modules (an NVFP4 byte is 2, an FP8 byte 1; scales
     *                         are not parameters)
     * @param excludeModules   {@code exclude_modules}, in file order
     */
    public record Quantization(String algo, int groupSize, String kvCacheQuantAlgo, int quantizedModules,
                               int keptModules, int quantizedTensors, int keptTensors, long quantizedParams,
                               List<String> excludeModules) {
        public Quantization {
            excludeModules = List.copyOf(excludeModules);
        }
    }

    public boolean valid() {
        return problems.isEmpty();
    }

    public static CheckpointReport of(Checkpoint checkpoint, int batch, long context) {
        ModelDescription model = checkpoint.model();
        ParamCount params = model.params();
        List<Layer> layers = new ArrayList<>();
        for (LayerSpec l : model.layers()) {
            layers.add(new Layer(l, widths(l, model), params.perLayer().get(l.index())));
        }
        long stored = 0;
        Map<DType, Integer> dtypes = new TreeMap<>();
        Set<Path> files = new HashSet<>();
        for (TensorInfo t : checkpoint.tensors().tensors()) {
            stored += t.elementCount();
            dtypes.merge(t.dtype(), 1, Integer::sum);
            files.add(t.file());
        }
        List<String> problems = model.problems(checkpoint.tensors());
        DType weightDtype = dtypes.size() == 1 ? dtypes.keySet().iterator().next() : DType.BF16;
        List<String> side = checkpoint.sideFiles().stream().map(p -> p.getFileName().toString()).toList();
        List<String> unused = model.unusedTensors(checkpoint.tensors());
        MemoryEstimate memory = model.memory(weightDtype, batch, context, DType.F32);
        Quantization quantization = quantization(model, checkpoint.tensors());
        if (quantization != null) {
            // the weights stay resident as stored: codes, scales and the unquantized tensors
            long weightBytes = 0;
            Set<String> skip = new HashSet<>(unused);
            for (TensorInfo t : checkpoint.tensors().tensors()) {
                if (!skip.contains(t.name())) {
                    weightBytes += t.byteSize();
                }
            }
            memory = new MemoryEstimate(weightBytes, memory.kvCacheBytes(), memory.mambaStateBytes());
        }
        return new CheckpointReport(checkpoint.dir(), checkpoint.config().hybridOverridePattern(), model.hidden(),
                model.vocab(), List.copyOf(layers), params, stored, Map.copyOf(dtypes), bytesOnDisk(checkpoint, files),
                checkpoint.tensors().tensors().size(), batch, context, memory, side, unused, List.copyOf(problems), false,
                quantization);
    }

    /** The quantization summary of a ModelOpt checkpoint, or null for a plain one. */
    private static Quantization quantization(ModelDescription model, TensorSource src) {
        WeightLayout layout = model.layout();
        if (layout.quantization().isEmpty()) {
            return null;
        }
        QuantizationConfig q = layout.quantization().get();
        int quantizedModules = 0;
        int keptModules = 0;
        int quantizedTensors = 0;
        long quantizedParams = 0;
        for (ExpectedTensor e : model.expectedTensors()) {
            if (layout.quantized(e)) {
                quantizedModules++;
                quantizedParams = Math.addExact(quantizedParams, e.elementCount());
                for (String name : layout.storedNames(e)) {
                    if (src.find(name).isPresent()) {
                        quantizedTensors++;
                    }
                }
            } else if (WeightLayout.linearModule(e) != null) {
                keptModules++;
            }
        }
        return new Quantization(q.algo().name(), q.groupSize().orElse(0), q.kvCacheQuantAlgo(), quantizedModules,
                keptModules, quantizedTensors, src.tensors().size() - quantizedTensors, quantizedParams,
                q.excludeModules());
    }

    /**
     * The report of a config.json alone (no weights): the architecture, exact parameter counts and the memory
     * estimate at BF16 weights (for a quantized config: the quantized modules at their stored size, FP8 one byte a
     * weight, NVFP4 half a byte plus one E4M3 block scale per 16, and two F32 scalars per module), with nothing stored
     * to check.
     */
    public static CheckpointReport ofConfig(Path configFile, NemotronHConfig config, int batch, long context) {
        ModelDescription model = ModelDescription.of(config);
        ParamCount params = model.params();
        List<Layer> layers = new ArrayList<>();
        for (LayerSpec l : model.layers()) {
            layers.add(new Layer(l, widths(l, model), params.perLayer().get(l.index())));
        }
        Quantization quantization = configQuantization(model);
        MemoryEstimate memory = model.memory(DType.BF16, batch, context, DType.F32);
        if (quantization != null) {
            long q = quantization.quantizedParams();
            long stored = quantization.algo().equals("FP8") ? q : q / 2 + q / 16;
            long scalars = 2L * 4 * quantization.quantizedModules(); // weight_scale or weight_scale_2, input_scale
            long weights = (params.total() - q) * DType.BF16.size() + stored + scalars;
            memory = new MemoryEstimate(weights, memory.kvCacheBytes(), memory.mambaStateBytes());
        }
        return new CheckpointReport(configFile, config.hybridOverridePattern(), model.hidden(), model.vocab(),
                List.copyOf(layers), params, 0, Map.of(), 0, 0, batch, context, memory, List.of(), List.of(), List.of(),
                true, quantization);
    }

    /** For a config.json alone: the scheme and module counts its quantization_config implies (no tensors). */
    private static Quantization configQuantization(ModelDescription model) {
        WeightLayout layout = model.layout();
        return layout.quantization().map(q -> {
            int quantized = 0;
            int kept = 0;
            long params = 0;
            for (ExpectedTensor e : model.expectedTensors()) {
                if (layout.quantized(e)) {
                    quantized++;
                    params += e.elementCount();
                } else if (WeightLayout.linearModule(e) != null) {
                    kept++;
                }
            }
            return new Quantization(q.algo().name(), q.groupSize().orElse(0), q.kvCacheQuantAlgo(), quantized, kept, 0, 0,
                    params, q.excludeModules());
        }).orElse(null);
    }

    private static String widths(LayerSpec l, ModelDescription model) {
        return switch (l.kind()) {
            case MAMBA -> l.mambaHeads() + " heads x " + l.mambaHeadDim() + " (" + model.nGroups() + " groups, state "
                    + model.ssmState() + ")";
            case ATTENTION -> l.attentionHeads() + " q / " + model.kvHeads() + " kv heads x " + model.headDim();
            case MLP -> "ffn " + l.ffn();
            case MOE -> {
                var moe = model.moe().orElseThrow();
                yield l.experts() + " experts x " + l.moeFfn() + " (top-" + moe.expertsPerToken()
                        + (moe.routerGroups() > 1 ? ", " + moe.topkGroup() + " of " + moe.routerGroups() + " groups" : "")
                        + "), shared " + l.sharedFfn() + (moe.hasLatent() ? ", latent " + moe.latentSize() : "");
            }
        };
    }

    /** The checkpoint's own files: weight shards (+ index), config.json and side files. */
    private static long bytesOnDisk(Checkpoint checkpoint, Set<Path> weightFiles) {
        Set<Path> all = new HashSet<>(weightFiles);
        all.add(checkpoint.dir().resolve("config.json"));
        all.add(checkpoint.dir().resolve("model.safetensors.index.json"));
        all.addAll(checkpoint.sideFiles());
        long n = 0;
        try {
            for (Path p : all) {
                if (Files.isRegularFile(p)) {
                    n += Files.size(p);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return n;
    }
}
