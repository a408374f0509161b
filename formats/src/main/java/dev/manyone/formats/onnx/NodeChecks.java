package dev.manyone.formats.onnx;

import dev.manyone.formats.onnx.OpSchemas.AttrSpec;
import dev.manyone.formats.onnx.OpSchemas.OpSchema;
import dev.manyone.formats.onnx.OpSchemas.Param;
import java.util.List;
import java.util.Objects;

/**
 * The checks {@link GraphBuilder} runs on every node as it is added: the operator exists at the graph's opset,
 * input and output counts fit its signature, required inputs are not omitted, every input names a value that
 * already exists in this graph or an enclosing one, attributes are known, of the declared type and complete, and
 * GRAPH attributes are finished subgraphs of this graph that fit the node (Scan: "N+M inputs, N+K outputs";
 * If: one output per node output). Violations are programming errors: IllegalArgumentException naming the node,
 * the operator and the problem.
 */
final class NodeChecks {
    private NodeChecks() {
    }

    static OpSchema check(GraphBuilder g, String node, String domain, String opType, List<String> inputs, List<String> outputs,
                          Attrs attrs) {
        Objects.requireNonNull(opType, "opType");
        String where = "node '" + node + "' (" + (domain == null || domain.isEmpty() ? "ai.onnx" : domain) + "::" + opType + ")";
        int version;
        if (OpSchemas.AI_ONNX.equals(domain)) {
            version = g.opset();
        } else if (OpSchemas.MICROSOFT.equals(domain)) {
            version = OpSchemas.MICROSOFT_VERSION;
        } else {
            throw new IllegalArgumentException(where + ": unknown domain '" + domain + "' (use \"\" or \"com.microsoft\")");
        }
        OpSchema s = OpSchemas.find(domain, opType, version).orElse(null);
        if (s == null) {
            List<OpSchema> vs = OpSchemas.versions(domain, opType);
            throw new IllegalArgumentException(where + ": " + (vs.isEmpty() ? "unknown operator"
                    : "not available at version " + version + "; known for versions "
                    + vs.stream().map(v -> v.fromVersion() + ".." + v.toVersion()).toList()));
        }
        where = "node '" + node + "' (" + s.label() + ")";
        // inputs
        if (inputs.size() < s.minInputs() || inputs.size() > s.maxInputs()) {
            throw new IllegalArgumentException(where + ": " + inputs.size() + " inputs given, expects " + range(s.minInputs(), s.maxInputs())
                    + " " + s.inputs());
        }
        for (int i = 0; i < inputs.size(); i++) {
            String in = inputs.get(i);
            Param p = s.input(i);
            if (in == null) {
                throw new IllegalArgumentException(where + ": input " + i + " (" + p.name() + ") is null; use \"\" to omit an optional input");
            }
            if (in.isEmpty()) {
                if (!p.optional()) {
                    throw new IllegalArgumentException(where + ": input " + i + " (" + p.name() + ") is required but omitted (\"\")");
                }
            } else if (!g.isVisible(in)) {
                throw new IllegalArgumentException(where + ": input " + i + " (" + p.name() + ") '" + in
                        + "' is not defined (no graph input, initializer or earlier node output of that name"
                        + (g.isSubgraph() ? " in this graph or an enclosing one" : "") + ")");
            }
        }
        // outputs
        if (outputs.size() < s.minOutputs() || outputs.size() > s.maxOutputs()) {
            throw new IllegalArgumentException(where + ": " + outputs.size() + " outputs requested, expects "
                    + range(s.minOutputs(), s.maxOutputs()) + " " + s.outputs());
        }
        for (int i = 0; i < outputs.size(); i++) {
            if (outputs.get(i).isEmpty() && !s.output(i).optional()) {
                throw new IllegalArgumentException(where + ": output " + i + " (" + s.output(i).name() + ") is required but omitted (\"\")");
            }
        }
        // attributes
        Attrs a = attrs == null ? Attrs.none() : attrs;
        for (Attrs.Attr at : a.list()) {
            AttrSpec spec = s.attributes().get(at.name());
            if (spec == null) {
                throw new IllegalArgumentException(where + ": unknown attribute '" + at.name() + "' (known: "
                        + String.join(", ", s.attributes().keySet()) + ")");
            }
            if (spec.type() != at.type()) {
                throw new IllegalArgumentException(where + ": attribute '" + at.name() + "' must be " + spec.type() + ", got " + at.type());
            }
            if (at.type() == AttrType.GRAPH) {
                checkBody(g, where, at.name(), (GraphBuilder) at.value());
            }
        }
        for (AttrSpec spec : s.attributes().values()) {
            if (spec.required() && a.get(spec.name()).isEmpty()) {
                throw new IllegalArgumentException(where + ": required attribute '" + spec.name() + "' (" + spec.type() + ") is missing");
            }
        }
        checkControlFlow(where, s, inputs, outputs, a);
        return s;
    }

    private static void checkBody(GraphBuilder g, String where, String attr, GraphBuilder body) {
        if (body.parent() != g) {
            throw new IllegalArgumentException(where + ": attribute '" + attr + "': graph '" + body.name()
                    + "' was not made by subgraph() of graph '" + g.name() + "'");
        }
        if (body.attachedTo() != null) {
            throw new IllegalArgumentException(where + ": attribute '" + attr + "': graph '" + body.name()
                    + "' is already the body of node '" + body.attachedTo() + "'");
        }
        List<String> missing = body.undefinedOutputs();
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException(where + ": attribute '" + attr + "': graph '" + body.name()
                    + "' declares outputs no node produces: " + missing);
        }
        if (body.outputs().isEmpty()) {
            throw new IllegalArgumentException(where + ": attribute '" + attr + "': graph '" + body.name() + "' has no outputs");
        }
    }

    /** Scan: "body: N+M inputs, N+K outputs" matching the node's; If: both branches have one output per node output. */
    private static void checkControlFlow(String where, OpSchema s, List<String> inputs, List<String> outputs, Attrs a) {
        if (!s.domain().isEmpty()) {
            return;
        }
        if (s.opType().equals("Scan")) {
            GraphBuilder body = (GraphBuilder) a.get("body").orElseThrow().value();
            long m = (Long) a.get("num_scan_inputs").orElseThrow().value();
            if (m < 1 || m > inputs.size()) {
                throw new IllegalArgumentException(where + ": num_scan_inputs=" + m + " must be in 1.." + inputs.size());
            }
            if (body.inputs().size() != inputs.size()) {
                throw new IllegalArgumentException(where + ": body '" + body.name() + "' has " + body.inputs().size()
                        + " inputs; Scan needs one per node input (" + inputs.size() + ": N states + M scan inputs)");
            }
            if (body.outputs().size() != outputs.size()) {
                throw new IllegalArgumentException(where + ": body '" + body.name() + "' has " + body.outputs().size()
                        + " outputs; Scan needs one per node output (" + outputs.size() + ": N states + K scan outputs)");
            }
        } else if (s.opType().equals("If")) {
            for (String branch : List.of("then_branch", "else_branch")) {
                GraphBuilder br = (GraphBuilder) a.get(branch).orElseThrow().value();
                if (br.outputs().size() != outputs.size()) {
                    throw new IllegalArgumentException(where + ": " + branch + " '" + br.name() + "' has " + br.outputs().size()
                            + " outputs, the node " + outputs.size());
                }
                if (!br.inputs().isEmpty()) {
                    throw new IllegalArgumentException(where + ": " + branch + " '" + br.name() + "' must have no inputs");
                }
            }
        }
    }

    private static String range(int min, int max) {
        return max == Integer.MAX_VALUE ? "at least " + min : min == max ? String.valueOf(min) : min + ".." + max;
    }
}
