package dev.manyone.examples;

import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.elastic.export.ExportOptions;
import dev.manyone.elastic.export.OnnxExporter;
import dev.manyone.elastic.slice.Extractor;
import dev.manyone.elastic.slice.SlicePlan;
import dev.manyone.elastic.slice.SlicedWeights;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.Progress;
import dev.manyone.router.Budget;
import dev.manyone.router.Budgets;
import dev.manyone.router.ChildRequest;
import dev.manyone.router.Target;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Uses the library API to extract one child per budget of an elastic parent (and, optionally, children for untrained
 * targets), each as a Hugging Face checkpoint in {@code OUTDIR/<label>} (and an ONNX export in
 * {@code OUTDIR/<label>-onnx} with {@code --onnx}).
 *
 * <pre>
 * java -cp ... dev.manyone.examples.ExtractBudgets PARENT OUTDIR [--onnx] [TARGET ...]
 *   TARGET: budget:NAME | params:7.5B | active-params:2.8B | memory:20GiB[:CONTEXT[:BATCH]] | latency:MS
 *   no TARGET: every trained budget of PARENT/elastic.json
 * </pre>
 */
public final class ExtractBudgets {
    private ExtractBudgets() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length < 2) {
            System.err.println("usage: ExtractBudgets PARENT OUTDIR [--onnx] [budget:NAME | params:N | active-params:N | memory:SIZE[:CONTEXT[:BATCH]] | latency:MS ...]");
            System.exit(2);
        }
        Path parentDir = Path.of(args[0]);
        Path outDir = Path.of(args[1]);
        boolean onnx = false;
        List<Target> targets = new ArrayList<>();
        for (int i = 2; i < args.length; i++) {
            if (args[i].equals("--onnx")) {
                onnx = true;
            } else {
                targets.add(parse(args[i]));
            }
        }
        try (Checkpoint parent = Checkpoint.open(parentDir)) {
            ModelDescription model = parent.model();
            model.check(parent.tensors());
            if (targets.isEmpty()) {
                for (Budget b : Budgets.metadata(parentDir, model).budgets()) {
                    targets.add(Target.budget(b.name()));
                }
            }
            Budgets.Options options = Budgets.Options.defaults().withLog(s -> System.err.println("  " + s));
            for (Target t : targets) {
                ChildRequest child = Budgets.resolve(parentDir, model, t, options);
                SlicePlan plan = SlicePlan.of(model, child.spec(), child.rankings(), null);
                Map<String, String> provenance = new LinkedHashMap<>(child.provenance());
                provenance.put("manyone.parent", parentDir.toAbsolutePath().normalize().getFileName().toString());
                Path hf = outDir.resolve(child.label());
                Extractor.writeHuggingFace(parent, plan, hf, true, 5_000_000_000L, provenance, Progress.NONE);
                if (onnx) {
                    OnnxExporter.export(ModelDescription.of(plan.config()), new SlicedWeights(parent.tensors(), plan),
                            ExportOptions.DEFAULT, outDir.resolve(child.label() + "-onnx"), true, provenance,
                            Extractor.childSideFiles(parent), "examples", Progress.NONE);
                }
                System.out.printf("%-28s %,13d parameters (%5.1f%%), %2d layers, hidden %4d, memory %,d bytes%s -> %s%n",
                        child.label(), child.params(), 100.0 * child.params() / model.params().total(),
                        child.configuration().layers().size(), child.configuration().hidden(), child.memory().total(),
                        child.routerTrained() ? "" : " (not router-trained)", hf);
            }
        } catch (FormatException e) {
            System.err.println("error: " + e.getMessage());
            System.exit(2);
        }
    }

    private static Target parse(String s) {
        String[] p = s.split(":");
        return switch (p[0]) {
            case "budget" -> Target.budget(p[1]);
            case "params" -> Target.params(p[1]);
            case "active-params" -> Target.activeParams(p[1]);
            case "memory" -> Target.memory(p[1], p.length > 2 ? Long.parseLong(p[2]) : 4096, p.length > 3 ? Integer.parseInt(p[3]) : 1);
            case "latency" -> Target.latencyMs(Double.parseDouble(p[1]));
            default -> throw new IllegalArgumentException("unknown target '" + s + "'");
        };
    }
}
