package dev.manyone.router;

import dev.manyone.elastic.ExpectedTensor;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.export.WeightSource;
import dev.manyone.formats.DType;
import dev.manyone.formats.Precision;
import dev.manyone.formats.onnx.TensorData;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.WritableByteChannel;
import java.util.HashMap;
import java.util.Map;

/**
 * Stand-in weights for timing a model whose real weights are not at hand (the scaled proxy of a big parent): decode
 * latency depends on shapes, not values. Norm weights and D are 1, A_log, dt_bias and the conv bias 0 (so the state
 * stays finite), everything else a small deterministic pattern in [−0.02, 0.02].
 */
final class SyntheticWeights implements WeightSource {
    private final Map<String, ExpectedTensor> tensors = new HashMap<>();

    SyntheticWeights(ModelDescription model) {
        for (ExpectedTensor t : model.expectedTensors()) {
            tensors.put(t.name(), t);
        }
    }

    @Override
    public TensorData tensor(String name, boolean fp16) {
        ExpectedTensor t = tensors.get(name);
        if (t == null) {
            throw new IllegalArgumentException("the model has no tensor " + name);
        }
        DType type = fp16 ? DType.F16 : DType.F32;
        long n = t.elementCount();
        float constant = name.endsWith("norm.weight") || name.endsWith("norm_f.weight") || name.endsWith(".D") ? 1f
                : name.endsWith("A_log") || name.endsWith("dt_bias") || name.endsWith("conv1d.bias") ? 0f : Float.NaN;
        return new TensorData() {
            @Override
            public long byteSize() {
                return n * type.size();
            }

            @Override
            public void writeTo(WritableByteChannel out) throws IOException {
                int chunk = 1 << 16;
                float[] f = new float[chunk];
                ByteBuffer b = ByteBuffer.allocate(chunk * type.size()).order(ByteOrder.LITTLE_ENDIAN);
                for (long at = 0; at < n; at += chunk) {
                    int count = (int) Math.min(chunk, n - at);
                    for (int i = 0; i < count; i++) {
                        long x = at + i;
                        f[i] = Float.isNaN(constant) ? (((x * 2654435761L) >>> 7) % 2001 - 1000) * 2e-5f : constant;
                    }
                    b.clear();
                    Precision.fromFloats(f, 0, count, type, b);
                    b.flip();
                    while (b.hasRemaining()) {
                        out.write(b);
                    }
                }
            }
        };
    }
}
