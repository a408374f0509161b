package dev.manyone.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.pack.PackageWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "pack", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
            "Pack a parent checkpoint directory into one file: config.json, the weights, rankings and elastic",
            "metadata, tokenizer and the other side files, led by a manifest with every entry's size and SHA-256.",
            "",
            "The package is a tar file whose entries are stored uncompressed at 4096-byte boundaries, so",
            "inspect, extract and verify read the weights in place. The parent is checked against its",
            "config.json first. Same directory, same bytes; the file appears only when complete.",
            "Format: docs/package-format.md.",
            "",
            "Example:  manyone pack ./parent -o family.manyone && manyone verify family.manyone"})
final class PackCommand implements Callable<Integer> {
    @Parameters(paramLabel = "PARENT", description = "Parent checkpoint directory.")
    Path parent;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "FILE", description = "The package to write (e.g. family.manyone).")
    Path output;

    @Option(names = "--force", description = "Replace the package if it exists.")
    boolean force;

    @Option(names = "--json", description = "Print a JSON summary.")
    boolean json;

    @Mixin
    CommonOptions common;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        if (!Files.isDirectory(parent)) {
            throw new FormatException(parent, Files.exists(parent) ? "expected a checkpoint directory to pack, found a file"
                    : "no such directory; expected a checkpoint directory to pack");
        }
        try (Checkpoint cp = Checkpoint.open(parent)) {
            cp.model().check(cp.tensors());
        }
        long start = System.nanoTime();
        PackageWriter.Result r = PackageWriter.pack(parent, output, force,
                ConsoleProgress.forTerminal(spec.commandLine().getErr(), json || common.noProgress));
        double seconds = (System.nanoTime() - start) / 1e9;
        if (!r.skipped().isEmpty()) {
            spec.commandLine().getErr().println("manyone: warning: not packed (not part of a checkpoint): " + String.join(", ", r.skipped()));
        }
        if (json) {
            ObjectNode o = Json.object();
            o.put("output", output.toString());
            o.put("bytes", r.bytes());
            o.put("data_bytes", r.dataBytes());
            r.entries().forEach(o.putArray("entries")::add);
            r.skipped().forEach(o.putArray("skipped")::add);
            o.put("seconds", Math.round(seconds * 1000) / 1000.0);
            spec.commandLine().getOut().println(Json.write(o));
        } else {
            spec.commandLine().getOut().printf("packed %s into %s: %d files, %s, in %.1f s (%.0f MB/s)%n", parent, output,
                    r.entries().size(), Units.bytes(r.bytes()), seconds, r.dataBytes() / 1e6 / Math.max(seconds, 1e-9));
        }
        return Main.OK;
    }
}
