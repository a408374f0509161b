package dev.manyone.elastic;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.io.JsonStringEncoder;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.manyone.formats.AtomicFiles;
import dev.manyone.formats.JsonFiles;
import dev.manyone.formats.FormatException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * JSON as the Hugging Face Hub writes its configs: Python's {@code json.dumps(indent=2)}. Reading accepts the bare
 * tokens {@code Infinity}, {@code -Infinity} and {@code NaN} and rejects duplicate keys and trailing content;
 * writing reproduces Python's layout and float spelling, so a Hub config comes back byte for byte.
 */
final class HubJson {

    private static final ObjectMapper MAPPER = new ObjectMapper(JsonFactory.builder()
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS) // time_step_limit: [0.0, Infinity]
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build())
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private HubJson() {
    }

    /**
     * The JSON tree of {@code text}; null or a MissingNode for empty input.
     *
     * @throws FormatException naming {@code file}, with the line and column of the first syntax error
     */
    static JsonNode read(String text, Path file) {
        try {
            return MAPPER.readTree(text);
        } catch (JsonProcessingException e) {
            String at = e.getLocation() == null ? ""
                    : " at line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr();
            throw new FormatException(file, null, "malformed JSON" + at + ": " + JsonFiles.clean(e.getOriginalMessage()), e);
        }
    }

    /**
     * The text of {@code node}: 2-space indentation, fields in their order, one array element per line, empty
     * containers as {@code []} and {@code {}}, floats as Python's repr, and a trailing newline.
     */
    static String write(JsonNode node) {
        StringBuilder sb = new StringBuilder();
        writeValue(sb, node, 0);
        return sb.append('\n').toString();
    }

    /**
     * Writes {@code text} (UTF-8) to {@code file} atomically: a temporary file in the same directory, flushed to
     * disk, then moved over {@code file} with {@code ATOMIC_MOVE}.
     *
     * @throws UncheckedIOException if the file cannot be written
     */
    static void writeAtomically(Path file, String text) {
        try {
            AtomicFiles.write(file.toAbsolutePath(), text.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    private static void writeValue(StringBuilder sb, JsonNode n, int depth) {
        if (n.isObject()) {
            if (n.isEmpty()) {
                sb.append("{}");
                return;
            }
            sb.append("{\n");
            int left = n.size();
            for (Map.Entry<String, JsonNode> e : n.properties()) {
                indent(sb, depth + 1);
                writeString(sb, e.getKey());
                sb.append(": ");
                writeValue(sb, e.getValue(), depth + 1);
                sb.append(--left > 0 ? ",\n" : "\n");
            }
            indent(sb, depth);
            sb.append('}');
        } else if (n.isArray()) {
            if (n.isEmpty()) {
                sb.append("[]");
                return;
            }
            sb.append("[\n");
            for (int k = 0; k < n.size(); k++) {
                indent(sb, depth + 1);
                writeValue(sb, n.get(k), depth + 1);
                sb.append(k + 1 < n.size() ? ",\n" : "\n");
            }
            indent(sb, depth);
            sb.append(']');
        } else if (n.isTextual()) {
            writeString(sb, n.asText());
        } else if (n.isFloatingPointNumber()) {
            sb.append(pythonRepr(n.doubleValue()));
        } else if (n.isNumber()) {
            sb.append(n.numberValue().toString());
        } else if (n.isBoolean()) {
            sb.append(n.booleanValue());
        } else if (n.isNull()) {
            sb.append("null");
        } else {
            throw new IllegalStateException("cannot write a JSON " + n.getNodeType() + " node");
        }
    }

    private static void indent(StringBuilder sb, int depth) {
        sb.append("  ".repeat(depth));
    }

    private static void writeString(StringBuilder sb, String s) {
        sb.append('"');
        JsonStringEncoder.getInstance().quoteAsString(s, sb);
        sb.append('"');
    }

    /**
     * A double as Python's {@code repr} writes it: the shortest digits Java gives, positional notation for decimal
     * exponents −4..15 (always with a fraction, "0.0", "64.0"), otherwise {@code 1e-05} style.
     */
    static String pythonRepr(double d) {
        if (Double.isNaN(d)) {
            return "NaN";
        }
        if (Double.isInfinite(d)) {
            return d > 0 ? "Infinity" : "-Infinity";
        }
        if (d == 0) {
            return 1 / d < 0 ? "-0.0" : "0.0";
        }
        BigDecimal bd = new BigDecimal(Double.toString(d)).stripTrailingZeros();
        String digits = bd.unscaledValue().abs().toString();
        int exponent = digits.length() - 1 - bd.scale(); // decimal exponent of the first digit
        if (exponent >= -4 && exponent < 16) {
            String plain = bd.toPlainString();
            return plain.indexOf('.') >= 0 ? plain : plain + ".0";
        }
        StringBuilder sb = new StringBuilder();
        if (d < 0) {
            sb.append('-');
        }
        sb.append(digits.charAt(0));
        if (digits.length() > 1) {
            sb.append('.').append(digits, 1, digits.length());
        }
        sb.append('e').append(exponent < 0 ? '-' : '+');
        int abs = Math.abs(exponent);
        if (abs < 10) {
            sb.append('0');
        }
        return sb.append(abs).toString();
    }
}
