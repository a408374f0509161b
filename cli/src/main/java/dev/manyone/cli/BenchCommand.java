package dev.manyone.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.manyone.elastic.export.OnnxExporter;
import dev.manyone.elastic.runtime.Bench;
import dev.manyone.elastic.runtime.MemoryBandwidth;
import dev.manyone.elastic.runtime.OnnxDecoder;
import dev.manyone.formats.FormatException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.function.Consumer;

@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
            "Time an exported model in ONNX Runtime (CPU) and compare decode with this",
            "machine's memory bandwidth.",
            "",
            "quantized       an int8/int4 export's settings: block, accuracy level, bits",
            "                of lm_head and the Mamba projections (JSON: quantization)",
            "prefill tok/s   prompt tokens per second, one call of N tokens on an empty",
            "                state (compute-bound; includes every position's logits)",
            "decode tok/s    single-token calls per second after a 16-token prompt, state",
            "                carried between calls as in generation (batch 1)",
            "bandwidth       sustained memory read bandwidth, measured first: one thread",
            "                per core reads a buffer of >= 1 GiB and >= 8x the largest",
            "                cache; best of a few passes",
            "bytes/token     weight bytes a batch-1 decode step reads: every weight once",
            "                (int8/int4: packed codes + scales), one embedding row; fp16",
            "                weights are folded to fp32 when the session is created, so",
            "                fp16 reads fp32's bytes (fp16 halves the file; int8/int4",
            "                read fewer bytes)",
            "roofline ratio  decode weight traffic / bandwidth: bytes/token x decode",
            "                tok/s. 1.0 = the memory-bound ideal; the gap is compute,",
            "                threading and per-call overhead",
            "",
            "Each figure is the median of --runs runs (min and max shown), after an",
            "untimed warm-up run. Prefill lengths above the model's context_length are",
            "skipped with a note. Absolute figures depend on the machine and on other",
            "load (use a quiet machine); ratios - the roofline ratio, contrib vs",
            "portable, a child vs its parent - are what compare across machines.",
            "",
            "Example:  manyone bench ./child-onnx --prefill 128,512 --runs 5 --json"})
final class BenchCommand implements Callable<Integer> {
    @Parameters(paramLabel = "DIR", description = "Exported model directory (model.onnx + genai_config.json).")
    Path dir;

    @Option(names = "--prefill", defaultValue = "128,512,2048", paramLabel = "N,N,...",
            description = "Prompt lengths to time prefill at, comma-separated (default ${DEFAULT-VALUE}).")
    String prefill;

    @Option(names = "--decode-steps", defaultValue = "64", paramLabel = "N",
            description = "Single-token calls timed per decode run (default ${DEFAULT-VALUE}).")
    int decodeSteps;

    @Option(names = "--runs", defaultValue = "5", paramLabel = "N",
            description = "Measured runs per figure; the median is reported (default ${DEFAULT-VALUE}).")
    int runs;

    @Option(names = "--threads", defaultValue = "0", paramLabel = "N",
            description = "ONNX Runtime intra-op threads; 0 lets ONNX Runtime choose (one per core). "
                    + "The bandwidth test always uses every core (default ${DEFAULT-VALUE}).")
    int threads;

    @Option(names = "--seed", defaultValue = "20261123", description = "Seed of the random token ids (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--json", description = "Print a JSON report (for CI) instead of a table.")
    boolean json;

    @Mixin
    CommonOptions common;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        int[] lengths = parseLengths(prefill);
        if (decodeSteps < 1) {
            throw new FormatException(null, "--decode-steps: expected at least 1, found " + decodeSteps);
        }
        if (runs < 1) {
            throw new FormatException(null, "--runs: expected at least 1, found " + runs);
        }
        if (threads < 0) {
            throw new FormatException(null, "--threads: expected 0 (automatic) or more, found " + threads);
        }
        PrintWriter err = spec.commandLine().getErr();
        boolean chatty = !json && !common.noProgress && System.console() != null;
        Consumer<String> log = chatty ? m -> {
            err.println("bench: " + m);
            err.flush();
        } : m -> { };
        Bench.Report report;
        String mamba;
        String weights;
        String quantization;
        long fileBytes;
        try (OnnxDecoder decoder = OnnxDecoder.open(dir, threads)) {
            mamba = decoder.contract().mamba();
            weights = decoder.contract().weights();
            quantization = decoder.metadata(OnnxExporter.QUANTIZATION_KEY);
            fileBytes = Bench.weightBytes(dir);
            long perToken = Bench.decodeBytesPerToken(decoder);
            report = Bench.run(decoder, perToken, new Bench.Options(lengths, decodeSteps, runs, seed), null, log);
        }
        PrintWriter out = spec.commandLine().getOut();
        ObjectNode o = toJson(report, dir, mamba, weights, fileBytes, threads, seed);
        String text = toText(report, dir, mamba, weights, fileBytes, threads);
        if (quantization != null) {  // int8/int4: the settings (block, accuracy level, bits per tensor group)
            o.put("quantization", quantization);
            int eol = text.indexOf(System.lineSeparator()) + System.lineSeparator().length();
            text = text.substring(0, eol) + "quantized    " + quantization + System.lineSeparator() + text.substring(eol);
        }
        out.println(json ? Json.write(o) : text);
        return Main.OK;
    }

    static int[] parseLengths(String text) {
        String[] parts = text.split(",", -1);
        int[] out = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            String p = parts[i].strip();
            int n;
            try {
                n = Integer.parseInt(p);
            } catch (NumberFormatException e) {
                n = -1;
            }
            if (n < 1) {
                throw new FormatException(null, "--prefill: expected comma-separated token counts of at least 1, such as "
                        + "128,512,2048, found '" + text + "'");
            }
            out[i] = n;
        }
        return out;
    }

    static String toText(Bench.Report r, Path dir, String mamba, String weights, long fileBytes, int threads) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "model        %s (mamba %s, %s weights, %s on disk, context %d)%n", dir, mamba,
                weights, Units.bytes(fileBytes), r.contextLength()));
        sb.append(String.format(Locale.ROOT, "bytes/token  %s weight bytes read per decode step (%,d)%n",
                Units.bytes(r.weightBytes()), r.weightBytes()));
        sb.append(String.format(Locale.ROOT, "settings     median of %d run%s after a warm-up; ONNX Runtime threads: %s%n",
                r.runs(), r.runs() == 1 ? "" : "s", threads == 0 ? "automatic" : Integer.toString(threads)));
        sb.append(String.format(Locale.ROOT, "%n%-28s %12s %12s %12s%n", "tokens/s", "median", "min", "max"));
        for (Bench.Prefill p : r.prefill()) {
            row(sb, String.format(Locale.ROOT, "prefill %d tokens", p.tokens()), p.tokensPerSecond());
        }
        row(sb, String.format(Locale.ROOT, "decode %d steps after %d", r.decodeSteps(), r.decodePrefix()), r.decodeTokensPerSecond());
        MemoryBandwidth.Result bw = r.bandwidth();
        sb.append(String.format(Locale.ROOT, "%nmemory bandwidth   %s/s  read, %d threads, %s buffer, best of %d passes%n",
                Units.bytes((long) bw.bytesPerSecond()), bw.threads(), Units.bytes(bw.bufferBytes()), bw.passes()));
        sb.append(String.format(Locale.ROOT, "decode weights     %s/s  = %s x %.2f steps/s%n",
                Units.bytes((long) r.weightBytesPerSecond()), Units.bytes(r.weightBytes()), r.decodeTokensPerSecond().median()));
        sb.append(String.format(Locale.ROOT, "roofline ratio     %.3f     decode weight traffic / memory bandwidth (1.0 = memory-bound ideal)",
                r.rooflineRatio()));
        for (String note : r.notes()) {
            sb.append(System.lineSeparator()).append("note: ").append(note);
        }
        return sb.toString();
    }

    private static void row(StringBuilder sb, String label, Bench.Figure f) {
        sb.append(String.format(Locale.ROOT, "%-28s %12.1f %12.1f %12.1f%n", label, f.median(), f.min(), f.max()));
    }

    static ObjectNode toJson(Bench.Report r, Path dir, String mamba, String weights, long fileBytes, int threads, long seed) {
        ObjectNode o = Json.object();
        o.put("path", dir.toString());
        o.put("mamba", mamba);
        o.put("weights", weights);
        o.put("context_length", r.contextLength());
        o.put("threads", threads);
        o.put("runs", r.runs());
        o.put("seed", seed);
        ArrayNode prefill = o.putArray("prefill");
        for (Bench.Prefill p : r.prefill()) {
            ObjectNode e = prefill.addObject();
            e.put("tokens", p.tokens());
            figure(e.putObject("tokens_per_second"), p.tokensPerSecond());
        }
        ObjectNode decode = o.putObject("decode");
        decode.put("steps", r.decodeSteps());
        decode.put("prefix_tokens", r.decodePrefix());
        figure(decode.putObject("tokens_per_second"), r.decodeTokensPerSecond());
        o.put("weight_bytes", fileBytes);
        o.put("decode_weight_bytes_per_token", r.weightBytes());
        ObjectNode bw = o.putObject("memory_bandwidth");
        bw.put("bytes_per_second", Math.round(r.bandwidth().bytesPerSecond()));
        bw.put("buffer_bytes", r.bandwidth().bufferBytes());
        bw.put("threads", r.bandwidth().threads());
        bw.put("passes", r.bandwidth().passes());
        bw.put("largest_cache_bytes", r.bandwidth().largestCache());
        bw.put("method", r.bandwidth().method());
        o.put("decode_weight_bytes_per_second", Math.round(r.weightBytesPerSecond()));
        o.put("roofline_ratio", r.rooflineRatio());
        ArrayNode notes = o.putArray("notes");
        r.notes().forEach(notes::add);
        return o;
    }

    private static void figure(ObjectNode o, Bench.Figure f) {
        o.put("median", round(f.median(), 2));
        o.put("min", round(f.min(), 2));
        o.put("max", round(f.max(), 2));
    }

    private static double round(double x, int digits) {
        double scale = Math.pow(10, digits);
        return Math.round(x * scale) / scale;
    }
}
