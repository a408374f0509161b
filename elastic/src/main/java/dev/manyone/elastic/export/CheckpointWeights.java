package dev.manyone.elastic.export;

import dev.manyone.formats.DType;
import dev.manyone.formats.TensorSource;
import dev.manyone.formats.onnx.TensorData;

/** Weights read from a checkpoint's memory-mapped tensors and converted while they are written. */
public final class CheckpointWeights implements WeightSource {
    private final TensorSource source;

    public CheckpointWeights(TensorSource source) {
        this.source = source;
    }

    @Override
    public TensorData tensor(String name, boolean fp16) {
        return new ConvertedTensor(source, source.require(name), fp16 ? DType.F16 : DType.F32);
    }
}
