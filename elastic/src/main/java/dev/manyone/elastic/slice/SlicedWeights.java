package dev.manyone.elastic.slice;

import dev.manyone.elastic.checkpoint.TensorReader;
import dev.manyone.elastic.export.WeightSource;
import dev.manyone.formats.DType;
import dev.manyone.formats.Converter;
import dev.manyone.formats.TensorInfo;
import dev.manyone.formats.TensorSource;
import dev.manyone.formats.onnx.TensorData;
import dev.manyone.formats.quant.QuantAlgo;
import dev.manyone.formats.quant.QuantizedLinear;

import java.io.IOException;
import java.nio.channels.WritableByteChannel;
import java.util.HashMap;
import java.util.Map;

/**
 * The weights of a child, sliced from the parent and converted to F32 / F16 while the ONNX export writes them: a
 * child goes straight from a parent to ONNX with one slice in memory at a time, no intermediate checkpoint. The
 * logical weights of a quantized parent's modules are dequantized ({@link DequantizedSlice}).
 */
public final class SlicedWeights implements WeightSource {
    private final TensorSource parent;
    private final Map<String, TensorSlice> byName = new HashMap<>();
    /** Reused by every tensor: the exporter writes one tensor at a time. */
    private SliceCopier copier;
    private final Converter converter = new Converter(1 << 20);
    private final FiniteCheck check;
    /** The parent's quantization algorithm, or null for a plain parent. */
    private final QuantAlgo algo;

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
        this.algo = plan.quantization() == null ? null : plan.quantization().algo();
    }

    /**
     * The parent's quantized module {@code slice} is cut from, or null for a floating-point tensor: a linear weight
     * {@code X.weight} of a quantized parent that stores {@code X.weight_scale} (the parent was checked against its
     * layout when opened, so that is exactly the modules its {@code quantization_config} quantizes).
     */
    private QuantizedLinear quantized(TensorSlice slice) {
        String name = slice.parentName();
        if (algo == null || slice.shape().length != 2 || !name.endsWith(QuantizedLinear.WEIGHT)) {
            return null;
        }
        String module = name.substring(0, name.length() - QuantizedLinear.WEIGHT.length());
        return QuantizedLinear.isQuantized(parent, module) ? QuantizedLinear.of(parent, module, algo) : null;
    }

    @Override
    public TensorData tensor(String name, boolean fp16) {
        TensorSlice slice = byName.get(name);
        if (slice == null) {
            throw new IllegalArgumentException("the child has no tensor " + name);
        }
        DType target = fp16 ? DType.F16 : DType.F32;
        QuantizedLinear quantized = quantized(slice);
        if (quantized != null) {
            return new DequantizedSlice(parent, quantized, slice, target);
        }
        TensorInfo src = parent.require(slice.parentName());
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
