package dev.manyone.elastic.slice;

import dev.manyone.elastic.checkpoint.TensorReader;
import dev.manyone.elastic.export.WeightSource;
import dev.manyone.formats.DType;
import dev.manyone.formats.Converter;
import dev.manyone.formats.TensorInfo;
import dev.manyone.formats.TensorSource;
import dev.manyone.formats.onnx.TensorData;

import java.io.IOException;
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
    private final Converter converter = new Converter(1 << 20);
    private final FiniteCheck check;

    /** The child's weights; NaN or Inf in what it keeps fails the export ({@link FiniteCheck}). */
    public SlicedWeights(TensorSource parent, SlicePlan plan) {
        this(parent, plan, new FiniteCheck(null));
    }

    /** @param check refuses NaN and Inf in the child's values, or null to pass them through */
    public SlicedWeights(TensorSource parent, SlicePlan plan, FiniteCheck check) {
        this.parent = parent;
        this.check = check;
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
                    SliceCopier.Sink convert = chunk -> converter.write(chunk, src.dtype(), target, out);
                    copier.gather(src, slice, check == null ? convert : check.wrap(src, convert));
                    if (check != null) {
                        check.endTensor(src);
                    }
                }
            }
        };
    }
}
