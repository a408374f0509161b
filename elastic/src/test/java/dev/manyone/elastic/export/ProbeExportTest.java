package dev.manyone.elastic.export;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.formats.onnx.GraphBuilder;
import dev.manyone.formats.onnx.OnnxWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Probe outputs and part graphs against the golden data: probe.i.hidden of sequence 0 equals the golden
 * hidden.layer{i}.seq0 (the residual stream after layer i), and embed → layer graphs → head, each its own ONNX
 * model run one after the other, gives the golden logits.
 */
class ProbeExportTest {
    static final Path TINY = GoldenLogits.golden().resolve("tiny-hybrid");

    @Test
    void probesMatchGoldenHiddenStates(@TempDir Path tmp) throws Exception {
        List<long[]> ids = GoldenLogits.inputIds(TINY.resolve("golden.safetensors"));
        Path onnx = tmp.resolve("probe.onnx");
        ModelDescription model;
        try (Checkpoint cp = Checkpoint.open(TINY)) {
            model = cp.model();
            GraphBuilder g = NemotronHGraph.build(model, new CheckpointWeights(cp.tensors()), ExportOptions.DEFAULT.withProbes());
            OnnxWriter.write(g, onnx, OnnxWriter.Options.defaults("test"));
        }
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession s = env.createSession(onnx.toString(), new OrtSession.SessionOptions())) {
            Map<String, OnnxTensor> feed = zeroState(env, model, 1);
            feed.put(StateNames.INPUT_IDS, OnnxTensor.createTensor(env, LongBuffer.wrap(ids.get(0)), new long[] {1, ids.get(0).length}));
            try (OrtSession.Result r = s.run(feed)) {
                for (LayerSpec l : model.layers()) {
                    float[] ours = ((OnnxTensor) r.get(Probes.hidden(l.index())).orElseThrow()).getFloatBuffer().array();
                    float[] golden = GoldenLogits.read(TINY.resolve("golden.safetensors"), "hidden.layer" + l.index() + ".seq0").values();
                    assertTrue(max(ours, golden) < 1e-4, "layer " + l.index() + ": " + max(ours, golden));
                }
                for (String probe : List.of(Probes.EMBED, Probes.NORM_F, Probes.norm(0), Probes.mambaX(0), Probes.attention(3), Probes.ffn(1))) {
                    assertTrue(r.get(probe).isPresent(), probe);
                }
                long[] shape = ((OnnxTensor) r.get(Probes.mambaX(0)).orElseThrow()).getInfo().getShape();
                assertTrue(shape[2] == 128 && shape[1] == 37, java.util.Arrays.toString(shape));
            }
            feed.values().forEach(OnnxTensor::close);
        }
    }

    @Test
    void partGraphsChainedGiveTheGoldenLogits(@TempDir Path tmp) throws Exception {
        List<long[]> ids = GoldenLogits.inputIds(TINY.resolve("golden.safetensors"));
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        int batch = ids.size();
        int seq = ids.get(0).length;
        LongBuffer idBuf = LongBuffer.allocate(batch * seq);
        ids.forEach(idBuf::put);
        idBuf.flip();
        try (Checkpoint cp = Checkpoint.open(TINY)) {
            ModelDescription model = cp.model();
            WeightSource w = new CheckpointWeights(cp.tensors());
            float[] hidden = run(env, tmp, NemotronHGraph.buildPart(model, w, ExportOptions.DEFAULT, NemotronHGraph.Part.EMBED, -1),
                    Map.of(StateNames.INPUT_IDS, OnnxTensor.createTensor(env, idBuf, new long[] {batch, seq})), NemotronHGraph.HIDDEN_OUT);
            for (LayerSpec l : model.layers()) {
                Map<String, OnnxTensor> feed = new HashMap<>();
                for (var st : DeploymentConfig.of(model, "x", ExportOptions.DEFAULT).states()) {
                    if (st.layer() == l.index()) {
                        long[] shape = st.shape(batch, 0);
                        feed.put(st.past(), OnnxTensor.createTensor(env, FloatBuffer.allocate((int) java.util.Arrays.stream(shape).reduce(1, (a, b) -> a * b)), shape));
                    }
                }
                feed.put(NemotronHGraph.HIDDEN_IN, OnnxTensor.createTensor(env, FloatBuffer.wrap(hidden), new long[] {batch, seq, model.hidden()}));
                hidden = run(env, tmp, NemotronHGraph.buildPart(model, w, ExportOptions.DEFAULT, NemotronHGraph.Part.LAYER, l.index()),
                        feed, NemotronHGraph.HIDDEN_OUT);
            }
            float[] logits = run(env, tmp, NemotronHGraph.buildPart(model, w, ExportOptions.DEFAULT, NemotronHGraph.Part.HEAD, -1),
                    Map.of(NemotronHGraph.HIDDEN_IN, OnnxTensor.createTensor(env, FloatBuffer.wrap(hidden), new long[] {batch, seq, model.hidden()})),
                    StateNames.LOGITS);
            float[] golden = GoldenLogits.read(TINY.resolve("golden.safetensors"), "logits").values();
            assertTrue(max(logits, golden) < 1e-4, "chained parts: " + max(logits, golden));
        }
    }

    private static float[] run(OrtEnvironment env, Path tmp, GraphBuilder g, Map<String, OnnxTensor> feed, String output) throws Exception {
        Path file = tmp.resolve(g.name() + System.nanoTime() + ".onnx");
        OnnxWriter.write(g, file, OnnxWriter.Options.defaults("test"));
        try (OrtSession s = env.createSession(file.toString(), new OrtSession.SessionOptions());
             OrtSession.Result r = s.run(feed)) {
            return ((OnnxTensor) r.get(output).orElseThrow()).getFloatBuffer().array();
        } finally {
            feed.values().forEach(OnnxTensor::close);
        }
    }

    static Map<String, OnnxTensor> zeroState(OrtEnvironment env, ModelDescription model, int batch) throws Exception {
        Map<String, OnnxTensor> feed = new HashMap<>();
        for (var st : DeploymentConfig.of(model, "x", ExportOptions.DEFAULT).states()) {
            long[] shape = st.shape(batch, 0);
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            feed.put(st.past(), OnnxTensor.createTensor(env, FloatBuffer.allocate((int) n), shape));
        }
        return feed;
    }

    static double max(float[] a, float[] b) {
        if (a.length != b.length) {
            return Double.POSITIVE_INFINITY;
        }
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }
}
