package dev.manyone.formats.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.Safetensors;
import dev.manyone.formats.TensorInfo;
import dev.manyone.formats.TensorSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * The golden child {@code prefix} of tiny-moe-fp8 and tiny-moe-nvfp4, sliced from the stored bytes: the rows and
 * columns of every quantized linear layer are derived here from the child spec and the rankings by the README's
 * rules ("Child extraction rules", "Rankings, specs and child rules"), turned into stored-byte selections by
 * {@link QuantSlice#plan}, and every resulting tensor (weight, weight_scale, weight_scale_2, input_scale) must have
 * the child's {@code tensor_sha256}. A column selection that cuts an NVFP4 block is refused.
 */
class QuantSliceTest {

    /** One quantized module of the child: its child and parent names and the logical rows and columns kept. */
    private record Module(String child, String parent, int[] rows, int[] cols) {
    }

    private static int[] ints(JsonNode n) {
        int[] out = new int[n.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = n.get(i).intValue();
        }
        return out;
    }

    /** The top {@code k} of a ranking (most important first), ascending. */
    private static int[] top(JsonNode ranking, int k) {
        int[] kept = Arrays.copyOf(ints(ranking), k);
        Arrays.sort(kept);
        return kept;
    }

    /** Per group of {@code n / groups} consecutive items, its top {@code k / groups} by the ranking; ascending. */
    private static int[] topPerGroup(JsonNode ranking, int groups, int k) {
        int[] r = ints(ranking);
        int[] taken = new int[groups];
        List<Integer> kept = new ArrayList<>();
        for (int item : r) {
            int g = item / (r.length / groups);
            if (taken[g] < k / groups) {
                taken[g]++;
                kept.add(item);
            }
        }
        return kept.stream().mapToInt(Integer::intValue).sorted().toArray();
    }

    private static int[] range(int from, int to) {
        return IntStream.range(from, to).toArray();
    }

    private static int[] concat(int[]... parts) {
        return Arrays.stream(parts).flatMapToInt(Arrays::stream).toArray();
    }

    private static int width(JsonNode per, String field, int full) {
        return per != null && per.has(field) ? per.get(field).intValue() : full;
    }

    /** Every quantized module of the child {@code prefix}, by the README's extraction rules. */
    private static List<Module> childModules(Path dir) {
        JsonNode config = QuantGolden.json(dir.resolve("config.json"));
        JsonNode rankings = QuantGolden.json(dir.resolve("rankings.json")).get("rankings");
        JsonNode spec = QuantGolden.json(dir.resolve("rankings.json")).get("children").get("prefix").get("spec");
        String pattern = config.get("hybrid_override_pattern").textValue();
        int heads = config.get("mamba_num_heads").intValue();
        int headDim = config.get("mamba_head_dim").intValue();
        int groups = config.get("n_groups").intValue();
        int state = config.get("ssm_state_size").intValue();
        int dInner = heads * headDim;
        int[] hidden = top(rankings.get("hidden"), spec.get("hidden").intValue());
        assertEquals(1, config.get("n_group").intValue(), "router groups: this test keeps the top experts overall");
        List<Module> out = new ArrayList<>();
        int[] layers = ints(spec.get("layers"));
        for (int c = 0; c < layers.length; c++) {
            int i = layers[c];
            String p = "backbone.layers." + i + ".mixer.";
            String q = "backbone.layers." + c + ".mixer.";
            JsonNode per = spec.get("per_layer").get(String.valueOf(i));
            JsonNode rk = rankings.get("per_layer").get(String.valueOf(i));
            switch (pattern.charAt(i)) {
                case 'M' -> {
                    int[] keptHeads = topPerGroup(rk.get("mamba_heads"), groups, width(per, "mamba_heads", heads));
                    int[] channels = top(rk.get("mamba_head_channels"), width(per, "mamba_head_dim", headDim));
                    int[] d = Arrays.stream(keptHeads).flatMap(h -> Arrays.stream(channels).map(ch -> h * headDim + ch)).toArray();
                    int bc = 2 * dInner;
                    int dt = bc + 2 * groups * state;
                    int[] inRows = concat(d, Arrays.stream(d).map(x -> dInner + x).toArray(), range(bc, dt),
                            Arrays.stream(keptHeads).map(h -> dt + h).toArray());
                    out.add(new Module(q + "in_proj", p + "in_proj", inRows, hidden));
                    out.add(new Module(q + "out_proj", p + "out_proj", hidden, d));
                }
                case '-' -> {
                    int[] f = top(rk.get("ffn"), width(per, "ffn", config.get("intermediate_size").intValue()));
                    out.add(new Module(q + "up_proj", p + "up_proj", f, hidden));
                    out.add(new Module(q + "down_proj", p + "down_proj", hidden, f));
                }
                case 'E' -> {
                    int[] experts = top(rk.get("experts"), width(per, "experts", config.get("n_routed_experts").intValue()));
                    int ffn = width(per, "moe_ffn", config.get("moe_intermediate_size").intValue());
                    for (int j = 0; j < experts.length; j++) {
                        int[] neurons = top(rk.get("expert_ffn").get(experts[j]), ffn);
                        String ce = q + "experts." + j + ".";
                        String pe = p + "experts." + experts[j] + ".";
                        out.add(new Module(ce + "up_proj", pe + "up_proj", neurons, hidden));
                        out.add(new Module(ce + "down_proj", pe + "down_proj", hidden, neurons));
                    }
                    int[] shared = top(rk.get("shared_ffn"),
                            width(per, "shared_ffn", config.get("moe_shared_expert_intermediate_size").intValue()));
                    out.add(new Module(q + "shared_experts.up_proj", p + "shared_experts.up_proj", shared, hidden));
                    out.add(new Module(q + "shared_experts.down_proj", p + "shared_experts.down_proj", hidden, shared));
                }
                default -> {
                    // attention: stored BF16, not quantized
                }
            }
        }
        return out;
    }

    /** The child's bytes of one stored tensor, gathered from the parent's. */
    private static byte[] slice(TensorSource parent, QuantSlice.Stored s) {
        TensorInfo t = parent.require(s.name());
        byte[] all = QuantGolden.bytes(parent, t);
        if (s.whole()) {
            assertArrayEquals(t.shape(), s.shape(), s.name());
            return all;
        }
        byte[] b = QuantSlice.gather(all, (int) t.dim(0), (int) t.dim(1), s.rows(), s.cols());
        assertEquals(s.shape()[0] * s.shape()[1], b.length, s.name());
        return b;
    }

    private static void reproducesChildHashes(String name, QuantAlgo algo) {
        Path dir = QuantGolden.golden().resolve(name);
        JsonNode hashes = QuantGolden.json(dir.resolve("rankings.json")).get("children").get("prefix").get("tensor_sha256");
        int checked = 0;
        try (TensorSource parent = Safetensors.open(dir.resolve("model.safetensors"))) {
            for (Module m : childModules(dir)) {
                QuantizedLinear layer = QuantizedLinear.of(parent, m.parent(), algo);
                List<QuantSlice.Stored> plan = QuantSlice.plan(parent.location(), layer, m.rows(), m.cols());
                assertEquals(layer.tensors().size(), plan.size());
                for (QuantSlice.Stored s : plan) {
                    String childName = m.child() + s.name().substring(m.parent().length());
                    JsonNode expected = hashes.get(childName);
                    assertTrue(expected != null, "no golden hash for " + childName);
                    assertEquals(expected.textValue(), QuantGolden.sha256(slice(parent, s)), childName + " from " + s.name());
                    checked++;
                }
            }
        }
        long quantizedInChild = 0;
        for (var entry : hashes.properties()) {
            String t = entry.getKey();
            String module = t.substring(0, t.lastIndexOf('.'));
            if (hashes.has(module + QuantizedLinear.WEIGHT_SCALE)) {
                quantizedInChild++;
            }
        }
        assertEquals(quantizedInChild, checked, "every quantized tensor of the child is checked");
        // Mamba 3 × 2, MLP 2, MoE 3 × (4 experts + shared) × 2 modules, each with 3 (FP8) or 4 (NVFP4) tensors
        assertEquals((3 * 2 + 2 + 3 * 5 * 2) * (algo == QuantAlgo.FP8 ? 3 : 4), checked);
    }

    @Test
    void nvfp4ChildPrefixHashesReproduced() {
        reproducesChildHashes("tiny-moe-nvfp4", QuantAlgo.NVFP4);
    }

    @Test
    void fp8ChildPrefixHashesReproduced() {
        reproducesChildHashes("tiny-moe-fp8", QuantAlgo.FP8);
    }

    @Test
    void outProjKeepsBlocksOfTheKeptHeadsNotAPrefix() {
        Path dir = QuantGolden.golden().resolve("tiny-moe-nvfp4");
        try (TensorSource parent = Safetensors.open(dir.resolve("model.safetensors"))) {
            QuantizedLinear out = QuantizedLinear.of(parent, "backbone.layers.0.mixer.out_proj", QuantAlgo.NVFP4);
            int[] cols = concat(range(0, 32), range(64, 96)); // heads 0, 1, 4, 5 (README)
            List<QuantSlice.Stored> plan = QuantSlice.plan(parent.location(), out, range(0, 48), cols); // hidden 48
            assertArrayEquals(range(0, 48), plan.get(0).rows());
            assertArrayEquals(range(0, 48), plan.get(1).rows());
            assertArrayEquals(concat(range(0, 16), range(32, 48)), plan.get(0).cols());
            assertArrayEquals(new int[] {0, 1, 4, 5}, plan.get(1).cols());
            assertArrayEquals(new long[] {48, 32}, plan.get(0).shape());
            assertArrayEquals(new long[] {48, 4}, plan.get(1).shape());
            assertTrue(plan.get(2).whole()); // weight_scale_2
            assertTrue(plan.get(3).whole()); // input_scale
            // the mistake the README lists: block scales taken as a prefix; the golden hash tells it apart
            String golden = QuantGolden.json(dir.resolve("rankings.json")).get("children").get("prefix").get("tensor_sha256")
                    .get("backbone.layers.0.mixer.out_proj.weight_scale").textValue();
            QuantSlice.Stored prefix = new QuantSlice.Stored(plan.get(1).name(), plan.get(1).shape(), range(0, 48), range(0, 4));
            assertNotEquals(golden, QuantGolden.sha256(slice(parent, prefix)));
            assertEquals(golden, QuantGolden.sha256(slice(parent, plan.get(1))));
        }
    }

    @Test
    void columnsThatCutAnNvfp4BlockAreRefused() {
        Path dir = QuantGolden.golden().resolve("tiny-moe-nvfp4");
        try (TensorSource parent = Safetensors.open(dir.resolve("model.safetensors"))) {
            QuantizedLinear in = QuantizedLinear.of(parent, "backbone.layers.0.mixer.in_proj", QuantAlgo.NVFP4);
            // hidden 40: 2.5 blocks of in_proj's input
            FormatException e = assertThrows(FormatException.class,
                    () -> QuantSlice.plan(parent.location(), in, null, range(0, 40)));
            assertEquals(Optional.of(parent.location()), e.file());
            assertEquals(Optional.of("backbone.layers.0.mixer.in_proj.weight"), e.tensor());
            assertTrue(e.getMessage().contains("keeps columns 32–39 of block 2 (columns 32–47): NVFP4 slices whole"
                    + " 16-column blocks"), e.getMessage());
            e = assertThrows(FormatException.class,
                    () -> QuantSlice.plan(parent.location(), in, null, concat(range(0, 16), new int[] {17, 20, 21, 22})));
            assertTrue(e.getMessage().contains("keeps columns 17, 20–22 of block 1 (columns 16–31)"), e.getMessage());
            // rows are free: any subset
            assertEquals(3, QuantSlice.plan(parent.location(), in, new int[] {1, 7, 300}, range(0, 48)).get(0).shape()[0]);
        }
        try (TensorSource parent = Safetensors.open(QuantGolden.golden().resolve("tiny-moe-fp8/model.safetensors"))) {
            QuantizedLinear in = QuantizedLinear.of(parent, "backbone.layers.0.mixer.in_proj", QuantAlgo.FP8);
            List<QuantSlice.Stored> plan = QuantSlice.plan(parent.location(), in, new int[] {0, 5}, new int[] {3, 17, 39});
            assertArrayEquals(new int[] {3, 17, 39}, plan.get(0).cols()); // FP8: any columns, one byte each
            assertArrayEquals(new long[] {2, 3}, plan.get(0).shape());
            assertTrue(plan.get(1).whole()); // per-tensor weight_scale copied
        }
    }

    @Test
    void formatMismatchesAreRefused() {
        try (TensorSource parent = Safetensors.open(QuantGolden.golden().resolve("tiny-moe-nvfp4/model.safetensors"))) {
            FormatException e = assertThrows(FormatException.class,
                    () -> QuantizedLinear.of(parent, "backbone.layers.0.mixer.in_proj", QuantAlgo.FP8));
            assertEquals(Optional.of("backbone.layers.0.mixer.in_proj.weight"), e.tensor());
            assertTrue(e.getMessage().contains("expected F8_E4M3 for FP8, found U8"), e.getMessage());
            e = assertThrows(FormatException.class,
                    () -> QuantizedLinear.of(parent, "backbone.layers.3.mixer.q_proj", QuantAlgo.NVFP4));
            assertEquals(Optional.of("backbone.layers.3.mixer.q_proj.weight"), e.tensor());
            assertTrue(e.getMessage().contains("expected U8 for NVFP4, found BF16"), e.getMessage());
        }
    }
}
