package dev.manyone.formats.onnx;

import dev.manyone.formats.TensorInfo;
import dev.manyone.formats.TensorSource;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.WritableByteChannel;
import java.util.Objects;

/**
 * The bytes of an initializer, produced only when the writer needs them, so that a multi-GB export can stream
 * weights from memory-mapped checkpoints to disk without holding them in memory.
 *
 * <p>The bytes are the ONNX {@code raw_data} encoding: row-major, "fixed-width, little-endian order",
 * booleans one byte per element. {@link #byteSize()} must be cheap and exact; {@link #writeTo} must write exactly
 * that many bytes (the writer checks it) and may be called more than once (once per write).
 */
public interface TensorData {

    /** Number of bytes {@link #writeTo} writes. */
    long byteSize();

    /** Writes the bytes to {@code out} (all of them; do not close {@code out}). */
    void writeTo(WritableByteChannel out) throws IOException;

    /**
     * The remaining bytes of {@code littleEndianBytes} (position to limit). The buffer is not copied: it must not be
     * changed until the model is written. Its position and limit are not modified.
     */
    static TensorData of(ByteBuffer littleEndianBytes) {
        ByteBuffer view = littleEndianBytes.duplicate();
        return new TensorData() {
            @Override
            public long byteSize() {
                return view.remaining();
            }

            @Override
            public void writeTo(WritableByteChannel out) throws IOException {
                ByteBuffer b = view.duplicate();
                while (b.hasRemaining()) {
                    out.write(b);
                }
            }
        };
    }

    /** The parts' bytes one after the other (for weights stacked along a new first axis). */
    static TensorData concat(java.util.List<TensorData> parts) {
        java.util.List<TensorData> copy = java.util.List.copyOf(parts);
        long total = 0;
        for (TensorData p : copy) {
            total = Math.addExact(total, p.byteSize());
        }
        long size = total;
        return new TensorData() {
            @Override
            public long byteSize() {
                return size;
            }

            @Override
            public void writeTo(WritableByteChannel out) throws IOException {
                for (TensorData p : copy) {
                    p.writeTo(out);
                }
            }
        };
    }

    /** Float32 values (copied), little-endian. */
    static TensorData ofFloats(float... values) {
        ByteBuffer b = ByteBuffer.allocate(Math.multiplyExact(values.length, 4)).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        return of(b);
    }

    /** Int64 values (copied), little-endian. */
    static TensorData ofLongs(long... values) {
        ByteBuffer b = ByteBuffer.allocate(Math.multiplyExact(values.length, 8)).order(ByteOrder.LITTLE_ENDIAN);
        b.asLongBuffer().put(values);
        return of(b);
    }

    /** Int32 values (copied), little-endian. */
    static TensorData ofInts(int... values) {
        ByteBuffer b = ByteBuffer.allocate(Math.multiplyExact(values.length, 4)).order(ByteOrder.LITTLE_ENDIAN);
        b.asIntBuffer().put(values);
        return of(b);
    }

    /**
     * A checkpoint tensor's bytes, unchanged (safetensors and ONNX raw data share the little-endian row-major
     * encoding; use {@link ElemType#of(dev.manyone.formats.DType)} for the type). Streams zero-copy views of the
     * memory-mapped file in chunks of at most 64 MiB; {@code source} must stay open until the model is written.
     */
    static TensorData of(TensorSource source, TensorInfo tensor) {
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(tensor, "tensor");
        return new TensorData() {
            @Override
            public long byteSize() {
                return tensor.byteSize();
            }

            @Override
            public void writeTo(WritableByteChannel out) throws IOException {
                final long chunk = 64L << 20;
                for (long off = 0; off < tensor.byteSize(); off += chunk) {
                    ByteBuffer b = source.bytes(tensor, off, (int) Math.min(chunk, tensor.byteSize() - off));
                    while (b.hasRemaining()) {
                        out.write(b);
                    }
                }
            }
        };
    }
}
