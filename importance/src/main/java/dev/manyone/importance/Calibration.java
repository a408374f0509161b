package dev.manyone.importance;

import dev.manyone.elastic.runtime.TextTokenizer;
import dev.manyone.elastic.runtime.TokenFile;
import dev.manyone.formats.FormatException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;

/**
 * The calibration token windows importance estimation runs the model on. Sources:
 * <ul>
 *   <li>{@code .jsonl} (one JSON array of token ids per line) or {@code .safetensors} (I64 {@code input_ids}
 *       [batch, seq]), read by {@link TokenFile}: one row per sequence;</li>
 *   <li>any other file is UTF-8 text, one row: tokenized by the checkpoint's {@code tokenizer.json} when it has one;
 *       without one, a byte-level model (vocab 256, like the golden trained-hybrid) reads the text's UTF-8 bytes as
 *       token ids; any other model is refused (tokenize the text to .jsonl first).</li>
 * </ul>
 * Windows, deterministically: every row is cut into consecutive windows of {@code seqLen} tokens starting at its
 * first token (a shorter tail is dropped; a row shorter than {@code seqLen} is one window of its own length;
 * {@code seqLen} 0 keeps every row whole). If there are more windows than {@code samples}, {@code samples} of them
 * are drawn without replacement by a {@link SplittableRandom} seeded with {@code seed} (partial Fisher–Yates) and
 * kept in their original order. {@code samples} 0 keeps every window.
 *
 * @param windows     the token windows, in file order
 * @param source      the file name (no directory), or a description for in-memory rows
 * @param tokenization "token ids", "tokenizer.json" or "utf-8 bytes"
 */
public record Calibration(List<long[]> windows, String source, String tokenization, Sampling sampling) {

    /** How windows are cut and drawn: see the class comment. */
    public record Sampling(int samples, int seqLen, long seed) {
        public static final Sampling ALL = new Sampling(0, 0, 0);

        public Sampling {
            if (samples < 0) {
                throw new FormatException(null, "--samples: expected 0 (all) or more, found " + samples);
            }
            if (seqLen < 0 || seqLen == 1) {
                throw new FormatException(null, "--seq-len: expected 0 (whole rows) or at least 2 tokens, found " + seqLen);
            }
        }
    }

    /** Reads {@code file} for a model of {@code vocab} tokens whose checkpoint directory is {@code modelDir}. */
    public static Calibration load(Path file, Path modelDir, int vocab, Sampling sampling) {
        String name = file.getFileName().toString();
        if (name.endsWith(".jsonl") || name.endsWith(".safetensors")) {
            return of(TokenFile.read(file, vocab), name, "token ids", sampling, file);
        }
        String text = readText(file);
        Optional<TextTokenizer> tokenizer = TextTokenizer.forModel(modelDir);
        long[] ids;
        String how;
        if (tokenizer.isPresent()) {
            try (TextTokenizer t = tokenizer.get()) {
                ids = t.encode(text);
            }
            how = "tokenizer.json";
        } else if (vocab == 256) {
            byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
            ids = new long[bytes.length];
            for (int k = 0; k < bytes.length; k++) {
                ids[k] = bytes[k] & 0xff;
            }
            how = "utf-8 bytes";
        } else {
            throw new FormatException(file, "expected token ids (.jsonl or .safetensors) or text for a model that can read it, found "
                    + "text, but " + modelDir + " has no tokenizer.json and a vocabulary of " + vocab
                    + " (text is read as UTF-8 bytes only when the vocabulary is 256); tokenize the text to .jsonl first");
        }
        for (int k = 0; k < ids.length; k++) {
            if (ids[k] < 0 || ids[k] >= vocab) {
                throw new FormatException(file, "token " + k + ": id " + ids[k] + " is outside the vocabulary [0, " + vocab + ")");
            }
        }
        if (ids.length < 2) {
            throw new FormatException(file, "expected at least 2 tokens of text, found " + ids.length);
        }
        return of(List.of(ids), name, how, sampling, file);
    }

    private static String readText(Path file) {
        try {
            return StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(Files.readAllBytes(file))).toString();
        } catch (NoSuchFileException e) {
            throw new FormatException(file, "calibration file not found");
        } catch (CharacterCodingException e) {
            throw new FormatException(file, "expected .jsonl, .safetensors or UTF-8 text, found bytes that are not UTF-8");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Windows of in-memory rows (e.g. the first held-out sequences). {@code file} names the source in messages. */
    public static Calibration of(List<long[]> rows, String source, String tokenization, Sampling sampling, Path file) {
        List<long[]> windows = new ArrayList<>();
        for (long[] row : rows) {
            if (sampling.seqLen() == 0 || row.length <= sampling.seqLen()) {
                windows.add(row);
                continue;
            }
            for (int start = 0; start + sampling.seqLen() <= row.length; start += sampling.seqLen()) {
                windows.add(Arrays.copyOfRange(row, start, start + sampling.seqLen()));
            }
        }
        windows.removeIf(w -> w.length < 2);
        if (windows.isEmpty()) {
            throw new FormatException(file, "expected at least one calibration window of 2 or more tokens, found none");
        }
        if (sampling.samples() > 0 && sampling.samples() < windows.size()) {
            int n = windows.size();
            int[] order = new int[n];
            for (int k = 0; k < n; k++) {
                order[k] = k;
            }
            SplittableRandom random = new SplittableRandom(sampling.seed());
            for (int k = 0; k < sampling.samples(); k++) {
                int pick = k + random.nextInt(n - k);
                int tmp = order[k];
                order[k] = order[pick];
                order[pick] = tmp;
            }
            int[] chosen = Arrays.copyOf(order, sampling.samples());
            Arrays.sort(chosen);
            List<long[]> kept = new ArrayList<>();
            for (int k : chosen) {
                kept.add(windows.get(k));
            }
            windows = kept;
        }
        return new Calibration(List.copyOf(windows), source, tokenization, sampling);
    }

    /** Total tokens. */
    public long tokens() {
        long n = 0;
        for (long[] w : windows) {
            n += w.length;
        }
        return n;
    }

    /**
     * Batches of at most {@code size} windows of one length: windows grouped by length (lengths in order of first
     * appearance), each group cut in file order. Deterministic.
     */
    public List<long[][]> batches(int size) {
        if (size < 1) {
            throw new FormatException(null, "--batch: expected at least 1, found " + size);
        }
        Map<Integer, List<long[]>> byLength = new LinkedHashMap<>();
        for (long[] w : windows) {
            byLength.computeIfAbsent(w.length, k -> new ArrayList<>()).add(w);
        }
        List<long[][]> out = new ArrayList<>();
        for (List<long[]> group : byLength.values()) {
            for (int from = 0; from < group.size(); from += size) {
                out.add(group.subList(from, Math.min(group.size(), from + size)).toArray(new long[0][]));
            }
        }
        return out;
    }
}
