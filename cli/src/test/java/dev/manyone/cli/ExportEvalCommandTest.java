package dev.manyone.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.manyone.formats.Safetensors;
import dev.manyone.formats.TensorSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The golden-parity commands, run as a user would: export, then eval --dump-logits, against golden. */
class ExportEvalCommandTest {
    @TempDir
    Path tmp;

    static float[] floats(Path file, String name) {
        try (TensorSource s = Safetensors.open(file)) {
            return s.readFloats(s.require(name));
        }
    }

    static double maxDiff(float[] a, int aFrom, float[] b, int bFrom, int n) {
        double m = 0;
        for (int i = 0; i < n; i++) {
            m = Math.max(m, Math.abs(a[aFrom + i] - b[bFrom + i]));
        }
        return m;
    }

    @Test
    void exportThenEvalMatchesGoldenLogitsAndDecodeTrace() throws Exception {
        Path tiny = CliRun.golden().resolve("tiny-hybrid");
        Path golden = tiny.resolve("golden.safetensors");
        for (String mamba : new String[] {"contrib", "portable"}) {
            Path onnx = tmp.resolve("onnx-" + mamba);
            CliRun export = CliRun.of("export", tiny.toString(), "-o", onnx.toString(), "--mamba", mamba, "--json");
            assertEquals(0, export.code(), export.toString());
            assertTrue(Files.size(onnx.resolve("model.onnx")) < 200_000, "the graph file stays small");

            Path full = tmp.resolve("full-" + mamba + ".safetensors");
            CliRun eval = CliRun.of("eval", onnx.toString(), "--tokens", golden.toString(), "--dump-logits", full.toString(), "--json");
            assertEquals(0, eval.code(), eval.toString());
            float[] expected = floats(golden, "logits");
            float[] ours = floats(full, "logits");
            assertEquals(expected.length, ours.length);
            assertTrue(maxDiff(expected, 0, ours, 0, ours.length) < 1e-4, mamba + " full");

            // --prefill 30: positions 0..29 against decode.prefill_logits, 30+k against decode.step{k}_logits
            Path traced = tmp.resolve("traced-" + mamba + ".safetensors");
            eval = CliRun.of("eval", onnx.toString(), "--tokens", golden.toString(), "--prefill", "30", "--dump-logits", traced.toString());
            assertEquals(0, eval.code(), eval.toString());
            float[] t = floats(traced, "logits");
            float[] pre = floats(golden, "decode.prefill_logits");
            int vocab = 512;
            int seq = 37;
            for (int b = 0; b < 2; b++) {
                assertTrue(maxDiff(t, b * seq * vocab, pre, b * 30 * vocab, 30 * vocab) < 1e-4, mamba + " prefill");
                for (int k = 0; k < 7; k++) {
                    float[] step = floats(golden, "decode.step" + k + "_logits");
                    assertTrue(maxDiff(t, (b * seq + 30 + k) * vocab, step, b * vocab, vocab) < 1e-4, mamba + " step " + k);
                }
            }
        }
    }

    @Test
    void evalReportsNllAndRunGenerates() throws Exception {
        Path trained = CliRun.golden().resolve("trained-hybrid");
        Path onnx = tmp.resolve("onnx");
        assertEquals(0, CliRun.of("export", trained.toString(), "-o", onnx.toString()).code());
        CliRun eval = CliRun.of("eval", onnx.toString(), "--tokens", trained.resolve("heldout.safetensors").toString(), "--json");
        assertEquals(0, eval.code(), eval.toString());
        JsonNode r = Surgery.JSON.readTree(eval.out());
        assertEquals(8, r.get("sequences").asInt());
        assertEquals(8 * 255, r.get("tokens_scored").asInt());
        // golden README: held-out NLL of the parent 1.475 nats per byte (float64 reference on the same weights);
        // heldout.safetensors scores input_ids against themselves shifted, which is the same next-byte task
        assertEquals(1.475, r.get("mean_nll").asDouble(), 0.05);

        CliRun run = CliRun.of("run", onnx.toString(), "--prompt-ids", "100,101,102", "--max-new-tokens", "5", "--json");
        assertEquals(0, run.code(), run.toString());
        JsonNode g = Surgery.JSON.readTree(run.out());
        assertTrue(g.get("ids").size() >= 1 && g.get("ids").size() <= 5, run.toString());
        assertTrue(g.get("decode_tokens_per_second").asDouble() >= 0);

        // text in and out: the byte-level tokenizer maps text to its UTF-8 bytes, the trained model's vocabulary
        Path tokenizer = Path.of("../test-data/tokenizers/byte-level/tokenizer.json");
        CliRun text = CliRun.of("run", onnx.toString(), "--prompt", "def main(", "--tokenizer", tokenizer.toString(),
                "--max-new-tokens", "12", "--json");
        assertEquals(0, text.code(), text.toString());
        JsonNode t = Surgery.JSON.readTree(text.out());
        assertEquals(9, t.get("prompt_tokens").asInt()); // "def main(" is 9 bytes
        byte[] bytes = new byte[t.get("ids").size()];
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = (byte) t.get("ids").get(i).asInt();
        }
        assertEquals(new String(bytes, java.nio.charset.StandardCharsets.UTF_8), t.get("text").asText());
        CliRun noTokenizer = CliRun.of("run", onnx.toString(), "--prompt", "x");
        assertEquals(2, noTokenizer.code(), noTokenizer.toString());
        assertTrue(noTokenizer.err().contains("tokenizer.json"), noTokenizer.toString());
    }

    @Test
    void extractToBothFormatsGivesTheGoldenChild() throws Exception {
        Path tiny = CliRun.golden().resolve("tiny-hybrid");
        Path out = tmp.resolve("child");
        CliRun run = CliRun.of("extract", tiny.toString(), "--spec", tiny.resolve("rankings.json").toString(), "--child", "6B-style",
                "--format", "hf,onnx", "-o", out.toString());
        assertEquals(0, run.code(), run.toString());
        assertEquals(0, CliRun.of("inspect", out.resolve("hf").toString()).code());
        Path dump = tmp.resolve("logits.safetensors");
        CliRun eval = CliRun.of("eval", out.resolve("onnx").toString(), "--tokens", tiny.resolve("golden.safetensors").toString(),
                "--dump-logits", dump.toString());
        assertEquals(0, eval.code(), eval.toString());
        float[] expected = floats(tiny.resolve("child-6B-style.safetensors"), "logits");
        float[] ours = floats(dump, "logits");
        assertTrue(maxDiff(expected, 0, ours, 0, ours.length) < 1e-4);
    }

    @Test
    void badInputsToTheRuntimeCommandsExitTwo() throws Exception {
        Path tiny = CliRun.golden().resolve("tiny-hybrid");
        CliRun r = CliRun.of("eval", tiny.toString(), "--tokens", tiny.resolve("golden.safetensors").toString());
        assertEquals(2, r.code(), r.toString());
        assertTrue(r.err().contains("genai_config.json"), r.toString());
        r = CliRun.of("export", tiny.toString(), "-o", tmp.resolve("x").toString(), "--dtype", "bf16");
        assertEquals(2, r.code(), r.toString());
        assertTrue(r.err().contains("no bf16 MatMul"), r.toString());
        Path onnx = tmp.resolve("onnx");
        assertEquals(0, CliRun.of("export", tiny.toString(), "-o", onnx.toString()).code());
        Path bad = tmp.resolve("bad.jsonl");
        Files.writeString(bad, "[1, 2, 3]\n[4, 99999]\n");
        r = CliRun.of("eval", onnx.toString(), "--tokens", bad.toString());
        assertEquals(2, r.code(), r.toString());
        assertTrue(r.err().contains("bad.jsonl") && r.err().contains("99999") && r.err().contains("[0, 512)"), r.toString());
        r = CliRun.of("run", onnx.toString(), "--prompt-ids", "1,600");
        assertEquals(2, r.code(), r.toString());
        assertTrue(r.err().contains("600"), r.toString());
    }
}
