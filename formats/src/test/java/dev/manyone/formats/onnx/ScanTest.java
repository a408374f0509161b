package dev.manyone.formats.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.manyone.formats.onnx.proto.Onnx.GraphProto;
import dev.manyone.formats.onnx.proto.Onnx.ModelProto;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A Scan whose body keeps a running sum and uses values of the enclosing graph. */
class ScanTest {

    @Test
    void runningSumScanRunsInOrt(@TempDir Path dir) throws Exception {
        GraphBuilder g = new GraphBuilder("scan", 23);
        String init = g.input("init", ElemType.FLOAT, 2);
        String xs = g.input("xs", ElemType.FLOAT, "T", 2);
        String scale = g.constantFloat("scale", new long[] {2}, 0.5f, 2f);

        GraphBuilder body = g.subgraph("body");
        String sIn = body.input("sum_in", ElemType.FLOAT, 2);
        String xt = body.input("x_t", ElemType.FLOAT, 2);
        body.output("sum_out", ElemType.FLOAT, 2);
        body.output("y_t", ElemType.FLOAT, 2);
        body.opNamed("", "Add", List.of(sIn, xt), List.of("sum_out"), Attrs.none());
        String scaled = body.op("Mul", Attrs.none(), "sum_out", scale);          // outer-scope value
        String one = body.scalarFloat("one", 1f);                                  // stored in the top-level graph
        body.opNamed("", "Add", List.of(scaled, one), List.of("y_t"), Attrs.none());

        g.output("final", ElemType.FLOAT, 2);
        g.output("ys", ElemType.FLOAT, "T", 2);
        g.opNamed("", "Scan", List.of(init, xs), List.of("final", "ys"), Attrs.none().graph("body", body).i("num_scan_inputs", 1));

        Path onnx = dir.resolve("scan.onnx");
        OnnxWriter.write(g, onnx, OnnxWriter.Options.defaults("test"));

        ModelProto m = ModelProto.parseFrom(Files.readAllBytes(onnx));
        GraphProto bodyProto = m.getGraph().getNode(0).getAttribute(0).getG();
        assertEquals("body", bodyProto.getName());
        assertEquals(0, bodyProto.getInitializerCount());
        assertEquals(List.of("scale", "one"), m.getGraph().getInitializerList().stream().map(t -> t.getName()).toList());

        float[] x = {1, 2, 3, 4, 5, 6};
        Map<String, float[]> out = Ort.run(onnx, Map.of("init", new Ort.In(new float[] {10, 20}, 2), "xs", new Ort.In(x, 3, 2)));
        Ort.assertClose(new float[] {19, 32}, out.get("final"), 0, "final");
        float[] ys = new float[6];
        float a = 10;
        float b = 20;
        for (int t = 0; t < 3; t++) {
            a += x[2 * t];
            b += x[2 * t + 1];
            ys[2 * t] = a * 0.5f + 1;
            ys[2 * t + 1] = b * 2f + 1;
        }
        Ort.assertClose(ys, out.get("ys"), 1e-6, "ys");

        // the attached body is frozen
        assertThrows(IllegalStateException.class, () -> body.op("Identity", Attrs.none(), "sum_out"));
    }
}
