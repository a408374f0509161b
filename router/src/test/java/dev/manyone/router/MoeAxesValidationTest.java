package dev.manyone.router;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.generate.Presets;
import dev.manyone.formats.FormatException;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * elastic.json MoE axes: accepted shapes, and impossible ones refused with the file and the axis named (golden README
 * child rules: experts a multiple of n_group, at least 2 per group, k within every layer's kept experts and, grouped,
 * within topk_group × experts/n_group).
 */
class MoeAxesValidationTest {
    private static final Path FILE = Path.of("parent", "elastic.json");
    /** moe-example: 16 experts, k 2, MoE layers 1, 4, 6. */
    private static final ModelDescription UNGROUPED = ModelDescription.of(Presets.load("moe-example"));
    /** The same with 4 router groups, topk_group 1, k 4. */
    private static final ModelDescription GROUPED = ModelDescription.of(Presets.load("moe-example").with(o -> {
        o.put("n_group", 4);
        o.put("topk_group", 1);
        o.put("num_experts_per_tok", 4);
    }));

    private static Map<Axis, AxisChoices> axes(ModelDescription parent, String axesJson) throws Exception {
        var root = new ObjectMapper().readTree("{\"format_version\": 1, \"axes\": " + axesJson + "}");
        return ElasticJson.parse(root, parent, FILE).axes();
    }

    private static void refused(ModelDescription parent, String axesJson, String... parts) {
        FormatException e = assertThrows(FormatException.class, () -> axes(parent, axesJson));
        assertTrue(e.getMessage().startsWith(FILE.toString() + ": "), e.getMessage());
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), "expected '" + p + "' in: " + e.getMessage());
        }
    }

    @Test
    void wholeModelAndPerLayerListsAreAccepted() throws Exception {
        Map<Axis, AxisChoices> a = axes(UNGROUPED, "{\"experts\": [8, 16], \"moe_ffn\": {\"1\": [64, 128], \"6\": [32, 128]},"
                + " \"shared_ffn\": [128, 256], \"experts_per_token\": [1, 2]}");
        assertArrayEquals(new int[] {8, 16}, a.get(Axis.EXPERTS).global());
        assertEquals(2, a.get(Axis.MOE_FFN).perLayer().size());
        assertArrayEquals(new int[] {1, 2}, a.get(Axis.EXPERTS_PER_TOKEN).global());
        assertEquals(8, axes(GROUPED, "{\"experts\": [8, 16], \"experts_per_token\": [1, 2]}").get(Axis.EXPERTS).global()[0]);
    }

    @Test
    void kAboveTheKeptExpertsIsRefused() {
        refused(UNGROUPED, "{\"experts\": [1, 16], \"experts_per_token\": [1, 2]}", "'axes.experts_per_token'",
                "choice 2 exceeds 'axes.experts[0]' = 1", "must not exceed the kept experts");
        // without the k axis, the parent's k (2) must fit
        refused(UNGROUPED, "{\"experts\": {\"4\": [1, 16]}}", "'axes.experts'", "the parent's num_experts_per_tok 2",
                "'axes.experts.4[0]' = 1");
    }

    @Test
    void groupedExpertsFollowTheGroupRules() {
        refused(GROUPED, "{\"experts\": [6, 16]}", "'axes.experts[0]'", "multiple of 4 (n_group, the router groups), found 6");
        refused(GROUPED, "{\"experts\": [4, 16], \"experts_per_token\": [1]}", "'axes.experts[0]'",
                "1 per group; at least 2 per group must remain");
        // 8 experts in 4 groups, topk_group 1: 2 eligible, so k 3 cannot be met; nor the parent's k 4 without a k axis
        refused(GROUPED, "{\"experts\": [8, 16], \"experts_per_token\": [2, 3]}", "'axes.experts_per_token'",
                "topk_group × experts/n_group = 1 × 8/4 = 2");
        refused(GROUPED, "{\"experts\": [8, 16]}", "'axes.experts'", "the parent's num_experts_per_tok 4",
                "topk_group × experts/n_group = 1 × 8/4 = 2");
    }

    @Test
    void kIsModelWideAndNeedsAnMoeParent() {
        refused(UNGROUPED, "{\"experts_per_token\": {\"1\": [1, 2]}}", "'axes.experts_per_token'", "expected an array");
        refused(UNGROUPED, "{\"experts_per_token\": [1, 3]}", "'axes.experts_per_token[1]'", "more than the parent's 2");
        refused(ModelDescription.of(Presets.load("tiny")), "{\"moe_ffn\": [8]}", "'axes.moe_ffn'", "the parent has no MoE layer");
        refused(UNGROUPED, "{\"shared_ffn\": {\"0\": [128]}}", "'axes.shared_ffn.0'", "layer 0 is a Mamba2 layer");
    }
}
