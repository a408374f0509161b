package dev.manyone.router;

import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * The routers of an elastic parent, one {@link AxisRouter} per axis (elastic.json {@code router}: input size = the
 * number of budgets, hidden width — 256 in Nemotron Elastic —, LeakyReLU slope, outputs per axis). For budget k the
 * choice of each segment of each axis is the argmax of that segment's logits ("during inference, the router's output
 * is discretised by argmax"; ties go to the smaller choice).
 */
public record Router(int inputSize, int hiddenWidth, double slope, Map<Axis, AxisRouter> axes) {

    public Router {
        EnumMap<Axis, AxisRouter> copy = new EnumMap<>(Axis.class);
        copy.putAll(axes);
        axes = Collections.unmodifiableMap(copy);
    }

    /**
     * The choice index of every segment of every axis for budget {@code k}, in {@link AxisChoices#segments()} order.
     *
     * @param choices the parent's axes; must have the same keys and output counts as this router
     */
    public Map<Axis, int[]> decide(int k, Map<Axis, AxisChoices> choices) {
        Map<Axis, int[]> out = new EnumMap<>(Axis.class);
        for (Map.Entry<Axis, AxisChoices> e : choices.entrySet()) {
            AxisRouter r = axes.get(e.getKey());
            if (r == null || r.outputs() != e.getValue().outputs()) {
                throw new IllegalArgumentException("router and choices disagree on axis " + e.getKey());
            }
            double[] logits = r.logits(k, slope);
            List<AxisChoices.Segment> segments = e.getValue().segments();
            int[] picks = new int[segments.size()];
            for (int s = 0; s < picks.length; s++) {
                AxisChoices.Segment seg = segments.get(s);
                picks[s] = AxisRouter.argmax(logits, seg.offset(), seg.choices().length);
            }
            out.put(e.getKey(), picks);
        }
        return out;
    }
}
