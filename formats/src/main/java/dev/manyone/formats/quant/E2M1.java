package dev.manyone.formats.quant;

/**
 * The 4-bit code of NVFP4 weights (golden README, "Formats"):
 * <blockquote>E2M1 codes: bit 3 is the sign, and codes 0–7 are the magnitudes 0, 0.5, 1, 1.5, 2, 3, 4, 6. One
 * NVFP4 byte holds two codes along the input dimension: element 2j in the <b>low</b> nibble, element 2j+1 in the
 * high nibble.</blockquote>
 * The table is built from the bit fields (2 exponent bits, bias 1, 1 mantissa bit; exponent 0 is subnormal, m/2).
 * The encoder rounds to nearest, ties to even (the code whose mantissa bit is 0), and saturates at ±6.
 */
public final class E2M1 {
    /** Largest magnitude. */
    public static final float MAX = 6f;

    private static final float[] DECODE = new float[16];
    private static final double[] MAGNITUDES = new double[8];

    static {
        for (int code = 0; code < 16; code++) {
            int exponent = (code >>> 1) & 0x3;
            int mantissa = code & 0x1;
            double magnitude = exponent == 0 ? mantissa / 2.0 : (1 + mantissa / 2.0) * Math.scalb(1.0, exponent - 1);
            DECODE[code] = (float) ((code & 0x8) != 0 ? -magnitude : magnitude);
            if (code < 8) {
                MAGNITUDES[code] = magnitude;
            }
        }
    }

    private E2M1() {
    }

    /** The value of the 4-bit {@code code} (its low 4 bits). */
    public static float decode(int code) {
        return DECODE[code & 0xF];
    }

    /** A copy of the 16-entry decode table. */
    public static float[] table() {
        return DECODE.clone();
    }

    /**
     * The code nearest to {@code x}, ties to even, saturating at ±6; the sign is kept (−0 and small negatives give
     * code 8). E2M1 has no NaN: NaN input is an IllegalArgumentException.
     */
    public static int encode(float x) {
        return encode((double) x);
    }

    /** As {@link #encode(float)} for a double. */
    public static int encode(double x) {
        if (Double.isNaN(x)) {
            throw new IllegalArgumentException("E2M1 has no NaN");
        }
        int sign = (Double.doubleToRawLongBits(x) < 0) ? 0x8 : 0;
        return sign | E4M3.nearest(MAGNITUDES, Math.abs(x));
    }

    /** Code of element {@code 2j} ({@code high} false) or {@code 2j + 1} ({@code high} true) of a packed byte. */
    public static int nibble(int packed, boolean high) {
        return high ? (packed >>> 4) & 0xF : packed & 0xF;
    }

    /** The byte holding element {@code 2j} = {@code low} and element {@code 2j + 1} = {@code high}. */
    public static byte pack(int low, int high) {
        return (byte) ((low & 0xF) | (high & 0xF) << 4);
    }
}
