package dev.manyone.formats.quant;

import dev.manyone.formats.DType;

/**
 * NVIDIA ModelOpt weight formats, as {@code quant_algo} names them (golden README, "Formats"):
 * <pre>
 * | tensor             | FP8                 | NVFP4                 |
 * | X.weight           | F8_E4M3 [out, in]   | U8 [out, in/2]        |
 * | X.weight_scale     | F32, shape []       | F8_E4M3 [out, in/16]  |
 * | X.weight_scale_2   | —                   | F32, shape []         |
 * | X.input_scale      | F32, shape []       | F32, shape []         |
 * </pre>
 */
public enum QuantAlgo {
    FP8,
    NVFP4;

    /** NVFP4's block: "Input columns can only be kept in whole aligned blocks of 16". */
    public static final int NVFP4_GROUP = 16;

    /** The dtype of {@code X.weight}. */
    public DType weightDType() {
        return this == FP8 ? DType.F8_E4M3 : DType.U8;
    }

    /** The dtype of {@code X.weight_scale}. */
    public DType scaleDType() {
        return this == FP8 ? DType.F32 : DType.F8_E4M3;
    }

    /** True if the format has {@code X.weight_scale_2} (NVFP4). */
    public boolean hasSecondScale() {
        return this == NVFP4;
    }

    /** The stored shape of {@code X.weight} for a logical {@code [out, in]} weight. */
    public long[] weightShape(long out, long in) {
        return this == FP8 ? new long[] {out, in} : new long[] {out, in / 2};
    }

    /** The stored shape of {@code X.weight_scale}: {@code []} (FP8) or {@code [out, in/16]} (NVFP4). */
    public long[] scaleShape(long out, long in) {
        return this == FP8 ? new long[0] : new long[] {out, in / NVFP4_GROUP};
    }

    /** The algo named {@code name} exactly ("FP8", "NVFP4"), or null. */
    static QuantAlgo parse(String name) {
        for (QuantAlgo a : values()) {
            if (a.name().equals(name)) {
                return a;
            }
        }
        return null;
    }
}
