package dev.manyone.elastic.export;

import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.formats.AtomicDirectory;
import dev.manyone.formats.Progress;
import dev.manyone.formats.onnx.GraphBuilder;
import dev.manyone.formats.onnx.OnnxWriter;
import dev.manyone.formats.onnx.TensorData;
import dev.manyone.formats.quant.QuantizationConfig;

import java.io.IOException;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes an exported model directory: {@code model.onnx} (graph, small), {@code model.onnx.data} (the weights,
 * external data aligned to 4096), {@code genai_config.json} (the deployment contract), the model's
 * {@code config.json} and its side files (tokenizer, generation config). Streaming and atomic.
 * <p>
 * A quantized parent (FP8, NVFP4) is exported with its weights dequantized ({@link CheckpointWeights}), so the
 * output is a float model: its config.json has no {@code quantization_config}, {@code hf_quant_config.json} is not
 * copied, and {@code metadata_props} records {@code manyone.dequantized_from} (the {@code quant_algo}).
 */
public final class OnnxExporter {
    public static final String ONNX_FILE = "model.onnx";
    /** metadata_props key of an int8/int4 export's settings ({@link ExportOptions.Quantization#describe}). */
    public static final String QUANTIZATION_KEY = "manyone.quantization";
    private static final String QUANTIZATION_CONFIG = "quantization_config";

    private OnnxExporter() {
    }

    public record Result(Path dir, long onnxBytes, long dataBytes) {
    }

    /**
     * @param provenance metadata_props: source checkpoint SHA-256, child spec, tool version …
     * @param sideFiles  files copied unchanged into the output (tokenizer.json, …)
     */
    public static Result export(ModelDescription model, WeightSource weights, ExportOptions options, Path target,
                                boolean overwrite, Map<String, String> provenance, List<Checkpoint.SideFile> sideFiles,
                                String toolVersion, Progress progress) throws IOException {
        long total = 0;
        for (var t : model.expectedTensors()) {
            total += t.elementCount() * (options.weights() == ExportOptions.Weights.FP16 ? 2 : 4);
        }
        GraphBuilder graph = NemotronHGraph.build(model, new Counting(weights, progress, new HashSet<>()), options);
        provenance.forEach(graph::metadata);
        var quant = model.layout().quantization();
        quant.ifPresent(q -> graph.metadata("manyone.dequantized_from", q.algo().name()));
        graph.metadata("manyone.mamba", options.mamba().name().toLowerCase());
        graph.metadata("manyone.weights", options.weights().name().toLowerCase());
        graph.metadata("manyone.attention", options.attention().name().toLowerCase());
        if (options.weights().quantized()) {
            graph.metadata(QUANTIZATION_KEY, options.quantization().describe(options.weights()));
        }
        OnnxWriter.Result written;
        progress.start("export", total);
        try (AtomicDirectory out = AtomicDirectory.create(target, overwrite)) {
            written = OnnxWriter.write(graph, out.path().resolve(ONNX_FILE),
                    OnnxWriter.Options.defaults(toolVersion));
            DeploymentConfig contract = DeploymentConfig.of(model, ONNX_FILE, options);
            Files.writeString(out.path().resolve(DeploymentConfig.FILE), contract.toJson(model), StandardCharsets.UTF_8);
            (quant.isPresent() ? model.config().with(c -> c.remove(QUANTIZATION_CONFIG)) : model.config())
                    .write(out.path().resolve("config.json"));
            for (Checkpoint.SideFile f : sideFiles) {
                if (quant.isPresent() && f.name().equals(QuantizationConfig.HF_QUANT_CONFIG_FILE)) {
                    continue; // the exported weights are not quantized
                }
                f.copyTo(out.path().resolve(f.name()));
            }
            out.commit();
        }
        progress.done();
        return new Result(target, written.onnxBytes(), written.dataBytes());
    }

    /**
     * Reports each weight's bytes to the progress bar as it is read, once per weight (a quantized weight is read twice,
     * for its codes and for its scales).
     */
    private record Counting(WeightSource inner, Progress progress, Set<String> done) implements WeightSource {
        @Override
        public TensorData tensor(String name, boolean fp16) {
            TensorData data = inner.tensor(name, fp16);
            if (!done.add(name)) {
                return data;
            }
            return new TensorData() {
                @Override
                public long byteSize() {
                    return data.byteSize();
                }

                @Override
                public void writeTo(WritableByteChannel ch) throws IOException {
                    data.writeTo(ch);
                    progress.advance(data.byteSize());
                }
            };
        }
    }
}
