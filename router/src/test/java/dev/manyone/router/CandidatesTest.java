package dev.manyone.router;

import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.NemotronHConfig;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The untrained search's candidate widths: on an NVFP4 parent every axis that slices input columns keeps whole
 * 16-column blocks (golden README: "Input columns can only be kept in whole aligned blocks of 16"), so a budget-driven
 * child of such a parent is one extract can write.
 */
class CandidatesTest {
    private static final List<Axis> COLUMN_AXES = List.of(Axis.HIDDEN, Axis.MAMBA_HEAD_DIM, Axis.FFN, Axis.MOE_FFN,
            Axis.SHARED_FFN);

    private static ModelDescription golden(String name) {
        return ModelDescription.of(NemotronHConfig.read(Parents.golden().resolve(name).resolve("config.json")));
    }

    /** Every candidate width of the column-slicing axes. */
    private static List<Integer> columnWidths(ModelDescription parent) {
        List<Integer> out = new ArrayList<>();
        for (Map.Entry<Axis, AxisChoices> e : Candidates.defaults(parent).entrySet()) {
            if (!COLUMN_AXES.contains(e.getKey())) {
                continue;
            }
            AxisChoices c = e.getValue();
            if (c.global() != null) {
                for (int w : c.global()) {
                    out.add(w);
                }
            } else {
                c.perLayer().values().forEach(ws -> {
                    for (int w : ws) {
                        out.add(w);
                    }
                });
            }
        }
        return out;
    }

    @Test
    void nvfp4ParentsGetWholeBlockWidths() {
        assertEquals(16, Candidates.columnBlock(golden("tiny-moe-nvfp4")));
        List<Integer> nvfp4 = columnWidths(golden("tiny-moe-nvfp4"));
        assertFalse(nvfp4.isEmpty());
        assertTrue(nvfp4.stream().allMatch(w -> w % 16 == 0), nvfp4.toString());
        // the same model in BF16 and FP8 (per-tensor scales) slices at any width, and its candidates use that
        for (String plain : new String[] {"tiny-moe", "tiny-moe-fp8"}) {
            assertEquals(1, Candidates.columnBlock(golden(plain)));
            List<Integer> widths = columnWidths(golden(plain));
            assertTrue(widths.stream().anyMatch(w -> w % 16 != 0), plain + ": " + widths);
            assertTrue(widths.containsAll(nvfp4), plain + " offers every NVFP4 width too: " + widths);
        }
    }
}
