package dev.manyone.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.manyone.elastic.bench.ExtractBenchmark;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "bench-extract", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
            "Measure extraction against cp in one run: cp of the parent's shards, then each child alone to",
            "Hugging Face format, then all children in one pass, and optionally each child to ONNX (fp16) with an",
            "ONNX Runtime session created on it. Throughput is (bytes read + bytes written) per second for both,",
            "so the ratio to cp says how close extraction runs to the disk's speed on this machine. Storage reads",
            "(/proc/self/io) show whether the one-pass run reads each parent byte once; peak RSS (VmHWM) is the",
            "process high-water mark (run with MANYONE_JAVA_OPTS=-Xmx1g to check the 2 GiB target).",
            "",
            "Needs free disk for one copy of the parent plus the children. Outputs are deleted after each step.",
            "",
            "Example:  manyone generate --preset nano-v2-12b -o /data/p12 && \\",
            "          manyone bench-extract /data/p12 --spec test-data/specs/nano-v2-12b-children.json \\",
            "            --child 9B-style,6B-style --work /data/bench --drop-caches --onnx"})
final class BenchExtractCommand implements Callable<Integer> {
    @Parameters(paramLabel = "PARENT", description = "Parent checkpoint directory.")
    Path parent;

    @Option(names = "--spec", required = true, paramLabel = "FILE", description = "A rankings.json-shaped file with the children.")
    Path specFile;

    @Option(names = "--child", required = true, split = ",", paramLabel = "NAME[,NAME]", description = "Children to extract.")
    List<String> children;

    @Option(names = "--work", required = true, paramLabel = "DIR", description = "Scratch directory (on the disk to measure).")
    Path work;

    @Option(names = "--onnx", description = "Also export each child to ONNX (fp16) and create an ONNX Runtime session on it.")
    boolean onnx;

    @Option(names = "--drop-caches", description = "Drop the page cache before each step (needs root), so every step reads from disk.")
    boolean dropCaches;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of the random rankings (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--shard-size", defaultValue = "5GB", paramLabel = "SIZE", description = "Shard size of the children (default ${DEFAULT-VALUE}).")
    String shardSize;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Mixin
    CommonOptions common;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        ExtractBenchmark.Report r = ExtractBenchmark.run(new ExtractBenchmark.Options(parent, specFile, children, work, onnx,
                dropCaches, seed, Units.parseBytes(shardSize, "--shard-size")),
                ConsoleProgress.forTerminal(spec.commandLine().getErr(), json || common.noProgress));
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            ObjectNode o = Json.object();
            o.put("parent_bytes", r.parentBytes());
            o.put("extraction_peak_rss_bytes", r.extractionPeakRssBytes());
            o.put("peak_rss_bytes", r.peakRssBytes());
            o.put("max_heap_bytes", r.maxHeapBytes());
            ArrayNode steps = o.putArray("steps");
            for (ExtractBenchmark.Step s : List.copyOf(concat(r))) {
                ObjectNode j = steps.addObject();
                j.put("name", s.name());
                j.put("bytes_read", s.bytesRead());
                j.put("bytes_written", s.bytesWritten());
                j.put("storage_read_bytes", s.storageRead());
                j.put("storage_write_bytes", s.storageWritten());
                j.put("seconds", s.seconds());
                j.put("cpu_seconds", s.cpuSeconds());
                j.put("mb_per_second", s.megabytesPerSecond());
                j.put("ratio_to_cp", r.ratio(s));
                j.put("cache_dropped", s.cacheDropped());
            }
            ArrayNode notes = o.putArray("notes");
            r.notes().forEach(notes::add);
            out.println(Json.write(o));
        } else {
            out.printf("parent %s in its weight files; peak RSS %s during extraction and export (%s with ONNX Runtime "
                    + "sessions), max heap %s%n", Units.bytes(r.parentBytes()), Units.bytes(r.extractionPeakRssBytes()),
                    Units.bytes(r.peakRssBytes()), Units.bytes(r.maxHeapBytes()));
            out.printf("%-36s %10s %10s %12s %9s %9s %10s %8s%n", "step", "read", "written", "storage read", "seconds",
                    "cpu s", "MB/s", "÷ cp");
            for (ExtractBenchmark.Step s : concat(r)) {
                out.printf("%-36s %10s %10s %12s %9.1f %9s %10.0f %8.2f%n", s.name(), Units.bytes(s.bytesRead()),
                        Units.bytes(s.bytesWritten()), s.storageRead() < 0 ? "-" : Units.bytes(s.storageRead()), s.seconds(),
                        s.cpuSeconds() < 0 ? "-" : String.format("%.1f", s.cpuSeconds()), s.megabytesPerSecond(), r.ratio(s));
            }
            r.notes().forEach(n -> out.println("note: " + n));
        }
        return Main.OK;
    }

    private static List<ExtractBenchmark.Step> concat(ExtractBenchmark.Report r) {
        java.util.List<ExtractBenchmark.Step> all = new java.util.ArrayList<>();
        all.add(r.cp());
        all.addAll(r.steps());
        return all;
    }
}
