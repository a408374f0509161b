package dev.manyone.elastic.slice;

import dev.manyone.formats.CheckpointWriter;
import dev.manyone.formats.TensorInfo;
import dev.manyone.formats.TensorSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Gathers the bytes of one {@link TensorSlice} from a parent tensor, row by row, columns in runs of consecutive
 * indices, and hands them to a sink in chunks of whole elements (at most {@link #BUFFER_BYTES}). The parent is read
 * through memory-mapped views; only the one buffer is held.
 */
final class SliceCopier {
    static final int BUFFER_BYTES = 8 << 20;

    /** Receives consecutive chunks of the child tensor's bytes. */
    interface Sink {
        void write(ByteBuffer chunk) throws IOException;
    }

    private final ByteBuffer buffer = ByteBuffer.allocateDirect(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);

    /** Copies into a checkpoint writer (whole tensors by channel transfer); returns the parent bytes read. */
    long copy(TensorSource parent, TensorInfo src, TensorSlice slice, CheckpointWriter out) throws IOException {
        if (slice.whole()) {
            out.transferFrom(slice.name(), parent, src);
            return src.byteSize();
        }
        return gather(parent, src, slice, chunk -> out.write(slice.name(), chunk));
    }

    /** Gathers the slice into {@code out}; returns the parent bytes read. */
    long gather(TensorSource parent, TensorInfo src, TensorSlice slice, Sink out) throws IOException {
        int elem = src.dtype().size();
        long rowElems = 1;
        for (int d = 1; d < src.rank(); d++) {
            rowElems *= src.dim(d);
        }
        long rowBytes = rowElems * elem;
        int rowCount = (int) src.dim(0);
        int[] rows = slice.rows();
        int[] runs = slice.cols() == null ? null : runs(slice.cols());
        long outRowBytes = slice.cols() == null ? rowBytes : (long) slice.cols().length * elem;
        long read = 0;
        int n = rows == null ? rowCount : rows.length;
        buffer.clear();
        for (int k = 0; k < n; k++) {
            int r = rows == null ? k : rows[k];
            ByteBuffer row = parent.bytes(src, r * rowBytes, (int) rowBytes);
            if (buffer.remaining() < outRowBytes) {
                flush(out);
            }
            if (runs == null) {
                if (outRowBytes > buffer.capacity()) { // a row larger than the buffer goes straight through
                    flush(out);
                    out.write(row);
                } else {
                    buffer.put(row);
                }
                read += rowBytes;
                continue;
            }
            for (int q = 0; q < runs.length; q += 2) {
                int from = runs[q] * elem;
                int len = runs[q + 1] * elem;
                if (buffer.remaining() < len) {
                    flush(out);
                }
                buffer.put(buffer.position(), row, from, len);
                buffer.position(buffer.position() + len);
                read += len;
            }
        }
        flush(out);
        return read;
    }

    private void flush(Sink out) throws IOException {
        buffer.flip();
        if (buffer.hasRemaining()) {
            out.write(buffer);
        }
        buffer.clear();
    }

    /** Ascending indices as (start, length) pairs of consecutive runs. */
    static int[] runs(int[] idx) {
        int[] tmp = new int[idx.length * 2];
        int m = 0;
        for (int i = 0; i < idx.length; ) {
            int j = i + 1;
            while (j < idx.length && idx[j] == idx[j - 1] + 1) {
                j++;
            }
            tmp[m++] = idx[i];
            tmp[m++] = j - i;
            i = j;
        }
        return java.util.Arrays.copyOf(tmp, m);
    }
}
