package dev.manyone.router;

/**
 * Decode-step latency predicted from a configuration's size: {@code ms = a + b · params + c · layers}. At batch 1 a
 * decode step reads every weight once (the {@code b} term: memory bandwidth) and pays a fixed cost per layer for its
 * kernels ({@code c}) and per call ({@code a}). Fitted by least squares to measured probes; a negative slope (noise on
 * tiny models) drops that term and refits, so predictions never grow when a configuration shrinks.
 *
 * @param proxyScale 1 when the probes were the parent's own children; s &gt; 1 when they were children of a proxy
 *                   with widths divided by s (b is then extrapolated from the proxy's sizes)
 */
public record LatencyModel(double a, double perParam, double perLayer, int probes, int proxyScale) {

    public double predict(long params, int layers) {
        return a + perParam * params + perLayer * layers;
    }

    /** Least squares over the probes (x = params, layers; y = ms). */
    static LatencyModel fit(long[] params, int[] layers, double[] ms, int proxyScale) {
        boolean useParams = true;
        boolean useLayers = true;
        for (int attempt = 0; attempt < 4; attempt++) {
            double[] beta = solve(params, layers, ms, useParams, useLayers);
            if (beta != null) {
                if (useParams && beta[1] < 0) {
                    useParams = false;
                    continue;
                }
                if (useLayers && beta[2] < 0) {
                    useLayers = false;
                    continue;
                }
                return new LatencyModel(beta[0], beta[1], beta[2], ms.length, proxyScale);
            }
            if (useLayers) {
                useLayers = false;
            } else {
                useParams = false;
            }
        }
        double mean = 0;
        for (double v : ms) {
            mean += v / ms.length;
        }
        return new LatencyModel(mean, 0, 0, ms.length, proxyScale);
    }

    /** [a, b, c] (unused terms 0), or null when the probes do not determine them. */
    private static double[] solve(long[] params, int[] layers, double[] ms, boolean useParams, boolean useLayers) {
        int k = 1 + (useParams ? 1 : 0) + (useLayers ? 1 : 0);
        if (ms.length < k) {
            return null;
        }
        // scale the features to O(1) so the normal equations are well conditioned
        double ps = 1;
        double ls = 1;
        for (int i = 0; i < ms.length; i++) {
            ps = Math.max(ps, params[i]);
            ls = Math.max(ls, layers[i]);
        }
        double[][] x = new double[ms.length][k];
        for (int i = 0; i < ms.length; i++) {
            int j = 0;
            x[i][j++] = 1;
            if (useParams) {
                x[i][j++] = params[i] / ps;
            }
            if (useLayers) {
                x[i][j] = layers[i] / ls;
            }
        }
        double[][] a = new double[k][k + 1];
        for (int i = 0; i < ms.length; i++) {
            for (int r = 0; r < k; r++) {
                for (int c = 0; c < k; c++) {
                    a[r][c] += x[i][r] * x[i][c];
                }
                a[r][k] += x[i][r] * ms[i];
            }
        }
        for (int col = 0; col < k; col++) {
            int piv = col;
            for (int r = col + 1; r < k; r++) {
                if (Math.abs(a[r][col]) > Math.abs(a[piv][col])) {
                    piv = r;
                }
            }
            if (Math.abs(a[piv][col]) < 1e-9 * ms.length) {
                return null;
            }
            double[] t = a[col];
            a[col] = a[piv];
            a[piv] = t;
            for (int r = 0; r < k; r++) {
                if (r != col) {
                    double f = a[r][col] / a[col][col];
                    for (int c = col; c <= k; c++) {
                        a[r][c] -= f * a[col][c];
                    }
                }
            }
        }
        double[] beta = new double[3];
        int j = 0;
        beta[0] = a[j][k] / a[j][j];
        j++;
        if (useParams) {
            beta[1] = a[j][k] / a[j][j] / ps;
            j++;
        }
        if (useLayers) {
            beta[2] = a[j][k] / a[j][j] / ls;
        }
        return beta;
    }
}
