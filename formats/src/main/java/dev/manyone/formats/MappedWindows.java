package dev.manyone.formats;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.ref.WeakReference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Memory mappings of one file's tensors. Tensors consecutive by offset are grouped into windows of at most
 * {@code limit} bytes (2 GiB - 1 by default: a MappedByteBuffer is int-indexed), so no tensor straddles a window.
 * Windows are mapped READ_ONLY on first use. A tensor larger than the limit belongs to no window: each request
 * maps just the requested range. {@link #close()} unmaps everything eagerly (see {@link Unmapper}).
 * Thread-safe.
 */
final class MappedWindows {
    /** The largest window: a mapped buffer is indexed by int. */
    static final long DEFAULT_LIMIT = Integer.MAX_VALUE;

    private final FileChannel channel;
    private final long[] starts;
    private final long[] lengths;
    private final MappedByteBuffer[] mapped;
    private final Map<String, Integer> windowOf = new HashMap<>();
    private final List<WeakReference<MappedByteBuffer>> ranges = new ArrayList<>();
    private boolean closed;

    MappedWindows(FileChannel channel, List<TensorInfo> tensors, long limit) {
        if (limit <= 0 || limit > DEFAULT_LIMIT) {
            throw new IllegalArgumentException("window limit must be in [1, " + DEFAULT_LIMIT + "], got " + limit);
        }
        this.channel = channel;
        List<TensorInfo> byOffset = new ArrayList<>(tensors);
        byOffset.sort(Comparator.comparingLong(TensorInfo::offset).thenComparingLong(TensorInfo::byteSize));
        List<long[]> windows = new ArrayList<>(); // [start, length]
        long[] current = null;
        for (TensorInfo t : byOffset) {
            if (t.byteSize() > limit) {
                current = null; // mapped per range on demand
                continue;
            }
            long end = t.offset() + t.byteSize();
            if (current == null || end - current[0] > limit) {
                current = new long[] {t.offset(), 0};
                windows.add(current);
            }
            current[1] = Math.max(current[1], end - current[0]);
            windowOf.put(t.name(), windows.size() - 1);
        }
        starts = new long[windows.size()];
        lengths = new long[windows.size()];
        for (int i = 0; i < starts.length; i++) {
            starts[i] = windows.get(i)[0];
            lengths[i] = windows.get(i)[1];
        }
        mapped = new MappedByteBuffer[starts.length];
    }

    /** Number of windows (tensors larger than the limit are in none). */
    int windowCount() {
        return starts.length;
    }

    /** A little-endian read-only view of {@code length} bytes at {@code offsetInTensor}; the range is already checked. */
    ByteBuffer view(TensorInfo tensor, long offsetInTensor, int length) {
        Integer w = windowOf.get(tensor.name());
        if (w != null) {
            MappedByteBuffer buffer = window(w);
            int pos = Math.toIntExact(tensor.offset() + offsetInTensor - starts[w]);
            return buffer.slice(pos, length).order(ByteOrder.LITTLE_ENDIAN);
        }
        MappedByteBuffer range;
        synchronized (this) {
            checkOpen();
            try {
                range = channel.map(FileChannel.MapMode.READ_ONLY, tensor.offset() + offsetInTensor, length);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            if (ranges.size() >= 64) {
                ranges.removeIf(r -> r.get() == null);
            }
            ranges.add(new WeakReference<>(range));
        }
        return range.slice().order(ByteOrder.LITTLE_ENDIAN);
    }

    private synchronized MappedByteBuffer window(int w) {
        checkOpen();
        MappedByteBuffer b = mapped[w];
        if (b == null) {
            try {
                b = channel.map(FileChannel.MapMode.READ_ONLY, starts[w], lengths[w]);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            mapped[w] = b;
        }
        return b;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("tensor source is closed");
        }
    }

    /** Unmaps every window and every range still referenced. Views obtained before must not be used afterwards. */
    synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (int i = 0; i < mapped.length; i++) {
            Unmapper.unmap(mapped[i]);
            mapped[i] = null;
        }
        for (WeakReference<MappedByteBuffer> r : ranges) {
            Unmapper.unmap(r.get());
        }
        ranges.clear();
    }
}
