package dev.manyone.importance;

import java.util.List;
import java.util.Set;

/**
 * The forward passes importance estimation needs, by ONNX Runtime, whole-model or layer-streamed.
 */
interface Passes extends AutoCloseable {

    /**
     * The full model over the calibration batches with probes: feeds every activation to {@code acc}, in order, and
     * keeps what {@link #nmse} needs for {@code depth} (the full model's logits as the NMSE reference).
     */
    void probe(ScoreAccumulator acc, DepthMethod depth);

    /**
     * For each candidate j, the NMSE of the logits of the model without the layers {@code removed} ∪ {j} against
     * the full model's (the reference kept by {@link #probe}). {@code phase} names the progress phase.
     */
    double[] nmse(Set<Integer> removed, List<Integer> candidates, String phase);

    /** Layer passes over the calibration set run so far (a whole-model pass of L layers counts L), for reporting. */
    long layerRuns();

    @Override
    void close();
}
