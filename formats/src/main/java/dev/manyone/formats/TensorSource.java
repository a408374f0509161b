package dev.manyone.formats;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Read access to the tensors of a checkpoint: one safetensors file, or a sharded checkpoint with
 * {@code model.safetensors.index.json}. Implementations memory-map the files in windows of at most 2 GiB split at
 * tensor boundaries; views are zero-copy and little-endian. Closing releases every mapping; buffers obtained
 * before must not be used afterwards.
 */
public interface TensorSource extends AutoCloseable {

    /** The checkpoint's location as the user named it (a directory or a .safetensors file). */
    Path location();

    /** Every tensor, in a deterministic order (sorted by name). */
    List<TensorInfo> tensors();

    Optional<TensorInfo> find(String name);

    /** The tensor or a FormatException naming the checkpoint and the tensor. */
    default TensorInfo require(String name) {
        return find(name).orElseThrow(() -> new FormatException(location(), name, "tensor is missing from the checkpoint"));
    }

    /**
     * A read-only little-endian zero-copy view of {@code length} bytes of the tensor starting at {@code byteOffset}
     * within it. Fails with FormatException if the range is outside the tensor; {@code length} is at most 2 GiB - 1.
     */
    ByteBuffer bytes(TensorInfo tensor, long byteOffset, int length);

    /** The whole tensor's bytes as a view (tensor must be smaller than 2 GiB). */
    default ByteBuffer bytes(TensorInfo tensor) {
        if (tensor.byteSize() > Integer.MAX_VALUE) {
            throw new FormatException(tensor.file(), tensor.name(),
                    "tensor of " + tensor.byteSize() + " bytes is larger than one 2 GiB view; read it in ranges");
        }
        return bytes(tensor, 0, (int) tensor.byteSize());
    }

    /** The tensor's elements converted to float (F32, F16, BF16, F64 sources). */
    float[] readFloats(TensorInfo tensor);

    /** Copies the tensor's raw bytes to {@code out} (uses FileChannel.transferTo where possible). */
    void copyTo(TensorInfo tensor, WritableByteChannel out) throws IOException;

    /** The {@code __metadata__} of the file (of the first shard for sharded checkpoints). */
    Map<String, String> metadata();

    /** Total bytes of tensor data. */
    default long totalBytes() {
        long n = 0;
        for (TensorInfo t : tensors()) {
            n += t.byteSize();
        }
        return n;
    }

    @Override
    void close();
}
