package dev.manyone.router;

import dev.manyone.elastic.LayerKind;
import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.NemotronHConfig;
import dev.manyone.elastic.generate.Presets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code --active-params} and {@code --params} on the nemotron-3-nano-30b-a3b preset from its config alone (no weights:
 * the search and the exact figures need only the description; identity rankings, default candidate choices).
 */
class NanoMoeTargetsTest {
    @TempDir
    Path tmp;

    private static final NemotronHConfig NANO = Presets.load("nemotron-3-nano-30b-a3b");

    private ChildRequest resolve(Target t) throws Exception {
        Path dir = tmp.resolve("nano");
        Files.createDirectories(dir);
        NANO.write(dir.resolve("config.json"));
        return Budgets.resolve(dir, ModelDescription.of(NANO), t, Budgets.Options.defaults());
    }

    /** Total and active recomputed from the preset's numbers (V 131072, untied, 64 Mamba heads × 64, 8 groups × 128). */
    private static long[] recount(Configuration c) {
        long h = c.hidden();
        long total = 2 * 131072 * h + h;
        long idle = 0;
        for (LayerSpec l : c.layers()) {
            total += h; // the layer's norm
            switch (l.kind()) {
                case MAMBA -> {
                    long d = (long) l.mambaHeads() * l.mambaHeadDim();
                    long gn2 = 2L * 8 * 128;
                    total += (2 * d + gn2 + l.mambaHeads()) * h + (d + gn2) * 4 + (d + gn2) + 3L * l.mambaHeads() + d + d * h;
                }
                case ATTENTION -> total += 2L * l.attentionHeads() * 128 * h + 2L * 2 * 128 * h;
                case MLP -> total += 2L * l.ffn() * h;
                case MOE -> {
                    long expert = 2L * l.moeFfn() * h;
                    total += l.experts() * h + l.experts() + l.experts() * expert + 2L * l.sharedFfn() * h;
                    idle += (l.experts() - c.expertsPerToken()) * expert;
                }
            }
        }
        return new long[] {total, total - idle};
    }

    static String describe(ChildRequest r) {
        Configuration c = r.configuration();
        Map<String, java.util.TreeSet<Integer>> w = new TreeMap<>();
        c.widths().forEach((a, v) -> w.put(a.key(), new java.util.TreeSet<>(v)));
        return String.format(java.util.Locale.ROOT, "%s: hidden %d, layers %d, k %d, widths %s; total %,d, active %,d",
                r.label(), c.hidden(), c.layers().size(), c.expertsPerToken(), w, r.params(), r.activeParams());
    }

    @Test
    void presetCountsMatchTheRecount() {
        ModelDescription parent = ModelDescription.of(NANO);
        long[] n = recount(new Configuration(parent.hidden(), parent.layers(), 6));
        assertEquals(n[0], parent.params().total());
        assertEquals(n[1], parent.params().active());
    }

    @Test
    void activeParams28B() throws Exception {
        ChildRequest r = resolve(Target.activeParams("2.8B"));
        System.out.println(describe(r));
        long[] n = recount(r.configuration());
        assertEquals(n[0], r.params());
        assertEquals(n[1], r.activeParams());
        assertTrue(r.activeParams() <= 2_800_000_000L);
        assertEquals("greedy-active-params", r.method());
    }

    @Test
    void params231B() throws Exception {
        ChildRequest r = resolve(Target.params("23.1B"));
        System.out.println(describe(r));
        long[] n = recount(r.configuration());
        assertEquals(n[0], r.params());
        assertEquals(n[1], r.activeParams());
        assertTrue(r.params() <= 23_100_000_000L);
        assertEquals(6, r.configuration().expertsPerToken()); // k saves no total parameter
        for (LayerSpec l : r.configuration().layers()) {
            if (l.kind() == LayerKind.MOE) {
                assertTrue(l.experts() >= 6);
            }
        }
    }

    /** Star Elastic's children (hidden 2176 / expert FFN 1664 and 1856 / 960, all layers and experts, k 6). */
    @Test
    void starElasticChildrenCountAsPublished() {
        ModelDescription parent = ModelDescription.of(NANO);
        CostModel costs = new CostModel(parent);
        for (int[] child : new int[][] {{2176, 1664, 23_10, 2_78}, {1856, 960, 12_01, 2_01}}) {
            java.util.List<LayerSpec> layers = new java.util.ArrayList<>();
            for (LayerSpec l : parent.layers()) {
                layers.add(l.kind() == LayerKind.MOE ? LayerSpec.moe(l.index(), l.experts(), child[1], l.sharedFfn()) : l);
            }
            Configuration c = new Configuration(child[0], layers, 6);
            long[] n = recount(c);
            assertEquals(n[0], costs.params(c));
            assertEquals(n[1], costs.active(c));
            assertEquals(child[2], Math.round(n[0] / 1e7), "total of hidden " + child[0]);
            assertEquals(child[3], Math.round(n[1] / 1e7), "active of hidden " + child[0]);
        }
    }

    @Test
    void smallerTargetsStayNestedAndWithinBounds() throws Exception {
        ChildRequest a2 = resolve(Target.activeParams("2B"));
        ChildRequest a28 = resolve(Target.activeParams("2.8B"));
        ChildRequest p12 = resolve(Target.params("12B"));
        System.out.println(describe(a2));
        System.out.println(describe(p12));
        assertTrue(a2.activeParams() <= 2_000_000_000L && p12.params() <= 12_000_000_000L);
        assertTrue(a2.configuration().nestedIn(a28.configuration()));
    }
}
