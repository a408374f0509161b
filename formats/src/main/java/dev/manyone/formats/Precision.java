package dev.manyone.formats;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Conversions between float and the 16-bit float formats, and bulk little-endian conversion of tensor data.
 * <ul>
 *   <li>bfloat16: the top 16 bits of an IEEE 754 binary32 (1 sign, 8 exponent, 7 mantissa bits).</li>
 *   <li>float16: IEEE 754 binary16 (1 sign, 5 exponent with bias 15, 10 mantissa bits; subnormals below 2^-14,
 *       largest finite 65504).</li>
 * </ul>
 * Narrowing rounds to nearest, ties to even, as IEEE 754 roundTiesToEven; values beyond the largest finite number
 * (after rounding) become infinity; NaN stays NaN (its sign and the top mantissa bits are kept, the quiet bit set).
 */
public final class Precision {
    private Precision() {
    }

    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7fffffff) > 0x7f800000) {
            return (short) ((bits >>> 16) | 0x0040); // NaN: keep sign and payload top, force quiet
        }
        return (short) ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16);
    }

    public static float f16ToFloat(short bits) {
        int h = bits & 0xffff;
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1f;
        int mant = h & 0x3ff;
        if (exp == 0) {
            float v = mant * 0x1p-24f; // zero or subnormal: mant * 2^-24, exact
            return sign != 0 ? -v : v;
        }
        if (exp == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13)); // infinity or NaN
        }
        return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
    }

    public static short floatToF16(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int abs = bits & 0x7fffffff;
        if (abs > 0x7f800000) {
            return (short) (sign | 0x7e00 | ((abs >>> 13) & 0x3ff)); // NaN, quiet
        }
        if (abs >= 0x477ff000) {
            return (short) (sign | 0x7c00); // >= 65520 (halfway past 65504, tie to even goes up): infinity
        }
        if (abs >= 0x38800000) { // >= 2^-14: normal
            int h = ((((abs >>> 23) - 127 + 15) << 10) | ((abs >>> 13) & 0x3ff));
            int rest = abs & 0x1fff;
            if (rest > 0x1000 || (rest == 0x1000 && (h & 1) != 0)) {
                h++; // a carry into the exponent is correct
            }
            return (short) (sign | h);
        }
        if (abs <= 0x33000000) { // <= 2^-25: rounds to zero (2^-25 is a tie, even is 0)
            return (short) sign;
        }
        // subnormal: value = m * 2^(e - 23) with e in [-25, -15]; in units of 2^-24 it is m >> (-e - 1)
        int m = (abs & 0x7fffff) | 0x800000;
        int shift = -((abs >>> 23) - 127) - 1;
        int h = m >>> shift;
        int rest = m & ((1 << shift) - 1);
        int half = 1 << (shift - 1);
        if (rest > half || (rest == half && (h & 1) != 0)) {
            h++; // may become the smallest normal, 0x0400: correct
        }
        return (short) (sign | h);
    }

    /**
     * Reads {@code count} little-endian elements of {@code type} from {@code src} at its position (which advances,
     * whatever the buffer's byte order) into {@code dst[off..off+count)}. F64 is rounded to nearest float.
     */
    public static void toFloats(ByteBuffer src, DType type, float[] dst, int off, int count) {
        java.util.Objects.checkFromIndexSize(off, count, dst.length);
        ByteBuffer b = src.slice().order(ByteOrder.LITTLE_ENDIAN);
        int bytes = Math.multiplyExact(count, type.size());
        if (b.remaining() < bytes) {
            throw new IllegalArgumentException(count + " " + type + " elements need " + bytes + " bytes, buffer has " + b.remaining());
        }
        switch (type) {
            case F32 -> b.asFloatBuffer().get(dst, off, count);
            case F64 -> {
                for (int i = 0; i < count; i++) {
                    dst[off + i] = (float) b.getDouble(i * 8);
                }
            }
            case BF16 -> {
                for (int i = 0; i < count; i++) {
                    dst[off + i] = bf16ToFloat(b.getShort(i * 2));
                }
            }
            case F16 -> {
                for (int i = 0; i < count; i++) {
                    dst[off + i] = f16ToFloat(b.getShort(i * 2));
                }
            }
            default -> throw new IllegalArgumentException("not a floating-point type: " + type);
        }
        src.position(src.position() + bytes);
    }

    /**
     * Writes {@code src[off..off+count)} as little-endian {@code type} elements into {@code dst} at its position (which
     * advances, whatever the buffer's byte order). Narrowing rounds to nearest even.
     */
    public static void fromFloats(float[] src, int off, int count, DType type, ByteBuffer dst) {
        java.util.Objects.checkFromIndexSize(off, count, src.length);
        ByteBuffer b = dst.slice().order(ByteOrder.LITTLE_ENDIAN);
        int bytes = Math.multiplyExact(count, type.size());
        if (b.remaining() < bytes) {
            throw new IllegalArgumentException(count + " " + type + " elements need " + bytes + " bytes, buffer has " + b.remaining());
        }
        switch (type) {
            case F32 -> b.asFloatBuffer().put(src, off, count);
            case F64 -> {
                for (int i = 0; i < count; i++) {
                    b.putDouble(i * 8, src[off + i]);
                }
            }
            case BF16 -> {
                for (int i = 0; i < count; i++) {
                    b.putShort(i * 2, floatToBf16(src[off + i]));
                }
            }
            case F16 -> {
                for (int i = 0; i < count; i++) {
                    b.putShort(i * 2, floatToF16(src[off + i]));
                }
            }
            default -> throw new IllegalArgumentException("not a floating-point type: " + type);
        }
        dst.position(dst.position() + bytes);
    }

    /** The tensor as floats, read through {@code src.bytes} in ranges of at most 1 GiB (so tensors over 2 GiB work). */
    static float[] readFloats(TensorSource src, TensorInfo t) {
        if (!t.dtype().isFloatingPoint()) {
            throw new FormatException(t.file(), t.name(), "expected a floating-point tensor (F16, BF16, F32, F64), found " + t.dtype());
        }
        long n = t.elementCount();
        if (n > Integer.MAX_VALUE - 8) {
            throw new FormatException(t.file(), t.name(), "tensor has " + n + " elements, more than one float[] holds");
        }
        float[] out = new float[(int) n];
        int size = t.dtype().size();
        int perChunk = (1 << 30) / size;
        for (int done = 0; done < out.length; ) {
            int count = Math.min(perChunk, out.length - done);
            toFloats(src.bytes(t, (long) done * size, count * size), t.dtype(), out, done, count);
            done += count;
        }
        return out;
    }
}
