package dev.manyone.importance;

import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.elastic.slice.Rankings;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The layer-streamed mode (one part graph at a time, the residual stream spilled to disk) gives the same rankings as
 * the whole-model mode, on every axis and for every depth method, and the same scores.
 */
class StreamedEqualsWholeTest {

    static void same(Path parent, Calibration calib, ImportanceEstimator.Options options) {
        ImportanceEstimator.Result whole = ImportanceEstimator.estimate(parent, calib, options.with(ImportanceEstimator.Mode.WHOLE));
        ImportanceEstimator.Result streamed = ImportanceEstimator.estimate(parent, calib, options.with(ImportanceEstimator.Mode.STREAMED));
        ModelDescription model;
        try (Checkpoint cp = Checkpoint.open(parent)) {
            model = cp.model();
        }
        String what = parent.getFileName() + " " + options.depth().text();
        Rankings a = whole.rankings();
        Rankings b = streamed.rankings();
        assertArrayEquals(a.hidden(), b.hidden(), what + " hidden");
        assertArrayEquals(a.layers(), b.layers(), what + " layers");
        for (var l : model.layers()) {
            Rankings.Layer x = a.layer(l.index());
            Rankings.Layer y = b.layer(l.index());
            assertArrayEquals(x.mambaHeads(), y.mambaHeads(), what + " mamba heads " + l.index());
            assertArrayEquals(x.mambaHeadChannels(), y.mambaHeadChannels(), what + " mamba channels " + l.index());
            assertArrayEquals(x.attentionHeads(), y.attentionHeads(), what + " attention " + l.index());
            assertArrayEquals(x.ffn(), y.ffn(), what + " ffn " + l.index());
            assertArrayEquals(x.experts(), y.experts(), what + " experts " + l.index());
            assertArrayEquals(x.expertFfn(), y.expertFfn(), what + " expert_ffn " + l.index());
            assertArrayEquals(x.sharedFfn(), y.sharedFfn(), what + " shared_ffn " + l.index());
        }
        close(whole.scores().hidden(), streamed.scores().hidden(), what);
        close(whole.scores().layers(), streamed.scores().layers(), what);
        for (Map.Entry<Integer, Scores.Layer> e : whole.scores().perLayer().entrySet()) {
            Scores.Layer y = streamed.scores().perLayer().get(e.getKey());
            close(e.getValue().mambaHeads(), y.mambaHeads(), what);
            close(e.getValue().mambaHeadChannels(), y.mambaHeadChannels(), what);
            close(e.getValue().attentionHeads(), y.attentionHeads(), what);
            close(e.getValue().ffn(), y.ffn(), what);
            close(e.getValue().sharedFfn(), y.sharedFfn(), what);
            if (e.getValue().experts() != null) {
                assertArrayEquals(e.getValue().experts().tokens(), y.experts().tokens(), what);
                for (ExpertStatistic by : ExpertStatistic.values()) {
                    close(e.getValue().experts().score(by), y.experts().score(by), what + " experts by " + by.text());
                }
                for (int j = 0; j < e.getValue().expertFfn().length; j++) {
                    close(e.getValue().expertFfn()[j], y.expertFfn()[j], what + " expert_ffn " + j);
                }
            }
        }
        // the rankings object written does not depend on the mode
        assertEquals(RankingsFile.toJson(model, whole).get("rankings"), RankingsFile.toJson(model, streamed).get("rankings"), what);
    }

    static void close(double[] a, double[] b, String what) {
        if (a == null) {
            assertEquals(null, b, what);
            return;
        }
        for (int k = 0; k < a.length; k++) {
            assertEquals(a[k], b[k], 1e-6 * Math.abs(a[k]) + 1e-12, what + "[" + k + "]");
        }
    }

    /** nmse-iterative is compared in {@link IterativeDepthTest}. */
    @Test
    void tinyHybridNmseAndCosine() {
        Calibration calib = Calibration.load(Golden.tiny().resolve("golden.safetensors"), Golden.tiny(), 512, Calibration.Sampling.ALL);
        for (DepthMethod d : java.util.List.of(DepthMethod.NMSE, DepthMethod.COSINE)) {
            // batch 1 in one mode and 2 in the other: batching does not change the scores either
            same(Golden.tiny(), calib, new ImportanceEstimator.Options(ImportanceEstimator.Mode.WHOLE, d, d == DepthMethod.NMSE ? 1 : 2, 0, 0, null));
        }
    }

    /** An MoE parent (probes of routed experts come out of a layer part as out of the whole model). */
    @Test
    void tinyMoeNmse() {
        Calibration calib = Calibration.load(Golden.tinyMoe().resolve("golden.safetensors"), Golden.tinyMoe(), 512, Calibration.Sampling.ALL);
        same(Golden.tinyMoe(), calib, new ImportanceEstimator.Options(ImportanceEstimator.Mode.WHOLE, DepthMethod.NMSE, 1, 0, 0, null));
        Path latent = Golden.dir().resolve("tiny-latent-moe"); // LatentMoE with router groups
        same(latent, Calibration.load(latent.resolve("golden.safetensors"), latent, 512, Calibration.Sampling.ALL),
                ImportanceEstimator.Options.DEFAULT.with(DepthMethod.COSINE).with(ExpertStatistic.FREQUENCY));
    }

    @Test
    void trainedHybridNmse() {
        Calibration calib = Calibration.load(Golden.trained().resolve("heldout.safetensors"), Golden.trained(), 256,
                new Calibration.Sampling(4, 128, 7));
        same(Golden.trained(), calib, ImportanceEstimator.Options.DEFAULT);
    }
}
