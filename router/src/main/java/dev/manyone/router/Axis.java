package dev.manyone.router;

import dev.manyone.elastic.LayerKind;
import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;

/**
 * The elastic axes of a Nemotron-H parent, one router each (Nemotron Elastic: "embedding channels, Mamba heads and
 * head channels, attention heads, FFN neurons" and depth). Width axes of one layer kind may list their candidate
 * choices once for the whole model or once per layer (heterogeneous); {@code hidden} and {@code depth} are
 * model-wide. The declaration order is the canonical order of files, router outputs and search tie-breaks.
 */
public enum Axis {
    /** Hidden (embedding) channels kept. */
    HIDDEN("hidden", null),
    /** How many layers are kept; which ones follows {@code rankings.layers} (the bottom is dropped). */
    DEPTH("depth", null),
    /** Mamba heads kept per Mamba layer, in total (a multiple of n_groups). */
    MAMBA_HEADS("mamba_heads", LayerKind.MAMBA),
    /** Channels kept per Mamba head. */
    MAMBA_HEAD_DIM("mamba_head_dim", LayerKind.MAMBA),
    /** Query heads kept per attention layer, in total (a multiple of the KV heads). */
    ATTENTION_HEADS("attention_heads", LayerKind.ATTENTION),
    /** FFN neurons kept per MLP layer. */
    FFN("ffn", LayerKind.MLP),
    /**
     * Routed experts kept per MoE layer (golden README: "keep experts/n_group from each group"; a multiple of
     * {@code n_group}, at least 2 per group when grouped).
     */
    EXPERTS("experts", LayerKind.MOE),
    /** Neurons kept by every kept expert of an MoE layer (each expert keeps its own top neurons). */
    MOE_FFN("moe_ffn", LayerKind.MOE),
    /** Neurons kept by the shared expert of an MoE layer. */
    SHARED_FFN("shared_ffn", LayerKind.MOE),
    /**
     * The child's k, {@code num_experts_per_tok}: model-wide. "The child's k must not exceed the kept experts of any
     * MoE layer. With groups, it must not exceed topk_group × experts/n_group."
     */
    EXPERTS_PER_TOKEN("experts_per_token", null);

    private final String key;
    private final LayerKind kind;

    Axis(String key, LayerKind kind) {
        this.key = key;
        this.kind = kind;
    }

    /** The name in elastic.json, tensor names and child specs. */
    public String key() {
        return key;
    }

    /** The layer kind a width axis applies to; null for hidden and depth. */
    public LayerKind kind() {
        return kind;
    }

    /** True for the axes of MoE layers, including the model-wide k. */
    public boolean moe() {
        return kind == LayerKind.MOE || this == EXPERTS_PER_TOKEN;
    }

    /** True for axes with a width per layer (they may be heterogeneous). */
    public boolean perLayer() {
        return kind != null;
    }

    /** The axis named {@code key}, or null. */
    public static Axis of(String key) {
        for (Axis a : values()) {
            if (a.key.equals(key)) {
                return a;
            }
        }
        return null;
    }

    /** The parent's width of layer {@code l} on this axis (hidden / depth: the model's). */
    public int parentWidth(ModelDescription parent, LayerSpec l) {
        return switch (this) {
            case HIDDEN -> parent.hidden();
            case DEPTH -> parent.layers().size();
            case MAMBA_HEADS -> l.mambaHeads();
            case MAMBA_HEAD_DIM -> l.mambaHeadDim();
            case ATTENTION_HEADS -> l.attentionHeads();
            case FFN -> l.ffn();
            case EXPERTS -> l.experts();
            case MOE_FFN -> l.moeFfn();
            case SHARED_FFN -> l.sharedFfn();
            case EXPERTS_PER_TOKEN -> parent.moe().map(m -> m.expertsPerToken()).orElse(0);
        };
    }

    /**
     * Widths on this axis must be multiples of this (n_groups for Mamba heads, the KV heads for attention heads, the
     * router groups n_group for experts).
     */
    public int granule(ModelDescription parent) {
        return switch (this) {
            case MAMBA_HEADS -> parent.nGroups();
            case ATTENTION_HEADS -> parent.kvHeads();
            case EXPERTS -> parent.moe().map(m -> m.routerGroups()).orElse(1);
            default -> 1;
        };
    }

    /** What {@link #granule} is, for messages: "n_groups", "the KV heads", "n_group". */
    String granuleName() {
        return switch (this) {
            case MAMBA_HEADS -> "n_groups";
            case ATTENTION_HEADS -> "the KV heads";
            case EXPERTS -> "n_group, the router groups";
            default -> "1";
        };
    }

    /** The width of this axis in a (child) layer spec. */
    int width(LayerSpec l) {
        return switch (this) {
            case MAMBA_HEADS -> l.mambaHeads();
            case MAMBA_HEAD_DIM -> l.mambaHeadDim();
            case ATTENTION_HEADS -> l.attentionHeads();
            case FFN -> l.ffn();
            case EXPERTS -> l.experts();
            case MOE_FFN -> l.moeFfn();
            case SHARED_FFN -> l.sharedFfn();
            default -> throw new IllegalArgumentException(this + " is not a per-layer axis");
        };
    }
}
