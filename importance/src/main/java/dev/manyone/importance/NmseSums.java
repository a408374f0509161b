package dev.manyone.importance;

/**
 * Σ (M_full − M_−j)² per candidate j and Σ M_full², accumulated element by element in double, in calibration order
 * (batch, token, vocabulary entry): the sums do not depend on how the logits are cut into batches or chunks, so the
 * whole-model and layer-streamed modes give the same NMSE bits.
 */
final class NmseSums {
    private final double[] diff;
    private double reference;

    NmseSums(int candidates) {
        this.diff = new double[candidates];
    }

    /** Adds the next reference logits (once, in order). */
    void reference(float[] full) {
        double s = reference;
        for (float v : full) {
            s += (double) v * v;
        }
        reference = s;
    }

    double referenceSum() {
        return reference;
    }

    /** The reference sum of an earlier pass over the same logits. */
    void referenceSum(double sum) {
        reference = sum;
    }

    /** Adds the next logits of candidate {@code k} against the matching reference logits. */
    void candidate(int k, float[] full, float[] removed) {
        if (full.length != removed.length) {
            throw new IllegalStateException("logits of " + removed.length + " values, reference has " + full.length);
        }
        double s = diff[k];
        for (int i = 0; i < full.length; i++) {
            double d = (double) full[i] - removed[i];
            s += d * d;
        }
        diff[k] = s;
    }

    double[] nmse() {
        double[] out = new double[diff.length];
        for (int k = 0; k < out.length; k++) {
            out[k] = diff[k] / reference;
        }
        return out;
    }
}
