package dev.manyone.elastic.checkpoint;

import dev.manyone.formats.FormatException;
import dev.manyone.formats.TensorInfo;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;

/**
 * Positional reads (pread) of tensor bytes into a caller's buffer, for the streaming paths (extraction, export):
 * unlike memory-mapped views, the pages read stay in the page cache and never count towards the process's
 * resident memory, so peak RSS does not grow with the parent's size. One channel per file, opened on first use.
 */
public final class TensorReader implements AutoCloseable {
    private final Map<Path, FileChannel> channels = new HashMap<>();

    /** Fills {@code dst} (its remaining bytes) with the tensor's bytes starting at {@code byteOffset} within it. */
    public void read(TensorInfo t, long byteOffset, ByteBuffer dst) throws IOException {
        int want = dst.remaining();
        if (byteOffset < 0 || byteOffset + want > t.byteSize()) {
            throw new IllegalArgumentException("read of " + want + " bytes at " + byteOffset + " is outside " + t);
        }
        FileChannel ch = channel(t.file());
        long pos = t.offset() + byteOffset;
        while (dst.hasRemaining()) {
            int n = ch.read(dst, pos);
            if (n < 0) {
                throw new FormatException(t.file(), t.name(), "file ended while reading the tensor (truncated since it was opened?)");
            }
            pos += n;
        }
    }

    private FileChannel channel(Path file) throws IOException {
        FileChannel ch = channels.get(file);
        if (ch == null) {
            ch = FileChannel.open(file, StandardOpenOption.READ);
            channels.put(file, ch);
        }
        return ch;
    }

    @Override
    public void close() {
        IOException first = null;
        for (FileChannel ch : channels.values()) {
            try {
                ch.close();
            } catch (IOException e) {
                first = first == null ? e : first;
            }
        }
        channels.clear();
        if (first != null) {
            throw new UncheckedIOException(first);
        }
    }
}
