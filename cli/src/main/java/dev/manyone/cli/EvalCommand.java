package dev.manyone.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.manyone.elastic.runtime.Evaluator;
import dev.manyone.elastic.runtime.OnnxDecoder;
import dev.manyone.elastic.runtime.TokenFile;
import dev.manyone.formats.FormatException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "eval", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
            "Mean negative log-likelihood (nats per token) and perplexity of token sequences under an exported",
            "model: the logits at position t score token t+1. Compare a child with its parent, or validate a",
            "deployment: with --prefill N the first N tokens go in one call and the rest one token per call with",
            "the state carried over, which is the decode path a deployment uses.",
            "",
            "--tokens takes a .jsonl file (one JSON array of token ids per line) or a .safetensors file with an",
            "I64 input_ids [batch, seq] tensor. --dump-logits writes F32 logits [batch, seq, vocab].",
            "",
            "Example:  manyone eval ./child-onnx --tokens heldout.safetensors --prefill 32"})
final class EvalCommand implements Callable<Integer> {
    @Parameters(paramLabel = "DIR", description = "Exported model directory (manyone export).")
    Path dir;

    @Option(names = "--tokens", required = true, paramLabel = "FILE", description = ".jsonl of id lists or .safetensors with input_ids.")
    Path tokens;

    @Option(names = "--prefill", defaultValue = "0", paramLabel = "N", description = "Tokens in the first call; the rest one per call. 0: all at once.")
    int prefill;

    @Option(names = "--dump-logits", paramLabel = "OUT.safetensors", description = "Write the logits here (F32 [batch, seq, vocab]).")
    Path dumpLogits;

    @Option(names = "--threads", defaultValue = "0", description = "ONNX Runtime intra-op threads; 0 lets it choose.")
    int threads;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Mixin
    CommonOptions common;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        if (prefill < 0) {
            throw new FormatException(null, "--prefill: expected 0 or more tokens, found " + prefill);
        }
        try (OnnxDecoder decoder = OnnxDecoder.open(dir, threads)) {
            List<long[]> rows = TokenFile.read(tokens, decoder.contract().vocab());
            Evaluator.Result r = Evaluator.evaluate(decoder, rows, prefill, dumpLogits);
            if (json) {
                ObjectNode o = Json.object();
                o.put("sequences", r.sequences());
                o.put("tokens_scored", r.tokensScored());
                o.put("mean_nll", r.meanNll());
                o.put("perplexity", r.perplexity());
                spec.commandLine().getOut().println(Json.write(o));
            } else {
                spec.commandLine().getOut().printf("%d sequences, %d tokens scored: mean NLL %.4f nats/token, perplexity %.3f%n",
                        r.sequences(), r.tokensScored(), r.meanNll(), r.perplexity());
            }
        }
        return Main.OK;
    }
}
