package dev.manyone.router;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.manyone.elastic.LayerKind;
import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.slice.ChildSpec;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * One nested configuration of a parent: the hidden channels kept and the kept parent layers (ascending, parent
 * indices) with their widths. With fixed rankings, a configuration that is component-wise no larger than another
 * (fewer or equal hidden channels, a subset of the layers, no wider in any kept layer) keeps a subset of its items on
 * every axis: it is nested in it ({@link #nestedIn}).
 * <p>
 * {@code expertsPerToken} is the child's k ({@code num_experts_per_tok}) for a parent with MoE layers, 0 for a dense
 * parent. k changes no tensor (every kept expert stays resident) but the active parameters: a token runs k experts.
 */
public record Configuration(int hidden, List<LayerSpec> layers, int expertsPerToken) {

    public Configuration {
        layers = List.copyOf(layers);
        if (expertsPerToken < 0) {
            throw new IllegalArgumentException("experts per token must be >= 0, found " + expertsPerToken);
        }
    }

    /** A configuration of a dense parent (k = 0). */
    public Configuration(int hidden, List<LayerSpec> layers) {
        this(hidden, layers, 0);
    }

    /** The child spec (docs/child-spec.md): hidden and layers always, per_layer for layers narrower than the parent. */
    public ChildSpec toChildSpec(ModelDescription parent) {
        List<Integer> kept = new ArrayList<>();
        Map<Integer, ChildSpec.Widths> per = new TreeMap<>();
        for (LayerSpec l : layers) {
            kept.add(l.index());
            LayerSpec p = parent.layers().get(l.index());
            if (!l.equals(p)) {
                per.put(l.index(), switch (l.kind()) {
                    case MAMBA -> new ChildSpec.Widths(l.mambaHeads(), l.mambaHeadDim(), null, null);
                    case ATTENTION -> new ChildSpec.Widths(null, null, l.attentionHeads(), null);
                    case MLP -> new ChildSpec.Widths(null, null, null, l.ffn());
                    case MOE -> ChildSpec.Widths.moe(l.experts(), l.moeFfn(), l.sharedFfn());
                });
            }
        }
        return new ChildSpec(hidden, List.copyOf(kept), Map.copyOf(per), expertsPerToken > 0 ? expertsPerToken : null);
    }

    /** The child spec as JSON, in the golden schema ({@code manyone extract --spec} reads it). */
    public ObjectNode specJson(ModelDescription parent) {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("hidden", hidden);
        if (expertsPerToken > 0) {
            o.put("num_experts_per_tok", expertsPerToken);
        }
        var arr = o.putArray("layers");
        layers.forEach(l -> arr.add(l.index()));
        ObjectNode per = o.putObject("per_layer");
        for (LayerSpec l : layers) {
            if (l.equals(parent.layers().get(l.index()))) {
                continue;
            }
            ObjectNode w = per.putObject(Integer.toString(l.index()));
            switch (l.kind()) {
                case MAMBA -> {
                    w.put("mamba_heads", l.mambaHeads());
                    w.put("mamba_head_dim", l.mambaHeadDim());
                }
                case ATTENTION -> w.put("attention_heads", l.attentionHeads());
                case MLP -> w.put("ffn", l.ffn());
                case MOE -> {
                    w.put("experts", l.experts());
                    w.put("moe_ffn", l.moeFfn());
                    w.put("shared_ffn", l.sharedFfn());
                }
            }
        }
        return o;
    }

    /** True when every item this configuration keeps is kept by {@code other} (same rankings). */
    public boolean nestedIn(Configuration other) {
        if (hidden > other.hidden || expertsPerToken > other.expertsPerToken) {
            return false;
        }
        Map<Integer, LayerSpec> theirs = new HashMap<>();
        other.layers.forEach(l -> theirs.put(l.index(), l));
        for (LayerSpec l : layers) {
            LayerSpec o = theirs.get(l.index());
            if (o == null || l.mambaHeads() > o.mambaHeads() || l.mambaHeadDim() > o.mambaHeadDim()
                    || l.attentionHeads() > o.attentionHeads() || l.ffn() > o.ffn()
                    || l.experts() > o.experts() || l.moeFfn() > o.moeFfn() || l.sharedFfn() > o.sharedFfn()) {
                return false;
            }
        }
        return true;
    }

    /** For each width axis, the widths of the kept layers of its kind, in layer order. */
    public Map<Axis, List<Integer>> widths() {
        Map<Axis, List<Integer>> out = new EnumMap<>(Axis.class);
        for (Axis a : Axis.values()) {
            if (a.perLayer()) {
                List<Integer> w = new ArrayList<>();
                for (LayerSpec l : layers) {
                    if (l.kind() == a.kind()) {
                        w.add(a.width(l));
                    }
                }
                out.put(a, w);
            }
        }
        return out;
    }

    /** How many kept layers are of {@code kind}. */
    public int count(LayerKind kind) {
        int n = 0;
        for (LayerSpec l : layers) {
            n += l.kind() == kind ? 1 : 0;
        }
        return n;
    }
}
