package dev.manyone.formats;

import java.util.Optional;

/**
 * Element types of a safetensors file. The names are those of the safetensors spec
 * (https://github.com/huggingface/safetensors, "dtype" in the header): BOOL, U8, I8, I16, I32, I64, F16, BF16, F32, F64.
 * All multi-byte types are little-endian on disk.
 */
public enum DType {
    BOOL(1), U8(1), I8(1), I16(2), I32(4), I64(8), F16(2), BF16(2), F32(4), F64(8);

    private final int size;

    DType(int size) {
        this.size = size;
    }

    /** Bytes per element. */
    public int size() {
        return size;
    }

    /** The spelling used in safetensors headers. */
    public String safetensorsName() {
        return name();
    }

    public boolean isFloatingPoint() {
        return this == F16 || this == BF16 || this == F32 || this == F64;
    }

    /** Looks up a safetensors header dtype string (case-sensitive, as the spec writes them). */
    public static Optional<DType> fromSafetensors(String name) {
        for (DType t : values()) {
            if (t.name().equals(name)) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }
}
