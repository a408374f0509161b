package dev.manyone.elastic.export;

import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.NemotronHConfig;
import dev.manyone.elastic.TensorNames;
import dev.manyone.formats.onnx.Attrs;
import dev.manyone.formats.onnx.ElemType;
import dev.manyone.formats.onnx.GraphBuilder;
import dev.manyone.formats.onnx.OpSchemas;
import dev.manyone.formats.onnx.TensorData;

import java.util.List;

/**
 * Builds the ONNX decoder graph of a Nemotron-H model: one graph for prefill and decode, the state of every layer
 * as inputs and outputs (names in {@link StateNames}). The forward rules are the golden README's:
 * <pre>
 *   x = embeddings[input_ids]                       (not scaled)
 *   for each layer i:  x = x + mixer_i(RMSNorm_i(x))   RMSNorm: x · rsqrt(mean(x²) + eps) · w
 *   logits = lm_head(RMSNorm_f(x))
 * </pre>
 * The residual stream is kept 2-D, {@code [T = batch·seq, hidden]}, so every linear layer is one
 * {@code Gemm(x, W, transB=1)} on the Hugging Face {@code [out, in]} weight as stored: no transposed copies.
 * Mixers: {@link MambaMixer} (two implementations), GQA attention without position embedding
 * ({@code Attention}, opset 23, is_causal, bottom-right aligned with the past), the relu² MLP and the
 * mixture of relu² experts ({@link MoeMixer}, sparse dispatch).
 */
public final class NemotronHGraph {
    /** ai.onnx opset: 23 has RMSNormalization and Attention; ONNX Runtime 1.29 supports up to 26. */
    public static final int OPSET = 23;

    private final ModelDescription model;
    private final WeightSource weights;
    private final ExportOptions options;
    final GraphBuilder g;
    /** Shape(input_ids) = [batch, seq], int64. */
    String batchSeq;

    ExportOptions options() {
        return options;
    }

    private NemotronHGraph(ModelDescription model, WeightSource weights, ExportOptions options) {
        this.model = model;
        this.weights = weights;
        this.options = options;
        this.g = new GraphBuilder("nemotron_h", OPSET);
    }

    /** The complete decoder graph, ready for {@code OnnxWriter}. */
    public static GraphBuilder build(ModelDescription model, WeightSource weights, ExportOptions options) {
        NemotronHGraph b = new NemotronHGraph(model, weights, options);
        String ids = b.g.input(StateNames.INPUT_IDS, ElemType.INT64, "batch", "seq");
        b.batchSeq = b.g.op("Shape", Attrs.none(), ids);
        String x = b.embed(ids);
        for (LayerSpec layer : model.layers()) {
            x = b.layer(layer, x);
        }
        b.head(x);
        return b.g;
    }

    /**
     * One part of the model as its own graph, for layer-streamed runs that hold one layer's weights at a time:
     * {@code EMBED} (input_ids → hidden_out), {@code LAYER} i (hidden_in → hidden_out, with that layer's state
     * inputs and outputs) or {@code HEAD} (hidden_in → logits). hidden_in / hidden_out are float [batch, seq, H].
     */
    public static GraphBuilder buildPart(ModelDescription model, WeightSource weights, ExportOptions options, Part part,
                                         int layer) {
        NemotronHGraph b = new NemotronHGraph(model, weights, options);
        int h = model.hidden();
        if (part == Part.EMBED) {
            String ids = b.g.input(StateNames.INPUT_IDS, ElemType.INT64, "batch", "seq");
            b.batchSeq = b.g.op("Shape", Attrs.none(), ids);
            b.named(b.embed(ids), HIDDEN_OUT, h);
            return b.g;
        }
        String in = b.g.input(HIDDEN_IN, ElemType.FLOAT, "batch", "seq", (long) h);
        b.batchSeq = b.g.op("Shape", Attrs.none().i("end", 2), in);
        String x = b.reshape(in, -1, h);
        if (part == Part.LAYER) {
            b.named(b.layer(model.layers().get(layer), x), HIDDEN_OUT, h);
        } else {
            b.head(x);
        }
        return b.g;
    }

    /** The parts of {@link #buildPart}. */
    public enum Part { EMBED, LAYER, HEAD }

    public static final String HIDDEN_IN = "hidden_in";
    public static final String HIDDEN_OUT = "hidden_out";

    /** [V, H] gathered → [T, H] (embeddings are not scaled). */
    private String embed(String ids) {
        int h = model.hidden();
        String x = g.op("Gather", Attrs.none().i("axis", 0), weight(TensorNames.EMBEDDINGS, model.vocab(), h), ids);
        x = reshape(x, -1, h);
        probe(Probes.EMBED, x, h);
        return x;
    }

    /** x = x + mixer(RMSNorm(x)). */
    private String layer(LayerSpec layer, String x) {
        int i = layer.index();
        int h = model.hidden();
        String normed = rmsNorm(x, weight(TensorNames.layerNorm(i), h), (float) model.config().layerNormEpsilon());
        probe(Probes.norm(i), normed, h);
        String mixed = switch (layer.kind()) {
            case MAMBA -> new MambaMixer(this, layer, options.mamba()).build(normed);
            case ATTENTION -> attention(layer, normed);
            case MLP -> mlp(layer, normed);
            case MOE -> new MoeMixer(this, layer).build(normed);
        };
        String out = g.op("Add", Attrs.none(), x, mixed);
        probe(Probes.hidden(i), out, h);
        return out;
    }

    /** logits = lm_head(RMSNorm_f(x)), as [batch, seq, V]. */
    private void head(String x) {
        int h = model.hidden();
        String normed = rmsNorm(x, weight(TensorNames.NORM_F, h), (float) model.config().layerNormEpsilon());
        probe(Probes.NORM_F, normed, h);
        String lmHead = model.tied() ? TensorNames.EMBEDDINGS : TensorNames.LM_HEAD;
        named(linear(normed, weight(lmHead, model.vocab(), h)), StateNames.LOGITS, model.vocab()); // [T, V]
    }

    /** With probes on, [T, width] becomes the graph output {@code name} [batch, seq, width]. */
    void probe(String name, String x, long width) {
        if (options.probes()) {
            named(x, name, width);
        }
    }

    /** [T, width] as the graph output {@code name} [batch, seq, width]. */
    private void named(String x, String name, long width) {
        g.opNamed("", "Reshape", List.of(x, withBatchSeq(width)), List.of(name), Attrs.none());
        g.output(name, ElemType.FLOAT, "batch", "seq", width);
    }

    /** GQA attention: q [T, heads·hd], k and v [T, kv·hd]; the KV cache in BNSH layout. */
    private String attention(LayerSpec layer, String u) {
        int i = layer.index();
        int h = model.hidden();
        int hd = model.headDim();
        int kv = model.kvHeads();
        int heads = layer.attentionHeads();
        String q = toBatchSeq(linear(u, weight(TensorNames.qProj(i), (long) heads * hd, h)), (long) heads * hd);
        String k = toBatchSeq(linear(u, weight(TensorNames.kProj(i), (long) kv * hd, h)), (long) kv * hd);
        String v = toBatchSeq(linear(u, weight(TensorNames.vProj(i), (long) kv * hd, h)), (long) kv * hd);
        String pastK = g.input(StateNames.pastKey(i), ElemType.FLOAT, "batch", (long) kv, "past_seq", (long) hd);
        String pastV = g.input(StateNames.pastValue(i), ElemType.FLOAT, "batch", (long) kv, "past_seq", (long) hd);
        String y = g.unusedName("attn" + i);
        String presentK = StateNames.present(pastK);
        String presentV = StateNames.present(pastV);
        float scale = (float) (1 / Math.sqrt(hd));
        if (options.attention() == ExportOptions.Attention.STANDARD) {
            // Attention-23: Q, K, V, attn_mask (none), past_key, past_value → Y, present_key, present_value;
            // the causal mask is bottom-right aligned, so new token t sees the past and tokens ≤ t
            g.opNamed("", "Attention", List.of(q, k, v, "", pastK, pastV), List.of(y, presentK, presentV), Attrs.none()
                    .i("q_num_heads", heads).i("kv_num_heads", kv).i("is_causal", 1).f("scale", scale));
        } else {
            // GroupQueryAttention: seqlens_k = total_len − 1 per sequence (int32 [batch]), total_sequence_length
            // (int32 scalar); no rotary (Nemotron-H has no position embedding)
            String past = g.op("Shape", Attrs.none().i("start", 2).i("end", 3), pastK);                // [1]
            String seq = g.op("Shape", Attrs.none().i("start", 1).i("end", 2), q);                     // [1]
            String total = g.op("Add", Attrs.none(), past, seq);
            String batch = g.op("Shape", Attrs.none().i("start", 0).i("end", 1), q);                   // [1]
            String lens = g.op("Expand", Attrs.none(), g.op("Sub", Attrs.none(), total, g.constantInt64("one", 1)), batch);
            String lens32 = g.op("Cast", Attrs.none().i("to", ElemType.INT32.code()), lens);
            String total32 = g.op("Cast", Attrs.none().i("to", ElemType.INT32.code()),
                    g.op("Reshape", Attrs.none(), total, g.constantInt64("scalar_shape")));
            g.opNamed(OpSchemas.MICROSOFT, "GroupQueryAttention", List.of(q, k, v, pastK, pastV, lens32, total32),
                    List.of(y, presentK, presentV), Attrs.none().i("num_heads", heads).i("kv_num_heads", kv).f("scale", scale));
        }
        g.output(presentK, ElemType.FLOAT, "batch", (long) kv, "total_seq", (long) hd);
        g.output(presentV, ElemType.FLOAT, "batch", (long) kv, "total_seq", (long) hd);
        // [batch, seq, heads·hd] → [T, heads·hd] → o_proj [H, heads·hd]
        String attnOut = reshape(y, -1, (long) heads * hd);
        probe(Probes.attention(i), attnOut, (long) heads * hd);
        return linear(attnOut, weight(TensorNames.oProj(i), h, (long) heads * hd));
    }

    /** down_proj(relu(up_proj(x))²). */
    private String mlp(LayerSpec layer, String u) {
        int i = layer.index();
        int h = model.hidden();
        String up = linear(u, weight(TensorNames.upProj(i), layer.ffn(), h)); // [T, F]
        String r = g.op("Relu", Attrs.none(), up);
        String sq = g.op("Mul", Attrs.none(), r, r);
        probe(Probes.ffn(i), sq, layer.ffn());
        return linear(sq, weight(TensorNames.downProj(i), h, layer.ffn())); // [T, H]
    }

    // ------------------------------------------------------------------------------------------ helpers

    ModelDescription model() {
        return model;
    }

    /** A weight initializer with the given dims (which may regroup the stored shape, e.g. [G, d_inner/G]). */
    String weight(String name, long... dims) {
        boolean fp16 = options.weights() == ExportOptions.Weights.FP16;
        String w = g.initializer(name, fp16 ? ElemType.FLOAT16 : ElemType.FLOAT, dims, weights.tensor(name, fp16));
        return fp16 ? g.op("Cast", Attrs.none().i("to", ElemType.FLOAT.code()), w) : w;
    }

    /**
     * One initializer holding several same-shaped weights stacked along a new first axis ({@code dims} = [n, …]),
     * cast to fp32 like {@link #weight}.
     */
    String stackedWeight(String hint, String[] names, long... dims) {
        boolean fp16 = options.weights() == ExportOptions.Weights.FP16;
        List<TensorData> parts = new java.util.ArrayList<>();
        for (String n : names) {
            parts.add(weights.tensor(n, fp16));
        }
        String w = g.initializer(hint, fp16 ? ElemType.FLOAT16 : ElemType.FLOAT, dims, TensorData.concat(parts));
        return fp16 ? g.op("Cast", Attrs.none().i("to", ElemType.FLOAT.code()), w) : w;
    }

    /** A weight initializer kept in fp32 whatever the export dtype (the MoE router and its correction bias). */
    String weightF32(String name, long... dims) {
        return g.initializer(name, ElemType.FLOAT, dims, weights.tensor(name, false));
    }

    /** x [T, in] · W[out, in]ᵀ → [T, out]. */
    String linear(String x, String w) {
        return g.op("Gemm", Attrs.none().i("transB", 1), x, w);
    }

    /** RMSNormalization over the last axis (opset 23): x · rsqrt(mean(x²) + eps) · scale. */
    String rmsNorm(String x, String scale, float eps) {
        return g.op("RMSNormalization", Attrs.none().i("axis", -1).f("epsilon", eps), x, scale);
    }

    String reshape(String x, long... shape) {
        return g.op("Reshape", Attrs.none(), x, g.constantInt64("shape", shape));
    }

    /** The shape [batch, seq, tail...] as an int64 tensor. */
    String withBatchSeq(long... tail) {
        return g.op("Concat", Attrs.none().i("axis", 0), batchSeq, g.constantInt64("shape", tail));
    }

    /** [T, n] → [batch, seq, n]. */
    String toBatchSeq(String x, long n) {
        return g.op("Reshape", Attrs.none(), x, withBatchSeq(n));
    }
}
