package dev.manyone.router;

import java.util.Map;

/**
 * Raw importance scores behind the rankings (optional in elastic.safetensors, tensors {@code scores.*}): one
 * non-negative finite score per item, indexed by the item's original index (not by rank). When present for an axis,
 * the search weighs kept items by these scores; otherwise it uses the rank proxy (see {@link ImportanceMass}).
 * Any array may be null (absent).
 */
public record ImportanceScores(float[] hidden, float[] layers, Map<Integer, Layer> perLayer) {

    /**
     * One layer's scores; arrays of other kinds, and absent ones, are null. An MoE layer has {@code experts} [E],
     * {@code expertFfn} [E][I] (per expert, by original expert id) and {@code sharedFfn} [Is].
     */
    public record Layer(float[] mambaHeads, float[] mambaHeadChannels, float[] attentionHeads, float[] ffn,
                        float[] experts, float[][] expertFfn, float[] sharedFfn) {

        /** A dense layer's scores. */
        public Layer(float[] mambaHeads, float[] mambaHeadChannels, float[] attentionHeads, float[] ffn) {
            this(mambaHeads, mambaHeadChannels, attentionHeads, ffn, null, null, null);
        }

        boolean isEmpty() {
            return mambaHeads == null && mambaHeadChannels == null && attentionHeads == null && ffn == null
                    && experts == null && expertFfn == null && sharedFfn == null;
        }
    }

    public static final ImportanceScores NONE = new ImportanceScores(null, null, Map.of());

    public Layer layer(int i) {
        return perLayer.get(i);
    }

    public boolean isEmpty() {
        if (hidden != null || layers != null) {
            return false;
        }
        for (Layer l : perLayer.values()) {
            if (!l.isEmpty()) {
                return false;
            }
        }
        return true;
    }
}
