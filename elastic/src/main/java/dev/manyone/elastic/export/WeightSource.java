package dev.manyone.elastic.export;

import dev.manyone.formats.onnx.TensorData;

/**
 * Where the exporter gets a weight's bytes, converted to the export's float type: from a checkpoint, or sliced from
 * a parent on the fly when a child is exported without an intermediate checkpoint.
 */
public interface WeightSource {

    /** The canonical tensor {@code name} as little-endian {@code fp16 ? F16 : F32} bytes, produced lazily. */
    TensorData tensor(String name, boolean fp16);
}
