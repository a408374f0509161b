package dev.manyone.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.manyone.formats.pack.Unpacker;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "unpack", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
            "Unpack a package into a checkpoint directory: the packed files, byte for byte.",
            "",
            "Every entry's SHA-256 is checked on the way; a damaged or hostile package (paths, links,",
            "devices, duplicates, sizes past the end, a manifest that disagrees) is refused with exit 2.",
            "Nothing is written outside DIR, and DIR appears only when complete.",
            "",
            "Example:  manyone unpack family.manyone -o parent"})
final class UnpackCommand implements Callable<Integer> {
    @Parameters(paramLabel = "PACKAGE", description = "The package file.")
    Path pkg;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "DIR", description = "Output directory.")
    Path output;

    @Option(names = "--force", description = "Replace the output directory if it exists.")
    boolean force;

    @Option(names = "--json", description = "Print a JSON summary.")
    boolean json;

    @Mixin
    CommonOptions common;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        long start = System.nanoTime();
        Unpacker.Result r = Unpacker.unpack(pkg, output, force,
                ConsoleProgress.forTerminal(spec.commandLine().getErr(), json || common.noProgress));
        double seconds = (System.nanoTime() - start) / 1e9;
        if (json) {
            ObjectNode o = Json.object();
            o.put("output", output.toString());
            o.put("bytes", r.bytes());
            r.files().forEach(o.putArray("files")::add);
            o.put("seconds", Math.round(seconds * 1000) / 1000.0);
            spec.commandLine().getOut().println(Json.write(o));
        } else {
            spec.commandLine().getOut().printf("unpacked %s into %s: %d files, %s, in %.1f s (%.0f MB/s)%n", pkg, output,
                    r.files().size(), Units.bytes(r.bytes()), seconds, r.bytes() / 1e6 / Math.max(seconds, 1e-9));
        }
        return Main.OK;
    }
}
