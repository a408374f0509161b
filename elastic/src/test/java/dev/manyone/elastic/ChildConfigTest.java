package dev.manyone.elastic;

import com.fasterxml.jackson.databind.JsonNode;
import dev.manyone.formats.FormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link NemotronHConfig#withLayers}: the golden README's "Child config" rule. */
class ChildConfigTest {

    @Test
    void heterogeneousChild() throws Exception {
        NemotronHConfig tiny = Golden.config("tiny-hybrid").with(o -> o.put("manyone_unknown", "kept"));
        NemotronHConfig child = tiny.withLayers(48, List.of(
                LayerSpec.mamba(0, 8, 16),
                LayerSpec.mlp(1, 100),
                LayerSpec.mamba(2, 4, 12),
                LayerSpec.attention(3, 2),
                LayerSpec.mlp(4, 160)));
        JsonNode j = child.json();
        assertEquals(48, j.get("hidden_size").intValue());
        assertEquals(5, j.get("num_hidden_layers").intValue());
        assertEquals("M-M*-", j.get("hybrid_override_pattern").asText());
        assertEquals(8, j.get("mamba_num_heads").intValue(), "largest mamba layer");
        assertEquals(16, j.get("mamba_head_dim").intValue());
        assertEquals(2, j.get("num_attention_heads").intValue());
        assertEquals(160, j.get("intermediate_size").intValue());
        assertEquals("kept", j.get("manyone_unknown").asText());
        assertEquals(16, j.get("head_dim").intValue());
        assertEquals(Golden.LENIENT.readTree("""
                [{"block_type": "mamba", "mamba_num_heads": 8, "mamba_head_dim": 16},
                 {"block_type": "mlp", "intermediate_size": 100},
                 {"block_type": "mamba", "mamba_num_heads": 4, "mamba_head_dim": 12},
                 {"block_type": "attention", "num_attention_heads": 2},
                 {"block_type": "mlp", "intermediate_size": 160}]"""), j.get("layer_configs"));
        // parent field order, layer_configs appended
        List<String> expectedOrder = new ArrayList<>(NemotronHConfigTest.fieldNames(tiny.json()));
        expectedOrder.add("layer_configs");
        assertEquals(expectedOrder, NemotronHConfigTest.fieldNames(j));
        // and the child reads back its own layers
        assertEquals(List.of(LayerSpec.mamba(0, 8, 16), LayerSpec.mlp(1, 100), LayerSpec.mamba(2, 4, 12),
                LayerSpec.attention(3, 2), LayerSpec.mlp(4, 160)), child.layers());
        assertEquals(child, NemotronHConfig.parse(child.toJson(), null));
    }

    @Test
    void homogeneousChildHasNoLayerConfigs() {
        NemotronHConfig tiny = Golden.config("tiny-hybrid");
        // parent indices are given; the child renumbers them
        NemotronHConfig child = tiny.withLayers(32, List.of(
                LayerSpec.mamba(0, 6, 8), LayerSpec.mlp(1, 96), LayerSpec.attention(3, 2), LayerSpec.mamba(7, 6, 8)));
        JsonNode j = child.json();
        assertFalse(j.has("layer_configs"));
        assertEquals("M-*M", child.hybridOverridePattern());
        assertEquals(4, child.numHiddenLayers());
        assertEquals(32, child.hiddenSize());
        assertEquals(6, child.mambaNumHeads());
        assertEquals(8, child.mambaHeadDim());
        assertEquals(2, child.numAttentionHeads());
        assertEquals(96, child.intermediateSize());
        assertEquals(List.of(LayerSpec.mamba(0, 6, 8), LayerSpec.mlp(1, 96), LayerSpec.attention(2, 2),
                LayerSpec.mamba(3, 6, 8)), child.layers());

        // a heterogeneous parent whose child is homogeneous loses its layer_configs
        NemotronHConfig hetero = tiny.withLayers(64, List.of(LayerSpec.mamba(0, 8, 16), LayerSpec.mamba(1, 4, 16)));
        assertTrue(hetero.json().has("layer_configs"));
        NemotronHConfig homo = hetero.withLayers(64, List.of(LayerSpec.mamba(0, 4, 16)));
        assertFalse(homo.json().has("layer_configs"));
        assertEquals(4, homo.mambaNumHeads());
    }

    @Test
    void kindsTheChildLacksKeepTheParentScalars() {
        NemotronHConfig tiny = Golden.config("tiny-hybrid");
        NemotronHConfig child = tiny.withLayers(64, List.of(LayerSpec.mamba(0, 4, 16)));
        assertEquals("M", child.hybridOverridePattern());
        assertEquals(4, child.numAttentionHeads());
        assertEquals(192, child.intermediateSize());
        assertFalse(child.json().has("layer_configs"));
    }

    @Test
    void defaultHeadDimIsMadeExplicitWhenHiddenChanges() {
        NemotronHConfig parent = Golden.config("tiny-hybrid").with(o -> o.remove("head_dim"));
        assertEquals(16, parent.headDim());
        NemotronHConfig same = parent.withLayers(64, parent.layers());
        assertFalse(same.json().has("head_dim"), "64 / 4 is still 16");
        assertEquals(parent, same);
        NemotronHConfig child = parent.withLayers(48, parent.layers());
        assertEquals(16, child.json().get("head_dim").intValue());
        assertEquals(16, child.headDim());
    }

    @Test
    void invalidChildren() {
        NemotronHConfig tiny = Golden.config("tiny-hybrid");
        FormatException e = assertThrows(FormatException.class,
                () -> tiny.withLayers(64, List.of(LayerSpec.mamba(0, 8, 16), LayerSpec.mamba(1, 5, 16))));
        assertTrue(e.getMessage().contains("\"layer_configs[1].mamba_num_heads\": expected a multiple of n_groups (2),"
                + " found 5"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> tiny.withLayers(0, tiny.layers()));
        assertThrows(IllegalArgumentException.class, () -> tiny.withLayers(64, List.of()));
        assertThrows(IllegalArgumentException.class, () -> new LayerSpec(0, LayerKind.MLP, 2, 0, 0, 10));
        assertThrows(IllegalArgumentException.class, () -> LayerSpec.attention(0, 0));
    }

    /** The expected child configs of the golden rankings.json, built from each child's spec. */
    @ParameterizedTest
    @CsvSource({"tiny-hybrid, 6B-style", "tiny-hybrid, 9B-style", "tiny-hybrid, 12B-style",
            "trained-hybrid, 75pct", "trained-hybrid, 50pct"})
    void goldenChildConfigs(String model, String name) {
        NemotronHConfig parent = Golden.config(model);
        JsonNode child = Golden.rankings(model).get("children").get(name);
        NemotronHConfig derived = parent.withLayers(child.get("spec").get("hidden").intValue(),
                Golden.childLayers(parent, child.get("spec")));

        JsonNode expected = child.get("config");
        assertEquals(expected, derived.json());
        assertEquals(NemotronHConfigTest.fieldNames(expected), NemotronHConfigTest.fieldNames(derived.json()));
        assertEquals(expected, NemotronHConfig.parse(derived.toJson(), null).json());
        assertEquals(child.get("params").longValue(), ModelDescription.of(derived).params().total());
        if (name.equals("12B-style")) {
            assertEquals(parent.toJson(), derived.toJson(), "the identity child is the parent");
        }
    }
}
