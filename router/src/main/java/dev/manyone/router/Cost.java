package dev.manyone.router;

import dev.manyone.elastic.MemoryEstimate;

/**
 * The size of a configuration: exact parameters and the inference memory (weights + KV cache + Mamba state, see
 * {@link MemoryEstimate}) for the batch and context it was computed for.
 */
public record Cost(long params, MemoryEstimate memory) {
}
