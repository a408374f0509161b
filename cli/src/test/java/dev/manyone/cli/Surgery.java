package dev.manyone.cli;

import com.fasterxml.jackson.core.JsonFactoryBuilder;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.Consumer;

/**
 * Test helper that edits safetensors files byte by byte, independently of the project's reader and writer:
 * a file is {@code u64 LE header length N | N bytes of JSON | data}.
 */
final class Surgery {
    static final ObjectMapper JSON = new ObjectMapper(
            new JsonFactoryBuilder().enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build());

    private Surgery() {
    }

    static ObjectNode header(Path file) throws IOException {
        byte[] all = Files.readAllBytes(file);
        long n = ByteBuffer.wrap(all, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        return (ObjectNode) JSON.readTree(new String(all, 8, (int) n, StandardCharsets.UTF_8));
    }

    static byte[] data(Path file) throws IOException {
        byte[] all = Files.readAllBytes(file);
        long n = ByteBuffer.wrap(all, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        return Arrays.copyOfRange(all, 8 + (int) n, all.length);
    }

    /** Rewrites the header with {@code edit}; the data bytes stay as they are. */
    static void editHeader(Path file, Consumer<ObjectNode> edit) throws IOException {
        ObjectNode header = header(file);
        byte[] data = data(file);
        edit.accept(header);
        write(file, JSON.writeValueAsBytes(header), data);
    }

    static void write(Path file, byte[] header, byte[] data) throws IOException {
        ByteBuffer out = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(header.length).put(header).put(data);
        Files.write(file, out.array());
    }

    /** Sum of the element counts of every tensor in the header (the independent parameter count). */
    static long elementCount(Path file) throws IOException {
        long total = 0;
        var fields = header(file).fields();
        while (fields.hasNext()) {
            var e = fields.next();
            if (e.getKey().equals("__metadata__")) {
                continue;
            }
            long n = 1;
            for (var d : e.getValue().get("shape")) {
                n *= d.asLong();
            }
            total += n;
        }
        return total;
    }

    static void copyDir(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (var files = Files.list(from)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                Files.copy(p, to.resolve(p.getFileName().toString()));
                to.resolve(p.getFileName().toString()).toFile().setWritable(true);
            }
        }
    }
}
