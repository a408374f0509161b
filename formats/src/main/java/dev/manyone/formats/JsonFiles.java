package dev.manyone.formats;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Reads user-supplied JSON files (child specs, rankings, elastic metadata) strictly: duplicate keys are refused. */
public final class JsonFiles {
    /** Larger JSON inputs are refused before they are read. */
    public static final long MAX_BYTES = 256L << 20;

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
            return Json.parse(text, file, what);
        } catch (NoSuchFileException e) {
            throw new FormatException(file, what + " not found");
        } catch (CharacterCodingException e) {
            throw new FormatException(file, what + " is not UTF-8 text");
        } catch (IOException e) {
            throw new FormatException(file, null, "cannot read " + what + ": " + e.getMessage(), e);
        }
    }
}
