package dev.manyone.elastic.export;

/**
 * The deployment contract's value names, as ONNX Runtime GenAI and the ONNX Runtime model builders name recurrent
 * state. {@code i} is the model's layer index (0-based, in the exported model's own numbering).
 * <pre>
 *   input_ids                               int64 [batch, seq]
 *   past_key_values.i.key / .value          float [batch, kv_heads, past_seq, head_dim]    attention layers
 *   past_key_values.i.conv_state            float [batch, d_inner + 2·G·N, conv_kernel-1]  Mamba layers
 *   past_key_values.i.recurrent_state       float [batch, mamba_heads, ssm_state, head_dim] Mamba layers
 *   logits                                  float [batch, seq, vocab]
 *   present.i.key / .value / .conv_state / .recurrent_state    the same shapes, past_seq + seq for K and V
 * </pre>
 */
public final class StateNames {
    public static final String INPUT_IDS = "input_ids";
    public static final String LOGITS = "logits";

    private StateNames() {
    }

    public static String pastKey(int i) {
        return "past_key_values." + i + ".key";
    }

    public static String pastValue(int i) {
        return "past_key_values." + i + ".value";
    }

    public static String pastConv(int i) {
        return "past_key_values." + i + ".conv_state";
    }

    public static String pastRecurrent(int i) {
        return "past_key_values." + i + ".recurrent_state";
    }

    /** The output that carries the state of input {@code past} to the next call. */
    public static String present(String past) {
        if (!past.startsWith("past_key_values.")) {
            throw new IllegalArgumentException("not a state input: " + past);
        }
        return "present." + past.substring("past_key_values.".length());
    }
}
