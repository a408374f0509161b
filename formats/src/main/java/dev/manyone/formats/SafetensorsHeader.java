package dev.manyone.formats;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The parsed and validated header of one safetensors file. The layout (https://github.com/huggingface/safetensors):
 * <pre>
 *   8 bytes      N, an unsigned little-endian 64-bit integer: the size of the header
 *   N bytes      a UTF-8 JSON object, starting with '{', which may be padded at the end with spaces (0x20):
 *                {"__metadata__": {"k": "v", ...},            (optional, string to string)
 *                 "name": {"dtype": "F16", "shape": [1, 16, 256], "data_offsets": [BEGIN, END]}, ...}
 *   rest         the byte buffer; data_offsets are relative to its start, END exclusive.
 * </pre>
 * Validation follows the Rust crate's {@code Metadata::validate}: offsets sorted by begin must tile the whole buffer
 * with neither gap nor overlap, and each tensor's END-BEGIN must equal product(shape) * dtype size. In addition
 * the header is limited to {@link Safetensors#MAX_HEADER_BYTES} and duplicate JSON keys are rejected.
 *
 * @param headerLength N
 * @param metadata     {@code __metadata__}, in header order; empty when absent
 * @param tensors      the tensors in header order, offsets absolute within the file
 */
record SafetensorsHeader(long headerLength, Map<String, String> metadata, List<TensorInfo> tensors) {

    private static final String METADATA = "__metadata__";

    /** Start of the byte buffer within the file. */
    long dataStart() {
        return 8 + headerLength;
    }

    static SafetensorsHeader read(Path file, FileChannel ch) throws IOException {
        long fileSize = ch.size();
        if (fileSize < 8) {
            throw new FormatException(file, "file is " + fileSize
                    + " bytes, too small for a safetensors file (expected at least the 8-byte header length)");
        }
        ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, prefix, 0);
        long n = prefix.getLong(0);
        if (n < 0 || n > Safetensors.MAX_HEADER_BYTES) {
            throw new FormatException(file, "header length " + Long.toUnsignedString(n) + " exceeds the maximum of "
                    + Safetensors.MAX_HEADER_BYTES + " bytes (file is " + fileSize + " bytes)");
        }
        if (8 + n > fileSize) {
            throw new FormatException(file, "header length " + n + " needs " + (8 + n)
                    + " bytes but the file has only " + fileSize + " bytes (truncated?)");
        }
        ByteBuffer raw = ByteBuffer.allocate((int) n);
        readFully(ch, raw, 8);
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(raw.flip()).toString();
        } catch (CharacterCodingException e) {
            throw new FormatException(file, null, "header is not valid UTF-8", e);
        }
        if (!text.startsWith("{")) {
            String start = text.isEmpty() ? "an empty header" : "'" + text.substring(0, Math.min(16, text.length())) + "'";
            throw new FormatException(file, "header must be a JSON object starting with '{', found " + start);
        }
        JsonNode root = Json.parse(text, file, "header");
        return validate(file, n, fileSize - 8 - n, root);
    }

    private static SafetensorsHeader validate(Path file, long n, long dataSize, JsonNode root) {
        if (!root.isObject()) {
            throw new FormatException(file, "header must be a JSON object, found " + Json.describe(root));
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        List<Entry> entries = new ArrayList<>();
        for (Map.Entry<String, JsonNode> e : root.properties()) {
            if (e.getKey().equals(METADATA)) {
                readMetadata(file, e.getValue(), metadata);
            } else {
                entries.add(entry(file, e.getKey(), e.getValue()));
            }
        }
        for (Entry e : entries) {
            if (e.end > dataSize) {
                throw new FormatException(file, e.name, "data_offsets [" + e.begin + ", " + e.end
                        + "] run past the end of the data region, which has " + dataSize + " bytes (truncated file?)");
            }
        }
        List<Entry> sorted = new ArrayList<>(entries);
        sorted.sort(Comparator.<Entry>comparingLong(e -> e.begin).thenComparingLong(e -> e.end).thenComparing(e -> e.name));
        long pos = 0;
        Entry previous = null;
        for (Entry e : sorted) {
            if (e.begin < pos) {
                throw new FormatException(file, e.name, "data_offsets [" + e.begin + ", " + e.end + "] overlap tensor '"
                        + previous.name + "' at [" + previous.begin + ", " + previous.end + "]");
            }
            if (e.begin > pos) {
                throw new FormatException(file, e.name, "gap in the data region: bytes [" + pos + ", " + e.begin
                        + ") before data_offsets [" + e.begin + ", " + e.end + "] belong to no tensor"
                        + (previous == null ? "" : " (previous tensor: '" + previous.name + "')"));
            }
            pos = e.end;
            previous = e;
        }
        if (pos != dataSize) {
            throw new FormatException(file, "tensors cover " + pos + " bytes of data but the data region has "
                    + dataSize + " bytes (file size - 8 - header length " + n + "); expected them to match");
        }
        List<TensorInfo> tensors = new ArrayList<>(entries.size());
        for (Entry e : entries) {
            tensors.add(new TensorInfo(e.name, e.dtype, e.shape, file, 8 + n + e.begin, e.end - e.begin));
        }
        return new SafetensorsHeader(n, Collections.unmodifiableMap(metadata), Collections.unmodifiableList(tensors));
    }

    private static void readMetadata(Path file, JsonNode node, Map<String, String> out) {
        if (node.isNull()) {
            return; // serde: Option<HashMap<String, String>>
        }
        if (!node.isObject()) {
            throw new FormatException(file, "__metadata__ must be an object of strings, found " + Json.describe(node));
        }
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            if (!e.getValue().isTextual()) {
                throw new FormatException(file, "__metadata__ value of '" + e.getKey() + "' must be a string, found "
                        + Json.describe(e.getValue()));
            }
            out.put(e.getKey(), e.getValue().textValue());
        }
    }

    /** One header entry: {"dtype": .., "shape": [..], "data_offsets": [begin, end]}; unknown fields are ignored, as in serde. */
    private record Entry(String name, DType dtype, long[] shape, long begin, long end) {
    }

    private static Entry entry(Path file, String name, JsonNode node) {
        if (!node.isObject()) {
            throw new FormatException(file, name, "expected an object with dtype, shape and data_offsets, found "
                    + Json.describe(node));
        }
        JsonNode dt = node.get("dtype");
        if (dt == null || !dt.isTextual()) {
            throw new FormatException(file, name, "expected \"dtype\" to be a string, found " + Json.describe(dt));
        }
        DType dtype = DType.fromSafetensors(dt.textValue()).orElseThrow(() -> new FormatException(file, name,
                "unknown dtype '" + dt.textValue() + "', expected one of " + Arrays.toString(DType.values())));
        long[] shape = integers(file, name, "shape", node.get("shape"), -1);
        long[] offsets = integers(file, name, "data_offsets", node.get("data_offsets"), 2);
        long begin = offsets[0];
        long end = offsets[1];
        if (begin > end) {
            throw new FormatException(file, name, "data_offsets [" + begin + ", " + end + "] begin after they end");
        }
        long expected;
        try {
            long count = 1;
            for (long d : shape) {
                count = Math.multiplyExact(count, d);
            }
            expected = Math.multiplyExact(count, (long) dtype.size());
        } catch (ArithmeticException e) {
            throw new FormatException(file, name, "shape " + Arrays.toString(shape) + " of " + dtype
                    + " overflows a 64-bit byte count");
        }
        if (end - begin != expected) {
            throw new FormatException(file, name, "expected " + expected + " bytes for shape " + Arrays.toString(shape)
                    + " of " + dtype + ", found " + (end - begin) + " (data_offsets [" + begin + ", " + end + "])");
        }
        return new Entry(name, dtype, shape, begin, end);
    }

    /** An array of non-negative 64-bit integers; {@code length} -1 for any length. */
    private static long[] integers(Path file, String tensor, String key, JsonNode node, int length) {
        String expected = length < 0 ? "an array of non-negative integers" : "an array of " + length + " non-negative integers";
        if (node == null || !node.isArray() || (length >= 0 && node.size() != length)) {
            throw new FormatException(file, tensor, "expected \"" + key + "\" to be " + expected + ", found "
                    + (node != null && node.isArray() ? node.toString() : Json.describe(node)));
        }
        long[] out = new long[node.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = node.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) {
                throw new FormatException(file, tensor, "expected \"" + key + "\" to be " + expected + ", found "
                        + node + " (element " + i + " is " + v + ")");
            }
            out[i] = v.longValue();
        }
        return out;
    }

    static void readFully(FileChannel ch, ByteBuffer dst, long position) throws IOException {
        long pos = position;
        while (dst.hasRemaining()) {
            int r = ch.read(dst, pos);
            if (r < 0) {
                throw new EOFException("unexpected end of file at byte " + pos);
            }
            pos += r;
        }
    }
}
