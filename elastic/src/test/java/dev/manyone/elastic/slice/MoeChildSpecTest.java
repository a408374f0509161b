package dev.manyone.elastic.slice;

import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.NemotronHConfig;
import dev.manyone.elastic.TensorNames;
import dev.manyone.formats.FormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

import static dev.manyone.elastic.slice.ChildSpecTest.FILE;
import static dev.manyone.elastic.slice.ChildSpecTest.json;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * MoE child specs (golden README, "Rankings, specs and child rules"): impossible ones are refused before anything
 * is written, naming the file and field; golden children are nested expert by expert.
 */
class MoeChildSpecTest {

    static ModelDescription model(String name) {
        return ModelDescription.of(NemotronHConfig.read(GoldenChildrenTest.golden().resolve(name + "/config.json")));
    }

    /** tiny-moe: MEM*EME-, 8 experts, k 2, I 32, shared 48, n_group 1. tiny-latent-moe: ME*EMEM-E, 12 experts in
     * 2 router groups (topk_group 1), k 3, I 16, shared 40, latent 24. */
    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '"', value = {
        "tiny-moe        | {'per_layer': {'1': {'experts': 1}}}                      | 'per_layer.1.experts': too few experts for top-2 (the parent's k; lower it with 'num_experts_per_tok' or --experts-per-token): expected at least 2, found 1",
        "tiny-moe        | {'num_experts_per_tok': 3, 'per_layer': {'4': {'experts': 2}}} | 'per_layer.4.experts': too few experts for top-3: expected at least 3, found 2",
        "tiny-moe        | {'num_experts_per_tok': 9}                                | 'num_experts_per_tok': expected at most the parent's 8 routed experts, found 9",
        "tiny-moe        | {'num_experts_per_tok': 0}                                | 'num_experts_per_tok': expected a positive integer, found 0",
        "tiny-moe        | {'per_layer': {'1': {'experts': 9}}}                      | 'per_layer.1.experts': the parent has 8, the spec asks for 9",
        "tiny-moe        | {'per_layer': {'1': {'moe_ffn': 33}}}                     | 'per_layer.1.moe_ffn': the parent has 32, the spec asks for 33",
        "tiny-moe        | {'per_layer': {'6': {'shared_ffn': 49}}}                  | 'per_layer.6.shared_ffn': the parent has 48, the spec asks for 49",
        "tiny-moe        | {'per_layer': {'6': {'shared_ffn': 0}}}                   | 'per_layer.6.shared_ffn': expected a positive integer, found 0",
        "tiny-moe        | {'per_layer': {'0': {'experts': 4}}}                      | 'per_layer.0': layer 0 is a Mamba2 layer; experts, moe_ffn and shared_ffn do not apply",
        "tiny-moe        | {'per_layer': {'7': {'moe_ffn': 4}}}                      | 'per_layer.7': layer 7 is an MLP layer; experts, moe_ffn and shared_ffn do not apply",
        "tiny-moe        | {'per_layer': {'1': {'ffn': 4}}}                          | 'per_layer.1': layer 1 is an MoE layer; ffn does not apply",
        "tiny-moe        | {'per_layer': {'1': {'expert': 4}}}                       | unknown width 'expert'",
        "tiny-latent-moe | {'per_layer': {'3': {'experts': 7}}}                      | 'per_layer.3.experts': expected a multiple of n_group = 2 (each router group keeps the same number of experts), found 7",
        "tiny-latent-moe | {'num_experts_per_tok': 1, 'per_layer': {'3': {'experts': 2}}} | 'per_layer.3.experts': expected at least 2 experts per router group (a group scores the sum of its two best), found 2 experts in 2 groups",
        "tiny-latent-moe | {'per_layer': {'5': {'experts': 4}}}                      | 'per_layer.5.experts': too few experts for top-3 (the parent's k; lower it with 'num_experts_per_tok' or --experts-per-token): topk_group 1 × 2 experts per group leaves 2 to choose from; expected at least 3 eligible, found 4 experts in 2 groups",
        "tiny-latent-moe | {'num_experts_per_tok': 7}                                | 'per_layer.1.experts': too few experts for top-7: topk_group 1 × 6 experts per group leaves 6 to choose from",
        "tiny-hybrid     | {'num_experts_per_tok': 2}                                | 'num_experts_per_tok': the parent has no MoE layers",
        "tiny-hybrid     | {'per_layer': {'1': {'experts': 2}}}                      | layer 1 is an MLP layer; experts, moe_ffn and shared_ffn do not apply",
    })
    void impossibleMoeSpecsAreRefused(String parent, String spec, String message) throws Exception {
        ModelDescription p = model(parent);
        FormatException e = assertThrows(FormatException.class, () -> ChildSpec.parse(json(spec), FILE).resolve(p, FILE));
        assertTrue(e.getMessage().startsWith("child.json: "), e.getMessage());
        assertTrue(e.getMessage().contains(message), e.getMessage());
    }

    @Test
    void absentFieldsMeanFullWidthAndTheParentsK() throws Exception {
        ModelDescription p = model("tiny-moe");
        ChildSpec spec = ChildSpec.parse(json("{'layers': [1, 4], 'per_layer': {'4': {'moe_ffn': 8}}}"), FILE);
        assertEquals(List.of(LayerSpec.moe(1, 8, 32, 48), LayerSpec.moe(4, 8, 8, 48)), spec.resolve(p, FILE));
        assertEquals(2, spec.childExpertsPerToken(p));
        assertEquals(1, ChildSpec.parse(json("{'num_experts_per_tok': 1}"), FILE).childExpertsPerToken(p));
    }

    /**
     * "The children are nested: a smaller child keeps a subset of what a larger one keeps", expert by expert: every
     * expert of the smaller child is kept by the larger, and keeps a subset of that expert's neurons there; the
     * shared expert likewise. tiny-moe small (4 experts × 16, shared 24) against medium (6/6/4 experts, 24/32/16,
     * shared 48/32/40), and tiny-latent-moe small (3 per group) against full.
     */
    @ParameterizedTest
    @CsvSource({"tiny-moe,small,medium", "tiny-latent-moe,small,full"})
    void childrenAreNestedExpertByExpert(String model, String smaller, String larger) {
        Path dir = GoldenChildrenTest.golden().resolve(model);
        Path file = dir.resolve("rankings.json");
        ModelDescription p = model(model);
        Rankings r = SpecFiles.rankingsIn(file, p).orElseThrow();
        Map<String, int[]> small = keptRows(SlicePlan.of(p, SpecFiles.readSpec(file, smaller), r, file), p);
        Map<String, int[]> large = keptRows(SlicePlan.of(p, SpecFiles.readSpec(file, larger), r, file), p);
        int experts = 0;
        for (Map.Entry<String, int[]> e : small.entrySet()) {
            int[] theirs = large.get(e.getKey());
            assertTrue(theirs != null, e.getKey() + " is kept by " + smaller + " but not by " + larger);
            Set<Integer> set = new TreeSet<>();
            for (int x : theirs) {
                set.add(x);
            }
            for (int x : e.getValue()) {
                assertTrue(set.contains(x), e.getKey() + ": row " + x + " of " + smaller + " is not kept by " + larger);
            }
            experts += e.getKey().contains(".experts.") ? 1 : 0;
        }
        assertTrue(experts >= 12, "compared " + experts + " experts");
    }

    /** Parent up_proj tensor name (routed and shared experts) → the parent rows (neurons) a child keeps. */
    private static Map<String, int[]> keptRows(SlicePlan plan, ModelDescription parent) {
        Map<String, int[]> out = new TreeMap<>();
        for (TensorSlice t : plan.tensors()) {
            if (t.parentName().endsWith("up_proj.weight") && t.parentName().contains("experts")) {
                int n = (int) parent.expectedTensors().stream().filter(e -> e.name().equals(t.parentName()))
                        .findFirst().orElseThrow().shape()[0];
                out.put(t.parentName(), t.rows() == null ? Rankings.iota(n) : t.rows());
            }
        }
        return out;
    }

    /** With router groups, child group g holds exactly the experts kept from parent group g, ascending. */
    @Test
    void groupedExpertsAreKeptPerGroupInAscendingOriginalId() {
        Path file = GoldenChildrenTest.golden().resolve("tiny-latent-moe/rankings.json");
        ModelDescription p = model("tiny-latent-moe");
        Rankings r = SpecFiles.rankingsIn(file, p).orElseThrow();
        SlicePlan plan = SlicePlan.of(p, SpecFiles.readSpec(file, "small"), r, file);
        for (LayerSpec l : plan.parentLayers()) {
            if (l.experts() == 0) {
                continue;
            }
            int[] ranking = r.layer(l.index()).experts();
            int[] want = new int[6];
            int at = 0;
            for (int g = 0; g < 2; g++) { // each group's best 3 by the ranking
                int taken = 0;
                for (int e : ranking) {
                    if (e / 6 == g && taken < 3) {
                        want[at++] = e;
                        taken++;
                    }
                }
            }
            java.util.Arrays.sort(want);
            TensorSlice gate = plan.tensors().stream().filter(t -> t.parentName().equals(TensorNames.gate(l.index())))
                    .findFirst().orElseThrow();
            assertArrayEquals(want, gate.rows(), "layer " + l.index());
            assertEquals(3, java.util.Arrays.stream(gate.rows()).filter(e -> e < 6).count(), "layer " + l.index());
        }
    }
}
