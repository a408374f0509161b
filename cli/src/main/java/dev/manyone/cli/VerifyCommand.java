package dev.manyone.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.elastic.checkpoint.NonFinite;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.pack.PackageFile;
import dev.manyone.formats.pack.PackageVerifier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "verify", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
            "Check a package or a checkpoint directory.",
            "",
            "A package: its structure and manifest, the SHA-256 of every entry (every byte is read), every",
            "safetensors header, and the tensors against config.json. A corrupted entry is named; exit 2.",
            "A directory: every safetensors header is re-read and the tensors are checked against config.json.",
            "",
            "Example:  manyone verify family.manyone"})
final class VerifyCommand implements Callable<Integer> {
    @Parameters(paramLabel = "PATH", description = "A package file or a checkpoint directory.")
    Path path;

    @Option(names = "--json", description = "Print a JSON report.")
    boolean json;

    @Mixin
    CommonOptions common;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        ObjectNode report = Json.object();
        report.put("path", path.toString());
        long start = System.nanoTime();
        if (Files.isRegularFile(path)) {
            PackageFile pkg = PackageFile.open(path);
            List<PackageVerifier.Check> checks = PackageVerifier.verify(pkg,
                    ConsoleProgress.forTerminal(spec.commandLine().getErr(), json || common.noProgress));
            List<PackageVerifier.Check> bad = PackageVerifier.corrupted(checks);
            report.put("kind", "package");
            ArrayNode entries = report.putArray("entries");
            long bytes = 0;
            for (PackageVerifier.Check c : checks) {
                entries.addObject().put("name", c.entry().name()).put("size", c.entry().size())
                        .put("sha256", c.entry().sha256()).put("ok", c.ok());
                bytes += c.entry().size();
                if (!c.ok() && !json) {
                    out.printf("CORRUPTED  %s: expected SHA-256 %s, found %s%n", c.entry().name(), c.entry().sha256(), c.actualSha256());
                }
            }
            if (!bad.isEmpty()) {
                if (json) {
                    out.println(Json.write(report.put("valid", false)));
                }
                FormatException first = bad.get(0).entry().corrupted(bad.get(0).actualSha256());
                throw bad.size() == 1 ? first : new FormatException(path, first.reason() + " (and " + (bad.size() - 1)
                        + " more corrupted entries: " + String.join(", ", bad.subList(1, bad.size()).stream()
                        .map(c -> c.entry().name()).toList()) + ")");
            }
            checkTensors(report);
            finish(report, json ? null : String.format("verified %s: %d entries, %s, every SHA-256 matches the manifest; "
                    + "%s", path, checks.size(), Units.bytes(bytes), tensorsLine(report)), start);
        } else {
            report.put("kind", "directory");
            checkTensors(report);
            finish(report, json ? null : String.format("verified %s: %s", path, tensorsLine(report)), start);
        }
        return Main.OK;
    }

    /** Opens the checkpoint (every safetensors header) and checks the tensors against config.json. */
    private void checkTensors(ObjectNode report) {
        try (Checkpoint cp = Checkpoint.open(path)) {
            cp.model().check(cp.tensors());
            report.put("tensors", cp.tensors().tensors().size());
            report.put("tensor_bytes", cp.tensors().totalBytes());
            report.put("params", cp.model().params().total());
            NonFinite.Report values = NonFinite.scan(cp.tensors());
            report.put("nan", values.nan());
            report.put("inf", values.inf());
            if (!values.finite()) {
                throw new FormatException(path, values.nan() + " NaN and " + values.inf() + " Inf values in the weights of "
                        + values.offending().stream().map(NonFinite.Count::tensor).toList() + "; expected finite weights");
            }
        }
    }

    private static String tensorsLine(ObjectNode r) {
        return String.format("%d tensors (%,d parameters) match config.json", r.get("tensors").asInt(), r.get("params").asLong());
    }

    private void finish(ObjectNode report, String line, long start) {
        report.put("valid", true);
        report.put("seconds", Math.round((System.nanoTime() - start) / 1e6) / 1000.0);
        spec.commandLine().getOut().println(line == null ? Json.write(report) : line);
    }
}
