package dev.manyone.router;

/**
 * The router MLP of one axis (Nemotron Elastic: "the router takes a one-hot encoding of the target budget as input and
 * passes it through two fully connected layers with a LeakyReLU activation in between", producing logits over the
 * axis's choices; at inference the choice is the argmax). Weights are row-major F32, PyTorch {@code nn.Linear} layout
 * ({@code [out, in]}):
 * <pre>
 *   h      = LeakyReLU(fc1.weight · x + fc1.bias)      fc1.weight [hidden_width, budgets], x = e_k
 *   logits = fc2.weight · h + fc2.bias                  fc2.weight [outputs, hidden_width]
 * </pre>
 * with {@code LeakyReLU(v) = v ≥ 0 ? v : slope · v}. Sums are accumulated in float64.
 */
public record AxisRouter(Axis axis, int inputs, int hiddenWidth, int outputs, float[] fc1Weight, float[] fc1Bias,
                         float[] fc2Weight, float[] fc2Bias) {

    public AxisRouter {
        if (fc1Weight.length != (long) hiddenWidth * inputs || fc1Bias.length != hiddenWidth
                || fc2Weight.length != (long) outputs * hiddenWidth || fc2Bias.length != outputs) {
            throw new IllegalArgumentException(axis + ": router weights do not match [" + hiddenWidth + ", " + inputs
                    + "] / [" + outputs + ", " + hiddenWidth + "]");
        }
    }

    /** The logits for budget {@code k} (input e_k). */
    public double[] logits(int k, double slope) {
        if (k < 0 || k >= inputs) {
            throw new IllegalArgumentException("budget index " + k + " outside 0.." + (inputs - 1));
        }
        double[] h = new double[hiddenWidth];
        for (int j = 0; j < hiddenWidth; j++) {
            double v = (double) fc1Weight[j * inputs + k] + fc1Bias[j]; // fc1 · e_k is column k
            h[j] = v >= 0 ? v : slope * v;
        }
        double[] out = new double[outputs];
        for (int o = 0; o < outputs; o++) {
            double s = fc2Bias[o];
            int row = o * hiddenWidth;
            for (int j = 0; j < hiddenWidth; j++) {
                s += (double) fc2Weight[row + j] * h[j];
            }
            out[o] = s;
        }
        return out;
    }

    /** The argmax of {@code logits[from .. from+n)}, relative to {@code from}; ties go to the lower index. */
    static int argmax(double[] logits, int from, int n) {
        int best = 0;
        for (int j = 1; j < n; j++) {
            if (logits[from + j] > logits[from + best]) {
                best = j;
            }
        }
        return best;
    }
}
