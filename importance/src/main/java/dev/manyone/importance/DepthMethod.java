package dev.manyone.importance;

import dev.manyone.formats.FormatException;

import java.util.Locale;

/**
 * How layers are scored (higher is more important).
 * <ul>
 *   <li>{@code NMSE}: Nemotron Elastic eq. 5, the normalized MSE of the logits with layer j removed,
 *       {@code s_j = Σ (M_full − M_−j)² / Σ M_full²} over every calibration token and vocabulary entry;</li>
 *   <li>{@code NMSE_ITERATIVE}: the same, repeated: remove the least important layer, re-score the rest with it
 *       removed (still against the full model); a layer's score is its NMSE when it was removed, and the ranking is
 *       the reverse of the removal order (the last layer standing scores the NMSE of the model with no layers);</li>
 *   <li>{@code COSINE}: the cosine distance between a layer's input and output residual stream, aggregated like every
 *       activation score ({@link Aggregation}); one forward pass, no layer-removed runs.</li>
 * </ul>
 */
public enum DepthMethod {
    NMSE("nmse"), NMSE_ITERATIVE("nmse-iterative"), COSINE("cosine");

    private final String text;

    DepthMethod(String text) {
        this.text = text;
    }

    public String text() {
        return text;
    }

    public boolean needsLogits() {
        return this != COSINE;
    }

    public static DepthMethod parse(String s) {
        for (DepthMethod d : values()) {
            if (d.text.equals(s.toLowerCase(Locale.ROOT))) {
                return d;
            }
        }
        throw new FormatException(null, "--depth: expected nmse, nmse-iterative or cosine, found '" + s + "'");
    }
}
