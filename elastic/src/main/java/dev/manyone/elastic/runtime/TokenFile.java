package dev.manyone.elastic.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.manyone.formats.DType;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.Safetensors;
import dev.manyone.formats.TensorInfo;
import dev.manyone.formats.TensorSource;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Token sequences for evaluation: a {@code .jsonl} file with one JSON array of token ids per line (or an object
 * with {@code input_ids}), or a {@code .safetensors} file with an I64 {@code input_ids} tensor [batch, seq] (as in
 * the golden files). Every id is checked against the vocabulary.
 */
public final class TokenFile {
    private TokenFile() {
    }

    public static List<long[]> read(Path file, int vocab) {
        List<long[]> rows = file.getFileName().toString().endsWith(".safetensors") ? safetensors(file) : jsonl(file);
        if (rows.isEmpty()) {
            throw new FormatException(file, "expected at least one token sequence, found none");
        }
        for (int r = 0; r < rows.size(); r++) {
            long[] row = rows.get(r);
            if (row.length < 2) {
                throw new FormatException(file, "sequence " + r + ": expected at least 2 tokens, found " + row.length);
            }
            for (int t = 0; t < row.length; t++) {
                if (row[t] < 0 || row[t] >= vocab) {
                    throw new FormatException(file, "sequence " + r + ", position " + t + ": token id " + row[t]
                            + " is outside the vocabulary [0, " + vocab + ")");
                }
            }
        }
        return rows;
    }

    private static List<long[]> safetensors(Path file) {
        try (TensorSource src = Safetensors.open(file)) {
            TensorInfo t = src.find("input_ids").orElseThrow(() -> new FormatException(file, "input_ids",
                    "expected an I64 tensor input_ids [batch, seq], found no such tensor"));
            if (t.dtype() != DType.I64 || t.rank() != 2) {
                throw new FormatException(file, "input_ids", "expected I64 [batch, seq], found " + t.dtype() + t.shapeString());
            }
            ByteBuffer b = src.bytes(t);
            List<long[]> rows = new ArrayList<>();
            for (int r = 0; r < t.dim(0); r++) {
                long[] row = new long[(int) t.dim(1)];
                for (int c = 0; c < row.length; c++) {
                    row[c] = b.getLong(b.position() + 8 * (r * row.length + c));
                }
                rows.add(row);
            }
            return rows;
        }
    }

    private static List<long[]> jsonl(Path file) {
        ObjectMapper mapper = new ObjectMapper();
        List<long[]> rows = new ArrayList<>();
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            int lineNo = 0;
            while ((line = in.readLine()) != null) {
                lineNo++;
                if (line.isBlank()) {
                    continue;
                }
                JsonNode n;
                try {
                    n = mapper.readTree(line);
                } catch (IOException e) {
                    throw new FormatException(file, "line " + lineNo + ": expected a JSON array of token ids, found invalid JSON");
                }
                if (n.isObject() && n.has("input_ids")) {
                    n = n.get("input_ids");
                }
                if (!n.isArray()) {
                    throw new FormatException(file, "line " + lineNo + ": expected a JSON array of token ids, found " + n.getNodeType());
                }
                long[] row = new long[n.size()];
                for (int k = 0; k < row.length; k++) {
                    if (!n.get(k).isIntegralNumber()) {
                        throw new FormatException(file, "line " + lineNo + ", item " + k + ": expected an integer token id, found " + n.get(k));
                    }
                    row[k] = n.get(k).asLong();
                }
                rows.add(row);
            }
        } catch (NoSuchFileException e) {
            throw new FormatException(file, "token file not found");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return rows;
    }
}
