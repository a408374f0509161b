package dev.manyone.router;

import ai.onnxruntime.OrtEnvironment;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.NemotronHConfig;
import dev.manyone.elastic.export.ExportOptions;
import dev.manyone.elastic.export.OnnxExporter;
import dev.manyone.elastic.export.WeightSource;
import dev.manyone.elastic.runtime.DecoderState;
import dev.manyone.elastic.runtime.DecoderStep;
import dev.manyone.elastic.runtime.OnnxDecoder;
import dev.manyone.formats.AtomicFiles;
import dev.manyone.formats.Progress;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * Measures the decode-step latency of a model on this machine with ONNX Runtime: export (fp32 weights, contrib Mamba
 * ops: {@link ExportOptions#DEFAULT}) to a temporary directory, open an {@link OnnxDecoder}, prefill
 * {@value #PREFIX} tokens, run {@code warmupSteps} untimed single-token steps, then time {@code decodeSteps}
 * single-token steps (batch 1, state carried between calls as in generation). The result, in milliseconds, is the
 * smallest of the medians of 4 consecutive blocks of the timed steps ({@link #robustStep}): a typical step, robust to
 * bursts of other work on the machine.
 *
 * <p>Measurements are cached in {@code <cacheDir>/latency-cache.json}, keyed by the SHA-256 of the model's config.json
 * text, the settings, the ONNX Runtime version and this machine (OS, architecture, processors, CPU model): latency
 * depends on shapes, not on weight values, so one entry serves every parent of that shape. With a cache, repeated
 * searches are deterministic.
 */
public final class LatencyProbe {
    /** Tokens prefilled before the timed steps. */
    public static final int PREFIX = 16;
    static final String CACHE_FILE = "latency-cache.json";
    private static final ObjectMapper MAPPER = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
            .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS);

    /**
     * @param cacheDir      where the cache lives (null: no cache)
     * @param threads       ONNX Runtime intra-op threads (0: its default)
     * @param warmupSteps   untimed steps after the prefill
     * @param decodeSteps   timed steps; the median is reported
     * @param maxProbeBytes the largest fp32 export measured directly; bigger parents are timed on a scaled proxy
     */
    public record Settings(Path cacheDir, int threads, int warmupSteps, int decodeSteps, long maxProbeBytes) {
        public Settings {
            if (threads < 0 || warmupSteps < 0 || decodeSteps < 1 || maxProbeBytes < 1) {
                throw new IllegalArgumentException("invalid latency settings");
            }
        }

        /**
         * Cache in ~/.cache/manyone, one intra-op thread, 8 warm-up and 32 timed steps, proxies above 1 GiB. One thread
         * is the reproducible figure on a shared machine (ONNX Runtime's default thread pool spins and is disturbed by
         * any other load); pass {@code threads} 0 for ONNX Runtime's default, as a deployment would run.
         */
        public static Settings defaults() {
            return new Settings(Path.of(System.getProperty("user.home"), ".cache", "manyone"), 1, 8, 32, 1L << 30);
        }

        public Settings withCacheDir(Path dir) {
            return new Settings(dir, threads, warmupSteps, decodeSteps, maxProbeBytes);
        }
    }

    private final Settings settings;
    private final Consumer<String> log;
    private Map<String, ObjectNode> cache;
    private int measured;
    private int hits;

    public LatencyProbe(Settings settings, Consumer<String> log) {
        this.settings = settings;
        this.log = log == null ? s -> { } : log;
    }

    public Settings settings() {
        return settings;
    }

    /** Measurements taken (not from the cache) so far. */
    public int measured() {
        return measured;
    }

    /** Cache hits so far. */
    public int cacheHits() {
        return hits;
    }

    /** Milliseconds per decode step of the model {@code config} with {@code weights}. */
    public double measure(NemotronHConfig config, WeightSource weights) {
        String key = key(config);
        Map<String, ObjectNode> c = cache();
        ObjectNode hit = c.get(key);
        if (hit != null && hit.path("ms").isNumber()) {
            hits++;
            return hit.get("ms").asDouble();
        }
        double ms = time(config, weights);
        measured++;
        ModelDescription m = ModelDescription.of(config);
        log.accept(String.format(Locale.ROOT, "measured %s (%,d parameters, %d layers): %.3f ms per decode step",
                config.hybridOverridePattern(), m.params().total(), m.layers().size(), ms));
        ObjectNode e = MAPPER.createObjectNode();
        e.put("ms", ms);
        e.put("params", m.params().total());
        e.put("pattern", config.hybridOverridePattern());
        e.put("hidden", config.hiddenSize());
        c.put(key, e);
        save();
        return ms;
    }

    private double time(NemotronHConfig config, WeightSource weights) {
        ModelDescription model = ModelDescription.of(config);
        Path tmp = null;
        try {
            tmp = Files.createTempDirectory("manyone-latency-");
            Path dir = tmp.resolve("model");
            OnnxExporter.export(model, weights, ExportOptions.DEFAULT, dir, false, Map.of(), List.of(), "manyone-router",
                    Progress.NONE);
            try (OnnxDecoder decoder = OnnxDecoder.open(dir, settings.threads())) {
                int vocab = model.vocab();
                long[][] prompt = new long[1][PREFIX];
                for (int t = 0; t < PREFIX; t++) {
                    prompt[0][t] = (7L * t + 3) % vocab;
                }
                DecoderState state = decoder.initialState(1);
                DecoderStep step = decoder.step(prompt, state);
                state.close();
                state = step.state();
                double[] times = new double[settings.decodeSteps()];
                int total = settings.warmupSteps() + settings.decodeSteps();
                for (int k = 0; k < total; k++) {
                    long[][] one = {{step.argmax(0, step.seq() - 1)}};
                    long t0 = System.nanoTime();
                    DecoderStep next = decoder.step(one, state);
                    long t1 = System.nanoTime();
                    state.close();
                    step = next;
                    state = next.state();
                    if (k >= settings.warmupSteps()) {
                        times[k - settings.warmupSteps()] = (t1 - t0) / 1e6;
                    }
                }
                state.close();
                return robustStep(times);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            if (tmp != null) {
                deleteTree(tmp);
            }
        }
    }

    /**
     * The timed steps split into (up to) 4 consecutive blocks; the smallest block median. A typical step, robust to
     * bursts of other work on a shared machine (which only ever make steps slower).
     */
    static double robustStep(double[] times) {
        int blocks = Math.min(4, times.length);
        double best = Double.POSITIVE_INFINITY;
        for (int b = 0; b < blocks; b++) {
            double[] block = Arrays.copyOfRange(times, b * times.length / blocks, (b + 1) * times.length / blocks);
            Arrays.sort(block);
            best = Math.min(best, block[block.length / 2]);
        }
        return best;
    }

    private String key(NemotronHConfig config) {
        StringBuilder sb = new StringBuilder("manyone-latency-v2\n");
        sb.append(config.toJson()).append('\n');
        sb.append("threads=").append(settings.threads()).append(" warmup=").append(settings.warmupSteps())
                .append(" steps=").append(settings.decodeSteps()).append(" prefix=").append(PREFIX)
                .append(" export=").append(ExportOptions.DEFAULT).append('\n');
        sb.append("ort=").append(OrtEnvironment.getEnvironment().getVersion()).append('\n');
        sb.append(machine());
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(sb.toString().getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(d);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** OS, architecture, processor count and CPU model: what a cached latency is valid for. */
    static String machine() {
        String cpu = "";
        try {
            Path info = Path.of("/proc/cpuinfo");
            if (Files.isReadable(info)) {
                cpu = Files.readAllLines(info).stream().filter(l -> l.startsWith("model name")).findFirst()
                        .map(l -> l.substring(l.indexOf(':') + 1).strip()).orElse("");
            }
        } catch (IOException | RuntimeException e) {
            cpu = "";
        }
        return System.getProperty("os.name") + " " + System.getProperty("os.arch") + " cpus="
                + Runtime.getRuntime().availableProcessors() + " cpu=" + cpu;
    }

    private Map<String, ObjectNode> cache() {
        if (cache != null) {
            return cache;
        }
        cache = new TreeMap<>();
        if (settings.cacheDir() == null) {
            return cache;
        }
        Path file = settings.cacheDir().resolve(CACHE_FILE);
        if (!Files.isRegularFile(file)) {
            return cache;
        }
        try {
            JsonNode root = MAPPER.readTree(file.toFile());
            JsonNode entries = root.path("entries");
            for (Map.Entry<String, JsonNode> e : entries.properties()) {
                if (e.getValue().isObject()) {
                    cache.put(e.getKey(), (ObjectNode) e.getValue());
                }
            }
        } catch (IOException | RuntimeException e) {
            log.accept("ignoring unreadable latency cache " + file + ": " + e.getMessage());
            cache.clear();
        }
        return cache;
    }

    private void save() {
        if (settings.cacheDir() == null) {
            return;
        }
        try {
            Files.createDirectories(settings.cacheDir());
            ObjectNode root = MAPPER.createObjectNode();
            root.put("format_version", 1);
            root.put("machine", machine());
            ObjectNode entries = root.putObject("entries");
            cache.forEach(entries::set);
            AtomicFiles.write(settings.cacheDir().resolve(CACHE_FILE),
                    (MAPPER.writeValueAsString(root) + "\n").getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            log.accept("cannot write the latency cache in " + settings.cacheDir() + ": " + e.getMessage());
        }
    }

    private static void deleteTree(Path root) {
        try {
            Files.walkFileTree(root, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                    Files.delete(file);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
                    Files.delete(dir);
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            // best effort: a temp directory left behind is not an error
        }
    }
}
