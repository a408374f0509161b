package dev.manyone.importance;

import com.fasterxml.jackson.databind.JsonNode;
import dev.manyone.elastic.LayerKind;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.elastic.runtime.TokenFile;
import dev.manyone.elastic.slice.ChildSpec;
import dev.manyone.elastic.slice.Rankings;
import dev.manyone.elastic.slice.SpecFiles;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.JsonFiles;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Measures what rankings are worth: the first {@code calibRows} held-out sequences calibrate the importance
 * estimate, the other ones score children that differ only in their rankings: the same child specs (from a
 * rankings.json-shaped file) sliced with (a) the estimated rankings, (b) the file's own rankings (random in the
 * golden trained-hybrid), (c) weight-magnitude rankings ({@link WeightMagnitude}); for specs that drop layers also
 * (d) the estimated rankings with the spec's layer count but the layers chosen by the estimated depth ranking.
 * Each row: parameters, KL(parent ‖ child) and the child's NLL ({@link ChildQuality}).
 */
public final class RankEval {
    private RankEval() {
    }

    public record Row(String child, String method, long params, double fraction, double kl, double nll) {
    }

    /**
     * @param parentNll the parent's NLL on the evaluation sequences
     * @param evalRows  held-out sequences scored
     */
    public record Report(double parentNll, long parentParams, int calibRows, int evalRows, long evalTokens,
                         ImportanceEstimator.Result estimate, List<Row> rows) {
    }

    public static final String ESTIMATED = "activation (manyone rank)";
    public static final String FILE = "rankings of the children file";
    public static final String MAGNITUDE = "weight magnitude";
    public static final String OWN_DEPTH = "activation + own depth";

    public static Report run(Path parent, Path heldout, int calibRows, Path childrenFile, List<String> children,
                             ImportanceEstimator.Options options) {
        try (Checkpoint cp = Checkpoint.open(parent)) {
            ModelDescription model = cp.model();
            List<long[]> rows = TokenFile.read(heldout, model.vocab());
            if (calibRows < 1 || calibRows >= rows.size()) {
                throw new FormatException(heldout, "--calib-rows: expected 1.." + (rows.size() - 1)
                        + " (the rest are the evaluation sequences), found " + calibRows);
            }
            JsonNode root = JsonFiles.read(childrenFile, "children file");
            if (!root.has("children") || !root.get("children").isObject()) {
                throw new FormatException(childrenFile, "expected a rankings.json with a 'children' object, found none");
            }
            List<String> names = new ArrayList<>(children);
            if (names.isEmpty()) {
                root.get("children").fieldNames().forEachRemaining(names::add);
            }
            Rankings fileRankings = SpecFiles.readRankings(childrenFile, model);
            Calibration calib = Calibration.of(rows.subList(0, calibRows), heldout.getFileName() + " rows 0.." + (calibRows - 1),
                    "token ids", Calibration.Sampling.ALL, heldout);
            ImportanceEstimator.Result est = ImportanceEstimator.estimate(parent, calib, options);
            Rankings magnitude = WeightMagnitude.scores(model, cp.tensors()).rankings(model);
            List<long[]> eval = rows.subList(calibRows, rows.size());
            Path work = Files.createTempDirectory(options.workDir() == null ? Path.of(System.getProperty("java.io.tmpdir"))
                    : options.workDir(), "manyone-rank-eval-");
            try {
                ChildQuality q = new ChildQuality(cp, eval, work, options.threads());
                long total = model.params().total();
                List<Row> out = new ArrayList<>();
                for (String name : names) {
                    ChildSpec spec = SpecFiles.readSpec(childrenFile, name);
                    out.add(row(q, name, ESTIMATED, spec, est.rankings(), total));
                    out.add(row(q, name, FILE, spec, fileRankings, total));
                    out.add(row(q, name, MAGNITUDE, spec, magnitude, total));
                    if (spec.layers() != null && spec.layers().size() < model.layers().size()) {
                        int[] top = Arrays.copyOf(est.rankings().layers(), spec.layers().size());
                        Arrays.sort(top);
                        List<Integer> layers = Arrays.stream(top).boxed().toList();
                        out.add(row(q, name, OWN_DEPTH, new ChildSpec(spec.hidden(), layers, remap(model, spec, layers)), est.rankings(), total));
                    }
                }
                long tokens = 0;
                for (long[] r : eval) {
                    tokens += r.length - 1;
                }
                return new Report(q.parentNll(), total, calibRows, eval.size(), tokens, est, List.copyOf(out));
            } finally {
                try (var s = Files.walk(work)) {
                    for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                        Files.deleteIfExists(p);
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Row row(ChildQuality q, String child, String method, ChildSpec spec, Rankings r, long total) {
        ChildQuality.Metrics m = q.child(spec, r);
        return new Row(child, method, m.params(), m.params() / (double) total, m.kl(), m.nll());
    }

    /**
     * The spec's per-layer widths moved to other kept layers: each kept layer takes the widths the spec gives the
     * first listed layer of its kind (the golden specs give every layer of a kind the same widths).
     */
    private static Map<Integer, ChildSpec.Widths> remap(ModelDescription model, ChildSpec spec, List<Integer> layers) {
        Map<LayerKind, ChildSpec.Widths> byKind = new EnumMap<>(LayerKind.class);
        for (Map.Entry<Integer, ChildSpec.Widths> e : spec.perLayer().entrySet()) {
            byKind.putIfAbsent(model.layers().get(e.getKey()).kind(), e.getValue());
        }
        Map<Integer, ChildSpec.Widths> out = new TreeMap<>();
        for (int i : layers) {
            ChildSpec.Widths w = byKind.get(model.layers().get(i).kind());
            if (w != null) {
                out.put(i, w);
            }
        }
        return Map.copyOf(out);
    }
}
