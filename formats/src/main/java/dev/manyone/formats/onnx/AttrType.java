package dev.manyone.formats.onnx;

/**
 * The attribute kinds manyone writes, with the numbers of ONNX {@code AttributeProto.AttributeType}
 * (onnx/onnx.in.proto): "FLOAT = 1; INT = 2; STRING = 3; TENSOR = 4; GRAPH = 5; FLOATS = 6; INTS = 7; STRINGS = 8".
 * "The type field MUST be present for this version of the IR", so every written attribute carries it.
 */
public enum AttrType {
    FLOAT(1), INT(2), STRING(3), TENSOR(4), GRAPH(5), FLOATS(6), INTS(7), STRINGS(8);

    private final int code;

    AttrType(int code) {
        this.code = code;
    }

    /** The {@code AttributeProto.AttributeType} number. */
    public int code() {
        return code;
    }
}
