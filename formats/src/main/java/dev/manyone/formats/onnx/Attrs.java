package dev.manyone.formats.onnx;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * An immutable, ordered list of node attributes. Every method returns a new list, so a value such as
 * {@code Attrs.none().i("axis", -1)} can be shared between nodes. Attributes are written in insertion order
 * (deterministic output). A name may appear once: ONNX "AttributeProto MUST contain the name field, and *only
 * one* of the following content fields".
 *
 * <pre>{@code
 * g.op("Softmax", Attrs.none().i("axis", -1), x);
 * g.msOp("CausalConvWithState", Attrs.none().s("activation", "silu"), x, w, b, past);
 * }</pre>
 */
public final class Attrs {
    private static final Attrs NONE = new Attrs(List.of());

    /** One attribute. {@code value} is a Long, Float, String, long[], float[], String[], GraphBuilder or Tensor. */
    public record Attr(String name, AttrType type, Object value) {
    }

    /** A small constant tensor attribute value (e.g. {@code ConstantOfShape.value}); bytes are little-endian. */
    public record Tensor(ElemType type, long[] dims, byte[] bytes) {
    }

    private final List<Attr> list;

    private Attrs(List<Attr> list) {
        this.list = list;
    }

    /** The empty list. */
    public static Attrs none() {
        return NONE;
    }

    /** INT attribute. */
    public Attrs i(String name, long value) {
        return with(name, AttrType.INT, value);
    }

    /** FLOAT attribute. */
    public Attrs f(String name, float value) {
        return with(name, AttrType.FLOAT, value);
    }

    /** STRING attribute (UTF-8). */
    public Attrs s(String name, String value) {
        return with(name, AttrType.STRING, Objects.requireNonNull(value, name));
    }

    /** INTS attribute. */
    public Attrs ints(String name, long... values) {
        return with(name, AttrType.INTS, values.clone());
    }

    /** FLOATS attribute. */
    public Attrs floats(String name, float... values) {
        return with(name, AttrType.FLOATS, values.clone());
    }

    /** STRINGS attribute. */
    public Attrs strings(String name, String... values) {
        for (String v : values) {
            Objects.requireNonNull(v, name);
        }
        return with(name, AttrType.STRINGS, values.clone());
    }

    /**
     * GRAPH attribute, e.g. {@code Scan.body}: a builder obtained from {@link GraphBuilder#subgraph(String)} of the
     * graph the node is added to.
     */
    public Attrs graph(String name, GraphBuilder body) {
        return with(name, AttrType.GRAPH, Objects.requireNonNull(body, name));
    }

    /** TENSOR attribute holding a small constant (copied), e.g. {@code ConstantOfShape.value}. */
    public Attrs tensor(String name, ElemType type, long[] dims, ByteBuffer littleEndianBytes) {
        ByteBuffer b = littleEndianBytes.duplicate();
        byte[] bytes = new byte[b.remaining()];
        b.get(bytes);
        long n = 1;
        for (long d : dims) {
            if (d < 0) {
                throw new IllegalArgumentException("attribute '" + name + "': negative dimension in " + Arrays.toString(dims));
            }
            n = Math.multiplyExact(n, d);
        }
        if (Math.multiplyExact(n, type.size()) != bytes.length) {
            throw new IllegalArgumentException("attribute '" + name + "': " + type + Arrays.toString(dims) + " needs "
                    + n * type.size() + " bytes, got " + bytes.length);
        }
        return with(name, AttrType.TENSOR, new Tensor(type, dims.clone(), bytes));
    }

    /** The attributes in insertion order (unmodifiable). */
    public List<Attr> list() {
        return list;
    }

    /** The attribute with this name, if present. */
    public Optional<Attr> get(String name) {
        for (Attr a : list) {
            if (a.name().equals(name)) {
                return Optional.of(a);
            }
        }
        return Optional.empty();
    }

    public boolean isEmpty() {
        return list.isEmpty();
    }

    private Attrs with(String name, AttrType type, Object value) {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("attribute name must not be empty");
        }
        if (get(name).isPresent()) {
            throw new IllegalArgumentException("attribute '" + name + "' given twice");
        }
        List<Attr> copy = new ArrayList<>(list.size() + 1);
        copy.addAll(list);
        copy.add(new Attr(name, type, value));
        return new Attrs(Collections.unmodifiableList(copy));
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("{");
        for (Attr a : list) {
            if (sb.length() > 1) {
                sb.append(", ");
            }
            sb.append(a.name()).append(':').append(a.type());
        }
        return sb.append('}').toString();
    }
}
