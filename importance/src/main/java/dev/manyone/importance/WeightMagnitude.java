package dev.manyone.importance;

import dev.manyone.elastic.ExpectedTensor;
import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.TensorNames;
import dev.manyone.elastic.WeightLayout;
import dev.manyone.elastic.export.CheckpointWeights;
import dev.manyone.formats.TensorSource;
import dev.manyone.formats.onnx.TensorData;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import java.util.Map;
import java.util.TreeMap;

/**
 * A data-free baseline: weight-magnitude scores, the L2 norm of the weights each item owns (rows of the matrices
 * that write it, columns of those that read it), computed from the checkpoint:
 * <ul>
 *   <li>hidden channel c: column c of embeddings, lm_head, in_proj, q/k/v_proj, up_proj and row c of out_proj,
 *       o_proj, down_proj (norm weights are scales and not counted);</li>
 *   <li>Mamba d_inner index d: the z and x rows d of in_proj and column d of out_proj; head channel c: the norm over
 *       every head's index {@code h·head_dim + c}; head h: the norm over its head_dim indices;</li>
 *   <li>attention query head h: its head_dim rows of q_proj and columns of o_proj;</li>
 *   <li>FFN neuron n: row n of up_proj and column n of down_proj;</li>
 *   <li>MoE: expert j by all its up and down weights, its neuron n by row n of up_j and column n of down_j, the
 *       shared expert's neurons likewise; the router's columns count towards the hidden channels;</li>
 *   <li>layer: the Frobenius norm of its output projection (out_proj, o_proj or down_proj; for MoE every expert's
 *       down_proj, or fc2_latent_proj, with the shared expert's), what it can add to the residual stream.</li>
 * </ul>
 */
public final class WeightMagnitude {
    private WeightMagnitude() {
    }

    /** The float32 values of a weight, by canonical name. */
    private interface Floats {
        float[] read(String name);
    }

    /**
     * Scores of the weights in {@code source}, stored as {@code model}'s layout says: a plain checkpoint's tensors are
     * read as they are, a quantized (FP8/NVFP4) checkpoint's linear weights dequantized.
     */
    public static Scores scores(ModelDescription model, TensorSource source) {
        if (model.layout() == WeightLayout.PLAIN) {
            return scores(model, name -> source.readFloats(source.require(name)));
        }
        CheckpointWeights weights = new CheckpointWeights(source, model);
        java.util.Set<String> quantized = new java.util.HashSet<>();
        for (ExpectedTensor e : model.expectedTensors()) {
            if (model.layout().quantized(e)) {
                quantized.add(e.name());
            }
        }
        // only the quantized linear weights are dequantized; the rest (embeddings, an unquantized lm_head) read as stored
        return scores(model, name -> quantized.contains(name) ? floats(name, weights.tensor(name, false))
                : source.readFloats(source.require(name)));
    }

    /**
     * The fp32 values of a dequantized weight, written straight into a float array. The channel takes every byte it is
     * given; a float split across two writes is carried over.
     */
    private static float[] floats(String name, TensorData fp32) {
        long n = fp32.byteSize() / 4;
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException(name + ": " + n + " values do not fit one Java array");
        }
        float[] out = new float[(int) n];
        java.nio.FloatBuffer dst = java.nio.FloatBuffer.wrap(out);
        ByteBuffer carry = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        try {
            fp32.writeTo(new java.nio.channels.WritableByteChannel() {
                @Override
                public int write(ByteBuffer src) {
                    int given = src.remaining();
                    while (carry.position() > 0 && carry.hasRemaining() && src.hasRemaining()) {
                        carry.put(src.get());
                    }
                    if (!carry.hasRemaining()) {
                        dst.put(carry.flip().getFloat());
                        carry.clear();
                    }
                    int whole = src.remaining() & ~3;
                    ByteBuffer slice = src.slice().order(ByteOrder.LITTLE_ENDIAN);
                    slice.limit(whole);
                    dst.put(slice.asFloatBuffer());
                    src.position(src.position() + whole);
                    while (src.hasRemaining()) {
                        carry.put(src.get());
                    }
                    return given;
                }

                @Override
                public boolean isOpen() {
                    return true;
                }

                @Override
                public void close() {
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (dst.hasRemaining() || carry.position() != 0) {
            throw new IllegalStateException(name + ": expected " + n + " fp32 values, the source gave " + dst.position());
        }
        return out;
    }

    private static Scores scores(ModelDescription model, Floats w) {
        int h = model.hidden();
        double[] hidden = new double[h];
        double[] layers = new double[model.layers().size()];
        cols(w, TensorNames.EMBEDDINGS, h, hidden);
        if (!model.tied()) {
            cols(w, TensorNames.LM_HEAD, h, hidden);
        }
        Map<Integer, Scores.Layer> per = new TreeMap<>();
        for (LayerSpec l : model.layers()) {
            int i = l.index();
            switch (l.kind()) {
                case MAMBA -> {
                    int dInner = l.dInner();
                    float[] in = read(w, TensorNames.inProj(i));
                    addCols(in, h, hidden);
                    double[] inner = rows(in, h, 0, 2 * dInner); // z | x
                    double[] x = new double[dInner];
                    for (int d = 0; d < dInner; d++) {
                        x[d] = inner[d] + inner[dInner + d];
                    }
                    float[] out = read(w, TensorNames.outProj(i));
                    rowsInto(out, dInner, hidden);
                    addCols(out, dInner, x);
                    layers[i] = frobenius(out);
                    int heads = l.mambaHeads();
                    int hd = l.mambaHeadDim();
                    double[] hs = new double[heads];
                    double[] cs = new double[hd];
                    for (int hh = 0; hh < heads; hh++) {
                        for (int c = 0; c < hd; c++) {
                            hs[hh] += x[hh * hd + c];
                            cs[c] += x[hh * hd + c];
                        }
                    }
                    per.put(i, new Scores.Layer(sqrt(hs), sqrt(cs), null, null));
                }
                case ATTENTION -> {
                    int hd = model.headDim();
                    float[] q = read(w, TensorNames.qProj(i));
                    addCols(q, h, hidden);
                    cols(w, TensorNames.kProj(i), h, hidden);
                    cols(w, TensorNames.vProj(i), h, hidden);
                    double[] qRows = rows(q, h, 0, l.attentionHeads() * hd);
                    float[] o = read(w, TensorNames.oProj(i));
                    rowsInto(o, l.attentionHeads() * hd, hidden);
                    addCols(o, l.attentionHeads() * hd, qRows);
                    layers[i] = frobenius(o);
                    double[] heads = new double[l.attentionHeads()];
                    for (int r = 0; r < qRows.length; r++) {
                        heads[r / hd] += qRows[r];
                    }
                    per.put(i, new Scores.Layer(null, null, sqrt(heads), null));
                }
                case MLP -> {
                    float[] up = read(w, TensorNames.upProj(i));
                    addCols(up, h, hidden);
                    double[] n = rows(up, h, 0, l.ffn());
                    float[] down = read(w, TensorNames.downProj(i));
                    rowsInto(down, l.ffn(), hidden);
                    addCols(down, l.ffn(), n);
                    layers[i] = frobenius(down);
                    per.put(i, new Scores.Layer(null, null, null, sqrt(n)));
                }
                case MOE -> {
                    per.put(i, moe(model, l, w, hidden));
                    layers[i] = moeOutput(model, l, w);
                }
            }
        }
        return new Scores(sqrt(hidden), layers, Map.copyOf(per), null);
    }

    /**
     * An MoE layer: expert j by the L2 norm of its up and down weights, its neuron n by row n of up_j and column n of
     * down_j, the shared expert's neurons likewise; hidden channels through the router's columns, the shared expert's
     * up columns and down rows, and the experts' (or, with a latent, the latent projections') columns and rows.
     */
    private static Scores.Layer moe(ModelDescription model, LayerSpec l, Floats w, double[] hidden) {
        int i = l.index();
        int h = model.hidden();
        boolean latent = model.moe().orElseThrow().hasLatent();
        int hm = model.moe().orElseThrow().expertWidth(h);
        cols(w, TensorNames.gate(i), h, hidden);
        double[] experts = new double[l.experts()];
        double[][] neurons = new double[l.experts()][];
        for (int j = 0; j < experts.length; j++) {
            float[] up = read(w, TensorNames.expertUp(i, j));
            float[] down = read(w, TensorNames.expertDown(i, j));
            if (!latent) {
                addCols(up, h, hidden);
                rowsInto(down, l.moeFfn(), hidden);
            }
            double[] n = rows(up, hm, 0, l.moeFfn());
            addCols(down, l.moeFfn(), n);
            for (double v : n) {
                experts[j] += v;
            }
            neurons[j] = sqrt(n);
        }
        if (latent) {
            cols(w, TensorNames.latentIn(i), h, hidden);
            rowsInto(read(w, TensorNames.latentOut(i)), hm, hidden);
        }
        float[] up = read(w, TensorNames.sharedUp(i));
        addCols(up, h, hidden);
        double[] shared = rows(up, h, 0, l.sharedFfn());
        float[] down = read(w, TensorNames.sharedDown(i));
        rowsInto(down, l.sharedFfn(), hidden);
        addCols(down, l.sharedFfn(), shared);
        return Scores.Layer.moe(Scores.Experts.dataFree(sqrt(experts)), neurons, sqrt(shared));
    }

    /** What an MoE layer can add to the residual stream: the Frobenius norm of its output projections together. */
    private static double moeOutput(ModelDescription model, LayerSpec l, Floats w) {
        int i = l.index();
        double s = Math.pow(frobenius(read(w, TensorNames.sharedDown(i))), 2);
        if (model.moe().orElseThrow().hasLatent()) {
            return Math.sqrt(s + Math.pow(frobenius(read(w, TensorNames.latentOut(i))), 2));
        }
        for (int j = 0; j < l.experts(); j++) {
            s += Math.pow(frobenius(read(w, TensorNames.expertDown(i, j))), 2);
        }
        return Math.sqrt(s);
    }

    private static float[] read(Floats w, String name) {
        return w.read(name);
    }

    /** Adds the squared columns of the [rows, width] matrix {@code name} to {@code acc}. */
    private static void cols(Floats w, String name, int width, double[] acc) {
        addCols(read(w, name), width, acc);
    }

    /** acc[c] += Σ_r m[r, c]² for a row-major matrix of {@code width} columns. */
    private static void addCols(float[] m, int width, double[] acc) {
        for (int k = 0; k < m.length; k++) {
            acc[k % width] += (double) m[k] * m[k];
        }
    }

    /** Σ_c m[r, c]² for rows {@code from..to}. */
    private static double[] rows(float[] m, int width, int from, int to) {
        double[] out = new double[to - from];
        for (int r = from; r < to; r++) {
            double s = 0;
            for (int c = 0; c < width; c++) {
                s += (double) m[r * width + c] * m[r * width + c];
            }
            out[r - from] = s;
        }
        return out;
    }

    /** acc[r] += Σ_c m[r, c]² for a row-major matrix of {@code width} columns. */
    private static void rowsInto(float[] m, int width, double[] acc) {
        double[] r = rows(m, width, 0, m.length / width);
        for (int k = 0; k < r.length; k++) {
            acc[k] += r[k];
        }
    }

    private static double frobenius(float[] m) {
        double s = 0;
        for (float v : m) {
            s += (double) v * v;
        }
        return Math.sqrt(s);
    }

    private static double[] sqrt(double[] a) {
        double[] out = new double[a.length];
        for (int k = 0; k < a.length; k++) {
            out[k] = Math.sqrt(a[k]);
        }
        return out;
    }
}
