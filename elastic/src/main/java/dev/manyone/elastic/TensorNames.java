package dev.manyone.elastic;

import java.util.OptionalInt;

/**
 * The canonical Nemotron-H tensor names, exactly as the Hugging Face Hub checkpoints spell them. Every other class
 * names tensors through this table. Linear weights are {@code [out, in]}; the only bias is {@code conv1d.bias}.
 */
public final class TensorNames {

    /** {@code [V, H]} */
    public static final String EMBEDDINGS = "backbone.embeddings.weight";
    /** {@code [H]} */
    public static final String NORM_F = "backbone.norm_f.weight";
    /** {@code [V, H]}, absent when {@code tie_word_embeddings} is true */
    public static final String LM_HEAD = "lm_head.weight";

    private static final String LAYER_PREFIX = "backbone.layers.";

    private TensorNames() {
    }

    private static String layer(int i, String suffix) {
        if (i < 0) {
            throw new IllegalArgumentException("layer index must be >= 0, got " + i);
        }
        return LAYER_PREFIX + i + "." + suffix;
    }

    /** The pre-mixer RMSNorm of every layer: {@code [H]}. */
    public static String layerNorm(int i) {
        return layer(i, "norm.weight");
    }

    // ---- Mamba2 mixer ----

    /** {@code [2*d_inner + 2*G*N + heads, H]}: rows z | x | B | C | dt. */
    public static String inProj(int i) {
        return layer(i, "mixer.in_proj.weight");
    }

    /** {@code [d_inner + 2*G*N, 1, K]} */
    public static String conv1dWeight(int i) {
        return layer(i, "mixer.conv1d.weight");
    }

    /** {@code [d_inner + 2*G*N]} */
    public static String conv1dBias(int i) {
        return layer(i, "mixer.conv1d.bias");
    }

    /** {@code [heads]} */
    public static String aLog(int i) {
        return layer(i, "mixer.A_log");
    }

    /** {@code [heads]} */
    public static String d(int i) {
        return layer(i, "mixer.D");
    }

    /** {@code [heads]} */
    public static String dtBias(int i) {
        return layer(i, "mixer.dt_bias");
    }

    /** The gated RMSNorm inside the Mamba2 mixer: {@code [d_inner]}. */
    public static String mambaNorm(int i) {
        return layer(i, "mixer.norm.weight");
    }

    /** {@code [H, d_inner]} */
    public static String outProj(int i) {
        return layer(i, "mixer.out_proj.weight");
    }

    // ---- attention ----

    /** {@code [heads*head_dim, H]} */
    public static String qProj(int i) {
        return layer(i, "mixer.q_proj.weight");
    }

    /** {@code [kv_heads*head_dim, H]} */
    public static String kProj(int i) {
        return layer(i, "mixer.k_proj.weight");
    }

    /** {@code [kv_heads*head_dim, H]} */
    public static String vProj(int i) {
        return layer(i, "mixer.v_proj.weight");
    }

    /** {@code [H, heads*head_dim]} */
    public static String oProj(int i) {
        return layer(i, "mixer.o_proj.weight");
    }

    // ---- MLP ----

    /** {@code [F, H]} */
    public static String upProj(int i) {
        return layer(i, "mixer.up_proj.weight");
    }

    /** {@code [H, F]} */
    public static String downProj(int i) {
        return layer(i, "mixer.down_proj.weight");
    }

    // ---- MoE (Nemotron 3; Hm = moe_latent_size with a latent, else H) ----

    /** The router: {@code [E, H]}. */
    public static String gate(int i) {
        return layer(i, "mixer.gate.weight");
    }

    /** The router's selection bias, F32: {@code [E]}. */
    public static String correctionBias(int i) {
        return layer(i, "mixer.gate.e_score_correction_bias");
    }

    /** Routed expert j: {@code [I, Hm]}. */
    public static String expertUp(int i, int j) {
        if (j < 0) {
            throw new IllegalArgumentException("expert index must be >= 0, got " + j);
        }
        return layer(i, "mixer.experts." + j + ".up_proj.weight");
    }

    /** Routed expert j: {@code [Hm, I]}. */
    public static String expertDown(int i, int j) {
        if (j < 0) {
            throw new IllegalArgumentException("expert index must be >= 0, got " + j);
        }
        return layer(i, "mixer.experts." + j + ".down_proj.weight");
    }

    /** The shared expert: {@code [Is, H]}. */
    public static String sharedUp(int i) {
        return layer(i, "mixer.shared_experts.up_proj.weight");
    }

    /** The shared expert: {@code [H, Is]}. */
    public static String sharedDown(int i) {
        return layer(i, "mixer.shared_experts.down_proj.weight");
    }

    /** LatentMoE only: {@code [L, H]}. */
    public static String latentIn(int i) {
        return layer(i, "mixer.fc1_latent_proj.weight");
    }

    /** LatentMoE only: {@code [H, L]}. */
    public static String latentOut(int i) {
        return layer(i, "mixer.fc2_latent_proj.weight");
    }

    /**
     * True for the tensors a checkpoint stores in F32 whatever its weight dtype: the router's correction bias
     * ("The correction bias must stay F32. Rounded to BF16, it changes which experts are chosen").
     */
    public static boolean alwaysF32(String name) {
        return name.endsWith(".mixer.gate.e_score_correction_bias");
    }

    /**
     * True for the MoE router's tensors ({@code gate.weight} and its correction bias): they are evaluated in fp32 in
     * every export, never quantized, because a changed router score changes which experts a token uses.
     */
    public static boolean isRouter(String name) {
        return name.endsWith(".mixer.gate.weight") || alwaysF32(name);
    }

    // ---- multi-token prediction ----

    /** Prefix of the multi-token-prediction head some Nemotron 3 checkpoints carry; manyone does not use it. */
    public static final String MTP_PREFIX = "mtp.";

    /** True for a tensor of the multi-token-prediction head ({@code mtp.*}), which manyone reads and drops. */
    public static boolean isMtp(String name) {
        return name != null && name.startsWith(MTP_PREFIX);
    }

    /**
     * The layer index of a {@code backbone.layers.{i}.…} name, or empty for any other name (embeddings, norm_f,
     * lm_head, or a malformed index such as {@code backbone.layers.x.} or {@code backbone.layers.01.}).
     */
    public static OptionalInt layerOf(String name) {
        if (name == null || !name.startsWith(LAYER_PREFIX)) {
            return OptionalInt.empty();
        }
        int start = LAYER_PREFIX.length();
        int dot = name.indexOf('.', start);
        if (dot <= start || dot - start > 9) {
            return OptionalInt.empty();
        }
        String digits = name.substring(start, dot);
        if (digits.length() > 1 && digits.charAt(0) == '0') {
            return OptionalInt.empty();
        }
        for (int k = 0; k < digits.length(); k++) {
            if (digits.charAt(k) < '0' || digits.charAt(k) > '9') {
                return OptionalInt.empty();
            }
        }
        return OptionalInt.of(Integer.parseInt(digits));
    }
}
