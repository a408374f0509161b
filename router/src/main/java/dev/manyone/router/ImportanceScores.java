package dev.manyone.router;

import java.util.Map;

/**
 * Raw importance scores behind the rankings (optional in elastic.safetensors, tensors {@code scores.*}): one
 * non-negative finite score per item, indexed by the item's original index (not by rank). When present for an axis,
 * the search weighs kept items by these scores; otherwise it uses the rank proxy (see {@link ImportanceMass}).
 * Any array may be null (absent).
 */
public record ImportanceScores(float[] hidden, float[] layers, Map<Integer, Layer> perLayer) {

    /** One layer's scores; arrays of other kinds, and absent ones, are null. */
    public record Layer(float[] mambaHeads, float[] mambaHeadChannels, float[] attentionHeads, float[] ffn) {
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
            if (l.mambaHeads != null || l.mambaHeadChannels != null || l.attentionHeads != null || l.ffn != null) {
                return false;
            }
        }
        return true;
    }
}
