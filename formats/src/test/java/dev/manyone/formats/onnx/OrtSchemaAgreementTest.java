package dev.manyone.formats.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;
import com.google.protobuf.ByteString;
import dev.manyone.formats.onnx.OpSchemas.AttrSpec;
import dev.manyone.formats.onnx.OpSchemas.OpSchema;
import dev.manyone.formats.onnx.proto.Onnx.AttributeProto;
import dev.manyone.formats.onnx.proto.Onnx.GraphProto;
import dev.manyone.formats.onnx.proto.Onnx.ModelProto;
import dev.manyone.formats.onnx.proto.Onnx.NodeProto;
import dev.manyone.formats.onnx.proto.Onnx.OperatorSetIdProto;
import dev.manyone.formats.onnx.proto.Onnx.TensorProto;
import dev.manyone.formats.onnx.proto.Onnx.TypeProto;
import dev.manyone.formats.onnx.proto.Onnx.ValueInfoProto;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Every OpSchemas entry agrees with the schemas in the ONNX Runtime 1.29 native library, at both ends of its version
 * range: ORT's model checker reports the allowed input/output counts, rejects unknown attributes and reports missing
 * required ones. Nodes here are written as raw protos, bypassing GraphBuilder's own checks.
 */
class OrtSchemaAgreementTest {

    /** Loads a one-node model; returns ORT's error message, or null if the session was created. */
    static String load(OpSchema s, int version, int inputs, int outputs, List<AttributeProto> attrs) {
        GraphProto.Builder g = GraphProto.newBuilder().setName("probe");
        List<String> ins = new ArrayList<>();
        for (int i = 0; i < inputs; i++) {
            ins.add("in" + i);
            g.addInput(ValueInfoProto.newBuilder().setName("in" + i)
                    .setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(1))));
        }
        List<String> outs = new ArrayList<>();
        for (int i = 0; i < outputs; i++) {
            outs.add("out" + i);
            g.addOutput(ValueInfoProto.newBuilder().setName("out" + i)
                    .setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(1))));
        }
        g.addNode(NodeProto.newBuilder().setOpType(s.opType()).setDomain(s.domain()).addAllInput(ins).addAllOutput(outs).addAllAttribute(attrs));
        ModelProto m = ModelProto.newBuilder().setIrVersion(10)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(s.domain().isEmpty() ? version : 23))
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain(OpSchemas.MICROSOFT).setVersion(1))
                .setGraph(g).build();
        try (OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
            so.setSessionLogLevel(OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL); // the failures are expected
            try (OrtSession session = OrtEnvironment.getEnvironment().createSession(m.toByteArray(), so)) {
                return session.getNumOutputs() >= 0 ? null : "no outputs";
            }
        } catch (Exception e) {
            return String.valueOf(e.getMessage());
        }
    }

    static AttributeProto dummy(AttrSpec a) {
        AttributeProto.Builder b = AttributeProto.newBuilder().setName(a.name()).setType(AttributeProto.AttributeType.forNumber(a.type().code()));
        switch (a.type()) {
            case INT -> b.setI(a.name().endsWith("num_heads") ? 1 : 0);
            case FLOAT -> b.setF(0f);
            case STRING -> b.setS(ByteString.copyFromUtf8(""));
            case INTS, FLOATS, STRINGS -> { }
            case GRAPH -> b.setG(GraphProto.newBuilder().setName("empty_" + a.name()));
            case TENSOR -> b.setT(TensorProto.newBuilder().setDataType(1).addDims(1).setRawData(ByteString.copyFrom(new byte[4])));
        }
        return b.build();
    }

    static List<AttributeProto> required(OpSchema s) {
        return s.attributes().values().stream().filter(AttrSpec::required).map(OrtSchemaAgreementTest::dummy).toList();
    }

    @Test
    void arityMatchesOrt() {
        int checked = 0;
        List<String> failures = new ArrayList<>();
        for (OpSchema s : OpSchemas.all()) {
            if (ortSpecialCases(s)) {
                continue;
            }
            for (int v : new int[] {s.fromVersion(), s.toVersion()}) {
                String at = s.label() + " at " + v + ": ";
                // one more than the maximum (variadic: nothing is too many), or one fewer than the minimum
                int badIn = s.maxInputs() == Integer.MAX_VALUE ? s.minInputs() - 1 : s.maxInputs() + 1;
                if (badIn >= 0) {
                    String msg = load(s, v, badIn, s.minOutputs(), required(s));
                    check(failures, msg != null && msg.contains("input size " + badIn + " not in range [min=" + s.minInputs() + ", max=" + s.maxInputs() + "]"), at + msg);
                    checked++;
                }
                int badOut = s.maxOutputs() == Integer.MAX_VALUE ? s.minOutputs() - 1 : s.maxOutputs() + 1;
                if (badOut >= 0) {
                    String msg = load(s, v, s.minInputs(), badOut, required(s));
                    check(failures, msg != null && msg.contains("output size " + badOut + " not in range [min=" + s.minOutputs() + ", max=" + s.maxOutputs() + "]"), at + msg);
                    checked++;
                }
            }
        }
        assertEquals(List.of(), failures);
        assertTrue(checked > 100, "checked " + checked);
    }

    @Test
    void attributesMatchOrt() {
        List<String> failures = new ArrayList<>();
        for (OpSchema s : OpSchemas.all()) {
            if (ortSpecialCases(s)) {
                continue;
            }
            for (int v : new int[] {s.fromVersion(), s.toVersion()}) {
                String at = s.label() + " at " + v + ": ";
                int in = Math.max(1, s.minInputs()) > s.maxInputs() ? 0 : Math.max(1, s.minInputs());
                List<AttributeProto> all = s.attributes().values().stream().map(OrtSchemaAgreementTest::dummy).toList();
                String msg = load(s, v, in, s.minOutputs() == 0 ? 1 : s.minOutputs(), all);
                check(failures, !(msg != null && (msg.contains("Unrecognized attribute") || msg.contains("Required attribute"))), at + msg);
                List<AttributeProto> bogus = new ArrayList<>(all);
                bogus.add(AttributeProto.newBuilder().setName("bogus").setType(AttributeProto.AttributeType.INT).setI(1).build());
                String rejected = load(s, v, in, Math.max(1, s.minOutputs()), bogus);
                // ORT does not check LayerNormalization's attributes (it registers its own schema for it)
                check(failures, s.opType().equals("LayerNormalization") || rejected != null && rejected.contains("Unrecognized attribute: bogus"), at + rejected);
                for (AttrSpec a : s.attributes().values()) {
                    // the same attribute with another type must be refused
                    AttrSpec wrong = new AttrSpec(a.name(), a.type() == AttrType.INT ? AttrType.FLOAT : AttrType.INT, a.required());
                    List<AttributeProto> typed = new ArrayList<>(all.stream().filter(x -> !x.getName().equals(a.name())).toList());
                    typed.add(dummy(wrong));
                    String mismatch = load(s, v, in, Math.max(1, s.minOutputs()), typed);
                    check(failures, s.opType().equals("LayerNormalization") || mismatch != null && mismatch.contains("Mismatched attribute type"),
                            at + a.name() + ": " + mismatch);
                }
                for (AttributeProto req : required(s)) {
                    String missing = load(s, v, in, Math.max(1, s.minOutputs()), all.stream().filter(a -> !a.getName().equals(req.getName())).toList());
                    check(failures, missing != null && missing.contains("Required attribute '" + req.getName() + "' is missing"), at + missing);
                }
            }
        }
        assertEquals(List.of(), failures);
    }

    /** ORT turns Constant nodes into initializers before it checks nodes, so its checker never sees them. */
    static boolean ortSpecialCases(OpSchema s) {
        return s.domain().isEmpty() && s.opType().equals("Constant");
    }

    static void check(List<String> failures, boolean ok, String what) {
        if (!ok) {
            int i = what.indexOf(", Error ");
            failures.add(i > 0 ? what.substring(0, what.indexOf(':') + 1) + what.substring(i) : what);
        }
    }
}
