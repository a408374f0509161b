package dev.manyone.formats.onnx;

import dev.manyone.formats.BackgroundWriter;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;

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
     * Writes to a FileChannel through a {@link BackgroundWriter} (the copy into the page cache overlaps the caller's
     * slicing and converting); counts every byte. {@link #close()} stops the writer thread, not the file, which
     * belongs to the writer.
     */
    static final class FileSink implements WritableByteChannel {
        private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(4096);
        private final FileChannel file;
        private final BackgroundWriter out;
        private long count;

        FileSink(FileChannel file, int bufferSize, String name, int alignment) {
            this.file = file;
            this.out = new BackgroundWriter(file, bufferSize, name, alignment);
        }

        /** Bytes accepted so far (handed to the writer or written). */
        long count() {
            return count;
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            int n = src.remaining();
            out.write(src);
            count += n;
            return n;
        }

        /** Appends {@code n} zero bytes (alignment padding). */
        void zeros(long n) throws IOException {
            long left = n;
            while (left > 0) {
                int k = (int) Math.min(left, ZEROS.capacity());
                write(ZEROS.duplicate().limit(k));
                left -= k;
            }
        }

        /** Writes every byte into the file (the file then has exactly {@link #count()} bytes); only close may follow. */
        void finish() throws IOException {
            out.finish();
        }

        @Override
        public boolean isOpen() {
            return file.isOpen();
        }

        @Override
        public void close() {
            out.close();
        }
    }
}
