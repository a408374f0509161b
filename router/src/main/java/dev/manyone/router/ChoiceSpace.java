package dev.manyone.router;

import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.slice.Rankings;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The nested configurations a parent's candidate choices span. A <em>unit</em> is one independently chosen list:
 * the hidden list, the depth list, a whole-model width list (applies to every layer of its kind) or one layer's list
 * of a heterogeneous axis — exactly the segments of the router outputs, in canonical order (axis order, then layer).
 * A state is one choice index per unit. Layers kept for a depth of n are the top n of {@code rankings.layers}; an
 * axis without choices, and a layer a per-layer axis does not list, keep the parent's width; without an
 * {@code experts_per_token} axis the child keeps the parent's k (elastic.json validation guarantees that every
 * state's k fits every state's kept experts).
 */
final class ChoiceSpace {
    record Unit(Axis axis, int layer, int[] choices) {
    }

    private final ModelDescription parent;
    private final Rankings rankings;
    private final Map<Axis, AxisChoices> axes;
    private final List<Unit> units = new ArrayList<>();

    ChoiceSpace(ModelDescription parent, Rankings rankings, Map<Axis, AxisChoices> axes) {
        this.parent = parent;
        this.rankings = rankings;
        this.axes = new EnumMap<>(Axis.class);
        this.axes.putAll(axes);
        for (AxisChoices c : this.axes.values()) {
            for (AxisChoices.Segment s : c.segments()) {
                units.add(new Unit(c.axis(), s.layer(), s.choices()));
            }
        }
    }

    ModelDescription parent() {
        return parent;
    }

    Rankings rankings() {
        return rankings;
    }

    Map<Axis, AxisChoices> axes() {
        return axes;
    }

    List<Unit> units() {
        return units;
    }

    /** The largest choice of every unit. */
    int[] top() {
        int[] s = new int[units.size()];
        for (int u = 0; u < s.length; u++) {
            s[u] = units.get(u).choices().length - 1;
        }
        return s;
    }

    /** A router decision ({@link Router#decide}) as a state. */
    int[] state(Map<Axis, int[]> decision) {
        int[] s = new int[units.size()];
        Map<Axis, Integer> next = new HashMap<>();
        for (int u = 0; u < s.length; u++) {
            Axis a = units.get(u).axis();
            int k = next.merge(a, 1, Integer::sum) - 1;
            s[u] = decision.get(a)[k];
        }
        return s;
    }

    Configuration configuration(int[] state) {
        int hidden = parent.hidden();
        int depth = parent.layers().size();
        int k = Axis.EXPERTS_PER_TOKEN.parentWidth(parent, null);
        Map<Axis, Integer> global = new EnumMap<>(Axis.class);
        Map<Axis, Map<Integer, Integer>> perLayer = new EnumMap<>(Axis.class);
        for (int u = 0; u < state.length; u++) {
            Unit unit = units.get(u);
            int w = unit.choices()[state[u]];
            switch (unit.axis()) {
                case HIDDEN -> hidden = w;
                case DEPTH -> depth = w;
                case EXPERTS_PER_TOKEN -> k = w;
                default -> {
                    if (unit.layer() < 0) {
                        global.put(unit.axis(), w);
                    } else {
                        perLayer.computeIfAbsent(unit.axis(), a -> new HashMap<>()).put(unit.layer(), w);
                    }
                }
            }
        }
        int[] kept = Arrays.copyOf(rankings.layers(), depth);
        Arrays.sort(kept);
        List<LayerSpec> layers = new ArrayList<>(kept.length);
        for (int i : kept) {
            LayerSpec p = parent.layers().get(i);
            layers.add(switch (p.kind()) {
                case MAMBA -> LayerSpec.mamba(i, width(Axis.MAMBA_HEADS, p, global, perLayer),
                        width(Axis.MAMBA_HEAD_DIM, p, global, perLayer));
                case ATTENTION -> LayerSpec.attention(i, width(Axis.ATTENTION_HEADS, p, global, perLayer));
                case MLP -> LayerSpec.mlp(i, width(Axis.FFN, p, global, perLayer));
                case MOE -> LayerSpec.moe(i, width(Axis.EXPERTS, p, global, perLayer),
                        width(Axis.MOE_FFN, p, global, perLayer), width(Axis.SHARED_FFN, p, global, perLayer));
            });
        }
        return new Configuration(hidden, layers, k);
    }

    private int width(Axis a, LayerSpec p, Map<Axis, Integer> global, Map<Axis, Map<Integer, Integer>> perLayer) {
        Map<Integer, Integer> per = perLayer.get(a);
        if (per != null && per.containsKey(p.index())) {
            return per.get(p.index());
        }
        return global.getOrDefault(a, a.parentWidth(parent, p));
    }

    /** The choice index of every unit, by axis and segment (the shape of a router decision). */
    Map<Axis, int[]> decision(int[] state) {
        Map<Axis, List<Integer>> lists = new EnumMap<>(Axis.class);
        for (int u = 0; u < state.length; u++) {
            lists.computeIfAbsent(units.get(u).axis(), a -> new ArrayList<>()).add(state[u]);
        }
        Map<Axis, int[]> out = new EnumMap<>(Axis.class);
        lists.forEach((a, l) -> out.put(a, l.stream().mapToInt(Integer::intValue).toArray()));
        return out;
    }
}
