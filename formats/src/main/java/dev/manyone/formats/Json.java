package dev.manyone.formats;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;

/**
 * Strict JSON reading and byte-stable JSON writing for safetensors headers and index files.
 * Reading rejects duplicate keys (serde_json, which huggingface/safetensors uses, rejects them for struct fields;
 * we reject them everywhere) and anything after the top-level value except whitespace.
 */
public final class Json {
    private static final ObjectMapper STRICT = new ObjectMapper(JsonFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build())
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private Json() {
    }

    /** Parses {@code text}; any syntax error, duplicate key or trailing garbage is a FormatException about {@code file}. */
    static JsonNode parse(String text, Path file, String what) {
        try {
            JsonNode node = STRICT.readTree(text);
            if (node == null || node.isMissingNode()) {
                throw new FormatException(file, what + " is empty; expected a JSON object");
            }
            return node;
        } catch (JsonProcessingException e) {
            String where = e.getLocation() == null ? "" : " (at character " + e.getLocation().getCharOffset() + ")";
            throw new FormatException(file, null, what + " is not valid JSON: " + JsonFiles.clean(e.getOriginalMessage()) + where, e);
        }
    }

    /** Appends {@code s} as a JSON string literal: quotes, backslash and control characters escaped, the rest verbatim. */
    static StringBuilder quote(StringBuilder sb, String s) {
        return quote(sb, s, false);
    }

    /**
     * As {@link #quote(StringBuilder, String)}; with {@code asciiOnly} every character above 0x7e is escaped as
     * a backslash-u escape too, as Python's {@code json.dumps} does by default ({@code ensure_ascii=True}).
     */
    public static StringBuilder quote(StringBuilder sb, String s, boolean asciiOnly) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    if (c < 0x20 || (asciiOnly && c > 0x7e)) {
                        sb.append(String.format(java.util.Locale.ROOT, "\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.append('"');
    }

    /** A short description of a node's JSON type for error messages: "a string", "an array", … */
    static String describe(JsonNode n) {
        if (n == null || n.isMissingNode()) {
            return "nothing";
        }
        return switch (n.getNodeType()) {
            case ARRAY -> "an array";
            case OBJECT -> "an object";
            case STRING -> "the string " + n.toString();
            case NUMBER -> "the number " + n.toString();
            case BOOLEAN -> n.toString();
            case NULL -> "null";
            default -> n.getNodeType().toString().toLowerCase(java.util.Locale.ROOT);
        };
    }
}
