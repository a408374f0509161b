package dev.manyone.formats;

import java.util.Optional;

/**
 * Element types of a safetensors file. The names are those of the safetensors spec
 * (https://github.com/huggingface/safetensors, "dtype" in the header): BOOL, U8, I8, I16, I32, I64, F16, BF16, F32, F64,
 * and F8_E4M3 (OCP E4M3FN, one byte; the codes and block scales of NVIDIA ModelOpt's FP8 and NVFP4 checkpoints,
 * decoded by {@link dev.manyone.formats.quant.E4M3}). All multi-byte types are little-endian on disk.
 */
public enum DType {
    BOOL(1), U8(1), I8(1), I16(2), I32(4), I64(8), F16(2), BF16(2), F32(4), F64(8), F8_E4M3(1);

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

    /**
     * True for the dense floating-point types whose elements are values on their own (F16, BF16, F32, F64): what
     * {@link Precision#toFloats}, the BF16/F16 conversions and the NaN/Inf checks read. False for
     * {@link #F8_E4M3}, whose codes are only values with a scale ({@link #isQuantized()}).
     */
    public boolean isFloatingPoint() {
        return this == F16 || this == BF16 || this == F32 || this == F64;
    }

    /**
     * True for element types that hold quantized codes (F8_E4M3): FP8 weights and NVFP4 block scales, meaningful
     * only with their scales ({@code dev.manyone.formats.quant}). NVFP4 weights are stored as U8 (two E2M1 codes a
     * byte), which is not flagged here: only the tensor's role says so.
     */
    public boolean isQuantized() {
        return this == F8_E4M3;
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
