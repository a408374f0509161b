package dev.manyone.elastic.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.manyone.formats.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** NaN/Inf counts, checked against bits poked into a copy of the golden checkpoint at offsets found independently. */
class NonFiniteTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    static Path golden() {
        String p = System.getProperty("manyone.golden");
        return (p != null ? Path.of(p) : Path.of("../../shared/golden")).resolve("tiny-hybrid").resolve("model.safetensors");
    }

    /** Header of a safetensors file, parsed here rather than by the reader under test. */
    static ObjectNode header(Path f) throws IOException {
        byte[] all = Files.readAllBytes(f);
        long n = ByteBuffer.wrap(all, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        return (ObjectNode) JSON.readTree(new String(all, 8, (int) n, StandardCharsets.UTF_8));
    }

    static long dataStart(Path f) throws IOException {
        byte[] first = new byte[8];
        try (var in = Files.newInputStream(f)) {
            in.readNBytes(first, 0, 8);
        }
        return 8 + ByteBuffer.wrap(first).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    static void poke(Path f, long at, int bits16) throws IOException {
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN).putShort(0, (short) bits16), at);
        }
    }

    @Test
    void goldenIsFiniteAndEveryElementIsScanned() throws IOException {
        Path f = golden();
        NonFinite.Report r = NonFinite.scan(f);
        assertTrue(r.finite(), r.offending().toString());
        long floats = 0;
        var fields = header(f).fields();
        while (fields.hasNext()) {
            Map.Entry<String, JsonNode> e = fields.next();
            if (e.getKey().equals("__metadata__") || !DType.valueOf(e.getValue().get("dtype").asText()).isFloatingPoint()) {
                continue;
            }
            long n = 1;
            for (JsonNode d : e.getValue().get("shape")) {
                n *= d.asLong();
            }
            floats += n;
        }
        assertEquals(floats, r.elements());
    }

    @Test
    void countsPokedNanAndInfInABf16Tensor() throws IOException {
        Path f = tmp.resolve("model.safetensors");
        Files.copy(golden(), f);
        String name = "backbone.layers.3.mixer.q_proj.weight";
        JsonNode t = header(f).get(name);
        assertEquals("BF16", t.get("dtype").asText());
        long base = dataStart(f) + t.get("data_offsets").get(0).asLong();
        long end = dataStart(f) + t.get("data_offsets").get(1).asLong();
        poke(f, base, 0x7fc0);            // quiet NaN
        poke(f, base + 2, 0xffc1);        // negative NaN with payload
        poke(f, base + 10, 0x7f80);       // +Inf
        poke(f, end - 2, 0xff80);         // -Inf, the last element
        poke(f, base + 4, 0x7f7f);        // largest finite: not counted
        NonFinite.Report r = NonFinite.scan(f);
        assertFalse(r.finite());
        assertEquals(1, r.offending().size());
        NonFinite.Count c = r.offending().get(0);
        assertEquals(name, c.tensor());
        assertEquals(DType.BF16, c.dtype());
        assertEquals(2, c.nan());
        assertEquals(1, c.positiveInf());
        assertEquals(1, c.negativeInf());
        assertEquals(2, r.nan());
        assertEquals(2, r.inf());
    }

    @Test
    void countsF16F32F64AcrossBlockBoundaries() throws IOException {
        int n32 = NonFinite.BLOCK / 4 + 7; // spans two blocks
        ByteBuffer f32 = ByteBuffer.allocate(n32 * 4).order(ByteOrder.LITTLE_ENDIAN);
        f32.putFloat(0, Float.NaN).putFloat(NonFinite.BLOCK - 4, Float.POSITIVE_INFINITY)
                .putFloat(NonFinite.BLOCK, Float.NEGATIVE_INFINITY).putFloat((n32 - 1) * 4, Float.NaN)
                .putFloat(8, Float.MAX_VALUE);
        ByteBuffer f16 = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN)
                .putShort(0, (short) 0x7c00).putShort(2, (short) 0xfc00).putShort(4, (short) 0x7e00).putShort(6, (short) 0x7bff);
        ByteBuffer f64 = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN)
                .putDouble(0, Double.NaN).putDouble(8, 1e308).putDouble(16, Double.NEGATIVE_INFINITY);
        ByteBuffer i64 = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, -1L); // all ones: not a float
        Path f = tmp.resolve("mixed.safetensors");
        write(f, new Object[][] {{"a", "F32", n32, f32}, {"h", "F16", 4, f16}, {"d", "F64", 3, f64}, {"ids", "I64", 1, i64}});
        NonFinite.Report r = NonFinite.scan(f);
        assertEquals(3, r.tensors().size());
        Map<String, NonFinite.Count> by = new java.util.HashMap<>();
        r.tensors().forEach(c -> by.put(c.tensor(), c));
        NonFinite.Count a = by.get("a");
        assertEquals(n32, a.elements());
        assertEquals(2, a.nan());
        assertEquals(1, a.positiveInf());
        assertEquals(1, a.negativeInf());
        NonFinite.Count h = by.get("h");
        assertEquals(1, h.nan());
        assertEquals(1, h.positiveInf());
        assertEquals(1, h.negativeInf());
        NonFinite.Count d = by.get("d");
        assertEquals(1, d.nan());
        assertEquals(0, d.positiveInf());
        assertEquals(1, d.negativeInf());
        assertEquals(4, r.nan());
        assertEquals(5, r.inf());
    }

    /** {name, dtype, elements, bytes} rows → a one-dimensional-tensor safetensors file. */
    static void write(Path f, Object[][] tensors) throws IOException {
        ObjectNode h = JSON.createObjectNode();
        long off = 0;
        for (Object[] t : tensors) {
            ObjectNode e = h.putObject((String) t[0]);
            e.put("dtype", (String) t[1]);
            e.putArray("shape").add((int) t[2]);
            long len = ((ByteBuffer) t[3]).capacity();
            e.putArray("data_offsets").add(off).add(off + len);
            off += len;
        }
        byte[] hb = JSON.writeValueAsBytes(h);
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, hb.length));
            ch.write(ByteBuffer.wrap(hb));
            for (Object[] t : tensors) {
                ByteBuffer b = ((ByteBuffer) t[3]).duplicate();
                b.clear();
                ch.write(b);
            }
        }
    }
}
