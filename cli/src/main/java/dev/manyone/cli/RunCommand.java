package dev.manyone.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.manyone.elastic.runtime.Generator;
import dev.manyone.elastic.runtime.OnnxDecoder;
import dev.manyone.elastic.runtime.TextTokenizer;
import dev.manyone.formats.FormatException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

@Command(name = "run", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
            "Generate greedily from an exported model with ONNX Runtime: the prompt in one call (prefill), then",
            "one token per call (decode) with every layer's state carried over, never re-running the prefix.",
            "Prints the generated ids (and text, when the model has a tokenizer.json or --tokenizer is given)",
            "and tokens/s for prefill and decode separately.",
            "",
            "Examples:",
            "  manyone run ./child-onnx --prompt-ids 1,2,3 --max-new-tokens 32",
            "  manyone run ./child-onnx --prompt 'def main(' --max-new-tokens 64"})
final class RunCommand implements Callable<Integer> {
    @Parameters(paramLabel = "DIR", description = "Exported model directory (manyone export).")
    Path dir;

    @Option(names = "--prompt-ids", split = ",", paramLabel = "ID,ID", description = "Prompt token ids.")
    List<Long> promptIds;

    @Option(names = "--prompt", paramLabel = "TEXT", description = "Prompt text (needs a tokenizer).")
    String prompt;

    @Option(names = "--tokenizer", paramLabel = "FILE", description = "A Hugging Face tokenizer.json (default: DIR/tokenizer.json if present).")
    Path tokenizerFile;

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
        if ((prompt == null) == (promptIds == null)) {
            throw new FormatException(null, "give the prompt as --prompt TEXT or as --prompt-ids ID,ID (one of them)");
        }
        Optional<TextTokenizer> tokenizer = tokenizerFile != null ? Optional.of(TextTokenizer.open(tokenizerFile))
                : prompt != null || !json ? TextTokenizer.forModel(dir) : Optional.empty();
        if (prompt != null && tokenizer.isEmpty()) {
            throw new FormatException(dir, "--prompt needs a tokenizer: expected " + TextTokenizer.FILE
                    + " in the model directory or --tokenizer FILE, found none");
        }
        long opening = System.nanoTime();
        try (OnnxDecoder decoder = OnnxDecoder.open(dir, threads)) {
            double sessionSeconds = (System.nanoTime() - opening) / 1e9;
            int vocab = decoder.contract().vocab();
            long[] ids = prompt != null ? tokenizer.get().encode(prompt) : promptIds.stream().mapToLong(Long::longValue).toArray();
            if (ids.length == 0) {
                throw new FormatException(null, "the prompt is empty; expected at least one token");
            }
            for (long id : ids) {
                if (id < 0 || id >= vocab) {
                    throw new FormatException(null, "--prompt-ids: token id " + id + " is outside the vocabulary [0, " + vocab + ")");
                }
            }
            Generator.Result r = Generator.greedy(decoder, ids, maxNewTokens);
            String text = tokenizer.map(t -> t.decode(r.ids().stream().mapToLong(Long::longValue).toArray())).orElse(null);
            if (json) {
                ObjectNode o = Json.object();
                ArrayNode idArray = o.putArray("ids");
                r.ids().forEach(idArray::add);
                if (text != null) {
                    o.put("text", text);
                }
                o.put("session_seconds", Math.round(sessionSeconds * 1000) / 1000.0);
                o.put("prompt_tokens", r.promptTokens());
                o.put("prefill_tokens_per_second", round(r.prefillTokensPerSecond()));
                o.put("decode_tokens_per_second", round(r.decodeTokensPerSecond()));
                o.put("stopped_at_eos", r.stoppedAtEos());
                spec.commandLine().getOut().println(Json.write(o));
            } else {
                spec.commandLine().getOut().println(r.ids().stream().map(String::valueOf).collect(Collectors.joining(",")));
                if (text != null) {
                    spec.commandLine().getOut().println(text);
                }
                spec.commandLine().getOut().printf("session %.1f s; prefill %d tokens: %.1f tokens/s; decode %d tokens: "
                        + "%.1f tokens/s%s%n", sessionSeconds, r.promptTokens(), r.prefillTokensPerSecond(),
                        Math.max(0, r.ids().size() - 1), r.decodeTokensPerSecond(), r.stoppedAtEos() ? " (stopped at eos)" : "");
            }
        } finally {
            tokenizer.ifPresent(TextTokenizer::close);
        }
        return Main.OK;
    }

    static double round(double v) {
        return Math.round(v * 10) / 10.0;
    }
}
