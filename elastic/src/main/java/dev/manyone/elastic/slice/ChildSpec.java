package dev.manyone.elastic.slice;

import com.fasterxml.jackson.databind.JsonNode;
import dev.manyone.elastic.LayerKind;
import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.MoeConfig;
import dev.manyone.formats.FormatException;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * What a child keeps, in the golden spec schema ({@code rankings.json → children.<name>.spec}):
 * <pre>{"hidden": 54, "layers": [0, 1, 3, …], "per_layer": {"0": {"mamba_heads": 6, "mamba_head_dim": 13},
 *   "3": {"attention_heads": 2}, "1": {"ffn": 112}}}</pre>
 * "A kept layer that per_layer does not list keeps its full widths." {@code hidden} and {@code layers} default
 * to the parent's. Widths are totals: {@code mamba_heads} is divisible by n_groups, {@code attention_heads} by
 * the KV heads.
 * <p>
 * MoE layers (golden README, "Rankings, specs and child rules"): "{@code spec.per_layer.<i>} has {@code experts}
 * (the number kept), {@code moe_ffn} (the neurons each kept expert keeps, the same count for every expert of the
 * layer) and {@code shared_ffn}. An optional top-level {@code num_experts_per_tok} sets the child's k. Absent
 * fields mean full width, or the parent's k." With router groups, "keep experts/n_group from each group [...] At
 * least 2 per group must remain", and "the child's k must not exceed the kept experts of any MoE layer. With
 * groups, it must not exceed {@code topk_group} × experts/n_group."
 *
 * @param hidden          hidden channels kept, or null for all
 * @param layers          parent layer indices kept (any order in the file; resolved ascending), or null for all
 * @param perLayer        widths by parent layer index; a null field keeps the parent's width
 * @param expertsPerToken the child's k ({@code num_experts_per_tok}), or null for the parent's
 */
public record ChildSpec(Integer hidden, List<Integer> layers, Map<Integer, Widths> perLayer, Integer expertsPerToken) {

    /** A spec that keeps the parent's k. */
    public ChildSpec(Integer hidden, List<Integer> layers, Map<Integer, Widths> perLayer) {
        this(hidden, layers, perLayer, null);
    }

    /**
     * Per-layer widths; null means "the parent's". Mamba: {@code mambaHeads}, {@code mambaHeadDim}; attention:
     * {@code attentionHeads}; MLP: {@code ffn}; MoE: {@code experts}, {@code moeFfn} (per kept expert),
     * {@code sharedFfn}.
     */
    public record Widths(Integer mambaHeads, Integer mambaHeadDim, Integer attentionHeads, Integer ffn,
                         Integer experts, Integer moeFfn, Integer sharedFfn) {

        /** Dense widths (no MoE field). */
        public Widths(Integer mambaHeads, Integer mambaHeadDim, Integer attentionHeads, Integer ffn) {
            this(mambaHeads, mambaHeadDim, attentionHeads, ffn, null, null, null);
        }

        /** An MoE layer's widths. */
        public static Widths moe(Integer experts, Integer moeFfn, Integer sharedFfn) {
            return new Widths(null, null, null, null, experts, moeFfn, sharedFfn);
        }

        boolean anyMoe() {
            return experts != null || moeFfn != null || sharedFfn != null;
        }
    }

    static final String K_FIELD = "num_experts_per_tok";
    private static final Set<String> TOP_FIELDS = Set.of("hidden", "layers", "per_layer", K_FIELD);
    private static final List<String> WIDTH_FIELDS = List.of("mamba_heads", "mamba_head_dim", "attention_heads", "ffn",
            "experts", "moe_ffn", "shared_ffn");

    /** The identity child: everything kept. */
    public static ChildSpec full() {
        return new ChildSpec(null, null, Map.of());
    }

    /** Parses the golden spec object. {@code file} names the source in messages. */
    public static ChildSpec parse(JsonNode spec, Path file) {
        if (spec == null || !spec.isObject()) {
            throw new FormatException(file, "expected a child spec object {\"hidden\", \"layers\", \"per_layer\"}, found "
                    + (spec == null ? "nothing" : spec.getNodeType().toString().toLowerCase()));
        }
        for (Iterator<String> it = spec.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!TOP_FIELDS.contains(f)) {
                throw new FormatException(file, "unknown field '" + f + "' in child spec; expected hidden, layers, per_layer, " + K_FIELD);
            }
        }
        Integer hidden = spec.has("hidden") ? positiveInt(spec.get("hidden"), "hidden", file) : null;
        Integer k = spec.has(K_FIELD) ? positiveInt(spec.get(K_FIELD), K_FIELD, file) : null;
        List<Integer> layers = null;
        if (spec.has("layers")) {
            JsonNode l = spec.get("layers");
            if (!l.isArray()) {
                throw new FormatException(file, "'layers': expected an array of layer indices, found " + l);
            }
            layers = new ArrayList<>();
            for (JsonNode n : l) {
                if (!n.canConvertToInt() || !n.isIntegralNumber()) {
                    throw new FormatException(file, "'layers': expected integer layer indices, found " + n);
                }
                layers.add(n.intValue());
            }
        }
        Map<Integer, Widths> perLayer = new TreeMap<>();
        if (spec.has("per_layer")) {
            JsonNode p = spec.get("per_layer");
            if (!p.isObject()) {
                throw new FormatException(file, "'per_layer': expected an object keyed by layer index, found " + p);
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = p.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                int layer;
                try {
                    layer = Integer.parseInt(e.getKey());
                } catch (NumberFormatException ex) {
                    throw new FormatException(file, "'per_layer': expected layer indices as keys, found '" + e.getKey() + "'");
                }
                perLayer.put(layer, widths(e.getValue(), "per_layer." + layer, file));
            }
        }
        return new ChildSpec(hidden, layers == null ? null : List.copyOf(layers), Map.copyOf(perLayer), k);
    }

    private static Widths widths(JsonNode w, String where, Path file) {
        if (!w.isObject()) {
            throw new FormatException(file, "'" + where + "': expected an object of widths, found " + w);
        }
        for (Iterator<String> it = w.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!WIDTH_FIELDS.contains(f)) {
                throw new FormatException(file, "'" + where + "': unknown width '" + f + "'; expected "
                        + String.join(", ", WIDTH_FIELDS.subList(0, WIDTH_FIELDS.size() - 1)) + " or "
                        + WIDTH_FIELDS.get(WIDTH_FIELDS.size() - 1));
            }
        }
        return new Widths(opt(w, "mamba_heads", where, file), opt(w, "mamba_head_dim", where, file),
                opt(w, "attention_heads", where, file), opt(w, "ffn", where, file),
                opt(w, "experts", where, file), opt(w, "moe_ffn", where, file), opt(w, "shared_ffn", where, file));
    }

    private static Integer opt(JsonNode w, String field, String where, Path file) {
        return w.has(field) ? positiveInt(w.get(field), where + "." + field, file) : null;
    }

    private static int positiveInt(JsonNode n, String field, Path file) {
        if (!n.isIntegralNumber() || !n.canConvertToInt()) {
            throw new FormatException(file, "'" + field + "': expected a positive integer, found " + n);
        }
        if (n.intValue() <= 0) {
            throw new FormatException(file, "'" + field + "': expected a positive integer, found " + n.intValue()
                    + " (a width of zero would remove the layer; drop it from 'layers' instead)");
        }
        return n.intValue();
    }

    /**
     * Checks the spec against the parent and returns the kept layers, ascending, with their child widths
     * (indices are the parent's). Every impossible request is refused here, before a byte is written.
     */
    public List<LayerSpec> resolve(ModelDescription parent, Path file) {
        int n = parent.layers().size();
        if (hidden != null && hidden > parent.hidden()) {
            throw new FormatException(file, "'hidden': the parent has " + parent.hidden() + " hidden channels, the spec asks for " + hidden);
        }
        TreeSet<Integer> kept = new TreeSet<>();
        if (layers == null) {
            for (int i = 0; i < n; i++) {
                kept.add(i);
            }
        } else {
            for (int i : layers) {
                if (i < 0 || i >= n) {
                    throw new FormatException(file, "'layers': layer " + i + " does not exist; the parent has layers 0.." + (n - 1));
                }
                if (!kept.add(i)) {
                    throw new FormatException(file, "'layers': layer " + i + " is listed twice");
                }
            }
            if (kept.isEmpty()) {
                throw new FormatException(file, "'layers': every layer is removed; a child keeps at least one layer");
            }
        }
        for (int i : perLayer.keySet()) {
            if (i < 0 || i >= n) {
                throw new FormatException(file, "'per_layer': layer " + i + " does not exist; the parent has layers 0.." + (n - 1));
            }
            if (!kept.contains(i)) {
                throw new FormatException(file, "'per_layer': layer " + i + " is given widths but is not in 'layers'");
            }
        }
        MoeConfig moe = parent.moe().orElse(null);
        if (expertsPerToken != null) {
            if (moe == null) {
                throw new FormatException(file, "'" + K_FIELD + "': the parent has no MoE layers, so there is no k to set");
            }
            int most = 0;
            for (LayerSpec l : parent.layers()) {
                most = Math.max(most, l.experts());
            }
            if (expertsPerToken > most) {
                throw new FormatException(file, "'" + K_FIELD + "': expected at most the parent's " + most
                        + " routed experts, found " + expertsPerToken);
            }
        }
        List<LayerSpec> out = new ArrayList<>();
        for (int i : kept) {
            LayerSpec c = resolveLayer(parent, parent.layers().get(i), perLayer.get(i), file);
            if (c.kind() == LayerKind.MOE) {
                checkRouting(moe, c, file);
            }
            out.add(c);
        }
        return List.copyOf(out);
    }

    /** The child's k: {@code num_experts_per_tok} of the spec, else the parent's (0 when the parent has no MoE). */
    public int childExpertsPerToken(ModelDescription parent) {
        return expertsPerToken != null ? expertsPerToken : parent.moe().map(MoeConfig::expertsPerToken).orElse(0);
    }

    /**
     * The routing rules a kept MoE layer must still satisfy with the child's k: experts divisible by n_group, at
     * least two per group (a group scores the sum of its two best), and k no more than the experts the router can
     * choose from ({@code topk_group × experts/n_group} with groups, else the kept experts).
     */
    private void checkRouting(MoeConfig moe, LayerSpec c, Path file) {
        String where = "'per_layer." + c.index() + ".experts'";
        int groups = moe.routerGroups();
        int e = c.experts();
        if (e % groups != 0) {
            throw new FormatException(file, where + ": expected a multiple of n_group = " + groups
                    + " (each router group keeps the same number of experts), found " + e);
        }
        int perGroup = e / groups;
        if (groups > 1 && perGroup < 2) {
            throw new FormatException(file, where + ": expected at least 2 experts per router group (a group scores "
                    + "the sum of its two best), found " + e + " experts in " + groups + " groups");
        }
        int k = expertsPerToken != null ? expertsPerToken : moe.expertsPerToken();
        String kFrom = expertsPerToken != null ? "" : " (the parent's k; lower it with '" + K_FIELD + "' or --experts-per-token)";
        if (groups > 1) {
            int eligible = moe.topkGroup() * perGroup;
            if (k > eligible) {
                throw new FormatException(file, where + ": too few experts for top-" + k + kFrom + ": topk_group "
                        + moe.topkGroup() + " × " + perGroup + " experts per group leaves " + eligible
                        + " to choose from; expected at least " + k + " eligible, found " + e + " experts in "
                        + groups + " groups");
            }
        } else if (k > e) {
            throw new FormatException(file, where + ": too few experts for top-" + k + kFrom + ": expected at least "
                    + k + ", found " + e);
        }
    }

    private static LayerSpec resolveLayer(ModelDescription parent, LayerSpec p, Widths w, Path file) {
        if (w == null) {
            return p;
        }
        String where = "'per_layer." + p.index();
        String kind = p.kind().aLayer();
        if (p.kind() != LayerKind.MAMBA && (w.mambaHeads() != null || w.mambaHeadDim() != null)) {
            throw new FormatException(file, where + "': layer " + p.index() + " is " + kind + "; mamba widths do not apply");
        }
        if (p.kind() != LayerKind.ATTENTION && w.attentionHeads() != null) {
            throw new FormatException(file, where + "': layer " + p.index() + " is " + kind + "; attention_heads does not apply");
        }
        if (p.kind() != LayerKind.MLP && w.ffn() != null) {
            throw new FormatException(file, where + "': layer " + p.index() + " is " + kind + "; ffn does not apply");
        }
        if (p.kind() != LayerKind.MOE && w.anyMoe()) {
            throw new FormatException(file, where + "': layer " + p.index() + " is " + kind
                    + "; experts, moe_ffn and shared_ffn do not apply");
        }
        return switch (p.kind()) {
            case MAMBA -> {
                int heads = atMost(w.mambaHeads(), p.mambaHeads(), where + ".mamba_heads'", file);
                int dim = atMost(w.mambaHeadDim(), p.mambaHeadDim(), where + ".mamba_head_dim'", file);
                if (heads % parent.nGroups() != 0) {
                    throw new FormatException(file, where + ".mamba_heads': expected a multiple of n_groups = "
                            + parent.nGroups() + " (the same count in every group), found " + heads);
                }
                yield LayerSpec.mamba(p.index(), heads, dim);
            }
            case ATTENTION -> {
                int heads = atMost(w.attentionHeads(), p.attentionHeads(), where + ".attention_heads'", file);
                if (heads % parent.kvHeads() != 0) {
                    throw new FormatException(file, where + ".attention_heads': expected a multiple of the "
                            + parent.kvHeads() + " KV heads (the same count in every KV group), found " + heads);
                }
                yield LayerSpec.attention(p.index(), heads);
            }
            case MLP -> LayerSpec.mlp(p.index(), atMost(w.ffn(), p.ffn(), where + ".ffn'", file));
            case MOE -> LayerSpec.moe(p.index(), atMost(w.experts(), p.experts(), where + ".experts'", file),
                    atMost(w.moeFfn(), p.moeFfn(), where + ".moe_ffn'", file),
                    atMost(w.sharedFfn(), p.sharedFfn(), where + ".shared_ffn'", file));
        };
    }

    private static int atMost(Integer asked, int parent, String where, Path file) {
        if (asked == null) {
            return parent;
        }
        if (asked > parent) {
            throw new FormatException(file, where + ": the parent has " + parent + ", the spec asks for " + asked
                    + " (a child cannot be wider than its parent)");
        }
        return asked;
    }
}
