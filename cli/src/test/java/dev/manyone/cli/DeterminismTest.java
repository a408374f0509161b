package dev.manyone.cli;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Every command that writes files writes the same bytes when run twice on the same input: {@code generate
 * --elastic}, {@code extract --budget} to Hugging Face (two children in one pass), {@code extract --format onnx},
 * {@code export} (fp16, portable Mamba) and {@code eval --dump-logits}. (Plain {@code generate}, {@code extract
 * --spec} to HF and {@code pack} are covered in CommandLineTest, ExtractCommandTest and PackCommandTest.)
 */
class DeterminismTest {
    @TempDir
    static Path tmp;
    static Path parent;

    @BeforeAll
    static void elasticParent() {
        parent = tmp.resolve("parent");
        ok("generate", "--preset", "tiny", "--elastic", "-o", parent.toString());
    }

    static void ok(String... args) {
        CliRun run = CliRun.of(args);
        assertEquals(0, run.code(), String.join(" ", args) + "\n" + run);
    }

    /** Runs {@code args(out)} for two fresh outputs and compares the two trees: same names, same bytes. */
    static void twice(String name, Function<Path, String[]> args) throws IOException {
        Path a = tmp.resolve(name + "-a");
        Path b = tmp.resolve(name + "-b");
        if (name.contains(".")) {
            a = tmp.resolve(name.replace(".", "-a."));
            b = tmp.resolve(name.replace(".", "-b."));
        }
        ok(args.apply(a));
        ok(args.apply(b));
        assertSameTree(a, b);
    }

    static void assertSameTree(Path a, Path b) throws IOException {
        List<Path> fa = files(a);
        assertEquals(fa, files(b), "file lists of " + a + " and " + b);
        assertEquals(false, fa.isEmpty(), "no files in " + a);
        for (Path f : fa) {
            assertEquals(-1L, Files.mismatch(a.resolve(f), b.resolve(f)), "bytes of " + f + " differ");
        }
    }

    static List<Path> files(Path root) throws IOException {
        if (Files.isRegularFile(root)) {
            return List.of(Path.of(""));
        }
        try (Stream<Path> s = Files.walk(root)) {
            List<Path> out = new ArrayList<>(s.filter(Files::isRegularFile).map(root::relativize).sorted().toList());
            return out;
        }
    }

    @Test
    void generateElastic() throws IOException {
        twice("generate", o -> new String[] {"generate", "--preset", "tiny", "--elastic", "-o", o.toString(), "--threads", "2"});
        assertSameTree(parent, tmp.resolve("generate-a"));
    }

    @Test
    void extractBudgetsToHuggingFace() throws IOException {
        twice("budgets-hf", o -> new String[] {"extract", parent.toString(), "--budget", "small,medium", "-o", o.toString(),
                "--shard-size", "200kB"});
    }

    @Test
    void extractToOnnx() throws IOException {
        twice("extract-onnx", o -> new String[] {"extract", parent.toString(), "--budget", "medium", "--format", "hf,onnx",
                "-o", o.toString()});
    }

    @Test
    void exportFp16Portable() throws IOException {
        twice("export", o -> new String[] {"export", parent.toString(), "--dtype", "fp16", "--mamba", "portable",
                "-o", o.toString()});
    }

    @Test
    void evalDumpLogits() throws IOException {
        Path onnx = tmp.resolve("eval-model");
        ok("export", parent.toString(), "-o", onnx.toString());
        Path tokens = tmp.resolve("tokens.jsonl");
        Files.writeString(tokens, "[1, 2, 3, 4, 5, 6]\n[7, 8, 9, 10, 11, 12]\n");
        twice("logits.safetensors", o -> new String[] {"eval", onnx.toString(), "--tokens", tokens.toString(), "--prefill", "2",
                "--dump-logits", o.toString()});
    }
}
