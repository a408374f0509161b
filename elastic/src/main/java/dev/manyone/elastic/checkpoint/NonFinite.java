package dev.manyone.elastic.checkpoint;

import dev.manyone.formats.DType;
import dev.manyone.formats.Safetensors;
import dev.manyone.formats.TensorInfo;
import dev.manyone.formats.TensorSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Counts NaN and ±Inf values in a checkpoint's floating-point tensors (BF16, F16, F32, F64) and FP8 codes
 * (F8_E4M3: weights of FP8 checkpoints and the block scales of NVFP4 ones; "there are no infinities; 0x7F and 0xFF
 * are NaN", so those codes count as NaN). Integer tensors are skipped, NVFP4's packed U8 weights too (E2M1 has no NaN
 * or infinity); the F32 scalar scales are scanned as F32. Reads with positional reads ({@link TensorReader}) through one 1 MiB buffer, so memory does not grow
 * with the checkpoint, and every element of every floating-point tensor is looked at exactly once.
 */
public final class NonFinite {
    static final int BLOCK = 1 << 20;

    private NonFinite() {
    }

    /** The counts of one floating-point tensor. */
    public record Count(String tensor, DType dtype, long elements, long nan, long positiveInf, long negativeInf) {
        public long nonFinite() {
            return nan + positiveInf + negativeInf;
        }

        public boolean finite() {
            return nonFinite() == 0;
        }
    }

    /** Counts for every floating-point tensor of a checkpoint, in the source's tensor order. */
    public record Report(List<Count> tensors) {
        public Report {
            tensors = List.copyOf(tensors);
        }

        public long nan() {
            return tensors.stream().mapToLong(Count::nan).sum();
        }

        public long inf() {
            return tensors.stream().mapToLong(c -> c.positiveInf() + c.negativeInf()).sum();
        }

        /** Elements scanned (floating-point tensors only). */
        public long elements() {
            return tensors.stream().mapToLong(Count::elements).sum();
        }

        public boolean finite() {
            return nan() == 0 && inf() == 0;
        }

        /** Only the tensors with at least one NaN or Inf. */
        public List<Count> offending() {
            return tensors.stream().filter(c -> !c.finite()).toList();
        }
    }

    /**
     * Scans the checkpoint at {@code path} (as {@link Safetensors#open}: a directory or a .safetensors file).
     *
     * @throws dev.manyone.formats.FormatException for a malformed checkpoint
     * @throws UncheckedIOException on I/O failure
     */
    public static Report scan(Path path) {
        try (TensorSource src = Safetensors.open(path)) {
            return scan(src);
        }
    }

    /** Scans every floating-point tensor of an open source. */
    public static Report scan(TensorSource src) {
        List<Count> out = new ArrayList<>();
        ByteBuffer buf = ByteBuffer.allocate(BLOCK).order(ByteOrder.LITTLE_ENDIAN);
        try (TensorReader reader = new TensorReader()) {
            for (TensorInfo t : src.tensors()) {
                if (scanned(t.dtype())) {
                    out.add(scan(reader, t, buf));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new Report(out);
    }

    /** True for the dtypes whose values can be NaN or infinite: floating point and F8_E4M3. */
    public static boolean scanned(DType type) {
        return type.isFloatingPoint() || type == DType.F8_E4M3;
    }

    /** Scans one tensor. */
    public static Count scan(TensorReader reader, TensorInfo t) throws IOException {
        return scan(reader, t, ByteBuffer.allocate(BLOCK).order(ByteOrder.LITTLE_ENDIAN));
    }

    private static Count scan(TensorReader reader, TensorInfo t, ByteBuffer buf) throws IOException {
        int size = t.dtype().size();
        long total = t.byteSize();
        long[] counts = new long[3];
        long done = 0;
        while (done < total) {
            int n = (int) Math.min(BLOCK, total - done);
            buf.clear().limit(n);
            reader.read(t, done, buf);
            buf.flip();
            count(buf, t.dtype(), counts);
            done += n;
        }
        return new Count(t.name(), t.dtype(), total / size, counts[0], counts[1], counts[2]);
    }

    /** 16-bit lanes: exponent all ones in BF16 / F16. */
    private static final long BF16_EXP = 0x7f80_7f80_7f80_7f80L;
    private static final long F16_EXP = 0x7c00_7c00_7c00_7c00L;
    private static final long LANE_ONE = 0x0001_0001_0001_0001L;
    private static final long LANE_TOP = 0x8000_8000_8000_8000L;

    /**
     * Adds the NaN, +Inf and -Inf counts of the elements in {@code chunk}'s remaining bytes (little-endian
     * {@code type}; position unchanged) to {@code counts[0..2]}. 16-bit types are first tested four at a time (does
     * any lane have an all-ones exponent?), so finite data costs a few operations per 8 bytes.
     */
    public static void count(ByteBuffer chunk, DType type, long[] counts) {
        ByteBuffer b = chunk.slice().order(ByteOrder.LITTLE_ENDIAN);
        int n = b.remaining();
        if (n % type.size() != 0) {
            throw new IllegalArgumentException(n + " bytes are not whole " + type + " elements");
        }
        switch (type) {
            case BF16, F16 -> {
                long exp = type == DType.BF16 ? BF16_EXP : F16_EXP;
                int words = n / 8;
                for (int w = 0; w < words; w++) {
                    long y = (b.getLong(w * 8) & exp) ^ exp; // a lane is 0 where the exponent is all ones
                    if (((y - LANE_ONE) & ~y & LANE_TOP) != 0) {
                        count16(b, w * 8, w * 8 + 8, type, counts);
                    }
                }
                count16(b, words * 8, n, type, counts);
            }
            case F32 -> {
                for (int i = 0; i < n; i += 4) {
                    int bits = b.getInt(i);
                    tally(bits & 0x7f800000, 0x7f800000, (bits & 0x007fffff) != 0, bits < 0, counts);
                }
            }
            case F8_E4M3 -> {
                for (int i = 0; i < n; i++) {
                    if ((b.get(i) & 0x7f) == 0x7f) { // E4M3FN: S.1111.111 is NaN, there is no infinity
                        counts[0]++;
                    }
                }
            }
            case F64 -> {
                for (int i = 0; i < n; i += 8) {
                    double v = b.getDouble(i);
                    tally(Double.isInfinite(v) || Double.isNaN(v) ? 1 : 0, 1, Double.isNaN(v), v < 0, counts);
                }
            }
            default -> throw new IllegalArgumentException("not a floating-point type: " + type);
        }
    }

    private static void count16(ByteBuffer b, int from, int to, DType type, long[] counts) {
        int exp = type == DType.BF16 ? 0x7f80 : 0x7c00;
        for (int i = from; i < to; i += 2) {
            int h = b.getShort(i) & 0xffff;
            tally(h & exp, exp, (h & exp) == exp && (h & ~exp & 0x7fff) != 0, (h & 0x8000) != 0, counts);
        }
    }

    /** Counts one element whose exponent bits are {@code expBits} (all ones = {@code allOnes}: NaN or infinity). */
    private static void tally(int expBits, int allOnes, boolean nan, boolean negative, long[] counts) {
        if (expBits != allOnes) {
            return;
        }
        if (nan) {
            counts[0]++;
        } else if (negative) {
            counts[2]++;
        } else {
            counts[1]++;
        }
    }
}
