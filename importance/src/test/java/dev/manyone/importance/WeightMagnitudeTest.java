package dev.manyone.importance;

import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.TensorNames;
import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.formats.TensorSource;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Weight-magnitude scores against sums written out by hand. */
class WeightMagnitudeTest {
    @Test
    void scoresAreTheNormsOfTheWeightsEachItemOwns() {
        try (Checkpoint cp = Checkpoint.open(Golden.tiny())) {
            ModelDescription model = cp.model();
            TensorSource w = cp.tensors();
            Scores s = WeightMagnitude.scores(model, w);
            int h = model.hidden();
            // FFN neuron 5 of layer 1: row 5 of up_proj [F, H], column 5 of down_proj [H, F]
            float[] up = w.readFloats(w.require(TensorNames.upProj(1)));
            float[] down = w.readFloats(w.require(TensorNames.downProj(1)));
            int f = 192;
            double sq = 0;
            for (int c = 0; c < h; c++) {
                sq += (double) up[5 * h + c] * up[5 * h + c];
                sq += (double) down[c * f + 5] * down[c * f + 5];
            }
            assertEquals(Math.sqrt(sq), s.perLayer().get(1).ffn()[5], 1e-12);
            // attention head 2 of layer 3: q_proj rows 32..47, o_proj columns 32..47 (head_dim 16)
            float[] q = w.readFloats(w.require(TensorNames.qProj(3)));
            float[] o = w.readFloats(w.require(TensorNames.oProj(3)));
            sq = 0;
            for (int r = 32; r < 48; r++) {
                for (int c = 0; c < h; c++) {
                    sq += (double) q[r * h + c] * q[r * h + c];
                    sq += (double) o[c * 64 + r] * o[c * 64 + r];
                }
            }
            assertEquals(Math.sqrt(sq), s.perLayer().get(3).attentionHeads()[2], 1e-12);
            // layer 9 (MLP): the Frobenius norm of down_proj
            float[] down9 = w.readFloats(w.require(TensorNames.downProj(9)));
            sq = 0;
            for (float v : down9) {
                sq += (double) v * v;
            }
            assertEquals(Math.sqrt(sq), s.layers()[9], 1e-12);
        }
    }
}
