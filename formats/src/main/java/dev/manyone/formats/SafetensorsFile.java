package dev.manyone.formats;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One {@code .safetensors} file, validated on open (see {@link SafetensorsHeader} for the layout and the checks) and
 * memory-mapped lazily in windows of at most 2 GiB split at tensor boundaries ({@link MappedWindows}).
 */
public final class SafetensorsFile implements TensorSource {
    private final Path path;
    private final FileChannel channel;
    private final SafetensorsHeader header;
    private final List<TensorInfo> sorted;
    private final Map<String, TensorInfo> byName;
    private final MappedWindows windows;

    private SafetensorsFile(Path path, FileChannel channel, SafetensorsHeader header, long windowLimit) {
        this.path = path;
        this.channel = channel;
        this.header = header;
        this.byName = new HashMap<>();
        for (TensorInfo t : header.tensors()) {
            byName.put(t.name(), t);
        }
        List<TensorInfo> s = new ArrayList<>(header.tensors());
        s.sort(Comparator.comparing(TensorInfo::name));
        this.sorted = List.copyOf(s);
        this.windows = new MappedWindows(channel, header.tensors(), windowLimit);
    }

    /** Opens and validates {@code path}; FormatException if it is not a valid safetensors file, UncheckedIOException on I/O failure. */
    public static SafetensorsFile open(Path path) {
        return open(path, MappedWindows.DEFAULT_LIMIT);
    }

    /** As {@link #open(Path)} with a smaller window limit, for tests. */
    static SafetensorsFile open(Path path, long windowLimit) {
        FileChannel ch = null;
        try {
            ch = FileChannel.open(path, StandardOpenOption.READ);
            SafetensorsHeader header = SafetensorsHeader.read(path, ch);
            return new SafetensorsFile(path, ch, header, windowLimit);
        } catch (IOException e) {
            closeQuietly(ch, e);
            throw new UncheckedIOException(path + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            closeQuietly(ch, e);
            throw e;
        }
    }

    private static void closeQuietly(FileChannel ch, Exception pending) {
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException suppressed) {
                pending.addSuppressed(suppressed);
            }
        }
    }

    @Override
    public Path location() {
        return path;
    }

    @Override
    public List<TensorInfo> tensors() {
        return sorted;
    }

    /** The tensors in the order of their offsets in the file. */
    public List<TensorInfo> tensorsByOffset() {
        List<TensorInfo> s = new ArrayList<>(header.tensors());
        s.sort(Comparator.comparingLong(TensorInfo::offset).thenComparing(TensorInfo::name));
        return s;
    }

    @Override
    public Optional<TensorInfo> find(String name) {
        return Optional.ofNullable(byName.get(name));
    }

    /** Header length N: the data region starts at byte 8 + N. */
    public long headerLength() {
        return header.headerLength();
    }

    int windowCount() {
        return windows.windowCount();
    }

    @Override
    public ByteBuffer bytes(TensorInfo tensor, long byteOffset, int length) {
        own(tensor);
        if (byteOffset < 0 || length < 0 || byteOffset > tensor.byteSize() - length) {
            throw new FormatException(path, tensor.name(), "byte range [" + byteOffset + ", " + (byteOffset + length)
                    + ") is outside the tensor's " + tensor.byteSize() + " bytes");
        }
        return windows.view(tensor, byteOffset, length);
    }

    @Override
    public float[] readFloats(TensorInfo tensor) {
        own(tensor);
        return Precision.readFloats(this, tensor);
    }

    @Override
    public void copyTo(TensorInfo tensor, WritableByteChannel out) throws IOException {
        own(tensor);
        long pos = tensor.offset();
        long end = pos + tensor.byteSize();
        while (pos < end) {
            long n = channel.transferTo(pos, end - pos, out);
            if (n <= 0) {
                if (channel.size() < end) {
                    throw new IOException(path + ": file shrank to " + channel.size() + " bytes while copying '" + tensor.name() + "'");
                }
                // target not ready (non-blocking) or transferTo made no progress: copy through a view
                ByteBuffer view = bytes(tensor, pos - tensor.offset(), (int) Math.min(end - pos, 1 << 20));
                while (view.hasRemaining()) {
                    n += out.write(view);
                }
            }
            pos += n;
        }
    }

    @Override
    public Map<String, String> metadata() {
        return header.metadata();
    }

    private void own(TensorInfo tensor) {
        TensorInfo mine = byName.get(tensor.name());
        if (!tensor.equals(mine)) {
            throw new IllegalArgumentException("tensor " + tensor + " of " + tensor.file() + " is not from " + path);
        }
    }

    @Override
    public void close() {
        windows.close();
        try {
            channel.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
