package dev.manyone.formats.pack;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.core.json.JsonWriteFeature;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.manyone.formats.FormatException;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The first entry of a package, {@value PackageFormat#MANIFEST}:
 * <pre>
 * {
 *   "format": "manyone-package",
 *   "format_version": 1,
 *   "alignment": 4096,
 *   "parent": "nemotron-parent",                  the name of the packed directory (children's provenance)
 *   "entries": [                                   every other entry, in archive order
 *     {"name": "config.json", "size": 1139, "sha256": "64 lowercase hex digits"}, ...
 *   ],
 *   "config": {...},                               the parent's config.json
 *   "elastic": {...}                               the parent's elastic.json (budgets, router), opaque; only if present
 * }
 * </pre>
 * Written by Jackson, pretty-printed with two-space indents and "\n", the config's bare {@code Infinity} kept bare;
 * read strictly: unknown or duplicate keys, trailing content and a version other than {@value PackageFormat#VERSION}
 * are refused (the version is checked before anything else).
 */
public record Manifest(String parent, List<Entry> entries, JsonNode config, JsonNode elastic) {

    /** One entry: its name, its size in bytes and the SHA-256 of its bytes (lowercase hex). */
    public record Entry(String name, long size, String sha256) {
    }

    private static final Set<String> KEYS = Set.of("format", "format_version", "alignment", "parent", "entries", "config", "elastic");
    private static final Set<String> ENTRY_KEYS = Set.of("name", "size", "sha256");
    private static final JsonMapper MAPPER = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .disable(JsonWriteFeature.WRITE_NAN_AS_STRINGS)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();
    private static final ObjectWriter WRITER = MAPPER.writer(new DefaultPrettyPrinter(
                    Separators.createDefaultInstance().withObjectFieldValueSpacing(Separators.Spacing.AFTER))
            .withObjectIndenter(new DefaultIndenter("  ", "\n"))
            .withArrayIndenter(new DefaultIndenter("  ", "\n")));

    public Manifest {
        entries = List.copyOf(entries);
    }

    /** The elastic metadata (elastic.json) packed with the parent, if it had one. */
    public Optional<JsonNode> elasticMetadata() {
        return Optional.ofNullable(elastic);
    }

    /** The same manifest with the SHA-256 of each entry replaced, in order. */
    Manifest withHashes(List<String> sha256) {
        List<Entry> out = new ArrayList<>();
        for (int i = 0; i < entries.size(); i++) {
            Entry e = entries.get(i);
            out.add(new Entry(e.name(), e.size(), sha256.get(i)));
        }
        return new Manifest(parent, out, config, elastic);
    }

    /** The manifest's bytes: UTF-8 JSON ending with "\n", the same bytes for the same manifest. */
    public byte[] toBytes() {
        ObjectNode root = MAPPER.createObjectNode();
        root.put("format", PackageFormat.FORMAT);
        root.put("format_version", PackageFormat.VERSION);
        root.put("alignment", PackageFormat.ALIGNMENT);
        root.put("parent", parent);
        ArrayNode list = root.putArray("entries");
        for (Entry e : entries) {
            list.addObject().put("name", e.name()).put("size", e.size()).put("sha256", e.sha256());
        }
        root.set("config", config);
        if (elastic != null) {
            root.set("elastic", elastic);
        }
        try {
            return (WRITER.writeValueAsString(root) + "\n").getBytes(StandardCharsets.UTF_8);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Parses JSON text as found in a parent's files (bare Infinity accepted, duplicate keys refused). */
    static JsonNode parseJson(byte[] bytes, Path file, String what) {
        try {
            String text = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes)).toString();
            JsonNode node = MAPPER.readTree(text);
            if (node == null || node.isMissingNode()) {
                throw new FormatException(file, what + " is empty; expected a JSON object");
            }
            return node;
        } catch (CharacterCodingException e) {
            throw new FormatException(file, what + " is not UTF-8 text");
        } catch (JsonProcessingException e) {
            throw new FormatException(file, null, what + " is not valid JSON: " + e.getOriginalMessage(), e);
        }
    }

    /** Parses and validates a manifest; {@code file} names it in messages. */
    static Manifest parse(byte[] bytes, Path file) {
        JsonNode root = parseJson(bytes, file, "the manifest");
        if (!root.isObject()) {
            throw new FormatException(file, "expected the manifest to be a JSON object, found " + root.getNodeType());
        }
        JsonNode format = root.get("format");
        if (format == null || !format.isTextual() || !format.textValue().equals(PackageFormat.FORMAT)) {
            throw new FormatException(file, "expected \"format\": \"" + PackageFormat.FORMAT + "\", found " + format);
        }
        JsonNode version = root.get("format_version");
        if (version == null || !version.isIntegralNumber() || !version.canConvertToInt() || version.intValue() != PackageFormat.VERSION) {
            throw new FormatException(file, "unknown package format version " + version + "; this manyone reads version "
                    + PackageFormat.VERSION + " (a newer manyone may read it)");
        }
        root.fieldNames().forEachRemaining(k -> {
            if (!KEYS.contains(k)) {
                throw new FormatException(file, "unknown manifest field \"" + k + "\"; expected only " + KEYS);
            }
        });
        JsonNode alignment = root.get("alignment");
        if (alignment == null || !alignment.isIntegralNumber() || alignment.longValue() != PackageFormat.ALIGNMENT) {
            throw new FormatException(file, "expected \"alignment\": " + PackageFormat.ALIGNMENT + ", found " + alignment);
        }
        JsonNode parent = root.get("parent");
        if (parent == null || !parent.isTextual() || parent.textValue().isEmpty() || parent.textValue().length() > 255
                || parent.textValue().chars().anyMatch(c -> c < 0x20)) {
            throw new FormatException(file, "expected \"parent\" to be the parent's name (a non-empty string), found " + parent);
        }
        JsonNode config = root.get("config");
        if (config == null || !config.isObject()) {
            throw new FormatException(file, "expected \"config\" to be the parent's config.json object, found "
                    + (config == null ? "nothing" : config.getNodeType()));
        }
        JsonNode elastic = root.get("elastic");
        return new Manifest(parent.textValue(), entries(root.get("entries"), file), config, elastic);
    }

    private static List<Entry> entries(JsonNode list, Path file) {
        if (list == null || !list.isArray() || list.isEmpty()) {
            throw new FormatException(file, "expected \"entries\" to be a non-empty array, found " + list);
        }
        List<Entry> out = new ArrayList<>();
        Map<String, String> seen = new HashMap<>();
        for (JsonNode n : list) {
            if (!n.isObject()) {
                throw new FormatException(file, "expected every element of \"entries\" to be an object, found " + n);
            }
            n.fieldNames().forEachRemaining(k -> {
                if (!ENTRY_KEYS.contains(k)) {
                    throw new FormatException(file, "unknown field \"" + k + "\" in entry " + n + "; expected only " + ENTRY_KEYS);
                }
            });
            JsonNode name = n.get("name");
            JsonNode size = n.get("size");
            JsonNode sha = n.get("sha256");
            if (name == null || !name.isTextual()) {
                throw new FormatException(file, "expected \"name\" to be a string in entry " + n);
            }
            String s = name.textValue();
            EntryNames.problem(s).ifPresent(p -> {
                throw new FormatException(file, "the manifest lists entry " + EntryNames.quote(s) + ", which is not a safe plain file name: " + p);
            });
            String previous = seen.put(EntryNames.foldCase(s), s);
            if (previous != null) {
                throw new FormatException(file, "the manifest lists entry " + EntryNames.quote(s) + " twice"
                        + (previous.equals(s) ? "" : " (as " + EntryNames.quote(previous) + ": names may not differ only in case)"));
            }
            if (size == null || !size.isIntegralNumber() || !size.canConvertToLong() || size.longValue() < 0) {
                throw new FormatException(file, "expected \"size\" of entry " + EntryNames.quote(s) + " to be a non-negative integer, found " + size);
            }
            if (sha == null || !sha.isTextual() || !sha.textValue().matches("[0-9a-f]{64}")) {
                throw new FormatException(file, "expected \"sha256\" of entry " + EntryNames.quote(s) + " to be 64 lowercase hex digits, found " + sha);
            }
            out.add(new Entry(s, size.longValue(), sha.textValue()));
        }
        return out;
    }
}
