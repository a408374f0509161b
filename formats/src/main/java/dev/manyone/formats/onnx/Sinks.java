package dev.manyone.formats.onnx;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;

/** The in-memory channel {@link TensorData#writeTo} writes small tensors into (files get a BackgroundWriter). */
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
}
