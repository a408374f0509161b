package dev.manyone.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.manyone.importance.DepthMethod;
import dev.manyone.importance.ImportanceEstimator;
import dev.manyone.importance.RankEval;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "rank-eval", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
            "Measure what importance rankings are worth: rank the parent on the first --calib-rows held-out",
            "sequences, then on the other ones compare children that differ only in their rankings: the same",
            "child specs sliced with (a) these rankings, (b) the rankings of the children file, (c) weight-",
            "magnitude rankings, and, for specs that drop layers, (d) these rankings with their own layer choice.",
            "For a parent with MoE layers, (a) is one row per expert statistic (reap, frequency, weight, mass), and a row",
            "with random expert rankings over --random-seeds seeds gives their mean ± standard deviation.",
            "--rankings FILE adds a row for rankings of your own (e.g. written by 'manyone rank').",
            "Prints KL(parent || child) and the child's NLL (nats per token) for each.",
            "",
            "Example (the table of docs/importance.md):",
            "  manyone rank-eval ../shared/golden/trained-hybrid --tokens ../shared/golden/trained-hybrid/heldout.safetensors \\",
            "      --calib-rows 4 --children ../shared/golden/trained-hybrid/rankings.json"})
final class RankEvalCommand implements Callable<Integer> {
    @Parameters(paramLabel = "PARENT", description = "Parent checkpoint directory.")
    Path parent;

    @Option(names = "--tokens", required = true, paramLabel = "FILE", description = "Held-out sequences: .jsonl or .safetensors input_ids.")
    Path tokens;

    @Option(names = "--calib-rows", defaultValue = "4", paramLabel = "N", description = "The first N sequences calibrate; the rest evaluate (default ${DEFAULT-VALUE}).")
    int calibRows;

    @Option(names = "--children", required = true, paramLabel = "FILE", description = "A rankings.json with 'children' (specs) and 'rankings'.")
    Path children;

    @Option(names = "--child", paramLabel = "NAME", description = "Children to evaluate (repeatable; default all).")
    List<String> names;

    @Option(names = "--depth", defaultValue = "nmse", paramLabel = "nmse|nmse-iterative|cosine", description = "Layer scores (default ${DEFAULT-VALUE}).")
    String depth;

    @Option(names = "--streamed", description = "Estimate layer-streamed.")
    boolean streamed;

    @Option(names = "--head-channels", defaultValue = "0", paramLabel = "K", description = "Mamba head score over the top-K channels (0: all).")
    int headChannels;

    @Option(names = "--rankings", paramLabel = "FILE", description = "Also score these rankings (e.g. from 'manyone rank'; "
            + "repeatable), one row each, labelled by file name.")
    List<Path> rankings;

    @Option(names = "--random-seeds", defaultValue = "20", paramLabel = "N",
            description = "MoE parents: seeds of the random expert rankings (0: none; default ${DEFAULT-VALUE}).")
    int randomSeeds;

    @Option(names = "--threads", defaultValue = "0", description = "ONNX Runtime intra-op threads; 0 lets it choose.")
    int threads;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Mixin
    CommonOptions common;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        ImportanceEstimator.Options options = new ImportanceEstimator.Options(
                streamed ? ImportanceEstimator.Mode.STREAMED : ImportanceEstimator.Mode.WHOLE, DepthMethod.parse(depth),
                4, threads, headChannels, null);
        RankEval.Report r = RankEval.run(parent, tokens, calibRows, children, names == null ? List.of() : names, options,
                randomSeeds, rankings == null ? List.of() : rankings);
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            ObjectNode o = Json.object();
            o.put("parent_nll", r.parentNll());
            o.put("parent_params", r.parentParams());
            o.put("calib_rows", r.calibRows());
            o.put("eval_rows", r.evalRows());
            o.put("eval_tokens", r.evalTokens());
            o.put("depth", options.depth().text());
            ArrayNode rows = o.putArray("rows");
            for (RankEval.Row row : r.rows()) {
                ObjectNode x = rows.addObject();
                x.put("child", row.child());
                x.put("rankings", row.method());
                x.put("params", row.params());
                x.put("fraction", row.fraction());
                x.put("kl", row.kl());
                x.put("nll", row.nll());
                if (row.runs() > 1) {
                    x.put("kl_std", row.klStd());
                    x.put("nll_std", row.nllStd());
                    x.put("runs", row.runs());
                }
            }
            out.println(Json.write(o));
            return Main.OK;
        }
        out.printf("calibration: sequences 0..%d; evaluation: the other %d (%,d tokens scored); parent NLL %.3f nats/token, "
                + "%,d parameters%n%n", r.calibRows() - 1, r.evalRows(), r.evalTokens(), r.parentNll(), r.parentParams());
        out.println("| child | rankings | params | % of parent | KL(parent ‖ child) | child NLL |");
        out.println("|---|---|---:|---:|---:|---:|");
        for (RankEval.Row row : r.rows()) {
            if (row.runs() > 1) {
                out.printf("| %s | %s | %,d | %.1f%% | %.3f ± %.3f | %.3f ± %.3f |%n", row.child(), row.method(), row.params(),
                        100 * row.fraction(), row.kl(), row.klStd(), row.nll(), row.nllStd());
            } else {
                out.printf("| %s | %s | %,d | %.1f%% | %.3f | %.3f |%n", row.child(), row.method(), row.params(),
                        100 * row.fraction(), row.kl(), row.nll());
            }
        }
        return Main.OK;
    }
}
