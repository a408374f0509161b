package dev.manyone.elastic.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.elastic.export.ExportOptions;
import dev.manyone.elastic.export.OnnxExporter;
import dev.manyone.elastic.runtime.OnnxDecoder;
import dev.manyone.elastic.slice.Extractor;
import dev.manyone.elastic.slice.Rankings;
import dev.manyone.elastic.slice.SlicePlan;
import dev.manyone.elastic.slice.SlicedWeights;
import dev.manyone.elastic.slice.SpecFiles;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.Progress;
import dev.manyone.formats.TensorInfo;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * Extraction at disk speed, measured in one run against {@code cp} of the parent's shards:
 * <ol>
 *   <li>{@code cp} of every weight file of the parent (read + written bytes per second);</li>
 *   <li>each child alone to Hugging Face format, then all children in one pass over the parent;</li>
 *   <li>optionally each child to ONNX (fp16, external data) and an ONNX Runtime session created on it.</li>
 * </ol>
 * Throughput is (bytes read + bytes written) per second, the same measure for cp and for extraction. Storage-level
 * reads ({@link ProcStats#io}) show whether the one-pass run reads each parent byte once. The page cache is dropped
 * before each measured step when possible (root). Rankings are random permutations (seeded): scattered gathers, as
 * real importance rankings give. Outputs are deleted after each step to bound disk use.
 */
public final class ExtractBenchmark {
    private ExtractBenchmark() {
    }

    public record Options(Path parent, Path specFile, List<String> children, Path work, boolean onnx,
                          boolean dropCaches, long seed, long shardBytes) {
    }

    /**
     * One measured step. storageRead/storageWritten/cpuSeconds are -1 where not measurable (cp runs in another
     * process). cpuSeconds is this process's CPU time (all threads, user + system) during the step: well below
     * {@code seconds} means the step waited on the disk.
     */
    public record Step(String name, long bytesRead, long bytesWritten, long storageRead, long storageWritten, double seconds,
                       double cpuSeconds, boolean cacheDropped) {
        public double megabytesPerSecond() {
            return (bytesRead + bytesWritten) / 1e6 / seconds;
        }
    }

    /**
     * @param extractionPeakRssBytes the process's peak RSS over every extraction and export step (taken before any
     *                               ONNX Runtime session exists, which holds a model's weights in memory)
     * @param peakRssBytes           the peak at the end, sessions included
     */
    public record Report(long parentBytes, Step cp, List<Step> steps, long extractionPeakRssBytes, long peakRssBytes,
                         long maxHeapBytes, List<String> notes) {
        public double ratio(Step s) {
            return s.megabytesPerSecond() / cp.megabytesPerSecond();
        }
    }

    public static Report run(Options o, Progress progress) throws IOException {
        List<String> notes = new ArrayList<>();
        Files.createDirectories(o.work());
        try (Checkpoint cp = Checkpoint.open(o.parent())) {
            ModelDescription model = cp.model();
            Rankings rankings = randomRankings(model, o.seed(), o.specFile());
            List<SlicePlan> plans = new ArrayList<>();
            for (String child : o.children()) {
                plans.add(SlicePlan.of(model, SpecFiles.readSpec(o.specFile(), child), rankings, o.specFile()));
            }
            Set<Path> files = new LinkedHashSet<>();
            for (TensorInfo t : cp.tensors().tensors()) {
                files.add(t.file());
            }
            long parentBytes = 0;
            for (Path f : files) {
                parentBytes += Files.size(f);
            }
            Step copy = copyWithCp(new ArrayList<>(files), o.work().resolve("cp"), parentBytes, o.dropCaches());
            List<Step> steps = new ArrayList<>();
            for (int c = 0; c < plans.size(); c++) {
                SlicePlan plan = plans.get(c);
                Path out = o.work().resolve(o.children().get(c));
                steps.add(measure("hf " + o.children().get(c), o.dropCaches(), () -> {
                    Extractor.Result r = Extractor.writeHuggingFace(cp, List.of(new Extractor.Target(plan, out, Map.of())), true,
                            o.shardBytes(), progress);
                    return new long[] {r.bytesRead(), r.bytesWritten()};
                }));
                delete(out);
            }
            if (plans.size() > 1) {
                List<Extractor.Target> targets = new ArrayList<>();
                for (int c = 0; c < plans.size(); c++) {
                    targets.add(new Extractor.Target(plans.get(c), o.work().resolve("pass-" + o.children().get(c)), Map.of()));
                }
                steps.add(measure("hf " + String.join("+", o.children()) + " (one pass)", o.dropCaches(), () -> {
                    Extractor.Result r = Extractor.writeHuggingFace(cp, targets, true, o.shardBytes(), progress);
                    return new long[] {r.bytesRead(), r.bytesWritten()};
                }));
                for (Extractor.Target t : targets) {
                    delete(t.dir());
                }
            }
            long extractionPeak = ProcStats.peakRss();
            if (o.onnx()) {
                ExportOptions fp16 = new ExportOptions(ExportOptions.Mamba.CONTRIB, ExportOptions.Weights.FP16);
                for (int c = 0; c < plans.size(); c++) {
                    SlicePlan plan = plans.get(c);
                    Path out = o.work().resolve("onnx-" + o.children().get(c));
                    long read = readBytes(cp, plan);
                    OnnxExporter.Result[] result = new OnnxExporter.Result[1];
                    steps.add(measure("onnx fp16 " + o.children().get(c), o.dropCaches(), () -> {
                        result[0] = OnnxExporter.export(ModelDescription.of(plan.config()), new SlicedWeights(cp.tensors(), plan),
                                fp16, out, true, new java.util.LinkedHashMap<>(), List.of(), "bench", progress);
                        return new long[] {read, result[0].onnxBytes() + result[0].dataBytes()};
                    }));
                    extractionPeak = Math.max(extractionPeak, ProcStats.peakRss());
                    long start = System.nanoTime();
                    try (OnnxDecoder decoder = OnnxDecoder.open(out, 0, false)) { // a load check: no fp16 folding
                        notes.add(String.format("onnx %s: model.onnx %d bytes, weights %d bytes; ONNX Runtime session created in %.1f s",
                                o.children().get(c), result[0].onnxBytes(), result[0].dataBytes(), (System.nanoTime() - start) / 1e9));
                    }
                    delete(out);
                }
            }
            if (!o.dropCaches()) {
                notes.add("page cache not dropped between steps: later steps may read the parent from memory");
            }
            return new Report(parentBytes, copy, steps, extractionPeak, ProcStats.peakRss(), Runtime.getRuntime().maxMemory(), notes);
        }
    }

    /** The parent bytes a child's slices read: whole tensors it touches (row blocks are read in full). */
    private static long readBytes(Checkpoint cp, SlicePlan plan) {
        long n = 0;
        for (var t : plan.tensors()) {
            n += cp.tensors().require(t.parentName()).byteSize();
        }
        return n;
    }

    private interface Work {
        long[] run() throws IOException;
    }

    private static Step measure(String name, boolean drop, Work work) throws IOException {
        boolean dropped = drop && ProcStats.dropCaches();
        long[] io0 = ProcStats.io();
        double cpu0 = ProcStats.cpuSeconds();
        long start = System.nanoTime();
        long[] bytes = work.run();
        double seconds = (System.nanoTime() - start) / 1e9;
        double cpu1 = ProcStats.cpuSeconds();
        long[] io1 = ProcStats.io();
        return new Step(name, bytes[0], bytes[1], io0[0] < 0 ? -1 : io1[0] - io0[0], io0[1] < 0 ? -1 : io1[1] - io0[1],
                seconds, cpu0 < 0 || cpu1 < 0 ? -1 : cpu1 - cpu0, dropped);
    }

    /** {@code cp} of the parent's weight files (the system's cp: the yardstick a user would reach for). */
    private static Step copyWithCp(List<Path> files, Path into, long bytes, boolean drop) throws IOException {
        delete(into);
        Files.createDirectories(into);
        boolean dropped = drop && ProcStats.dropCaches();
        List<String> cmd = new ArrayList<>(List.of("cp"));
        files.forEach(f -> cmd.add(f.toString()));
        cmd.add(into.toString());
        long start = System.nanoTime();
        try {
            Process p = new ProcessBuilder(cmd).inheritIO().start();
            if (p.waitFor() != 0) {
                throw new IOException("cp exited with " + p.exitValue());
            }
            new ProcessBuilder("sync").inheritIO().start().waitFor(); // extraction's writes are flushed by force()
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        delete(into);
        return new Step("cp (parent shards)", bytes, bytes, -1, -1, seconds, -1, dropped);
    }

    /** Random permutations on every axis, seeded: the gathers real rankings cause. */
    static Rankings randomRankings(ModelDescription model, long seed, Path file) {
        ObjectMapper m = new ObjectMapper();
        ObjectNode r = m.createObjectNode();
        SplittableRandom random = new SplittableRandom(seed);
        permutation(r.putArray("hidden"), model.hidden(), random);
        permutation(r.putArray("layers"), model.layers().size(), random);
        ObjectNode per = r.putObject("per_layer");
        for (LayerSpec l : model.layers()) {
            ObjectNode p = per.putObject(Integer.toString(l.index()));
            switch (l.kind()) {
                case MAMBA -> {
                    permutation(p.putArray("mamba_heads"), l.mambaHeads(), random);
                    permutation(p.putArray("mamba_head_channels"), l.mambaHeadDim(), random);
                }
                case ATTENTION -> permutation(p.putArray("attention_heads"), l.attentionHeads(), random);
                case MLP -> permutation(p.putArray("ffn"), l.ffn(), random);
                case MOE -> {
                    permutation(p.putArray("experts"), l.experts(), random);
                    ArrayNode perExpert = p.putArray("expert_ffn");
                    for (int j = 0; j < l.experts(); j++) {
                        permutation(perExpert.addArray(), l.moeFfn(), random);
                    }
                    permutation(p.putArray("shared_ffn"), l.sharedFfn(), random);
                }
            }
        }
        return Rankings.parse(r, model, file);
    }

    private static void permutation(ArrayNode into, int n, SplittableRandom random) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
        for (int v : a) {
            into.add(v);
        }
    }

    static void delete(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) walk.sorted(Comparator.reverseOrder())::iterator) {
                Files.delete(p);
            }
        }
        if (Files.exists(dir)) {
            throw new FormatException(dir, "could not delete benchmark output");
        }
    }
}
