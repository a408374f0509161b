package dev.manyone.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.manyone.elastic.runtime.Generator;
import dev.manyone.elastic.runtime.OnnxDecoder;
import dev.manyone.formats.FormatException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

@Command(name = "run", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
            "Generate greedily from an exported model with ONNX Runtime: the prompt in one call (prefill), then",
            "one token per call (decode) with every layer's state carried over, never re-running the prefix.",
            "Prints the generated ids and tokens/s for prefill and decode separately.",
            "",
            "Example:  manyone run ./child-onnx --prompt-ids 1,2,3 --max-new-tokens 32"})
final class RunCommand implements Callable<Integer> {
    @Parameters(paramLabel = "DIR", description = "Exported model directory (manyone export).")
    Path dir;

    @Option(names = "--prompt-ids", required = true, split = ",", paramLabel = "ID,ID", description = "Prompt token ids.")
    List<Long> promptIds;

    @Option(names = "--max-new-tokens", defaultValue = "32", paramLabel = "N", description = "Tokens to generate at most (default ${DEFAULT-VALUE}).")
    int maxNewTokens;

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
        if (maxNewTokens < 1) {
            throw new FormatException(null, "--max-new-tokens: expected at least 1, found " + maxNewTokens);
        }
        try (OnnxDecoder decoder = OnnxDecoder.open(dir, threads)) {
            int vocab = decoder.contract().vocab();
            long[] prompt = promptIds.stream().mapToLong(Long::longValue).toArray();
            for (long id : prompt) {
                if (id < 0 || id >= vocab) {
                    throw new FormatException(null, "--prompt-ids: token id " + id + " is outside the vocabulary [0, " + vocab + ")");
                }
            }
            Generator.Result r = Generator.greedy(decoder, prompt, maxNewTokens);
            if (json) {
                ObjectNode o = Json.object();
                ArrayNode ids = o.putArray("ids");
                r.ids().forEach(ids::add);
                o.put("prompt_tokens", r.promptTokens());
                o.put("prefill_tokens_per_second", round(r.prefillTokensPerSecond()));
                o.put("decode_tokens_per_second", round(r.decodeTokensPerSecond()));
                o.put("stopped_at_eos", r.stoppedAtEos());
                spec.commandLine().getOut().println(Json.write(o));
            } else {
                spec.commandLine().getOut().println(r.ids().stream().map(String::valueOf).collect(Collectors.joining(",")));
                spec.commandLine().getOut().printf("prefill %d tokens: %.1f tokens/s; decode %d tokens: %.1f tokens/s%s%n",
                        r.promptTokens(), r.prefillTokensPerSecond(), Math.max(0, r.ids().size() - 1), r.decodeTokensPerSecond(),
                        r.stoppedAtEos() ? " (stopped at eos)" : "");
            }
        }
        return Main.OK;
    }

    static double round(double v) {
        return Math.round(v * 10) / 10.0;
    }
}
