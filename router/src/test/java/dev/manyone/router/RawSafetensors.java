package dev.manyone.router;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A deliberately separate safetensors reader for tests: parses the 8-byte header length and the JSON header by hand
 * and returns raw little-endian values, so that checks do not go through the code under test.
 */
final class RawSafetensors {
    private final JsonNode header;
    private final ByteBuffer data;

    private RawSafetensors(JsonNode header, ByteBuffer data) {
        this.header = header;
        this.data = data;
    }

    static RawSafetensors read(Path file) throws IOException {
        byte[] all = Files.readAllBytes(file);
        ByteBuffer b = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
        long n = b.getLong(0);
        JsonNode header = new ObjectMapper().readTree(new String(all, 8, (int) n, StandardCharsets.UTF_8));
        ByteBuffer data = ByteBuffer.wrap(all, 8 + (int) n, all.length - 8 - (int) n).slice().order(ByteOrder.LITTLE_ENDIAN);
        return new RawSafetensors(header, data);
    }

    JsonNode header() {
        return header;
    }

    boolean has(String name) {
        return header.has(name);
    }

    long[] shape(String name) {
        JsonNode s = header.get(name).get("shape");
        long[] out = new long[s.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = s.get(i).asLong();
        }
        return out;
    }

    float[] f32(String name) {
        JsonNode t = header.get(name);
        if (!"F32".equals(t.get("dtype").asText())) {
            throw new IllegalArgumentException(name + " is " + t.get("dtype"));
        }
        int from = t.get("data_offsets").get(0).asInt();
        int to = t.get("data_offsets").get(1).asInt();
        float[] out = new float[(to - from) / 4];
        for (int i = 0; i < out.length; i++) {
            out[i] = data.getFloat(from + 4 * i);
        }
        return out;
    }

    int[] i32(String name) {
        JsonNode t = header.get(name);
        int from = t.get("data_offsets").get(0).asInt();
        int to = t.get("data_offsets").get(1).asInt();
        int[] out = new int[(to - from) / 4];
        for (int i = 0; i < out.length; i++) {
            out[i] = data.getInt(from + 4 * i);
        }
        return out;
    }
}
