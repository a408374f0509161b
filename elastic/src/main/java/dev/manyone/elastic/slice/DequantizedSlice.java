package dev.manyone.elastic.slice;

import dev.manyone.formats.DType;
import dev.manyone.formats.Precision;
import dev.manyone.formats.TensorSource;
import dev.manyone.formats.onnx.TensorData;
import dev.manyone.formats.quant.QuantizedLinear;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.WritableByteChannel;

/**
 * A child's logical weight cut from a quantized parent module (FP8, NVFP4) and dequantized while it is written, for
 * a child exported straight from the parent ({@link SlicedWeights}). Each kept parent row is dequantized as the
 * parent's export dequantizes it ({@link QuantizedLinear#dequantizeRows}: the float64 product of code and scales
 * rounded once to F32, then to F16 for an fp16 export), and its kept columns are taken. The golden README: "The
 * child's dequantized weights are then exactly the parent's dequantized weights, sliced", so this equals exporting the
 * child checkpoint whose stored bytes {@link Extractor} writes. A stored NaN code fails the export (ModelOpt stores
 * none); {@code input_scale} is never used. One row and one chunk of output in memory.
 */
final class DequantizedSlice implements TensorData {
    private static final int CHUNK_ELEMENTS = 1 << 18;

    private final TensorSource source;
    private final QuantizedLinear linear;
    private final TensorSlice slice;
    private final DType target;

    DequantizedSlice(TensorSource source, QuantizedLinear linear, TensorSlice slice, DType target) {
        if (target != DType.F32 && target != DType.F16) {
            throw new IllegalArgumentException("dequantize to F32 or F16, not " + target);
        }
        this.source = source;
        this.linear = linear;
        this.slice = slice;
        this.target = target;
    }

    @Override
    public long byteSize() {
        return Math.multiplyExact(slice.elementCount(), target.size());
    }

    @Override
    public void writeTo(WritableByteChannel out) throws IOException {
        int in = Math.toIntExact(linear.in());
        int[] rows = slice.rows();
        int[] cols = slice.cols();
        int nRows = rows == null ? Math.toIntExact(linear.out()) : rows.length;
        int width = cols == null ? in : cols.length;
        float[] row = new float[in];
        float[] chunk = new float[Math.max(width, CHUNK_ELEMENTS / Math.max(1, width) * width)];
        ByteBuffer bytes = ByteBuffer.allocate(chunk.length * target.size()).order(ByteOrder.LITTLE_ENDIAN);
        int filled = 0;
        for (int k = 0; k < nRows; k++) {
            linear.dequantizeRows(source, rows == null ? k : rows[k], 1, row, 0);
            if (cols == null) {
                System.arraycopy(row, 0, chunk, filled, in);
            } else {
                for (int j = 0; j < cols.length; j++) {
                    chunk[filled + j] = row[cols[j]];
                }
            }
            filled += width;
            if (filled + width > chunk.length) {
                write(chunk, filled, bytes, out);
                filled = 0;
            }
        }
        write(chunk, filled, bytes, out);
    }

    private void write(float[] chunk, int count, ByteBuffer bytes, WritableByteChannel out) throws IOException {
        if (count == 0) {
            return;
        }
        bytes.clear();
        Precision.fromFloats(chunk, 0, count, target, bytes);
        bytes.position(0).limit(count * target.size());
        while (bytes.hasRemaining()) {
            out.write(bytes);
        }
    }
}
