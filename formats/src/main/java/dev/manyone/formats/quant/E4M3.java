package dev.manyone.formats.quant;

/**
 * The FP8 code of safetensors {@code F8_E4M3}: OCP E4M3FN (golden README, "Formats"):
 * <blockquote>sign, 4 exponent bits (bias 7) and 3 mantissa bits; exponent field 0 is subnormal, m/8 · 2⁻⁶; there
 * are no infinities; 0x7F and 0xFF are NaN, and the largest value is 448.</blockquote>
 * The decode table is built from those bit fields. The encoder rounds to nearest, ties to even, and saturates at
 * ±448, as ModelOpt's recipe requires ("Every encoding rounds to nearest, ties to even, and saturates at 448
 * (E4M3)"): it finds the two neighbouring codes in the sorted table of finite magnitudes and compares with their
 * midpoint, which is exact in double; a tie goes to the even code (the one whose mantissa LSB is 0).
 */
public final class E4M3 {
    /** Largest finite magnitude. */
    public static final float MAX = 448f;
    /** Code of +448; -448 is {@code 0xFE}. */
    public static final int MAX_CODE = 0x7E;
    /** The NaN code an encoder writes for NaN input (0xFF is the other NaN). */
    public static final int NAN_CODE = 0x7F;

    private static final float[] DECODE = new float[256];
    /** Magnitudes of codes 0 … 0x7E, strictly increasing. */
    private static final double[] MAGNITUDES = new double[MAX_CODE + 1];

    static {
        for (int code = 0; code < 256; code++) {
            int sign = code >>> 7;
            int exponent = (code >>> 3) & 0xF;
            int mantissa = code & 0x7;
            double magnitude;
            if (exponent == 0xF && mantissa == 0x7) {
                magnitude = Double.NaN;
            } else if (exponent == 0) {
                magnitude = mantissa / 8.0 * Math.scalb(1.0, -6);
            } else {
                magnitude = (1 + mantissa / 8.0) * Math.scalb(1.0, exponent - 7);
            }
            DECODE[code] = (float) (sign == 1 ? -magnitude : magnitude);
            if (sign == 0 && code <= MAX_CODE) {
                MAGNITUDES[code] = magnitude;
            }
        }
    }

    private E4M3() {
    }

    /** The value of {@code code} (its low 8 bits); NaN for 0x7F and 0xFF. Exact in float. */
    public static float decode(int code) {
        return DECODE[code & 0xFF];
    }

    /** True for the NaN codes 0x7F and 0xFF. */
    public static boolean isNaN(int code) {
        return (code & 0x7F) == 0x7F;
    }

    /** A copy of the 256-entry decode table. */
    public static float[] table() {
        return DECODE.clone();
    }

    /**
     * The code nearest to {@code x}, ties to even, saturating: |x| ≥ 448 (infinities too) gives ±448. The sign is
     * kept, so −0 and negative values that round to zero give 0x80. NaN gives {@link #NAN_CODE}.
     */
    public static int encode(float x) {
        return encode((double) x);
    }

    /** As {@link #encode(float)} for a double (every float is exactly a double, so both agree on floats). */
    public static int encode(double x) {
        if (Double.isNaN(x)) {
            return NAN_CODE;
        }
        int sign = (Double.doubleToRawLongBits(x) < 0) ? 0x80 : 0;
        return sign | nearest(MAGNITUDES, Math.abs(x));
    }

    /**
     * Index of the nearest entry of the increasing {@code magnitudes} to {@code a} ≥ 0, ties to the even index,
     * saturating at the last entry. Midpoints of neighbours (both of at most 4 significant bits) are exact in double.
     */
    static int nearest(double[] magnitudes, double a) {
        int last = magnitudes.length - 1;
        if (a >= magnitudes[last]) {
            return last;
        }
        int lo = 0;
        int hi = last; // invariant: magnitudes[lo] <= a < magnitudes[hi]
        while (hi - lo > 1) {
            int mid = (lo + hi) >>> 1;
            if (magnitudes[mid] <= a) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        double midpoint = (magnitudes[lo] + magnitudes[hi]) / 2;
        if (a < midpoint) {
            return lo;
        }
        if (a > midpoint) {
            return hi;
        }
        return (lo & 1) == 0 ? lo : hi;
    }
}
