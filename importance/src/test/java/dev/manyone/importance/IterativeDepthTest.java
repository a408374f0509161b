package dev.manyone.importance;

import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The iterative search (whole-model and streamed alike) removes the least important layer first and ranks layers in reverse removal order. */
class IterativeDepthTest {
    @Test
    void firstRemovalIsTheOneShotMinimumAndTheRankingIsTheReverseRemovalOrder() {
        Calibration calib = Calibration.load(Golden.tiny().resolve("golden.safetensors"), Golden.tiny(), 512, Calibration.Sampling.ALL);
        ImportanceEstimator.Options o = ImportanceEstimator.Options.DEFAULT.with(ImportanceEstimator.Mode.STREAMED);
        ImportanceEstimator.Result once = ImportanceEstimator.estimate(Golden.tiny(), calib, o);
        ImportanceEstimator.Result iter = ImportanceEstimator.estimate(Golden.tiny(), calib, o.with(DepthMethod.NMSE_ITERATIVE));
        ImportanceEstimator.Result whole = ImportanceEstimator.estimate(Golden.tiny(), calib,
                o.with(DepthMethod.NMSE_ITERATIVE).with(ImportanceEstimator.Mode.WHOLE));
        assertArrayEquals(whole.rankings().layers(), iter.rankings().layers(), "streamed and whole-model agree");
        StreamedEqualsWholeTest.close(whole.scores().layers(), iter.scores().layers(), "iterative");
        int[] oneShot = once.rankings().layers();
        int[] iterative = iter.rankings().layers();
        int last = oneShot[oneShot.length - 1];
        assertEquals(last, iterative[iterative.length - 1], "the first layer removed is the one-shot least important");
        assertEquals(once.scores().layers()[last], iter.scores().layers()[last], 1e-12, "its score is the one-shot NMSE");
        int[] sorted = iterative.clone();
        Arrays.sort(sorted);
        assertEquals(10, Arrays.stream(sorted).distinct().count(), "a permutation");
        // removing more layers only adds damage here: the removal-time scores rise along the removal order
        for (int k = iterative.length - 1; k > 0; k--) {
            assertTrue(iter.scores().layers()[iterative[k]] <= iter.scores().layers()[iterative[k - 1]] + 1e-9,
                    Arrays.toString(iter.scores().layers()));
        }
    }
}
