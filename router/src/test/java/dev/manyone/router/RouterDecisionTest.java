package dev.manyone.router;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.manyone.elastic.ModelDescription;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The router's decisions, recomputed independently: raw floats from a hand-parsed elastic.safetensors, choice
 * lists from a hand-parsed elastic.json, plain loops in float64 — against {@link Budgets#trained}.
 */
class RouterDecisionTest {
    @TempDir
    Path tmp;

    /** For each budget, axis → segment choice indices, by an independent forward pass. */
    static List<Map<String, int[]>> independentDecisions(Path parentDir) throws Exception {
        JsonNode json = new ObjectMapper().readTree(parentDir.resolve("elastic.json").toFile());
        RawSafetensors st = RawSafetensors.read(parentDir.resolve("elastic.safetensors"));
        int budgets = json.get("budgets").size();
        int hw = json.get("router").get("hidden_width").asInt();
        double slope = json.get("router").get("leaky_relu_slope").asDouble();
        List<Map<String, int[]>> out = new ArrayList<>();
        for (int k = 0; k < budgets; k++) {
            Map<String, int[]> byAxis = new java.util.TreeMap<>();
            for (Map.Entry<String, JsonNode> axis : json.get("axes").properties()) {
                float[] w1 = st.f32("router." + axis.getKey() + ".fc1.weight");
                float[] b1 = st.f32("router." + axis.getKey() + ".fc1.bias");
                float[] w2 = st.f32("router." + axis.getKey() + ".fc2.weight");
                float[] b2 = st.f32("router." + axis.getKey() + ".fc2.bias");
                int outputs = b2.length;
                double[] h = new double[hw];
                for (int j = 0; j < hw; j++) {
                    double v = b1[j];
                    for (int i = 0; i < budgets; i++) {
                        v += w1[j * budgets + i] * (i == k ? 1.0 : 0.0);
                    }
                    h[j] = v > 0 ? v : slope * v;
                }
                double[] logits = new double[outputs];
                for (int o = 0; o < outputs; o++) {
                    double v = b2[o];
                    for (int j = 0; j < hw; j++) {
                        v += w2[o * hw + j] * h[j];
                    }
                    logits[o] = v;
                }
                // segments: one list, or one per layer key in ascending numeric order
                List<Integer> sizes = new ArrayList<>();
                JsonNode c = axis.getValue();
                if (c.isArray()) {
                    sizes.add(c.size());
                } else {
                    List<Integer> keys = new ArrayList<>();
                    c.fieldNames().forEachRemaining(s -> keys.add(Integer.parseInt(s)));
                    keys.sort(null);
                    keys.forEach(key -> sizes.add(c.get(Integer.toString(key)).size()));
                }
                int[] picks = new int[sizes.size()];
                int off = 0;
                for (int s = 0; s < picks.length; s++) {
                    int best = 0;
                    for (int j = 1; j < sizes.get(s); j++) {
                        if (logits[off + j] > logits[off + best]) {
                            best = j;
                        }
                    }
                    picks[s] = best;
                    off += sizes.get(s);
                }
                assertEquals(outputs, off, "router outputs = total choices of " + axis.getKey());
                byAxis.put(axis.getKey(), picks);
            }
            out.add(byAxis);
        }
        return out;
    }

    private void check(ElasticParentGenerator.Recipe recipe, long seed) throws Exception {
        Path dir = tmp.resolve("p" + seed + recipe.router());
        Parents.write(dir, recipe, seed);
        ModelDescription parent = Parents.tinyModel();
        ElasticMetadata m = Budgets.metadata(dir, parent);
        List<BudgetChoice> trained = Budgets.trained(m, parent, Budgets.Options.defaults());
        List<Map<String, int[]>> expected = independentDecisions(dir);
        assertEquals(expected.size(), trained.size());
        for (int k = 0; k < trained.size(); k++) {
            BudgetChoice b = trained.get(k);
            assertTrue(b.routerTrained());
            for (Map.Entry<String, int[]> e : expected.get(k).entrySet()) {
                assertArrayEquals(e.getValue(), b.decision().get(Axis.of(e.getKey())), "budget " + k + " axis " + e.getKey());
            }
        }
    }

    @Test
    void randomRoutersAgreeWithIndependentForwardPass() throws Exception {
        for (long seed = 1; seed <= 6; seed++) {
            ModelDescription parent = Parents.tinyModel();
            check(ElasticParentGenerator.random(parent, 2 + (int) (seed % 4), seed, ElasticParentGenerator.RouterKind.RANDOM), seed);
        }
    }

    @Test
    void constructedRouterPicksTheKnownChoices() throws Exception {
        ModelDescription parent = Parents.tinyModel();
        for (long seed = 11; seed <= 13; seed++) {
            ElasticParentGenerator.Recipe recipe = ElasticParentGenerator.random(parent, 4, seed, ElasticParentGenerator.RouterKind.CONSTRUCTED);
            Path dir = tmp.resolve("c" + seed);
            Parents.write(dir, recipe, seed);
            ElasticMetadata m = Budgets.metadata(dir, parent);
            List<BudgetChoice> trained = Budgets.trained(m, parent, Budgets.Options.defaults());
            for (BudgetChoice b : trained) {
                for (AxisChoices c : m.axes().values()) {
                    int[] picks = b.decision().get(c.axis());
                    List<AxisChoices.Segment> segs = c.segments();
                    for (int s = 0; s < segs.size(); s++) {
                        assertEquals(ElasticParentGenerator.constructedChoice(b.index(), 4, segs.get(s).choices().length), picks[s]);
                    }
                }
            }
            // smallest budget → every smallest choice, largest → every largest; budget targets are the routed params
            for (int k = 1; k < trained.size(); k++) {
                assertTrue(trained.get(k - 1).configuration().nestedIn(trained.get(k).configuration()));
                assertTrue(trained.get(k - 1).cost().params() <= trained.get(k).cost().params());
            }
            trained.forEach(b -> assertEquals((long) b.budget().params(), b.cost().params()));
        }
    }
}
