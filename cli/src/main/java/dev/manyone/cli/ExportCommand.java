package dev.manyone.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.elastic.checkpoint.CheckpointHash;
import dev.manyone.elastic.export.CheckpointWeights;
import dev.manyone.elastic.export.ExportOptions;
import dev.manyone.elastic.export.OnnxExporter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "export", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
            "Export a Nemotron-H checkpoint to ONNX for ONNX Runtime: one decoder graph for prefill and decode,",
            "with the state of every layer as inputs (past_key_values.i.*) and outputs (present.i.*).",
            "",
            "Writes DIR/model.onnx (the graph, small), DIR/model.onnx.data (weights, 4096-aligned external",
            "data), DIR/genai_config.json (the deployment contract: state names, shapes, eos ids), the model's",
            "config.json and its side files. Run it with 'manyone run' or 'manyone eval'.",
            "",
            "Mamba implementations: contrib (ONNX Runtime's com.microsoft CausalConvWithState + LinearAttention,",
            "fastest) or portable (standard ONNX ops only: Conv + Scan).",
            "",
            "Weights (--dtype): fp32; int8 or int4 for speed and memory (linear layers as com.microsoft",
            "MatMulNBits, embeddings as GatherBlockQuantized, block-quantized like ONNX Runtime's own quantizer;",
            "lm_head and embeddings at 8 bits unless --lm-head-bits 4; docs/quantization.md has the quality",
            "measured per setting); fp16 for disk size: half the file; ONNX Runtime folds its casts to fp32 when",
            "the session is created, so it runs at fp32 speed and memory ('bench' shows the bytes read per token",
            "for each).",
            "",
            "A ModelOpt FP8 or NVFP4 checkpoint is dequantized while it is written (each weight the float64",
            "product of its code and scales, rounded once to fp32, then to fp16 with --dtype fp16; input_scale",
            "is not used): the output is a float model, its config.json without quantization_config.",
            "",
            "Example:  manyone export ./child -o ./child-onnx --dtype int4 --mamba-proj-bits 8"})
final class ExportCommand implements Callable<Integer> {
    @Parameters(paramLabel = "CHECKPOINT", description = "Checkpoint directory (config.json + *.safetensors).")
    Path checkpoint;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "DIR", description = "Output directory.")
    Path output;

    @Option(names = "--force", description = "Replace the output directory if it exists.")
    boolean force;

    @Option(names = "--json", description = "Print a JSON summary.")
    boolean json;

    @Mixin
    OnnxOptions onnx;

    @Mixin
    CommonOptions common;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        ExportOptions options = onnx.toExportOptions();
        long start = System.nanoTime();
        OnnxExporter.Result r;
        try (Checkpoint cp = Checkpoint.open(checkpoint)) {
            cp.model().check(cp.tensors());
            Map<String, String> provenance = new LinkedHashMap<>();
            provenance.put("manyone.version", Version.get());
            provenance.put("manyone.source", checkpoint.toAbsolutePath().normalize().getFileName().toString());
            provenance.put("manyone.source_sha256", CheckpointHash.sha256(cp)); // same for a package and its directory
            r = OnnxExporter.export(cp.model(), CheckpointWeights.of(cp), options, output, force, provenance,
                    cp.sideFileEntries(), Version.get(), ConsoleProgress.forTerminal(spec.commandLine().getErr(), json || common.noProgress));
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        if (json) {
            ObjectNode o = Json.object();
            o.put("output", output.toString());
            o.put("onnx_bytes", r.onnxBytes());
            o.put("data_bytes", r.dataBytes());
            o.put("mamba", onnx.mamba);
            o.put("dtype", onnx.dtype);
            o.put("seconds", Math.round(seconds * 1000) / 1000.0);
            spec.commandLine().getOut().println(Json.write(o));
        } else {
            spec.commandLine().getOut().printf("wrote %s: model.onnx %s + weights %s (%s, mamba %s) in %.1f s%n",
                    output, Units.bytes(r.onnxBytes()), Units.bytes(r.dataBytes()), onnx.dtype, onnx.mamba, seconds);
        }
        return Main.OK;
    }
}
