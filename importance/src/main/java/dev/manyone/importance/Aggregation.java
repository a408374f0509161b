package dev.manyone.importance;

/**
 * The one aggregation every activation score uses, NVIDIA's Minitron choice (mean over the sequence, L2 norm over
 * the batch): for a unit u (a channel, a neuron, a head) with magnitude {@code m_{s,t}(u)} at position t of
 * calibration window s,
 * <pre>
 *   score(u) = sqrt( Σ_s ( (1/T_s) Σ_t m_{s,t}(u) )² )
 * </pre>
 * The magnitude of a single channel or neuron is {@code |a|}; of a head of d channels it is the L2 norm over its
 * channels, {@code sqrt(Σ_c a_c²)}; of a layer for the cosine depth score it is the cosine distance
 * {@code 1 − cos(x_in, x_out)} of the residual stream around the layer. Sums are in double, in window order, so
 * the result does not depend on how windows are batched.
 */
public final class Aggregation {
    private final double[] sumOfSquares;
    private int windows;
    /** Sums of the window being streamed by {@link #addPositions}, or null. */
    private double[] open;

    /** An empty aggregate of {@code units} units. */
    public Aggregation(int units) {
        this.sumOfSquares = new double[units];
    }

    public int units() {
        return sumOfSquares.length;
    }

    /**
     * Adds the windows of one batch: {@code a} is [batch, seq, units · unitSize] row-major (as ONNX Runtime returns a
     * probe), a unit's magnitude is {@code |a|} for unitSize 1 and the L2 norm over its {@code unitSize} consecutive
     * values otherwise.
     */
    public void add(float[] a, int batch, int seq, int unitSize) {
        int units = sumOfSquares.length;
        int width = units * unitSize;
        if ((long) batch * seq * width != a.length) {
            throw new IllegalArgumentException("activation of " + a.length + " values is not [" + batch + ", " + seq + ", " + width + "]");
        }
        double[] mean = new double[units];
        for (int b = 0; b < batch; b++) {
            java.util.Arrays.fill(mean, 0);
            for (int t = 0; t < seq; t++) {
                int base = (b * seq + t) * width;
                for (int u = 0; u < units; u++) {
                    mean[u] += magnitude(a, base + u * unitSize, unitSize);
                }
            }
            addWindow(mean, seq);
        }
    }

    /**
     * Streams positions of the current window, {@code a} [positions, units · unitSize], in order; the window ends with
     * {@link #endWindow}. The same additions in the same order as {@link #add}, so the result is the same bits.
     */
    public void addPositions(float[] a, int positions, int unitSize) {
        int units = sumOfSquares.length;
        if (open == null) {
            open = new double[units];
        }
        for (int t = 0; t < positions; t++) {
            int base = t * units * unitSize;
            for (int u = 0; u < units; u++) {
                open[u] += magnitude(a, base + u * unitSize, unitSize);
            }
        }
    }

    /** Ends the window streamed by {@link #addPositions}, of {@code seq} positions. */
    public void endWindow(int seq) {
        addWindow(open, seq);
        open = null;
    }

    /** Adds one window whose per-unit magnitudes sum to {@code sums} over its {@code seq} positions. */
    public void addWindow(double[] sums, int seq) {
        for (int u = 0; u < sumOfSquares.length; u++) {
            double m = sums[u] / seq;
            sumOfSquares[u] += m * m;
        }
        windows++;
    }

    static double magnitude(float[] a, int from, int size) {
        if (size == 1) {
            return Math.abs(a[from]);
        }
        double s = 0;
        for (int k = 0; k < size; k++) {
            s += (double) a[from + k] * a[from + k];
        }
        return Math.sqrt(s);
    }

    /** The scores, one per unit. */
    public double[] scores() {
        double[] out = new double[sumOfSquares.length];
        for (int u = 0; u < out.length; u++) {
            out[u] = Math.sqrt(sumOfSquares[u]);
        }
        return out;
    }

    public int windows() {
        return windows;
    }
}
