package dev.manyone.elastic;

import dev.manyone.elastic.generate.Presets;
import dev.manyone.formats.FormatException;
import org.junit.jupiter.api.Test;


import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * MoE configs and parameter counts. The expected counts are published figures (issue 13, from the config of
 * NVIDIA-Nemotron-3-Nano-30B-A3B) and the golden README's (tiny-moe, tiny-latent-moe); they are computed here from
 * the description alone, never by summing a generated file.
 */
class MoeDescriptionTest {

    private static ModelDescription golden(String name) {
        return ModelDescription.of(NemotronHConfig.read(Golden.dir().resolve(name)));
    }

    @Test
    void nemotron3NanoTotalAndActiveParameters() {
        ModelDescription m = ModelDescription.of(Presets.load("nemotron-3-nano-30b-a3b"));
        assertEquals(31_577_940_288L, m.params().total());
        assertEquals(3_580_076_352L, m.params().active());
        assertEquals(52, m.layers().size());
        assertEquals(23, m.layers().stream().filter(l -> l.kind() == LayerKind.MOE).count());
        // 23 MoE layers × 128 experts × (up + down)
        long experts = m.expectedTensors().stream().filter(t -> t.name().contains(".experts.")).count();
        assertEquals(23L * 128 * 2, experts);
    }

    @Test
    void goldenMoeParameterCounts() {
        ModelDescription tiny = golden("tiny-moe");
        assertEquals(303_968L, tiny.params().total());
        assertTrue(tiny.params().active() < tiny.params().total());
        // active = total − per MoE layer (E − k) experts × 2·I·H: 3 layers × 6 × 2·32·64
        assertEquals(303_968L - 3L * 6 * 2 * 32 * 64, tiny.params().active());
        ModelDescription latent = golden("tiny-latent-moe");
        assertEquals(258_488L, latent.params().total());
        // 4 layers × (12 − 3) experts × 2·I·L, experts read the latent (24), not hidden
        assertEquals(258_488L - 4L * 9 * 2 * 16 * 24, latent.params().active());
        assertTrue(latent.moe().orElseThrow().hasLatent());
        assertEquals(2, latent.moe().orElseThrow().routerGroups());
    }

    @Test
    void denseModelsHaveActiveEqualToTotal() {
        ModelDescription d = ModelDescription.of(Presets.load("nano-v2-12b"));
        assertEquals(d.params().total(), d.params().active());
        assertFalse(d.moe().isPresent());
    }

    private static NemotronHConfig edited(String field, Object value) {
        NemotronHConfig base = Presets.load("moe-example");
        return base.with(o -> {
            if (value instanceof Integer v) {
                o.put(field, v);
            } else if (value == null) {
                o.remove(field);
            }
        });
    }

    @Test
    void inconsistentMoeConfigsAreRefusedNamingTheField() {
        FormatException k = assertThrows(FormatException.class, () -> edited("num_experts_per_tok", 17));
        assertTrue(k.getMessage().contains("num_experts_per_tok") && k.getMessage().contains("at most 16"), k.getMessage());
        FormatException g = assertThrows(FormatException.class, () -> edited("n_group", 3));
        assertTrue(g.getMessage().contains("n_routed_experts") && g.getMessage().contains("n_group (3)"), g.getMessage());
        FormatException tg = assertThrows(FormatException.class, () -> edited("topk_group", 2));
        assertTrue(tg.getMessage().contains("topk_group") && tg.getMessage().contains("at most n_group (1)"),
                tg.getMessage());
        FormatException missing = assertThrows(FormatException.class, () -> edited("moe_intermediate_size", null));
        assertTrue(missing.getMessage().contains("moe_intermediate_size"), missing.getMessage());
        // grouped: k must fit in topk_group groups (here 1 group of 8 experts eligible, k 9)
        FormatException grouped = assertThrows(FormatException.class, () -> Presets.load("moe-example").with(o -> {
            o.put("n_group", 2);
            o.put("topk_group", 1);
            o.put("num_experts_per_tok", 9);
        }));
        assertTrue(grouped.getMessage().contains("topk_group 1 × 8 experts per group"), grouped.getMessage());
    }
}
