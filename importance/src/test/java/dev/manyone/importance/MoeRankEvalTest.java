package dev.manyone.importance;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Expert rankings on real weights: the golden trained-moe ranked on held-out rows 0..3, its {@code 50pct-experts}
 * child (8 of 16 experts in every MoE layer, everything else full, so only the expert rankings matter) scored on rows
 * 4..7. REAP must beat random expert rankings (20 seeds) and routing frequency, on KL(parent ‖ child) and on the
 * child's NLL, each by more than the random rankings' standard deviation. Prints the rows of docs/importance.md.
 */
class MoeRankEvalTest {
    @Test
    void reapBeatsRandomAndFrequencyByMoreThanTheRandomSpread() {
        RankEval.Report r = RankEval.run(Golden.trainedMoe(), Golden.trainedMoe().resolve("heldout.safetensors"), 4,
                Golden.trainedMoe().resolve("rankings.json"), List.of("50pct-experts"), ImportanceEstimator.Options.DEFAULT,
                RankEval.RANDOM_SEEDS);
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
    }

    private static RankEval.Row find(RankEval.Report r, String method) {
        return r.rows().stream().filter(x -> x.method().equals(method)).findFirst()
                .orElseThrow(() -> new AssertionError("no row " + method + " in " + r.rows()));
    }
}
