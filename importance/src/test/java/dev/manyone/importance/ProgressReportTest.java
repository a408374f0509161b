package dev.manyone.importance;

import dev.manyone.formats.Progress;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Ranking reports progress in phases, each counted in passes or parts that add up to the announced total. */
class ProgressReportTest {
    /** Phase name, announced total, units advanced, unit; checks start/advance/done come in order. */
    record Phase(String name, long total, long advanced, String unit) {
    }

    static final class Recorder implements Progress {
        final List<Phase> phases = new ArrayList<>();
        private String name;
        private String unit;
        private long total;
        private long advanced;

        @Override
        public void start(String phase, long total) {
            start(phase, total, "bytes");
        }

        @Override
        public void start(String phase, long total, String unit) {
            assertEquals(null, name, "a phase started before '" + name + "' was done");
            this.name = phase;
            this.total = total;
            this.unit = unit;
            this.advanced = 0;
        }

        @Override
        public void advance(long units) {
            assertTrue(name != null, "advance outside a phase");
            advanced += units;
        }

        @Override
        public void done() {
            phases.add(new Phase(name, total, advanced, unit));
            name = null;
        }
    }

    private static Calibration calib() {
        return Calibration.load(Golden.tiny().resolve("golden.safetensors"), Golden.tiny(), 512, Calibration.Sampling.ALL);
    }

    @Test
    void wholeModelReportsProbeThenDepthInPasses() {
        Recorder r = new Recorder();
        Calibration calib = calib();
        ImportanceEstimator.estimate(Golden.tiny(), calib, ImportanceEstimator.Options.DEFAULT, r);
        int batches = calib.batches(ImportanceEstimator.Options.DEFAULT.batch()).size();
        assertEquals(List.of(new Phase("probe", batches, batches, "passes"), new Phase("depth", 10L * batches, 10L * batches, "passes")),
                r.phases, "10 layers: one pass per batch to probe, one per batch and removed layer for NMSE");
    }

    @Test
    void streamedIterativeReportsEveryRoundInParts() {
        Recorder r = new Recorder();
        ImportanceEstimator.estimate(Golden.tiny(), calib(), ImportanceEstimator.Options.DEFAULT
                .with(ImportanceEstimator.Mode.STREAMED).with(DepthMethod.NMSE_ITERATIVE), r);
        // round 1 (probes + all 10 candidates): embeddings, 10 layers, head; step 1 reuses it; step k > 1 runs the
        // 10 - (k - 1) layers left and the head
        assertEquals(new Phase("probe+depth", 12, 12, "parts"), r.phases.get(0));
        assertEquals(10, r.phases.size(), "round 1 plus steps 2..10: " + r.phases);
        for (int k = 2; k <= 10; k++) {
            Phase p = r.phases.get(k - 1);
            assertEquals(new Phase("depth " + k + "/10", 10 - (k - 1) + 1, 10 - (k - 1) + 1, "parts"), p);
        }
    }
}
