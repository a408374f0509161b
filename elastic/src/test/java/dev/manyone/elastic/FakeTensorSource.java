package dev.manyone.elastic;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.manyone.formats.DType;
import dev.manyone.formats.TensorInfo;
import dev.manyone.formats.TensorSource;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** An in-memory TensorSource that knows names, dtypes and shapes only (no data). */
final class FakeTensorSource implements TensorSource {

    private final Path location;
    private final List<TensorInfo> tensors;

    FakeTensorSource(Path location, List<TensorInfo> tensors) {
        this.location = location;
        List<TensorInfo> sorted = new ArrayList<>(tensors);
        sorted.sort(Comparator.comparing(TensorInfo::name));
        this.tensors = List.copyOf(sorted);
    }

    static TensorInfo info(Path file, String name, DType dtype, long... shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return new TensorInfo(name, dtype, shape, file, 0, n * dtype.size());
    }

    /** Exactly the tensors a description expects, in {@code dtype}. */
    static List<TensorInfo> infos(Path file, List<ExpectedTensor> expected, DType dtype) {
        List<TensorInfo> out = new ArrayList<>();
        for (ExpectedTensor e : expected) {
            out.add(info(file, e.name(), dtype, e.shape()));
        }
        return out;
    }

    /**
     * The tensor table of a real .safetensors file, read from its header by hand (8-byte little-endian header length,
     * then a JSON object name → {dtype, shape, data_offsets}).
     */
    static FakeTensorSource fromSafetensorsHeader(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            long len = ByteBuffer.wrap(in.readNBytes(8)).order(ByteOrder.LITTLE_ENDIAN).getLong();
            JsonNode header = new ObjectMapper().readTree(in.readNBytes((int) len));
            List<TensorInfo> out = new ArrayList<>();
            for (Map.Entry<String, JsonNode> e : header.properties()) {
                if (e.getKey().equals("__metadata__")) {
                    continue;
                }
                JsonNode shapeNode = e.getValue().get("shape");
                long[] shape = new long[shapeNode.size()];
                for (int k = 0; k < shape.length; k++) {
                    shape[k] = shapeNode.get(k).longValue();
                }
                DType dtype = DType.fromSafetensors(e.getValue().get("dtype").asText()).orElseThrow();
                out.add(info(file, e.getKey(), dtype, shape));
            }
            return new FakeTensorSource(file, out);
        }
    }

    @Override
    public Path location() {
        return location;
    }

    @Override
    public List<TensorInfo> tensors() {
        return tensors;
    }

    @Override
    public Optional<TensorInfo> find(String name) {
        return tensors.stream().filter(t -> t.name().equals(name)).findFirst();
    }

    @Override
    public ByteBuffer bytes(TensorInfo tensor, long byteOffset, int length) {
        throw new UnsupportedOperationException("the fake source has no data");
    }

    @Override
    public float[] readFloats(TensorInfo tensor) {
        throw new UnsupportedOperationException("the fake source has no data");
    }

    @Override
    public void copyTo(TensorInfo tensor, WritableByteChannel out) {
        throw new UnsupportedOperationException("the fake source has no data");
    }

    @Override
    public Map<String, String> metadata() {
        return Map.of();
    }

    @Override
    public void close() {
    }
}
