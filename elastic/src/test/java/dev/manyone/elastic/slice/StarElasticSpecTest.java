package dev.manyone.elastic.slice;

import dev.manyone.elastic.LayerKind;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.ParamCount;
import dev.manyone.elastic.generate.Presets;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The Star Elastic style children of the Nemotron 3 Nano preset (test-data/specs), planned from the config alone:
 * their total and active parameters are the published figures of issue 14 (23B-style 23.10B / 2.78B, 12B-style
 * 12.01B / 2.01B, rounded to 10M), and they keep all 52 layers and all 128 experts.
 */
class StarElasticSpecTest {
    static final Path SPECS = Path.of("..", "test-data", "specs", "nemotron-3-nano-30b-a3b-children.json");

    @ParameterizedTest
    @CsvSource({"23B-style, 2176, 1664, 23.10, 2.78", "12B-style, 1856, 960, 12.01, 2.01"})
    void widthOnlyChildrenHaveThePublishedCounts(String child, int hidden, int moeFfn, double totalB, double activeB) {
        ModelDescription parent = ModelDescription.of(Presets.load("nemotron-3-nano-30b-a3b"));
        SlicePlan plan = SlicePlan.of(parent, SpecFiles.readSpec(SPECS, child), Rankings.identity(parent), SPECS);
        ModelDescription c = ModelDescription.of(plan.config());
        ParamCount p = c.params();
        assertEquals(totalB, p.total() / 1e9, 0.005, "total");
        assertEquals(activeB, p.active() / 1e9, 0.005, "active");
        assertEquals(hidden, c.hidden());
        assertEquals(52, c.layers().size());
        c.layers().stream().filter(l -> l.kind() == LayerKind.MOE).forEach(l -> {
            assertEquals(128, l.experts());
            assertEquals(moeFfn, l.moeFfn());
            assertEquals(3712, l.sharedFfn());
        });
        assertEquals(plan.params(), p.total(), "the plan's tensors add up to the child's description");
    }
}
