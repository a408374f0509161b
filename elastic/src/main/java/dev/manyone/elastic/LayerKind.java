package dev.manyone.elastic;

import dev.manyone.formats.FormatException;

import java.nio.file.Path;

/**
 * The kind of one Nemotron-H block, as {@code hybrid_override_pattern} spells it: one character per layer,
 * {@code M} for a Mamba2 mixer, {@code *} for grouped-query attention, {@code -} for a squared-ReLU MLP and
 * {@code E} for a mixture of squared-ReLU experts (Nemotron 3, {@link MoeConfig}).
 * The same kinds appear as {@code block_type} ("mamba", "attention", "mlp", "moe") in a child's
 * {@code layer_configs}.
 */
public enum LayerKind {
    MAMBA('M', "mamba"),
    ATTENTION('*', "attention"),
    MLP('-', "mlp"),
    MOE('E', "moe");

    private final char symbol;
    private final String blockType;

    LayerKind(char symbol, String blockType) {
        this.symbol = symbol;
        this.blockType = blockType;
    }

    /** The character of this kind in {@code hybrid_override_pattern}. */
    public char symbol() {
        return symbol;
    }

    /** The {@code block_type} of this kind in {@code layer_configs}. */
    public String blockType() {
        return blockType;
    }

    /** For messages: "a Mamba2 layer", "an attention layer", "an MLP layer". */
    public String aLayer() {
        return switch (this) {
            case MAMBA -> "a Mamba2 layer";
            case ATTENTION -> "an attention layer";
            case MLP -> "an MLP layer";
            case MOE -> "an MoE layer";
        };
    }

    /**
     * The kind of layer {@code index} of a {@code hybrid_override_pattern}.
     *
     * @param file the config.json, for the message
     * @throws FormatException for any character other than M, *, - and E
     */
    public static LayerKind fromSymbol(char c, int index, Path file) {
        for (LayerKind k : values()) {
            if (k.symbol == c) {
                return k;
            }
        }
        throw new FormatException(file, "hybrid_override_pattern: layer " + index + " is '" + c
                + "', expected one of M, *, -, E");
    }

    /** The kind whose {@code block_type} is {@code name}, or null. */
    static LayerKind fromBlockType(String name) {
        for (LayerKind k : values()) {
            if (k.blockType.equals(name)) {
                return k;
            }
        }
        return null;
    }
}
