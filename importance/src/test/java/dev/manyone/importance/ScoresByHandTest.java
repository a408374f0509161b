package dev.manyone.importance;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.elastic.export.CheckpointWeights;
import dev.manyone.elastic.export.DeploymentConfig;
import dev.manyone.elastic.export.ExportOptions;
import dev.manyone.elastic.export.NemotronHGraph;
import dev.manyone.elastic.export.OnnxExporter;
import dev.manyone.elastic.export.Probes;
import dev.manyone.elastic.export.StateNames;
import dev.manyone.elastic.export.WeightSource;
import dev.manyone.elastic.runtime.Evaluator;
import dev.manyone.elastic.runtime.OnnxDecoder;
import dev.manyone.elastic.runtime.TokenFile;
import dev.manyone.elastic.slice.ChildSpec;
import dev.manyone.elastic.slice.Rankings;
import dev.manyone.elastic.slice.SlicePlan;
import dev.manyone.formats.Progress;
import dev.manyone.formats.Safetensors;
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
 * Every score of the estimator against a direct calculation on the golden tiny-hybrid (its two golden sequences of
 * 37 tokens as calibration): the activations are read from a separate ONNX Runtime session of a probe export, run
 * here without the estimator's code, and aggregated by hand with plain loops (mean over positions of |a|, L2 over
 * windows). The NMSE of each layer-removed child uses the golden logits of the full model and children exported by
 * the ordinary export path (OnnxExporter + OnnxDecoder + Evaluator).
 */
class ScoresByHandTest {
    static final Path TINY = Golden.tiny();
    static List<long[]> ids;
    static ModelDescription model;
    /** probe name → [window][position][channel] */
    static Map<String, float[][][]> probes = new HashMap<>();
    static ImportanceEstimator.Result nmse;
    static ImportanceEstimator.Result cosine;

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
        try (OrtSession s = env.createSession(onnx.toString(), new OrtSession.SessionOptions())) {
            for (int w = 0; w < ids.size(); w++) { // one window per call: nothing shared with the estimator's batching
                Map<String, OnnxTensor> feed = new HashMap<>();
                for (DeploymentConfig.State st : DeploymentConfig.of(model, "x", ExportOptions.DEFAULT).states()) {
                    long[] shape = st.shape(1, 0);
                    int n = 1;
                    for (long d : shape) {
                        n *= (int) d;
                    }
                    feed.put(st.past(), OnnxTensor.createTensor(env, FloatBuffer.allocate(n), shape));
                }
                feed.put(StateNames.INPUT_IDS, OnnxTensor.createTensor(env, LongBuffer.wrap(ids.get(w)), new long[] {1, ids.get(w).length}));
                try (OrtSession.Result r = s.run(feed)) {
                    for (var e : r) {
                        if (e.getKey().startsWith("probe.")) {
                            float[][][] a = (float[][][]) ((OnnxTensor) e.getValue()).getValue();
                            probes.computeIfAbsent(e.getKey(), k -> new float[ids.size()][][])[w] = a[0];
                        }
                    }
                }
                feed.values().forEach(OnnxTensor::close);
            }
        }
        Calibration calib = Calibration.of(ids, "golden", "token ids", Calibration.Sampling.ALL, null);
        nmse = ImportanceEstimator.estimate(TINY, calib, ImportanceEstimator.Options.DEFAULT);
        cosine = ImportanceEstimator.estimate(TINY, calib, ImportanceEstimator.Options.DEFAULT.with(DepthMethod.COSINE));
    }

    /** sqrt(Σ_windows (mean_t |a[t][c]|)²) for every channel c. */
    static double[] byHand(String probe) {
        float[][][] a = probes.get(probe);
        int width = a[0][0].length;
        double[] out = new double[width];
        for (int c = 0; c < width; c++) {
            double sumSq = 0;
            for (float[][] window : a) {
                double mean = 0;
                for (float[] position : window) {
                    mean += Math.abs(position[c]);
                }
                mean /= window.length;
                sumSq += mean * mean;
            }
            out[c] = Math.sqrt(sumSq);
        }
        return out;
    }

    static void close(double[] expected, double[] actual, double rel, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int k = 0; k < expected.length; k++) {
            assertEquals(expected[k], actual[k], rel * Math.abs(expected[k]) + 1e-12, what + "[" + k + "]");
        }
    }

    @Test
    void hiddenChannelsSumEveryNormOutput() {
        double[] expected = new double[model.hidden()];
        List<String> norms = new ArrayList<>(List.of(Probes.NORM_F));
        model.layers().forEach(l -> norms.add(Probes.norm(l.index())));
        for (String p : norms) {
            double[] s = byHand(p);
            for (int c = 0; c < expected.length; c++) {
                expected[c] += s[c];
            }
        }
        close(expected, nmse.scores().hidden(), 1e-9, "hidden");
        assertArrayEquals(Scores.order(expected), nmse.rankings().hidden());
    }

    @Test
    void mambaChannelsAndHeads() {
        for (LayerSpec l : model.layers()) {
            if (l.kind() != dev.manyone.elastic.LayerKind.MAMBA) {
                continue;
            }
            double[] inner = byHand(Probes.mambaX(l.index()));
            int heads = l.mambaHeads();
            int hd = l.mambaHeadDim();
            double[] channels = new double[hd];
            for (int c = 0; c < hd; c++) {
                for (int h = 0; h < heads; h++) {
                    channels[c] += inner[h * hd + c] * inner[h * hd + c];
                }
                channels[c] = Math.sqrt(channels[c]);
            }
            double[] headScores = new double[heads];
            for (int h = 0; h < heads; h++) {
                for (int c = 0; c < hd; c++) { // K = all channels by default
                    headScores[h] += inner[h * hd + c] * inner[h * hd + c];
                }
                headScores[h] = Math.sqrt(headScores[h]);
            }
            Scores.Layer got = nmse.scores().perLayer().get(l.index());
            close(channels, got.mambaHeadChannels(), 1e-9, "layer " + l.index() + " channels");
            close(headScores, got.mambaHeads(), 1e-9, "layer " + l.index() + " heads");
        }
    }

    @Test
    void mambaHeadsOverTheTopKChannels() {
        Calibration calib = Calibration.of(ids, "golden", "token ids", Calibration.Sampling.ALL, null);
        ImportanceEstimator.Result k4 = ImportanceEstimator.estimate(TINY, calib,
                ImportanceEstimator.Options.DEFAULT.with(DepthMethod.COSINE).withHeadChannels(4));
        LayerSpec l = model.layers().get(0);
        double[] inner = byHand(Probes.mambaX(0));
        int[] top = java.util.Arrays.copyOf(nmse.rankings().layer(0).mambaHeadChannels(), 4);
        for (int h = 0; h < l.mambaHeads(); h++) {
            double s = 0;
            for (int c : top) {
                s += inner[h * l.mambaHeadDim() + c] * inner[h * l.mambaHeadDim() + c];
            }
            assertEquals(Math.sqrt(s), k4.scores().perLayer().get(0).mambaHeads()[h], 1e-9 * Math.sqrt(s));
        }
    }

    @Test
    void attentionHeadsAreTheNormOfTheirOProjInput() {
        int hd = model.headDim();
        for (LayerSpec l : model.layers()) {
            if (l.kind() != dev.manyone.elastic.LayerKind.ATTENTION) {
                continue;
            }
            float[][][] a = probes.get(Probes.attention(l.index()));
            double[] expected = new double[l.attentionHeads()];
            for (int h = 0; h < expected.length; h++) {
                double sumSq = 0;
                for (float[][] window : a) {
                    double mean = 0;
                    for (float[] position : window) {
                        double n = 0;
                        for (int d = 0; d < hd; d++) {
                            n += (double) position[h * hd + d] * position[h * hd + d];
                        }
                        mean += Math.sqrt(n);
                    }
                    mean /= window.length;
                    sumSq += mean * mean;
                }
                expected[h] = Math.sqrt(sumSq);
            }
            close(expected, nmse.scores().perLayer().get(l.index()).attentionHeads(), 1e-9, "layer " + l.index());
        }
    }

    @Test
    void ffnNeuronsAreTheirDownProjInput() {
        for (LayerSpec l : model.layers()) {
            if (l.kind() == dev.manyone.elastic.LayerKind.MLP) {
                close(byHand(Probes.ffn(l.index())), nmse.scores().perLayer().get(l.index()).ffn(), 1e-9, "layer " + l.index());
            }
        }
    }

    @Test
    void cosineDepthAroundEveryLayer() {
        double[] expected = new double[model.layers().size()];
        for (int j = 0; j < expected.length; j++) {
            float[][][] in = probes.get(j == 0 ? Probes.EMBED : Probes.hidden(j - 1));
            float[][][] out = probes.get(Probes.hidden(j));
            double sumSq = 0;
            for (int w = 0; w < in.length; w++) {
                double mean = 0;
                for (int t = 0; t < in[w].length; t++) {
                    double dot = 0;
                    double a = 0;
                    double b = 0;
                    for (int c = 0; c < model.hidden(); c++) {
                        dot += (double) in[w][t][c] * out[w][t][c];
                        a += (double) in[w][t][c] * in[w][t][c];
                        b += (double) out[w][t][c] * out[w][t][c];
                    }
                    mean += 1 - dot / Math.sqrt(a * b);
                }
                mean /= in[w].length;
                sumSq += mean * mean;
            }
            expected[j] = Math.sqrt(sumSq);
        }
        close(expected, cosine.scores().layers(), 1e-9, "cosine");
        assertArrayEquals(Scores.order(expected), cosine.rankings().layers());
    }

    @Test
    void nmseAgainstGoldenLogitsAndExportedChildren(@TempDir Path tmp) throws Exception {
        float[] full;
        try (TensorSource g = Safetensors.open(TINY.resolve("golden.safetensors"))) {
            full = g.readFloats(g.require("logits")); // [2, 37, 512], the float64 reference
        }
        double[] expected = new double[model.layers().size()];
        try (Checkpoint cp = Checkpoint.open(TINY)) {
            for (int j = 0; j < expected.length; j++) {
                List<Integer> kept = new ArrayList<>();
                for (int i = 0; i < expected.length; i++) {
                    if (i != j) {
                        kept.add(i);
                    }
                }
                SlicePlan plan = SlicePlan.of(model, new ChildSpec(null, kept, Map.of()), Rankings.identity(model), null);
                Path dir = tmp.resolve("without-" + j);
                Map<String, String> parentName = new HashMap<>();
                plan.tensors().forEach(t -> parentName.put(t.name(), t.parentName()));
                CheckpointWeights parent = new CheckpointWeights(cp.tensors());
                WeightSource renamed = (name, fp16) -> parent.tensor(parentName.get(name), fp16); // only layers dropped
                OnnxExporter.export(ModelDescription.of(plan.config()), renamed, ExportOptions.DEFAULT,
                        dir, false, Map.of(), List.of(), "test", Progress.NONE);
                float[][] logits;
                try (OnnxDecoder d = OnnxDecoder.open(dir, 0)) {
                    logits = Evaluator.logits(d, ids, 0);
                }
                double num = 0;
                double den = 0;
                int per = logits[0].length;
                for (int w = 0; w < logits.length; w++) {
                    for (int k = 0; k < per; k++) {
                        double m = full[w * per + k];
                        num += (m - logits[w][k]) * (m - logits[w][k]);
                        den += m * m;
                    }
                }
                expected[j] = num / den;
            }
        }
        // ONNX Runtime's fp32 full logits are within 1e-4 of the golden float64 ones: a relative 1e-3 on the NMSE
        close(expected, nmse.scores().layers(), 1e-3, "nmse");
        assertArrayEquals(Scores.order(expected), nmse.rankings().layers());
        assertTrue(nmse.scores().layers()[0] > nmse.scores().layers()[8], "removing the first layer hurts more than layer 8");
    }
}
