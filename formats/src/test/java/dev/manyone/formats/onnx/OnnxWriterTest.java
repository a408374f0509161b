package dev.manyone.formats.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.manyone.formats.onnx.proto.Onnx.ModelProto;
import dev.manyone.formats.onnx.proto.Onnx.StringStringEntryProto;
import dev.manyone.formats.onnx.proto.Onnx.TensorProto;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OnnxWriterTest {
    static final int IN = 64;
    static final int HID = 33;
    static final int OUT = 40;
    static final int BATCH = 3;

    final Random rnd = new Random(42);
    final float[] w1 = Ort.random(rnd, IN * HID);   // 8448 bytes: external, not a multiple of 4096
    final float[] b1 = Ort.random(rnd, HID);        // 132 bytes: inline
    final float[] w2 = Ort.random(rnd, HID * OUT);  // 5280 bytes: external
    final float[] x = Ort.random(rnd, BATCH * IN);

    /** y = x·W1 + b1, z = y·W2; both graph outputs. */
    GraphBuilder graph() {
        GraphBuilder g = new GraphBuilder("mlp", 23);
        String in = g.input("x", ElemType.FLOAT, "batch", IN);
        String w1n = g.initializer("w1", ElemType.FLOAT, new long[] {IN, HID}, TensorData.ofFloats(w1));
        String b1n = g.initializer("b1", ElemType.FLOAT, new long[] {HID}, TensorData.ofFloats(b1));
        String w2n = g.initializer("w2", ElemType.FLOAT, new long[] {HID, OUT}, TensorData.ofFloats(w2));
        g.output("y", ElemType.FLOAT, "batch", HID);
        g.output("z", ElemType.FLOAT, "batch", OUT);
        String mm = g.op("MatMul", Attrs.none(), in, w1n);
        g.opNamed("", "Add", List.of(mm, b1n), List.of("y"), Attrs.none());
        g.opNamed("", "MatMul", List.of("y", w2n), List.of("z"), Attrs.none());
        g.metadata("manyone.kind", "test");
        g.metadata("a.second", "2");
        return g;
    }

    static float[] matmul(float[] a, float[] b, int n, int k, int m) {
        float[] c = new float[n * m];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < m; j++) {
                double s = 0;
                for (int t = 0; t < k; t++) {
                    s += (double) a[i * k + t] * b[t * m + j];
                }
                c[i * m + j] = (float) s;
            }
        }
        return c;
    }

    /** ORT's y and z against a float64 Java calculation. */
    void assertOutputs(Path onnx) throws Exception {
        float[] y = matmul(x, w1, BATCH, IN, HID);
        for (int i = 0; i < BATCH; i++) {
            for (int j = 0; j < HID; j++) {
                y[i * HID + j] += b1[j];
            }
        }
        float[] z = matmul(y, w2, BATCH, HID, OUT);
        Map<String, float[]> out = Ort.run(onnx, Map.of("x", new Ort.In(x, BATCH, IN)));
        Ort.assertClose(y, out.get("y"), 1e-5, "y");
        Ort.assertClose(z, out.get("z"), 1e-5, "z");
    }

    @Test
    void matmulAddWithExternalWeightsRunsInOrt(@TempDir Path dir) throws Exception {
        Path onnx = dir.resolve("model.onnx");
        OnnxWriter.Result r = OnnxWriter.write(graph(), onnx, OnnxWriter.Options.defaults("test"));

        assertEquals(onnx, r.onnxFile());
        assertEquals(dir.resolve("model.onnx.data"), r.dataFile());
        assertEquals(Files.size(onnx), r.onnxBytes());
        assertEquals(Files.size(r.dataFile()), r.dataBytes());
        // two external tensors: w1 at 0, w2 at the next page; the .onnx holds references only
        assertEquals(4096 * 3 + HID * OUT * 4, r.dataBytes());
        assertTrue(r.onnxBytes() < 2048, "model file is small: " + r.onnxBytes());

        assertOutputs(onnx);
        assertEquals(List.of("y", "z"), Ort.outputNames(onnx));

        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of("model.onnx", "model.onnx.data"), files.map(p -> p.getFileName().toString()).sorted().toList(),
                    "no temporary files left");
        }
    }

    @Test
    void modelProtoLayout(@TempDir Path dir) throws Exception {
        Path onnx = dir.resolve("m.onnx");
        OnnxWriter.write(graph(), onnx, OnnxWriter.Options.defaults("9.9").withDataFileName("weights.bin").withIrVersion(11));
        ModelProto m = ModelProto.parseFrom(Files.readAllBytes(onnx));
        assertEquals(11, m.getIrVersion());
        assertEquals("manyone", m.getProducerName());
        assertEquals("9.9", m.getProducerVersion());
        assertEquals(1, m.getOpsetImportCount(), "no com.microsoft import without contrib ops");
        assertEquals("", m.getOpsetImport(0).getDomain());
        assertEquals(23, m.getOpsetImport(0).getVersion());
        assertEquals(List.of("manyone.kind", "a.second"), m.getMetadataPropsList().stream().map(StringStringEntryProto::getKey).toList());

        byte[] data = Files.readAllBytes(dir.resolve("weights.bin"));
        Map<String, float[]> expected = Map.of("w1", w1, "b1", b1, "w2", w2);
        assertEquals(List.of("w1", "b1", "w2"), m.getGraph().getInitializerList().stream().map(TensorProto::getName).toList());
        for (TensorProto t : m.getGraph().getInitializerList()) {
            byte[] bytes;
            if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
                assertFalse(t.hasRawData());
                Map<String, String> ext = new java.util.HashMap<>();
                t.getExternalDataList().forEach(e -> ext.put(e.getKey(), e.getValue()));
                assertEquals("weights.bin", ext.get("location"));
                long offset = Long.parseLong(ext.get("offset"));
                long length = Long.parseLong(ext.get("length"));
                assertEquals(0, offset % 4096, t.getName() + " offset " + offset + " is page aligned");
                bytes = java.util.Arrays.copyOfRange(data, (int) offset, (int) (offset + length));
            } else {
                assertTrue(t.getExternalDataCount() == 0 && t.hasRawData());
                bytes = t.getRawData().toByteArray();
            }
            float[] f = new float[bytes.length / 4];
            ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(f);
            assertArrayEquals(expected.get(t.getName()), f, t.getName());
            assertEquals(1, t.getDataType());
        }
        // the padding between tensors is zeros
        for (int i = IN * HID * 4; i < 3 * 4096; i++) {
            assertEquals(0, data[i], "padding byte " + i);
        }
        assertEquals(TensorProto.DataLocation.DEFAULT, m.getGraph().getInitializer(1).getDataLocation());
    }

    @Test
    void writingTwiceGivesIdenticalBytes(@TempDir Path dir) throws Exception {
        Path a = Files.createDirectory(dir.resolve("a")).resolve("model.onnx");
        Path b = Files.createDirectory(dir.resolve("b")).resolve("model.onnx");
        OnnxWriter.Result ra = OnnxWriter.write(graph(), a, OnnxWriter.Options.defaults("1"));
        OnnxWriter.Result rb = OnnxWriter.write(graph(), b, OnnxWriter.Options.defaults("1"));
        assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(b), ".onnx");
        assertArrayEquals(Files.readAllBytes(ra.dataFile()), Files.readAllBytes(rb.dataFile()), ".data");
        // and rewriting over an existing model replaces it with the same bytes
        byte[] before = Files.readAllBytes(a);
        OnnxWriter.write(graph(), a, OnnxWriter.Options.defaults("1"));
        assertArrayEquals(before, Files.readAllBytes(a));
    }

    @Test
    void everythingInlineWithoutDataFile(@TempDir Path dir) throws Exception {
        Path onnx = dir.resolve("inline.onnx");
        OnnxWriter.Result r = OnnxWriter.write(graph(), onnx, OnnxWriter.Options.defaults("1").withExternalThresholdBytes(1 << 20));
        assertNull(r.dataFile());
        assertEquals(0, r.dataBytes());
        assertFalse(Files.exists(dir.resolve("inline.onnx.data")));
        assertTrue(r.onnxBytes() > (IN * HID + HID * OUT) * 4);
        assertOutputs(onnx);
    }

    @Test
    void streamsWeightsFromASafetensorsCheckpoint(@TempDir Path dir) throws Exception {
        // a one-tensor safetensors file: u64 header length, JSON header, little-endian data
        byte[] header = ("{\"w1\":{\"dtype\":\"F32\",\"shape\":[" + IN + "," + HID + "],\"data_offsets\":[0," + IN * HID * 4 + "]}}")
                .getBytes(java.nio.charset.StandardCharsets.UTF_8);
        ByteBuffer file = ByteBuffer.allocate(8 + header.length + IN * HID * 4).order(ByteOrder.LITTLE_ENDIAN);
        file.putLong(header.length).put(header);
        file.asFloatBuffer().put(w1);
        Path st = dir.resolve("model.safetensors");
        Files.write(st, file.array());

        try (dev.manyone.formats.TensorSource src = dev.manyone.formats.Safetensors.open(st)) {
            dev.manyone.formats.TensorInfo info = src.require("w1");
            GraphBuilder g = new GraphBuilder("ckpt", 23);
            String in = g.input("x", ElemType.FLOAT, "batch", IN);
            String w = g.initializer(info.name(), ElemType.of(info.dtype()), info.shape(), TensorData.of(src, info));
            g.output("y", ElemType.FLOAT, "batch", HID);
            g.opNamed("", "MatMul", List.of(in, w), List.of("y"), Attrs.none());
            OnnxWriter.write(g, dir.resolve("c.onnx"), OnnxWriter.Options.defaults("1"));
        }
        Map<String, float[]> out = Ort.run(dir.resolve("c.onnx"), Map.of("x", new Ort.In(x, BATCH, IN)));
        Ort.assertClose(matmul(x, w1, BATCH, IN, HID), out.get("y"), 1e-5, "y");
    }
}
