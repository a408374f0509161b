package dev.manyone.elastic.export;

import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.elastic.runtime.Evaluator;
import dev.manyone.elastic.runtime.OnnxDecoder;
import dev.manyone.formats.Progress;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Golden parity (golden README: "an fp32 evaluation should be within 1e-4 absolute of every logit, for the full
 * sequence, for every decode step"): export, then run the golden input_ids through ONNX Runtime in one call and as
 * prefill + single-token decode steps with all state carried over.
 */
class GoldenParityTest {
    static final double TOLERANCE = 1e-4;

    @ParameterizedTest
    @CsvSource({"tiny-hybrid,CONTRIB,STANDARD", "tiny-hybrid,PORTABLE,STANDARD", "tiny-hybrid,CONTRIB,GQA",
        "trained-hybrid,CONTRIB,STANDARD", "trained-hybrid,PORTABLE,STANDARD", "trained-hybrid,PORTABLE,GQA",
        "tiny-moe,CONTRIB,STANDARD", "tiny-moe,PORTABLE,STANDARD", "tiny-latent-moe,CONTRIB,STANDARD",
        "tiny-latent-moe,PORTABLE,GQA"})
    void fp32MatchesGolden(String model, ExportOptions.Mamba mamba, ExportOptions.Attention attention, @TempDir Path tmp)
            throws Exception {
        Path dir = GoldenLogits.golden().resolve(model);
        Path out = tmp.resolve("onnx");
        try (Checkpoint cp = Checkpoint.open(dir)) {
            OnnxExporter.export(cp.model(), new CheckpointWeights(cp.tensors()), new ExportOptions(mamba, ExportOptions.Weights.FP32).withAttention(attention),
                    out, false, Map.of("manyone.test", "golden"), List.of(), "test", Progress.NONE);
        }
        Path golden = dir.resolve("golden.safetensors");
        List<long[]> ids = GoldenLogits.inputIds(golden);
        GoldenLogits.Tensor full = GoldenLogits.read(golden, "logits");
        int vocab = (int) full.shape()[2];
        int seq = (int) full.shape()[1];
        int prefill = (int) GoldenLogits.read(golden, "decode.prefill_logits").shape()[1];
        try (OnnxDecoder decoder = OnnxDecoder.open(out, 0)) {
            float[][] ours = Evaluator.logits(decoder, ids, 0);
            double d = GoldenLogits.maxAbsDiff(ours, 0, seq, full, vocab);
            System.out.printf("%s %s %s full sequence: max |diff| %.3g%n", model, mamba, attention, d);
            assertTrue(d < TOLERANCE, "full sequence: " + d);

            float[][] traced = Evaluator.logits(decoder, ids, prefill);
            double dp = GoldenLogits.maxAbsDiff(traced, 0, prefill, GoldenLogits.read(golden, "decode.prefill_logits"), vocab);
            assertTrue(dp < TOLERANCE, "prefill: " + dp);
            double worst = dp;
            for (int k = 0; prefill + k < seq; k++) {
                GoldenLogits.Tensor step;
                try {
                    step = GoldenLogits.read(golden, "decode.step" + k + "_logits");
                } catch (dev.manyone.formats.FormatException e) {
                    break; // the trace covers the first steps only
                }
                double ds = GoldenLogits.maxAbsDiff(traced, prefill + k, 1, step, vocab);
                worst = Math.max(worst, ds);
                assertTrue(ds < TOLERANCE, "decode step " + k + ": " + ds);
            }
            System.out.printf("%s %s %s decode trace: max |diff| %.3g%n", model, mamba, attention, worst);
        }
    }
}
