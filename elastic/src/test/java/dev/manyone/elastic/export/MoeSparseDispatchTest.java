package dev.manyone.elastic.export;

import dev.manyone.elastic.ExpectedTensor;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.TensorNames;
import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.elastic.runtime.Evaluator;
import dev.manyone.elastic.runtime.OnnxDecoder;
import dev.manyone.formats.Progress;
import dev.manyone.formats.onnx.TensorData;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The MoE graph is sparse: an expert no token is routed to is not computed. The golden tiny-moe is altered so that
 * experts 5, 6 and 7 of every MoE layer can never be chosen (correction bias −1000, while every other sel is
 * above 0.87) and their weights are NaN. Any computation on them would put NaN into the logits (NaN · 0 is NaN),
 * as the dense dispatch, which evaluates every expert, shows. The sorted dispatch must give finite logits, in one
 * call and as prefill + decode steps, identical to the same model with those experts' weights set to zero.
 */
class MoeSparseDispatchTest {
    private static final Set<Integer> NEVER = Set.of(5, 6, 7);

    @AfterEach
    void resetDispatch() {
        System.clearProperty("manyone.moe.dispatch");
    }

    /** tiny-moe with experts 5..7 unreachable and their weights replaced by {@code fill}. */
    private static Path export(Path out, float fill) throws Exception {
        Path dir = GoldenLogits.golden().resolve("tiny-moe");
        try (Checkpoint cp = Checkpoint.open(dir)) {
            ModelDescription m = cp.model();
            CheckpointWeights base = new CheckpointWeights(cp.tensors());
            WeightSource poisoned = (name, fp16) -> {
                ExpectedTensor t = m.expectedTensors().stream().filter(e -> e.name().equals(name)).findFirst()
                        .orElseThrow();
                if (TensorNames.alwaysF32(name)) {
                    float[] bias = floats(base.tensor(name, false));
                    for (int j : NEVER) {
                        bias[j] = -1000f;
                    }
                    return TensorData.ofFloats(bias);
                }
                for (int j : NEVER) {
                    if (name.contains(".mixer.experts." + j + ".")) {
                        float[] v = new float[(int) t.elementCount()];
                        Arrays.fill(v, fill);
                        return TensorData.ofFloats(v);
                    }
                }
                return base.tensor(name, fp16);
            };
            OnnxExporter.export(m, poisoned, ExportOptions.DEFAULT, out, false, Map.of(), List.of(), "test",
                    Progress.NONE);
        }
        return out;
    }

    private static float[] floats(TensorData d) {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        try {
            d.writeTo(java.nio.channels.Channels.newChannel(bytes));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        java.nio.FloatBuffer f = java.nio.ByteBuffer.wrap(bytes.toByteArray()).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                .asFloatBuffer();
        float[] out = new float[f.remaining()];
        f.get(out);
        return out;
    }

    private static float[][] logits(Path onnx, int prefill) throws Exception {
        List<long[]> ids = GoldenLogits.inputIds(GoldenLogits.golden().resolve("tiny-moe/golden.safetensors"));
        try (OnnxDecoder decoder = OnnxDecoder.open(onnx, 0)) {
            return Evaluator.logits(decoder, ids, prefill);
        }
    }

    private static boolean allFinite(float[][] a) {
        for (float[] row : a) {
            for (float v : row) {
                if (!Float.isFinite(v)) {
                    return false;
                }
            }
        }
        return true;
    }

    /** The measured alternatives (docs/moe.md) compute the same function: golden parity for tiny-latent-moe. */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"dense", "gather"})
    void measuredAlternativesMatchGolden(String dispatch, @TempDir Path tmp) throws Exception {
        System.setProperty("manyone.moe.dispatch", dispatch);
        Path dir = GoldenLogits.golden().resolve("tiny-latent-moe");
        Path out = tmp.resolve("onnx");
        try (Checkpoint cp = Checkpoint.open(dir)) {
            OnnxExporter.export(cp.model(), new CheckpointWeights(cp.tensors()), ExportOptions.DEFAULT, out, false,
                    Map.of(), List.of(), "test", Progress.NONE);
        }
        Path golden = dir.resolve("golden.safetensors");
        GoldenLogits.Tensor full = GoldenLogits.read(golden, "logits");
        try (OnnxDecoder decoder = OnnxDecoder.open(out, 0)) {
            float[][] ours = Evaluator.logits(decoder, GoldenLogits.inputIds(golden), 0);
            double d = GoldenLogits.maxAbsDiff(ours, 0, (int) full.shape()[1], full, (int) full.shape()[2]);
            assertTrue(d < GoldenParityTest.TOLERANCE, dispatch + ": " + d);
        }
    }

    /**
     * A layer of 160 experts (Nemotron 3 Nano has 128): the per-expert bound and split constants pass 1 KiB, the size
     * from which initializers go to external data, where ONNX Runtime's shape inference cannot read a Split's sizes.
     * The export must load, and the sorted dispatch must compute what the dense dispatch computes.
     */
    @Test
    void manyExpertsLoadAndMatchTheDenseDispatch(@TempDir Path tmp) throws Exception {
        dev.manyone.elastic.NemotronHConfig config = dev.manyone.elastic.generate.Presets.load("moe-example").with(o -> {
            o.put("n_routed_experts", 160);
            o.put("moe_intermediate_size", 8);
            o.put("num_experts_per_tok", 6);
        });
        Path parent = tmp.resolve("parent");
        new dev.manyone.elastic.generate.ModelGenerator(config, 7, dev.manyone.elastic.generate.ModelGenerator.DEFAULT_SHARD_BYTES, 2)
                .write(parent, false, Progress.NONE);
        List<long[]> ids = List.of(new long[] {5, 17, 300, 42, 7, 900, 11, 64, 3, 250, 128, 77});
        float[][][] out = new float[2][][];
        String[] dispatch = {"sorted", "dense"};
        for (int d = 0; d < 2; d++) {
            System.setProperty("manyone.moe.dispatch", dispatch[d]);
            Path onnx = tmp.resolve("onnx-" + dispatch[d]);
            try (Checkpoint cp = Checkpoint.open(parent)) {
                OnnxExporter.export(cp.model(), new CheckpointWeights(cp.tensors()), ExportOptions.DEFAULT, onnx, false,
                        Map.of(), List.of(), "test", Progress.NONE);
            }
            try (OnnxDecoder decoder = OnnxDecoder.open(onnx, 2)) {
                out[d] = Evaluator.logits(decoder, ids, 6);
            }
        }
        double worst = 0;
        for (int r = 0; r < out[0].length; r++) {
            for (int c = 0; c < out[0][r].length; c++) {
                worst = Math.max(worst, Math.abs(out[0][r][c] - out[1][r][c]));
            }
        }
        assertTrue(allFinite(out[0]) && worst < 1e-4, "sorted vs dense dispatch: " + worst);
    }

    @Test
    void unchosenExpertsAreNotComputed(@TempDir Path tmp) throws Exception {
        Path nan = export(tmp.resolve("nan"), Float.NaN);
        Path zero = export(tmp.resolve("zero"), 0f);
        float[][] full = logits(nan, 0);
        float[][] traced = logits(nan, 30);
        assertTrue(allFinite(full), "an unreachable expert's NaN weights reached the logits (full sequence)");
        assertTrue(allFinite(traced), "an unreachable expert's NaN weights reached the logits (decode steps)");
        float[][] zeroFull = logits(zero, 0);
        for (int r = 0; r < full.length; r++) {
            assertArrayEquals(zeroFull[r], full[r], "row " + r);
        }

        // the test has teeth: the dense dispatch evaluates every expert and the NaN propagates
        System.setProperty("manyone.moe.dispatch", "dense");
        Path dense = export(tmp.resolve("dense"), Float.NaN);
        assertFalse(allFinite(logits(dense, 0)), "dense dispatch should have computed the NaN experts");
    }
}
