package dev.manyone.elastic.export;

import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.elastic.runtime.Evaluator;
import dev.manyone.elastic.runtime.OnnxDecoder;
import dev.manyone.formats.Progress;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Golden parity of the quantized parents (golden README, "Golden files": "Every logit is the float64 reference forward
 * on the dequantized weights, rounded to F32. The tolerance is the same as above, 1e-4"): export tiny-moe-fp8 and
 * tiny-moe-nvfp4 with their FP8 / NVFP4 weights dequantized in the {@link WeightSource} path, then run the golden
 * input_ids through ONNX Runtime in one call and as the 30-token prefill + 7 single-token decode steps.
 */
class QuantizedGoldenParityTest {
    static final double TOLERANCE = 1e-4;

    @ParameterizedTest
    @CsvSource({"tiny-moe-fp8,CONTRIB", "tiny-moe-fp8,PORTABLE", "tiny-moe-nvfp4,CONTRIB", "tiny-moe-nvfp4,PORTABLE"})
    void fp32MatchesGolden(String model, ExportOptions.Mamba mamba, @TempDir Path tmp) throws Exception {
        Path dir = GoldenLogits.golden().resolve(model);
        Path out = tmp.resolve("onnx");
        export(dir, out, new ExportOptions(mamba, ExportOptions.Weights.FP32));
        // a float model: no quantization_config, no hf_quant_config.json
        assertFalse(Files.readString(out.resolve("config.json")).contains("quantization_config"));
        assertFalse(Files.exists(out.resolve("hf_quant_config.json")));

        Path golden = dir.resolve("golden.safetensors");
        List<long[]> ids = GoldenLogits.inputIds(golden);
        GoldenLogits.Tensor full = GoldenLogits.read(golden, "logits");
        int vocab = (int) full.shape()[2];
        int seq = (int) full.shape()[1];
        GoldenLogits.Tensor prefillLogits = GoldenLogits.read(golden, "decode.prefill_logits");
        int prefill = (int) prefillLogits.shape()[1];
        try (OnnxDecoder decoder = OnnxDecoder.open(out, 0)) {
            double d = GoldenLogits.maxAbsDiff(Evaluator.logits(decoder, ids, 0), 0, seq, full, vocab);
            System.out.printf("%s %s full sequence: max |diff| %.3g%n", model, mamba, d);
            assertTrue(d < TOLERANCE, "full sequence: " + d);

            float[][] traced = Evaluator.logits(decoder, ids, prefill);
            double worst = GoldenLogits.maxAbsDiff(traced, 0, prefill, prefillLogits, vocab);
            assertTrue(worst < TOLERANCE, "prefill: " + worst);
            int steps = 0;
            for (int k = 0; prefill + k < seq; k++) {
                double ds = GoldenLogits.maxAbsDiff(traced, prefill + k, 1, GoldenLogits.read(golden, "decode.step" + k + "_logits"), vocab);
                worst = Math.max(worst, ds);
                assertTrue(ds < TOLERANCE, "decode step " + k + ": " + ds);
                steps++;
            }
            assertTrue(steps == 7, "the golden trace has 7 decode steps, read " + steps);
            System.out.printf("%s %s prefill + %d decode steps: max |diff| %.3g%n", model, mamba, steps, worst);
        }
    }

    /**
     * {@code --dtype fp16}: dequantized, then rounded to fp16. FP16 keeps 11 significant bits, 3 more than BF16, so the
     * logits must move less than the README's "dequantized weights rounded to BF16" row: FP8 0.086, NVFP4 0.070.
     */
    @ParameterizedTest
    @CsvSource({"tiny-moe-fp8,0.086", "tiny-moe-nvfp4,0.070"})
    void fp16StaysWithinTheBf16RoundingEffect(String model, double bf16Effect, @TempDir Path tmp) throws Exception {
        Path dir = GoldenLogits.golden().resolve(model);
        Path out = tmp.resolve("fp16");
        export(dir, out, new ExportOptions(ExportOptions.Mamba.CONTRIB, ExportOptions.Weights.FP16));
        Path golden = dir.resolve("golden.safetensors");
        GoldenLogits.Tensor full = GoldenLogits.read(golden, "logits");
        try (OnnxDecoder decoder = OnnxDecoder.open(out, 0)) {
            float[][] ours = Evaluator.logits(decoder, GoldenLogits.inputIds(golden), 0);
            double d = GoldenLogits.maxAbsDiff(ours, 0, (int) full.shape()[1], full, (int) full.shape()[2]);
            System.out.printf("%s fp16 weights vs golden: max |diff| %.3g%n", model, d);
            assertTrue(d < bf16Effect, "fp16: " + d);
        }
    }

    private static void export(Path dir, Path out, ExportOptions options) throws Exception {
        try (Checkpoint cp = Checkpoint.open(dir)) {
            cp.model().check(cp.tensors());
            OnnxExporter.export(cp.model(), CheckpointWeights.of(cp), options, out, false, Map.of("manyone.test", "golden"),
                    cp.sideFileEntries(), "test", Progress.NONE);
        }
    }
}
