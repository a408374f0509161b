package dev.manyone.elastic;

import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * Exact parameter counts of a Nemotron-H model, computed from the tensor shapes of {@link ModelDescription}.
 *
 * @param total      every parameter: embeddings + lmHead + finalNorm + the sum of perLayer
 * @param active     the parameters one token uses: total less the routed experts it is not routed to (k of E per
 *                   MoE layer); equal to total for a dense model
 * @param embeddings {@code backbone.embeddings.weight}, V·H
 * @param lmHead     {@code lm_head.weight}, V·H, or 0 when the embeddings are tied
 * @param finalNorm  {@code backbone.norm_f.weight}, H
 * @param perLayer   each layer, its pre-mixer norm included
 * @param perKind    the sum of perLayer by kind; every kind is present (0 when the model has none)
 */
public record ParamCount(long total, long active, long embeddings, long lmHead, long finalNorm, List<Long> perLayer,
                         Map<LayerKind, Long> perKind) {

    public ParamCount {
        perLayer = List.copyOf(perLayer);
        if (active <= 0 || active > total) {
            throw new IllegalArgumentException("active parameters " + active + " outside (0, total " + total + "]");
        }
        EnumMap<LayerKind, Long> kinds = new EnumMap<>(LayerKind.class);
        for (LayerKind k : LayerKind.values()) {
            kinds.put(k, perKind.getOrDefault(k, 0L));
        }
        perKind = Collections.unmodifiableMap(kinds);
        long sum = Math.addExact(Math.addExact(embeddings, lmHead), finalNorm);
        long layers = 0;
        for (long n : perLayer) {
            layers = Math.addExact(layers, n);
        }
        long byKind = 0;
        for (long n : kinds.values()) {
            byKind = Math.addExact(byKind, n);
        }
        if (Math.addExact(sum, layers) != total || byKind != layers) {
            throw new IllegalArgumentException("inconsistent parameter counts: total " + total + ", parts "
                    + (sum + layers) + ", layers " + layers + ", by kind " + byKind);
        }
    }

    /** Parameters of the layers alone. */
    public long layers() {
        return total - embeddings - lmHead - finalNorm;
    }

    /** This count as a fraction of {@code parent}'s total. */
    public double fractionOf(ParamCount parent) {
        return (double) total / parent.total;
    }
}
