package dev.manyone.router;

import dev.manyone.elastic.MemoryEstimate;
import dev.manyone.elastic.slice.ChildSpec;
import dev.manyone.elastic.slice.Rankings;

import java.util.Map;
import java.util.OptionalDouble;

/**
 * A child to extract, resolved from a budget or a target by {@link Budgets#resolve}: pass {@code spec} and
 * {@code rankings} to {@code SlicePlan.of}, and {@code provenance} into the child's metadata.
 *
 * @param label         the budget name or the target ({@code params-7.5B}, {@code memory-20GiB-ctx131072-b8},
 *                      {@code latency-12ms})
 * @param routerTrained true only for a trained budget resolved through the parent's router
 * @param params        exact parameters of the child (total: every expert)
 * @param activeParams  the parameters a token uses (the total less the routed experts it does not run)
 * @param memory        its inference memory, for the target's batch and context (memory targets) or the options'
 * @param latencyMs     decode-step latency for latency targets (measured, or predicted for proxied parents)
 * @param method        how the configuration was chosen: {@code router}, {@code greedy-params},
 *                      {@code greedy-active-params}, {@code greedy-memory}, {@code greedy-latency}
 * @param provenance    {@code manyone.router_trained}, {@code manyone.budget}, {@code manyone.selection}, … for the
 *                      child's metadata
 */
public record ChildRequest(ChildSpec spec, Rankings rankings, Configuration configuration, Target target, String label,
                           boolean routerTrained, long params, long activeParams, MemoryEstimate memory, OptionalDouble latencyMs,
                           String method, Map<String, String> provenance) {
}
