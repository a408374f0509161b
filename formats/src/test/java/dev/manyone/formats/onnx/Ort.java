package dev.manyone.formats.onnx;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Test helper: load a written model from its path with ONNX Runtime and run it on float inputs. */
final class Ort {
    private Ort() {
    }

    /** A float input: flat values and shape. */
    record In(float[] values, long... shape) {
    }

    /** Runs the model at {@code model}; returns every output, flattened, by name. */
    static Map<String, float[]> run(Path model, Map<String, In> inputs) throws OrtException {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions();
             OrtSession session = env.createSession(model.toString(), opts)) {
            Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
            try {
                for (Map.Entry<String, In> e : inputs.entrySet()) {
                    feeds.put(e.getKey(), OnnxTensor.createTensor(env, FloatBuffer.wrap(e.getValue().values()), e.getValue().shape()));
                }
                Map<String, float[]> out = new LinkedHashMap<>();
                try (OrtSession.Result r = session.run(feeds)) {
                    for (Map.Entry<String, ai.onnxruntime.OnnxValue> e : r) {
                        OnnxTensor t = (OnnxTensor) e.getValue();
                        FloatBuffer fb = t.getFloatBuffer();
                        float[] v = new float[fb.remaining()];
                        fb.get(v);
                        out.put(e.getKey(), v);
                    }
                }
                return out;
            } finally {
                for (OnnxTensor t : feeds.values()) {
                    t.close();
                }
            }
        }
    }

    /** Names of the session's outputs, in order. */
    static List<String> outputNames(Path model) throws OrtException {
        try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions();
             OrtSession session = OrtEnvironment.getEnvironment().createSession(model.toString(), opts)) {
            return List.copyOf(session.getOutputNames());
        }
    }

    static void assertClose(float[] expected, float[] actual, double tol, String what) {
        org.junit.jupiter.api.Assertions.assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            if (Math.abs(expected[i] - actual[i]) > tol * Math.max(1, Math.abs(expected[i]))) {
                org.junit.jupiter.api.Assertions.fail(what + "[" + i + "]: expected " + expected[i] + ", got " + actual[i]);
            }
        }
    }

    static float[] random(java.util.Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return v;
    }
}
