package dev.manyone.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.manyone.formats.Safetensors;
import dev.manyone.formats.TensorInfo;
import dev.manyone.formats.TensorSource;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code extract} of the golden quantized parents from the command line (issue 15): the HF child is the golden
 * {@code prefix} child (config, params, every stored tensor's SHA-256) with its own hf_quant_config.json, the ONNX
 * child is a float model, and the HF child exports and validates.
 */
class ExtractQuantizedCommandTest {

    @ParameterizedTest
    @ValueSource(strings = {"tiny-moe-fp8", "tiny-moe-nvfp4"})
    void extractsTheGoldenPrefixChild(String model, @TempDir Path tmp) throws Exception {
        Path parent = CliRun.golden().resolve(model);
        Path rankings = parent.resolve("rankings.json");
        JsonNode expected = Surgery.JSON.readTree(rankings.toFile()).get("children").get("prefix");
        Path out = tmp.resolve("child");
        CliRun r = CliRun.of("extract", parent.toString(), "--spec", rankings.toString(), "--child", "prefix",
                "--format", "hf,onnx", "-o", out.toString(), "--json");
        assertEquals(0, r.code(), r.toString());
        JsonNode o = Surgery.JSON.readTree(r.out());
        assertEquals(expected.get("params").asLong(), o.get("params").asLong());
        assertEquals(expected.get("tensor_sha256").size(), o.get("tensors").asInt());
        Path hf = out.resolve("hf");
        assertEquals(expected.get("config"), Surgery.JSON.readTree(hf.resolve("config.json").toFile()));
        assertEquals(Files.readString(parent.resolve("hf_quant_config.json")), Files.readString(hf.resolve("hf_quant_config.json")));
        Map<String, String> want = new TreeMap<>();
        expected.get("tensor_sha256").fields().forEachRemaining(e -> want.put(e.getKey(), e.getValue().asText()));
        Map<String, String> got = new TreeMap<>();
        try (TensorSource t = Safetensors.open(hf)) {
            for (TensorInfo info : t.tensors()) {
                MessageDigest sha = MessageDigest.getInstance("SHA-256");
                sha.update(t.bytes(info));
                got.put(info.name(), HexFormat.of().formatHex(sha.digest()));
            }
        }
        assertEquals(want, got);
        Path onnx = out.resolve("onnx");
        assertTrue(Files.exists(onnx.resolve("model.onnx")));
        assertFalse(Surgery.JSON.readTree(onnx.resolve("config.json").toFile()).has("quantization_config"));
        assertTrue(Files.notExists(onnx.resolve("hf_quant_config.json")));

        CliRun inspect = CliRun.of("inspect", hf.toString(), "--json");
        assertEquals(0, inspect.code(), inspect.toString());
        assertEquals(expected.get("params").asLong(), Surgery.JSON.readTree(inspect.out()).get("params").get("total").asLong());
        CliRun export = CliRun.of("export", hf.toString(), "-o", tmp.resolve("exported").toString());
        assertEquals(0, export.code(), export.toString());
    }

    /**
     * A parameter target on the NVFP4 parent: the untrained search offers only whole-block widths there, so the child it
     * picks is one extract can slice (it used to pick a 14-channel Mamba head_dim and be refused with the block message).
     */
    @org.junit.jupiter.api.Test
    void parameterTargetOnAnNvfp4ParentKeepsWholeBlocks(@TempDir Path tmp) throws Exception {
        Path parent = CliRun.golden().resolve("tiny-moe-nvfp4");
        Path out = tmp.resolve("child");
        CliRun r = CliRun.of("extract", parent.toString(), "--params", "200000", "-o", out.toString(), "--json");
        assertEquals(0, r.code(), r.toString());
        assertTrue(Surgery.JSON.readTree(r.out()).get("params").asLong() <= 200_000, r.out());
        JsonNode config = Surgery.JSON.readTree(out.resolve("config.json").toFile());
        for (String width : new String[] {"hidden_size", "mamba_head_dim", "intermediate_size", "moe_intermediate_size",
                "moe_shared_expert_intermediate_size"}) {
            if (config.has(width)) {
                assertEquals(0, config.get(width).asInt() % 16, width + " " + config.get(width));
            }
        }
        assertTrue(Files.exists(out.resolve("hf_quant_config.json")), "the child stays NVFP4");
    }
}
