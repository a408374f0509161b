package dev.manyone.router;

import dev.manyone.elastic.MemoryEstimate;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.formats.DType;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.Safetensors;
import dev.manyone.formats.TensorSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.function.Consumer;
import java.util.function.ToDoubleFunction;

/**
 * Budget → child: the library API behind {@code manyone budgets} and {@code manyone extract --budget / --params /
 * --active-params / --memory / --latency-ms}. {@code --params} bounds the total parameters (every expert),
 * {@code --active-params} the parameters a token uses (k routed experts per MoE layer), {@code --memory} counts every
 * expert as resident.
 * <ul>
 *   <li>A trained budget of a router-trained parent: each axis's router maps the one-hot budget to logits over its
 *       candidate choices and the argmax is taken per segment (Nemotron Elastic). {@code router_trained = true}.</li>
 *   <li>Any other target — and the budgets of a rankings-only parent, by their parameter target — goes through the
 *       nested greedy search ({@link TargetSearch}) over the candidate choices (elastic.json {@code axes}, or
 *       {@link Candidates#defaults}), keeping the most importance mass ({@link ImportanceMass}).
 *       {@code router_trained = false}.</li>
 * </ul>
 * The figures reported are exact: parameters and memory of the planned child's config ({@code SlicePlan.of} +
 * {@code ModelDescription}).
 */
public final class Budgets {
    private Budgets() {
    }

    /**
     * @param weightDtype dtype of the weights in the memory figure (the parent's stored dtype, usually BF16)
     * @param stateDtype  dtype of the KV cache and Mamba state in the memory figure (F32, as {@code manyone inspect})
     * @param batch       batch of the memory figure (memory targets use their own)
     * @param context     context of the memory figure (memory targets use their own)
     * @param latency     measurement settings for latency targets
     * @param log         progress notes (probes measured, warnings); may be null
     */
    public record Options(DType weightDtype, DType stateDtype, int batch, long context, LatencyProbe.Settings latency, Consumer<String> log) {
        public Options {
            if (batch < 1 || context < 1) {
                throw new FormatException(null, "--batch and --context must be at least 1, found " + batch + " and " + context);
            }
            log = log == null ? s -> { } : log;
        }

        /** BF16 weights, F32 state (as {@code manyone inspect}), batch 1, context 4096, default latency settings, no log. */
        public static Options defaults() {
            return new Options(DType.BF16, DType.F32, 1, 4096, LatencyProbe.Settings.defaults(), null);
        }

        public Options withMemoryAt(int batch, long context) {
            return new Options(weightDtype, stateDtype, batch, context, latency, log);
        }

        public Options withWeightDtype(DType dtype) {
            return new Options(dtype, stateDtype, batch, context, latency, log);
        }

        public Options withStateDtype(DType dtype) {
            return new Options(weightDtype, dtype, batch, context, latency, log);
        }

        public Options withLatency(LatencyProbe.Settings settings) {
            return new Options(weightDtype, stateDtype, batch, context, settings, log);
        }

        public Options withLog(Consumer<String> sink) {
            return new Options(weightDtype, stateDtype, batch, context, latency, sink);
        }
    }

    /** The parent's elastic metadata (validated; a plain checkpoint gives {@link ElasticMetadata.Kind#PLAIN}). */
    public static ElasticMetadata metadata(Path parentDir, ModelDescription parent) {
        return ElasticFiles.read(parentDir, parent);
    }

    /** The candidate choices the search uses: elastic.json's {@code axes}, or the defaults when it lists none. */
    public static Map<Axis, AxisChoices> candidates(ElasticMetadata m, ModelDescription parent) {
        return m.axes().isEmpty() ? Candidates.defaults(parent) : m.axes();
    }

    /** Every budget of elastic.json with its configuration and exact cost, in file (router input) order. */
    public static List<BudgetChoice> trained(ElasticMetadata m, ModelDescription parent, Options options) {
        ChoiceSpace space = new ChoiceSpace(parent, m.rankings(), candidates(m, parent));
        ImportanceMass mass = new ImportanceMass(parent, m.rankings(), m.scores());
        CostModel costs = new CostModel(parent);
        List<BudgetChoice> out = new ArrayList<>();
        for (int k = 0; k < m.budgets().size(); k++) {
            Budget b = m.budgets().get(k);
            Map<Axis, int[]> decision = null;
            Configuration c;
            if (m.router() != null) {
                decision = m.router().decide(k, m.axes());
                c = space.configuration(space.state(decision));
            } else {
                c = searchOrFail(space, mass, costs::params, b.params(), "budget '" + b.name() + "' (" + Quantities.formatCount(b.params())
                        + " parameters)", "parameters", m.source()).configuration();
            }
            out.add(new BudgetChoice(b, k, decision, c, exact(parent, m, c, options, options.batch(), options.context()),
                    m.router() != null));
        }
        return out;
    }

    /** {@link #resolve(Path, ModelDescription, Target, Options)} for a trained budget, with default options. */
    public static ChildRequest resolve(Path parentDir, ModelDescription parent, String budgetName) {
        return resolve(parentDir, parent, Target.budget(budgetName), Options.defaults());
    }

    /**
     * The child for {@code target}. Bad metadata, an unknown budget and unreachable targets are FormatExceptions
     * (exit 2).
     *
     * @param parentDir the parent checkpoint directory (elastic.json / elastic.safetensors / rankings.json beside
     *                  config.json; its weights are used to time latency probes)
     * @param parent    the parent's description ({@code Checkpoint.model()})
     */
    public static ChildRequest resolve(Path parentDir, ModelDescription parent, Target target, Options options) {
        ElasticMetadata m = metadata(parentDir, parent);
        if (m.kind() == ElasticMetadata.Kind.PLAIN) {
            options.log().accept("no rankings beside the parent: keeping the first channels, heads, neurons and layers (identity order)");
        }
        ChoiceSpace space = new ChoiceSpace(parent, m.rankings(), candidates(m, parent));
        ImportanceMass mass = new ImportanceMass(parent, m.rankings(), m.scores());
        CostModel costs = new CostModel(parent);
        int batch = options.batch();
        long context = options.context();
        Configuration c;
        String method;
        boolean trained = false;
        OptionalDouble latency = OptionalDouble.empty();
        Map<String, String> extra = new LinkedHashMap<>();
        if (target instanceof Target.Budget b) {
            if (m.kind() == ElasticMetadata.Kind.PLAIN) {
                throw new FormatException(parentDir, "--budget " + b.name() + ": the parent has no elastic metadata ("
                        + ElasticFiles.JSON + "), so it has no trained budgets; use --params, --memory or --latency-ms");
            }
            int k = m.budgetIndex(b.name());
            if (k < 0) {
                throw new FormatException(m.source(), "--budget " + b.name() + ": no such budget; "
                        + (m.budgets().isEmpty() ? "the file lists none" : "expected one of "
                        + String.join(", ", m.budgets().stream().map(Budget::name).toList())));
            }
            if (m.router() != null) {
                c = space.configuration(space.state(m.router().decide(k, m.axes())));
                method = "router";
                trained = true;
            } else {
                double p = m.budgets().get(k).params();
                c = searchOrFail(space, mass, costs::params, p, "budget '" + b.name() + "'", "parameters", m.source()).configuration();
                method = "greedy-params";
                extra.put("manyone.target_params", Long.toString(Math.round(p)));
            }
        } else if (target instanceof Target.Params p) {
            c = searchOrFail(space, mass, costs::params, p.params(), "--params " + Quantities.formatCount(p.params()),
                    "parameters", null).configuration();
            method = "greedy-params";
            extra.put("manyone.target_params", Long.toString(p.params()));
        } else if (target instanceof Target.ActiveParams p) {
            c = searchOrFail(space, mass, costs::active, p.params(), "--active-params " + Quantities.formatCount(p.params()),
                    "active parameters", null).configuration();
            method = "greedy-active-params";
            extra.put("manyone.target_active_params", Long.toString(p.params()));
        } else if (target instanceof Target.Memory mem) {
            batch = mem.batch();
            context = mem.context();
            int fb = batch;
            long fc = context;
            c = searchOrFail(space, mass, x -> costs.memory(x, options.weightDtype(), options.stateDtype(), fb, fc).total(), mem.bytes(),
                    "--memory " + Quantities.formatBytes(mem.bytes()) + " at batch " + batch + ", context " + context,
                    "bytes", null).configuration();
            method = "greedy-memory";
            extra.put("manyone.target_memory_bytes", Long.toString(mem.bytes()));
            extra.put("manyone.target_batch", Integer.toString(batch));
            extra.put("manyone.target_context", Long.toString(context));
        } else {
            Target.Latency lt = (Target.Latency) target;
            LatencyProbe probe = new LatencyProbe(options.latency(), options.log());
            LatencySearch.Result r;
            boolean hasWeights = Files.exists(parentDir.resolve(Safetensors.SINGLE_FILE))
                    || Files.exists(parentDir.resolve(Safetensors.INDEX_FILE));
            if (hasWeights) {
                try (TensorSource weights = Safetensors.open(parentDir)) {
                    r = LatencySearch.run(space, mass, lt.ms(), probe, weights, options.log());
                }
            } else {
                r = LatencySearch.run(space, mass, lt.ms(), probe, null, options.log());
            }
            c = r.point().configuration();
            method = "greedy-latency";
            latency = OptionalDouble.of(r.ms());
            extra.put("manyone.target_latency_ms", Double.toString(lt.ms()));
            extra.put("manyone.latency_ms", String.format(Locale.ROOT, "%.4f", r.ms()));
            extra.put("manyone.latency_source", r.source());
        }
        Cost cost = exact(parent, m, c, options, batch, context);
        Map<String, String> provenance = new LinkedHashMap<>();
        provenance.put("manyone.router_trained", Boolean.toString(trained));
        provenance.put("manyone.budget", target.label());
        provenance.put("manyone.selection", method);
        provenance.put("manyone.elastic", m.kind().key());
        provenance.put("manyone.importance", m.kind() == ElasticMetadata.Kind.PLAIN ? "identity"
                : m.scores().isEmpty() ? "rank-proxy" : "scores");
        provenance.putAll(extra);
        return new ChildRequest(c.toChildSpec(parent), m.rankings(), c, target, target.label(), trained, cost.params(),
                cost.activeParams(), cost.memory(), latency, method, Map.copyOf(provenance));
    }

    /** Exact figures; also checks the search's closed forms against ModelDescription. */
    static Cost exact(ModelDescription parent, ElasticMetadata m, Configuration c, Options o, int batch, long context) {
        Cost cost = CostModel.exact(parent, m.rankings(), c, o.weightDtype(), o.stateDtype(), batch, context);
        CostModel model = new CostModel(parent);
        MemoryEstimate closed = model.memory(c, o.weightDtype(), o.stateDtype(), batch, context);
        if (model.params(c) != cost.params() || model.active(c) != cost.activeParams()
                || closed.total() != cost.memory().total()) {
            throw new IllegalStateException("cost model disagrees with ModelDescription for " + c);
        }
        return cost;
    }

    private static TargetSearch.Point searchOrFail(ChoiceSpace space, ImportanceMass mass, ToDoubleFunction<Configuration> cost,
                                                   double target, String what, String unit, Path file) {
        TargetSearch.Point p = TargetSearch.search(space, mass, cost, target, 0);
        if (p == null) {
            double smallest = TargetSearch.end(space, mass, cost).cost();
            throw new FormatException(file, what + ": no configuration of the candidate choices is that small; the smallest has "
                    + String.format(Locale.ROOT, "%,d", Math.round(smallest)) + " " + unit);
        }
        return p;
    }
}
