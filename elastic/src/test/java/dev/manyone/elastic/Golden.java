package dev.manyone.elastic;

import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.core.json.JsonWriteFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Test inputs: the golden data beside the checkout and the Nemotron Nano V2 configs in the test resources. */
final class Golden {

    /** Reads what the Hub writes (bare Infinity) and writes it back the same way. */
    static final ObjectMapper LENIENT = JsonMapper.builder()
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .disable(JsonWriteFeature.WRITE_NAN_AS_STRINGS)
            .build();

    private Golden() {
    }

    /** The golden directory (system property {@code manyone.golden}, set by the parent pom). */
    static Path dir() {
        String p = System.getProperty("manyone.golden");
        Path d = Path.of(p != null ? p : "../../shared/golden");
        assertTrue(Files.isDirectory(d), "golden data not found at " + d.toAbsolutePath());
        return d;
    }

    static Path configPath(String model) {
        return dir().resolve(model).resolve("config.json");
    }

    static NemotronHConfig config(String model) {
        return NemotronHConfig.read(configPath(model));
    }

    static JsonNode rankings(String model) {
        try {
            return LENIENT.readTree(dir().resolve(model).resolve("rankings.json").toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A config from src/test/resources/dev/manyone/elastic. */
    static NemotronHConfig resourceConfig(String name) {
        return NemotronHConfig.parse(resourceText(name), Path.of(name));
    }

    static String resourceText(String name) {
        try (InputStream in = Golden.class.getResourceAsStream(name)) {
            assertNotNull(in, "test resource " + name);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The child layers of a golden spec, as the README describes: the kept parent layers in ascending order, widths
     * from {@code per_layer} keyed by parent index, full widths for layers it does not list.
     */
    static List<LayerSpec> childLayers(NemotronHConfig parent, JsonNode spec) {
        List<LayerSpec> out = new ArrayList<>();
        for (JsonNode idx : spec.get("layers")) {
            int i = idx.intValue();
            LayerSpec full = parent.layers().get(i);
            JsonNode per = spec.get("per_layer").path(String.valueOf(i));
            int j = out.size();
            out.add(switch (full.kind()) {
                case MAMBA -> LayerSpec.mamba(j, per.path("mamba_heads").asInt(full.mambaHeads()),
                        per.path("mamba_head_dim").asInt(full.mambaHeadDim()));
                case ATTENTION -> LayerSpec.attention(j, per.path("attention_heads").asInt(full.attentionHeads()));
                case MLP -> LayerSpec.mlp(j, per.path("ffn").asInt(full.ffn()));
                case MOE -> LayerSpec.moe(j, per.path("experts").asInt(full.experts()),
                        per.path("moe_ffn").asInt(full.moeFfn()), per.path("shared_ffn").asInt(full.sharedFfn()));
            });
        }
        return out;
    }
}
