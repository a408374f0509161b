package dev.manyone.elastic.slice;

import dev.manyone.elastic.checkpoint.TensorReader;
import dev.manyone.formats.CheckpointWriter;
import dev.manyone.formats.TensorInfo;
import dev.manyone.formats.TensorSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Gathers the bytes of one {@link TensorSlice} from a parent tensor and hands them to a sink in chunks of whole
 * elements. The parent is read sequentially in blocks of whole rows by positional reads (never memory-mapped, so the
 * process's resident memory stays flat whatever the parent's size); kept rows are gathered from each block, their
 * columns in runs of consecutive indices, or, when the runs are short (scattered rankings: a few elements each) and
 * the elements are 2 or 4 bytes, element by element through arrays, which costs a fraction of a copy call per run.
 * Blocks with no kept row are never read; the others are read up to {@link ReadAhead#DEPTH} blocks ahead on a
 * read-ahead thread (with direct I/O where possible, {@link TensorReader#readBlock}) while this thread gathers. A ring
 * of {@link ReadAhead#DEPTH} block buffers and one output buffer of {@link #BUFFER_BYTES} (and, for short runs, two
 * arrays of the same size) are all the memory it holds.
 */
final class SliceCopier {
    static final int BUFFER_BYTES = 8 << 20;

    /** Receives consecutive chunks of the child tensor's bytes. */
    interface Sink {
        void write(ByteBuffer chunk) throws IOException;
    }

    private TensorReader reader;
    /** Block buffers of the read-ahead ring ({@link ReadAhead}). */
    private final ByteBuffer[] ring = new ByteBuffer[ReadAhead.DEPTH];
    private ByteBuffer in; // rows larger than a block only
    private final ByteBuffer out = ByteBuffer.allocateDirect(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);

    SliceCopier(TensorReader reader) {
        this.reader = reader;
        for (int i = 0; i < ring.length; i++) {
            ring[i] = TensorReader.blockBuffer(BUFFER_BYTES);
        }
    }

    /** The blocks of whole rows that hold at least one kept row (all blocks if every row is kept). */
    private static List<ReadAhead.Block> blocks(int[] rows, int rowCount, int rowsPerBlock, long rowBytes) {
        List<ReadAhead.Block> out = new ArrayList<>();
        int next = 0;
        for (int first = 0; first < rowCount; first += rowsPerBlock) {
            int last = Math.min(rowCount, first + rowsPerBlock);
            if (rows != null) {
                while (next < rows.length && rows[next] < first) {
                    next++;
                }
                if (next >= rows.length || rows[next] >= last) {
                    continue; // nothing kept here: never read
                }
            }
            out.add(new ReadAhead.Block(first * rowBytes, (int) ((last - first) * rowBytes)));
        }
        return out;
    }

    /** Reads through {@code r} from now on (the buffers are kept). */
    void readWith(TensorReader r) {
        this.reader = r;
    }

    /**
     * Copies into a checkpoint writer; returns the parent bytes read. Whole tensors go by channel transfer unless
     * {@code check} must see their values; {@code check} (or null) sees every byte written.
     */
    long copy(TensorSource parent, TensorInfo src, TensorSlice slice, CheckpointWriter writer, FiniteCheck check) throws IOException {
        if (slice.whole() && check == null) {
            writer.transferFrom(slice.name(), parent, src);
            return src.byteSize();
        }
        Sink sink = chunk -> writer.write(slice.name(), chunk);
        if (check == null) {
            return gather(src, slice, sink);
        }
        long read = gather(src, slice, check.wrap(src, sink));
        check.endTensor(src);
        return read;
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
        if (runs != null && (elem == 2 || elem == 4) && runs.length / 2 * SHORT_RUN > slice.cols().length) {
            return gatherElements(src, rows, slice.cols(), rowElems, rowCount, rowsPerBlock, elem, sink);
        }
        long read = 0;
        int next = 0; // index into rows of the next kept row
        out.clear();
        List<ReadAhead.Block> blocks = blocks(rows, rowCount, rowsPerBlock, rowBytes);
        try (ReadAhead ahead = new ReadAhead(reader, src, blocks, ring)) {
            for (ReadAhead.Block b : blocks) {
                ByteBuffer block = ahead.next();
                read += b.length();
                int first = (int) (b.offset() / rowBytes);
                int last = first + (int) (b.length() / rowBytes); // rows [first, last) in this block
                for (int r = first; r < last; r++) {
                    if (rows != null) {
                        if (next >= rows.length || rows[next] != r) {
                            continue;
                        }
                        next++;
                    }
                    int base = (int) ((r - first) * rowBytes);
                    if (runs == null) {
                        put(block, base, (int) rowBytes, sink);
                    } else {
                        for (int q = 0; q < runs.length; q += 2) {
                            put(block, base + runs[q] * elem, runs[q + 1] * elem, sink);
                        }
                    }
                }
            }
        }
        flush(sink);
        return read;
    }

    /** Runs shorter than this many elements on average are gathered element by element. */
    static final int SHORT_RUN = 16;

    private short[] inShorts;
    private short[] outShorts;
    private int[] inInts;
    private int[] outInts;

    /**
     * The short-run path: each block is moved into an array, kept elements are picked by index into a second array,
     * which is moved into the output buffer when full. Same bytes as the run path.
     */
    private long gatherElements(TensorInfo src, int[] rows, int[] cols, long rowElems, int rowCount, int rowsPerBlock,
                                int elem, Sink sink) throws IOException {
        int capacity = BUFFER_BYTES / elem;
        boolean two = elem == 2;
        if (two && inShorts == null) {
            inShorts = new short[capacity];
            outShorts = new short[capacity];
        } else if (!two && inInts == null) {
            inInts = new int[capacity];
            outInts = new int[capacity];
        }
        int width = (int) rowElems;
        long rowBytes = (long) width * elem;
        long read = 0;
        int next = 0;
        int filled = 0; // elements in the out array
        List<ReadAhead.Block> blocks = blocks(rows, rowCount, rowsPerBlock, rowBytes);
        try (ReadAhead ahead = new ReadAhead(reader, src, blocks, ring)) {
            for (ReadAhead.Block b : blocks) {
                ByteBuffer block = ahead.next();
                read += b.length();
                int first = (int) (b.offset() / rowBytes);
                int last = first + (int) (b.length() / rowBytes);
                int blockElems = (last - first) * width;
                if (two) {
                    block.asShortBuffer().get(inShorts, 0, blockElems);
                } else {
                    block.asIntBuffer().get(inInts, 0, blockElems);
                }
                for (int r = first; r < last; r++) {
                    if (rows != null) {
                        if (next >= rows.length || rows[next] != r) {
                            continue;
                        }
                        next++;
                    }
                    if (filled + cols.length > capacity) {
                        filled = emit(two, filled, elem, sink);
                    }
                    int base = (r - first) * width;
                    if (two) {
                        short[] a = inShorts;
                        short[] o = outShorts;
                        for (int j = 0; j < cols.length; j++) {
                            o[filled + j] = a[base + cols[j]];
                        }
                    } else {
                        int[] a = inInts;
                        int[] o = outInts;
                        for (int j = 0; j < cols.length; j++) {
                            o[filled + j] = a[base + cols[j]];
                        }
                    }
                    filled += cols.length;
                }
            }
        }
        emit(two, filled, elem, sink);
        return read;
    }

    /** Moves the out array's first {@code filled} elements into the out buffer and hands it to the sink; returns 0. */
    private int emit(boolean two, int filled, int elem, Sink sink) throws IOException {
        if (filled == 0) {
            return 0;
        }
        out.clear();
        if (two) {
            out.asShortBuffer().put(outShorts, 0, filled);
        } else {
            out.asIntBuffer().put(outInts, 0, filled);
        }
        out.limit(filled * elem);
        sink.write(out);
        out.clear();
        return 0;
    }

    /** Rows larger than a block (e.g. a [1, 3 GB] matrix): read each kept row's runs directly. */
    private long gatherHugeRows(TensorInfo src, int[] rows, int[] runs, long rowBytes, int rowCount, int elem, Sink sink)
            throws IOException {
        if (in == null) {
            in = ByteBuffer.allocateDirect(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        }
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
