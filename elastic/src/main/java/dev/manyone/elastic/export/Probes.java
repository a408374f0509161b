package dev.manyone.elastic.export;

/**
 * Names of the extra graph outputs of a probe export ({@link ExportOptions#probes()}), the activations that
 * importance estimation aggregates. Every probe is float [batch, seq, width].
 * <pre>
 *   probe.embed              [H]        the embeddings (residual stream before layer 0)
 *   probe.i.norm             [H]        layer i's pre-mixer RMSNorm output        → hidden channels
 *   probe.i.hidden           [H]        the residual stream after layer i         → depth (cosine distance)
 *   probe.i.mamba_x          [d_inner]  the x part of layer i's in_proj output     → Mamba head channels, heads
 *   probe.i.attn             [heads·hd] layer i's o_proj input (attention output)  → attention query heads
 *   probe.i.ffn              [F]        layer i's down_proj input, after relu²     → FFN neurons
 *   probe.i.moe_weights      [E]        MoE layer i's final routing weight of each expert (after renormalisation
 *                                       and routed_scaling_factor), 0 where the expert was not chosen → experts
 *   probe.i.expert_norm      [E]        ‖down_j(relu(up_j(z))²)‖₂ of each chosen expert j (unweighted; in the
 *                                       latent space with a latent), 0 where not chosen              → experts (REAP)
 *   probe.i.expert_ffn       [E·I]      each expert's down_proj input after relu², expert-major, 0 where the
 *                                       expert was not chosen (dense: for calibration only)           → expert_ffn
 *   probe.i.shared_ffn       [Is]       the shared expert's down_proj input, after relu²              → shared_ffn
 *   probe.norm_f             [H]        the final RMSNorm output                   → hidden channels
 * </pre>
 */
public final class Probes {
    public static final String EMBED = "probe.embed";
    public static final String NORM_F = "probe.norm_f";

    private Probes() {
    }

    public static String norm(int i) {
        return "probe." + i + ".norm";
    }

    public static String hidden(int i) {
        return "probe." + i + ".hidden";
    }

    public static String mambaX(int i) {
        return "probe." + i + ".mamba_x";
    }

    public static String attention(int i) {
        return "probe." + i + ".attn";
    }

    public static String ffn(int i) {
        return "probe." + i + ".ffn";
    }

    public static String moeWeights(int i) {
        return "probe." + i + ".moe_weights";
    }

    public static String expertNorm(int i) {
        return "probe." + i + ".expert_norm";
    }

    public static String expertFfn(int i) {
        return "probe." + i + ".expert_ffn";
    }

    public static String sharedFfn(int i) {
        return "probe." + i + ".shared_ffn";
    }
}
