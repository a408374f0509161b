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

    /** Whole-block rounding keeps the axes' floors: an 80-channel Mamba head (Nano V2 12B) keeps 48, 64 or 80, not 32. */
    @Test
    void wholeBlockWidthsStayAboveTheFloors(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws Exception {
        // tiny-moe-nvfp4 with Nano V2 12B's 80-channel Mamba heads and a 200-wide hidden
        String json = java.nio.file.Files.readString(Parents.golden().resolve("tiny-moe-nvfp4").resolve("config.json"))
                .replaceFirst("\"mamba_head_dim\"\\s*:\\s*16", "\"mamba_head_dim\": 80")
                .replaceFirst("\"hidden_size\"\\s*:\\s*64", "\"hidden_size\": 200");
        java.nio.file.Path config = tmp.resolve("config.json");
        java.nio.file.Files.writeString(config, json);
        ModelDescription nvfp4 = ModelDescription.of(NemotronHConfig.read(config));
        assertEquals(80, nvfp4.layers().get(0).mambaHeadDim());
        assertEquals(200, nvfp4.hidden());
        assertEquals(List.of(48, 64, 80), java.util.Arrays.stream(
                Candidates.defaults(nvfp4).get(Axis.MAMBA_HEAD_DIM).global()).boxed().toList());
        for (Map.Entry<Axis, AxisChoices> e : Candidates.defaults(nvfp4).entrySet()) {
            if (e.getValue().global() == null) {
                continue;
            }
            int[] c = e.getValue().global();
            int w = c[c.length - 1];
            double floor = switch (e.getKey()) {
                case HIDDEN, MAMBA_HEAD_DIM -> 0.5;
                case FFN, MOE_FFN, SHARED_FFN -> 0.25;
                default -> 0;
            };
            for (int v : c) {
                assertTrue(v >= floor * w || c.length == 2, e.getKey() + ": " + java.util.Arrays.toString(c));
            }
        }
    }
}
