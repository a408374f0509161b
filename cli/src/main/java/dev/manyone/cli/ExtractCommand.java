package dev.manyone.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.elastic.slice.ChildSpec;
import dev.manyone.elastic.slice.Extractor;
import dev.manyone.elastic.slice.Rankings;
import dev.manyone.elastic.slice.SlicePlan;
import dev.manyone.elastic.slice.FiniteCheck;
import dev.manyone.elastic.slice.SlicedWeights;
import dev.manyone.elastic.slice.SpecFiles;
import dev.manyone.elastic.export.ExportOptions;
import dev.manyone.elastic.export.OnnxExporter;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.Progress;
import dev.manyone.router.Budgets;
import dev.manyone.router.ChildRequest;
import dev.manyone.router.Target;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Callable;

@Command(name = "extract", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
            "Slice a child out of a parent checkpoint, zero-shot: keep top-ranked hidden channels, Mamba heads",
            "and head channels, attention query heads and FFN neurons, drop layers, and write an ordinary",
            "Hugging Face checkpoint (the parent's stored bits, sliced; side files copied).",
            "",
            "The child is given by a spec file (--spec, the golden schema; a rankings.json with --child NAME)",
            "or by flags for a homogeneous child. Rankings (most important first) come from --rankings, from a",
            "rankings.json-shaped --spec file, or default to identity order with a warning. Impossible specs",
            "are refused before anything is written. Schemas: docs/child-spec.md.",
            "",
            "Examples:",
            "  manyone extract parent --budget 6B,9B -o children          (trained budgets, one pass)",
            "  manyone extract parent --params 7.5B -o child               (any target; not router-trained)",
            "  manyone extract moe-parent --active-params 2.8B -o child  (MoE: per token)",
            "  manyone extract parent --spec rankings.json --child 6B-style -o child-6b",
            "  manyone extract parent --hidden 4480 --mamba-heads 112 --ffn 15680 --drop-layers 3,17 -o child",
            "  manyone extract moe-parent --experts 64 --moe-ffn 1344 --shared-ffn 2688",
            "      --experts-per-token 4 -o child",
            "",
            "MoE layers (pattern letter E): --experts keeps the top-ranked routed experts",
            "of every MoE layer (per router group), --moe-ffn the neurons of each kept",
            "expert, --shared-ffn those of the shared expert; --experts-per-token sets the",
            "child's k. The router's gate rows and correction bias follow the kept experts;",
            "the latent width (moe_latent_size) is not elastic."})
final class ExtractCommand implements Callable<Integer> {
    @Parameters(paramLabel = "PARENT", description = "Parent checkpoint directory.")
    Path parent;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "DIR", description = "Output directory of the child.")
    Path output;

    @Option(names = "--spec", paramLabel = "FILE", description = "Child spec JSON, or a rankings.json with children (then --child).")
    Path specFile;

    @Option(names = "--child", split = ",", paramLabel = "NAME[,NAME]",
            description = "Which child (or children) of a rankings.json-shaped --spec file. Several children are written "
                    + "to DIR/NAME in one pass over the parent.")
    List<String> children;

    @Option(names = "--rankings", paramLabel = "FILE", description = "Rankings JSON (rankings.json or its 'rankings' object).")
    Path rankingsFile;

    @Option(names = "--budget", split = ",", paramLabel = "NAME[,NAME]",
            description = "Trained budget(s) of an elastic parent (see 'manyone budgets'), chosen by its router. Several "
                    + "budgets are written to DIR/NAME in one pass over the parent.")
    List<String> budgets;

    @Option(names = "--params", paramLabel = "N", description = "Untrained target: at most N parameters (e.g. 7.5B). "
            + "The nested configuration that keeps the most importance mass is searched; the child is labelled not router-trained.")
    String paramsTarget;

    @Option(names = "--active-params", paramLabel = "N", description = "Untrained target for MoE parents: at most N active "
            + "parameters (e.g. 2.8B), what a token uses: the total less, in every MoE layer, the routed experts it does "
            + "not run (k of E run). --params bounds the total (every expert), --memory counts every expert as resident. "
            + "For a dense parent active = total.")
    String activeParamsTarget;

    @Option(names = "--memory", paramLabel = "SIZE", description = "Untrained target: inference memory at most SIZE (e.g. 20GiB) "
            + "for --context and --batch (weights + KV cache + Mamba state).")
    String memoryTarget;

    @Option(names = "--context", defaultValue = "4096", paramLabel = "TOKENS", description = "Context for --memory (default ${DEFAULT-VALUE}).")
    long context;

    @Option(names = "--batch", defaultValue = "1", paramLabel = "B", description = "Batch for --memory (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--latency-ms", paramLabel = "MS", description = "Untrained target: decode-step latency at most MS, "
            + "measured with ONNX Runtime on this machine (predicted from a scaled proxy for very large parents).")
    Double latencyTarget;

    @Option(names = "--hidden", paramLabel = "N", description = "Hidden channels to keep.")
    Integer hidden;

    @Option(names = "--mamba-heads", paramLabel = "N", description = "Mamba heads per Mamba layer (a multiple of n_groups).")
    Integer mambaHeads;

    @Option(names = "--mamba-head-dim", paramLabel = "N", description = "Mamba head channels per Mamba layer.")
    Integer mambaHeadDim;

    @Option(names = "--attention-heads", paramLabel = "N", description = "Query heads per attention layer (a multiple of the KV heads).")
    Integer attentionHeads;

    @Option(names = "--ffn", paramLabel = "N", description = "FFN neurons per MLP layer.")
    Integer ffn;

    @Option(names = "--experts", paramLabel = "N", description = "Routed experts kept per MoE layer: the top N by the layer's "
            + "ranking, N/n_group from each router group (at least 2 per group), renumbered 0..N-1 in ascending original "
            + "id. Must leave k experts to choose from (see --experts-per-token).")
    Integer experts;

    @Option(names = "--moe-ffn", paramLabel = "N", description = "Neurons kept by every kept expert of every MoE layer (each by its own ranking).")
    Integer moeFfn;

    @Option(names = "--shared-ffn", paramLabel = "N", description = "Neurons kept by the shared expert of every MoE layer.")
    Integer sharedFfn;

    @Option(names = "--experts-per-token", paramLabel = "K", description = "The child's top-k, num_experts_per_tok (default: "
            + "the parent's). At most the experts a layer keeps; with router groups at most topk_group x experts/n_group.")
    Integer expertsPerToken;

    @Option(names = "--drop-layers", split = ",", paramLabel = "I,J", description = "Parent layer indices to remove.")
    List<Integer> dropLayers;

    @Option(names = "--format", defaultValue = "hf", split = ",", paramLabel = "hf,onnx",
            description = "Output formats: hf (Hugging Face checkpoint) and/or onnx (an export, as 'manyone export' writes it, "
                    + "sliced straight from the parent). With both, DIR/hf and DIR/onnx are written. Default ${DEFAULT-VALUE}.")
    List<String> formats;

    @Option(names = "--shard-size", defaultValue = "5GB", paramLabel = "SIZE", description = "Largest safetensors shard (default ${DEFAULT-VALUE}).")
    String shardSize;

    @Option(names = "--allow-nonfinite", description = "Extract even if what a child keeps holds NaN or Inf (checked while slicing otherwise: the child is then not written).")
    boolean allowNonFinite;

    @Option(names = "--force", description = "Replace the output directory if it exists.")
    boolean force;

    @Option(names = "--json", description = "Print a JSON summary.")
    boolean json;

    @Mixin
    OnnxOptions onnx;

    @Mixin
    CommonOptions common;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        Set<String> wanted = new TreeSet<>(formats);
        if (wanted.isEmpty() || !Set.of("hf", "onnx").containsAll(wanted)) {
            throw new FormatException(null, "--format: expected hf, onnx or hf,onnx, found '" + String.join(",", formats) + "'");
        }
        ExportOptions exportOptions = onnx.toExportOptions();
        long shardBytes = Units.parseBytes(shardSize, "--shard-size");
        try (Checkpoint cp = Checkpoint.open(parent)) {
            ModelDescription model = cp.model();
            cp.model().check(cp.tensors());
            // every child is planned (and every impossible spec refused) before anything is written
            List<Request> requested = requests(model);
            Rankings rankings = requested.get(0).rankings();
            if (rankings.identity()) {
                spec.commandLine().getErr().println("manyone: warning: no rankings given; keeping the first channels, heads, "
                        + "neurons and layers (identity order). Pass --rankings FILE for a meaningful child.");
            }
            boolean several = requested.size() > 1;
            boolean both = wanted.size() == 2;
            List<Extractor.Target> targets = new ArrayList<>();
            for (Request req : requested) {
                SlicePlan plan = SlicePlan.of(model, req.spec(), req.rankings(), specFile);
                Map<String, String> provenance = new LinkedHashMap<>();
                provenance.put("manyone.version", Version.get());
                provenance.put("manyone.parent", cp.name());
                provenance.putAll(req.provenance());
                Path base = several ? output.resolve(req.name()) : output;
                targets.add(new Extractor.Target(plan, base, provenance));
            }
            Progress progress = ConsoleProgress.forTerminal(spec.commandLine().getErr(), json || common.noProgress);
            if (several || both) {
                Files.createDirectories(output);
            }
            for (Extractor.Target t : targets) {
                if (several && both) {
                    Files.createDirectories(t.dir());
                }
            }
            long bytesWritten = 0;
            if (wanted.contains("hf")) {
                List<Extractor.Target> hf = targets.stream()
                        .map(t -> new Extractor.Target(t.plan(), both ? t.dir().resolve("hf") : t.dir(), t.provenance())).toList();
                bytesWritten += Extractor.writeHuggingFace(cp, hf, force, shardBytes, !allowNonFinite, progress).bytesWritten(); // one pass
            }
            if (wanted.contains("onnx")) {
                for (Extractor.Target t : targets) {
                    OnnxExporter.Result o = OnnxExporter.export(ModelDescription.of(t.plan().config()),
                            new SlicedWeights(cp.tensors(), t.plan(),
                                    allowNonFinite ? null : new FiniteCheck(t.dir().getFileName().toString())), exportOptions, both ? t.dir().resolve("onnx") : t.dir(),
                            force, new LinkedHashMap<>(t.provenance()), Extractor.childSideFiles(cp), Version.get(), progress);
                    bytesWritten += o.onnxBytes() + o.dataBytes();
                }
            }
            print(model, wanted, targets, bytesWritten, rankings);
        }
        return Main.OK;
    }

    private void print(ModelDescription model, Set<String> wanted, List<Extractor.Target> targets, long bytesWritten,
                       Rankings rankings) {
        long parentParams = model.params().total();
        if (json) {
            ObjectNode o = Json.object();
            o.put("output", output.toString());
            o.put("formats", String.join(",", wanted));
            o.put("parent_params", parentParams);
            o.put("rankings", rankings.identity() ? "identity" : "given");
            o.put("bytes_written", bytesWritten);
            var children = o.putArray("children");
            for (Extractor.Target t : targets) {
                ObjectNode c = children.addObject();
                describe(c, t, parentParams);
            }
            if (targets.size() == 1) {
                describe(o, targets.get(0), parentParams);
            }
            spec.commandLine().getOut().println(Json.write(o));
        } else {
            for (Extractor.Target t : targets) {
                SlicePlan plan = t.plan();
                long active = ModelDescription.of(plan.config()).params().active();
                spec.commandLine().getOut().printf("wrote %s (%s): %,d parameters (%.1f%% of the parent)%s, %d layers %s, hidden %d%n",
                        t.dir(), String.join(",", wanted), plan.params(), 100.0 * plan.params() / parentParams,
                        model.moe().isPresent() ? String.format(java.util.Locale.ROOT, ", %,d active", active) : "",
                        plan.parentLayers().size(), plan.config().hybridOverridePattern(), plan.config().hiddenSize());
            }
        }
    }

    private static void describe(ObjectNode o, Extractor.Target t, long parentParams) {
        SlicePlan plan = t.plan();
        o.put("dir", t.dir().toString());
        o.put("params", plan.params());
        o.put("active_params", ModelDescription.of(plan.config()).params().active());
        o.put("fraction", Math.round(1e4 * plan.params() / (double) parentParams) / 1e4);
        o.put("hybrid_override_pattern", plan.config().hybridOverridePattern());
        o.put("hidden_size", plan.config().hiddenSize());
        o.put("tensors", plan.stored().size()); // as written: a quantized module is its codes and scales
    }

    /** One child to write: its name (its directory when there are several), spec, rankings and provenance. */
    private record Request(String name, ChildSpec spec, Rankings rankings, Map<String, String> provenance) {
    }

    /** The requested children, from budgets / targets, a spec file or flags (exactly one of these). */
    private List<Request> requests(ModelDescription model) {
        int ways = (budgets != null ? 1 : 0) + (paramsTarget != null ? 1 : 0) + (activeParamsTarget != null ? 1 : 0)
                + (memoryTarget != null ? 1 : 0) + (latencyTarget != null ? 1 : 0);
        if (ways > 1) {
            throw new FormatException(null, "give one of --budget, --params, --active-params, --memory, --latency-ms, not several");
        }
        List<Request> out = new ArrayList<>();
        if (ways == 1) {
            if (specFile != null || hasWidthFlags()) {
                throw new FormatException(null, "give the child as a budget/target or as --spec/width flags, not both");
            }
            Budgets.Options options = Budgets.Options.defaults().withMemoryAt(batch, context)
                    .withLog(m -> spec.commandLine().getErr().println("manyone: " + m));
            List<Target> wantedTargets = new ArrayList<>();
            if (budgets != null) {
                budgets.forEach(b -> wantedTargets.add(Target.budget(b)));
            } else if (paramsTarget != null) {
                wantedTargets.add(Target.params(paramsTarget));
            } else if (activeParamsTarget != null) {
                wantedTargets.add(Target.activeParams(activeParamsTarget));
            } else if (memoryTarget != null) {
                wantedTargets.add(Target.memory(memoryTarget, context, batch));
            } else {
                wantedTargets.add(Target.latencyMs(latencyTarget));
            }
            Set<String> names = new TreeSet<>();
            for (Target t : wantedTargets) {
                ChildRequest r = Budgets.resolve(parent, model, t, options);
                if (!names.add(r.label())) {
                    throw new FormatException(null, "--budget " + r.label() + " is listed twice");
                }
                out.add(new Request(r.label(), r.spec(), r.rankings(), r.provenance()));
            }
            return out;
        }
        // the specs first: a malformed spec file is reported as a spec, before its rankings are read
        Map<String, ChildSpec> specs = new LinkedHashMap<>();
        if (specFile != null && children != null && children.size() > 1) {
            for (String c : children) {
                if (specs.put(c, SpecFiles.readSpec(specFile, c)) != null) {
                    throw new FormatException(specFile, "--child " + c + " is listed twice");
                }
            }
        } else {
            specs.put(children == null ? "" : children.get(0), childSpec(model));
        }
        Rankings rankings = rankings(model);
        for (Map.Entry<String, ChildSpec> e : specs.entrySet()) {
            Map<String, String> provenance = new LinkedHashMap<>();
            provenance.put("manyone.router_trained", "false");
            provenance.put("manyone.child_spec", specFile == null ? "flags"
                    : specFile.getFileName() + (e.getKey().isEmpty() ? "" : "#" + e.getKey()));
            out.add(new Request(e.getKey(), e.getValue(), rankings, provenance));
        }
        return out;
    }

    private boolean hasWidthFlags() {
        return hidden != null || mambaHeads != null || mambaHeadDim != null || attentionHeads != null || ffn != null
                || dropLayers != null || hasMoeFlags();
    }

    private boolean hasMoeFlags() {
        return experts != null || moeFfn != null || sharedFfn != null || expertsPerToken != null;
    }

    private ChildSpec childSpec(ModelDescription model) {
        boolean flags = hasWidthFlags();
        if (specFile != null && flags) {
            throw new FormatException(specFile, "give the child either as --spec or as width flags, not both");
        }
        if (specFile != null) {
            return SpecFiles.readSpec(specFile, children == null ? null : children.get(0));
        }
        if (children != null) {
            throw new FormatException(null, "--child needs a rankings.json-shaped --spec file");
        }
        if (!flags) {
            throw new FormatException(null, "no child given: pass --budget NAME, a target (--params, --active-params, --memory, --latency-ms), "
                    + "--spec FILE or width flags (--hidden, --mamba-heads, --mamba-head-dim, --attention-heads, --ffn, "
                    + "--experts, --moe-ffn, --shared-ffn, --experts-per-token, --drop-layers)");
        }
        if (hasMoeFlags() && model.moe().isEmpty()) {
            throw new FormatException(null, "--experts, --moe-ffn, --shared-ffn and --experts-per-token apply to MoE layers; "
                    + "the parent has none (pattern " + model.config().hybridOverridePattern() + ")");
        }
        Set<Integer> drop = new TreeSet<>(dropLayers == null ? List.of() : dropLayers);
        List<Integer> layers = new ArrayList<>();
        Map<Integer, ChildSpec.Widths> per = new TreeMap<>();
        for (LayerSpec l : model.layers()) {
            if (drop.contains(l.index())) {
                continue;
            }
            layers.add(l.index());
            ChildSpec.Widths w = switch (l.kind()) {
                case MAMBA -> new ChildSpec.Widths(mambaHeads, mambaHeadDim, null, null);
                case ATTENTION -> new ChildSpec.Widths(null, null, attentionHeads, null);
                case MLP -> new ChildSpec.Widths(null, null, null, ffn);
                case MOE -> ChildSpec.Widths.moe(experts, moeFfn, sharedFfn);
            };
            per.put(l.index(), w);
        }
        for (int d : drop) {
            if (d < 0 || d >= model.layers().size()) {
                throw new FormatException(null, "--drop-layers: layer " + d + " does not exist; the parent has layers 0.."
                        + (model.layers().size() - 1));
            }
        }
        return new ChildSpec(hidden, layers, per, expertsPerToken);
    }

    private Rankings rankings(ModelDescription model) {
        if (rankingsFile != null) {
            return SpecFiles.readRankings(rankingsFile, model);
        }
        Optional<Rankings> inSpec = specFile == null ? Optional.empty() : SpecFiles.rankingsIn(specFile, model);
        return inSpec.orElseGet(() -> Rankings.identity(model));
    }
}
