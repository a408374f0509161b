package dev.manyone.importance;

import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.elastic.export.CheckpointWeights;
import dev.manyone.elastic.export.ExportOptions;
import dev.manyone.elastic.export.NemotronHGraph;
import dev.manyone.elastic.export.Probes;
import dev.manyone.elastic.export.StateNames;
import dev.manyone.elastic.slice.ChildSpec;
import dev.manyone.elastic.slice.Rankings;
import dev.manyone.elastic.slice.SlicePlan;
import dev.manyone.formats.Progress;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Whole-model passes: the parent exported once with probes (every activation of a batch comes out of one run), and
 * for NMSE one child per layer-removed variant, sliced from the parent with identity rankings and every width kept
 * (only {@code layers} changes). The full model's logits are spilled to disk as the NMSE reference, so only one
 * session is open at a time. The model with no layers at all (the last step of the iterative search) runs as the
 * embedding part followed by the head part.
 */
final class WholeModelPasses implements Passes {
    private final Checkpoint cp;
    private final ModelDescription model;
    private final List<long[][]> batches;
    private final Path work;
    private final int threads;
    private final Progress progress;
    private SpillFile reference;
    private long layerRuns;

    WholeModelPasses(Checkpoint cp, List<long[][]> batches, Path work, int threads, Progress progress) {
        this.progress = progress;
        this.cp = cp;
        this.model = cp.model();
        this.batches = batches;
        this.work = work;
        this.threads = threads;
    }

    @Override
    public void probe(ScoreAccumulator acc, DepthMethod depth) {
        boolean referenceLogits = depth.needsLogits();
        List<String> outputs = new ArrayList<>(List.of(Probes.EMBED, Probes.NORM_F));
        for (LayerSpec l : model.layers()) {
            outputs.add(Probes.norm(l.index()));
            outputs.add(Probes.hidden(l.index()));
            outputs.addAll(ScoreAccumulator.mixerProbes(l));
        }
        if (referenceLogits) {
            outputs.add(StateNames.LOGITS);
            reference = SpillFile.create(work, "reference-logits");
        }
        try (OrtGraph g = OrtGraph.open(NemotronHGraph.build(model, CheckpointWeights.of(cp),
                ExportOptions.DEFAULT.withProbes()), work, "probe", threads);
             SpillFile.Writer logits = referenceLogits ? reference.writer() : null) {
            progress.start("probe", batches.size(), "passes");
            for (long[][] batch : batches) {
                int b = batch.length;
                int s = batch[0].length;
                try (OrtGraph.Outputs out = g.run(model, batch, null, outputs)) {
                    float[] before = out.get(Probes.EMBED);
                    for (LayerSpec l : model.layers()) { // one probe in Java memory at a time (and the stream before)
                        int i = l.index();
                        acc.layer(i, out.get(Probes.norm(i)), out::get, b, s);
                        float[] after = out.get(Probes.hidden(i));
                        acc.residual(i, before, after, b, s);
                        before = after;
                    }
                    acc.normF(out.get(Probes.NORM_F), b, s);
                    if (logits != null) {
                        logits.write(out.get(StateNames.LOGITS));
                    }
                }
                progress.advance(1);
            }
            progress.done();
        }
        layerRuns += model.layers().size();
    }

    @Override
    public double[] nmse(Set<Integer> removed, List<Integer> candidates, String phase) {
        progress.start(phase, (long) candidates.size() * batches.size(), "passes");
        NmseSums sums = new NmseSums(candidates.size());
        try (SpillFile.Reader ref = reference.reader()) {
            for (long[][] batch : batches) {
                sums.reference(ref.read(batch.length * batch[0].length * model.vocab()));
            }
        }
        for (int k = 0; k < candidates.size(); k++) {
            List<Integer> kept = new ArrayList<>();
            for (LayerSpec l : model.layers()) {
                if (!removed.contains(l.index()) && l.index() != candidates.get(k)) {
                    kept.add(l.index());
                }
            }
            try (SpillFile.Reader ref = reference.reader()) {
                if (kept.isEmpty()) {
                    noLayers(sums, k, ref);
                } else {
                    child(sums, k, ref, kept);
                }
            }
        }
        progress.done();
        return sums.nmse();
    }

    /** The child that keeps {@code kept} layers at full width. */
    private void child(NmseSums sums, int k, SpillFile.Reader ref, List<Integer> kept) {
        SlicePlan plan = SlicePlan.of(model, new ChildSpec(null, kept, Map.of()), Rankings.identity(model), null);
        ModelDescription child = ModelDescription.of(plan.config());
        try (OrtGraph g = OrtGraph.open(NemotronHGraph.build(child, new ChildWeights(cp.tensors(), plan), ExportOptions.DEFAULT),
                work, "child", threads)) {
            for (long[][] batch : batches) {
                float[] logits = g.runOne(child, batch, null, StateNames.LOGITS);
                sums.candidate(k, ref.read(logits.length), logits);
                progress.advance(1);
            }
        }
        layerRuns += kept.size();
    }

    /** Embeddings → final norm → lm_head. */
    private void noLayers(NmseSums sums, int k, SpillFile.Reader ref) {
        CheckpointWeights w = CheckpointWeights.of(cp);
        List<float[]> hidden = new ArrayList<>();
        try (OrtGraph embed = OrtGraph.open(NemotronHGraph.buildPart(model, w, ExportOptions.DEFAULT, NemotronHGraph.Part.EMBED, -1),
                work, "embed", threads)) {
            for (long[][] batch : batches) {
                hidden.add(embed.runOne(model, batch, null, NemotronHGraph.HIDDEN_OUT));
            }
        }
        try (OrtGraph head = OrtGraph.open(NemotronHGraph.buildPart(model, w, ExportOptions.DEFAULT, NemotronHGraph.Part.HEAD, -1),
                work, "head", threads)) {
            for (int n = 0; n < batches.size(); n++) {
                float[] logits = head.runOne(model, batches.get(n), hidden.get(n), StateNames.LOGITS);
                sums.candidate(k, ref.read(logits.length), logits);
                progress.advance(1);
            }
        }
    }

    @Override
    public long layerRuns() {
        return layerRuns;
    }

    @Override
    public void close() {
        if (reference != null) {
            reference.delete();
        }
    }
}
