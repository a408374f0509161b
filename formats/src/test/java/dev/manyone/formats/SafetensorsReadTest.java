package dev.manyone.formats;

import static dev.manyone.formats.TestFiles.assertFormat;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsReadTest {

    /** Independent parse of the golden header: name -> [begin, end] absolute. */
    private static Map<String, long[]> rawOffsets(byte[] file) throws Exception {
        long n = ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        JsonNode h = new ObjectMapper().readTree(new String(file, 8, (int) n, java.nio.charset.StandardCharsets.UTF_8));
        Map<String, long[]> out = new java.util.HashMap<>();
        h.properties().forEach(e -> {
            if (!e.getKey().equals("__metadata__")) {
                JsonNode o = e.getValue().get("data_offsets");
                out.put(e.getKey(), new long[] {8 + n + o.get(0).longValue(), 8 + n + o.get(1).longValue()});
            }
        });
        return out;
    }

    @Test
    void readsGoldenTinyModel() throws Exception {
        Path path = TestFiles.tinyModel();
        byte[] file = Files.readAllBytes(path);
        Map<String, long[]> raw = rawOffsets(file);
        try (TensorSource src = Safetensors.open(path)) {
            assertInstanceOf(SafetensorsFile.class, src);
            assertEquals(61, src.tensors().size());
            assertEquals(raw.keySet(), new java.util.HashSet<>(src.tensors().stream().map(TensorInfo::name).toList()));
            long params = 0;
            List<String> names = new ArrayList<>();
            for (TensorInfo t : src.tensors()) {
                assertEquals(DType.BF16, t.dtype(), t.name());
                params += t.elementCount();
                names.add(t.name());
                long[] r = raw.get(t.name());
                assertArrayEquals(Arrays.copyOfRange(file, (int) r[0], (int) r[1]), TestFiles.toArray(src.bytes(t)), t.name());
            }
            assertEquals(310_304, params);
            assertEquals(names.stream().sorted().toList(), names, "tensors() sorted by name");
            assertEquals(Map.of("format", "pt"), src.metadata());
            TensorInfo emb = src.require("backbone.embeddings.weight");
            assertArrayEquals(new long[] {512, 64}, emb.shape());
            assertEquals(path, emb.file());
            assertEquals(src.totalBytes(), params * 2);
        }
    }

    @Test
    void readsGoldenMetadataAndFloats() throws Exception {
        Path path = TestFiles.golden().resolve("tiny-hybrid/golden.safetensors");
        try (TensorSource src = Safetensors.open(path)) {
            assertEquals("30", src.metadata().get("prefill_tokens"));
            assertEquals("7", src.metadata().get("decode_steps"));
            TensorInfo ids = src.require("input_ids");
            assertEquals(DType.I64, ids.dtype());
            assertArrayEquals(new long[] {2, 37}, ids.shape());
            ByteBuffer b = src.bytes(ids);
            for (int i = 0; i < 74; i++) {
                long id = b.getLong(i * 8);
                assertTrue(id >= 3 && id < 512, "input id " + id);
            }
            TensorInfo logits = src.require("logits");
            assertArrayEquals(new long[] {2, 37, 512}, logits.shape());
            float[] f = src.readFloats(logits);
            ByteBuffer lb = src.bytes(logits);
            for (int i = 0; i < f.length; i++) {
                assertEquals(Float.floatToRawIntBits(lb.getFloat(i * 4)), Float.floatToRawIntBits(f[i]));
            }
            assertFormat(path, "input_ids", () -> src.readFloats(ids), "expected a floating-point tensor", "I64");
        }
    }

    @Test
    void readsTrainedModelAndBf16Floats() {
        try (TensorSource src = Safetensors.open(TestFiles.golden().resolve("trained-hybrid/model.safetensors"))) {
            assertEquals(796_384, src.tensors().stream().mapToLong(TensorInfo::elementCount).sum());
            TensorInfo norm = src.require("backbone.norm_f.weight");
            float[] f = src.readFloats(norm);
            ByteBuffer b = src.bytes(norm);
            for (int i = 0; i < f.length; i++) {
                assertEquals(Float.intBitsToFloat((b.getShort(i * 2) & 0xffff) << 16), f[i]);
            }
        }
    }

    @Test
    void viewsAreReadOnlyLittleEndianRangesAndCopyToMatches() throws Exception {
        TensorSource src = Safetensors.open(TestFiles.tinyModel());
        {
            TensorInfo t = src.require("lm_head.weight");
            ByteBuffer whole = src.bytes(t);
            assertTrue(whole.isReadOnly());
            assertEquals(ByteOrder.LITTLE_ENDIAN, whole.order());
            ByteBuffer part = src.bytes(t, 1000, 24);
            assertEquals(24, part.remaining());
            assertEquals(whole.getLong(1000), part.getLong(0));
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            src.copyTo(t, Channels.newChannel(out));
            assertArrayEquals(TestFiles.toArray(whole), out.toByteArray());
            Path file = TestFiles.tinyModel();
            assertFormat(file, t.name(), () -> src.bytes(t, t.byteSize() - 2, 4), "outside the tensor");
            assertFormat(file, t.name(), () -> src.bytes(t, -1, 1), "outside the tensor");
            assertFormat(file, "nope", () -> src.require("nope"), "missing");
            TensorInfo foreign = new TensorInfo(t.name(), t.dtype(), t.shape(), Path.of("other.safetensors"), t.offset(), t.byteSize());
            assertThrows(IllegalArgumentException.class, () -> src.bytes(foreign));
            src.close();
            assertThrows(IllegalStateException.class, () -> src.bytes(t));
        }
    }

    @Test
    void openRejectsWhatIsNotACheckpoint(@TempDir Path dir) throws Exception {
        Path config = TestFiles.golden().resolve("tiny-hybrid/config.json");
        assertFormat(config, null, () -> TestFiles.openAndClose(config), "expected a .safetensors file", "config.json");
        Path missing = dir.resolve("missing.safetensors");
        assertFormat(missing, null, () -> TestFiles.openAndClose(missing), "no such file or directory");
        assertFormat(dir, null, () -> TestFiles.openAndClose(dir), "neither model.safetensors.index.json nor model.safetensors");
        TestFiles.write(dir.resolve("model.safetensors"), "{}", new byte[0]);
        Files.writeString(dir.resolve("model.safetensors.index.json"), "{\"weight_map\": {}}");
        assertFormat(dir, null, () -> TestFiles.openAndClose(dir), "both", "expected exactly one");
    }

    @Test
    void directoryWithSingleFileOpensIt() {
        Path dir = TestFiles.golden().resolve("tiny-hybrid");
        try (TensorSource src = Safetensors.open(dir)) {
            assertEquals(dir.resolve("model.safetensors"), src.location());
            assertEquals(61, src.tensors().size());
        }
    }
}
