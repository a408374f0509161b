package dev.manyone.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** int8/int4 from the command line: export with the policy flags, then eval and run the quantized model. */
class QuantizedExportCommandTest {
    @TempDir
    Path tmp;

    @Test
    void int4WithEightBitMambaProjectionsEvaluates() throws Exception {
        Path trained = CliRun.golden().resolve("trained-hybrid");
        Path fp32 = tmp.resolve("fp32");
        Path int4 = tmp.resolve("int4");
        assertEquals(0, CliRun.of("export", trained.toString(), "-o", fp32.toString()).code());
        CliRun export = CliRun.of("export", trained.toString(), "-o", int4.toString(), "--dtype", "int4",
                "--mamba-proj-bits", "8", "--block-size", "64");
        assertEquals(0, export.code(), export.toString());
        assertTrue(Files.size(int4.resolve("model.onnx.data")) * 3 < Files.size(fp32.resolve("model.onnx.data")),
                "int4 file under a third of fp32's");
        String onnx = Files.readString(int4.resolve("genai_config.json"));
        assertTrue(onnx.contains("\"weights\" : \"int4\""), onnx);

        double[] nll = new double[2];
        int i = 0;
        for (Path dir : new Path[] {fp32, int4}) {
            CliRun eval = CliRun.of("eval", dir.toString(), "--tokens", trained.resolve("heldout.safetensors").toString(), "--json");
            assertEquals(0, eval.code(), eval.toString());
            JsonNode r = Surgery.JSON.readTree(eval.out());
            nll[i++] = r.get("mean_nll").asDouble();
        }
        // KL(fp32 || int4) ≤ 0.02 nats/byte is the target (docs/quantization.md); the NLL moves by less than that here
        assertTrue(nll[1] > nll[0] && nll[1] - nll[0] < 0.02, "fp32 NLL " + nll[0] + ", int4 NLL " + nll[1]);

        CliRun run = CliRun.of("run", int4.toString(), "--prompt-ids", "100,101,102", "--max-new-tokens", "5", "--json");
        assertEquals(0, run.code(), run.toString());
        // bench names the settings it measured, in the table and in --json
        CliRun bench = CliRun.of("bench", int4.toString(), "--prefill", "8", "--runs", "1", "--decode-steps", "2");
        assertEquals(0, bench.code(), bench.toString());
        String settings = "int4 block 64, accuracy level 4, lm_head/embeddings 8-bit, mamba in/out_proj 8-bit";
        assertTrue(bench.out().contains("quantized    " + settings), bench.out());
        bench = CliRun.of("bench", int4.toString(), "--prefill", "8", "--runs", "1", "--decode-steps", "2", "--json");
        assertEquals(settings, Surgery.JSON.readTree(bench.out()).get("quantization").asText());
    }
}
