package dev.manyone.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.formats.FormatException;
import dev.manyone.importance.Calibration;
import dev.manyone.importance.DepthMethod;
import dev.manyone.importance.ExpertStatistic;
import dev.manyone.importance.ImportanceEstimator;
import dev.manyone.importance.PeakMemory;
import dev.manyone.importance.RankingsFile;
import dev.manyone.router.ElasticMetadata;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.OptionalLong;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

@Command(name = "rank", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
            "Estimate importance on calibration text and write rankings (most important first) of hidden",
            "channels, layers, Mamba heads and head channels, attention query heads, FFN neurons and, in MoE",
            "layers, routed experts (--experts-by), each expert's neurons and the shared expert's, with the raw",
            "scores, as a rankings.json that 'manyone extract --rankings FILE' reads. Forward passes only, by",
            "ONNX Runtime on a probe export of the parent; deterministic. Method: docs/importance.md.",
            "",
            "--calib takes a .jsonl (one JSON array of token ids per line), a .safetensors with I64 input_ids",
            "[batch, seq], or UTF-8 text (tokenized with the checkpoint's tokenizer.json; a byte-level model of",
            "vocabulary 256 without one reads the bytes). Rows are cut into windows of --seq-len tokens, of which",
            "--samples are drawn with --seed.",
            "",
            "--streamed holds one layer at a time and spills the residual stream to disk, for parents that do",
            "not fit in memory as fp32; it gives the same rankings as the whole-model mode.",
            "",
            "--into-parent writes the rankings and scores into the parent's elastic.json + elastic.safetensors.",
            "",
            "Example:  manyone rank parent --calib corpus.jsonl --samples 64 --seq-len 512 -o rankings.json"})
final class RankCommand implements Callable<Integer> {
    @Parameters(paramLabel = "CHECKPOINT", description = "Parent checkpoint directory.")
    Path checkpoint;

    @Option(names = "--calib", required = true, paramLabel = "FILE", description = "Calibration tokens: .jsonl, .safetensors or text.")
    Path calib;

    @Option(names = {"-o", "--output"}, paramLabel = "FILE", description = "The rankings JSON to write.")
    Path output;

    @Option(names = "--into-parent", description = "Also write the rankings and scores into the parent's elastic metadata "
            + "(elastic.json + elastic.safetensors, docs/elastic-format.md), keeping its budgets and axes.")
    boolean intoParent;

    @Option(names = "--samples", defaultValue = "64", paramLabel = "N", description = "Windows drawn from the calibration (0: all; default ${DEFAULT-VALUE}).")
    int samples;

    @Option(names = "--seq-len", defaultValue = "256", paramLabel = "L", description = "Tokens per window (0: rows as they are; default ${DEFAULT-VALUE}).")
    int seqLen;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "S", description = "Seed of the window draw (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--depth", defaultValue = "nmse", paramLabel = "nmse|nmse-iterative|cosine",
            description = "Layer scores: logits NMSE with the layer removed, the same re-scored after each removal, or the cosine "
                    + "distance of the residual stream around the layer (default ${DEFAULT-VALUE}).")
    String depth;

    @Option(names = "--streamed", description = "Layer-streamed: one layer in memory at a time, activations spilled to disk.")
    boolean streamed;

    @Option(names = "--batch", defaultValue = "4", paramLabel = "B", description = "Windows per ONNX Runtime call (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--head-channels", defaultValue = "0", paramLabel = "K",
            description = "Score Mamba heads over their top-K channels, e.g. the children's mamba_head_dim (0: all; default ${DEFAULT-VALUE}).")
    int headChannels;

    @Option(names = "--experts-by", defaultValue = "reap", paramLabel = "reap|frequency|weight|mass",
            description = "MoE experts by REAP (mean over the tokens routed to the expert of routing weight × expert output "
                    + "norm), by how many tokens chose them, by their mean routing weight over those tokens, or by their "
                    + "total routing weight (default ${DEFAULT-VALUE}).")
    String expertsBy;

    @Option(names = "--threads", defaultValue = "0", description = "ONNX Runtime intra-op threads; 0 lets it choose.")
    int threads;

    @Option(names = "--work-dir", paramLabel = "DIR", description = "Where part graphs and spilled activations go (default: the system temp directory).")
    Path workDir;

    @Option(names = "--force", description = "Replace the output file if it exists; with --into-parent, replace the rankings of a "
            + "router-trained parent.")
    boolean force;

    @Option(names = "--json", description = "Print a JSON summary.")
    boolean json;

    @Mixin
    CommonOptions common;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        if (output == null && !intoParent) {
            throw new FormatException(null, "nowhere to write the rankings: pass -o FILE, --into-parent, or both");
        }
        if (output != null && Files.exists(output) && !force) {
            throw new FormatException(output, "output file exists; pass --force to replace it");
        }
        ImportanceEstimator.Options options = new ImportanceEstimator.Options(
                streamed ? ImportanceEstimator.Mode.STREAMED : ImportanceEstimator.Mode.WHOLE, DepthMethod.parse(depth),
                batch, threads, headChannels, workDir, ExpertStatistic.parse(expertsBy));
        ModelDescription model;
        try (Checkpoint cp = Checkpoint.open(checkpoint)) {
            model = cp.model();
        }
        ElasticMetadata before = intoParent ? ParentMetadata.check(checkpoint, model, force) : null;
        Calibration calibration = Calibration.load(calib, checkpoint, model.vocab(), new Calibration.Sampling(samples, seqLen, seed));
        ImportanceEstimator.Result r = ImportanceEstimator.estimate(checkpoint, calibration, options,
                ConsoleProgress.forTerminal(spec.commandLine().getErr(), json || common.noProgress));
        if (output != null) {
            RankingsFile.write(output, RankingsFile.toJson(model, r));
        }
        String replaced = null;
        if (intoParent) {
            ParentMetadata.write(checkpoint, model, before, r.rankings(), r.scores());
            replaced = before.kind().key();
        }
        OptionalLong peak = PeakMemory.bytes();
        String mode = streamed ? "layer-streamed" : "whole-model";
        if (json) {
            ObjectNode o = Json.object();
            o.put("output", output == null ? null : output.toString());
            if (replaced != null) {
                o.put("into_parent", checkpoint.resolve("elastic.json").toString());
                o.put("replaced_metadata", replaced);
            }
            o.put("mode", mode);
            o.put("depth", options.depth().text());
            o.put("windows", calibration.windows().size());
            o.put("tokens", calibration.tokens());
            o.put("tokenization", calibration.tokenization());
            o.put("layer_passes", r.layerRuns());
            o.put("seconds", Math.round(r.seconds() * 1000) / 1000.0);
            if (peak.isPresent()) {
                o.put("peak_rss_bytes", peak.getAsLong());
            }
            ArrayNode layers = o.putArray("layers");
            Arrays.stream(r.rankings().layers()).forEach(layers::add);
            spec.commandLine().getOut().println(Json.write(o));
        } else {
            var out = spec.commandLine().getOut();
            String where = output == null ? checkpoint.resolve("elastic.json") + " + elastic.safetensors"
                    : output + (replaced == null ? "" : " and " + checkpoint.resolve("elastic.json") + " + elastic.safetensors");
            out.printf("wrote %s: %d windows, %,d tokens (%s, %s); %s, depth %s, %d layer passes in %.1f s%n",
                    where, calibration.windows().size(), calibration.tokens(), calibration.source(), calibration.tokenization(),
                    mode, options.depth().text(), r.layerRuns(), r.seconds());
            out.println("layers, most important first: " + Arrays.stream(r.rankings().layers()).mapToObj(Integer::toString)
                    .collect(Collectors.joining(" ")));
            if (peak.isPresent()) {
                out.println("peak memory: " + Units.bytes(peak.getAsLong()) + " (the process's resident high-water mark, VmHWM)");
            }
        }
        return Main.OK;
    }
}
