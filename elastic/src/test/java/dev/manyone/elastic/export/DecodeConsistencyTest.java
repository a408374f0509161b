package dev.manyone.elastic.export;

import dev.manyone.elastic.NemotronHConfig;
import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.elastic.generate.ModelGenerator;
import dev.manyone.elastic.generate.Presets;
import dev.manyone.elastic.runtime.Evaluator;
import dev.manyone.elastic.runtime.OnnxDecoder;
import dev.manyone.formats.Progress;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * State carried between calls is exact: prefill of N tokens then k single-token decode steps gives the logits of
 * one prefill of N + k tokens, with every ONNX Runtime graph optimization enabled (OnnxDecoder uses ALL_OPT). On a
 * generated model (the `example` preset: 17 layers, batch 2), for both Mamba implementations. And fp16 weights stay
 * within a stated tolerance of fp32.
 */
class DecodeConsistencyTest {
    /** fp32 vs fp32 by another call pattern: only summation order differs. */
    static final double SAME_MODEL = 1e-4;
    /**
     * fp16 weights vs golden. BF16 → FP16 is exact for every weight whose magnitude lies in FP16's normal range
     * [6.1e-5, 65504] (FP16 has 11 significant bits, BF16 8), so only tiny weights round (to FP16 subnormals);
     * the stated tolerance leaves room for that on other models.
     */
    static final double FP16_TOLERANCE = 1e-3;

    static List<long[]> randomIds(int batch, int seq, int vocab, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<long[]> rows = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            long[] row = new long[seq];
            for (int t = 0; t < seq; t++) {
                row[t] = r.nextInt(vocab);
            }
            rows.add(row);
        }
        return rows;
    }

    @ParameterizedTest
    @EnumSource(ExportOptions.Mamba.class)
    void prefillThenDecodeEqualsOnePrefill(ExportOptions.Mamba mamba, @TempDir Path tmp) throws Exception {
        NemotronHConfig config = Presets.load("example");
        Path parent = tmp.resolve("parent");
        new ModelGenerator(config, 7, Long.MAX_VALUE, 2).write(parent, false, Progress.NONE);
        Path out = tmp.resolve("onnx");
        try (Checkpoint cp = Checkpoint.open(parent)) {
            OnnxExporter.export(cp.model(), new CheckpointWeights(cp.tensors()), new ExportOptions(mamba, ExportOptions.Weights.FP32),
                    out, false, Map.of(), List.of(), "test", Progress.NONE);
        }
        int n = 24;
        int k = 9;
        List<long[]> ids = randomIds(2, n + k, config.vocabSize(), 11);
        try (OnnxDecoder decoder = OnnxDecoder.open(out, 0)) {
            float[][] once = Evaluator.logits(decoder, ids, 0);
            float[][] stepped = Evaluator.logits(decoder, ids, n);
            double max = 0;
            double scale = 0;
            for (int b = 0; b < once.length; b++) {
                for (int i = 0; i < once[b].length; i++) {
                    max = Math.max(max, Math.abs(once[b][i] - stepped[b][i]));
                    scale = Math.max(scale, Math.abs(once[b][i]));
                }
            }
            System.out.printf("example preset %s: prefill %d + %d decode steps vs prefill %d: max |diff| %.3g (max |logit| %.3g)%n",
                    mamba, n, k, n + k, max, scale);
            assertTrue(max < SAME_MODEL, "max |diff| " + max);
            assertTrue(scale > 0.1, "the logits are not trivially small");
        }
    }

    @Test
    void fp16WeightsStayWithinTolerance(@TempDir Path tmp) throws Exception {
        Path tiny = GoldenLogits.golden().resolve("tiny-hybrid");
        Path out = tmp.resolve("fp16");
        OnnxExporter.Result half;
        OnnxExporter.Result single;
        try (Checkpoint cp = Checkpoint.open(tiny)) {
            half = OnnxExporter.export(cp.model(), new CheckpointWeights(cp.tensors()), new ExportOptions(ExportOptions.Mamba.CONTRIB,
                    ExportOptions.Weights.FP16), out, false, Map.of(), List.of(), "test", Progress.NONE);
            single = OnnxExporter.export(cp.model(), new CheckpointWeights(cp.tensors()), ExportOptions.DEFAULT,
                    tmp.resolve("fp32"), false, Map.of(), List.of(), "test", Progress.NONE);
        }
        // the weights really are half precision: half the bytes (within the 4096-byte alignment padding)
        assertTrue(Math.abs(2 * half.dataBytes() - single.dataBytes()) < 2 * 4096 * 70, half + " vs " + single);
        Path golden = tiny.resolve("golden.safetensors");
        GoldenLogits.Tensor full = GoldenLogits.read(golden, "logits");
        try (OnnxDecoder decoder = OnnxDecoder.open(out, 0)) {
            float[][] ours = Evaluator.logits(decoder, GoldenLogits.inputIds(golden), 0);
            double d = GoldenLogits.maxAbsDiff(ours, 0, (int) full.shape()[1], full, (int) full.shape()[2]);
            System.out.printf("fp16 weights vs golden: max |diff| %.3g%n", d);
            assertTrue(d < FP16_TOLERANCE, "fp16: " + d);
        }
    }
}
