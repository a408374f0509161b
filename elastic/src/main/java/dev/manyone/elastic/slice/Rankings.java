package dev.manyone.elastic.slice;

import com.fasterxml.jackson.databind.JsonNode;
import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.formats.FormatException;

import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Importance rankings: permutations, most important first, in the golden schema ({@code rankings.json →
 * rankings}): {@code hidden} [H], {@code layers} [L], and {@code per_layer.<i>} with {@code mamba_heads} [heads]
 * and {@code mamba_head_channels} [head_dim] for Mamba layers, {@code attention_heads} [q_heads] for attention
 * layers, {@code ffn} [F] for MLP layers. A child keeps top-ranked items; the rankings are fixed, so children of
 * one parent are nested.
 */
public record Rankings(int[] hidden, int[] layers, Map<Integer, Layer> perLayer, boolean identity) {

    /**
     * One layer's rankings; the arrays of other kinds are null. An MoE layer has {@code experts} (a permutation of
     * E), {@code expertFfn} (E permutations of I, indexed by the original expert id) and {@code sharedFfn}.
     */
    public record Layer(int[] mambaHeads, int[] mambaHeadChannels, int[] attentionHeads, int[] ffn,
                        int[] experts, int[][] expertFfn, int[] sharedFfn) {

        /** A dense layer's rankings. */
        public Layer(int[] mambaHeads, int[] mambaHeadChannels, int[] attentionHeads, int[] ffn) {
            this(mambaHeads, mambaHeadChannels, attentionHeads, ffn, null, null, null);
        }

        /** An MoE layer's rankings. */
        static Layer moe(int[] experts, int[][] expertFfn, int[] sharedFfn) {
            return new Layer(null, null, null, null, experts, expertFfn, sharedFfn);
        }
    }

    /** Identity order on every axis (used when no rankings are given; the caller warns). */
    public static Rankings identity(ModelDescription model) {
        Map<Integer, Layer> per = new TreeMap<>();
        for (LayerSpec l : model.layers()) {
            per.put(l.index(), identityLayer(l));
        }
        return new Rankings(iota(model.hidden()), iota(model.layers().size()), per, true);
    }

    private static Layer identityLayer(LayerSpec l) {
        return switch (l.kind()) {
            case MAMBA -> new Layer(iota(l.mambaHeads()), iota(l.mambaHeadDim()), null, null);
            case ATTENTION -> new Layer(null, null, iota(l.attentionHeads()), null);
            case MLP -> new Layer(null, null, null, iota(l.ffn()));
            case MOE -> Layer.moe(iota(l.experts()), identityExperts(l), iota(l.sharedFfn()));
        };
    }

    private static int[][] identityExperts(LayerSpec l) {
        int[][] out = new int[l.experts()][];
        for (int j = 0; j < out.length; j++) {
            out[j] = iota(l.moeFfn());
        }
        return out;
    }

    /**
     * Parses and validates the {@code rankings} object against the parent: every array must be a permutation of
     * 0..n-1 of the parent's width. A layer missing from {@code per_layer} gets identity order.
     */
    public static Rankings parse(JsonNode r, ModelDescription model, Path file) {
        if (r == null || !r.isObject()) {
            throw new FormatException(file, "expected a rankings object {\"hidden\", \"layers\", \"per_layer\"}, found "
                    + (r == null ? "nothing" : r.getNodeType().toString().toLowerCase()));
        }
        int[] hidden = r.has("hidden") ? permutation(r.get("hidden"), model.hidden(), "rankings.hidden", file) : iota(model.hidden());
        int n = model.layers().size();
        int[] layers = r.has("layers") ? permutation(r.get("layers"), n, "rankings.layers", file) : iota(n);
        Map<Integer, Layer> per = new TreeMap<>();
        for (LayerSpec l : model.layers()) {
            per.put(l.index(), identityLayer(l));
        }
        JsonNode p = r.get("per_layer");
        if (p != null) {
            if (!p.isObject()) {
                throw new FormatException(file, "'rankings.per_layer': expected an object keyed by layer index, found " + p);
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = p.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                int i;
                try {
                    i = Integer.parseInt(e.getKey());
                } catch (NumberFormatException ex) {
                    throw new FormatException(file, "'rankings.per_layer': expected layer indices as keys, found '" + e.getKey() + "'");
                }
                if (i < 0 || i >= n) {
                    throw new FormatException(file, "'rankings.per_layer': layer " + i + " does not exist; the parent has layers 0.." + (n - 1));
                }
                per.put(i, layer(e.getValue(), model.layers().get(i), "rankings.per_layer." + i, file));
            }
        }
        return new Rankings(hidden, layers, Map.copyOf(per), false);
    }

    private static Layer layer(JsonNode node, LayerSpec l, String where, Path file) {
        if (!node.isObject()) {
            throw new FormatException(file, "'" + where + "': expected an object of rankings, found " + node);
        }
        Set<String> allowed = switch (l.kind()) {
            case MAMBA -> Set.of("mamba_heads", "mamba_head_channels");
            case ATTENTION -> Set.of("attention_heads");
            case MLP -> Set.of("ffn");
            case MOE -> Set.of("experts", "expert_ffn", "shared_ffn");
        };
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!allowed.contains(f)) {
                throw new FormatException(file, "'" + where + "." + f + "': layer " + l.index() + " is "
                        + l.kind().aLayer() + "; expected " + String.join(" and ", allowed.stream().sorted().toList()));
            }
        }
        return switch (l.kind()) {
            case MAMBA -> new Layer(
                    opt(node, "mamba_heads", l.mambaHeads(), where, file),
                    opt(node, "mamba_head_channels", l.mambaHeadDim(), where, file), null, null);
            case ATTENTION -> new Layer(null, null, opt(node, "attention_heads", l.attentionHeads(), where, file), null);
            case MLP -> new Layer(null, null, null, opt(node, "ffn", l.ffn(), where, file));
            case MOE -> Layer.moe(opt(node, "experts", l.experts(), where, file), expertFfn(node, l, where, file),
                    opt(node, "shared_ffn", l.sharedFfn(), where, file));
        };
    }

    /** {@code expert_ffn}: one permutation of I per expert, indexed by the original expert id. */
    private static int[][] expertFfn(JsonNode node, LayerSpec l, String where, Path file) {
        JsonNode a = node.get("expert_ffn");
        if (a == null) {
            return identityExperts(l);
        }
        if (!a.isArray() || a.size() != l.experts()) {
            throw new FormatException(file, "'" + where + ".expert_ffn': expected " + l.experts()
                    + " permutations (one per expert, by original id), found "
                    + (a.isArray() ? a.size() + " entries" : a.getNodeType().toString().toLowerCase()));
        }
        int[][] out = new int[l.experts()][];
        for (int j = 0; j < out.length; j++) {
            out[j] = permutation(a.get(j), l.moeFfn(), where + ".expert_ffn[" + j + "]", file);
        }
        return out;
    }

    private static int[] opt(JsonNode node, String field, int size, String where, Path file) {
        return node.has(field) ? permutation(node.get(field), size, where + "." + field, file) : iota(size);
    }

    /** Checks that {@code a} is a permutation of 0..size-1. */
    static int[] permutation(JsonNode a, int size, String where, Path file) {
        if (!a.isArray()) {
            throw new FormatException(file, "'" + where + "': expected an array (a permutation of 0.." + (size - 1) + "), found " + a);
        }
        if (a.size() != size) {
            throw new FormatException(file, "'" + where + "': expected a permutation of " + size + " indices, found " + a.size());
        }
        int[] out = new int[size];
        boolean[] seen = new boolean[size];
        for (int k = 0; k < size; k++) {
            JsonNode v = a.get(k);
            if (!v.isIntegralNumber() || !v.canConvertToInt() || v.intValue() < 0 || v.intValue() >= size) {
                throw new FormatException(file, "'" + where + "[" + k + "]': expected an index in 0.." + (size - 1) + ", found " + v);
            }
            if (seen[v.intValue()]) {
                throw new FormatException(file, "'" + where + "': index " + v.intValue() + " appears twice; expected a permutation");
            }
            seen[v.intValue()] = true;
            out[k] = v.intValue();
        }
        return out;
    }

    static int[] iota(int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        return a;
    }

    public Layer layer(int index) {
        return perLayer.get(index);
    }
}
