package dev.manyone.importance;

import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.elastic.export.CheckpointWeights;
import dev.manyone.elastic.export.ExportOptions;
import dev.manyone.elastic.export.NemotronHGraph;
import dev.manyone.elastic.export.Probes;
import dev.manyone.elastic.export.StateNames;
import dev.manyone.formats.Progress;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Layer-streamed passes, for parents that do not fit in memory as fp32: one part graph at a time (embeddings, one
 * layer, or the head; {@link NemotronHGraph#buildPart}) is exported from the checkpoint, opened, run over every
 * calibration batch and closed before the next; the checkpoint itself is opened only while a part is exported, so
 * its mapped pages are released too. The residual stream between parts lives on disk ({@link SpillFile}).
 * <p>
 * The layer-removed variants of NMSE share the work: a variant without layer j equals the full model up to layer j,
 * so the streams are kept per distinct file and layer k runs once per distinct stream (about L²/2 layer passes for
 * all L variants, each part loaded once per round). In the first round the full-model stream also feeds the
 * probes, and its logits are spilled as the reference (kept for later rounds of the iterative search). The head
 * runs on chunks of tokens, so no batch's full logits are ever in memory.
 */
final class StreamedPasses implements Passes {
    private static final ExportOptions PROBES = ExportOptions.DEFAULT.withProbes();

    private final Path parent;
    private final ModelDescription model;
    private final List<long[][]> batches;
    private final Path work;
    private final int threads;
    private final Progress progress;
    private SpillFile embed;
    private SpillFile reference;
    private double[] firstRound;
    private double referenceSum;
    private long layerRuns;

    StreamedPasses(Path parent, ModelDescription model, List<long[][]> batches, Path work, int threads, Progress progress) {
        this.progress = progress;
        this.parent = parent;
        this.model = model;
        this.batches = batches;
        this.work = work;
        this.threads = threads;
    }

    @Override
    public void probe(ScoreAccumulator acc, DepthMethod depth) {
        List<Integer> all = new ArrayList<>();
        if (depth.needsLogits()) {
            model.layers().forEach(l -> all.add(l.index()));
        }
        double[] nmse = round(Set.of(), all, acc, depth.needsLogits() ? "probe+depth" : "probe");
        firstRound = depth.needsLogits() ? nmse : null;
        if (depth != DepthMethod.NMSE_ITERATIVE && reference != null) {
            reference.delete(); // only later rounds of the iterative search read it again
            reference = null;
        }
    }

    @Override
    public double[] nmse(Set<Integer> removed, List<Integer> candidates, String phase) {
        if (removed.isEmpty() && firstRound != null && candidates.size() == model.layers().size()) {
            return firstRound.clone();
        }
        if (reference == null) {
            throw new IllegalStateException("no reference logits: probe() ran without an NMSE depth method");
        }
        return round(removed, candidates, null, phase);
    }

    /** Exports one part from a freshly opened checkpoint and opens it; the checkpoint is closed again. */
    private OrtGraph part(NemotronHGraph.Part part, int layer) {
        try (Checkpoint cp = Checkpoint.open(parent)) {
            return OrtGraph.open(NemotronHGraph.buildPart(model, CheckpointWeights.of(cp), PROBES, part, layer),
                    work, "part-" + part.name().toLowerCase() + (layer >= 0 ? "-" + layer : ""), threads);
        }
    }

    private int tokens(long[][] batch) {
        return batch.length * batch[0].length;
    }

    /**
     * One pass over the layers with one stream per candidate (skipping its layer and every {@code removed} one) and,
     * when {@code acc} is given, the full-model stream feeding the probes. Returns the candidates' NMSE. Progress is
     * in parts: the embeddings (first round only), each layer not removed, the head.
     */
    private double[] round(Set<Integer> removed, List<Integer> candidates, ScoreAccumulator acc, String phase) {
        progress.start(phase, (embed == null ? 1 : 0) + model.layers().size() - removed.size() + 1, "parts");
        if (embed == null) {
            embed = SpillFile.create(work, "embed");
            try (OrtGraph g = part(NemotronHGraph.Part.EMBED, -1); SpillFile.Writer w = embed.writer()) {
                for (long[][] batch : batches) {
                    w.write(g.runOne(model, batch, null, NemotronHGraph.HIDDEN_OUT));
                }
            }
            progress.advance(1);
        }
        int n = candidates.size();
        int main = acc != null ? n : -1;
        SpillFile[] at = new SpillFile[n + (acc != null ? 1 : 0)];
        Arrays.fill(at, embed);
        try {
            for (LayerSpec l : model.layers()) {
                int k = l.index();
                if (removed.contains(k)) {
                    continue;
                }
                Map<SpillFile, List<Integer>> groups = new LinkedHashMap<>();
                for (int s = at.length - 1; s >= 0; s--) { // the full-model stream first
                    if (s == main || candidates.get(s) != k) {
                        groups.computeIfAbsent(at[s], f -> new ArrayList<>()).add(s);
                    }
                }
                if (groups.isEmpty()) {
                    progress.advance(1);
                    continue;
                }
                try (OrtGraph g = part(NemotronHGraph.Part.LAYER, k)) {
                    for (Map.Entry<SpillFile, List<Integer>> e : groups.entrySet()) {
                        boolean probes = e.getValue().contains(main);
                        SpillFile out = runLayer(g, l, e.getKey(), probes ? acc : null);
                        for (int s : e.getValue()) {
                            at[s] = out;
                        }
                        layerRuns++;
                    }
                }
                dropUnused(groups.keySet(), at);
                progress.advance(1);
            }
            double[] nmse = head(at, candidates, main, acc);
            progress.advance(1);
            progress.done();
            return nmse;
        } finally {
            dropUnused(new HashSet<>(Arrays.asList(at)), new SpillFile[0]);
        }
    }

    private SpillFile runLayer(OrtGraph g, LayerSpec l, SpillFile in, ScoreAccumulator acc) {
        int k = l.index();
        List<String> outputs = acc == null ? List.of(NemotronHGraph.HIDDEN_OUT)
                : java.util.stream.Stream.concat(java.util.stream.Stream.of(NemotronHGraph.HIDDEN_OUT, Probes.norm(k)),
                        ScoreAccumulator.mixerProbes(l).stream()).toList();
        SpillFile out = SpillFile.create(work, "hidden-" + k + "-");
        try (SpillFile.Reader r = in.reader(); SpillFile.Writer w = out.writer()) {
            for (long[][] batch : batches) {
                float[] x = r.read(tokens(batch) * model.hidden());
                try (OrtGraph.Outputs o = g.run(model, batch, x, outputs)) {
                    float[] y = o.get(NemotronHGraph.HIDDEN_OUT);
                    w.write(y);
                    if (acc != null) {
                        acc.layer(k, o.get(Probes.norm(k)), o::get, batch.length, batch[0].length);
                        acc.residual(k, x, y, batch.length, batch[0].length);
                    }
                }
            }
        }
        return out;
    }

    /**
     * The head over every stream, in chunks of at most {@link #CHUNK_LOGITS} logits (the head works position by
     * position, so tokens can be cut anywhere): first the full model's stream, whose logits are the reference, spilled
     * to disk (its final-norm probe too, in whole windows), then each distinct candidate stream against the spilled
     * reference. Later rounds of the iterative search read the reference kept from the first.
     */
    private double[] head(SpillFile[] at, List<Integer> candidates, int main, ScoreAccumulator acc) {
        int n = candidates.size();
        NmseSums sums = new NmseSums(n);
        Map<SpillFile, List<Integer>> groups = new LinkedHashMap<>();
        for (int s = 0; s < n; s++) {
            groups.computeIfAbsent(at[s], f -> new ArrayList<>()).add(s);
        }
        if (acc == null && n == 0) {
            return sums.nmse();
        }
        try (OrtGraph g = part(NemotronHGraph.Part.HEAD, -1)) {
            if (acc != null) {
                if (reference == null && n > 0) {
                    reference = SpillFile.create(work, "reference-logits");
                }
                List<String> outputs = n > 0 ? List.of(StateNames.LOGITS, Probes.NORM_F) : List.of(Probes.NORM_F);
                try (SpillFile.Reader r = at[main].reader(); SpillFile.Writer w = n > 0 ? reference.writer() : null) {
                    for (long[][] batch : batches) {
                        int seq = batch[0].length;
                        forEachChunk(g, r.read(tokens(batch) * model.hidden()), tokens(batch), outputs, (o, from) -> {
                            acc.normFTokens(o.get(Probes.NORM_F), from, seq);
                            if (w != null) {
                                float[] logits = o.get(StateNames.LOGITS);
                                sums.reference(logits);
                                w.write(logits);
                            }
                        });
                    }
                }
                referenceSum = sums.referenceSum();
            } else {
                sums.referenceSum(referenceSum);
            }
            if (n == 0) {
                return sums.nmse();
            }
            for (Map.Entry<SpillFile, List<Integer>> e : groups.entrySet()) {
                try (SpillFile.Reader r = e.getKey().reader(); SpillFile.Reader ref = reference.reader()) {
                    for (long[][] batch : batches) {
                        forEachChunk(g, r.read(tokens(batch) * model.hidden()), tokens(batch), List.of(StateNames.LOGITS), (o, from) -> {
                            float[] logits = o.get(StateNames.LOGITS);
                            float[] full = ref.read(logits.length);
                            for (int s : e.getValue()) {
                                sums.candidate(s, full, logits);
                            }
                        });
                    }
                }
            }
        }
        return sums.nmse();
    }

    /** Logits of at most this many values per head call. */
    static final int CHUNK_LOGITS = 1 << 22;

    private interface ChunkSink {
        void accept(OrtGraph.Outputs outputs, int fromToken);
    }

    /** Runs the head over {@code x} [tokens, H] in token chunks, in order. */
    private void forEachChunk(OrtGraph g, float[] x, int tokens, List<String> outputs, ChunkSink sink) {
        int h = model.hidden();
        int chunk = Math.max(1, Math.min(tokens, CHUNK_LOGITS / model.vocab()));
        for (int from = 0; from < tokens; from += chunk) {
            int len = Math.min(chunk, tokens - from);
            float[] part = from == 0 && len == tokens ? x : Arrays.copyOfRange(x, from * h, (from + len) * h);
            try (OrtGraph.Outputs o = g.run(model, new long[1][len], part, outputs)) {
                sink.accept(o, from);
            }
        }
    }

    /** Deletes the files among {@code candidates} that no stream points at any more (never the embeddings). */
    private void dropUnused(Set<SpillFile> candidates, SpillFile[] at) {
        Set<SpillFile> live = new HashSet<>(Arrays.asList(at));
        for (SpillFile f : candidates) {
            if (f != embed && !live.contains(f)) {
                f.delete();
            }
        }
    }

    @Override
    public long layerRuns() {
        return layerRuns;
    }

    @Override
    public void close() {
        if (embed != null) {
            embed.delete();
        }
        if (reference != null) {
            reference.delete();
        }
    }
}
