package dev.manyone.importance;

import dev.manyone.elastic.export.CheckpointWeights;
import dev.manyone.elastic.export.WeightSource;
import dev.manyone.elastic.slice.SlicePlan;
import dev.manyone.elastic.slice.SlicedWeights;
import dev.manyone.elastic.slice.TensorSlice;
import dev.manyone.formats.TensorSource;
import dev.manyone.formats.onnx.TensorData;

import java.util.HashMap;
import java.util.Map;

/**
 * A child's weights for export: a tensor the plan keeps whole (only renamed, as in a layer-removed variant) is
 * converted straight from the parent's, the rest is sliced by {@link SlicedWeights}. The bytes are the same either
 * way; the whole-tensor path just avoids the slicer's per-tensor buffers. A quantized (FP8/NVFP4) parent's tensors all
 * go through the slicer, which dequantizes its linear weights.
 */
final class ChildWeights implements WeightSource {
    private final CheckpointWeights parent;
    private final SlicedWeights sliced;
    private final Map<String, TensorSlice> byName = new HashMap<>();
    private final boolean wholeFastPath;

    ChildWeights(TensorSource parent, SlicePlan plan) {
        this.parent = new CheckpointWeights(parent);
        this.sliced = new SlicedWeights(parent, plan);
        this.wholeFastPath = plan.quantization() == null;
        for (TensorSlice t : plan.tensors()) {
            byName.put(t.name(), t);
        }
    }

    @Override
    public TensorData tensor(String name, boolean fp16) {
        TensorSlice t = byName.get(name);
        return wholeFastPath && t != null && t.whole() ? parent.tensor(t.parentName(), fp16) : sliced.tensor(name, fp16);
    }
}
