package dev.manyone.importance;

import com.fasterxml.jackson.databind.JsonNode;
import dev.manyone.elastic.LayerKind;
import dev.manyone.elastic.LayerSpec;
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
import java.util.SplittableRandom;
import java.util.TreeMap;

/**
 * Measures what rankings are worth: the first {@code calibRows} held-out sequences calibrate the importance
 * estimate, the other ones score children that differ only in their rankings: the same child specs (from a
 * rankings.json-shaped file) sliced with (a) the estimated rankings, (b) the file's own rankings (random in the
 * golden trained-hybrid), (c) weight-magnitude rankings ({@link WeightMagnitude}); for specs that drop layers also
 * (d) the estimated rankings with the spec's layer count but the layers chosen by the estimated depth ranking.
 * For a parent with MoE layers, (a) is one row per expert statistic (REAP, frequency, weight, mass), plus the estimated
 * rankings with random expert permutations over several seeds (mean ± standard deviation).
 * Each row: parameters, KL(parent ‖ child) and the child's NLL ({@link ChildQuality}).
 */
public final class RankEval {
    private RankEval() {
    }

    /**
     * One child sliced with one kind of rankings. For rankings drawn at random over several seeds, {@code kl} and
     * {@code nll} are the means and {@code klStd}, {@code nllStd} the sample standard deviations over the
     * {@code runs} seeds (0 for a single run).
     */
    public record Row(String child, String method, long params, double fraction, double kl, double nll, double klStd,
                      double nllStd, int runs) {
        Row(String child, String method, long params, double fraction, double kl, double nll) {
            this(child, method, params, fraction, kl, nll, 0, 0, 1);
        }
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
    /** Default number of seeds of the random expert rankings (the golden README's baseline uses 20). */
    public static final int RANDOM_SEEDS = 20;

    /** The row label of the estimated rankings with the experts of MoE layers ranked by {@code by}. */
    public static String expertsBy(ExpertStatistic by) {
        return "activation, experts by " + by.text();
    }

    /** The row label of the estimated rankings with random expert rankings. */
    public static String randomExperts(int seeds) {
        return "activation, random experts (" + seeds + " seeds)";
    }

    public static Report run(Path parent, Path heldout, int calibRows, Path childrenFile, List<String> children,
                             ImportanceEstimator.Options options) {
        return run(parent, heldout, calibRows, childrenFile, children, options, RANDOM_SEEDS, List.of());
    }

    /**
     * As above; for a parent with MoE layers the estimated rankings are scored with the experts ranked by each
     * {@link ExpertStatistic} (one row each, instead of the one estimated row) and by random expert permutations
     * drawn with seeds {@code 0..randomSeeds−1} (one row: mean ± standard deviation), every other axis as estimated.
     * Each of {@code rankingsFiles} (e.g. written by {@code manyone rank}) adds a row labelled with its file name.
     */
    public static Report run(Path parent, Path heldout, int calibRows, Path childrenFile, List<String> children,
                             ImportanceEstimator.Options options, int randomSeeds, List<Path> rankingsFiles) {
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
            Map<String, Rankings> given = new java.util.LinkedHashMap<>();
            for (Path f : rankingsFiles) {
                given.put(f.getFileName().toString(), SpecFiles.readRankings(f, model));
            }
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
                    if (model.moe().isEmpty()) {
                        out.add(row(q, name, ESTIMATED, spec, est.rankings(), total));
                    } else {
                        for (ExpertStatistic by : ExpertStatistic.values()) {
                            out.add(row(q, name, expertsBy(by), spec, est.scores().withExpertsBy(by).rankings(model), total));
                        }
                        if (randomSeeds > 0) {
                            out.add(randomRow(q, name, spec, model, est.rankings(), randomSeeds, total));
                        }
                    }
                    for (Map.Entry<String, Rankings> g : given.entrySet()) {
                        out.add(row(q, name, g.getKey(), spec, g.getValue(), total));
                    }
                    out.add(row(q, name, FILE, spec, fileRankings, total));
                    out.add(row(q, name, MAGNITUDE, spec, magnitude, total));
                    if (spec.layers() != null && spec.layers().size() < model.layers().size()) {
                        int[] top = Arrays.copyOf(est.rankings().layers(), spec.layers().size());
                        Arrays.sort(top);
                        List<Integer> layers = Arrays.stream(top).boxed().toList();
                        out.add(row(q, name, OWN_DEPTH, new ChildSpec(spec.hidden(), layers, remap(model, spec, layers),
                                spec.expertsPerToken()), est.rankings(), total));
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

    /** The child sliced with random expert rankings, seeds 0..seeds−1: mean and sample standard deviation. */
    private static Row randomRow(ChildQuality q, String child, ChildSpec spec, ModelDescription model, Rankings base,
                                 int seeds, long total) {
        double[] kl = new double[seeds];
        double[] nll = new double[seeds];
        long params = 0;
        for (int seed = 0; seed < seeds; seed++) {
            ChildQuality.Metrics m = q.child(spec, randomExperts(model, base, seed));
            kl[seed] = m.kl();
            nll[seed] = m.nll();
            params = m.params();
        }
        return new Row(child, randomExperts(seeds), params, params / (double) total, mean(kl), mean(nll), std(kl), std(nll),
                seeds);
    }

    /**
     * {@code base} with every MoE layer's expert ranking replaced by a uniformly random permutation (Fisher–Yates with
     * a {@code SplittableRandom(seed)}, layers in index order); the other axes are kept.
     */
    static Rankings randomExperts(ModelDescription model, Rankings base, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        Map<Integer, Rankings.Layer> per = new TreeMap<>();
        for (LayerSpec l : model.layers()) {
            Rankings.Layer r = base.layer(l.index());
            per.put(l.index(), switch (l.kind()) {
                case MAMBA, ATTENTION, MLP -> r;
                case MOE -> {
                    int[] p = new int[l.experts()];
                    for (int j = 0; j < p.length; j++) {
                        p[j] = j;
                    }
                    for (int j = p.length - 1; j > 0; j--) {
                        int k = random.nextInt(j + 1);
                        int t = p[j];
                        p[j] = p[k];
                        p[k] = t;
                    }
                    yield new Rankings.Layer(null, null, null, null, p, r.expertFfn(), r.sharedFfn());
                }
            });
        }
        return new Rankings(base.hidden(), base.layers(), Map.copyOf(per), false);
    }

    private static double mean(double[] a) {
        double s = 0;
        for (double v : a) {
            s += v;
        }
        return s / a.length;
    }

    /** Sample standard deviation (n − 1); 0 for one value. */
    private static double std(double[] a) {
        if (a.length < 2) {
            return 0;
        }
        double m = mean(a);
        double s = 0;
        for (double v : a) {
            s += (v - m) * (v - m);
        }
        return Math.sqrt(s / (a.length - 1));
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
