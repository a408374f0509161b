package dev.manyone.formats.onnx;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.util.Arrays;

/** The channels {@link TensorData#writeTo} writes into: an in-memory one and a buffered, counting file one. */
final class Sinks {
    private Sinks() {
    }

    /** All bytes of {@code data} (for small tensors: inline raw_data, constants); checks the count. */
    static byte[] toArray(TensorData data, String what) {
        long size = data.byteSize();
        if (size > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException(what + ": " + size + " bytes do not fit in one array");
        }
        ArraySink sink = new ArraySink((int) size);
        try {
            data.writeTo(sink);
        } catch (IOException e) {
            throw new IllegalStateException(what + ": reading the tensor data failed: " + e.getMessage(), e);
        }
        if (sink.count != size) {
            throw new IllegalStateException(what + ": TensorData wrote " + sink.count + " bytes, its byteSize() is " + size);
        }
        return sink.bytes;
    }

    /** Collects exactly {@code capacity} bytes; writing more fails. */
    private static final class ArraySink implements WritableByteChannel {
        final byte[] bytes;
        int count;

        ArraySink(int capacity) {
            bytes = new byte[capacity];
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            int n = src.remaining();
            if (n > bytes.length - count) {
                throw new IOException("TensorData wrote more than its byteSize() of " + bytes.length + " bytes");
            }
            src.get(bytes, count, n);
            count += n;
            return n;
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {
            // owned by the writer
        }
    }

    /**
     * Buffers small writes to a FileChannel and passes large ones (e.g. views of mapped checkpoint files) straight
     * through; counts every byte. {@link #close()} does nothing: the file belongs to the writer.
     */
    static final class FileSink implements WritableByteChannel {
        private final FileChannel file;
        private final ByteBuffer buffer;
        private long count;

        FileSink(FileChannel file, int bufferSize) {
            this.file = file;
            this.buffer = ByteBuffer.allocateDirect(bufferSize);
        }

        /** Bytes accepted so far (buffered or written). */
        long count() {
            return count;
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            int n = src.remaining();
            if (n >= buffer.capacity()) {
                flush();
                while (src.hasRemaining()) {
                    file.write(src);
                }
            } else {
                if (n > buffer.remaining()) {
                    flush();
                }
                buffer.put(src);
            }
            count += n;
            return n;
        }

        /** Appends {@code n} zero bytes (alignment padding). */
        void zeros(long n) throws IOException {
            byte[] z = new byte[(int) Math.min(n, 4096)];
            long left = n;
            while (left > 0) {
                int k = (int) Math.min(left, z.length);
                Arrays.fill(z, 0, k, (byte) 0);
                write(ByteBuffer.wrap(z, 0, k));
                left -= k;
            }
        }

        void flush() throws IOException {
            buffer.flip();
            while (buffer.hasRemaining()) {
                file.write(buffer);
            }
            buffer.clear();
        }

        @Override
        public boolean isOpen() {
            return file.isOpen();
        }

        @Override
        public void close() {
            // owned by the writer
        }
    }
}
