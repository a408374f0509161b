package dev.manyone.formats.onnx;

import dev.manyone.formats.DType;

/**
 * Tensor element types, with the codes of ONNX {@code TensorProto.DataType} (onnx/onnx.in.proto):
 * "FLOAT = 1; UINT8 = 2; INT8 = 3; UINT16 = 4; INT16 = 5; INT32 = 6; INT64 = 7; STRING = 8; BOOL = 9;
 * FLOAT16 = 10; DOUBLE = 11; ... BFLOAT16 = 16". Only the fixed-width types manyone writes are listed.
 * In {@code raw_data} and external data, elements are "stored in as fixed-width, little-endian order" and
 * "Boolean type MUST be written one byte per tensor element".
 */
public enum ElemType {
    FLOAT(1, 4),
    UINT8(2, 1),
    INT8(3, 1),
    INT16(5, 2),
    INT32(6, 4),
    INT64(7, 8),
    BOOL(9, 1),
    FLOAT16(10, 2),
    DOUBLE(11, 8),
    BFLOAT16(16, 2),
    /** "FLOAT8E4M3FN = 17": OCP E4M3FN, the encoding of safetensors F8_E4M3. */
    FLOAT8E4M3FN(17, 1);

    private final int code;
    private final int size;

    ElemType(int code, int size) {
        this.code = code;
        this.size = size;
    }

    /** The {@code TensorProto.DataType} number, as written in {@code data_type} and {@code elem_type}. */
    public int code() {
        return code;
    }

    /** Bytes per element. */
    public int size() {
        return size;
    }

    /** The ONNX type of a safetensors dtype (same width and encoding, so bytes copy unchanged). */
    public static ElemType of(DType t) {
        return switch (t) {
            case BOOL -> BOOL;
            case U8 -> UINT8;
            case I8 -> INT8;
            case I16 -> INT16;
            case I32 -> INT32;
            case I64 -> INT64;
            case F16 -> FLOAT16;
            case BF16 -> BFLOAT16;
            case F32 -> FLOAT;
            case F64 -> DOUBLE;
            case F8_E4M3 -> FLOAT8E4M3FN;
        };
    }

    /** The type with this {@code TensorProto.DataType} code; IllegalArgumentException if it is not one of these. */
    public static ElemType ofCode(int code) {
        for (ElemType t : values()) {
            if (t.code == code) {
                return t;
            }
        }
        throw new IllegalArgumentException("unsupported ONNX TensorProto.DataType code " + code);
    }
}
