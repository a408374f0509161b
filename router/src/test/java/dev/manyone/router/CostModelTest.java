package dev.manyone.router;

import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.generate.Presets;
import dev.manyone.elastic.slice.Rankings;
import dev.manyone.formats.DType;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The search's closed-form cost (total and active parameters, memory) agrees with ModelDescription of the planned
 * child, on random configurations of dense and MoE presets (the MoE default space includes experts, expert FFN,
 * shared FFN and k).
 */
class CostModelTest {
    @Test
    void closedFormsEqualModelDescription() {
        for (String preset : new String[] {"tiny", "example", "nano-v2-9b", "nano-v2-12b", "moe-example", "nemotron-3-nano-30b-a3b"}) {
            ModelDescription parent = ModelDescription.of(Presets.load(preset));
            ChoiceSpace space = new ChoiceSpace(parent, Rankings.identity(parent), Candidates.defaults(parent));
            CostModel model = new CostModel(parent);
            SplittableRandom r = new SplittableRandom(preset.hashCode());
            for (int trial = 0; trial < 25; trial++) {
                int[] s = new int[space.units().size()];
                for (int u = 0; u < s.length; u++) {
                    s[u] = r.nextInt(space.units().get(u).choices().length);
                }
                Configuration c = space.configuration(s);
                int batch = 1 + r.nextInt(8);
                long context = 1 + r.nextInt(200_000);
                Cost exact = CostModel.exact(parent, space.rankings(), c, DType.BF16, DType.F32, batch, context);
                assertEquals(exact.params(), model.params(c), preset + " " + c);
                assertEquals(exact.activeParams(), model.active(c), preset + " " + c);
                assertEquals(exact.memory(), model.memory(c, DType.BF16, DType.F32, batch, context), preset + " " + c);
            }
            // the top of the default space is the parent itself
            assertEquals(parent.params().total(), model.params(space.configuration(space.top())));
            assertEquals(parent.params().active(), model.active(space.configuration(space.top())));
        }
    }
}
