package dev.manyone.elastic.export;

import dev.manyone.elastic.checkpoint.TensorReader;
import dev.manyone.formats.DType;
import dev.manyone.formats.Converter;
import dev.manyone.formats.TensorInfo;
import dev.manyone.formats.TensorSource;
import dev.manyone.formats.onnx.TensorData;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.WritableByteChannel;

/**
 * A checkpoint tensor converted to F32 or F16 while it is written, one chunk at a time (BF16 → F32 is exact;
 * → F16 rounds to nearest even). Nothing is held beyond one chunk; the source is read by positional reads, so the
 * process's resident memory does not grow with the model.
 */
final class ConvertedTensor implements TensorData {
    private static final int CHUNK_ELEMENTS = 1 << 20;

    private final TensorSource source;
    private final TensorInfo tensor;
    private final DType target;

    ConvertedTensor(TensorSource source, TensorInfo tensor, DType target) {
        this.source = source;
        this.tensor = tensor;
        this.target = target;
    }

    @Override
    public long byteSize() {
        return tensor.elementCount() * target.size();
    }

    @Override
    public void writeTo(WritableByteChannel out) throws IOException {
        if (tensor.dtype() == target) {
            source.copyTo(tensor, out);
            return;
        }
        long n = tensor.elementCount();
        int inSize = tensor.dtype().size();
        int chunk = (int) Math.min(CHUNK_ELEMENTS, n);
        Converter converter = new Converter(chunk);
        ByteBuffer in = ByteBuffer.allocateDirect(chunk * inSize).order(ByteOrder.LITTLE_ENDIAN);
        try (TensorReader reader = new TensorReader()) {
            for (long first = 0; first < n; first += chunk) {
                int count = (int) Math.min(chunk, n - first);
                in.clear().limit(count * inSize);
                reader.read(tensor, first * inSize, in);
                converter.write(in.flip(), tensor.dtype(), target, out);
            }
        }
    }
}
