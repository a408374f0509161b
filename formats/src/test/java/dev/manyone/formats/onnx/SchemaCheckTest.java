package dev.manyone.formats.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/** Nodes are checked against OpSchemas when they are added; the graph is left unchanged by a rejected node. */
class SchemaCheckTest {
    final GraphBuilder g = new GraphBuilder("checks", 23);
    final String x = g.input("x", ElemType.FLOAT, "batch", 4);
    final String idx = g.input("idx", ElemType.INT64, 2);

    /** Asserts an IllegalArgumentException whose message contains every fragment, and that no node was added. */
    void rejects(Executable e, String... fragments) {
        int before = g.nodes().size();
        IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, e);
        for (String f : fragments) {
            assertTrue(ex.getMessage().contains(f), "message '" + ex.getMessage() + "' should contain '" + f + "'");
        }
        assertEquals(before, g.nodes().size(), "no node added");
    }

    @Test
    void unknownOperator() {
        rejects(() -> g.op("Frobnicate", Attrs.none(), x), "node 'Frobnicate_0'", "ai.onnx::Frobnicate", "unknown operator");
        rejects(() -> g.msOp("GatedRMSNorm", Attrs.none(), x), "com.microsoft::GatedRMSNorm", "unknown operator");
        rejects(() -> g.opNamed("org.example", "Relu", List.of(x), List.of("r"), Attrs.none()), "unknown domain 'org.example'");
    }

    @Test
    void operatorNotInThisOpset() {
        GraphBuilder old = new GraphBuilder("old", 22);
        String in = old.input("x", ElemType.FLOAT, 4);
        String s = old.constantFloat("s", new long[] {4}, 1, 1, 1, 1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> old.op("RMSNormalization", Attrs.none(), in, s));
        assertTrue(e.getMessage().contains("not available at version 22") && e.getMessage().contains("23..26"), e.getMessage());
        // Attention takes nonpad_kv_seqlen (a 7th input) only from opset 24
        rejects(() -> g.op("Attention", Attrs.none(), x, x, x, "", "", "", x), "7 inputs given", "expects 3..6");
        GraphBuilder g24 = new GraphBuilder("g24", 24);
        String q = g24.input("q", ElemType.FLOAT, 1, 2, 4);
        String len = g24.input("len", ElemType.INT64, 1);
        g24.op("Attention", Attrs.none().i("q_num_heads", 1).i("kv_num_heads", 1), q, q, q, "", "", "", len);
    }

    @Test
    void wrongInputCount() {
        rejects(() -> g.op("MatMul", Attrs.none(), x), "(ai.onnx::MatMul", "1 inputs given, expects 2 [A, B]");
        rejects(() -> g.op("Relu", Attrs.none(), x, x), "2 inputs given, expects 1");
        rejects(() -> g.op("Concat", Attrs.none().i("axis", 0)), "0 inputs given, expects at least 1");
        rejects(() -> g.ops("Split", 0, Attrs.none(), x), "at least one output");
        rejects(() -> g.ops("Relu", 2, Attrs.none(), x), "2 outputs requested, expects 1");
        g.op("Concat", Attrs.none().i("axis", 0), x, x, x, x); // variadic
    }

    @Test
    void requiredInputOmitted() {
        rejects(() -> g.op("Gather", Attrs.none(), x, ""), "input 1 (indices) is required but omitted");
        rejects(() -> g.opNamed(OpSchemas.MICROSOFT, "CausalConvWithState", List.of(x, "w"), List.of("y", ""), Attrs.none()),
                "input 1 (weight) 'w' is not defined");
        String w = g.constantFloat("w", new long[] {4, 1, 2}, 1, 2, 3, 4, 5, 6, 7, 8);
        rejects(() -> g.opNamed(OpSchemas.MICROSOFT, "CausalConvWithState", List.of(x, w), List.of("y", ""), Attrs.none()),
                "output 1 (present_state) is required but omitted");
    }

    @Test
    void undefinedInput() {
        rejects(() -> g.op("Add", Attrs.none(), x, "nowhere"), "node 'Add_0'", "input 1 (B) 'nowhere' is not defined");
        // a value is only visible after the node that makes it
        String r = g.op("Relu", Attrs.none(), x);
        assertEquals("Add_0_out0", g.op("Add", Attrs.none(), x, r), "the rejected node took no name");
        // a subgraph's values are not visible to the enclosing graph
        GraphBuilder body = g.subgraph("body");
        String inner = body.input("inner", ElemType.FLOAT, 4);
        rejects(() -> g.op("Neg", Attrs.none(), inner), "'inner' is not defined");
        body.op("Neg", Attrs.none(), x); // but the other way round works
    }

    @Test
    void missingRequiredAttribute() {
        rejects(() -> g.op("Cast", Attrs.none(), x), "(ai.onnx::Cast", "required attribute 'to' (INT) is missing");
        rejects(() -> g.op("Concat", Attrs.none(), x, x), "required attribute 'axis'");
        rejects(() -> g.msOps("LinearAttention", 2, Attrs.none().i("q_num_heads", 1), x, x, x), "required attribute 'kv_num_heads'");
        GraphBuilder body = g.subgraph("body");
        body.output("o", ElemType.FLOAT, 4);
        body.opNamed("", "Identity", List.of(body.input("i", ElemType.FLOAT, 4)), List.of("o"), Attrs.none());
        rejects(() -> g.op("Scan", Attrs.none().graph("body", body), x), "required attribute 'num_scan_inputs' (INT) is missing");
    }

    @Test
    void wrongAttributeType() {
        rejects(() -> g.op("Softmax", Attrs.none().f("axis", -1f), x), "attribute 'axis' must be INT, got FLOAT");
        rejects(() -> g.op("Transpose", Attrs.none().i("perm", 1), x), "attribute 'perm' must be INTS, got INT");
        rejects(() -> g.msOps("CausalConvWithState", 2, Attrs.none().i("activation", 1), x, x), "'activation' must be STRING");
    }

    @Test
    void unknownAttribute() {
        rejects(() -> g.op("Relu", Attrs.none().f("alpha", 0.1f), x), "unknown attribute 'alpha'");
        rejects(() -> g.op("Gather", Attrs.none().i("axes", 0), x, idx), "unknown attribute 'axes' (known: axis)");
        rejects(() -> g.op("Cast", Attrs.none().i("to", 1).s("round_mode", "up"), x), "unknown attribute 'round_mode'");
    }

    @Test
    void scanBodyMustMatchTheNode() {
        GraphBuilder body = g.subgraph("body");
        String s = body.input("s", ElemType.FLOAT, 4);
        body.output("s2", ElemType.FLOAT, 4);
        rejects(() -> g.op("Scan", Attrs.none().graph("body", body).i("num_scan_inputs", 1), x),
                "declares outputs no node produces: [s2]");
        body.opNamed("", "Identity", List.of(s), List.of("s2"), Attrs.none());
        rejects(() -> g.ops("Scan", 1, Attrs.none().graph("body", body).i("num_scan_inputs", 1), x, x),
                "body 'body' has 1 inputs; Scan needs one per node input (2");
        GraphBuilder foreign = new GraphBuilder("other", 23).subgraph("foreign");
        rejects(() -> g.op("Scan", Attrs.none().graph("body", foreign).i("num_scan_inputs", 1), x), "was not made by subgraph() of graph 'checks'");
    }

    @Test
    @SuppressWarnings("try")
    void namesAreUniqueAndDeterministic() {
        rejects(() -> g.input("x", ElemType.FLOAT, 1), "'x' is already used");
        String a = g.op("Relu", Attrs.none(), x);
        String b = g.op("Relu", Attrs.none(), x);
        assertEquals("Relu_0_out0", a);
        assertEquals("Relu_1_out0", b);
        assertEquals("k", g.initializer("k", ElemType.FLOAT, new long[] {1}, TensorData.ofFloats(1)));
        assertEquals("k_1", g.initializer("k", ElemType.FLOAT, new long[] {1}, TensorData.ofFloats(2)));
        assertEquals(g.constantInt64("axes", -1), g.constantInt64("other", -1), "identical constants are shared");
        try (GraphBuilder.Scope s = g.scope("layers.0")) {
            assertEquals("layers.0/Neg_0_out0", g.op("Neg", Attrs.none(), x));
        }
        rejects(() -> g.opNamed("", "Neg", List.of(x), List.of(a), Attrs.none()), "output name '" + a + "' is already used");
        rejects(() -> g.initializer("bad", ElemType.FLOAT, new long[] {2}, TensorData.ofFloats(1)), "needs 8 bytes, the data has 4");
    }

    @Test
    void writerRejectsIncompleteGraphs(@TempDir Path dir) {
        g.output("never", ElemType.FLOAT, 4);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> OnnxWriter.write(g, dir.resolve("m.onnx"), OnnxWriter.Options.defaults("t")));
        assertTrue(e.getMessage().contains("declared outputs that no node produces: [never]"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> OnnxWriter.Options.defaults("t").withIrVersion(14));
        assertThrows(IllegalArgumentException.class, () -> OnnxWriter.Options.defaults("t").withDataFileName("../w.bin"));
        assertThrows(IllegalArgumentException.class, () -> new GraphBuilder("g", 27));
    }

    @Test
    void attrsAreImmutableAndOrdered() {
        Attrs base = Attrs.none().i("axis", -1);
        Attrs more = base.f("epsilon", 1e-5f);
        assertEquals(1, base.list().size());
        assertEquals(List.of("axis", "epsilon"), more.list().stream().map(Attrs.Attr::name).toList());
        assertThrows(IllegalArgumentException.class, () -> base.i("axis", 0));
        assertTrue(Attrs.none().isEmpty());
    }
}
