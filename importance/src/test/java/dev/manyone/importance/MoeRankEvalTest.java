package dev.manyone.importance;

import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.elastic.runtime.TokenFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Expert rankings on real weights: the golden trained-moe ranked on held-out rows 0..3, its {@code 50pct-experts}
 * child (8 of 16 experts in every MoE layer, everything else full, so only the expert rankings matter) scored on rows
 * 4..7. REAP must beat random expert rankings (20 seeds) and routing frequency, on KL(parent ‖ child) and on the
 * child's NLL, each by more than the random rankings' standard deviation. The golden README's measured baseline is
 * reproduced, and rankings written from a calibration file of rows 0..3 (as {@code manyone rank} would) are the
 * same as rank-eval's own estimate. Prints the rows of docs/importance.md.
 */
class MoeRankEvalTest {
    @Test
    void reapBeatsRandomAndFrequencyByMoreThanTheRandomSpread(@TempDir Path tmp) throws Exception {
        // what 'manyone rank --calib rows0-3.jsonl --samples 0 --seq-len 0' computes: the same as rank-eval's estimate
        Path heldout = Golden.trainedMoe().resolve("heldout.safetensors");
        List<long[]> rows = TokenFile.read(heldout, 256);
        Path calib = tmp.resolve("rows0-3.jsonl");
        StringBuilder jsonl = new StringBuilder();
        for (long[] row : rows.subList(0, 4)) {
            jsonl.append(Arrays.toString(row)).append('\n');
        }
        Files.writeString(calib, jsonl);
        ImportanceEstimator.Result ranked = ImportanceEstimator.estimate(Golden.trainedMoe(),
                Calibration.load(calib, Golden.trainedMoe(), 256, Calibration.Sampling.ALL), ImportanceEstimator.Options.DEFAULT);
        Path rankFile = tmp.resolve("reap.json");
        RankingsFile.write(rankFile, RankingsFile.toJson(model(), ranked));

        RankEval.Report r = RankEval.run(Golden.trainedMoe(), heldout, 4, Golden.trainedMoe().resolve("rankings.json"),
                List.of("50pct-experts"), ImportanceEstimator.Options.DEFAULT, RankEval.RANDOM_SEEDS, List.of(rankFile));
        System.out.printf("parent NLL %.3f on %d sequences, %d tokens%n", r.parentNll(), r.evalRows(), r.evalTokens());
        for (RankEval.Row row : r.rows()) {
            System.out.printf("%-14s %-40s %,9d %5.1f%%  KL %.3f ± %.3f  NLL %.3f ± %.3f%n", row.child(), row.method(),
                    row.params(), 100 * row.fraction(), row.kl(), row.klStd(), row.nll(), row.nllStd());
        }
        assertEquals(1.426, r.parentNll(), 0.005, "the golden README's parent NLL on rows 4..7");
        RankEval.Row reap = find(r, RankEval.expertsBy(ExpertStatistic.REAP));
        RankEval.Row frequency = find(r, RankEval.expertsBy(ExpertStatistic.FREQUENCY));
        RankEval.Row weight = find(r, RankEval.expertsBy(ExpertStatistic.WEIGHT));
        RankEval.Row random = find(r, RankEval.randomExperts(RankEval.RANDOM_SEEDS));
        assertEquals(RankEval.RANDOM_SEEDS, random.runs());
        assertTrue(random.klStd() > 0 && random.nllStd() > 0, "random rankings differ between seeds");
        for (RankEval.Row x : List.of(frequency, weight, random)) {
            assertEquals(reap.params(), x.params(), "only the expert rankings differ");
        }
        for (RankEval.Row other : List.of(random, frequency)) {
            assertTrue(reap.kl() + random.klStd() < other.kl(),
                    "KL: REAP " + reap.kl() + " + spread " + random.klStd() + " vs " + other.method() + " " + other.kl());
            assertTrue(reap.nll() + random.nllStd() < other.nll(),
                    "NLL: REAP " + reap.nll() + " + spread " + random.nllStd() + " vs " + other.method() + " " + other.nll());
        }
        assertTrue(weight.kl() < random.kl(), "mean routing weight beats random too: " + weight.kl() + " vs " + random.kl());
        // the golden README's measured baseline (rows 0..3 → 4..7, 50%): REAP 0.084 / 1.481, frequency 0.129 / 1.515,
        // mean routing weight over all tokens (our "mass") 0.090 / 1.489
        RankEval.Row mass = find(r, RankEval.expertsBy(ExpertStatistic.MASS));
        assertEquals(0.084, reap.kl(), 0.005);
        assertEquals(1.481, reap.nll(), 0.005);
        assertEquals(0.129, frequency.kl(), 0.005);
        assertEquals(0.090, mass.kl(), 0.005);
        assertEquals(1.489, mass.nll(), 0.005);
        // the rankings file written from the rows 0..3 calibration scores exactly as rank-eval's own REAP row
        RankEval.Row file = find(r, "reap.json");
        assertEquals(reap.kl(), file.kl(), 1e-12);
        assertEquals(reap.nll(), file.nll(), 1e-12);
        assertEquals(RankingsFile.toJson(model(), r.estimate()).get("rankings"), RankingsFile.toJson(model(), ranked).get("rankings"));
    }

    private static ModelDescription model() {
        try (Checkpoint cp = Checkpoint.open(Golden.trainedMoe())) {
            return cp.model();
        }
    }

    private static RankEval.Row find(RankEval.Report r, String method) {
        return r.rows().stream().filter(x -> x.method().equals(method)).findFirst()
                .orElseThrow(() -> new AssertionError("no row " + method + " in " + r.rows()));
    }
}
