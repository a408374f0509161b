package dev.manyone.formats;

import static dev.manyone.formats.TestFiles.assertFormat;
import static dev.manyone.formats.TestFiles.bytes;
import static dev.manyone.formats.TestFiles.openAndClose;
import static dev.manyone.formats.TestFiles.write;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Malformed files built by hand; every one must be a FormatException naming the file, the tensor and the problem. */
class SafetensorsValidationTest {
    private static final String A = "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";
    private static final String B = "\"b\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[8,16]}";
    private static final String VALID = "{" + A + "," + B + "}";

    @TempDir
    Path dir;

    private Path file(String header, int dataBytes) throws Exception {
        return write(dir.resolve("t.safetensors"), header, bytes(dataBytes));
    }

    @Test
    void validFileWithTrailingSpacesZeroSizeAndScalarOpens() throws Exception {
        String header = "{\"__metadata__\":{\"k\":\"v\"}," + A + "," + B
                + ",\"e\":{\"dtype\":\"I8\",\"shape\":[0,5],\"data_offsets\":[16,16]}"
                + ",\"s\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[16,24]},\"x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[24,25],\"extra\":1}}   ";
        Path f = file(header, 25);
        try (TensorSource src = Safetensors.open(f)) {
            assertEquals(5, src.tensors().size());
            assertEquals("v", src.metadata().get("k"));
            assertEquals(0, src.require("e").byteSize());
            assertEquals(0, src.bytes(src.require("e")).remaining());
            assertEquals(1, src.require("s").elementCount());
            assertArrayEquals(Arrays.copyOfRange(bytes(25), 8, 16), TestFiles.toArray(src.bytes(src.require("b"))));
        }
    }

    @Test
    void tooSmall() throws Exception {
        Path f = Files.write(dir.resolve("t.safetensors"), new byte[5]);
        assertFormat(f, null, () -> openAndClose(f), "file is 5 bytes", "at least the 8-byte header length");
    }

    @Test
    void headerLengthBeyondFile() throws Exception {
        Path f = TestFiles.writeRaw(dir.resolve("t.safetensors"), 1000, VALID.getBytes(StandardCharsets.UTF_8), bytes(16));
        long size = Files.size(f);
        assertFormat(f, null, () -> openAndClose(f), "header length 1000", "only " + size + " bytes");
    }

    @Test
    void headerLengthAboveMaximum() throws Exception {
        Path f = TestFiles.writeRaw(dir.resolve("t.safetensors"), 200_000_000, VALID.getBytes(StandardCharsets.UTF_8), bytes(16));
        assertFormat(f, null, () -> openAndClose(f), "header length 200000000 exceeds the maximum of 100000000");
        Path g = TestFiles.writeRaw(dir.resolve("u.safetensors"), -1, new byte[0], new byte[0]);
        assertFormat(g, null, () -> openAndClose(g), "header length 18446744073709551615 exceeds");
    }

    @Test
    void truncatedData() throws Exception {
        Path f = file(VALID, 12);
        assertFormat(f, "b", () -> openAndClose(f), "data_offsets [8, 16] run past the end of the data region, which has 12 bytes", "truncated");
    }

    @Test
    void trailingBytesAfterLastTensor() throws Exception {
        Path f = file(VALID, 20);
        assertFormat(f, null, () -> openAndClose(f), "tensors cover 16 bytes", "data region has 20 bytes");
    }

    @Test
    void notJson() throws Exception {
        Path f = file("{\"a\": nope}", 0);
        assertFormat(f, null, () -> openAndClose(f), "header is not valid JSON");
        Path g = file(VALID + " trailing", 16);
        assertFormat(g, null, () -> openAndClose(g), "header is not valid JSON");
    }

    @Test
    void headerMustStartWithBrace() throws Exception {
        Path f = file(" " + VALID, 16);
        assertFormat(f, null, () -> openAndClose(f), "starting with '{'");
        Path g = file("[1,2]", 0);
        assertFormat(g, null, () -> openAndClose(g), "starting with '{'", "'[1,2]'");
    }

    @Test
    void invalidUtf8() throws Exception {
        byte[] h = VALID.getBytes(StandardCharsets.UTF_8);
        h[3] = (byte) 0xff;
        Path f = TestFiles.writeRaw(dir.resolve("t.safetensors"), h.length, h, bytes(16));
        assertFormat(f, null, () -> openAndClose(f), "not valid UTF-8");
    }

    @Test
    void overlappingOffsets() throws Exception {
        Path f = file("{" + A + ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12);
        assertFormat(f, "b", () -> openAndClose(f), "overlap tensor 'a'", "[4, 12]", "[0, 8]");
    }

    @Test
    void gapBetweenTensors() throws Exception {
        Path f = file("{" + A + ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}", 20);
        assertFormat(f, "b", () -> openAndClose(f), "gap", "bytes [8, 12)", "'a'");
        Path g = file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12);
        assertFormat(g, "a", () -> openAndClose(g), "gap", "bytes [0, 4)");
    }

    @Test
    void shapeDoesNotMatchBytes() throws Exception {
        Path f = file("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8);
        assertFormat(f, "a", () -> openAndClose(f), "expected 12 bytes for shape [3] of F32, found 8");
        Path g = file("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8);
        assertFormat(g, "a", () -> openAndClose(g), "overflows");
    }

    @Test
    void unknownDtype() throws Exception {
        Path f = file("{\"a\":{\"dtype\":\"F8_E5M2\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2);
        assertFormat(f, "a", () -> openAndClose(f), "unknown dtype 'F8_E5M2', expected one of [BOOL, U8, I8, I16, I32, I64, F16, BF16, F32, F64, F8_E4M3]");
        Path g = file("{\"a\":{\"dtype\":\"f8_e4m3\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2);
        assertFormat(g, "a", () -> openAndClose(g), "unknown dtype 'f8_e4m3'");
    }

    @Test
    void badShapes() throws Exception {
        Path f = file("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8);
        assertFormat(f, "a", () -> openAndClose(f), "\"shape\" to be an array of non-negative integers", "[-2]");
        Path g = file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8);
        assertFormat(g, "a", () -> openAndClose(g), "non-negative integers", "2.0");
        Path h = file("{\"a\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}", 8);
        assertFormat(h, "a", () -> openAndClose(h), "\"shape\" to be an array", "the string \"2\"");
    }

    @Test
    void badOffsets() throws Exception {
        Path f = file("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8);
        assertFormat(f, "a", () -> openAndClose(f), "data_offsets [8, 0] begin after they end");
        Path g = file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,16]}}", 8);
        assertFormat(g, "a", () -> openAndClose(g), "\"data_offsets\" to be an array of 2 non-negative integers");
        Path h = file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,99999999999999999999]}}", 8);
        assertFormat(h, "a", () -> openAndClose(h), "non-negative integers");
    }

    @Test
    void missingOrMistypedFields() throws Exception {
        Path f = file("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
        assertFormat(f, "a", () -> openAndClose(f), "\"dtype\" to be a string, found nothing");
        Path g = file("{\"a\":[1]}", 0);
        assertFormat(g, "a", () -> openAndClose(g), "expected an object with dtype, shape and data_offsets, found an array");
    }

    @Test
    void duplicateKeys() throws Exception {
        Path f = file("{" + A + "," + A + "}", 8);
        assertFormat(f, null, () -> openAndClose(f), "not valid JSON", "Duplicate field 'a'");
        Path g = file("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0);
        assertFormat(g, null, () -> openAndClose(g), "Duplicate field 'k'");
        Path h = file("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
        assertFormat(h, null, () -> openAndClose(h), "Duplicate field 'dtype'");
    }

    @Test
    void metadataMustBeStrings() throws Exception {
        Path f = file("{\"__metadata__\":{\"steps\":7}}", 0);
        assertFormat(f, null, () -> openAndClose(f), "__metadata__ value of 'steps' must be a string, found the number 7");
        Path g = file("{\"__metadata__\":[]}", 0);
        assertFormat(g, null, () -> openAndClose(g), "__metadata__ must be an object");
    }
}
