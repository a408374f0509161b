package dev.manyone.elastic.generate;

/**
 * Fast standard-normal samples for generated test weights: an inverse-CDF table of 2^16 quantiles, indexed by
 * 16 random bits. Tails are cut at about ±4.3σ; the samples are rounded to BF16 anyway, so this is plenty
 * for "sensible magnitudes" and about 20× faster than Box–Muller, which matters for the 12B preset.
 */
final class NormalTable {
    private static final float[] QUANTILES = build();

    private NormalTable() {
    }

    /** The standard-normal quantile of the 16-bit index {@code bits & 0xFFFF}. */
    static float sample(long bits) {
        return QUANTILES[(int) (bits & 0xFFFF)];
    }

    private static float[] build() {
        float[] q = new float[1 << 16];
        for (int i = 0; i < q.length; i++) {
            q[i] = (float) inverseNormalCdf((i + 0.5) / q.length);
        }
        return q;
    }

    /**
     * Acklam's rational approximation of the inverse normal CDF (relative error below 1.15e-9), followed by one
     * Halley refinement step against {@link #erfc}.
     */
    static double inverseNormalCdf(double p) {
        final double[] a = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
            1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
        final double[] b = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
            6.680131188771972e+01, -1.328068155288572e+01};
        final double[] c = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
            -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
        final double[] d = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
            3.754408661907416e+00};
        double x;
        if (p < 0.02425) {
            double q = Math.sqrt(-2 * Math.log(p));
            x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
                    / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        } else if (p <= 1 - 0.02425) {
            double q = p - 0.5;
            double r = q * q;
            x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
                    / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
        } else {
            double q = Math.sqrt(-2 * Math.log(1 - p));
            x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
                    / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        }
        double e = 0.5 * erfc(-x / Math.sqrt(2)) - p;
        double u = e * Math.sqrt(2 * Math.PI) * Math.exp(x * x / 2);
        return x - u / (1 + x * u / 2);
    }

    /** Complementary error function (Numerical Recipes erfcc, fractional error below 1.2e-7). */
    private static double erfc(double x) {
        double z = Math.abs(x);
        double t = 1 / (1 + 0.5 * z);
        double r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
                + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
                + t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? r : 2 - r;
    }
}
