package dev.manyone.elastic;

/**
 * Inference memory of a Nemotron-H model, in bytes, for a batch of sequences of a given context length.
 * Activations and workspace are not included.
 * <ul>
 *   <li>weights: parameters · bytes of the weight dtype;</li>
 *   <li>KV cache, for each attention layer: {@code 2 · batch · kv_heads · context · head_dim · bytes}
 *       (K and V of every past token);</li>
 *   <li>Mamba state, for each Mamba2 layer (independent of the context length):
 *       {@code batch · ((d_inner + 2·G·N) · (K − 1) + heads · head_dim · N) · bytes}, i.e. the last K−1 conv inputs
 *       [x | B | C] plus the SSM state [heads, head_dim, N].</li>
 * </ul>
 * Both state terms use the bytes of the state dtype.
 */
public record MemoryEstimate(long weightBytes, long kvCacheBytes, long mambaStateBytes) {

    public MemoryEstimate {
        if (weightBytes < 0 || kvCacheBytes < 0 || mambaStateBytes < 0) {
            throw new IllegalArgumentException("byte counts must be >= 0");
        }
    }

    /** weights + KV cache + Mamba state. */
    public long total() {
        return Math.addExact(Math.addExact(weightBytes, kvCacheBytes), mambaStateBytes);
    }
}
