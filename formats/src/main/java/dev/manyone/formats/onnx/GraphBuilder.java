package dev.manyone.formats.onnx;

import dev.manyone.formats.onnx.OpSchemas.OpSchema;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Builds one ONNX graph (and, through {@link #subgraph}, the bodies of Scan/If nodes): graph inputs and outputs,
 * initializers, nodes in topological order, opset imports and model metadata. {@link OnnxWriter} writes it.
 *
 * <p>ONNX requires "The nodes in the graph, sorted topologically" and every value name to be assigned once
 * (static single assignment). The builder enforces both by construction: a node may only use values that already
 * exist (a graph input, an initializer, an earlier node's output, or, in a subgraph, a value of an enclosing graph,
 * which ONNX makes visible to nested graphs), and every name it generates is fresh. Each node is checked against
 * {@link OpSchemas} when it is added; violations throw {@link IllegalArgumentException} naming the node, the
 * operator and the problem.
 *
 * <p>Generated names are deterministic: {@code <scope>/<OpType>_<n>} for nodes, {@code <node>_out<i>} for their
 * outputs, the hint (or {@code <hint>_<n>} when taken) for initializers. Building the same graph twice gives the same
 * names, so {@link OnnxWriter} output is byte-identical.
 *
 * <p>Not thread-safe.
 */
public final class GraphBuilder {

    /** A declared graph input or output: name, element type, dimensions (Long, String or null per axis). */
    record ValueInfo(String name, ElemType type, List<Object> dims) {
    }

    /** An initializer. Kept by the top-level graph, whatever graph created it. */
    record Initializer(String name, ElemType type, long[] dims, TensorData data) {
    }

    /** An added node. Trailing omitted ("") inputs and outputs are dropped. */
    record Node(String name, String domain, String opType, List<String> inputs, List<String> outputs, Attrs attrs) {
    }

    /** State shared by a top-level graph and all its subgraphs. */
    private static final class Shared {
        final int opset;
        final Set<String> valueNames = new HashSet<>();
        final Set<String> nodeNames = new HashSet<>();
        final Map<String, Integer> counters = new HashMap<>();
        final Deque<String> scopes = new ArrayDeque<>();
        final List<Initializer> initializers = new ArrayList<>();
        final Map<String, String> constants = new HashMap<>();
        final Map<String, String> metadata = new LinkedHashMap<>();
        boolean usesMicrosoft;

        Shared(int opset) {
            this.opset = opset;
        }
    }

    /** Constants up to this size made by the convenience methods are shared when identical. */
    private static final int SHARED_CONSTANT_BYTES = 256;

    private final String name;
    private final GraphBuilder parent;
    private final Shared shared;
    private final Set<String> defined = new HashSet<>();
    private final List<ValueInfo> inputs = new ArrayList<>();
    private final List<ValueInfo> outputs = new ArrayList<>();
    private final Set<String> pendingOutputs = new HashSet<>();
    private final List<Node> nodes = new ArrayList<>();
    private String attachedTo;

    /**
     * A top-level graph importing ai.onnx at {@code aiOnnxOpset} ({@value OpSchemas#MIN_AI_ONNX}..
     * {@value OpSchemas#MAX_AI_ONNX}; com.microsoft version 1 is imported when a contrib operator is used).
     */
    public GraphBuilder(String graphName, int aiOnnxOpset) {
        this(graphName, null, new Shared(checkOpset(aiOnnxOpset)));
    }

    private GraphBuilder(String graphName, GraphBuilder parent, Shared shared) {
        if (graphName == null || graphName.isEmpty()) {
            throw new IllegalArgumentException("graph name must not be empty");
        }
        this.name = graphName;
        this.parent = parent;
        this.shared = shared;
    }

    private static int checkOpset(int opset) {
        if (opset < OpSchemas.MIN_AI_ONNX || opset > OpSchemas.MAX_AI_ONNX) {
            throw new IllegalArgumentException("ai.onnx opset " + opset + " is outside the supported range "
                    + OpSchemas.MIN_AI_ONNX + ".." + OpSchemas.MAX_AI_ONNX + " (ONNX Runtime 1.29 loads up to 26)");
        }
        return opset;
    }

    public String name() {
        return name;
    }

    /** The ai.onnx opset of the model. */
    public int opset() {
        return shared.opset;
    }

    /** True for a graph made by {@link #subgraph}. */
    public boolean isSubgraph() {
        return parent != null;
    }

    // ---------------------------------------------------------------------------------------------- values

    /**
     * Declares a graph input named exactly {@code name}. Each of {@code dims} is a Long/Integer (fixed size, ≥ 0),
     * a String (symbolic dimension, "dim_param", e.g. "batch") or null (unknown); none for a scalar.
     *
     * @return {@code name}
     */
    public String input(String name, ElemType type, Object... dims) {
        checkOpen();
        requireFreshName(name, "graph input");
        inputs.add(new ValueInfo(name, Objects.requireNonNull(type, "type"), dims(name, dims)));
        shared.valueNames.add(name);
        defined.add(name);
        return name;
    }

    /**
     * Declares a graph output. A node of this graph must produce a value of that name, before or after this call
     * (use {@link #opNamed} to give a node output this name), or it may be a value this graph already defines.
     * Dimensions as for {@link #input}.
     */
    public void output(String name, ElemType type, Object... dims) {
        checkOpen();
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException(this.name + ": graph output name must not be empty");
        }
        for (ValueInfo v : outputs) {
            if (v.name().equals(name)) {
                throw new IllegalArgumentException(this.name + ": graph output '" + name + "' declared twice");
            }
        }
        if (!defined.contains(name)) {
            if (shared.valueNames.contains(name)) {
                throw new IllegalArgumentException(this.name + ": graph output '" + name
                        + "' names a value of another graph; a graph's outputs must be produced in that graph");
            }
            shared.valueNames.add(name);
            pendingOutputs.add(name);
        }
        outputs.add(new ValueInfo(name, Objects.requireNonNull(type, "type"), dims(name, dims)));
    }

    /**
     * Adds an initializer (a named constant tensor; weights). The name is {@code nameHint}, or
     * {@code nameHint_<n>} if that is taken. {@code data.byteSize()} must equal product(dims) × type size.
     * Initializers made in a subgraph are stored in the top-level graph (ONNX makes them visible to nested graphs).
     * Large ones are written to the external data file by {@link OnnxWriter}; the data is read only then.
     *
     * @return the initializer's name
     */
    public String initializer(String nameHint, ElemType type, long[] dims, TensorData data) {
        checkOpen();
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(data, "data");
        long n = 1;
        for (long d : dims) {
            if (d < 0) {
                throw new IllegalArgumentException("initializer '" + nameHint + "': negative dimension in " + Arrays.toString(dims));
            }
            n = Math.multiplyExact(n, d);
        }
        long expected = Math.multiplyExact(n, type.size());
        if (data.byteSize() != expected) {
            throw new IllegalArgumentException("initializer '" + nameHint + "': " + type + Arrays.toString(dims) + " needs "
                    + expected + " bytes, the data has " + data.byteSize());
        }
        GraphBuilder root = root();
        String name = fresh(nameHint == null || nameHint.isEmpty() ? "init" : nameHint);
        shared.initializers.add(new Initializer(name, type, dims.clone(), data));
        root.defined.add(name);
        return name;
    }

    /**
     * A 1-D int64 constant {@code [values.length]} (an initializer). Identical constants of up to 256 bytes made by
     * these convenience methods are shared: the second request returns the first one's name.
     */
    public String constantInt64(String hint, long... values) {
        return constant(hint, ElemType.INT64, new long[] {values.length}, TensorData.ofLongs(values));
    }

    /** A 0-D (scalar) int64 constant. */
    public String scalarInt64(String hint, long value) {
        return constant(hint, ElemType.INT64, new long[0], TensorData.ofLongs(value));
    }

    /** A float32 constant of shape {@code dims}; {@code values.length} must equal product(dims). */
    public String constantFloat(String hint, long[] dims, float... values) {
        return constant(hint, ElemType.FLOAT, dims, TensorData.ofFloats(values));
    }

    /** A 0-D (scalar) float32 constant. */
    public String scalarFloat(String hint, float value) {
        return constant(hint, ElemType.FLOAT, new long[0], TensorData.ofFloats(value));
    }

    private String constant(String hint, ElemType type, long[] dims, TensorData data) {
        checkOpen();
        if (data.byteSize() > SHARED_CONSTANT_BYTES) {
            return initializer(hint, type, dims, data);
        }
        byte[] bytes = Sinks.toArray(data, "constant '" + hint + "'");
        String key = type + Arrays.toString(dims) + Arrays.toString(bytes);
        String existing = shared.constants.get(key);
        if (existing != null) {
            return existing;
        }
        String name = initializer(hint, type, dims, data);
        shared.constants.put(key, name);
        return name;
    }

    // ---------------------------------------------------------------------------------------------- nodes

    /** Adds an ai.onnx node with one output; returns the output's (fresh) name. {@code ""} = omitted input. */
    public String op(String opType, Attrs attrs, String... inputs) {
        return add(OpSchemas.AI_ONNX, opType, attrs, inputs, 1).get(0);
    }

    /** Adds an ai.onnx node with {@code outputs} outputs; returns their fresh names in order. */
    public List<String> ops(String opType, int outputs, Attrs attrs, String... inputs) {
        return add(OpSchemas.AI_ONNX, opType, attrs, inputs, outputs);
    }

    /** Adds a com.microsoft node with one output. */
    public String msOp(String opType, Attrs attrs, String... inputs) {
        return add(OpSchemas.MICROSOFT, opType, attrs, inputs, 1).get(0);
    }

    /** Adds a com.microsoft node with {@code outputs} outputs. */
    public List<String> msOps(String opType, int outputs, Attrs attrs, String... inputs) {
        return add(OpSchemas.MICROSOFT, opType, attrs, inputs, outputs);
    }

    /**
     * Adds a node whose outputs have the given names (e.g. declared graph outputs); {@code ""} omits an optional
     * output. Each name must be new, or a declared, not yet produced output of this graph.
     */
    public void opNamed(String domain, String opType, List<String> inputs, List<String> outputs, Attrs attrs) {
        checkOpen();
        String node = nodeName(opType);
        for (String o : outputs) {
            if (o == null) {
                throw new IllegalArgumentException("node '" + node + "' (" + opType + "): null output name");
            }
            if (!o.isEmpty() && !pendingOutputs.contains(o) && shared.valueNames.contains(o)) {
                throw new IllegalArgumentException("node '" + node + "' (" + opType + "): output name '" + o
                        + "' is already used (values are assigned once)");
            }
        }
        if (new HashSet<>(outputs.stream().filter(s -> !s.isEmpty()).toList()).size()
                != outputs.stream().filter(s -> !s.isEmpty()).count()) {
            throw new IllegalArgumentException("node '" + node + "' (" + opType + "): duplicate output names " + outputs);
        }
        addNode(node, domain, opType, List.copyOf(inputs), List.copyOf(outputs), attrs);
    }

    private List<String> add(String domain, String opType, Attrs attrs, String[] inputs, int outputCount) {
        checkOpen();
        String node = nodeName(opType);
        if (outputCount < 1) {
            throw new IllegalArgumentException("node '" + node + "' (" + opType + "): at least one output is needed");
        }
        // check before generating any name, so a rejected node changes nothing
        OpSchema schema = NodeChecks.check(this, node, domain, opType, Arrays.asList(inputs), Collections.nCopies(outputCount, "x"), attrs);
        List<String> outs = new ArrayList<>(outputCount);
        for (int i = 0; i < outputCount; i++) {
            outs.add(fresh(node + "_out" + i));
        }
        commit(node, schema, Arrays.asList(inputs), outs, attrs);
        return Collections.unmodifiableList(outs);
    }

    private void addNode(String node, String domain, String opType, List<String> inputs, List<String> outputs, Attrs attrs) {
        OpSchema schema = NodeChecks.check(this, node, domain, opType, inputs, outputs, attrs);
        commit(node, schema, inputs, outputs, attrs);
    }

    private void commit(String node, OpSchema schema, List<String> inputs, List<String> outputs, Attrs attrs) {
        Attrs a = attrs == null ? Attrs.none() : attrs;
        for (Attrs.Attr at : a.list()) {
            if (at.type() == AttrType.GRAPH) {
                ((GraphBuilder) at.value()).attachedTo = node;
            }
        }
        for (String o : outputs) {
            if (!o.isEmpty()) {
                shared.valueNames.add(o);
                pendingOutputs.remove(o);
                defined.add(o);
            }
        }
        useNodeName(node);
        if (schema.domain().equals(OpSchemas.MICROSOFT)) {
            shared.usesMicrosoft = true;
        }
        nodes.add(new Node(node, schema.domain(), schema.opType(), trimTrailingEmpty(inputs), trimTrailingEmpty(outputs), a));
    }

    // ---------------------------------------------------------------------------------------------- structure

    /**
     * A nested graph for a GRAPH attribute (Scan {@code body}, If branches) of a node of this graph. It shares this
     * model's name generator, can use every value visible here, declares its own inputs and outputs, and is frozen
     * once attached to a node via {@link Attrs#graph}.
     */
    public GraphBuilder subgraph(String name) {
        checkOpen();
        return new GraphBuilder(name, this, shared);
    }

    /**
     * Adds a {@code metadata_props} entry to the model (top-level graph only; "keys should be distinct").
     * Entries are written in insertion order.
     */
    public void metadata(String key, String value) {
        if (parent != null) {
            throw new IllegalArgumentException("metadata belongs to the model: call it on the top-level graph, not '" + name + "'");
        }
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(value, "value");
        if (shared.metadata.containsKey(key)) {
            throw new IllegalArgumentException("metadata key '" + key + "' given twice");
        }
        shared.metadata.put(key, value);
    }

    /**
     * Prefixes generated node and value names with {@code prefix/} until the returned scope is closed (nestable):
     * {@code try (var s = g.scope("layers.3")) { ... }} gives names like {@code layers.3/MatMul_0}.
     */
    public Scope scope(String prefix) {
        if (prefix == null || prefix.isEmpty()) {
            throw new IllegalArgumentException("scope prefix must not be empty");
        }
        shared.scopes.addLast(prefix);
        int depth = shared.scopes.size();
        return () -> {
            if (shared.scopes.size() != depth) {
                throw new IllegalStateException("scopes closed out of order");
            }
            shared.scopes.removeLast();
        };
    }

    /** A naming scope; closing it pops the prefix. */
    public interface Scope extends AutoCloseable {
        @Override
        void close();
    }

    /** True if {@code value} can be used as an input here (defined in this graph or an enclosing one). */
    public boolean isDefined(String value) {
        return isVisible(value);
    }

    // ---------------------------------------------------------------------------------------------- for OnnxWriter

    GraphBuilder root() {
        GraphBuilder g = this;
        while (g.parent != null) {
            g = g.parent;
        }
        return g;
    }

    List<ValueInfo> inputs() {
        return inputs;
    }

    List<ValueInfo> outputs() {
        return outputs;
    }

    List<Node> nodes() {
        return nodes;
    }

    List<Initializer> initializers() {
        return parent == null ? shared.initializers : List.of();
    }

    Map<String, String> metadataProps() {
        return shared.metadata;
    }

    GraphBuilder parent() {
        return parent;
    }

    /** The node this graph is the body of, or null. */
    String attachedTo() {
        return attachedTo;
    }

    boolean usesMicrosoft() {
        return shared.usesMicrosoft;
    }

    /** Declared outputs that no node produced and that are not otherwise defined in this graph. */
    List<String> undefinedOutputs() {
        List<String> missing = new ArrayList<>();
        for (ValueInfo v : outputs) {
            if (!defined.contains(v.name())) {
                missing.add(v.name());
            }
        }
        return missing;
    }

    // ---------------------------------------------------------------------------------------------- names

    /** Defined in this graph or an enclosing one. */
    boolean isVisible(String value) {
        for (GraphBuilder g = this; g != null; g = g.parent) {
            if (g.defined.contains(value)) {
                return true;
            }
        }
        return false;
    }

    private void checkOpen() {
        if (attachedTo != null) {
            throw new IllegalStateException("graph '" + name + "' is already the body of node '" + attachedTo + "' and can no longer change");
        }
    }

    private void requireFreshName(String value, String what) {
        if (value == null || value.isEmpty()) {
            throw new IllegalArgumentException(name + ": " + what + " name must not be empty");
        }
        if (shared.valueNames.contains(value)) {
            throw new IllegalArgumentException(name + ": " + what + " name '" + value + "' is already used");
        }
    }

    private String prefix() {
        return shared.scopes.isEmpty() ? "" : String.join("/", shared.scopes) + "/";
    }

    /** The next free {@code <scope>/<opType>_<n>}; the counter only advances when the node is committed. */
    private String nodeName(String opType) {
        String base = prefix() + opType + "_";
        int n = shared.counters.getOrDefault("node:" + base, 0);
        while (shared.nodeNames.contains(base + n)) {
            n++;
        }
        return base + n;
    }

    private void useNodeName(String node) {
        shared.nodeNames.add(node);
        int cut = node.lastIndexOf('_') + 1;
        shared.counters.put("node:" + node.substring(0, cut), Integer.parseInt(node.substring(cut)) + 1);
    }

    /**
     * A value name not used yet ({@code hint}, else {@code hint_<n>}), for {@link #opNamed} outputs and subgraph
     * inputs. It is not reserved: use it before asking for another.
     */
    public String unusedName(String hint) {
        if (!shared.valueNames.contains(hint)) {
            return hint;
        }
        for (int n = shared.counters.getOrDefault("value:" + hint, 0) + 1; ; n++) {
            if (!shared.valueNames.contains(hint + "_" + n)) {
                return hint + "_" + n;
            }
        }
    }

    /** {@code hint} if no value has that name yet, else {@code hint_<n>} with the smallest free n. */
    private String fresh(String hint) {
        String h = hint;
        if (!shared.valueNames.contains(h)) {
            shared.valueNames.add(h);
            return h;
        }
        while (true) {
            int n = shared.counters.merge("value:" + hint, 1, Integer::sum);
            String candidate = hint + "_" + n;
            if (!shared.valueNames.contains(candidate)) {
                shared.valueNames.add(candidate);
                return candidate;
            }
        }
    }

    private static List<Object> dims(String value, Object[] dims) {
        List<Object> out = new ArrayList<>(dims.length);
        for (Object d : dims) {
            if (d == null) {
                out.add(null);
            } else if (d instanceof Long || d instanceof Integer) {
                long v = ((Number) d).longValue();
                if (v < 0) {
                    throw new IllegalArgumentException("'" + value + "': negative dimension " + v);
                }
                out.add(v);
            } else if (d instanceof String s && !s.isEmpty()) {
                out.add(s);
            } else {
                throw new IllegalArgumentException("'" + value + "': a dimension must be a Long/Integer, a non-empty String or null, got "
                        + d.getClass().getSimpleName() + " " + d);
            }
        }
        return Collections.unmodifiableList(out);
    }

    private static List<String> trimTrailingEmpty(List<String> names) {
        int n = names.size();
        while (n > 0 && names.get(n - 1).isEmpty()) {
            n--;
        }
        return List.copyOf(names.subList(0, n));
    }
}
