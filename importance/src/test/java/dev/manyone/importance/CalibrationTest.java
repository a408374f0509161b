package dev.manyone.importance;

import dev.manyone.formats.FormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CalibrationTest {
    @TempDir
    Path tmp;

    static List<long[]> rows(int n, int len) {
        List<long[]> out = new ArrayList<>();
        for (int r = 0; r < n; r++) {
            long[] row = new long[len];
            for (int t = 0; t < len; t++) {
                row[t] = r * 1000L + t;
            }
            out.add(row);
        }
        return out;
    }

    @Test
    void windowsAreCutFromEveryRowAndDrawnBySeed() {
        List<long[]> rows = rows(3, 100);
        Calibration all = Calibration.of(rows, "x", "ids", new Calibration.Sampling(0, 30, 0), null);
        assertEquals(9, all.windows().size(), "3 windows of 30 per row of 100, the tail of 10 dropped");
        assertArrayEquals(new long[] {1030, 1031}, java.util.Arrays.copyOf(all.windows().get(4), 2));
        Calibration a = Calibration.of(rows, "x", "ids", new Calibration.Sampling(4, 30, 1), null);
        Calibration b = Calibration.of(rows, "x", "ids", new Calibration.Sampling(4, 30, 1), null);
        Calibration c = Calibration.of(rows, "x", "ids", new Calibration.Sampling(4, 30, 2), null);
        assertEquals(4, a.windows().size());
        for (int k = 0; k < 4; k++) {
            assertArrayEquals(a.windows().get(k), b.windows().get(k), "same seed, same windows");
        }
        boolean differs = false;
        for (int k = 0; k < 4; k++) {
            differs |= !java.util.Arrays.equals(a.windows().get(k), c.windows().get(k));
        }
        assertTrue(differs, "another seed draws other windows");
        for (int k = 1; k < 4; k++) {
            assertTrue(a.windows().get(k - 1)[0] < a.windows().get(k)[0], "drawn windows keep file order");
        }
        assertEquals(120, a.tokens());
    }

    @Test
    void shortRowsAreOneWindowAndBatchesHaveOneLength() {
        List<long[]> rows = new ArrayList<>(rows(3, 20));
        rows.add(1, new long[] {1, 2, 3});
        Calibration c = Calibration.of(rows, "x", "ids", new Calibration.Sampling(0, 32, 0), null);
        assertEquals(4, c.windows().size());
        List<long[][]> batches = c.batches(2);
        assertEquals(3, batches.size()); // [20, 20], [20], [3]
        for (long[][] b : batches) {
            for (long[] w : b) {
                assertEquals(b[0].length, w.length);
            }
        }
    }

    @Test
    void textIsUtf8BytesForAByteLevelModel() throws Exception {
        Path text = tmp.resolve("calib.txt");
        Files.writeString(text, "def f(x):\n    return x ** 2  # é\n", StandardCharsets.UTF_8);
        Calibration c = Calibration.load(text, Golden.trained(), 256, new Calibration.Sampling(0, 8, 0));
        assertEquals("utf-8 bytes", c.tokenization());
        byte[] bytes = Files.readAllBytes(text);
        assertEquals('d', c.windows().get(0)[0]);
        assertEquals(bytes.length / 8, c.windows().size());
        for (int k = 0; k < c.windows().size() * 8; k++) {
            assertEquals(bytes[k] & 0xff, c.windows().get(k / 8)[k % 8], "byte " + k); // é is the two ids 0xC3 0xA9
        }
    }

    @Test
    void textGoesThroughTheCheckpointsTokenizerJson() throws Exception {
        Path model = tmp.resolve("model");
        Files.createDirectories(model);
        Files.copy(Path.of("../test-data/tokenizers/byte-level/tokenizer.json"), model.resolve("tokenizer.json"));
        Path text = tmp.resolve("calib.txt");
        Files.writeString(text, "for i in range(3):\n    print(i)  # ok\n", StandardCharsets.UTF_8);
        Calibration c = Calibration.load(text, model, 256, Calibration.Sampling.ALL);
        assertEquals("tokenizer.json", c.tokenization());
        byte[] bytes = Files.readAllBytes(text);
        long[] ids = c.windows().get(0);
        assertEquals(bytes.length, ids.length);
        for (int k = 0; k < bytes.length; k++) {
            assertEquals(bytes[k] & 0xff, ids[k], "this tokenizer's ids are the UTF-8 bytes");
        }
    }

    @Test
    void textIsRefusedForAModelWithoutTokenizerThatIsNotByteLevel() throws Exception {
        Path text = tmp.resolve("calib.txt");
        Files.writeString(text, "hello world", StandardCharsets.UTF_8);
        FormatException e = assertThrows(FormatException.class,
                () -> Calibration.load(text, Golden.tiny(), 512, Calibration.Sampling.ALL));
        assertTrue(e.getMessage().contains("calib.txt") && e.getMessage().contains("tokenizer.json")
                && e.getMessage().contains("512"), e.getMessage());
    }

    @Test
    void tokenFilesAreCheckedAgainstTheVocabulary() throws Exception {
        Path jsonl = tmp.resolve("c.jsonl");
        Files.writeString(jsonl, "[1, 2, 3]\n[4, 600, 6]\n");
        FormatException e = assertThrows(FormatException.class, () -> Calibration.load(jsonl, Golden.tiny(), 512, Calibration.Sampling.ALL));
        assertTrue(e.getMessage().contains("600"), e.getMessage());
        assertThrows(FormatException.class, () -> new Calibration.Sampling(-1, 0, 0));
        assertThrows(FormatException.class, () -> new Calibration.Sampling(0, 1, 0));
    }
}
