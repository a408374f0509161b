package dev.manyone.importance;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Activations spilled to disk between passes: raw little-endian F32, one batch after the other, written once and
 * then read back in order (the layer-streamed mode keeps the residual stream here, never the whole of it in memory).
 */
final class SpillFile {
    private static final int CHUNK = 1 << 18;
    private final Path path;

    private SpillFile(Path path) {
        this.path = path;
    }

    /** A new empty spill file in {@code dir}. */
    static SpillFile create(Path dir, String prefix) {
        try {
            return new SpillFile(Files.createTempFile(dir, prefix, ".f32"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    Path path() {
        return path;
    }

    Writer writer() {
        try {
            return new Writer(FileChannel.open(path, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    Reader reader() {
        try {
            return new Reader(FileChannel.open(path, StandardOpenOption.READ));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    void delete() {
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static final class Writer implements AutoCloseable {
        private final FileChannel ch;

        private Writer(FileChannel ch) {
            this.ch = ch;
        }

        private final ByteBuffer buf = ByteBuffer.allocate(CHUNK * 4).order(ByteOrder.LITTLE_ENDIAN);

        void write(float[] a) {
            try {
                for (int from = 0; from < a.length; from += CHUNK) {
                    int n = Math.min(CHUNK, a.length - from);
                    buf.clear();
                    buf.asFloatBuffer().put(a, from, n);
                    buf.limit(n * 4);
                    while (buf.hasRemaining()) {
                        ch.write(buf);
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        public void close() {
            try {
                ch.close();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    static final class Reader implements AutoCloseable {
        private final FileChannel ch;

        private Reader(FileChannel ch) {
            this.ch = ch;
        }

        /** The next {@code n} floats. */
        private final ByteBuffer buf = ByteBuffer.allocate(CHUNK * 4).order(ByteOrder.LITTLE_ENDIAN);

        float[] read(int n) {
            float[] a = new float[n];
            try {
                for (int from = 0; from < n; from += CHUNK) {
                    int len = Math.min(CHUNK, n - from);
                    buf.clear();
                    buf.limit(len * 4);
                    while (buf.hasRemaining()) {
                        if (ch.read(buf) < 0) {
                            throw new IllegalStateException("spill file ended early");
                        }
                    }
                    buf.flip();
                    buf.asFloatBuffer().get(a, from, len);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return a;
        }

        @Override
        public void close() {
            try {
                ch.close();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }
}
