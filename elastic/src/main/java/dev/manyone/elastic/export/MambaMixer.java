package dev.manyone.elastic.export;

import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.NemotronHConfig;
import dev.manyone.elastic.TensorNames;
import dev.manyone.formats.onnx.Attrs;
import dev.manyone.formats.onnx.ElemType;
import dev.manyone.formats.onnx.GraphBuilder;
import dev.manyone.formats.onnx.OpSchemas;

import java.util.List;

/**
 * The Mamba2 mixer of one layer (golden README, "Mamba2 mixer"; heads h, head_dim P, d_inner = h·P, G groups,
 * N state, K conv kernel):
 * <ol>
 *   <li>in_proj output splits z [d_inner] | x [d_inner] | B [G·N] | C [G·N] | dt [heads]; x is head-major, B and C
 *       group-major;</li>
 *   <li>[x | B | C] goes through a causal depthwise conv1d (K−1 steps of left context, with bias) and a SiLU;</li>
 *   <li>dt = softplus(dt + dt_bias), clamped to time_step_limit; A = −exp(A_log);</li>
 *   <li>head h uses group h // (heads / G): s_t = exp(dt_t·A_h)·s_{t−1} + dt_t·x_t[h,p]·B_t[g,n];
 *       y_t[h,p] = Σ_n s_t[h,p,n]·C_t[g,n] + D_h·x_t[h,p];</li>
 *   <li>gated RMSNorm: g = y · silu(z), then an RMS over each of the G groups of d_inner/G channels, times
 *       norm.weight; then out_proj.</li>
 * </ol>
 * Two implementations of steps 2 and 4, chosen at export:
 * <ul>
 *   <li>CONTRIB — com.microsoft {@code CausalConvWithState} (activation silu) and {@code LinearAttention}
 *       (update_rule "gated", scale 1): query = C with G heads, key = B with G heads (each shared by heads/G value
 *       heads), value = dt·x, decay = dt·A in log space, state [batch, heads, N, P];</li>
 *   <li>PORTABLE — standard ops: {@code Conv} (group = channels) over [past | new] and a {@code Scan} over time
 *       carrying the state [batch, heads, N, P].</li>
 * </ul>
 */
final class MambaMixer {
    private final NemotronHGraph graph;
    private final GraphBuilder g;
    private final LayerSpec layer;
    private final ExportOptions.Mamba impl;
    private final int i;
    private final int heads;
    private final int p;
    private final int dInner;
    private final int groups;
    private final int n;
    private final int k;
    private final int convDim;

    MambaMixer(NemotronHGraph graph, LayerSpec layer, ExportOptions.Mamba impl) {
        ModelDescription m = graph.model();
        this.graph = graph;
        this.g = graph.g;
        this.layer = layer;
        this.impl = impl;
        this.i = layer.index();
        this.heads = layer.mambaHeads();
        this.p = layer.mambaHeadDim();
        this.dInner = layer.dInner();
        this.groups = m.nGroups();
        this.n = m.ssmState();
        this.k = m.convKernel();
        this.convDim = dInner + 2 * groups * n;
    }

    /** u: the normed residual stream [T, H] → the mixer output [T, H]. */
    String build(String u) {
        ModelDescription m = graph.model();
        NemotronHConfig c = m.config();
        int h = m.hidden();
        int gn = groups * n;
        // [T, 2·d_inner + 2·G·N + heads]
        String proj = graph.linear(u, TensorNames.inProj(i), 2L * dInner + 2L * gn + heads, h);
        List<String> zXbcDt = g.ops("Split", 3, Attrs.none().i("axis", 1), proj,
                g.constantInt64("split", dInner, convDim, heads));
        String z = zXbcDt.get(0);                                                  // [T, d_inner]
        if (graph.options().probes()) {                                            // x: the first d_inner of xBC
            String xPart = g.op("Slice", Attrs.none(), zXbcDt.get(1), g.constantInt64("starts", 0),
                    g.constantInt64("ends", dInner), g.constantInt64("axes", 1));
            graph.probe(Probes.mambaX(i), xPart, dInner);
        }
        String xbc = graph.toBatchSeq(zXbcDt.get(1), convDim);                     // [b, s, conv_dim]
        String dtRaw = graph.toBatchSeq(zXbcDt.get(2), heads);                     // [b, s, heads]

        String pastConv = g.input(StateNames.pastConv(i), ElemType.FLOAT, "batch", (long) convDim, (long) (k - 1));
        String pastSsm = g.input(StateNames.pastRecurrent(i), ElemType.FLOAT, "batch", (long) heads, (long) n, (long) p);
        g.output(StateNames.present(pastConv), ElemType.FLOAT, "batch", (long) convDim, (long) (k - 1));
        g.output(StateNames.present(pastSsm), ElemType.FLOAT, "batch", (long) heads, (long) n, (long) p);

        String conv = convolution(xbc, pastConv);                                  // [b, s, conv_dim], after SiLU
        List<String> xBC = g.ops("Split", 3, Attrs.none().i("axis", 2), conv, g.constantInt64("split", dInner, gn, gn));
        String x = xBC.get(0);                                                     // [b, s, d_inner]
        String bMat = xBC.get(1);                                                  // [b, s, G·N]
        String cMat = xBC.get(2);                                                  // [b, s, G·N]

        // dt = softplus(dt + dt_bias) [b, s, heads], clamped to time_step_limit where it is not [0, ∞)
        String dt = g.op("Softplus", Attrs.none(), g.op("Add", Attrs.none(), dtRaw, graph.weight(TensorNames.dtBias(i), heads)));
        dt = clamp(dt, c);
        // A = −exp(A_log) [heads]; decay = dt·A (log space) [b, s, heads]
        String a = g.op("Neg", Attrs.none(), g.op("Exp", Attrs.none(), graph.weight(TensorNames.aLog(i), heads)));
        String decay = g.op("Mul", Attrs.none(), dt, a);
        // dt·x: [b, s, heads, P] · [b, s, heads, 1]
        String x4 = graph.reshape(x, 0, 0, heads, p);
        String dtx = g.op("Mul", Attrs.none(), x4, g.op("Unsqueeze", Attrs.none(), dt, g.constantInt64("axes", 3)));

        String y4 = impl == ExportOptions.Mamba.CONTRIB
                ? linearAttention(cMat, bMat, dtx, decay, pastSsm)
                : scan(cMat, bMat, dtx, decay, pastSsm);                          // [b, s, heads, P]
        // + D·x with D [heads, 1]
        y4 = g.op("Add", Attrs.none(), y4, g.op("Mul", Attrs.none(), x4, graph.weight(TensorNames.d(i), heads, 1)));
        String y = graph.reshape(y4, -1, dInner);                                  // [T, d_inner]

        // gated RMSNorm: (y · silu(z)) normalised over each of G groups of d_inner/G, times norm.weight [G, d_inner/G]
        String gate = g.op("Mul", Attrs.none(), z, g.op("Sigmoid", Attrs.none(), z));
        String gated = graph.reshape(g.op("Mul", Attrs.none(), y, gate), -1, groups, dInner / groups);
        String normed = graph.rmsNorm(gated, graph.weight(TensorNames.mambaNorm(i), groups, dInner / groups),
                (float) c.layerNormEpsilon());
        // out_proj [H, d_inner]
        return graph.linear(graph.reshape(normed, -1, dInner), TensorNames.outProj(i), h, dInner);
    }

    /** Causal depthwise conv1d with bias and K−1 steps of carried context, then SiLU. xbc [b, s, C] → [b, s, C]. */
    private String convolution(String xbc, String pastConv) {
        String w = graph.weight(TensorNames.conv1dWeight(i), convDim, 1, k);      // [C, 1, K]
        String bias = graph.weight(TensorNames.conv1dBias(i), convDim);           // [C]
        String channelsFirst = g.op("Transpose", Attrs.none().ints("perm", 0, 2, 1), xbc); // [b, C, s]
        String presentConv = StateNames.present(pastConv);
        String out;
        if (impl == ExportOptions.Mamba.CONTRIB) {
            out = g.unusedName("conv" + i);
            g.opNamed(OpSchemas.MICROSOFT, "CausalConvWithState", List.of(channelsFirst, w, bias, pastConv),
                    List.of(out, presentConv), Attrs.none().s("activation", "silu"));
        } else {
            // [b, C, K−1 + s]: the carried inputs, then the new ones; a valid (unpadded) conv gives s outputs
            String padded = g.op("Concat", Attrs.none().i("axis", 2), pastConv, channelsFirst);
            String conv = g.op("Conv", Attrs.none().i("group", convDim).ints("kernel_shape", k), padded, w, bias);
            out = g.op("Mul", Attrs.none(), conv, g.op("Sigmoid", Attrs.none(), conv));
            g.opNamed("", "Slice", List.of(padded, g.constantInt64("starts", -(k - 1)),
                    g.constantInt64("ends", Long.MAX_VALUE), g.constantInt64("axes", 2)), List.of(presentConv), Attrs.none());
        }
        return g.op("Transpose", Attrs.none().ints("perm", 0, 2, 1), out);      // [b, s, C]
    }

    /** LinearAttention (gated): query C, key B (G heads each), value dt·x, decay dt·A. Returns y [b, s, heads, P]. */
    private String linearAttention(String cMat, String bMat, String dtx, String decay, String pastSsm) {
        String value = graph.reshape(dtx, 0, 0, dInner);                           // [b, s, heads·P]
        String y = g.unusedName("ssm" + i);
        g.opNamed(OpSchemas.MICROSOFT, "LinearAttention", List.of(cMat, bMat, value, pastSsm, decay),
                List.of(y, StateNames.present(pastSsm)), Attrs.none()
                        .i("q_num_heads", groups).i("kv_num_heads", heads).s("update_rule", "gated").f("scale", 1.0f));
        return graph.reshape(y, 0, 0, heads, p);
    }

    /**
     * The SSM recurrence as a Scan over time (axis 1). Carried: s [b, heads, N, P]. Per step: a = exp(dt·A)
     * [b, heads], u = dt·x [b, heads, P], B and C expanded from groups to heads [b, heads, N].
     * s' = a·s + B ⊗ u;  y = C · s'  → [b, heads, P].
     */
    private String scan(String cMat, String bMat, String dtx, String decay, String pastSsm) {
        String aExp = g.op("Exp", Attrs.none(), decay);                           // [b, s, heads]
        String bHeads = toHeads(bMat);                                            // [b, s, heads, N]
        String cHeads = toHeads(cMat);

        GraphBuilder body = g.subgraph("ssm_scan_" + i);
        String s = body.input(body.unusedName("s"), ElemType.FLOAT, "batch", (long) heads, (long) n, (long) p);
        String at = body.input(body.unusedName("a"), ElemType.FLOAT, "batch", (long) heads);
        String ut = body.input(body.unusedName("u"), ElemType.FLOAT, "batch", (long) heads, (long) p);
        String bt = body.input(body.unusedName("b"), ElemType.FLOAT, "batch", (long) heads, (long) n);
        String ct = body.input(body.unusedName("c"), ElemType.FLOAT, "batch", (long) heads, (long) n);
        String decayed = body.op("Mul", Attrs.none(), s,
                body.op("Unsqueeze", Attrs.none(), at, body.constantInt64("axes", 2, 3)));  // a [b, h, 1, 1]
        String outer = body.op("Mul", Attrs.none(),
                body.op("Unsqueeze", Attrs.none(), bt, body.constantInt64("axes", 3)),      // B [b, h, N, 1]
                body.op("Unsqueeze", Attrs.none(), ut, body.constantInt64("axes", 2)));     // u [b, h, 1, P]
        String sNext = body.unusedName("s_next");
        body.opNamed("", "Add", List.of(decayed, outer), List.of(sNext), Attrs.none());
        String yStep = body.unusedName("y");
        String cy = body.op("MatMul", Attrs.none(),
                body.op("Unsqueeze", Attrs.none(), ct, body.constantInt64("axes", 2)), sNext);  // [b, h, 1, P]
        body.opNamed("", "Squeeze", List.of(cy, body.constantInt64("axes", 2)), List.of(yStep), Attrs.none());
        body.output(sNext, ElemType.FLOAT, "batch", (long) heads, (long) n, (long) p);
        body.output(yStep, ElemType.FLOAT, "batch", (long) heads, (long) p);

        String y = g.unusedName("ssm" + i);
        g.opNamed("", "Scan", List.of(pastSsm, aExp, dtx, bHeads, cHeads), List.of(StateNames.present(pastSsm), y),
                Attrs.none().graph("body", body).i("num_scan_inputs", 4).ints("scan_input_axes", 1, 1, 1, 1)
                        .ints("scan_output_axes", 1));
        return y;                                                                 // [b, s, heads, P]
    }

    /** [b, s, G·N] → [b, s, heads, N]: head h reads group h // (heads / G). */
    private String toHeads(String groupMajor) {
        int perGroup = heads / groups;
        String g5 = graph.reshape(groupMajor, 0, 0, groups, 1, n);
        String expanded = g.op("Expand", Attrs.none(), g5, graph.withBatchSeq(groups, perGroup, n));
        return graph.reshape(expanded, 0, 0, heads, n);
    }

    /** Clips dt to time_step_limit unless the limit is [0, ∞) (the Hub default, where softplus makes it a no-op). */
    private String clamp(String dt, NemotronHConfig c) {
        double[] limit = c.timeStepLimit();
        if (limit == null || (limit[0] <= 0 && Double.isInfinite(limit[1]))) {
            return dt;
        }
        return g.op("Clip", Attrs.none(), dt, g.scalarFloat("dt_min", (float) limit[0]),
                g.scalarFloat("dt_max", (float) Math.min(limit[1], Float.MAX_VALUE)));
    }
}
