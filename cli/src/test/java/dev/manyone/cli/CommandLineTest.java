package dev.manyone.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CommandLineTest {

    @Test
    void helpOnEveryCommand() {
        for (List<String> args : List.of(List.of("--help"), List.of("inspect", "--help"), List.of("generate", "--help"),
                List.of("help", "inspect"))) {
            CliRun run = CliRun.of(args.toArray(String[]::new));
            assertEquals(0, run.code(), run.toString());
            assertTrue(run.out().contains("Usage:"), run.toString());
        }
        assertTrue(CliRun.of("--help").out().contains("Exit codes"));
        assertTrue(CliRun.of("generate", "--help").out().contains("nano-v2-12b"));
    }

    /**
     * picocli formats every help line with String.format; a bare '%' (write '%%') makes it print a warning on stderr and
     * show the raw text. Every command's help must render without one.
     */
    @Test
    void everyHelpRendersWithoutPicocliWarnings() {
        java.io.PrintStream saved = System.err;
        java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
        List<String> names = new java.util.ArrayList<>(new picocli.CommandLine(new Main()).getSubcommands().keySet());
        names.remove("help");
        System.setErr(new java.io.PrintStream(captured, true, java.nio.charset.StandardCharsets.UTF_8));
        try {
            for (String name : names) {
                CliRun run = CliRun.of(name, "--help");
                assertEquals(0, run.code(), run.toString());
                assertTrue(run.out().contains("Usage: manyone " + name), run.toString());
            }
        } finally {
            System.setErr(saved);
        }
        String err = captured.toString(java.nio.charset.StandardCharsets.UTF_8);
        assertFalse(err.contains("picocli WARN"), err);
        assertTrue(names.size() >= 15, names.toString());
    }

    @Test
    void version() {
        CliRun run = CliRun.of("--version");
        assertEquals(0, run.code());
        assertTrue(run.out().matches("(?s)manyone \\d+\\.\\d+\\.\\d+.*"), run.out());
    }

    @Test
    void unknownOptionIsBadInput() {
        CliRun run = CliRun.of("inspect", "--frobnicate", "x");
        assertEquals(2, run.code());
        assertTrue(run.err().contains("--frobnicate"), run.toString());
    }

    @Test
    void generateIsDeterministicAndSeeded(@TempDir Path tmp) throws Exception {
        Path a = tmp.resolve("a");
        Path b = tmp.resolve("b");
        Path c = tmp.resolve("c");
        assertEquals(0, CliRun.of("generate", "--preset", "tiny", "-o", a.toString(), "--threads", "1").code());
        assertEquals(0, CliRun.of("generate", "--preset", "tiny", "-o", b.toString(), "--threads", "2").code());
        assertEquals(0, CliRun.of("generate", "--preset", "tiny", "-o", c.toString(), "--seed", "7").code());
        for (String f : List.of("config.json", "model.safetensors", "generation_config.json")) {
            assertArrayEquals(Files.readAllBytes(a.resolve(f)), Files.readAllBytes(b.resolve(f)), f);
        }
        assertFalse(java.util.Arrays.equals(Files.readAllBytes(a.resolve("model.safetensors")),
                Files.readAllBytes(c.resolve("model.safetensors"))));
    }

    @Test
    void generateRefusesToOverwriteWithoutForce(@TempDir Path tmp) {
        Path a = tmp.resolve("a");
        assertEquals(0, CliRun.of("generate", "--preset", "tiny", "-o", a.toString()).code());
        CliRun again = CliRun.of("generate", "--preset", "tiny", "-o", a.toString());
        assertEquals(2, again.code(), again.toString());
        assertTrue(again.err().contains("--force"), again.toString());
        assertEquals(0, CliRun.of("generate", "--preset", "tiny", "-o", a.toString(), "--force").code());
    }

    @Test
    void generatedWeightsHaveTheDocumentedMagnitudes(@TempDir Path tmp) throws Exception {
        Path a = tmp.resolve("a");
        assertEquals(0, CliRun.of("generate", "--preset", "example", "-o", a.toString()).code());
        var header = Surgery.header(a.resolve("model.safetensors"));
        byte[] data = Surgery.data(a.resolve("model.safetensors"));
        // embeddings N(0, 0.02²): sample std within 5% (2048 × 256 samples)
        assertEquals(0.02, std(header, data, "backbone.embeddings.weight", 0, Long.MAX_VALUE), 0.001);
        // norm weights 1 + N(0, 0.1²): mean 1
        assertEquals(1.0, mean(header, data, "backbone.layers.0.norm.weight"), 0.03);
        // in_proj: 1/sqrt(256) for z|x|B|C rows, 0.1× that for the 16 dt rows (d_inner 512, G·N 64)
        long h = 256;
        long dtFrom = (2 * 512 + 2 * 64) * h;
        assertEquals(1 / 16.0, std(header, data, "backbone.layers.0.mixer.in_proj.weight", 0, dtFrom), 0.003);
        assertEquals(0.1 / 16.0, std(header, data, "backbone.layers.0.mixer.in_proj.weight", dtFrom, Long.MAX_VALUE), 0.0005);
    }

    private static double[] values(com.fasterxml.jackson.databind.JsonNode header, byte[] data, String name) {
        var t = header.get(name);
        int begin = t.get("data_offsets").get(0).asInt();
        int end = t.get("data_offsets").get(1).asInt();
        double[] v = new double[(end - begin) / 2];
        for (int i = 0; i < v.length; i++) {
            int bits = (data[begin + 2 * i] & 0xFF) | (data[begin + 2 * i + 1] & 0xFF) << 8;
            v[i] = Float.intBitsToFloat(bits << 16); // BF16 is the top half of an F32
        }
        return v;
    }

    private static double std(com.fasterxml.jackson.databind.JsonNode header, byte[] data, String name, long from, long to) {
        double[] v = values(header, data, name);
        double s = 0;
        double s2 = 0;
        int n = 0;
        for (int i = (int) from; i < Math.min(v.length, to); i++, n++) {
            s += v[i];
            s2 += v[i] * v[i];
        }
        return Math.sqrt(s2 / n - (s / n) * (s / n));
    }

    private static double mean(com.fasterxml.jackson.databind.JsonNode header, byte[] data, String name) {
        double[] v = values(header, data, name);
        return java.util.Arrays.stream(v).average().orElseThrow();
    }
}
