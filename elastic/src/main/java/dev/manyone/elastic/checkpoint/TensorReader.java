package dev.manyone.elastic.checkpoint;

import dev.manyone.formats.FormatException;
import dev.manyone.formats.OutputFiles;
import dev.manyone.formats.TensorInfo;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;

/**
 * Positional reads (pread) of tensor bytes, for the streaming paths (extraction, export): unlike memory-mapped views,
 * the pages read never count towards the process's resident memory, so peak RSS does not grow with the parent's
 * size. Channels are opened per file on first use. Thread-safe (the block views of {@link #readBlock} are read by a
 * read-ahead thread).
 * <p>
 * {@link #read} copies through the page cache into any buffer. {@link #readBlock} reads with direct I/O
 * ({@code O_DIRECT}) where the file system allows it: whole aligned blocks straight into an {@link #blockBuffer}
 * (no copy out of the page cache, which on a virtual machine costs as much CPU as the rest of extraction) and
 * returns a view of the bytes asked for; otherwise it reads through the page cache into the same buffer.
 * {@code -Dmanyone.direct-io=false} turns direct reads off as it does direct writes.
 */
public final class TensorReader implements AutoCloseable {
    /** Alignment of block buffers: a multiple of any block size direct I/O asks for here. */
    static final int ALIGN = 4096;

    private final Map<Path, FileChannel> channels = new HashMap<>();
    private final Map<Path, FileChannel> direct = new HashMap<>();
    private final boolean directIo = OutputFiles.directIo();

    /** Fills {@code dst} (its remaining bytes) with the tensor's bytes starting at {@code byteOffset} within it. */
    public void read(TensorInfo t, long byteOffset, ByteBuffer dst) throws IOException {
        int want = dst.remaining();
        check(t, byteOffset, want);
        readFully(channel(t.file()), t, t.offset() + byteOffset, dst, t.offset() + byteOffset + want);
    }

    /** A buffer for {@link #readBlock} of blocks up to {@code maxBytes}: aligned, with room for the alignment. */
    public static ByteBuffer blockBuffer(int maxBytes) {
        return ByteBuffer.allocateDirect(maxBytes + 3 * ALIGN).alignedSlice(ALIGN);
    }

    /**
     * Reads {@code length} bytes of the tensor at {@code byteOffset} into {@code buffer} (from {@link #blockBuffer})
     * and returns a little-endian view of exactly those bytes (position 0).
     */
    public ByteBuffer readBlock(TensorInfo t, long byteOffset, int length, ByteBuffer buffer) throws IOException {
        check(t, byteOffset, length);
        long from = t.offset() + byteOffset;
        long to = from + length;
        FileChannel ch = directChannel(t.file());
        if (ch == null) {
            buffer.clear().limit(length);
            readFully(channel(t.file()), t, from, buffer, to);
            return buffer.flip().slice().order(ByteOrder.LITTLE_ENDIAN);
        }
        long start = from & -ALIGN;
        long end = (to + ALIGN - 1) & -ALIGN;
        if (end - start > buffer.capacity()) {
            throw new IllegalArgumentException(length + " bytes at " + from + " do not fit a block buffer of " + buffer.capacity());
        }
        buffer.clear().limit((int) (end - start));
        long pos = start;
        while (pos < to) { // the last aligned block may run past the end of the file: a short read there is fine
            int n = ch.read(buffer, pos);
            if (n < 0) {
                throw truncated(t);
            }
            pos += n;
            if (n == 0 && !buffer.hasRemaining()) {
                break;
            }
        }
        return buffer.duplicate().position((int) (from - start)).limit((int) (to - start)).slice().order(ByteOrder.LITTLE_ENDIAN);
    }

    private static void check(TensorInfo t, long byteOffset, int want) {
        if (byteOffset < 0 || byteOffset + want > t.byteSize()) {
            throw new IllegalArgumentException("read of " + want + " bytes at " + byteOffset + " is outside " + t);
        }
    }

    private static void readFully(FileChannel ch, TensorInfo t, long pos, ByteBuffer dst, long end) throws IOException {
        while (dst.hasRemaining() && pos < end) {
            int n = ch.read(dst, pos);
            if (n < 0) {
                throw truncated(t);
            }
            pos += n;
        }
    }

    private static FormatException truncated(TensorInfo t) {
        return new FormatException(t.file(), t.name(), "file ended while reading the tensor (truncated since it was opened?)");
    }

    private synchronized FileChannel channel(Path file) throws IOException {
        FileChannel ch = channels.get(file);
        if (ch == null) {
            ch = FileChannel.open(file, StandardOpenOption.READ);
            channels.put(file, ch);
        }
        return ch;
    }

    /** The file opened for direct reads, or null where direct I/O is off or not supported. */
    private synchronized FileChannel directChannel(Path file) throws IOException {
        if (!directIo) {
            return null;
        }
        if (direct.containsKey(file)) {
            return direct.get(file);
        }
        FileChannel ch = null;
        try {
            if (Files.getFileStore(file).getBlockSize() <= ALIGN) {
                ch = FileChannel.open(file, StandardOpenOption.READ, com.sun.nio.file.ExtendedOpenOption.DIRECT);
                // some file systems accept O_DIRECT at open and refuse the reads: try one block
                ch.read(ByteBuffer.allocateDirect(2 * ALIGN).alignedSlice(ALIGN).limit(ALIGN), 0);
            }
        } catch (IOException | UnsupportedOperationException e) {
            if (ch != null) {
                ch.close();
            }
            ch = null; // no direct I/O on this file system: read through the page cache
        }
        direct.put(file, ch);
        return ch;
    }

    @Override
    public synchronized void close() {
        IOException first = null;
        for (Map<Path, FileChannel> m : java.util.List.of(channels, direct)) {
            for (FileChannel ch : m.values()) {
                try {
                    if (ch != null) {
                        ch.close();
                    }
                } catch (IOException e) {
                    first = first == null ? e : first;
                }
            }
            m.clear();
        }
        if (first != null) {
            throw new UncheckedIOException(first);
        }
    }
}
