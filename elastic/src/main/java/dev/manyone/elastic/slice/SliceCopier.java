package dev.manyone.elastic.slice;

import dev.manyone.elastic.checkpoint.TensorReader;
import dev.manyone.formats.CheckpointWriter;
import dev.manyone.formats.TensorInfo;
import dev.manyone.formats.TensorSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Gathers the bytes of one {@link TensorSlice} from a parent tensor and hands them to a sink in chunks of whole
 * elements. The parent is read sequentially in blocks of whole rows by positional reads (never memory-mapped, so the
 * process's resident memory stays flat whatever the parent's size); kept rows are gathered from each block, their
 * columns in runs of consecutive indices. Blocks with no kept row are skipped. Two buffers of
 * {@link #BUFFER_BYTES} are all the memory it holds.
 */
final class SliceCopier {
    static final int BUFFER_BYTES = 8 << 20;

    /** Receives consecutive chunks of the child tensor's bytes. */
    interface Sink {
        void write(ByteBuffer chunk) throws IOException;
    }

    private TensorReader reader;
    private final ByteBuffer in = ByteBuffer.allocateDirect(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    private final ByteBuffer out = ByteBuffer.allocateDirect(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);

    SliceCopier(TensorReader reader) {
        this.reader = reader;
    }

    /** Reads through {@code r} from now on (the buffers are kept). */
    void readWith(TensorReader r) {
        this.reader = r;
    }

    /** Copies into a checkpoint writer (whole tensors by channel transfer); returns the parent bytes read. */
    long copy(TensorSource parent, TensorInfo src, TensorSlice slice, CheckpointWriter writer) throws IOException {
        if (slice.whole()) {
            writer.transferFrom(slice.name(), parent, src);
            return src.byteSize();
        }
        return gather(src, slice, chunk -> writer.write(slice.name(), chunk));
    }

    /** Gathers the slice (or the whole tensor) into {@code sink}; returns the parent bytes read. */
    long gather(TensorInfo src, TensorSlice slice, Sink sink) throws IOException {
        int elem = src.dtype().size();
        long rowElems = 1;
        for (int d = 1; d < src.rank(); d++) {
            rowElems *= src.dim(d);
        }
        long rowBytes = rowElems * elem;
        int rowCount = src.rank() == 0 ? 1 : (int) src.dim(0);
        int[] rows = slice.rows();
        int[] runs = slice.cols() == null ? null : runs(slice.cols());
        if (rowBytes > BUFFER_BYTES) {
            return gatherHugeRows(src, rows, runs, rowBytes, rowCount, elem, sink);
        }
        int rowsPerBlock = (int) Math.max(1, BUFFER_BYTES / rowBytes);
        long read = 0;
        int next = 0; // index into rows of the next kept row
        out.clear();
        for (int first = 0; first < rowCount; first += rowsPerBlock) {
            int last = Math.min(rowCount, first + rowsPerBlock); // rows [first, last) in this block
            if (rows != null && (next >= rows.length || rows[next] >= last)) {
                continue; // nothing kept here: skip the read
            }
            in.clear().limit((int) ((last - first) * rowBytes));
            reader.read(src, first * rowBytes, in);
            read += in.limit();
            for (int r = first; r < last; r++) {
                if (rows != null) {
                    if (next >= rows.length || rows[next] != r) {
                        continue;
                    }
                    next++;
                }
                int base = (int) ((r - first) * rowBytes);
                if (runs == null) {
                    put(in, base, (int) rowBytes, sink);
                } else {
                    for (int q = 0; q < runs.length; q += 2) {
                        put(in, base + runs[q] * elem, runs[q + 1] * elem, sink);
                    }
                }
            }
        }
        flush(sink);
        return read;
    }

    /** Rows larger than a block (e.g. a [1, 3 GB] matrix): read each kept row's runs directly. */
    private long gatherHugeRows(TensorInfo src, int[] rows, int[] runs, long rowBytes, int rowCount, int elem, Sink sink)
            throws IOException {
        long read = 0;
        int n = rows == null ? rowCount : rows.length;
        int[] all = runs == null ? new int[] {0, (int) (rowBytes / elem)} : runs;
        for (int k = 0; k < n; k++) {
            long base = (long) (rows == null ? k : rows[k]) * rowBytes;
            for (int q = 0; q < all.length; q += 2) {
                long at = base + (long) all[q] * elem;
                long left = (long) all[q + 1] * elem;
                while (left > 0) {
                    flush(sink);
                    int len = (int) Math.min(left, BUFFER_BYTES);
                    in.clear().limit(len);
                    reader.read(src, at, in);
                    in.flip();
                    sink.write(in);
                    read += len;
                    at += len;
                    left -= len;
                }
            }
        }
        flush(sink);
        return read;
    }

    private void put(ByteBuffer from, int offset, int length, Sink sink) throws IOException {
        if (out.remaining() < length) {
            flush(sink);
        }
        out.put(out.position(), from, offset, length);
        out.position(out.position() + length);
    }

    private void flush(Sink sink) throws IOException {
        out.flip();
        if (out.hasRemaining()) {
            sink.write(out);
        }
        out.clear();
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
        return Arrays.copyOf(tmp, m);
    }
}
