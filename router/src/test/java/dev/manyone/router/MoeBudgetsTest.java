package dev.manyone.router;

import dev.manyone.elastic.LayerKind;
import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.NemotronHConfig;
import dev.manyone.elastic.generate.Presets;
import dev.manyone.formats.FormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * MoE budgets: the MoE axes in the router's choice space, total vs active parameters, and the example MoE parent's
 * budgets. Parameter counts are recomputed here from the preset's numbers, not through the code under test.
 */
class MoeBudgetsTest {
    @TempDir
    Path tmp;

    private static final NemotronHConfig MOE = Presets.load("moe-example");

    private Path parentDir(String name, NemotronHConfig config, ElasticMetadata m) throws Exception {
        Path dir = tmp.resolve(name);
        Files.createDirectories(dir);
        config.write(dir.resolve("config.json"));
        if (m != null) {
            ElasticFiles.write(dir, m, ModelDescription.of(config));
        }
        return dir;
    }

    /** Routed-expert weights a token does not use: Σ over MoE layers (E − k) · 2 · I · H (no latent). */
    private static long idleExperts(Configuration c) {
        long idle = 0;
        for (LayerSpec l : c.layers()) {
            if (l.kind() == LayerKind.MOE) {
                idle += (long) (l.experts() - c.expertsPerToken()) * 2 * l.moeFfn() * c.hidden();
            }
        }
        return idle;
    }

    @Test
    void exampleRecipeHasTheMoeAxes() {
        ModelDescription parent = ModelDescription.of(MOE);
        Map<Axis, AxisChoices> axes = ElasticParentGenerator.example(parent).axes();
        assertArrayEquals(new int[] {8, 12, 16}, axes.get(Axis.EXPERTS).global());
        assertArrayEquals(new int[] {64, 96, 128}, axes.get(Axis.MOE_FFN).global());
        assertArrayEquals(new int[] {128, 192, 256}, axes.get(Axis.SHARED_FFN).global());
        assertArrayEquals(new int[] {1, 2}, axes.get(Axis.EXPERTS_PER_TOKEN).global());
    }

    @Test
    void parentActiveParamsDropFourteenOfSixteenExpertsPerLayer() {
        ModelDescription parent = ModelDescription.of(MOE);
        // 3 MoE layers (MEM*EME-: 1, 4, 6), 16 experts of 2·128·256 weights, k = 2: 14 idle experts per layer
        assertEquals(3L * 14 * 2 * 128 * 256, parent.params().total() - parent.params().active());
    }

    @Test
    void trainedBudgetsOfTheMoeExampleAreRoutedAndCounted() throws Exception {
        ModelDescription parent = ModelDescription.of(MOE);
        ElasticMetadata m = ElasticParentGenerator.metadata(parent, ElasticParentGenerator.example(parent), 11);
        Path dir = parentDir("moe", MOE, m);
        ElasticMetadata read = Budgets.metadata(dir, parent);
        assertEquals(m.axes(), read.axes());
        for (LayerSpec l : parent.layers()) {
            if (l.kind() == LayerKind.MOE) {
                assertArrayEquals(m.rankings().layer(l.index()).experts(), read.rankings().layer(l.index()).experts());
                assertArrayEquals(m.rankings().layer(l.index()).expertFfn()[5], read.rankings().layer(l.index()).expertFfn()[5]);
                assertArrayEquals(m.rankings().layer(l.index()).sharedFfn(), read.rankings().layer(l.index()).sharedFfn());
                assertArrayEquals(m.scores().layer(l.index()).expertFfn()[3], read.scores().layer(l.index()).expertFfn()[3]);
            }
        }
        List<BudgetChoice> budgets = Budgets.trained(read, parent, Budgets.Options.defaults());
        assertEquals(List.of("small", "medium", "full"), budgets.stream().map(b -> b.budget().name()).toList());
        int[][] expected = {{8, 64, 128, 1}, {12, 96, 192, 1}, {16, 128, 256, 2}}; // constructed: ⌊k·(C−1)/(B−1)⌋
        for (int k = 0; k < 3; k++) {
            BudgetChoice b = budgets.get(k);
            Configuration c = b.configuration();
            assertTrue(b.routerTrained());
            assertEquals(expected[k][3], c.expertsPerToken(), b.budget().name());
            for (LayerSpec l : c.layers()) {
                if (l.kind() == LayerKind.MOE) {
                    assertEquals(expected[k][0], l.experts());
                    assertEquals(expected[k][1], l.moeFfn());
                    assertEquals(expected[k][2], l.sharedFfn());
                }
            }
            assertEquals(b.cost().params() - idleExperts(c), b.cost().activeParams(), b.budget().name());
            assertEquals((long) b.budget().params(), b.cost().params());
            assertEquals(Integer.valueOf(c.expertsPerToken()), c.toChildSpec(parent).expertsPerToken());
            assertEquals(c.expertsPerToken(), c.specJson(parent).get("num_experts_per_tok").asInt());
            // memory counts every expert: weights = total parameters · 2 bytes (BF16)
            assertEquals(2 * b.cost().params(), b.cost().memory().weightBytes());
        }
        assertEquals(parent.params().total(), budgets.get(2).cost().params());
        assertEquals(parent.params().active(), budgets.get(2).cost().activeParams());
        assertTrue(budgets.get(0).configuration().nestedIn(budgets.get(1).configuration()));
        assertTrue(budgets.get(1).configuration().nestedIn(budgets.get(2).configuration()));
    }

    @Test
    void activeAndTotalTargetsOnTheMoeExample() throws Exception {
        ModelDescription parent = ModelDescription.of(MOE);
        ElasticMetadata m = ElasticParentGenerator.metadata(parent, ElasticParentGenerator.example(parent), 11);
        Path dir = parentDir("moe", MOE, m);
        long active = parent.params().active();
        long total = parent.params().total();
        ChildRequest a = Budgets.resolve(dir, parent, new Target.ActiveParams(Math.round(0.7 * active)), Budgets.Options.defaults());
        assertTrue(a.activeParams() <= 0.7 * active, a.activeParams() + " active");
        assertEquals(a.params() - idleExperts(a.configuration()), a.activeParams());
        assertEquals("greedy-active-params", a.method());
        assertFalse(a.routerTrained());
        assertEquals("active-params-" + Quantities.formatCount(Math.round(0.7 * active)), a.label());
        ChildRequest t = Budgets.resolve(dir, parent, new Target.Params(Math.round(0.8 * total)), Budgets.Options.defaults());
        assertTrue(t.params() <= 0.8 * total);
        // k saves no total parameter: a --params child keeps the parent's k
        assertEquals(2, t.configuration().expertsPerToken());
    }

    private Path damaged(java.util.function.Consumer<Map<String, TensorSurgery.Tensor>> edit) throws Exception {
        ModelDescription parent = ModelDescription.of(MOE);
        Path dir = parentDir("damaged", MOE, ElasticParentGenerator.metadata(parent, ElasticParentGenerator.example(parent), 3));
        TensorSurgery.edit(dir.resolve(ElasticFiles.SAFETENSORS), edit);
        return dir;
    }

    private static void refused(Path dir, String... parts) {
        FormatException e = org.junit.jupiter.api.Assertions.assertThrows(FormatException.class,
                () -> Budgets.metadata(dir, ModelDescription.of(MOE)));
        assertTrue(e.getMessage().contains(ElasticFiles.SAFETENSORS), e.getMessage());
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), "expected '" + p + "' in: " + e.getMessage());
        }
    }

    @Test
    void expertRankingsAreCheckedLikeTheOthers() throws Exception {
        refused(damaged(t -> {
            TensorSurgery.Tensor f = t.get("rankings.per_layer.4.expert_ffn");
            java.nio.ByteBuffer b = f.bytes().duplicate().order(java.nio.ByteOrder.LITTLE_ENDIAN);
            b.putInt((3 * 128 + 1) * 4, b.getInt(3 * 128 * 4)); // row 3: its first neuron twice
            t.put("rankings.per_layer.4.expert_ffn", new TensorSurgery.Tensor(f.dtype(), f.shape(), b));
        }), "'rankings.per_layer.4.expert_ffn'", "row 3 (expert 3)");
        refused(damaged(t -> t.put("rankings.per_layer.1.expert_ffn", TensorSurgery.ints(new int[128]))),
                "'rankings.per_layer.1.expert_ffn'", "expected shape [16, 128], found [128]");
        refused(damaged(t -> t.put("rankings.per_layer.0.experts", TensorSurgery.ints(0, 1))),
                "'rankings.per_layer.0.experts'", "experts, expert_ffn and shared_ffn for MoE layers");
        int[] rev = new int[16];
        for (int i = 0; i < 16; i++) {
            rev[i] = 15 - i;
        }
        refused(damaged(t -> t.put("rankings.per_layer.6.experts", TensorSurgery.ints(rev))),
                "'scores.per_layer.6.experts'", "scores disagree with the ranking");
    }

    /** --latency-ms on the MoE example: probes of MoE children export and run; the answer measures within the target. */
    @Test
    void latencyTargetOnTheMoeExample() throws Exception {
        ModelDescription parent = ModelDescription.of(MOE);
        Path dir = tmp.resolve("moe-weights");
        ElasticParentGenerator.write(MOE, ElasticParentGenerator.example(parent), 5, dir, false);
        Budgets.Options options = Budgets.Options.defaults().withLatency(LatencyTest.settings(tmp.resolve("cache")));
        ChildRequest r = Budgets.resolve(dir, parent, new Target.Latency(1e6), options);
        assertEquals("measured", r.provenance().get("manyone.latency_source"));
        assertTrue(r.latencyMs().getAsDouble() <= 1e6);
        assertEquals(parent.params().total(), r.params()); // nothing needs to go: the largest configuration
        assertEquals(parent.params().active(), r.activeParams());
    }

    /**
     * Random MoE recipes (ungrouped and with 4 router groups, topk_group 1, k 4) survive writing and reading, pass
     * validation, and every budget plans as a valid child whose closed-form cost matches ModelDescription; the
     * constructed router picks ⌊k·(C−1)/(B−1)⌋ of every segment.
     */
    @Test
    void randomMoeRecipesRoundTripAndPlan() throws Exception {
        NemotronHConfig grouped = MOE.with(o -> {
            o.put("n_group", 4);
            o.put("topk_group", 1);
            o.put("num_experts_per_tok", 4);
        });
        int n = 0;
        for (NemotronHConfig config : new NemotronHConfig[] {MOE, grouped}) {
            ModelDescription parent = ModelDescription.of(config);
            for (long seed = 1; seed <= 6; seed++) {
                ElasticParentGenerator.Recipe recipe = ElasticParentGenerator.random(parent, 3, seed,
                        ElasticParentGenerator.RouterKind.CONSTRUCTED);
                assertTrue(recipe.axes().containsKey(Axis.EXPERTS) && recipe.axes().containsKey(Axis.EXPERTS_PER_TOKEN));
                ElasticMetadata m = ElasticParentGenerator.metadata(parent, recipe, seed);
                Path dir = parentDir("random-" + n++, config, m);
                ElasticMetadata read = Budgets.metadata(dir, parent);
                assertEquals(m.axes(), read.axes());
                List<BudgetChoice> budgets = Budgets.trained(read, parent, Budgets.Options.defaults());
                for (BudgetChoice b : budgets) {
                    for (var e : b.decision().entrySet()) {
                        List<AxisChoices.Segment> segments = read.axes().get(e.getKey()).segments();
                        for (int i = 0; i < segments.size(); i++) {
                            assertEquals(ElasticParentGenerator.constructedChoice(b.index(), 3, segments.get(i).choices().length),
                                    e.getValue()[i], e.getKey() + " seed " + seed);
                        }
                    }
                    assertEquals(b.cost().params() - idleExperts(b.configuration()), b.cost().activeParams());
                }
            }
        }
    }

    /** Fraction of the total in the largest {@code keep} of {@code scores}. */
    private static double top(float[] scores, int keep) {
        float[] sorted = scores.clone();
        java.util.Arrays.sort(sorted);
        double total = 0;
        double kept = 0;
        for (int i = 0; i < sorted.length; i++) {
            total += sorted[i];
            kept += i >= sorted.length - keep ? sorted[i] : 0;
        }
        return kept / total;
    }

    @Test
    void importanceMassOfMoeWidthsFollowsTheScores() {
        ModelDescription parent = ModelDescription.of(MOE);
        ElasticMetadata m = ElasticParentGenerator.metadata(parent, ElasticParentGenerator.example(parent), 11);
        ImportanceMass mass = new ImportanceMass(parent, m.rankings(), m.scores());
        ImportanceScores.Layer s = m.scores().layer(4);
        assertEquals(top(s.experts(), 8), mass.width(Axis.EXPERTS, 4, 8), 1e-9);
        assertEquals(top(s.sharedFfn(), 192), mass.width(Axis.SHARED_FFN, 4, 192), 1e-9);
        double mean = 0;
        for (float[] expert : s.expertFfn()) {
            mean += top(expert, 64) / 16;
        }
        assertEquals(mean, mass.width(Axis.MOE_FFN, 4, 64), 1e-9);
        // k: the parent's 2 routing slots by the rank proxy, 2/2 and 1/2: k = 1 keeps 1 / 1.5
        assertEquals(2.0 / 3, mass.width(Axis.EXPERTS_PER_TOKEN, -1, 1), 1e-12);
        assertEquals(1.0, mass.width(Axis.EXPERTS_PER_TOKEN, -1, 2), 1e-12);
    }
}
