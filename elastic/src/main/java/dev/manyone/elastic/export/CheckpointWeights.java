package dev.manyone.elastic.export;

import dev.manyone.elastic.ExpectedTensor;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.WeightLayout;
import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.formats.DType;
import dev.manyone.formats.TensorSource;
import dev.manyone.formats.onnx.TensorData;

import java.util.HashMap;
import java.util.Map;

/**
 * Weights read from a checkpoint's tensors and converted while they are written: floating-point tensors by
 * {@link ConvertedTensor}; the linear weights a quantized checkpoint stores as FP8 or NVFP4 (its
 * {@link WeightLayout}) dequantized by {@link DequantizedTensor}, so the graph sees the same logical
 * {@code [out, in]} float weights either way.
 */
public final class CheckpointWeights implements WeightSource {
    private final TensorSource source;
    private final WeightLayout layout;
    private final Map<String, ExpectedTensor> quantized = new HashMap<>();

    /** A plain checkpoint: every weight is a floating-point tensor. */
    public CheckpointWeights(TensorSource source) {
        this.source = source;
        this.layout = WeightLayout.PLAIN;
    }

    /** The tensors of {@code source}, stored as {@code model}'s layout says. */
    public CheckpointWeights(TensorSource source, ModelDescription model) {
        this.source = source;
        this.layout = model.layout();
        for (ExpectedTensor e : model.expectedTensors()) {
            if (layout.quantized(e)) {
                quantized.put(e.name(), e);
            }
        }
    }

    /** The weights of an open checkpoint, plain or quantized. */
    public static CheckpointWeights of(Checkpoint checkpoint) {
        return new CheckpointWeights(checkpoint.tensors(), checkpoint.model());
    }

    @Override
    public TensorData tensor(String name, boolean fp16) {
        DType target = fp16 ? DType.F16 : DType.F32;
        ExpectedTensor q = quantized.get(name);
        if (q != null) {
            return new DequantizedTensor(source, layout.linear(q, source), target);
        }
        return new ConvertedTensor(source, source.require(name), target);
    }
}
