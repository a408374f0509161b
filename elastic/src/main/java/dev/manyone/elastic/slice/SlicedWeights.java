package dev.manyone.elastic.slice;

import dev.manyone.elastic.checkpoint.TensorReader;
import dev.manyone.elastic.export.WeightSource;
import dev.manyone.formats.DType;
import dev.manyone.formats.Precision;
import dev.manyone.formats.TensorInfo;
import dev.manyone.formats.TensorSource;
import dev.manyone.formats.onnx.TensorData;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.WritableByteChannel;
import java.util.HashMap;
import java.util.Map;

/**
 * The weights of a child, sliced from the parent and converted to F32 / F16 while the ONNX export writes them: a
 * child goes straight from a parent to ONNX with one slice in memory at a time, no intermediate checkpoint.
 */
public final class SlicedWeights implements WeightSource {
    private final TensorSource parent;
    private final Map<String, TensorSlice> byName = new HashMap<>();
    /** Reused by every tensor: the exporter writes one tensor at a time. */
    private SliceCopier copier;
    private final float[] floats = new float[1 << 20];
    private final ByteBuffer converted = ByteBuffer.allocate(floats.length * 4).order(ByteOrder.LITTLE_ENDIAN);

    public SlicedWeights(TensorSource parent, SlicePlan plan) {
        this.parent = parent;
        for (TensorSlice t : plan.tensors()) {
            byName.put(t.name(), t);
        }
    }

    @Override
    public TensorData tensor(String name, boolean fp16) {
        TensorSlice slice = byName.get(name);
        if (slice == null) {
            throw new IllegalArgumentException("the child has no tensor " + name);
        }
        TensorInfo src = parent.require(slice.parentName());
        DType target = fp16 ? DType.F16 : DType.F32;
        return new TensorData() {
            @Override
            public long byteSize() {
                return slice.elementCount() * target.size();
            }

            @Override
            public void writeTo(WritableByteChannel out) throws IOException {
                try (TensorReader reader = new TensorReader()) {
                    if (copier == null) {
                        copier = new SliceCopier(reader);
                    }
                    copier.readWith(reader);
                    copier.gather(src, slice, chunk -> {
                    while (chunk.hasRemaining()) {
                        int count = Math.min(floats.length, chunk.remaining() / src.dtype().size());
                        Precision.toFloats(chunk, src.dtype(), floats, 0, count);
                        converted.clear();
                        Precision.fromFloats(floats, 0, count, target, converted);
                        converted.flip();
                        while (converted.hasRemaining()) {
                            out.write(converted);
                        }
                    }
                    });
                }
            }
        };
    }
}
