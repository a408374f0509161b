package dev.manyone.formats;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
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
 * memory-mapped lazily in windows of at most 2 GiB split at tensor boundaries ({@link MappedWindows}). The file may
 * also be a byte range of a bigger file (an entry of a package, {@link #open(Path, long, long, Path)}).
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

    /**
     * Opens a safetensors file stored as bytes {@code [start, start + length)} of {@code container} (an entry of a
     * package), validated exactly as a file of its own and mapped in place: no byte is copied. Its tensors'
     * {@link TensorInfo#file()} is {@code container} and their offsets are absolute within it; {@code label} (e.g.
     * {@code family.manyone/model-00001-of-00002.safetensors}) is its {@link #location()} and the file named in
     * error messages.
     */
    public static SafetensorsFile open(Path container, long start, long length, Path label) {
        return open(container, start, length, label, MappedWindows.DEFAULT_LIMIT);
    }

    static SafetensorsFile open(Path container, long start, long length, Path label, long windowLimit) {
        FileChannel ch = null;
        try {
            ch = FileChannel.open(container, StandardOpenOption.READ);
            if (start < 0 || length < 0 || start > ch.size() - length) {
                throw new FormatException(label, "expected " + length + " bytes at offset " + start + " of " + container
                        + ", but it has only " + ch.size() + " bytes (truncated?)");
            }
            SafetensorsHeader local = SafetensorsHeader.read(label, new Region(ch, start, length));
            List<TensorInfo> absolute = new ArrayList<>(local.tensors().size());
            for (TensorInfo t : local.tensors()) {
                absolute.add(new TensorInfo(t.name(), t.dtype(), t.shape(), container, start + t.offset(), t.byteSize()));
            }
            SafetensorsHeader header = new SafetensorsHeader(local.headerLength(), local.metadata(), List.copyOf(absolute));
            return new SafetensorsFile(label, ch, header, windowLimit);
        } catch (IOException e) {
            closeQuietly(ch, e);
            throw new UncheckedIOException(label + ": " + e.getMessage(), e);
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

    /**
     * A read-only window {@code [start, start + length)} of a file, as much of a FileChannel as
     * {@link SafetensorsHeader#read} uses ({@code size} and positional {@code read}); everything else is unsupported.
     * Closing it does not close the file.
     */
    private static final class Region extends FileChannel {
        private final FileChannel file;
        private final long start;
        private final long length;

        Region(FileChannel file, long start, long length) {
            this.file = file;
            this.start = start;
            this.length = length;
        }

        @Override
        public long size() {
            return length;
        }

        @Override
        public int read(ByteBuffer dst, long position) throws IOException {
            if (position >= length) {
                return -1;
            }
            int room = (int) Math.min(dst.remaining(), length - position);
            ByteBuffer window = dst.slice().limit(room);
            int n = file.read(window, start + position);
            if (n > 0) {
                dst.position(dst.position() + n);
            }
            return n;
        }

        private static UnsupportedOperationException unsupported() {
            return new UnsupportedOperationException("a region of a file is read with size() and read(dst, position) only");
        }

        @Override
        public int read(ByteBuffer dst) {
            throw unsupported();
        }

        @Override
        public long read(ByteBuffer[] dsts, int offset, int len) {
            throw unsupported();
        }

        @Override
        public int write(ByteBuffer src) {
            throw unsupported();
        }

        @Override
        public long write(ByteBuffer[] srcs, int offset, int len) {
            throw unsupported();
        }

        @Override
        public int write(ByteBuffer src, long position) {
            throw unsupported();
        }

        @Override
        public long position() {
            throw unsupported();
        }

        @Override
        public FileChannel position(long newPosition) {
            throw unsupported();
        }

        @Override
        public FileChannel truncate(long size) {
            throw unsupported();
        }

        @Override
        public void force(boolean metaData) {
            throw unsupported();
        }

        @Override
        public long transferTo(long position, long count, WritableByteChannel target) {
            throw unsupported();
        }

        @Override
        public long transferFrom(java.nio.channels.ReadableByteChannel src, long position, long count) {
            throw unsupported();
        }

        @Override
        public MappedByteBuffer map(MapMode mode, long position, long size) {
            throw unsupported();
        }

        @Override
        public FileLock lock(long position, long size, boolean shared) {
            throw unsupported();
        }

        @Override
        public FileLock tryLock(long position, long size, boolean shared) {
            throw unsupported();
        }

        @Override
        protected void implCloseChannel() {
            // the file belongs to the SafetensorsFile
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
