package dev.manyone.formats;

import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Reads user-supplied JSON files (child specs, rankings, elastic metadata): duplicate keys and trailing content are
 * refused, the bare {@code Infinity} of Hub configs (which rankings files embed) is accepted.
 */
public final class JsonFiles {
    /** Larger JSON inputs are refused before they are read. */
    public static final long MAX_BYTES = 256L << 20;

    /** Duplicate keys refused; bare Infinity / NaN accepted, as Hugging Face configs write them. */
    private static final ObjectMapper HUB = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    /** Jackson's message without its own source/location notes, which would only repeat (or redact) ours. */
    public static String clean(String message) {
        String m = message == null ? "" : message;
        for (String cut : new String[] {"\n", " at [Source", " (Source: ", " (start marker"}) {
            int i = m.indexOf(cut);
            if (i >= 0) {
                m = m.substring(0, i);
            }
        }
        return m.strip();
    }

    private JsonFiles() {
    }

    /** The parsed file; {@code what} says what the file should be, e.g. "child spec". */
    public static JsonNode read(Path file, String what) {
        try {
            long size = Files.size(file);
            if (size > MAX_BYTES) {
                throw new FormatException(file, what + " of " + size + " bytes is larger than the " + MAX_BYTES + " bytes accepted");
            }
            String text = StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(Files.readAllBytes(file))).toString();
            return HUB.readTree(text);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            String where = e.getLocation() == null ? "" : " (line " + e.getLocation().getLineNr() + ", column "
                    + e.getLocation().getColumnNr() + ")";
            throw new FormatException(file, null, what + " is not valid JSON: " + clean(e.getOriginalMessage()) + where, e);
        } catch (NoSuchFileException e) {
            throw new FormatException(file, what + " not found");
        } catch (CharacterCodingException e) {
            throw new FormatException(file, what + " is not UTF-8 text");
        } catch (IOException e) {
            throw new FormatException(file, null, "cannot read " + what + ": " + e.getMessage(), e);
        }
    }
}
