package dev.manyone.importance;

import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.elastic.slice.Rankings;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.Progress;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * Importance estimation: forward passes only, by ONNX Runtime on a probe export of the parent
 * ({@link ScoreAccumulator} says which activation scores which axis, {@link Aggregation} how they are aggregated,
 * {@link DepthMethod} how layers are scored), then rankings: every axis by descending score.
 * <p>
 * Two modes give the same rankings: {@link Mode#WHOLE} runs the whole parent in one session;
 * {@link Mode#STREAMED} holds one layer at a time and spills the residual stream to disk, for parents that do not fit
 * in memory as fp32. Deterministic: the same checkpoint, calibration and options give the same scores.
 */
public final class ImportanceEstimator {
    private ImportanceEstimator() {
    }

    public enum Mode { WHOLE, STREAMED }

    /**
     * @param batch        calibration windows per ONNX Runtime call
     * @param threads      ONNX Runtime intra-op threads; 0 lets it choose
     * @param headChannels K of the Mamba head score (the norm over the top-K head channels); 0 for all channels
     * @param workDir      where part graphs and spilled activations go (a temporary directory is made inside and
     *                     removed afterwards); null for the system temporary directory
     */
    public record Options(Mode mode, DepthMethod depth, int batch, int threads, int headChannels, Path workDir,
                          ExpertStatistic expertsBy) {
        public static final Options DEFAULT = new Options(Mode.WHOLE, DepthMethod.NMSE, 4, 0, 0, null);

        /** Experts ranked by REAP. */
        public Options(Mode mode, DepthMethod depth, int batch, int threads, int headChannels, Path workDir) {
            this(mode, depth, batch, threads, headChannels, workDir, ExpertStatistic.REAP);
        }

        public Options {
            if (batch < 1) {
                throw new FormatException(null, "--batch: expected at least 1, found " + batch);
            }
            if (headChannels < 0) {
                throw new FormatException(null, "--head-channels: expected 0 (all) or more, found " + headChannels);
            }
            if (expertsBy == null) {
                throw new IllegalArgumentException("expertsBy");
            }
        }

        public Options with(Mode m) {
            return new Options(m, depth, batch, threads, headChannels, workDir, expertsBy);
        }

        public Options with(DepthMethod d) {
            return new Options(mode, d, batch, threads, headChannels, workDir, expertsBy);
        }

        public Options withHeadChannels(int k) {
            return new Options(mode, depth, batch, threads, k, workDir, expertsBy);
        }

        public Options with(ExpertStatistic by) {
            return new Options(mode, depth, batch, threads, headChannels, workDir, by);
        }
    }

    /**
     * @param layerRuns layer passes over the calibration set (L for one whole-model pass)
     */
    public record Result(Scores scores, Rankings rankings, Calibration calibration, Options options, long layerRuns,
                         double seconds) {
    }

    /** Scores and ranks the parent checkpoint in {@code parentDir}. */
    public static Result estimate(Path parentDir, Calibration calibration, Options options) {
        return estimate(parentDir, calibration, options, Progress.NONE);
    }

    /**
     * Scores and ranks, reporting progress in phases: "probe" (calibration batches through the full model), then the
     * depth scoring ("depth", or "depth i/L" per step of the iterative search) in forward passes over one batch.
     */
    public static Result estimate(Path parentDir, Calibration calibration, Options options, Progress progress) {
        long start = System.nanoTime();
        ModelDescription model;
        try (Checkpoint cp = Checkpoint.open(parentDir)) {
            model = cp.model();
            model.check(cp.tensors());
            if (options.mode() == Mode.WHOLE) {
                return finish(model, calibration, options, start, work -> new WholeModelPasses(cp, calibration.batches(options.batch()),
                        work, options.threads(), progress));
            }
        }
        return finish(model, calibration, options, start, work -> new StreamedPasses(parentDir, model,
                calibration.batches(options.batch()), work, options.threads(), progress));
    }

    private interface PassesFactory {
        Passes open(Path work);
    }

    private static Result finish(ModelDescription model, Calibration calibration, Options options, long start, PassesFactory factory) {
        Path work = createWork(options.workDir());
        try (Passes passes = factory.open(work)) {
            ScoreAccumulator acc = new ScoreAccumulator(model);
            passes.probe(acc, options.depth());
            int layers = model.layers().size();
            double[] depth;
            int[] order = null;
            switch (options.depth()) {
                case COSINE -> depth = acc.cosineScores();
                case NMSE -> depth = passes.nmse(Set.of(), all(model), "depth");
                case NMSE_ITERATIVE -> {
                    depth = new double[layers];
                    order = new int[layers];
                    Set<Integer> removed = new TreeSet<>();
                    for (int step = 0; step < layers; step++) {
                        List<Integer> candidates = new ArrayList<>();
                        for (int i = 0; i < layers; i++) {
                            if (!removed.contains(i)) {
                                candidates.add(i);
                            }
                        }
                        double[] s = passes.nmse(removed, candidates, "depth " + (step + 1) + "/" + layers);
                        int least = 0;
                        for (int k = 1; k < s.length; k++) {
                            if (s[k] < s[least]) {
                                least = k;
                            }
                        }
                        int j = candidates.get(least);
                        depth[j] = s[least];
                        removed.add(j);
                        order[layers - 1 - step] = j;
                    }
                }
                default -> throw new IllegalStateException();
            }
            Scores scores = acc.finish(depth, order, options.headChannels(), options.expertsBy());
            return new Result(scores, scores.rankings(model), calibration, options, passes.layerRuns(),
                    (System.nanoTime() - start) / 1e9);
        } finally {
            deleteTree(work);
        }
    }

    private static List<Integer> all(ModelDescription model) {
        List<Integer> out = new ArrayList<>();
        for (LayerSpec l : model.layers()) {
            out.add(l.index());
        }
        return out;
    }

    private static Path createWork(Path dir) {
        try {
            return dir == null ? Files.createTempDirectory("manyone-rank-") : Files.createTempDirectory(dir, "manyone-rank-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            // best effort: a leftover temporary directory is not an error of the estimate
        }
    }
}
