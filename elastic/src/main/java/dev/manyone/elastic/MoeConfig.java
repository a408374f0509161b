package dev.manyone.elastic;

/**
 * The model-wide settings of the MoE ({@code E}) layers of a Nemotron 3 config (golden README, "MoE layers"): the
 * per-layer widths (experts, expert FFN, shared FFN) are in {@link LayerSpec}; these are the same for every layer.
 * <pre>
 *   s   = sigmoid(h · gate.weightᵀ)                  router in fp32
 *   sel = s + e_score_correction_bias                 the bias only selects
 *   n_group > 1: group score = sum of its two largest sel; keep the topk_group best groups, others sel = −inf
 *   chosen = top-k of sel;  w = s[chosen] (/ (Σ w + 1e-20) if norm_topk_prob) · routed_scaling_factor
 *   z = fc1_latent(h) if latent else h;  routed = Σ w_j · down_j(relu(up_j(z))²);  fc2_latent(routed) if latent
 *   moe(h) = routed + shared_down(relu(shared_up(h))²)
 * </pre>
 *
 * @param expertsPerToken     k, {@code num_experts_per_tok}
 * @param routerGroups        {@code n_group} (not {@code n_groups}, the Mamba group count); 1 = no grouping
 * @param topkGroup           {@code topk_group}: how many router groups stay eligible
 * @param normTopkProb        {@code norm_topk_prob}: renormalise the chosen weights
 * @param routedScalingFactor {@code routed_scaling_factor}
 * @param latentSize          {@code moe_latent_size}, or 0 when the model has no latent (Nano 3); Super has one
 */
public record MoeConfig(int expertsPerToken, int routerGroups, int topkGroup, boolean normTopkProb,
                        double routedScalingFactor, int latentSize) {

    /** Added to the sum of the chosen weights before renormalising, as Hugging Face does. */
    public static final double NORM_EPSILON = 1e-20;

    public MoeConfig {
        if (expertsPerToken <= 0 || routerGroups <= 0 || topkGroup <= 0 || latentSize < 0
                || !(routedScalingFactor > 0) || Double.isInfinite(routedScalingFactor)) {
            throw new IllegalArgumentException("invalid MoE settings: k " + expertsPerToken + ", n_group "
                    + routerGroups + ", topk_group " + topkGroup + ", scale " + routedScalingFactor + ", latent "
                    + latentSize);
        }
    }

    public boolean hasLatent() {
        return latentSize > 0;
    }

    /** The width the routed experts read and write: the latent width, or {@code hidden}. */
    public int expertWidth(int hidden) {
        return hasLatent() ? latentSize : hidden;
    }

    /** The same settings with another k (a child may shrink {@code num_experts_per_tok}). */
    public MoeConfig withExpertsPerToken(int k) {
        return new MoeConfig(k, routerGroups, topkGroup, normTopkProb, routedScalingFactor, latentSize);
    }
}
