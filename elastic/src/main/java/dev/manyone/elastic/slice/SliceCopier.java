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
 * Gathers the bytes of {@link TensorSlice}s of one parent tensor (one per child written in the same pass) and hands
 * each child's bytes to its sink in chunks of whole elements. The parent is read once, sequentially, in blocks of
 * whole rows by positional reads (never memory-mapped, so the process's resident memory stays flat whatever the
 * parent's size); blocks where no child keeps a row are never read; the others are read up to
 * {@link ReadAhead#DEPTH} blocks ahead on a read-ahead thread (with direct I/O where possible,
 * {@link TensorReader#readBlock}) while this thread gathers. From each block every child takes its kept rows, their
 * columns in runs of consecutive indices, or, when the runs are short (scattered rankings: a few elements each) and
 * the elements are 2 or 4 bytes, element by element through arrays, which costs a fraction of a copy call per run.
 * Memory: a ring of {@link ReadAhead#DEPTH} block buffers of {@link #BUFFER_BYTES}, an input array of the same size,
 * and per child an output buffer and array of that size.
 */
final class SliceCopier {
    static final int BUFFER_BYTES = 8 << 20;

    /** Runs shorter than this many elements on average are gathered element by element. */
    static final int SHORT_RUN = 16;

    /** Receives consecutive chunks of the child tensor's bytes. */
    interface Sink {
        void write(ByteBuffer chunk) throws IOException;
    }

    /** One child's share of a parent tensor: what it keeps and where the bytes go. */
    record Part(TensorSlice slice, Sink sink) {
    }

    private TensorReader reader;
    /** Block buffers of the read-ahead ring ({@link ReadAhead}). */
    private final ByteBuffer[] ring = new ByteBuffer[ReadAhead.DEPTH];
    private final List<Lane> lanes = new ArrayList<>();
    private short[] inShorts;
    private int[] inInts;
    private ByteBuffer in; // rows larger than a block only

    SliceCopier(TensorReader reader) {
        this.reader = reader;
        for (int i = 0; i < ring.length; i++) {
            ring[i] = TensorReader.blockBuffer(BUFFER_BYTES);
        }
    }

    /** Reads through {@code r} from now on (the buffers are kept). */
    void readWith(TensorReader r) {
        this.reader = r;
    }

    /** One child's writer for {@link #copyAll}: its slice, its checkpoint writer, its finiteness check (or null). */
    record Target(TensorSlice slice, CheckpointWriter writer, FiniteCheck check) {
    }

    /**
     * Copies one parent tensor into every target's checkpoint writer, reading the parent once; returns the parent
     * bytes read. A single target keeping the whole tensor without a check goes by channel transfer.
     */
    long copyAll(TensorSource parent, TensorInfo src, List<Target> targets) throws IOException {
        if (targets.size() == 1 && targets.get(0).slice().whole() && targets.get(0).check() == null) {
            Target t = targets.get(0);
            t.writer().transferFrom(t.slice().name(), parent, src);
            return src.byteSize();
        }
        List<Part> parts = new ArrayList<>();
        for (Target t : targets) {
            Sink sink = chunk -> t.writer().write(t.slice().name(), chunk);
            parts.add(new Part(t.slice(), t.check() == null ? sink : t.check().wrap(src, sink)));
        }
        long read = gatherAll(src, parts);
        for (Target t : targets) {
            if (t.check() != null) {
                t.check().endTensor(src);
            }
        }
        return read;
    }

    /** Gathers one slice (or the whole tensor) into {@code sink}; returns the parent bytes read. */
    long gather(TensorInfo src, TensorSlice slice, Sink sink) throws IOException {
        return gatherAll(src, List.of(new Part(slice, sink)));
    }

    /** Gathers every part from one read of the tensor; returns the parent bytes read. */
    long gatherAll(TensorInfo src, List<Part> parts) throws IOException {
        int elem = src.dtype().size();
        long rowElems = 1;
        for (int d = 1; d < src.rank(); d++) {
            rowElems *= src.dim(d);
        }
        long rowBytes = rowElems * elem;
        int rowCount = src.rank() == 0 ? 1 : (int) src.dim(0);
        if (rowBytes > BUFFER_BYTES) {
            long read = 0;
            for (Part p : parts) { // rare shapes ([1, huge]); each child reads its own runs
                read += gatherHugeRows(src, p.slice().rows(), p.slice().cols() == null ? null : runs(p.slice().cols()), rowBytes,
                        rowCount, elem, p.sink());
            }
            return read;
        }
        int rowsPerBlock = (int) Math.max(1, BUFFER_BYTES / rowBytes);
        while (lanes.size() < parts.size()) {
            lanes.add(new Lane());
        }
        boolean anyElements = false;
        for (int i = 0; i < parts.size(); i++) {
            anyElements |= lanes.get(i).begin(parts.get(i), elem, (int) rowElems);
        }
        if (anyElements && (elem == 2 ? inShorts == null : inInts == null)) {
            if (elem == 2) {
                inShorts = new short[BUFFER_BYTES / 2];
            } else {
                inInts = new int[BUFFER_BYTES / 4];
            }
        }
        List<ReadAhead.Block> blocks = blocks(parts, rowCount, rowsPerBlock, rowBytes);
        long read = 0;
        try (ReadAhead ahead = new ReadAhead(reader, src, blocks, ring)) {
            for (ReadAhead.Block b : blocks) {
                ByteBuffer block = ahead.next();
                read += b.length();
                int first = (int) (b.offset() / rowBytes);
                int last = first + (int) (b.length() / rowBytes); // rows [first, last) in this block
                if (anyElements) {
                    int n = (last - first) * (int) rowElems;
                    if (elem == 2) {
                        block.asShortBuffer().get(inShorts, 0, n);
                    } else {
                        block.asIntBuffer().get(inInts, 0, n);
                    }
                }
                for (int i = 0; i < parts.size(); i++) {
                    lanes.get(i).block(block, first, last);
                }
            }
        }
        for (int i = 0; i < parts.size(); i++) {
            lanes.get(i).end();
        }
        return read;
    }

    /** The blocks of whole rows where at least one part keeps a row (all blocks if one keeps every row). */
    private static List<ReadAhead.Block> blocks(List<Part> parts, int rowCount, int rowsPerBlock, long rowBytes) {
        boolean[] kept = null;
        for (Part p : parts) {
            int[] rows = p.slice().rows();
            if (rows == null) {
                kept = null;
                break;
            }
            kept = kept == null ? new boolean[rowCount] : kept;
            for (int r : rows) {
                kept[r] = true;
            }
        }
        List<ReadAhead.Block> out = new ArrayList<>();
        for (int first = 0; first < rowCount; first += rowsPerBlock) {
            int last = Math.min(rowCount, first + rowsPerBlock);
            boolean any = kept == null;
            for (int r = first; r < last && !any; r++) {
                any = kept[r];
            }
            if (any) {
                out.add(new ReadAhead.Block(first * rowBytes, (int) ((last - first) * rowBytes)));
            }
        }
        return out;
    }

    /** One child's gathering state: its output buffer (and array) kept from tensor to tensor. */
    private final class Lane {
        private final ByteBuffer out = ByteBuffer.allocateDirect(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        private short[] outShorts;
        private int[] outInts;
        // the current tensor
        private Sink sink;
        private int[] rows;
        private int[] cols;
        private int[] runs;
        private boolean elements; // element by element through the arrays
        private int elem;
        private int width; // elements per row
        private int next; // index into rows of the next kept row
        private int filled; // elements in the out array

        /** Starts a tensor; returns whether this lane gathers element by element (needs the input array). */
        boolean begin(Part p, int elem, int width) {
            this.sink = p.sink();
            this.rows = p.slice().rows();
            this.cols = p.slice().cols();
            this.runs = cols == null ? null : SliceCopier.runs(cols);
            this.elem = elem;
            this.width = width;
            this.elements = runs != null && (elem == 2 || elem == 4) && runs.length / 2 * SHORT_RUN > cols.length;
            this.next = 0;
            this.filled = 0;
            out.clear();
            if (elements && elem == 2 && outShorts == null) {
                outShorts = new short[BUFFER_BYTES / 2];
            } else if (elements && elem == 4 && outInts == null) {
                outInts = new int[BUFFER_BYTES / 4];
            }
            return elements;
        }

        /** Takes this child's rows of block rows [first, last) (its bytes in {@code block}, its elements in the input array). */
        void block(ByteBuffer block, int first, int last) throws IOException {
            int rowBytes = width * elem;
            for (int r = first; r < last; r++) {
                if (rows != null) {
                    while (next < rows.length && rows[next] < r) {
                        next++;
                    }
                    if (next >= rows.length || rows[next] >= last) {
                        return; // no more kept rows in this block
                    }
                    if (rows[next] != r) {
                        r = rows[next] - 1; // skip to the next kept row
                        continue;
                    }
                    next++;
                }
                int base = (r - first) * width;
                if (elements) {
                    gatherRow(base);
                } else if (runs == null) {
                    put(block, base * elem, rowBytes);
                } else {
                    for (int q = 0; q < runs.length; q += 2) {
                        put(block, (base + runs[q]) * elem, runs[q + 1] * elem);
                    }
                }
            }
        }

        private void gatherRow(int base) throws IOException {
            int capacity = BUFFER_BYTES / elem;
            if (filled + cols.length > capacity) {
                emit();
            }
            if (elem == 2) {
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

        /** Moves the out array's elements into the out buffer and hands it to the sink. */
        private void emit() throws IOException {
            if (filled == 0) {
                return;
            }
            out.clear();
            if (elem == 2) {
                out.asShortBuffer().put(outShorts, 0, filled);
            } else {
                out.asIntBuffer().put(outInts, 0, filled);
            }
            out.limit(filled * elem);
            sink.write(out);
            out.clear();
            filled = 0;
        }

        private void put(ByteBuffer from, int offset, int length) throws IOException {
            if (out.remaining() < length) {
                flush();
            }
            out.put(out.position(), from, offset, length);
            out.position(out.position() + length);
        }

        private void flush() throws IOException {
            out.flip();
            if (out.hasRemaining()) {
                sink.write(out);
            }
            out.clear();
        }

        /** Hands over what is left of the current tensor. */
        void end() throws IOException {
            if (elements) {
                emit();
            } else {
                flush();
            }
            sink = null;
        }
    }

    /** Rows larger than a block (e.g. a [1, 3 GB] matrix): read each kept row's runs directly, in pieces. */
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
        return read;
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
