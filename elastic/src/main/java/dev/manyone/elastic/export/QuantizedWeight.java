package dev.manyone.elastic.export;

import dev.manyone.formats.onnx.TensorData;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.WritableByteChannel;

/**
 * A [rows, k] weight block-quantized while it is written, as the two initializers of a {@code com.microsoft} op:
 * {@link #codes} (packed codes) and {@link #scales} (one float per block). Each streams the fp32 weight from its
 * {@link WeightSource} one row at a time and quantizes it with a {@link BlockQuantizer}, so no more than a row of
 * the weight is held, whatever its size. Writing the codes keeps the scales they used (1/32 of the fp32 weight at
 * block 32) when they fit in {@value #SCALE_CACHE_BYTES} bytes, so that the scales, written next, do not read the
 * weight a second time; larger ones are recomputed from a second read. Both are deterministic (the same source gives
 * the same bytes).
 */
final class QuantizedWeight {
    static final long SCALE_CACHE_BYTES = 64L << 20;

    private final WeightSource source;
    private final String name;
    private final long rows;
    private final int k;
    private final BlockQuantizer quantizer;
    private final long scaleCacheBytes;
    /** The scales of every row, kept by a write of the codes for the next write of the scales (then dropped). */
    private float[] cachedScales;

    /** {@code rows} × {@code k} fp32 elements of the canonical tensor {@code name}. */
    QuantizedWeight(WeightSource source, String name, long rows, long k, BlockQuantizer quantizer) {
        this(source, name, rows, k, quantizer, SCALE_CACHE_BYTES);
    }

    /** As above, keeping the scales between the two writes when they take at most {@code scaleCacheBytes}. */
    QuantizedWeight(WeightSource source, String name, long rows, long k, BlockQuantizer quantizer, long scaleCacheBytes) {
        if (k > Integer.MAX_VALUE / 8) {
            throw new IllegalArgumentException(name + ": rows of " + k + " elements are too long to quantize");
        }
        this.source = source;
        this.name = name;
        this.rows = rows;
        this.k = (int) k;
        this.quantizer = quantizer;
        this.scaleCacheBytes = scaleCacheBytes;
    }

    /**
     * The packed codes: MatMulNBits B [rows, k_blocks, blob_size] when {@code padded} (each row padded to whole
     * blocks), GatherBlockQuantized data [rows, ceil(k · bits / 8)] otherwise.
     */
    TensorData codes(boolean padded) {
        long rowBytes = padded ? quantizer.paddedRowBytes(k) : quantizer.rowBytes(k);
        int blocks = (int) quantizer.blocks(k);
        boolean caching = rows * blocks * 4L <= scaleCacheBytes;
        return new Streamed(rows * rowBytes) {
            final byte[] packed = new byte[(int) quantizer.paddedRowBytes(k)];
            float[] scales;

            @Override
            void start() {
                scales = new float[caching ? (int) (rows * blocks) : blocks];
            }

            @Override
            void row(long index, float[] row, ByteBuffer out) {
                int at = caching ? (int) (index * blocks) : 0;
                quantizer.scales(row, k, scales, at);
                quantizer.pack(row, k, scales, at, packed, 0);
                out.put(packed, 0, (int) rowBytes);
            }

            @Override
            void finish() {
                if (caching) {
                    cachedScales = scales;
                }
                scales = null;
            }
        };
    }

    /** The block scales, float [rows · k_blocks] (row-major: the blocks of row 0, then row 1, …). */
    TensorData scales() {
        int blocks = (int) quantizer.blocks(k);
        return new Streamed(rows * blocks * 4L) {
            final float[] scales = new float[blocks];

            @Override
            public void writeTo(WritableByteChannel out) throws IOException {
                float[] cached = cachedScales;
                cachedScales = null;
                if (cached == null) {
                    super.writeTo(out);
                    return;
                }
                ByteBuffer b = ByteBuffer.allocate(cached.length * 4).order(ByteOrder.LITTLE_ENDIAN);
                b.asFloatBuffer().put(cached);
                while (b.hasRemaining()) {
                    out.write(b);
                }
            }

            @Override
            void row(long index, float[] row, ByteBuffer out) {
                quantizer.scales(row, k, scales, 0);
                for (float s : scales) {
                    out.putFloat(s);
                }
            }
        };
    }

    /** Reads the fp32 rows of the source, hands each to {@link #row} and writes what it puts out. */
    private abstract class Streamed implements TensorData {
        private final long byteSize;

        Streamed(long byteSize) {
            this.byteSize = byteSize;
        }

        void start() {
        }

        /** Row {@code index} of the weight, [k] fp32 → what this tensor stores of it, put into {@code out}. */
        abstract void row(long index, float[] row, ByteBuffer out);

        void finish() {
        }

        @Override
        public long byteSize() {
            return byteSize;
        }

        @Override
        public void writeTo(WritableByteChannel out) throws IOException {
            TensorData fp32 = source.tensor(name, false);
            if (fp32.byteSize() != rows * k * 4L) {
                throw new IllegalStateException(name + ": expected " + rows + " x " + k + " fp32 values, the source has "
                        + fp32.byteSize() + " bytes");
            }
            start();
            long[] index = {0};
            float[] row = new float[k];
            ByteBuffer rowBytes = ByteBuffer.allocate(k * 4).order(ByteOrder.LITTLE_ENDIAN);
            ByteBuffer result = ByteBuffer.allocate((int) quantizer.paddedRowBytes(k) + k * 4).order(ByteOrder.LITTLE_ENDIAN);
            fp32.writeTo(new WritableByteChannel() {
                @Override
                public int write(ByteBuffer src) throws IOException {
                    int n = src.remaining();
                    while (src.hasRemaining()) {
                        int take = Math.min(src.remaining(), rowBytes.remaining());
                        ByteBuffer slice = src.slice();
                        slice.limit(take);
                        rowBytes.put(slice);
                        src.position(src.position() + take);
                        if (!rowBytes.hasRemaining()) {
                            rowBytes.flip().asFloatBuffer().get(row);
                            rowBytes.clear();
                            result.clear();
                            row(index[0]++, row, result);
                            result.flip();
                            while (result.hasRemaining()) {
                                out.write(result);
                            }
                        }
                    }
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
            });
            if (index[0] != rows) {
                throw new IllegalStateException(name + ": expected " + rows + " rows, the source gave " + index[0]);
            }
            finish();
        }
    }
}
