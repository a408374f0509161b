package dev.manyone.elastic.export;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.manyone.elastic.LayerKind;
import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.MoeConfig;
import dev.manyone.elastic.TensorNames;
import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.formats.TensorSource;
import dev.manyone.formats.onnx.OnnxWriter;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The MoE probes of a probe export are what importance reads, so they are checked against the layer they come from:
 * on the golden tiny-moe and tiny-latent-moe, for every token of every MoE layer, exactly k experts have a positive
 * weight in {@code moe_weights} (summing to routed_scaling_factor when renormalised), {@code expert_norm} and
 * {@code expert_ffn} are zero exactly where the weight is, each chosen expert's norm equals
 * ‖down_j · expert_ffn_j‖₂ recomputed in Java from the checkpoint, and the layer's update of the residual stream
 * ({@code probe.i.hidden − probe.(i−1).hidden}) equals Σ_j w_j · down_j(expert_ffn_j) (through fc2_latent) +
 * shared_down(shared_ffn): the probes rebuild the layer's output. trained-moe's 8 × 256 held-out bytes run with two
 * intra-op threads, three times: enough work for ONNX Runtime to split the MoE ops over threads, which is where the
 * earlier combine step (ScatterND with reduction add) lost updates.
 */
class MoeProbeTest {

    @ParameterizedTest
    @ValueSource(strings = {"tiny-moe", "tiny-latent-moe", "trained-moe"})
    void probesRebuildTheMoeLayer(String name, @TempDir Path tmp) throws Exception {
        Path dir = GoldenLogits.golden().resolve(name);
        // trained-moe: its 8 × 256 held-out bytes, enough tokens for ONNX Runtime to run the MoE ops multi-threaded
        List<long[]> ids = GoldenLogits.inputIds(dir.resolve(name.equals("trained-moe") ? "heldout.safetensors" : "golden.safetensors"));
        Path onnx = tmp.resolve("probe.onnx");
        ModelDescription model;
        try (Checkpoint cp = Checkpoint.open(dir)) {
            model = cp.model();
            OnnxWriter.write(NemotronHGraph.build(model, new CheckpointWeights(cp.tensors()), ExportOptions.DEFAULT.withProbes()),
                    onnx, OnnxWriter.Options.defaults("test"));
            MoeConfig moe = model.moe().orElseThrow();
            int h = model.hidden();
            int hm = moe.expertWidth(h);
            OrtEnvironment env = OrtEnvironment.getEnvironment();
            OrtSession.SessionOptions so = new OrtSession.SessionOptions();
            so.setIntraOpNumThreads(2); // multi-threaded kernels: a combine by ScatterND(add) lost updates here
            try (OrtSession s = env.createSession(onnx.toString(), so)) {
                int batch = ids.size();
                int seq = ids.get(0).length;
                Map<String, OnnxTensor> feed = ProbeExportTest.zeroState(env, model, batch);
                LongBuffer buf = LongBuffer.allocate(batch * seq);
                ids.forEach(buf::put);
                buf.flip();
                feed.put(StateNames.INPUT_IDS, OnnxTensor.createTensor(env, buf, new long[] {batch, seq}));
                for (int repeat = 0; repeat < (name.equals("trained-moe") ? 3 : 1); repeat++) { // races need not show every run
                try (OrtSession.Result r = s.run(feed)) {
                    int checked = 0;
                    for (LayerSpec l : model.layers()) {
                        if (l.kind() != LayerKind.MOE) {
                            continue;
                        }
                        checkLayer(r, cp.tensors(), model, moe, l, batch * seq, h, hm);
                        checked++;
                    }
                    assertTrue(checked >= 3, "MoE layers checked: " + checked);
                }
                }
                feed.values().forEach(OnnxTensor::close);
            }
        }
    }

    private static void checkLayer(OrtSession.Result r, TensorSource w, ModelDescription model, MoeConfig moe, LayerSpec l,
                                   int tokens, int h, int hm) {
        int i = l.index();
        int e = l.experts();
        int f = l.moeFfn();
        int fs = l.sharedFfn();
        float[] weights = get(r, Probes.moeWeights(i));
        float[] norms = get(r, Probes.expertNorm(i));
        float[] act = get(r, Probes.expertFfn(i));
        float[] shared = get(r, Probes.sharedFfn(i));
        float[] after = get(r, Probes.hidden(i));
        float[] before = get(r, i == 0 ? Probes.EMBED : Probes.hidden(i - 1));
        assertEquals((long) tokens * e, weights.length);
        assertEquals((long) tokens * e * f, act.length);
        assertEquals((long) tokens * fs, shared.length);
        float[][] down = new float[e][];
        for (int j = 0; j < e; j++) {
            down[j] = w.readFloats(w.require(TensorNames.expertDown(i, j)));
        }
        float[] sharedDown = w.readFloats(w.require(TensorNames.sharedDown(i)));
        float[] latentOut = moe.hasLatent() ? w.readFloats(w.require(TensorNames.latentOut(i))) : null;
        double worst = 0;
        for (int t = 0; t < tokens; t++) {
            int chosen = 0;
            double wsum = 0;
            double[] routed = new double[hm];
            for (int j = 0; j < e; j++) {
                float wj = weights[t * e + j];
                int base = (t * e + j) * f;
                if (wj == 0) {
                    assertEquals(0f, norms[t * e + j], "layer " + i + " token " + t + " expert " + j);
                    for (int u = 0; u < f; u++) {
                        assertEquals(0f, act[base + u]);
                    }
                    continue;
                }
                assertTrue(wj > 0);
                chosen++;
                wsum += wj;
                double[] y = matVec(down[j], act, base, hm, f);
                double norm = 0;
                for (int c = 0; c < hm; c++) {
                    norm += y[c] * y[c];
                    routed[c] += wj * y[c];
                }
                assertEquals(Math.sqrt(norm), norms[t * e + j], 1e-4 * (1 + Math.sqrt(norm)), "norm, layer " + i + " expert " + j);
            }
            assertEquals(moe.expertsPerToken(), chosen, "layer " + i + " token " + t);
            if (moe.normTopkProb()) {
                assertEquals(moe.routedScalingFactor(), wsum, 1e-5);
            }
            double[] out = latentOut == null ? routed : matVec(latentOut, toFloat(routed), 0, h, hm);
            double[] sh = matVec(sharedDown, shared, t * fs, h, fs);
            for (int c = 0; c < h; c++) {
                double expected = after[t * h + c] - before[t * h + c];
                worst = Math.max(worst, Math.abs(out[c] + sh[c] - expected) / (1 + Math.abs(expected)));
            }
        }
        assertTrue(worst < 1e-4, "layer " + i + ": probes rebuild the residual update within " + worst);
    }

    /** m [rows, cols] row-major times x[from .. from + cols). */
    private static double[] matVec(float[] m, float[] x, int from, int rows, int cols) {
        double[] y = new double[rows];
        for (int a = 0; a < rows; a++) {
            double s = 0;
            for (int b = 0; b < cols; b++) {
                s += (double) m[a * cols + b] * x[from + b];
            }
            y[a] = s;
        }
        return y;
    }

    private static float[] toFloat(double[] a) {
        float[] out = new float[a.length];
        for (int k = 0; k < a.length; k++) {
            out[k] = (float) a[k];
        }
        return out;
    }

    private static float[] get(OrtSession.Result r, String name) {
        return ((OnnxTensor) r.get(name).orElseThrow(() -> new AssertionError("no probe " + name))).getFloatBuffer().array();
    }
}
