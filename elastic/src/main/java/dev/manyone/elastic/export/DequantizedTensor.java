package dev.manyone.elastic.export;

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
 * A quantized linear weight (FP8 or NVFP4) dequantized to its logical {@code [out, in]} while it is written, a block
 * of rows at a time: each weight is the float64 product of its code and scales rounded once to F32 (golden README:
 * "Both products are exact in float64. In fp32 they round"; see {@link dev.manyone.formats.quant.Dequantize}), and
 * for F16 that float is then rounded to nearest even. {@code input_scale} is never used: "Weight dequantization never
 * uses it. The golden logits do not quantize activations." Nothing is held beyond one block.
 */
final class DequantizedTensor implements TensorData {
    private static final int CHUNK_ELEMENTS = 1 << 20;

    private final TensorSource source;
    private final QuantizedLinear linear;
    private final DType target;

    DequantizedTensor(TensorSource source, QuantizedLinear linear, DType target) {
        if (target != DType.F32 && target != DType.F16) {
            throw new IllegalArgumentException("dequantize to F32 or F16, not " + target);
        }
        this.source = source;
        this.linear = linear;
        this.target = target;
    }

    @Override
    public long byteSize() {
        return Math.multiplyExact(linear.parameters(), target.size());
    }

    @Override
    public void writeTo(WritableByteChannel out) throws IOException {
        int in = Math.toIntExact(linear.in());
        int rows = (int) Math.max(1, Math.min(linear.out(), CHUNK_ELEMENTS / Math.max(1, in)));
        float[] floats = new float[Math.multiplyExact(rows, in)];
        ByteBuffer bytes = ByteBuffer.allocateDirect(floats.length * target.size()).order(ByteOrder.LITTLE_ENDIAN);
        for (long first = 0; first < linear.out(); first += rows) {
            int count = (int) Math.min(rows, linear.out() - first);
            linear.dequantizeRows(source, (int) first, count, floats, 0);
            bytes.clear();
            Precision.fromFloats(floats, 0, count * in, target, bytes);
            bytes.position(0).limit(count * in * target.size());
            while (bytes.hasRemaining()) {
                out.write(bytes);
            }
        }
    }
}
