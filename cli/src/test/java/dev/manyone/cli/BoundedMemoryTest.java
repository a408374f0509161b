package dev.manyone.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.manyone.elastic.NemotronHConfig;
import dev.manyone.elastic.generate.ModelGenerator;
import dev.manyone.elastic.generate.Presets;
import dev.manyone.formats.Progress;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The scale path at CI size: a ~210 MB BF16 parent (105M parameters), two children in one pass to Hugging Face
 * format and one to ONNX fp16, in a separate JVM limited to a 256 MiB heap. Code that holds a whole model (or even
 * a whole shard as floats) in the heap fails here with OutOfMemoryError.
 */
class BoundedMemoryTest {

    @Test
    void extractionAndExportRunIn256MiBOfHeap(@TempDir Path tmp) throws Exception {
        NemotronHConfig config = Presets.load("tiny").with(o -> {
            o.put("vocab_size", 16000);
            o.put("hidden_size", 1024);
            o.put("intermediate_size", 3072);
            o.put("hybrid_override_pattern", "M-M*-M-M*-M-");
            o.put("num_hidden_layers", 12);
            o.put("num_attention_heads", 8);
            o.put("num_key_value_heads", 2);
            o.put("head_dim", 128);
            o.put("mamba_num_heads", 32);
            o.put("mamba_head_dim", 64);
            o.put("n_groups", 8);
            o.put("ssm_state_size", 64);
        });
        Path parent = tmp.resolve("parent");
        new ModelGenerator(config, 3, 64_000_000, 2).write(parent, false, Progress.NONE); // 4 shards of ≤ 64 MB
        long parentBytes = 0;
        try (var files = Files.list(parent)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                parentBytes += Files.size(f);
            }
        }
        assertTrue(parentBytes > 200_000_000, "parent of " + parentBytes + " bytes");
        Path spec = tmp.resolve("children.json");
        Files.writeString(spec, """
                {"children": {
                  "big":   {"spec": {"hidden": 896, "layers": [0,1,2,3,4,5,6,7,8,9,10,11],
                                     "per_layer": {"1": {"ffn": 2560}, "4": {"ffn": 2560}, "6": {"ffn": 2560}, "9": {"ffn": 2560}, "11": {"ffn": 2560}}}},
                  "small": {"spec": {"hidden": 768, "layers": [0,1,2,3,4,5,7,8,9,10],
                                     "per_layer": {"0": {"mamba_heads": 24}, "2": {"mamba_heads": 24}, "1": {"ffn": 2048}, "4": {"ffn": 2048},
                                                   "9": {"ffn": 2048}, "3": {"attention_heads": 4}}}}}}
                """);
        Path out = tmp.resolve("children");
        Fork hf = fork(tmp, "extract", parent.toString(), "--spec", spec.toString(), "--child", "big,small", "-o", out.toString(),
                "--json", "--shard-size", "50MB");
        assertEquals(0, hf.code, hf.output);
        JsonNode r = Surgery.JSON.readTree(hf.output.substring(hf.output.indexOf('{')));
        assertEquals(2, r.get("children").size());
        Fork onnx = fork(tmp, "extract", parent.toString(), "--spec", spec.toString(), "--child", "small", "--format", "onnx",
                "--dtype", "fp16", "-o", tmp.resolve("small-onnx").toString());
        assertEquals(0, onnx.code, onnx.output);
        for (String c : new String[] {"big", "small"}) {
            CliRun inspect = CliRun.of("inspect", out.resolve(c).toString(), "--json");
            assertEquals(0, inspect.code(), inspect.toString());
        }
        assertTrue(Files.size(tmp.resolve("small-onnx").resolve("model.onnx.data")) > 50_000_000);
    }

    record Fork(int code, String output) {
    }

    /** Runs the CLI in a fresh JVM with -Xmx256m (the test's own classpath). */
    static Fork fork(Path tmp, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx256m");
        cmd.add("-XX:MaxDirectMemorySize=256m");
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Main.class.getName());
        cmd.addAll(List.of(args));
        Path log = Files.createTempFile(tmp, "fork", ".log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(10, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("forked manyone did not finish");
        }
        return new Fork(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
    }
}
