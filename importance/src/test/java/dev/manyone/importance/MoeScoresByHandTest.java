package dev.manyone.importance;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.manyone.elastic.LayerKind;
import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.MoeConfig;
import dev.manyone.elastic.TensorNames;
import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.elastic.export.CheckpointWeights;
import dev.manyone.elastic.export.DeploymentConfig;
import dev.manyone.elastic.export.ExportOptions;
import dev.manyone.elastic.export.NemotronHGraph;
import dev.manyone.elastic.export.Probes;
import dev.manyone.elastic.export.StateNames;
import dev.manyone.elastic.runtime.TokenFile;
import dev.manyone.formats.TensorSource;
import dev.manyone.formats.onnx.OnnxWriter;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The MoE scores of the estimator against a calculation in plain Java on the golden tiny-moe (its two golden
 * sequences of 37 tokens as calibration), without the MoE probes: only each MoE layer's input {@code probe.i.norm}
 * is read from a separate ONNX Runtime session; the router (sigmoid, correction bias, top-k, renormalisation,
 * scaling), the experts and the shared expert are recomputed in double from the checkpoint's weights (tiny-moe's
 * routing margins are ≥ 1.3e-3, so fp32 inputs choose the same experts). Checked: routed-token counts exactly, REAP
 * and mean routing weight, each expert's neuron scores over its own tokens (per window the mean over its routed
 * positions, L2 over windows), the shared expert's over all tokens, and the rankings by each statistic.
 */
class MoeScoresByHandTest {
    static final Path TINY = Golden.tinyMoe();
    static List<long[]> ids;
    static ModelDescription model;
    /** layer → [window][position][H] of probe.i.norm */
    static Map<Integer, float[][]> norms = new HashMap<>();
    static ImportanceEstimator.Result est;

    @BeforeAll
    static void run(@TempDir Path tmp) throws Exception {
        ids = TokenFile.read(TINY.resolve("golden.safetensors"), 512);
        Path onnx = tmp.resolve("probe.onnx");
        try (Checkpoint cp = Checkpoint.open(TINY)) {
            model = cp.model();
            OnnxWriter.write(NemotronHGraph.build(model, new CheckpointWeights(cp.tensors()), ExportOptions.DEFAULT.withProbes()),
                    onnx, OnnxWriter.Options.defaults("test"));
        }
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        Map<Integer, List<float[]>> perLayer = new HashMap<>();
        try (OrtSession s = env.createSession(onnx.toString(), new OrtSession.SessionOptions())) {
            for (long[] row : ids) {
                Map<String, OnnxTensor> feed = new HashMap<>();
                for (DeploymentConfig.State st : DeploymentConfig.of(model, "x", ExportOptions.DEFAULT).states()) {
                    long[] shape = st.shape(1, 0);
                    int n = 1;
                    for (long d : shape) {
                        n *= (int) d;
                    }
                    feed.put(st.past(), OnnxTensor.createTensor(env, FloatBuffer.allocate(n), shape));
                }
                feed.put(StateNames.INPUT_IDS, OnnxTensor.createTensor(env, LongBuffer.wrap(row), new long[] {1, row.length}));
                try (OrtSession.Result r = s.run(feed)) {
                    for (LayerSpec l : model.layers()) {
                        if (l.kind() == LayerKind.MOE) {
                            float[] a = ((OnnxTensor) r.get(Probes.norm(l.index())).orElseThrow()).getFloatBuffer().array();
                            perLayer.computeIfAbsent(l.index(), k -> new ArrayList<>()).add(a.clone());
                        }
                    }
                }
                feed.values().forEach(OnnxTensor::close);
            }
        }
        perLayer.forEach((i, w) -> norms.put(i, w.toArray(float[][]::new)));
        Calibration calib = Calibration.of(ids, "golden", "token ids", Calibration.Sampling.ALL, null);
        est = ImportanceEstimator.estimate(TINY, calib, ImportanceEstimator.Options.DEFAULT.with(DepthMethod.COSINE));
    }

    /** The by-hand statistics of one MoE layer. */
    record Expected(long[] tokens, double[] reap, double[] weight, double[][] neurons, double[] shared) {
    }

    static Expected byHand(TensorSource w, LayerSpec l) {
        MoeConfig moe = model.moe().orElseThrow();
        int i = l.index();
        int h = model.hidden();
        int e = l.experts();
        int f = l.moeFfn();
        int fs = l.sharedFfn();
        float[] gate = w.readFloats(w.require(TensorNames.gate(i)));
        float[] bias = w.readFloats(w.require(TensorNames.correctionBias(i)));
        float[][] up = new float[e][];
        float[][] down = new float[e][];
        for (int j = 0; j < e; j++) {
            up[j] = w.readFloats(w.require(TensorNames.expertUp(i, j)));
            down[j] = w.readFloats(w.require(TensorNames.expertDown(i, j)));
        }
        float[] sharedUp = w.readFloats(w.require(TensorNames.sharedUp(i)));
        long[] tokens = new long[e];
        double[] reap = new double[e];
        double[] weight = new double[e];
        double[][] neuronSq = new double[e][f];
        double[] sharedSq = new double[fs];
        for (float[] window : norms.get(i)) {
            int seq = window.length / h;
            double[][] sums = new double[e][f];
            int[] routed = new int[e];
            double[] sharedSum = new double[fs];
            for (int t = 0; t < seq; t++) {
                double[] s = new double[e];
                double[] sel = new double[e];
                for (int j = 0; j < e; j++) {
                    s[j] = 1 / (1 + Math.exp(-dot(gate, j * h, window, t * h, h)));
                    sel[j] = s[j] + bias[j];
                }
                int[] chosen = java.util.stream.IntStream.range(0, e).boxed()
                        .sorted((a, b) -> Double.compare(sel[b], sel[a])).limit(moe.expertsPerToken())
                        .mapToInt(Integer::intValue).toArray();
                double sum = 0;
                for (int j : chosen) {
                    sum += s[j];
                }
                for (int j : chosen) {
                    double wj = (moe.normTopkProb() ? s[j] / (sum + 1e-20) : s[j]) * moe.routedScalingFactor();
                    double[] act = new double[f];
                    for (int u = 0; u < f; u++) {
                        double a = Math.max(0, dot(up[j], u * h, window, t * h, h));
                        act[u] = a * a;
                        sums[j][u] += act[u];
                    }
                    double norm = 0;
                    for (int c = 0; c < h; c++) {
                        double y = 0;
                        for (int u = 0; u < f; u++) {
                            y += down[j][c * f + u] * act[u];
                        }
                        norm += y * y;
                    }
                    tokens[j]++;
                    routed[j]++;
                    weight[j] += wj;
                    reap[j] += wj * Math.sqrt(norm);
                }
                for (int u = 0; u < fs; u++) {
                    double a = Math.max(0, dot(sharedUp, u * h, window, t * h, h));
                    sharedSum[u] += a * a;
                }
            }
            for (int j = 0; j < e; j++) {
                for (int u = 0; u < f && routed[j] > 0; u++) {
                    neuronSq[j][u] += Math.pow(sums[j][u] / routed[j], 2);
                }
            }
            for (int u = 0; u < fs; u++) {
                sharedSq[u] += Math.pow(sharedSum[u] / seq, 2);
            }
        }
        double[][] neurons = new double[e][f];
        for (int j = 0; j < e; j++) {
            reap[j] /= tokens[j];
            weight[j] /= tokens[j];
            for (int u = 0; u < f; u++) {
                neurons[j][u] = Math.sqrt(neuronSq[j][u]);
            }
        }
        double[] shared = new double[fs];
        for (int u = 0; u < fs; u++) {
            shared[u] = Math.sqrt(sharedSq[u]);
        }
        return new Expected(tokens, reap, weight, neurons, shared);
    }

    private static double dot(float[] w, int wFrom, float[] x, int xFrom, int n) {
        double s = 0;
        for (int k = 0; k < n; k++) {
            s += (double) w[wFrom + k] * x[xFrom + k];
        }
        return s;
    }

    static void close(double[] expected, double[] actual, double rel, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int k = 0; k < expected.length; k++) {
            assertEquals(expected[k], actual[k], rel * Math.abs(expected[k]) + 1e-9, what + "[" + k + "]");
        }
    }

    @Test
    void expertStatisticsNeuronsAndRankingsByHand() {
        int layers = 0;
        try (Checkpoint cp = Checkpoint.open(TINY)) {
            for (LayerSpec l : model.layers()) {
                if (l.kind() != LayerKind.MOE) {
                    continue;
                }
                layers++;
                String what = "layer " + l.index();
                Expected x = byHand(cp.tensors(), l);
                Scores.Layer got = est.scores().perLayer().get(l.index());
                assertArrayEquals(x.tokens(), got.experts().tokens(), what + " routed tokens");
                assertEquals(2L * ids.size() * ids.get(0).length, java.util.Arrays.stream(x.tokens()).sum(), "k per token");
                close(x.reap(), got.experts().score(ExpertStatistic.REAP), 1e-4, what + " reap");
                close(x.weight(), got.experts().score(ExpertStatistic.WEIGHT), 1e-5, what + " weight");
                for (int j = 0; j < l.experts(); j++) {
                    close(x.neurons()[j], got.expertFfn()[j], 1e-4, what + " expert_ffn[" + j + "]");
                    assertArrayEquals(Scores.order(x.neurons()[j]), est.rankings().layer(l.index()).expertFfn()[j],
                            what + " expert " + j + " neuron ranking");
                }
                close(x.shared(), got.sharedFfn(), 1e-4, what + " shared_ffn");
                assertArrayEquals(Scores.order(x.shared()), est.rankings().layer(l.index()).sharedFfn(), what + " shared ranking");
                assertArrayEquals(Scores.order(x.reap()), est.rankings().layer(l.index()).experts(), what + " REAP ranking");
                double[] freq = java.util.Arrays.stream(x.tokens()).asDoubleStream().toArray();
                for (ExpertStatistic by : ExpertStatistic.values()) {
                    double[] expected = switch (by) {
                        case REAP -> x.reap();
                        case WEIGHT -> x.weight();
                        case FREQUENCY -> freq;
                        case MASS -> java.util.stream.IntStream.range(0, freq.length).mapToDouble(j -> x.weight()[j] * freq[j]).toArray();
                    };
                    assertArrayEquals(Scores.order(expected), est.scores().withExpertsBy(by).rankings(model).layer(l.index()).experts(),
                            what + " ranking by " + by.text());
                }
            }
        }
        assertEquals(3, layers, "tiny-moe has MoE layers 1, 4, 6");
    }

    @Test
    void neverRoutedExpertsRankLastByAscendingId() {
        // experts 1 and 3 were never chosen: after every routed expert whatever their score, ties by id
        Scores.Experts e = new Scores.Experts(new long[] {5, 0, 3, 0, 9}, new double[] {0.5, 0, 0.7, 0, 0.1},
                new double[] {0.2, 0, 0.9, 0, 0.3});
        assertArrayEquals(new int[] {2, 0, 4, 1, 3}, e.order(ExpertStatistic.REAP));
        assertArrayEquals(new int[] {2, 4, 0, 1, 3}, e.order(ExpertStatistic.WEIGHT));
        assertArrayEquals(new int[] {4, 0, 2, 1, 3}, e.order(ExpertStatistic.FREQUENCY));
        // a routed expert with a zero score still ranks before the never-routed ones
        Scores.Experts z = new Scores.Experts(new long[] {0, 2}, new double[] {0, 0}, new double[] {0, 0});
        assertArrayEquals(new int[] {1, 0}, z.order(ExpertStatistic.REAP));
        assertTrue(z.score(ExpertStatistic.FREQUENCY)[1] == 2);
        assertArrayEquals(new double[] {1.0, 0, 2.7, 0, 2.7}, e.score(ExpertStatistic.MASS), 1e-12);
    }
}
