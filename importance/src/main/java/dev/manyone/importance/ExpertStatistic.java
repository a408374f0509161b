package dev.manyone.importance;

import dev.manyone.formats.FormatException;

import java.util.Locale;

/**
 * How the routed experts of an MoE layer are ranked ({@code --experts-by}), from the calibration tokens routed to
 * each expert j (the k chosen per token), with {@code w_j(t)} the final routing weight of expert j for token t (after
 * renormalisation and {@code routed_scaling_factor}) and {@code y_j(t) = down_j(relu(up_j(z_t))²)} its output:
 * <ul>
 *   <li>{@code REAP} (Router-weighted Expert Activation Pruning, Lasby et al. 2025):
 *       {@code s_j = (1/|T_j|) Σ_{t ∈ T_j} w_j(t) · ‖y_j(t)‖₂}, the mean over the tokens T_j routed to j;</li>
 *   <li>{@code FREQUENCY}: {@code s_j = |T_j|}, how many calibration tokens chose j;</li>
 *   <li>{@code WEIGHT}: {@code s_j = (1/|T_j|) Σ_{t ∈ T_j} w_j(t)}, the mean routing weight over its tokens;</li>
 *   <li>{@code MASS}: {@code s_j = Σ_{t ∈ T_j} w_j(t)}, the total routing weight: ranks as the mean of w_j(t) over
 *       every calibration token with w_j(t) = 0 where j was not chosen (the golden README's "mean routing weight"
 *       baseline, whose numbers it reproduces).</li>
 * </ul>
 * Experts no calibration token chose rank after every routed expert, by ascending id (their score is 0).
 */
public enum ExpertStatistic {
    REAP("reap"), FREQUENCY("frequency"), WEIGHT("weight"), MASS("mass");

    private final String text;

    ExpertStatistic(String text) {
        this.text = text;
    }

    public String text() {
        return text;
    }

    public static ExpertStatistic parse(String s) {
        for (ExpertStatistic e : values()) {
            if (e.text.equals(s.toLowerCase(Locale.ROOT))) {
                return e;
            }
        }
        throw new FormatException(null, "--experts-by: expected reap, frequency, weight or mass, found '" + s + "'");
    }
}
