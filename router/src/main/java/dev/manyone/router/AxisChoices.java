package dev.manyone.router;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The candidate choices of one axis (elastic.json {@code axes.<axis>}): either one ascending list for the whole model
 * ({@code global}, the same width in every layer of the axis's kind) or, for a heterogeneous width axis, one list per
 * layer ({@code perLayer}, keyed by parent layer index; a layer of the kind that is not listed keeps its full width).
 * The router's output for the axis is split into {@link #segments() segments}: one for a global list, else one per
 * listed layer in ascending layer order; within a segment, logit j stands for choice j.
 *
 * @param global   the whole-model list, or null
 * @param perLayer the per-layer lists, or null
 */
public record AxisChoices(Axis axis, int[] global, SortedMap<Integer, int[]> perLayer) {

    /** One slice of the router output: the logits of {@code choices} for {@code layer} (-1 for a global list). */
    public record Segment(int layer, int[] choices, int offset) {
    }

    public AxisChoices {
        if ((global == null) == (perLayer == null)) {
            throw new IllegalArgumentException(axis + ": exactly one of global and perLayer must be given");
        }
        global = global == null ? null : global.clone();
        if (perLayer != null) {
            TreeMap<Integer, int[]> copy = new TreeMap<>();
            perLayer.forEach((k, v) -> copy.put(k, v.clone()));
            perLayer = Collections.unmodifiableSortedMap(copy);
        }
    }

    public static AxisChoices global(Axis axis, int... choices) {
        return new AxisChoices(axis, choices, null);
    }

    public static AxisChoices perLayer(Axis axis, SortedMap<Integer, int[]> choices) {
        return new AxisChoices(axis, null, choices);
    }

    public boolean heterogeneous() {
        return perLayer != null;
    }

    /** The router output split, in output order. */
    public List<Segment> segments() {
        List<Segment> out = new ArrayList<>();
        if (global != null) {
            out.add(new Segment(-1, global.clone(), 0));
        } else {
            int offset = 0;
            for (var e : perLayer.entrySet()) {
                out.add(new Segment(e.getKey(), e.getValue().clone(), offset));
                offset += e.getValue().length;
            }
        }
        return out;
    }

    /** The number of router outputs: the total number of choices over all segments. */
    public int outputs() {
        if (global != null) {
            return global.length;
        }
        int n = 0;
        for (int[] c : perLayer.values()) {
            n += c.length;
        }
        return n;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof AxisChoices c) || c.axis != axis || !Arrays.equals(global, c.global)
                || (perLayer == null) != (c.perLayer == null)) {
            return false;
        }
        if (perLayer == null) {
            return true;
        }
        if (!perLayer.keySet().equals(c.perLayer.keySet())) {
            return false;
        }
        for (var e : perLayer.entrySet()) {
            if (!Arrays.equals(e.getValue(), c.perLayer.get(e.getKey()))) {
                return false;
            }
        }
        return true;
    }

    @Override
    public int hashCode() {
        return axis.hashCode() * 31 + Arrays.hashCode(global) + (perLayer == null ? 0 : perLayer.keySet().hashCode());
    }

    @Override
    public String toString() {
        if (global != null) {
            return axis.key() + " " + Arrays.toString(global);
        }
        StringBuilder sb = new StringBuilder(axis.key()).append(" {");
        perLayer.forEach((k, v) -> sb.append(sb.charAt(sb.length() - 1) == '{' ? "" : ", ").append(k).append(": ").append(Arrays.toString(v)));
        return sb.append('}').toString();
    }
}
