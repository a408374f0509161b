package dev.manyone.formats.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.manyone.formats.onnx.proto.Onnx.ModelProto;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** com.microsoft::CausalConvWithState (activation silu) in ORT against a direct Java calculation. */
class ContribOpsTest {
    static final int B = 2;
    static final int C = 3;
    static final int L = 5;
    static final int K = 4;

    final Random rnd = new Random(7);
    final float[] x = Ort.random(rnd, B * C * L);
    final float[] past = Ort.random(rnd, B * C * (K - 1));
    final float[] w = Ort.random(rnd, C * K);
    final float[] bias = Ort.random(rnd, C);

    Path write(Path dir, boolean withBias) throws Exception {
        GraphBuilder g = new GraphBuilder("conv", 23);
        String in = g.input("x", ElemType.FLOAT, "batch", C, "len");
        String ps = g.input("past_state", ElemType.FLOAT, "batch", C, K - 1);
        String wn = g.initializer("conv.weight", ElemType.FLOAT, new long[] {C, 1, K}, TensorData.ofFloats(w));
        String bn = withBias ? g.initializer("conv.bias", ElemType.FLOAT, new long[] {C}, TensorData.ofFloats(bias)) : "";
        g.output("y", ElemType.FLOAT, "batch", C, "len");
        g.output("present_state", ElemType.FLOAT, "batch", C, K - 1);
        g.opNamed(OpSchemas.MICROSOFT, "CausalConvWithState", List.of(in, wn, bn, ps), List.of("y", "present_state"),
                Attrs.none().s("activation", "silu"));
        Path onnx = dir.resolve(withBias ? "conv.onnx" : "conv_nobias.onnx");
        OnnxWriter.write(g, onnx, OnnxWriter.Options.defaults("test").withExternalThresholdBytes(16));
        return onnx;
    }

    /** y[c,l] = silu(bias[c] + Σ_k w[c,k]·pad[c,l+k]), pad = concat(past_state, input) along time. */
    void check(Path onnx, boolean withBias) throws Exception {
        Map<String, float[]> out = Ort.run(onnx, Map.of("x", new Ort.In(x, B, C, L), "past_state", new Ort.In(past, B, C, K - 1)));
        float[] y = new float[B * C * L];
        float[] present = new float[B * C * (K - 1)];
        for (int b = 0; b < B; b++) {
            for (int c = 0; c < C; c++) {
                double[] pad = new double[K - 1 + L];
                for (int j = 0; j < K - 1; j++) {
                    pad[j] = past[(b * C + c) * (K - 1) + j];
                }
                for (int l = 0; l < L; l++) {
                    pad[K - 1 + l] = x[(b * C + c) * L + l];
                }
                for (int l = 0; l < L; l++) {
                    double s = withBias ? bias[c] : 0;
                    for (int k = 0; k < K; k++) {
                        s += w[c * K + k] * pad[l + k];
                    }
                    y[(b * C + c) * L + l] = (float) (s / (1 + Math.exp(-s)));
                }
                for (int j = 0; j < K - 1; j++) {
                    present[(b * C + c) * (K - 1) + j] = (float) pad[L + j];
                }
            }
        }
        Ort.assertClose(y, out.get("y"), 1e-5, "y");
        Ort.assertClose(present, out.get("present_state"), 0, "present_state");
    }

    @Test
    void causalConvWithStateMatchesJava(@TempDir Path dir) throws Exception {
        Path onnx = write(dir, true);
        ModelProto m = ModelProto.parseFrom(Files.readAllBytes(onnx));
        assertEquals(2, m.getOpsetImportCount());
        assertEquals("", m.getOpsetImport(0).getDomain());
        assertEquals(OpSchemas.MICROSOFT, m.getOpsetImport(1).getDomain());
        assertEquals(1, m.getOpsetImport(1).getVersion());
        assertEquals(OpSchemas.MICROSOFT, m.getGraph().getNode(0).getDomain());
        check(onnx, true);
    }

    @Test
    void omittedOptionalInputInTheMiddle(@TempDir Path dir) throws Exception {
        Path onnx = write(dir, false);
        ModelProto m = ModelProto.parseFrom(Files.readAllBytes(onnx));
        assertEquals(List.of("x", "conv.weight", "", "past_state"), m.getGraph().getNode(0).getInputList());
        check(onnx, false);
    }
}
