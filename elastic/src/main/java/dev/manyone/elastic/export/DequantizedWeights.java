package dev.manyone.elastic.export;

import dev.manyone.elastic.ExpectedTensor;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.TensorNames;
import dev.manyone.formats.onnx.TensorData;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;

/**
 * Weight-only quantization simulated in fp32, the reference for a quantized export: the weights of {@code inner} with
 * every 2-D tensor (every linear layer and the embeddings of a dense Nemotron-H) replaced by its
 * block-quantized-then-dequantized values ({@link BlockQuantizer}, with the bits and block size {@code options} give
 * each tensor), as fp32. Export them with FP32 options. That model is what a correct INT8/INT4 export computes when
 * its activations stay fp32: tests compare the two (ONNX Runtime's kernels read our packing, so agreement checks the
 * nibble order, scale layout and zero point), and {@code quant-eval} reports its quality next to the real exports'
 * to show what accuracy_level 4's int8 activations add. For measurement: each tensor is held whole in memory while
 * it is written.
 */
public final class DequantizedWeights implements WeightSource {
    private final WeightSource inner;
    private final ModelDescription model;
    private final ExportOptions options;

    /** {@code options}: the INT8/INT4 export being simulated. */
    public DequantizedWeights(WeightSource inner, ModelDescription model, ExportOptions options) {
        if (!options.weights().quantized()) {
            throw new IllegalArgumentException("dequantized weights simulate an int8/int4 export, found " + options.weights());
        }
        this.inner = inner;
        this.model = model;
        this.options = options;
    }

    @Override
    public TensorData tensor(String name, boolean fp16) {
        ExpectedTensor t = model.expectedTensors().stream().filter(e -> e.name().equals(name)).findFirst().orElseThrow();
        if (fp16 || t.shape().length != 2 || TensorNames.isRouter(name)) {
            return inner.tensor(name, fp16);
        }
        int rows = (int) t.shape()[0];
        int k = (int) t.shape()[1];
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try {
            inner.tensor(name, false).writeTo(Channels.newChannel(bytes));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        float[] w = new float[rows * k];
        ByteBuffer.wrap(bytes.toByteArray()).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(w);
        BlockQuantizer q = new BlockQuantizer(options.quantization().bits(options.weights(), name),
                options.quantization().blockSize(k));
        float[] row = new float[k];
        float[] scales = new float[(int) q.blocks(k)];
        byte[] packed = new byte[(int) q.paddedRowBytes(k)];
        ByteBuffer out = ByteBuffer.allocate(rows * k * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int r = 0; r < rows; r++) {
            System.arraycopy(w, r * k, row, 0, k);
            q.scales(row, k, scales, 0);
            q.pack(row, k, scales, 0, packed, 0);
            for (int j = 0; j < k; j++) {
                out.putFloat(q.dequantize(packed, 0, scales, 0, j));
            }
        }
        return TensorData.of(out.flip());
    }
}
