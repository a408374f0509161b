package dev.manyone.elastic.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import dev.manyone.elastic.export.DeploymentConfig;
import dev.manyone.elastic.export.NemotronHGraph;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.JsonFiles;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Throughput of an exported model in ONNX Runtime, and how close decode comes to this machine's memory bandwidth.
 *
 * <ul>
 *   <li><b>Prefill tokens/s</b> at each requested length: one call of {@code L} tokens on a fresh state, timed
 *       around {@link OnnxDecoder#step} (which includes computing and copying the logits of every position).</li>
 *   <li><b>Decode tokens/s</b>: {@code decodeSteps} single-token calls after a {@value #DECODE_PREFIX}-token
 *       prefill, state carried from call to call as in generation; the prefill is not timed.</li>
 *   <li><b>Roofline ratio</b>: a decode step of batch 1 reads every weight once, so it moves at least
 *       {@code weight bytes × decode steps/s} bytes/s; divided by the measured sustained read bandwidth
 *       ({@link MemoryBandwidth}) this is the fraction of the memory-bound ideal achieved (1.0 = decode is as fast
 *       as streaming the weights allows). Weight bytes are those of the stored initializers; the embedding table is
 *       counted although a step gathers only one row of it, so the ratio is optimistic for large vocabularies.
 *       The ratio is a DRAM roofline only when the weights are much larger than the last-level cache; otherwise part
 *       of them stays cached between steps, the ratio can exceed 1, and the report says so in a note.</li>
 * </ul>
 *
 * <p>Every figure is the median of {@code runs} measured runs (with min and max), after one untimed warm-up run of
 * each measurement. Measured runs are interleaved (all lengths, then decode, repeated) so that drift of the machine
 * spreads over all figures. Token ids are uniform in [0, vocab) from the seed. Lengths above the model's
 * {@code context_length} (genai_config.json) are skipped with a note. Memory bandwidth is measured first, before the
 * model runs, so that ONNX Runtime's spinning worker threads do not compete with it.
 */
public final class Bench {
    /** Tokens prefilled (untimed) before the timed decode steps. */
    public static final int DECODE_PREFIX = 16;

    private Bench() {
    }

    /**
     * What to measure.
     *
     * @param prefillLengths prompt lengths for prefill, each ≥ 1
     * @param decodeSteps    timed single-token calls, ≥ 1
     * @param runs           measured runs per figure (after one warm-up run), ≥ 1
     * @param seed           seed of the random token ids
     */
    public record Options(int[] prefillLengths, int decodeSteps, int runs, long seed) {
        public Options {
            if (prefillLengths == null || prefillLengths.length == 0) {
                throw new IllegalArgumentException("at least one prefill length is needed");
            }
            prefillLengths = prefillLengths.clone();
            for (int n : prefillLengths) {
                if (n < 1) {
                    throw new IllegalArgumentException("prefill lengths must be at least 1, found " + n);
                }
            }
            if (decodeSteps < 1) {
                throw new IllegalArgumentException("decode steps must be at least 1, found " + decodeSteps);
            }
            if (runs < 1) {
                throw new IllegalArgumentException("runs must be at least 1, found " + runs);
            }
        }

        /** Prefill 128, 512, 2048; 64 decode steps; 5 runs. */
        public static Options defaults() {
            return new Options(new int[] {128, 512, 2048}, 64, 5, 20261123L);
        }

        @Override
        public int[] prefillLengths() {
            return prefillLengths.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Options other && Arrays.equals(prefillLengths, other.prefillLengths)
                    && decodeSteps == other.decodeSteps && runs == other.runs && seed == other.seed;
        }

        @Override
        public int hashCode() {
            return 31 * Arrays.hashCode(prefillLengths) + Long.hashCode(seed) * 17 + decodeSteps * 7 + runs;
        }

        @Override
        public String toString() {
            return "Options[prefillLengths=" + Arrays.toString(prefillLengths) + ", decodeSteps=" + decodeSteps
                    + ", runs=" + runs + ", seed=" + seed + "]";
        }
    }

    /** Median, min and max of the measured runs, in tokens/s. */
    public record Figure(double median, double min, double max) {
        static Figure of(double[] samples) {
            double[] s = samples.clone();
            Arrays.sort(s);
            int n = s.length;
            double median = n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
            return new Figure(median, s[0], s[n - 1]);
        }
    }

    /** Prefill throughput at one prompt length. */
    public record Prefill(int tokens, Figure tokensPerSecond) {
    }

    /**
     * The measurements.
     *
     * @param prefill               one entry per measured prefill length, in the requested order
     * @param notes                 what was skipped and why
     * @param decodeSteps           timed decode calls per run
     * @param decodePrefix          untimed prefill before them
     * @param decodeTokensPerSecond decode calls per second
     * @param weightBytes           weight bytes a decode step reads (see {@link #decodeBytesPerToken})
     * @param bandwidth             this machine's measured memory read bandwidth
     * @param weightBytesPerSecond  weightBytes × median decode tokens/s
     * @param rooflineRatio         weightBytesPerSecond ÷ bandwidth bytes/s
     * @param runs                  measured runs per figure
     * @param contextLength         the model's context_length
     */
    public record Report(List<Prefill> prefill, List<String> notes, int decodeSteps, int decodePrefix,
                         Figure decodeTokensPerSecond, long weightBytes, MemoryBandwidth.Result bandwidth,
                         double weightBytesPerSecond, double rooflineRatio, int runs, int contextLength) {
        public Report {
            prefill = List.copyOf(prefill);
            notes = List.copyOf(notes);
        }
    }

    /** Runs the benchmark; measures the memory bandwidth first (about 1–3 s). */
    public static Report run(OnnxDecoder decoder, long weightBytes, Options options) {
        return run(decoder, weightBytes, options, null, message -> { });
    }

    /**
     * Runs the benchmark.
     *
     * @param bandwidth a measurement to reuse, or null to measure now
     * @param log       receives one line per phase (for progress output)
     */
    public static Report run(OnnxDecoder decoder, long weightBytes, Options options, MemoryBandwidth.Result bandwidth,
                             Consumer<String> log) {
        if (weightBytes < 1) {
            throw new IllegalArgumentException("weight bytes must be positive, found " + weightBytes);
        }
        int context = contextLength(decoder.dir());
        int vocab = decoder.contract().vocab();
        List<String> notes = new ArrayList<>();
        List<Integer> lengths = new ArrayList<>();
        for (int n : options.prefillLengths()) {
            if (n > context) {
                notes.add("prefill " + n + " skipped: longer than the model's context_length " + context);
            } else if (!lengths.contains(n)) {
                lengths.add(n);
            }
        }
        int prefix = Math.min(DECODE_PREFIX, context - options.decodeSteps());
        if (prefix < 1) {
            throw new FormatException(decoder.dir().resolve(DeploymentConfig.FILE), "decode of " + options.decodeSteps()
                    + " steps needs at least " + (options.decodeSteps() + 1) + " positions, found context_length " + context);
        }

        if (bandwidth == null) {
            log.accept("measuring memory read bandwidth");
            bandwidth = MemoryBandwidth.measure();
        }

        SplittableRandom random = new SplittableRandom(options.seed());
        List<long[]> prompts = new ArrayList<>();
        for (int n : lengths) {
            prompts.add(randomIds(random, n, vocab));
        }
        long[] decodePrompt = randomIds(random, prefix, vocab);
        long[] decodeIds = randomIds(random, options.decodeSteps(), vocab);

        log.accept("warm-up");
        for (long[] p : prompts) {
            prefillOnce(decoder, p);
        }
        decodeOnce(decoder, decodePrompt, decodeIds);

        double[][] prefillSamples = new double[lengths.size()][options.runs()];
        double[] decodeSamples = new double[options.runs()];
        for (int r = 0; r < options.runs(); r++) {
            log.accept("run " + (r + 1) + " of " + options.runs());
            for (int i = 0; i < prompts.size(); i++) {
                prefillSamples[i][r] = prefillOnce(decoder, prompts.get(i));
            }
            decodeSamples[r] = decodeOnce(decoder, decodePrompt, decodeIds);
        }

        List<Prefill> prefill = new ArrayList<>();
        for (int i = 0; i < lengths.size(); i++) {
            prefill.add(new Prefill(lengths.get(i), Figure.of(prefillSamples[i])));
        }
        long cache = bandwidth.largestCache();
        if (cache > 0 && weightBytes < MemoryBandwidth.CACHE_MULTIPLE * cache) {
            notes.add("the weights (" + weightBytes + " bytes) are less than " + MemoryBandwidth.CACHE_MULTIPLE
                    + "x the largest cache (" + cache + " bytes): part of them can stay in cache between decode steps,"
                    + " so decode can exceed the memory roofline (ratio above 1)");
        }
        Figure decode = Figure.of(decodeSamples);
        double weightRate = weightBytes * decode.median();
        return new Report(prefill, notes, options.decodeSteps(), prefix, decode, weightBytes, bandwidth, weightRate,
                weightRate / bandwidth.bytesPerSecond(), options.runs(), context);
    }

    /** Tokens/s of one prefill call of {@code ids} on a fresh state. */
    private static double prefillOnce(OnnxDecoder decoder, long[] ids) {
        try (DecoderState fresh = decoder.initialState(1)) {
            long t0 = System.nanoTime();
            DecoderStep step = decoder.step(new long[][] {ids}, fresh);
            long t1 = System.nanoTime();
            step.state().close();
            return ids.length / seconds(t0, t1);
        }
    }

    /** Tokens/s of single-token calls for {@code ids} after an untimed prefill of {@code prompt}. */
    private static double decodeOnce(OnnxDecoder decoder, long[] prompt, long[] ids) {
        DecoderState state = decoder.initialState(1);
        try {
            DecoderStep step = decoder.step(new long[][] {prompt}, state);
            state.close();
            state = step.state();
            long t0 = System.nanoTime();
            for (long id : ids) {
                step = decoder.step(new long[][] {{id}}, state);
                state.close();
                state = step.state();
            }
            long t1 = System.nanoTime();
            return ids.length / seconds(t0, t1);
        } finally {
            state.close();
        }
    }

    private static double seconds(long t0, long t1) {
        return Math.max(1, t1 - t0) / 1e9;
    }

    private static long[] randomIds(SplittableRandom random, int n, int vocab) {
        long[] ids = new long[n];
        for (int i = 0; i < n; i++) {
            ids[i] = random.nextInt(vocab);
        }
        return ids;
    }

    /**
     * Bytes of the weights of an exported model: the size of its external data file ({@code model.onnx.data}, which
     * holds every initializer of 1 KiB or more; the few smaller inline ones are negligible), or, for a model
     * without one, the size of the .onnx file itself.
     */
    public static long weightBytes(Path dir) {
        DeploymentConfig contract = DeploymentConfig.read(dir);
        Path onnx = dir.resolve(contract.onnxFile());
        Path data = dir.resolve(contract.onnxFile() + ".data");
        try {
            return Files.isRegularFile(data) ? Files.size(data) : Files.size(onnx);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The weight bytes one batch-1 decode step reads, as the exporter recorded them in the model's metadata
     * ({@code NemotronHGraph.DECODE_BYTES_KEY}): every stored weight once (packed codes and scales for int8/int4), one
     * embedding row, and for fp16 also the fp32 copy each per-call Cast writes and the next op reads. Exports made
     * before that key existed fall back to {@link #weightBytes(Path)}.
     */
    public static long decodeBytesPerToken(OnnxDecoder decoder) {
        String v = decoder.metadata(NemotronHGraph.DECODE_BYTES_KEY);
        if (v == null) {
            return weightBytes(decoder.dir());
        }
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new FormatException(decoder.dir().resolve(decoder.contract().onnxFile()),
                    NemotronHGraph.DECODE_BYTES_KEY + ": expected a byte count, found '" + v + "'");
        }
    }

    /** {@code model.context_length} of the export's genai_config.json. */
    public static int contextLength(Path dir) {
        Path file = dir.resolve(DeploymentConfig.FILE);
        JsonNode n = JsonFiles.read(file, "deployment config").path("model").path("context_length");
        if (!n.canConvertToInt() || !n.isIntegralNumber() || n.asInt() < 1) {
            throw new FormatException(file, "model.context_length: expected a positive integer, found "
                    + (n.isMissingNode() ? "nothing" : n.toString()));
        }
        return n.asInt();
    }
}
