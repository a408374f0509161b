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
    /** Weight bytes a batch-1 decode step reads (one embedding row, every other weight once). */
    private long bytesPerToken;

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
        b.g.metadata(DECODE_BYTES_KEY, Long.toString(b.bytesPerToken));
        return b.g;
    }

    /**
     * metadata_props key of the weight bytes a batch-1 decode step reads: the stored bytes of every weight (packed
     * codes and scales for INT8/INT4), one row of the embedding table. FP16 weights are cast to fp32 by Casts that
     * ONNX Runtime folds when the session is created ({@code OnnxDecoder}), so a step reads their 4-byte copies, as
     * FP32 does; only the fp16 embedding table stays 2-byte (its Cast follows the Gather).
     */
    public static final String DECODE_BYTES_KEY = "manyone.decode_weight_bytes_per_token";

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

    /**
     * [V, H] gathered → [T, H] (embeddings are not scaled). FP16 gathers the fp16 rows and casts only them; INT8/INT4
     * gather from the block-quantized table with com.microsoft {@code GatherBlockQuantized} (gather_axis 0,
     * quantize_axis 1), so the table stays quantized in memory and a token reads one packed row.
     */
    private String embed(String ids) {
        int h = model.hidden();
        String x;
        if (options.weights().quantized()) {
            BlockQuantizer q = quantizer(TensorNames.EMBEDDINGS, h);
            if (q.bits() == 4 && h % 2 != 0) {
                // 4-bit rows are packed two codes a byte and the op infers the row length from the packed bytes
                // (2 · bytes), so an odd width cannot be 4-bit: keep the table at 8 bits
                q = new BlockQuantizer(8, q.blockSize());
            }
            QuantizedWeight qw = new QuantizedWeight(weights, TensorNames.EMBEDDINGS, model.vocab(), h, q);
            // data uint8 [V, ceil(H·bits/8)] (4-bit: two codes a byte, low nibble first); scales float [V, ceil(H/block)]
            String data = g.initializer(TensorNames.EMBEDDINGS, ElemType.UINT8, new long[] {model.vocab(), q.rowBytes(h)},
                    qw.codes(false));
            String scales = g.initializer(TensorNames.EMBEDDINGS + "_scales", ElemType.FLOAT,
                    new long[] {model.vocab(), q.blocks(h)}, qw.scales());
            x = g.msOp("GatherBlockQuantized", Attrs.none().i("gather_axis", 0).i("quantize_axis", 1)
                    .i("block_size", q.blockSize()).i("bits", q.bits()), data, ids, scales);
            bytesPerToken += q.rowBytes(h) + q.blocks(h) * 4L;
        } else if (options.weights() == ExportOptions.Weights.FP16) {
            String table = g.initializer(TensorNames.EMBEDDINGS, ElemType.FLOAT16, new long[] {model.vocab(), h},
                    weights.tensor(TensorNames.EMBEDDINGS, true));
            x = g.op("Cast", Attrs.none().i("to", ElemType.FLOAT.code()), g.op("Gather", Attrs.none().i("axis", 0), table, ids));
            bytesPerToken += 2L * h;
        } else {
            String table = g.initializer(TensorNames.EMBEDDINGS, ElemType.FLOAT, new long[] {model.vocab(), h},
                    weights.tensor(TensorNames.EMBEDDINGS, false));
            x = g.op("Gather", Attrs.none().i("axis", 0), table, ids);
            bytesPerToken += 4L * h;
        }
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
        named(linear(normed, lmHead, model.vocab(), h), StateNames.LOGITS, model.vocab()); // [T, V]
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
        String q = toBatchSeq(linear(u, TensorNames.qProj(i), (long) heads * hd, h), (long) heads * hd);
        String k = toBatchSeq(linear(u, TensorNames.kProj(i), (long) kv * hd, h), (long) kv * hd);
        String v = toBatchSeq(linear(u, TensorNames.vProj(i), (long) kv * hd, h), (long) kv * hd);
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
        return linear(attnOut, TensorNames.oProj(i), h, (long) heads * hd);
    }

    /** down_proj(relu(up_proj(x))²). */
    private String mlp(LayerSpec layer, String u) {
        int i = layer.index();
        int h = model.hidden();
        String up = linear(u, TensorNames.upProj(i), layer.ffn(), h); // [T, F]
        String r = g.op("Relu", Attrs.none(), up);
        String sq = g.op("Mul", Attrs.none(), r, r);
        probe(Probes.ffn(i), sq, layer.ffn());
        return linear(sq, TensorNames.downProj(i), h, layer.ffn()); // [T, H]
    }

    // ------------------------------------------------------------------------------------------ helpers

    ModelDescription model() {
        return model;
    }

    /**
     * A weight initializer with the given dims (which may regroup the stored shape, e.g. [G, d_inner/G]): fp16 for
     * FP16 exports (cast to fp32 in the graph, per call), fp32 otherwise, INT8/INT4 included (norms, conv1d, A_log, D
     * and dt_bias are never quantized; linear layers go through {@link #linear(String, String, long, long)}).
     */
    String weight(String name, long... dims) {
        boolean fp16 = options.weights() == ExportOptions.Weights.FP16;
        String w = g.initializer(name, fp16 ? ElemType.FLOAT16 : ElemType.FLOAT, dims, weights.tensor(name, fp16));
        long n = 1;
        for (long d : dims) {
            n *= d;
        }
        // a decode step reads the fp32 weight: fp16's Cast is folded into an fp32 copy when the session is created
        bytesPerToken += 4 * n;
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
        long n = 1;
        for (long d : dims) {
            n = Math.multiplyExact(n, d);
        }
        bytesPerToken += 4 * n; // as weight(): what a step would read if it read them all; routed() scales it
        return fp16 ? g.op("Cast", Attrs.none().i("to", ElemType.FLOAT.code()), w) : w;
    }

    /** A weight initializer kept in fp32 whatever the export dtype (the MoE router and its correction bias). */
    String weightF32(String name, long... dims) {
        long n = 1;
        for (long d : dims) {
            n = Math.multiplyExact(n, d);
        }
        bytesPerToken += 4 * n;
        return g.initializer(name, ElemType.FLOAT, dims, weights.tensor(name, false));
    }

    /**
     * Builds weights of which a decode step reads only {@code read} of {@code of} (the k chosen of E routed experts):
     * the bytes they add to the per-token count are scaled by read/of. (fp16 too: its Casts are folded at session
     * creation, so an unchosen expert's fp32 copy is not read either. With -Dmanyone.fp16=cast every expert's weights
     * are converted on every call.)
     */
    <T> T routed(int read, int of, java.util.function.Supplier<T> build) {
        long before = bytesPerToken;
        T out = build.get();
        bytesPerToken = before + (bytesPerToken - before) * read / of;
        return out;
    }

    /** x [T, in] · W[out, in]ᵀ → [T, out], W an initializer made by {@link #weight}. */
    String linear(String x, String w) {
        return g.op("Gemm", Attrs.none().i("transB", 1), x, w);
    }

    /**
     * x [T, in] · W[out, in]ᵀ → [T, out] for the canonical linear weight {@code name} [out, in]: a Gemm on the float
     * weight, or, for INT8/INT4 exports, com.microsoft {@code MatMulNBits} with N = out, K = in, which takes the
     * [out, in] layout as it is ("B … (N, k_blocks, blob_size)"), symmetric (no zero_points input: the default zero
     * point 2^(bits−1)), the bits of {@link ExportOptions.Quantization#bits} and the export's block size and
     * accuracy_level.
     */
    String linear(String x, String name, long out, long in) {
        if (!options.weights().quantized()) {
            return linear(x, weight(name, out, in));
        }
        BlockQuantizer q = quantizer(name, in);
        QuantizedWeight qw = new QuantizedWeight(weights, name, out, in, q);
        // B uint8 [N, k_blocks, blob_size]; scales float [N · k_blocks]
        String b = g.initializer(name, ElemType.UINT8, new long[] {out, q.blocks(in), q.blobSize()}, qw.codes(true));
        String scales = g.initializer(name + "_scales", ElemType.FLOAT, new long[] {out * q.blocks(in)}, qw.scales());
        bytesPerToken += out * (q.paddedRowBytes(in) + q.blocks(in) * 4L);
        return g.msOp("MatMulNBits", Attrs.none().i("K", in).i("N", out).i("bits", q.bits())
                .i("block_size", q.blockSize()).i("accuracy_level", options.quantization().accuracyLevel()), x, b, scales);
    }

    /** The quantizer of weight {@code name}, whose rows have {@code k} elements. */
    private BlockQuantizer quantizer(String name, long k) {
        ExportOptions.Quantization q = options.quantization();
        return new BlockQuantizer(q.bits(options.weights(), name), q.blockSize(k));
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
