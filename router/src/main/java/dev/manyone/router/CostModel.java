package dev.manyone.router;

import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.MemoryEstimate;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.MoeConfig;
import dev.manyone.elastic.slice.Rankings;
import dev.manyone.elastic.slice.SlicePlan;
import dev.manyone.formats.DType;

import java.nio.file.Path;

/**
 * Parameters and memory of a configuration. {@link #exact} plans the child ({@code SlicePlan.of}) and asks the child
 * config's {@code ModelDescription} — the figures reported. The search calls the closed forms below thousands of
 * times; they restate ModelDescription's shapes (H = hidden, V = vocab, G = n_groups, N = state, K = conv kernel,
 * d = heads · head_dim, kv = KV heads, hd = attention head_dim) and a test checks them against it:
 * <pre>
 *   total     = V·H + (tied ? 0 : V·H) + H + Σ layers
 *   Mamba2    = H + (2d + 2GN + heads)·H + (d + 2GN)·K + (d + 2GN) + 3·heads + d + H·d
 *   attention = H + 2·heads·hd·H + 2·kv·hd·H
 *   MLP       = H + 2·F·H
 *   MoE       = H + E·H + E + E·2·I·Hm + 2·Is·H (+ 2·L·H with a latent; Hm = L or H)
 *   active    = total − Σ_MoE (E − min(E, k)) · 2·I·Hm      (a token runs k of the E routed experts)
 *   memory    = total · weight bytes + batch · (Σ_attention 2·kv·context·hd + Σ_Mamba ((d + 2GN)·(K − 1) + d·N)) · state bytes
 * </pre>
 * Memory counts <em>every</em> expert as resident (any token may route to any of them): it follows the total, not the
 * active, parameters.
 */
final class CostModel {
    private final ModelDescription parent;

    CostModel(ModelDescription parent) {
        this.parent = parent;
    }

    /** The exact parameters and memory of {@code c}, from the planned child's config. */
    static Cost exact(ModelDescription parent, Rankings rankings, Configuration c, DType weights, DType state, int batch,
                      long context) {
        SlicePlan plan = SlicePlan.of(parent, c.toChildSpec(parent), rankings, (Path) null);
        ModelDescription child = ModelDescription.of(plan.config());
        return new Cost(child.params().total(), child.params().active(), child.memory(weights, batch, context, state));
    }

    /** Parameters a token uses: {@link #params} less the routed experts it does not run (k of E per MoE layer). */
    long active(Configuration c) {
        long inactive = 0;
        for (LayerSpec l : c.layers()) {
            switch (l.kind()) {
                case MOE -> {
                    MoeConfig moe = parent.moe().orElseThrow();
                    long idle = l.experts() - Math.min(l.experts(), c.expertsPerToken());
                    inactive += idle * 2L * l.moeFfn() * moe.expertWidth(c.hidden());
                }
                case MAMBA, ATTENTION, MLP -> {
                }
            }
        }
        return params(c) - inactive;
    }

    long params(Configuration c) {
        long h = c.hidden();
        long v = parent.vocab();
        long total = v * h + (parent.tied() ? 0 : v * h) + h;
        long gn2 = 2L * parent.nGroups() * parent.ssmState();
        long hd = parent.headDim();
        long kv = parent.kvHeads();
        for (LayerSpec l : c.layers()) {
            total += h;
            switch (l.kind()) {
                case MAMBA -> {
                    long heads = l.mambaHeads();
                    long d = heads * l.mambaHeadDim();
                    total += (2 * d + gn2 + heads) * h + (d + gn2) * parent.convKernel() + (d + gn2) + 3 * heads + d + h * d;
                }
                case ATTENTION -> total += 2L * l.attentionHeads() * hd * h + 2 * kv * hd * h;
                case MLP -> total += 2L * l.ffn() * h;
                case MOE -> {
                    MoeConfig moe = parent.moe().orElseThrow();
                    long e = l.experts();
                    long hm = moe.hasLatent() ? moe.latentSize() : h;
                    total += e * h + e + e * 2L * l.moeFfn() * hm + 2L * l.sharedFfn() * h
                            + (moe.hasLatent() ? 2L * hm * h : 0);
                }
            }
        }
        return total;
    }

    MemoryEstimate memory(Configuration c, DType weights, DType stateDtype, int batch, long context) {
        long state = stateDtype.size();
        long kvBytes = 0;
        long mamba = 0;
        long gn2 = 2L * parent.nGroups() * parent.ssmState();
        for (LayerSpec l : c.layers()) {
            switch (l.kind()) {
                case ATTENTION -> kvBytes += 2L * batch * parent.kvHeads() * context * parent.headDim() * state;
                case MAMBA -> {
                    long d = l.dInner();
                    mamba += batch * ((d + gn2) * (parent.convKernel() - 1) + d * parent.ssmState()) * state;
                }
                case MLP, MOE -> {
                }
            }
        }
        return new MemoryEstimate(params(c) * weights.size(), kvBytes, mamba);
    }
}
