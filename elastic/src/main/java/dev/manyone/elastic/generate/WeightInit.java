package dev.manyone.elastic.generate;

import dev.manyone.elastic.ExpectedTensor;
import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.TensorNames;

import java.util.SplittableRandom;

/**
 * How one generated tensor's values are drawn. The magnitudes follow the golden README ("How it was generated"):
 * <ul>
 *   <li>embeddings: N(0, 0.02²); linear layers: N(0, 1/fan_in); out_proj, o_proj and down_proj further divided by
 *       √(layers); lm_head multiplied by 2; the dt rows of in_proj by 0.1;</li>
 *   <li>every norm weight: 1 + N(0, 0.1²); conv1d.weight: N(0, 1/K); conv1d.bias: N(0, 0.1²);</li>
 *   <li>A_log = log U[1, 16]; D = U[0.5, 1.5]; dt_bias = softplus⁻¹(d) with d log-uniform in [2e-3, 0.1];</li>
 *   <li>MoE ("How the MoE data was generated"): router, experts, shared expert and latent projections are linear
 *       layers; every down_proj is divided by √(layers), except that with a latent fc2_latent_proj is divided
 *       instead of the experts' down_proj; e_score_correction_bias = 1 + N(0, 0.1²), kept in F32.</li>
 * </ul>
 * The values are a pure function of (seed, tensor name, element index range), so chunks can be drawn in parallel
 * and the output is the same whatever the thread count.
 */
record WeightInit(Kind kind, double scale, long rowLength, long scaledRowsFrom, double scaledRowsFactor) {

    enum Kind { NORMAL, ONE_PLUS_NORMAL, LOG_UNIFORM_1_16, UNIFORM_HALF_TO_1_5, DT_BIAS }

    static WeightInit forTensor(ExpectedTensor t, ModelDescription model) {
        String name = t.name();
        long[] shape = t.shape();
        double layers = model.layers().size();
        if (name.equals(TensorNames.EMBEDDINGS)) {
            return normal(0.02);
        }
        if (name.equals(TensorNames.LM_HEAD)) {
            return normal(2 / Math.sqrt(shape[1]));
        }
        if (name.endsWith("norm.weight") || name.equals(TensorNames.NORM_F) || TensorNames.alwaysF32(name)) {
            return new WeightInit(Kind.ONE_PLUS_NORMAL, 0.1, 1, Long.MAX_VALUE, 1);
        }
        if (name.endsWith("conv1d.weight")) {
            return normal(1 / Math.sqrt(shape[2]));
        }
        if (name.endsWith("conv1d.bias")) {
            return normal(0.1);
        }
        if (name.endsWith("A_log")) {
            return new WeightInit(Kind.LOG_UNIFORM_1_16, 1, 1, Long.MAX_VALUE, 1);
        }
        if (name.endsWith(".D")) {
            return new WeightInit(Kind.UNIFORM_HALF_TO_1_5, 1, 1, Long.MAX_VALUE, 1);
        }
        if (name.endsWith("dt_bias")) {
            return new WeightInit(Kind.DT_BIAS, 1, 1, Long.MAX_VALUE, 1);
        }
        if (shape.length == 2) {
            double std = 1 / Math.sqrt(shape[1]);
            boolean latent = model.moe().map(m -> m.hasLatent()).orElse(false);
            boolean expertDown = name.contains(".mixer.experts.") && name.endsWith("down_proj.weight");
            if (name.endsWith("out_proj.weight") || name.endsWith("o_proj.weight")
                    || (name.endsWith("down_proj.weight") && !(latent && expertDown))
                    || name.endsWith("fc2_latent_proj.weight")) {
                std /= Math.sqrt(layers);
            }
            if (name.endsWith("in_proj.weight")) {
                LayerSpec layer = model.layers().get(TensorNames.layerOf(name).orElseThrow());
                long dtRowsFrom = shape[0] - layer.mambaHeads(); // z | x | B | C | dt: dt is the last `heads` rows
                return new WeightInit(Kind.NORMAL, std, shape[1], dtRowsFrom, 0.1);
            }
            return normal(std);
        }
        throw new IllegalArgumentException("no initialisation rule for " + name);
    }

    private static WeightInit normal(double std) {
        return new WeightInit(Kind.NORMAL, std, 1, Long.MAX_VALUE, 1);
    }

    /** Fills {@code out[0..count)} with the values of elements {@code [first, first + count)}. */
    void fill(SplittableRandom random, long first, float[] out, int count) {
        switch (kind) {
            case NORMAL -> {
                // elements from this index on are in the scaled rows (in_proj's dt rows)
                long scaledFrom = scaledRowsFrom == Long.MAX_VALUE ? Long.MAX_VALUE : scaledRowsFrom * rowLength;
                float plain = (float) scale;
                float scaled = (float) (scale * scaledRowsFactor);
                int i = 0;
                while (i < count) {
                    long bits = random.nextLong();
                    for (int k = 0; k < 4 && i < count; k++, i++, bits >>>= 16) {
                        out[i] = NormalTable.sample(bits) * (first + i >= scaledFrom ? scaled : plain);
                    }
                }
            }
            case ONE_PLUS_NORMAL -> {
                for (int i = 0; i < count; i++) {
                    out[i] = (float) (1 + NormalTable.sample(random.nextLong()) * scale);
                }
            }
            case LOG_UNIFORM_1_16 -> {
                for (int i = 0; i < count; i++) {
                    out[i] = (float) Math.log(random.nextDouble(1, 16));
                }
            }
            case UNIFORM_HALF_TO_1_5 -> {
                for (int i = 0; i < count; i++) {
                    out[i] = (float) random.nextDouble(0.5, 1.5);
                }
            }
            case DT_BIAS -> {
                for (int i = 0; i < count; i++) {
                    double d = Math.exp(random.nextDouble(Math.log(2e-3), Math.log(0.1)));
                    out[i] = (float) Math.log(Math.expm1(d)); // softplus⁻¹(d)
                }
            }
        }
    }
}
