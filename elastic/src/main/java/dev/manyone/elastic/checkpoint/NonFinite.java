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
 * Counts NaN and ±Inf values in a checkpoint's floating-point tensors (BF16, F16, F32, F64; integer tensors are
 * skipped). Reads with positional reads ({@link TensorReader}) through one 1 MiB buffer, so memory does not grow
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
                if (t.dtype().isFloatingPoint()) {
                    out.add(scan(reader, t, buf));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new Report(out);
    }

    /** Scans one tensor. */
    public static Count scan(TensorReader reader, TensorInfo t) throws IOException {
        return scan(reader, t, ByteBuffer.allocate(BLOCK).order(ByteOrder.LITTLE_ENDIAN));
    }

    private static Count scan(TensorReader reader, TensorInfo t, ByteBuffer buf) throws IOException {
        int size = t.dtype().size();
        long total = t.byteSize();
        long nan = 0;
        long pos = 0;
        long neg = 0;
        long done = 0;
        while (done < total) {
            int n = (int) Math.min(BLOCK, total - done);
            buf.clear().limit(n);
            reader.read(t, done, buf);
            buf.flip();
            switch (t.dtype()) {
                case BF16 -> {
                    for (int i = 0; i < n; i += 2) {
                        int b = buf.getShort(i) & 0xffff;
                        if ((b & 0x7f80) == 0x7f80) {
                            if ((b & 0x7f) != 0) {
                                nan++;
                            } else if ((b & 0x8000) != 0) {
                                neg++;
                            } else {
                                pos++;
                            }
                        }
                    }
                }
                case F16 -> {
                    for (int i = 0; i < n; i += 2) {
                        int b = buf.getShort(i) & 0xffff;
                        if ((b & 0x7c00) == 0x7c00) {
                            if ((b & 0x3ff) != 0) {
                                nan++;
                            } else if ((b & 0x8000) != 0) {
                                neg++;
                            } else {
                                pos++;
                            }
                        }
                    }
                }
                case F32 -> {
                    for (int i = 0; i < n; i += 4) {
                        float v = buf.getFloat(i);
                        if (Float.isNaN(v)) {
                            nan++;
                        } else if (v == Float.POSITIVE_INFINITY) {
                            pos++;
                        } else if (v == Float.NEGATIVE_INFINITY) {
                            neg++;
                        }
                    }
                }
                case F64 -> {
                    for (int i = 0; i < n; i += 8) {
                        double v = buf.getDouble(i);
                        if (Double.isNaN(v)) {
                            nan++;
                        } else if (v == Double.POSITIVE_INFINITY) {
                            pos++;
                        } else if (v == Double.NEGATIVE_INFINITY) {
                            neg++;
                        }
                    }
                }
                default -> throw new IllegalArgumentException("not a floating-point tensor: " + t);
            }
            done += n;
        }
        return new Count(t.name(), t.dtype(), total / size, nan, pos, neg);
    }
}
