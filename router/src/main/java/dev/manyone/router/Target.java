package dev.manyone.router;

import dev.manyone.formats.FormatException;

/**
 * What a child must meet. A trained {@link Budget budget} of the parent resolves through its router; the other targets
 * (and budgets of a parent without a router) go through the nested search and give "not router-trained" children.
 */
public sealed interface Target {

    /** A trained budget of elastic.json, by name ({@code extract --budget 9B}). */
    record Budget(String name) implements Target {
    }

    /** At most {@code params} parameters ({@code --params 7.5B}). */
    record Params(long params) implements Target {
    }

    /**
     * At most {@code params} <em>active</em> parameters ({@code --active-params 2.8B}): what a token uses — the total
     * less, in every MoE layer, the routed experts it does not run (k of E run). Equal to {@link Params} for a dense
     * parent.
     */
    record ActiveParams(long params) implements Target {
    }

    /**
     * At most {@code bytes} of inference memory — weights + KV cache + Mamba state — for {@code batch} sequences of
     * {@code context} tokens ({@code --memory 20GiB --context 131072 --batch 8}).
     */
    record Memory(long bytes, long context, int batch) implements Target {
    }

    /** At most {@code ms} per single-token decode step, batch 1, measured with ONNX Runtime here ({@code --latency-ms 12}). */
    record Latency(double ms) implements Target {
    }

    static Target budget(String name) {
        if (name == null || name.isBlank()) {
            throw new FormatException(null, "--budget: expected a budget name, found '" + name + "'");
        }
        return new Budget(name);
    }

    /** {@code --params 7.5B}. */
    static Target params(String text) {
        return new Params(Quantities.count(text, "--params"));
    }

    /** {@code --active-params 2.8B}. */
    static Target activeParams(String text) {
        return new ActiveParams(Quantities.count(text, "--active-params"));
    }

    /** {@code --memory 20GiB --context 131072 --batch 8}. */
    static Target memory(String text, long context, int batch) {
        if (context < 1 || batch < 1) {
            throw new FormatException(null, "--context and --batch must be at least 1, found " + context + " and " + batch);
        }
        return new Memory(Quantities.bytes(text, "--memory"), context, batch);
    }

    /** {@code --latency-ms 12}. */
    static Target latencyMs(double ms) {
        if (!(ms > 0) || Double.isInfinite(ms)) {
            throw new FormatException(null, "--latency-ms: expected a positive number of milliseconds, found " + ms);
        }
        return new Latency(ms);
    }

    /** A short label: the budget name, {@code params-7.5B}, {@code active-params-2.8B}, {@code memory-20GiB-ctx131072-b8}, {@code latency-12ms}. */
    default String label() {
        if (this instanceof Budget b) {
            return b.name();
        }
        if (this instanceof Params p) {
            return "params-" + Quantities.formatCount(p.params());
        }
        if (this instanceof ActiveParams p) {
            return "active-params-" + Quantities.formatCount(p.params());
        }
        if (this instanceof Memory m) {
            return "memory-" + Quantities.formatBytes(m.bytes()) + "-ctx" + m.context() + "-b" + m.batch();
        }
        Latency l = (Latency) this;
        return "latency-" + Quantities.formatCount(l.ms()) + "ms";
    }
}
