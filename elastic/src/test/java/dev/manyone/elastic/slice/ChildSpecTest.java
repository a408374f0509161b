package dev.manyone.elastic.slice;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.NemotronHConfig;
import dev.manyone.formats.FormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Impossible specs are refused before anything is written, with the reason and the file. */
class ChildSpecTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final Path FILE = Path.of("child.json");

    static ModelDescription tiny() {
        return ModelDescription.of(NemotronHConfig.read(GoldenChildrenTest.golden().resolve("tiny-hybrid/config.json")));
    }

    static JsonNode json(String text) throws Exception {
        return JSON.readTree(text.replace('\'', '"'));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "{'hidden': 65}                                           | the parent has 64 hidden channels, the spec asks for 65",
        "{'hidden': 0}                                            | expected a positive integer, found 0",
        "{'hidden': 'wide'}                                       | 'hidden': expected a positive integer",
        "{'layers': [0, 1, 10]}                                   | layer 10 does not exist; the parent has layers 0..9",
        "{'layers': [0, 1, 1]}                                    | layer 1 is listed twice",
        "{'layers': []}                                           | every layer is removed",
        "{'layers': [0, 1], 'per_layer': {'2': {'ffn': 8}}}       | layer 2 is given widths but is not in 'layers'",
        "{'per_layer': {'0': {'mamba_heads': 7}}}                 | expected a multiple of n_groups = 2",
        "{'per_layer': {'0': {'mamba_heads': 10}}}                | the parent has 8, the spec asks for 10",
        "{'per_layer': {'0': {'mamba_head_dim': 17}}}             | the parent has 16, the spec asks for 17",
        "{'per_layer': {'3': {'attention_heads': 3}}}             | multiple of the 2 KV heads",
        "{'per_layer': {'1': {'ffn': 193}}}                       | the parent has 192, the spec asks for 193",
        "{'per_layer': {'1': {'ffn': 0}}}                         | expected a positive integer, found 0",
        "{'per_layer': {'1': {'mamba_heads': 2}}}                 | layer 1 is an MLP layer; mamba widths do not apply",
        "{'per_layer': {'0': {'ffn': 2}}}                         | layer 0 is a Mamba2 layer; ffn does not apply",
        "{'per_layer': {'0': {'heads': 2}}}                       | unknown width 'heads'",
        "{'per_layer': {'x': {'ffn': 2}}}                         | expected layer indices as keys, found 'x'",
        "{'width': 3}                                             | unknown field 'width'",
    })
    void impossibleSpecsAreRefused(String spec, String message) throws Exception {
        ModelDescription parent = tiny();
        FormatException e = assertThrows(FormatException.class,
                () -> ChildSpec.parse(json(spec), FILE).resolve(parent, FILE));
        assertTrue(e.getMessage().contains(message.replace('\'', '\'')), e.getMessage());
        assertTrue(e.getMessage().startsWith("child.json: "), e.getMessage());
    }

    @Test
    void unlistedLayersKeepFullWidths() throws Exception {
        List<LayerSpec> layers = ChildSpec.parse(json("{'layers': [0, 1, 3], 'per_layer': {'1': {'ffn': 100}}}"), FILE)
                .resolve(tiny(), FILE);
        assertEquals(List.of(LayerSpec.mamba(0, 8, 16), LayerSpec.mlp(1, 100), LayerSpec.attention(3, 4)), layers);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "{'hidden': [0, 1]}                                  | 'rankings.hidden': expected a permutation of 64 indices, found 2",
        "{'layers': [0, 1, 2, 3, 4, 5, 6, 7, 8, 8]}          | 'rankings.layers': index 8 appears twice",
        "{'layers': [0, 1, 2, 3, 4, 5, 6, 7, 8, 10]}         | 'rankings.layers[9]': expected an index in 0..9, found 10",
        "{'per_layer': {'1': {'mamba_heads': [0]}}}          | layer 1 is an MLP layer; expected ffn",
        "{'per_layer': {'12': {'ffn': [0]}}}                 | layer 12 does not exist",
    })
    void badRankingsAreRefused(String rankings, String message) throws Exception {
        FormatException e = assertThrows(FormatException.class, () -> Rankings.parse(json(rankings), tiny(), FILE));
        assertTrue(e.getMessage().contains(message), e.getMessage());
    }
}
