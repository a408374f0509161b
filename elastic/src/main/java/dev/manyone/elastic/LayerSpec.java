package dev.manyone.elastic;

/**
 * The widths of one layer of a Nemotron-H model. Only the widths of the layer's own kind are set; the others are 0.
 * <ul>
 *   <li>Mamba2: {@code mambaHeads} heads of {@code mambaHeadDim} channels, d_inner = heads · head_dim;</li>
 *   <li>attention: {@code attentionHeads} query heads (the KV heads and head_dim are model-wide);</li>
 *   <li>MLP: {@code ffn} neurons;</li>
 *   <li>MoE: {@code experts} routed experts of {@code moeFfn} neurons each and a shared expert of {@code sharedFfn}
 *       neurons (top-k, router groups and the latent width are model-wide, {@link MoeConfig}).</li>
 * </ul>
 * Model-wide constraints (heads divisible by n_groups or by the KV heads, experts by the router groups) are checked
 * by {@link NemotronHConfig}.
 *
 * @param index the layer's position in its model, from 0
 */
public record LayerSpec(int index, LayerKind kind, int mambaHeads, int mambaHeadDim, int attentionHeads, int ffn,
                        int experts, int moeFfn, int sharedFfn) {

    public LayerSpec {
        if (index < 0) {
            throw new IllegalArgumentException("layer index must be >= 0, got " + index);
        }
        if (kind == null) {
            throw new IllegalArgumentException("layer " + index + ": kind is null");
        }
        boolean moeZero = experts == 0 && moeFfn == 0 && sharedFfn == 0;
        boolean ok = switch (kind) {
            case MAMBA -> mambaHeads > 0 && mambaHeadDim > 0 && attentionHeads == 0 && ffn == 0 && moeZero;
            case ATTENTION -> attentionHeads > 0 && mambaHeads == 0 && mambaHeadDim == 0 && ffn == 0 && moeZero;
            case MLP -> ffn > 0 && mambaHeads == 0 && mambaHeadDim == 0 && attentionHeads == 0 && moeZero;
            case MOE -> experts > 0 && moeFfn > 0 && sharedFfn > 0
                    && mambaHeads == 0 && mambaHeadDim == 0 && attentionHeads == 0 && ffn == 0;
        };
        if (!ok) {
            throw new IllegalArgumentException("layer " + index + " (" + kind.blockType()
                    + "): expected positive widths of its own kind and 0 for the others, found mambaHeads="
                    + mambaHeads + ", mambaHeadDim=" + mambaHeadDim + ", attentionHeads=" + attentionHeads
                    + ", ffn=" + ffn + ", experts=" + experts + ", moeFfn=" + moeFfn + ", sharedFfn=" + sharedFfn);
        }
    }

    /** The dense constructor (experts, moeFfn and sharedFfn 0). */
    public LayerSpec(int index, LayerKind kind, int mambaHeads, int mambaHeadDim, int attentionHeads, int ffn) {
        this(index, kind, mambaHeads, mambaHeadDim, attentionHeads, ffn, 0, 0, 0);
    }

    /** A Mamba2 layer of {@code heads} heads × {@code headDim} channels. */
    public static LayerSpec mamba(int index, int heads, int headDim) {
        return new LayerSpec(index, LayerKind.MAMBA, heads, headDim, 0, 0);
    }

    /** An attention layer with {@code heads} query heads. */
    public static LayerSpec attention(int index, int heads) {
        return new LayerSpec(index, LayerKind.ATTENTION, 0, 0, heads, 0);
    }

    /** An MLP layer of {@code ffn} neurons. */
    public static LayerSpec mlp(int index, int ffn) {
        return new LayerSpec(index, LayerKind.MLP, 0, 0, 0, ffn);
    }

    /** An MoE layer: {@code experts} routed experts of {@code moeFfn} neurons, a shared expert of {@code sharedFfn}. */
    public static LayerSpec moe(int index, int experts, int moeFfn, int sharedFfn) {
        return new LayerSpec(index, LayerKind.MOE, 0, 0, 0, 0, experts, moeFfn, sharedFfn);
    }

    /** d_inner = mamba heads · mamba head_dim (0 for other kinds). */
    public int dInner() {
        return Math.multiplyExact(mambaHeads, mambaHeadDim);
    }

    /** The same widths at another position (used when a child renumbers its layers). */
    public LayerSpec withIndex(int newIndex) {
        return new LayerSpec(newIndex, kind, mambaHeads, mambaHeadDim, attentionHeads, ffn, experts, moeFfn, sharedFfn);
    }
}
