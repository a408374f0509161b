package dev.manyone.importance;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The benefit on the trained model: ranked on held-out sequences 0..3, children scored on sequences 4..7. The
 * estimated rankings must beat the golden random rankings (lower KL to the parent) at both golden sizes, with the
 * same specs, so only the rankings differ. Prints the table of docs/importance.md.
 */
class RankEvalTest {
    @Test
    void estimatedRankingsBeatRandomOnTheTrainedModel() {
        RankEval.Report r = RankEval.run(Golden.trained(), Golden.trained().resolve("heldout.safetensors"), 4,
                Golden.trained().resolve("rankings.json"), List.of("75pct", "50pct"), ImportanceEstimator.Options.DEFAULT);
        System.out.printf("parent NLL %.3f on %d sequences, %d tokens%n", r.parentNll(), r.evalRows(), r.evalTokens());
        for (RankEval.Row row : r.rows()) {
            System.out.printf("%-6s %-28s %,8d %5.1f%%  KL %.3f  NLL %.3f%n", row.child(), row.method(), row.params(),
                    100 * row.fraction(), row.kl(), row.nll());
        }
        assertEquals(1.53, r.parentNll(), 0.01, "the README's parent NLL on the same bytes");
        for (String child : List.of("75pct", "50pct")) {
            RankEval.Row ours = find(r, child, RankEval.ESTIMATED);
            RankEval.Row random = find(r, child, RankEval.FILE);
            RankEval.Row magnitude = find(r, child, RankEval.MAGNITUDE);
            assertEquals(ours.params(), random.params(), "only the rankings differ");
            assertTrue(ours.kl() < random.kl(), child + ": KL " + ours.kl() + " vs random " + random.kl());
            assertTrue(ours.nll() < random.nll(), child + ": NLL " + ours.nll() + " vs random " + random.nll());
            assertTrue(ours.kl() < magnitude.kl(), child + ": KL " + ours.kl() + " vs weight magnitude " + magnitude.kl());
        }
        // the golden README's random baseline, reproduced: 0.82 / 2.30 and 1.93 / 3.45
        assertEquals(0.82, find(r, "75pct", RankEval.FILE).kl(), 0.01);
        assertEquals(1.93, find(r, "50pct", RankEval.FILE).kl(), 0.01);
    }

    static RankEval.Row find(RankEval.Report r, String child, String method) {
        return r.rows().stream().filter(x -> x.child().equals(child) && x.method().equals(method)).findFirst().orElseThrow();
    }
}
