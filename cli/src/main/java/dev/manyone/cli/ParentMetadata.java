package dev.manyone.cli;

import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.slice.Rankings;
import dev.manyone.formats.FormatException;
import dev.manyone.importance.Scores;
import dev.manyone.router.ElasticFiles;
import dev.manyone.router.ElasticMetadata;
import dev.manyone.router.ImportanceScores;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code manyone rank --into-parent}: the rankings and raw scores written into the parent's elastic metadata
 * ({@code elastic.json} + {@code elastic.safetensors}, docs/elastic-format.md) through the router module's API.
 * Budgets and axes already there are kept. A parent with a trained router is refused unless forced: its router was
 * trained with the rankings it has, and new rankings would change every budget's child. Scores go in as F32; the
 * layer scores of the iterative depth search, which need not fall along its removal-order ranking, are left out
 * when they do not (the format requires scores non-increasing along each ranking).
 */
final class ParentMetadata {
    private ParentMetadata() {
    }

    /** The parent's metadata as it is, checked before any estimate runs (refused: a router parent unless forced). */
    static ElasticMetadata check(Path parent, ModelDescription model, boolean force) {
        for (LayerSpec l : model.layers()) {
            switch (l.kind()) {
                case MAMBA, ATTENTION, MLP -> {
                }
                case MOE -> throw new FormatException(parent, "--into-parent: the elastic metadata (docs/elastic-format.md) "
                        + "has no MoE axes yet, and layer " + l.index() + " is an MoE layer; write the rankings with -o FILE "
                        + "and slice with extract --rankings FILE");
            }
        }
        ElasticMetadata old = ElasticFiles.read(parent, model);
        if (old.kind() == ElasticMetadata.Kind.ROUTER && !force) {
            throw new FormatException(parent.resolve(ElasticFiles.JSON), "the parent has a trained router, trained with its "
                    + "current rankings; new rankings would change every budget's child. Pass --force to replace them anyway");
        }
        return old;
    }

    /** Writes {@code rankings} and {@code scores} into {@code parent}, over {@code old} (from {@link #check}). */
    static void write(Path parent, ModelDescription model, ElasticMetadata old, Rankings rankings, Scores scores)
            throws IOException {
        boolean fromElastic = old.source() != null && old.source().getFileName().toString().equals(ElasticFiles.JSON);
        ElasticMetadata m = new ElasticMetadata(old.kind() == ElasticMetadata.Kind.ROUTER ? ElasticMetadata.Kind.ROUTER
                : ElasticMetadata.Kind.RANKINGS, parent.resolve(ElasticFiles.JSON),
                fromElastic ? old.budgets() : List.of(), fromElastic ? old.axes() : Map.of(), old.router(), rankings,
                toFloat(model, rankings, scores));
        ElasticFiles.write(parent, m, model);
    }

    static ImportanceScores toFloat(ModelDescription model, Rankings rankings, Scores s) {
        Map<Integer, ImportanceScores.Layer> per = new TreeMap<>();
        for (LayerSpec l : model.layers()) {
            Scores.Layer x = s.perLayer().get(l.index());
            per.put(l.index(), new ImportanceScores.Layer(f(x.mambaHeads()), f(x.mambaHeadChannels()), f(x.attentionHeads()), f(x.ffn())));
        }
        float[] layers = f(s.layers());
        for (int r = 1; r < rankings.layers().length; r++) {
            if (layers[rankings.layers()[r]] > layers[rankings.layers()[r - 1]]) {
                layers = null; // iterative search: removal order, not score order
                break;
            }
        }
        return new ImportanceScores(f(s.hidden()), layers, Map.copyOf(per));
    }

    private static float[] f(double[] a) {
        if (a == null) {
            return null;
        }
        float[] out = new float[a.length];
        for (int k = 0; k < a.length; k++) {
            out[k] = (float) a[k];
        }
        return out;
    }
}
