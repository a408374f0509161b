package dev.manyone.router;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.NemotronHConfig;
import dev.manyone.elastic.slice.SlicePlan;
import dev.manyone.elastic.slice.SlicedWeights;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.TensorSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The {@code --latency-ms} search. Decode latency is measured ({@link LatencyProbe}), never guessed:
 * <ol>
 *   <li>probes: a fixed set of configurations independent of the target — the largest, the smallest, smallest depth
 *       at full widths, smallest widths at full depth, and the point of the parameter path at 60% of the parameters —
 *       are measured, and {@link LatencyModel} is fitted to them;</li>
 *   <li>the greedy path ({@link TargetSearch}) is walked with the predicted latency as its cost, to the first
 *       configuration predicted within the target;</li>
 *   <li>that configuration is measured; while the measurement is above the target the walk continues one step at a
 *       time, measuring each (at most {@value #MAX_WALK} steps). The answer is the first configuration at or after
 *       the predicted one that <em>measures</em> within the target. For two targets the smaller one starts no
 *       earlier on the same path, so the answers are nested (given the cached measurements).</li>
 * </ol>
 * A parent whose fp32 export exceeds {@link LatencyProbe.Settings#maxProbeBytes()} (a 12B parent: 49 GB) is not
 * exported: the probes are children of a <em>scaled proxy</em> — hidden, vocabulary, FFN and head counts divided by
 * the smallest power of two s that fits, head dims, layers and pattern unchanged — with synthetic weights; the fitted
 * per-layer and per-call terms carry over and the per-parameter term is extrapolated to the real sizes. The answer is
 * then a prediction, labelled as such ({@code latency_source: "predicted-from-proxy"}), not a measurement.
 */
final class LatencySearch {
    static final int MAX_WALK = 32;

    record Result(TargetSearch.Point point, double ms, String source, LatencyModel model, int measured, int cacheHits) {
    }

    private LatencySearch() {
    }

    static Result run(ChoiceSpace space, ImportanceMass mass, double targetMs, LatencyProbe probe,
                      TensorSource parentWeights, Consumer<String> log) {
        ModelDescription parent = space.parent();
        CostModel costs = new CostModel(parent);
        int scale = proxyScale(parent, probe.settings().maxProbeBytes());
        ModelDescription proxy = scale == 1 ? parent : ModelDescription.of(proxyConfig(parent, scale));
        if (scale > 1) {
            log.accept("parent too large to time directly (" + Quantities.formatBytes(4 * parent.params().total())
                    + " as fp32): probing a proxy with widths / " + scale + " and extrapolating");
        }

        // 1. probes
        List<Configuration> probes = new ArrayList<>();
        int[] top = space.top();
        probes.add(space.configuration(top));
        int[] bottom = new int[top.length];
        probes.add(space.configuration(bottom));
        int depthUnit = -1;
        for (int u = 0; u < top.length; u++) {
            if (space.units().get(u).axis() == Axis.DEPTH) {
                depthUnit = u;
            }
        }
        if (depthUnit >= 0) {
            int[] s = top.clone();
            s[depthUnit] = 0;
            probes.add(space.configuration(s));
            s = bottom.clone();
            s[depthUnit] = top[depthUnit];
            probes.add(space.configuration(s));
        }
        double topParams = costs.params(probes.get(0));
        TargetSearch.Point mid = TargetSearch.search(space, mass, costs::params, 0.6 * topParams, 0);
        if (mid != null) {
            probes.add(mid.configuration());
        }
        Map<String, Configuration> unique = new LinkedHashMap<>();
        for (Configuration c : probes) {
            unique.putIfAbsent(c.toString(), c);
        }
        int n = unique.size();
        long[] px = new long[n];
        int[] lx = new int[n];
        double[] ms = new double[n];
        int k = 0;
        for (Configuration c : unique.values()) {
            NemotronHConfig config = scale == 1 ? childConfig(space, c) : proxyChild(proxy, c, scale);
            px[k] = ModelDescription.of(config).params().total();
            lx[k] = c.layers().size();
            ms[k] = measure(probe, space, c, config, scale, parentWeights);
            k++;
        }
        LatencyModel model = LatencyModel.fit(px, lx, ms, scale);
        log.accept(String.format(Locale.ROOT, "latency model from %d probes: %.4f ms + %.3g ms/parameter x params + %.4f ms/layer x layers%s",
                n, model.a(), model.perParam(), model.perLayer(), scale > 1 ? " (proxy scale " + scale + ")" : ""));

        // 2. predicted walk
        // + a vanishing tie-break (1e-9 ms at the full size) so that every shrinking step saves some predicted time and
        // the path runs down to the smallest configuration even where the fit says width does not matter
        java.util.function.ToDoubleFunction<Configuration> predicted = c -> model.predict(costs.params(c), c.layers().size())
                + 1e-9 * costs.params(c) / topParams;
        TargetSearch.Point p = TargetSearch.search(space, mass, predicted, targetMs, 0);
        if (p == null) {
            TargetSearch.Point end = TargetSearch.end(space, mass, predicted);
            if (scale == 1) { // the fit is not exact: the smallest configuration may still measure within the target
                double m = measure(probe, space, end.configuration(), childConfig(space, end.configuration()), 1, parentWeights);
                if (m <= targetMs) {
                    return new Result(end, m, "measured", model, probe.measured(), probe.cacheHits());
                }
                throw new FormatException(null, String.format(Locale.ROOT, "--latency-ms %s: even the smallest configuration "
                        + "of the candidate choices measures %.3f ms per decode step on this machine", trim(targetMs), m));
            }
            throw new FormatException(null, String.format(Locale.ROOT, "--latency-ms %s: no configuration of the candidate "
                    + "choices is predicted that fast; the smallest is predicted at %.3f ms per decode step", trim(targetMs),
                    end.cost()));
        }
        if (scale > 1) {
            return new Result(p, p.cost(), "predicted-from-proxy", model, probe.measured(), probe.cacheHits());
        }
        // 3. verify by measurement, walking on while too slow
        for (int walked = 0; walked <= MAX_WALK; walked++) {
            double m = measure(probe, space, p.configuration(), childConfig(space, p.configuration()), 1, parentWeights);
            if (m <= targetMs) {
                return new Result(p, m, "measured", model, probe.measured(), probe.cacheHits());
            }
            TargetSearch.Point next = TargetSearch.search(space, mass, predicted, Double.POSITIVE_INFINITY, p.steps() + 1);
            if (next == null || next.steps() <= p.steps()) {
                throw new FormatException(null, String.format(Locale.ROOT, "--latency-ms %s: even the smallest configuration "
                        + "of the candidate choices measures %.3f ms per decode step on this machine", trim(targetMs), m));
            }
            p = next;
        }
        throw new FormatException(null, "--latency-ms " + trim(targetMs) + ": no configuration within " + MAX_WALK
                + " steps of the prediction measures within the target; the latency model does not fit this machine");
    }

    private static String trim(double v) {
        return Quantities.formatCount(v);
    }

    private static double measure(LatencyProbe probe, ChoiceSpace space, Configuration c, NemotronHConfig config, int scale,
                                  TensorSource parentWeights) {
        if (scale == 1 && parentWeights != null) {
            SlicePlan plan = SlicePlan.of(space.parent(), c.toChildSpec(space.parent()), space.rankings(), (Path) null);
            return probe.measure(plan.config(), new SlicedWeights(parentWeights, plan));
        }
        return probe.measure(config, new SyntheticWeights(ModelDescription.of(config)));
    }

    static NemotronHConfig childConfig(ChoiceSpace space, Configuration c) {
        return space.parent().config().withLayers(c.hidden(), c.layers());
    }

    /** The smallest power of two s such that the proxy's fp32 weights fit in {@code maxBytes} (1: no proxy). */
    static int proxyScale(ModelDescription parent, long maxBytes) {
        int s = 1;
        while (s < 1 << 12) {
            ModelDescription m = s == 1 ? parent : ModelDescription.of(proxyConfig(parent, s));
            if (4 * m.params().total() <= maxBytes) {
                return s;
            }
            s *= 2;
        }
        return s;
    }

    private static int down(int w, int s, int granule) {
        int v = (int) Math.ceil((double) w / s / granule) * granule;
        return Math.max(granule, Math.min(w, v));
    }

    /** The parent with hidden, vocab, FFN and head counts divided by {@code s}; head dims, layers, pattern kept. */
    static NemotronHConfig proxyConfig(ModelDescription parent, int s) {
        NemotronHConfig c = parent.config();
        int g = parent.nGroups();
        int kv = parent.kvHeads();
        return c.with(o -> {
            o.put("hidden_size", down(c.hiddenSize(), s, 1));
            o.put("vocab_size", down(c.vocabSize(), s, 1));
            o.put("intermediate_size", down(c.intermediateSize(), s, 1));
            o.put("mamba_num_heads", down(c.mambaNumHeads(), s, g));
            o.put("num_attention_heads", down(c.numAttentionHeads(), s, kv));
            o.put("head_dim", c.headDim());
            if (o.has("layer_configs")) {
                ArrayNode lc = (ArrayNode) o.get("layer_configs");
                for (int i = 0; i < lc.size(); i++) {
                    ObjectNode e = (ObjectNode) lc.get(i);
                    if (e.has("mamba_num_heads")) {
                        e.put("mamba_num_heads", down(e.get("mamba_num_heads").asInt(), s, g));
                    }
                    if (e.has("num_attention_heads")) {
                        e.put("num_attention_heads", down(e.get("num_attention_heads").asInt(), s, kv));
                    }
                    if (e.has("intermediate_size")) {
                        e.put("intermediate_size", down(e.get("intermediate_size").asInt(), s, 1));
                    }
                }
            }
        });
    }

    /** The proxy's image of configuration {@code c}: the same layers, widths divided by s as for the proxy parent. */
    private static Configuration proxyConfiguration(ModelDescription proxy, Configuration c, int s) {
        List<LayerSpec> layers = new ArrayList<>();
        for (LayerSpec l : c.layers()) {
            LayerSpec p = proxy.layers().get(l.index());
            layers.add(switch (l.kind()) {
                case MAMBA -> LayerSpec.mamba(l.index(), Math.min(p.mambaHeads(), down(l.mambaHeads(), s, proxy.nGroups())),
                        l.mambaHeadDim());
                case ATTENTION -> LayerSpec.attention(l.index(), Math.min(p.attentionHeads(), down(l.attentionHeads(), s, proxy.kvHeads())));
                case MLP -> LayerSpec.mlp(l.index(), Math.min(p.ffn(), down(l.ffn(), s, 1)));
                // the proxy does not scale MoE widths (proxyConfig keeps experts and expert FFNs): the child's own
                case MOE -> LayerSpec.moe(l.index(), Math.min(p.experts(), l.experts()), Math.min(p.moeFfn(), l.moeFfn()),
                        Math.min(p.sharedFfn(), l.sharedFfn()));
            });
        }
        return new Configuration(Math.min(proxy.hidden(), down(c.hidden(), s, 1)), layers, c.expertsPerToken());
    }

    private static NemotronHConfig proxyChild(ModelDescription proxy, Configuration c, int s) {
        Configuration pc = proxyConfiguration(proxy, c, s);
        return proxy.config().withLayers(pc.hidden(), pc.layers());
    }
}
