package dev.manyone.elastic.slice;

import dev.manyone.formats.CheckpointWriter;
import dev.manyone.formats.TensorInfo;
import dev.manyone.formats.TensorSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Copies the bytes of one {@link TensorSlice} from a parent tensor into a writer: whole tensors by channel
 * transfer, otherwise row by row, columns gathered in runs of consecutive indices. Holds one output buffer
 * (at most {@link #BUFFER_BYTES}); the parent is read through memory-mapped views.
 */
final class SliceCopier {
    static final int BUFFER_BYTES = 8 << 20;

    private final ByteBuffer buffer = ByteBuffer.allocateDirect(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);

    /** Returns the number of parent bytes read. */
    long copy(TensorSource parent, TensorInfo src, TensorSlice slice, CheckpointWriter out) throws IOException {
        if (slice.whole()) {
            out.transferFrom(slice.name(), parent, src);
            return src.byteSize();
        }
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
                flush(slice.name(), out);
            }
            if (runs == null) {
                if (outRowBytes > buffer.capacity()) { // a row larger than the buffer goes straight through
                    flush(slice.name(), out);
                    out.write(slice.name(), row);
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
                    flush(slice.name(), out);
                }
                buffer.put(buffer.position(), row, from, len);
                buffer.position(buffer.position() + len);
                read += len;
            }
        }
        flush(slice.name(), out);
        return read;
    }

    private void flush(String name, CheckpointWriter out) throws IOException {
        buffer.flip();
        if (buffer.hasRemaining()) {
            out.write(name, buffer);
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
