package dev.manyone.elastic.runtime;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.manyone.formats.FormatException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * Text ⇄ token ids through a Hugging Face {@code tokenizer.json}, by the Rust tokenizers library (DJL's Java
 * binding, natives bundled). Works offline from the local file. No special tokens are added and nothing is
 * truncated (the binding's default would silently cut at 512 tokens).
 */
public final class TextTokenizer implements AutoCloseable {
    public static final String FILE = "tokenizer.json";

    static {
        // no network at run time: the natives are in the jar; never let the binding try to download them
        System.setProperty("offline", "true");
    }

    private final HuggingFaceTokenizer tokenizer;

    private TextTokenizer(HuggingFaceTokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** The tokenizer of a model directory, if it has a tokenizer.json. */
    public static Optional<TextTokenizer> forModel(Path dir) {
        Path file = dir.resolve(FILE);
        return Files.isRegularFile(file) ? Optional.of(open(file)) : Optional.empty();
    }

    public static TextTokenizer open(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new FormatException(file, "tokenizer file not found");
        }
        try {
            return new TextTokenizer(HuggingFaceTokenizer.newInstance(file,
                    Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false")));
        } catch (IOException | RuntimeException e) {
            throw new FormatException(file, null, "not a usable Hugging Face tokenizer.json: " + e.getMessage(), e);
        }
    }

    public long[] encode(String text) {
        Encoding e = tokenizer.encode(text, false, false);
        return e.getIds();
    }

    public String decode(long[] ids) {
        return tokenizer.decode(ids, false);
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
