package dev.manyone.formats;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Bulk conversion of little-endian tensor elements from one floating-point type to another, with results identical
 * to {@link Precision#toFloats} followed by {@link Precision#fromFloats} (round to nearest even), but fast enough to
 * keep up with a disk: the 16-bit sources go through 65,536-entry tables (every BF16 → F16 and F16 → F32 result
 * computed once by {@link Precision}), BF16 → F32 is a shift, equal types are a copy; anything else goes through
 * float. Elements are moved between the buffers and scratch arrays in bulk. One instance per thread (it owns
 * scratch arrays of {@code maxElements}).
 */
public final class Converter {
    private final short[] shorts;
    private final int[] ints;
    private final float[] floats;
    private ByteBuffer converted; // for write(), made on first use

    public Converter(int maxElements) {
        shorts = new short[maxElements];
        ints = new int[maxElements];
        floats = new float[maxElements];
    }

    /** The most elements one {@link #convert} call takes. */
    public int maxElements() {
        return shorts.length;
    }

    /**
     * Converts {@code count} elements of {@code from} at {@code src}'s position into {@code to} at {@code dst}'s
     * position; both positions advance, whatever the buffers' byte orders.
     */
    public void convert(ByteBuffer src, DType from, int count, DType to, ByteBuffer dst) {
        if (count > shorts.length) {
            throw new IllegalArgumentException(count + " elements exceed this converter's " + shorts.length);
        }
        int inBytes = Math.multiplyExact(count, from.size());
        int outBytes = Math.multiplyExact(count, to.size());
        if (src.remaining() < inBytes || dst.remaining() < outBytes) {
            throw new IllegalArgumentException(count + " elements " + from + " → " + to + " need " + inBytes + " → " + outBytes
                    + " bytes, buffers have " + src.remaining() + " → " + dst.remaining());
        }
        ByteBuffer in = src.slice().order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer out = dst.slice().order(ByteOrder.LITTLE_ENDIAN);
        if (from == to) {
            out.put(0, in, 0, inBytes);
        } else if (from == DType.BF16 && to == DType.F16) {
            in.asShortBuffer().get(shorts, 0, count);
            short[] table = Tables.BF16_TO_F16;
            for (int i = 0; i < count; i++) {
                shorts[i] = table[shorts[i] & 0xffff];
            }
            out.asShortBuffer().put(shorts, 0, count);
        } else if (from == DType.BF16 && to == DType.F32) {
            in.asShortBuffer().get(shorts, 0, count);
            for (int i = 0; i < count; i++) {
                ints[i] = (shorts[i] & 0xffff) << 16;
            }
            out.asIntBuffer().put(ints, 0, count);
        } else if (from == DType.F16 && to == DType.F32) {
            in.asShortBuffer().get(shorts, 0, count);
            int[] table = Tables.F16_TO_F32;
            for (int i = 0; i < count; i++) {
                ints[i] = table[shorts[i] & 0xffff];
            }
            out.asIntBuffer().put(ints, 0, count);
        } else {
            Precision.toFloats(in, from, floats, 0, count);
            Precision.fromFloats(floats, 0, count, to, out);
        }
        src.position(src.position() + inBytes);
        dst.position(dst.position() + outBytes);
    }

    /**
     * Converts every element of {@code from} in {@code src}'s remaining bytes (consumed) to {@code to} and writes them
     * to {@code out}, in chunks of at most {@link #maxElements()}.
     */
    public void write(ByteBuffer src, DType from, DType to, java.nio.channels.WritableByteChannel out) throws java.io.IOException {
        if (converted == null) {
            converted = ByteBuffer.allocateDirect(shorts.length * 8);
        }
        while (src.hasRemaining()) {
            int count = Math.min(shorts.length, src.remaining() / from.size());
            if (count == 0) {
                throw new IllegalArgumentException(src.remaining() + " bytes are not whole " + from + " elements");
            }
            converted.clear();
            convert(src, from, count, to, converted);
            converted.flip();
            while (converted.hasRemaining()) {
                out.write(converted);
            }
        }
    }

    /** Built on first use, from the scalar conversions. */
    private static final class Tables {
        static final short[] BF16_TO_F16 = new short[1 << 16];
        static final int[] F16_TO_F32 = new int[1 << 16];

        static {
            for (int b = 0; b < 1 << 16; b++) {
                BF16_TO_F16[b] = Precision.floatToF16(Precision.bf16ToFloat((short) b));
                F16_TO_F32[b] = Float.floatToRawIntBits(Precision.f16ToFloat((short) b));
            }
        }
    }
}
