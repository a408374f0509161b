package dev.manyone.formats;

import static dev.manyone.formats.TestFiles.assertFormat;
import static dev.manyone.formats.TestFiles.bytes;
import static dev.manyone.formats.TestFiles.openAndClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.manyone.formats.onnx.ElemType;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** F8_E4M3 is a safetensors dtype of one byte, validated like every other; it is quantized, not dense floating point. */
class QuantDTypeTest {
    @TempDir
    Path dir;

    @Test
    void f8IsOneByteQuantizedAndNotFloatingPoint() {
        DType t = DType.fromSafetensors("F8_E4M3").orElseThrow();
        assertEquals(1, t.size());
        assertTrue(t.isQuantized());
        assertFalse(t.isFloatingPoint());
        for (DType d : DType.values()) {
            assertEquals(d == DType.F8_E4M3, d.isQuantized(), d.name());
        }
        assertEquals(17, ElemType.of(t).code()); // ONNX FLOAT8E4M3FN
        assertEquals(1, ElemType.of(t).size());
    }

    @Test
    void goldenQuantizedCheckpointsOpen() {
        try (TensorSource src = Safetensors.open(TestFiles.golden().resolve("tiny-moe-fp8/model.safetensors"))) {
            TensorInfo w = src.require("backbone.layers.0.mixer.in_proj.weight");
            assertEquals(DType.F8_E4M3, w.dtype());
            assertArrayEquals(new long[] {328, 64}, w.shape());
            assertEquals(328 * 64, w.byteSize());
            TensorInfo s = src.require("backbone.layers.0.mixer.in_proj.weight_scale");
            assertEquals(DType.F32, s.dtype());
            assertEquals(0, s.rank());
        }
        try (TensorSource src = Safetensors.open(TestFiles.golden().resolve("tiny-moe-nvfp4/model.safetensors"))) {
            TensorInfo s = src.require("backbone.layers.0.mixer.out_proj.weight_scale");
            assertEquals(DType.F8_E4M3, s.dtype());
            assertArrayEquals(new long[] {64, 8}, s.shape());
            assertEquals(DType.U8, src.require("backbone.layers.0.mixer.out_proj.weight").dtype());
            // readFloats is for dense floating point only
            FormatException e = assertThrows(FormatException.class, () -> src.readFloats(s));
            assertTrue(e.getMessage().contains("found F8_E4M3"), e.getMessage());
        }
    }

    @Test
    void f8ByteCountIsValidated() throws Exception {
        Path f = TestFiles.write(dir.resolve("t.safetensors"),
                "{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[2,3],\"data_offsets\":[0,12]}}", bytes(12));
        assertFormat(f, "a", () -> openAndClose(f), "expected 6 bytes for shape [2, 3] of F8_E4M3, found 12");
        Path g = TestFiles.write(dir.resolve("u.safetensors"),
                "{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,4]}}", bytes(4));
        assertFormat(g, "a", () -> openAndClose(g), "overflows");
    }
}
