package dev.manyone.router;

import java.util.function.ToDoubleFunction;

/**
 * The untrained-target search: greedy removal of the cheapest option per importance. From the largest choice of every
 * unit ({@link ChoiceSpace}), repeat: among the units not yet at their smallest choice, step the one whose next smaller
 * choice loses the least importance mass ({@link ImportanceMass}) per unit of cost saved,
 * <pre>   argmin over units u of  (J(s) − J(s − e_u)) / (cost(s) − cost(s − e_u)),   cost saved &gt; 0</pre>
 * (ties: the first unit in canonical order), until the cost is within the target. The sequence of states — the
 * <em>path</em> — depends only on the parent, its metadata and the cost function, never on the target, and every step
 * only shrinks one unit; so the configuration for a smaller target lies further along the same path and is nested in
 * the configuration for a larger one. Each step costs one evaluation of J and of the cost per unit (O(layers) each):
 * milliseconds even for a 62-layer 12B parent.
 */
final class TargetSearch {
    private TargetSearch() {
    }

    /** A state on the path, with its mass and cost. */
    record Point(int[] state, Configuration configuration, double mass, double cost, int steps) {
    }

    /**
     * The first state on the path whose cost is at most {@code target}; null when even the end of the path (every unit
     * at its smallest choice, or no step saves cost) is above it. {@code start} skips that many steps first (used to
     * walk further after a measurement disagreed with a prediction).
     */
    static Point search(ChoiceSpace space, ImportanceMass mass, ToDoubleFunction<Configuration> cost, double target, int start) {
        Point p = walk(space, mass, cost, target, start);
        return p.cost() <= target ? p : null;
    }

    /** The last state of the path: every unit as small as a cost-saving step can make it. */
    static Point end(ChoiceSpace space, ImportanceMass mass, ToDoubleFunction<Configuration> cost) {
        return walk(space, mass, cost, Double.NEGATIVE_INFINITY, 0);
    }

    /** Walks until the cost is within {@code target} after at least {@code start} steps, or the path ends. */
    private static Point walk(ChoiceSpace space, ImportanceMass mass, ToDoubleFunction<Configuration> cost, double target, int start) {
        int[] s = space.top();
        Configuration c = space.configuration(s);
        double j = mass.of(c);
        double k = cost.applyAsDouble(c);
        int steps = 0;
        while (k > target || steps < start) {
            int best = -1;
            double bestRatio = Double.POSITIVE_INFINITY;
            Configuration bestC = null;
            double bestJ = 0;
            double bestK = 0;
            for (int u = 0; u < s.length; u++) {
                if (s[u] == 0) {
                    continue;
                }
                s[u]--;
                Configuration c2 = space.configuration(s);
                s[u]++;
                double k2 = cost.applyAsDouble(c2);
                double saved = k - k2;
                if (!(saved > 0)) {
                    continue;
                }
                double j2 = mass.of(c2);
                double ratio = Math.max(0, j - j2) / saved;
                if (ratio < bestRatio) {
                    bestRatio = ratio;
                    best = u;
                    bestC = c2;
                    bestJ = j2;
                    bestK = k2;
                }
            }
            if (best < 0) {
                break;
            }
            s[best]--;
            c = bestC;
            j = bestJ;
            k = bestK;
            steps++;
        }
        return new Point(s.clone(), c, j, k, steps);
    }
}
