package dev.manyone.elastic.slice;

import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.elastic.export.ExportOptions;
import dev.manyone.elastic.export.OnnxExporter;
import dev.manyone.elastic.runtime.Evaluator;
import dev.manyone.elastic.runtime.OnnxDecoder;
import dev.manyone.elastic.runtime.TokenFile;
import dev.manyone.formats.DType;
import dev.manyone.formats.Progress;
import dev.manyone.formats.Safetensors;
import dev.manyone.formats.TensorInfo;
import dev.manyone.formats.TensorSource;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every golden child, sliced from the parent straight into ONNX (no intermediate checkpoint), gives the golden
 * child logits within 1e-4: extraction and export agree with the independent reference end to end, including
 * heterogeneous per-layer widths and dropped layers.
 */
class GoldenChildLogitsTest {

    @ParameterizedTest
    @CsvSource({"tiny-hybrid,6B-style,CONTRIB", "tiny-hybrid,9B-style,PORTABLE", "tiny-hybrid,12B-style,CONTRIB",
        "trained-hybrid,75pct,PORTABLE", "trained-hybrid,50pct,CONTRIB",
        "tiny-moe,small,CONTRIB", "tiny-moe,medium,CONTRIB", "tiny-moe,full,CONTRIB",
        "tiny-latent-moe,small,CONTRIB", "tiny-latent-moe,full,CONTRIB"})
    void childLogitsMatchGolden(String model, String child, ExportOptions.Mamba mamba, @TempDir Path tmp) throws Exception {
        Path parentDir = GoldenChildrenTest.golden().resolve(model);
        Path rankings = parentDir.resolve("rankings.json");
        Path out = tmp.resolve("onnx");
        try (Checkpoint parent = Checkpoint.open(parentDir)) {
            SlicePlan plan = SlicePlan.of(parent.model(), SpecFiles.readSpec(rankings, child),
                    SpecFiles.rankingsIn(rankings, parent.model()).orElseThrow(), rankings);
            OnnxExporter.export(ModelDescription.of(plan.config()), new SlicedWeights(parent.tensors(), plan),
                    new ExportOptions(mamba, ExportOptions.Weights.FP32), out, false, Map.of(), List.of(), "test", Progress.NONE);
        }
        Path golden = parentDir.resolve("golden.safetensors");
        List<long[]> ids = TokenFile.read(golden, Integer.MAX_VALUE);
        float[] expected;
        long[] shape;
        try (TensorSource src = Safetensors.open(parentDir.resolve("child-" + child + ".safetensors"))) {
            TensorInfo t = src.require("logits");
            assertEquals(DType.F32, t.dtype());
            expected = src.readFloats(t);
            shape = t.shape();
        }
        int seq = (int) shape[1];
        int vocab = (int) shape[2];
        try (OnnxDecoder decoder = OnnxDecoder.open(out, 0)) {
            float[][] ours = Evaluator.logits(decoder, ids, 0);
            double max = 0;
            for (int b = 0; b < ids.size(); b++) {
                for (int i = 0; i < seq * vocab; i++) {
                    max = Math.max(max, Math.abs(ours[b][i] - expected[b * seq * vocab + i]));
                }
            }
            System.out.printf("%s %s (%s): max |diff| %.3g%n", model, child, mamba, max);
            assertTrue(max < 1e-4, child + ": " + max);
        }
    }
}
