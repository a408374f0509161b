package dev.manyone.elastic.runtime;

import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.elastic.export.CheckpointWeights;
import dev.manyone.elastic.export.ExportOptions;
import dev.manyone.elastic.export.OnnxExporter;
import dev.manyone.elastic.generate.ModelGenerator;
import dev.manyone.elastic.generate.Presets;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.Progress;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Structural facts of a benchmark of the tiny preset (no timing thresholds: CI machines vary). */
class BenchTest {
    @TempDir
    static Path tmp;
    static Path exported;

    @BeforeAll
    static void export() throws Exception {
        Path checkpoint = tmp.resolve("tiny");
        new ModelGenerator(Presets.load("tiny"), 7, ModelGenerator.DEFAULT_SHARD_BYTES, 2).write(checkpoint, false, Progress.NONE);
        exported = tmp.resolve("onnx");
        try (Checkpoint cp = Checkpoint.open(checkpoint)) {
            OnnxExporter.export(cp.model(), new CheckpointWeights(cp.tensors()), ExportOptions.DEFAULT, exported, false,
                    Map.of(), List.of(), "test", Progress.NONE);
        }
    }

    static void positiveFinite(double x, String what) {
        assertTrue(x > 0 && Double.isFinite(x), what + " = " + x);
    }

    static void figure(Bench.Figure f, String what) {
        positiveFinite(f.median(), what + " median");
        positiveFinite(f.min(), what + " min");
        positiveFinite(f.max(), what + " max");
        assertTrue(f.min() <= f.median() && f.median() <= f.max(), what + ": " + f);
    }

    @Test
    void reportsEveryFigure() {
        long weights = Bench.weightBytes(exported);
        assertEquals(weights, exported.resolve("model.onnx.data").toFile().length());
        Bench.Report r;
        try (OnnxDecoder decoder = OnnxDecoder.open(exported, 1)) {
            r = Bench.run(decoder, weights, new Bench.Options(new int[] {8, 16}, 4, 2, 1)); // measures bandwidth (~1-3 s)
        }
        assertEquals(2, r.prefill().size());
        assertEquals(8, r.prefill().get(0).tokens());
        assertEquals(16, r.prefill().get(1).tokens());
        r.prefill().forEach(p -> figure(p.tokensPerSecond(), "prefill " + p.tokens()));
        figure(r.decodeTokensPerSecond(), "decode");
        assertEquals(4, r.decodeSteps());
        assertEquals(Bench.DECODE_PREFIX, r.decodePrefix());
        assertEquals(2, r.runs());
        assertEquals(4096, r.contextLength());
        // the tiny model fits in any cache: noted when the cache size is known
        assertEquals(r.bandwidth().largestCache() > 0 ? 1 : 0, r.notes().size(), r.notes().toString());
        assertEquals(weights, r.weightBytes());
        positiveFinite(r.bandwidth().bytesPerSecond(), "bandwidth");
        positiveFinite(r.weightBytesPerSecond(), "weight bytes/s");
        positiveFinite(r.rooflineRatio(), "roofline ratio");
        double expected = weights * r.decodeTokensPerSecond().median() / r.bandwidth().bytesPerSecond();
        assertEquals(expected, r.rooflineRatio(), expected * 1e-12);
        assertEquals(weights * r.decodeTokensPerSecond().median(), r.weightBytesPerSecond(), r.weightBytesPerSecond() * 1e-12);
    }

    @Test
    void skipsPrefillLongerThanTheContext() {
        List<String> log = new java.util.ArrayList<>();
        try (OnnxDecoder decoder = OnnxDecoder.open(exported, 1)) {
            Bench.Report r = Bench.run(decoder, 1000, new Bench.Options(new int[] {4, 5000}, 2, 1, 1),
                    new MemoryBandwidth.Result(1e9, 1, 1, 1, 0, "given"), log::add);
            assertEquals(List.of("warm-up", "run 1 of 1"), log);
            assertEquals(1e-6 * r.decodeTokensPerSecond().median(), r.rooflineRatio(), 1e-12 * r.rooflineRatio());
            assertEquals(1, r.prefill().size());
            assertEquals(4, r.prefill().get(0).tokens());
            assertEquals(1, r.notes().size());
            assertTrue(r.notes().get(0).contains("5000") && r.notes().get(0).contains("4096"), r.notes().get(0));
            // a single run: median = min = max
            assertEquals(r.decodeTokensPerSecond().min(), r.decodeTokensPerSecond().max());
            assertEquals(r.decodeTokensPerSecond().median(), r.decodeTokensPerSecond().max());

            Bench.Report cached = Bench.run(decoder, 1000, new Bench.Options(new int[] {4}, 2, 1, 1),
                    new MemoryBandwidth.Result(1e9, 1, 1, 1, 1 << 20, "given"), m -> { });
            assertEquals(1, cached.notes().size());
            assertTrue(cached.notes().get(0).contains("largest cache (1048576 bytes)"), cached.notes().get(0));

            FormatException e = assertThrows(FormatException.class,
                    () -> Bench.run(decoder, 1000, new Bench.Options(new int[] {4}, 4096, 1, 1),
                            new MemoryBandwidth.Result(1e9, 1, 1, 1, 0, "given"), m -> { }));
            assertTrue(e.getMessage().contains("context_length 4096"), e.getMessage());
        }
    }

    /**
     * Bytes read per decode step, counted from the model's tensor shapes: fp32 reads every weight once (4 bytes an
     * element) but only one row of the embedding table; fp16 reads the 4-byte copies its Casts are folded into at
     * session creation, and a 2-byte embedding row; int8/int4 read packed codes and scales. No timing.
     */
    @Test
    void decodeBytesPerTokenCountsWhatAStepReads() throws Exception {
        Path checkpoint = tmp.resolve("tiny");
        long elements = 0;
        long h;
        long v;
        try (Checkpoint cp = Checkpoint.open(checkpoint)) {
            for (var t : cp.model().expectedTensors()) {
                elements += t.elementCount();
            }
            h = cp.model().hidden();
            v = cp.model().vocab();
            for (ExportOptions.Weights w : ExportOptions.Weights.values()) {
                Path out = tmp.resolve("bytes-" + w);
                OnnxExporter.export(cp.model(), new CheckpointWeights(cp.tensors()), new ExportOptions(ExportOptions.Mamba.CONTRIB, w),
                        out, false, Map.of(), List.of(), "test", Progress.NONE);
            }
        }
        long table = v * h;
        java.util.Map<ExportOptions.Weights, Long> bytes = new java.util.EnumMap<>(ExportOptions.Weights.class);
        for (ExportOptions.Weights w : ExportOptions.Weights.values()) {
            try (OnnxDecoder d = OnnxDecoder.open(tmp.resolve("bytes-" + w), 1)) {
                bytes.put(w, Bench.decodeBytesPerToken(d));
            }
        }
        assertEquals(4 * (elements - table) + 4 * h, bytes.get(ExportOptions.Weights.FP32));
        assertEquals(4 * (elements - table) + 2 * h, bytes.get(ExportOptions.Weights.FP16));
        assertTrue(bytes.get(ExportOptions.Weights.INT8) < bytes.get(ExportOptions.Weights.FP32) / 3, bytes.toString());
        assertTrue(bytes.get(ExportOptions.Weights.INT4) < bytes.get(ExportOptions.Weights.INT8), bytes.toString());
    }

    @Test
    void optionsAreValidated() {
        assertThrows(IllegalArgumentException.class, () -> new Bench.Options(new int[] {}, 4, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> new Bench.Options(new int[] {0}, 4, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> new Bench.Options(new int[] {8}, 0, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> new Bench.Options(new int[] {8}, 4, 0, 1));
        int[] lengths = {8};
        Bench.Options o = new Bench.Options(lengths, 4, 1, 1);
        lengths[0] = 9;
        assertEquals(8, o.prefillLengths()[0]);
        assertEquals(o, new Bench.Options(new int[] {8}, 4, 1, 1));
    }

    @Test
    void medianOfEvenAndOddRuns() {
        assertEquals(new Bench.Figure(2, 1, 3), Bench.Figure.of(new double[] {3, 1, 2}));
        assertEquals(new Bench.Figure(2.5, 1, 4), Bench.Figure.of(new double[] {4, 1, 3, 2}));
    }

    @Test
    void memoryBandwidthIsPositive() {
        MemoryBandwidth.Result r = MemoryBandwidth.measure(32L << 20, 2);
        positiveFinite(r.bytesPerSecond(), "bandwidth");
        assertEquals(32L << 20, r.bufferBytes());
        assertEquals(2, r.threads());
        assertTrue(r.passes() >= 2, "passes " + r.passes());
        assertEquals(4L << 20, MemoryBandwidth.parseCacheSize("4096K\n"));
        assertEquals(260L << 20, MemoryBandwidth.parseCacheSize("260M"));
        assertEquals(0, MemoryBandwidth.parseCacheSize("?"));
    }
}
