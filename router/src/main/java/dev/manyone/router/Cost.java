package dev.manyone.router;

import dev.manyone.elastic.MemoryEstimate;

/**
 * The size of a configuration: exact parameters (total, and active: what a token uses, the total less the routed
 * experts it does not run; equal to the total for a dense model) and the inference memory (weights of every expert +
 * KV cache + Mamba state, see {@link MemoryEstimate}) for the batch and context it was computed for.
 */
public record Cost(long params, long activeParams, MemoryEstimate memory) {
}
