package dev.manyone.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.manyone.elastic.LayerKind;
import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.elastic.checkpoint.CheckpointReport;
import dev.manyone.elastic.checkpoint.NonFinite;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import dev.manyone.elastic.NemotronHConfig;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.util.Optional;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "inspect", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
            "Summarise a Nemotron-H checkpoint and check it against its config.json.",
            "",
            "Shows the layer pattern (M = Mamba2, * = attention, - = MLP, E = mixture of experts), a per-layer",
            "table of widths and parameters, exact totals (and, for MoE models, the parameters active per",
            "token: k routed experts + shared expert + router + everything else), dtypes, bytes on disk and a",
            "memory estimate (weights, every expert resident + attention KV cache + Mamba conv/SSM state for",
            "--batch and --context). Every missing, extra or wrongly shaped tensor is listed; the exit code is",
            "then 2. Tensors manyone reads past (an mtp.* multi-token-prediction head) are listed as unused.",
            "",
            "A ModelOpt-quantized checkpoint (quantization_config quant_method modelopt, FP8 or NVFP4, with",
            "hf_quant_config.json) is checked as stored: each quantized linear layer as its codes and scales",
            "(weight, weight_scale, weight_scale_2 for NVFP4, input_scale), the excluded modules as floats.",
            "The scheme, group size, KV-cache algo and the modules and tensors quantized vs kept are shown;",
            "parameters count logical weights (an NVFP4 byte is 2, an FP8 byte 1; scales are not parameters).",
            "",
            "CHECKPOINT may also be a config.json alone (or a directory holding only one): the architecture,",
            "parameters and memory estimate (BF16 weights) are shown without reading any weights.",
            "",
            "Examples:  manyone inspect ./parent --json",
            "           manyone inspect test-data/presets/nemotron-3-nano-30b-a3b.json"})
final class InspectCommand implements Callable<Integer> {
    @Parameters(paramLabel = "CHECKPOINT", description = "Checkpoint directory (config.json + *.safetensors), a package,"
            + " or a config.json alone.")
    Path checkpoint;

    @Option(names = "--json", description = "Print a JSON report (for CI) instead of text.")
    boolean json;

    @Option(names = "--batch", defaultValue = "1", description = "Batch size for the memory estimate (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--context", defaultValue = "4096", description = "Context length in tokens for the memory estimate (default ${DEFAULT-VALUE}).")
    long context;

    @Option(names = "--skip-values", description = "Do not read the weights to count NaN / Inf values (faster on huge checkpoints).")
    boolean skipValues;

    @Mixin
    CommonOptions common;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        if (batch < 1 || context < 1) {
            throw new dev.manyone.formats.FormatException(null,
                    "--batch and --context must be at least 1, found " + batch + " and " + context);
        }
        CheckpointReport report;
        NonFinite.Report values = null;
        Optional<Path> configOnly = configOnly(checkpoint);
        if (configOnly.isPresent()) {
            report = CheckpointReport.ofConfig(configOnly.get(), NemotronHConfig.read(configOnly.get()), batch, context);
            PrintWriter out = spec.commandLine().getOut();
            out.println(json ? Json.write(toJson(report)) : toText(report));
            return Main.OK;
        }
        try (Checkpoint cp = Checkpoint.open(checkpoint)) {
            report = CheckpointReport.of(cp, batch, context);
            if (!skipValues) {
                values = NonFinite.scan(cp.tensors());
            }
        }
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            ObjectNode o = toJson(report);
            if (values != null) {
                ObjectNode v = o.putObject("values");
                v.put("nan", values.nan());
                v.put("inf", values.inf());
                ArrayNode bad = v.putArray("nonfinite_tensors");
                values.offending().forEach(c -> bad.add(c.tensor()));
            }
            out.println(Json.write(o));
        } else {
            out.println(toText(report));
            if (values != null) {
                out.println(values.finite() ? "values       finite: no NaN or Inf in " + String.format("%,d", values.elements()) + " weights"
                        : "values       NOT FINITE: " + values.nan() + " NaN and " + values.inf() + " Inf in "
                        + values.offending().stream().map(NonFinite.Count::tensor).toList());
            }
        }
        if (!report.valid() && !json) {
            spec.commandLine().getErr().println("manyone: error: " + checkpoint
                    + ": the tensors do not match config.json (" + report.problems().size() + " problems listed above)");
        }
        if (values != null && !values.finite() && report.valid()) {
            spec.commandLine().getErr().println("manyone: error: " + checkpoint + ": " + values.nan() + " NaN and "
                    + values.inf() + " Inf values in the weights (" + values.offending().size() + " tensors)");
            return Main.BAD_INPUT;
        }
        return report.valid() ? Main.OK : Main.BAD_INPUT;
    }

    /** A config.json file, or a directory with a config.json and no weights (no safetensors, not a package). */
    private static Optional<Path> configOnly(Path p) {
        if (Files.isRegularFile(p) && p.getFileName().toString().endsWith(".json")) {
            return Optional.of(p);
        }
        if (Files.isDirectory(p) && Files.isRegularFile(p.resolve("config.json"))
                && !Files.exists(p.resolve("model.safetensors"))
                && !Files.exists(p.resolve("model.safetensors.index.json"))) {
            return Optional.of(p.resolve("config.json"));
        }
        return Optional.empty();
    }

    static String toText(CheckpointReport r) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "checkpoint   %s%n", r.location()));
        sb.append(String.format(Locale.ROOT, "model        nemotron_h, %d layers, pattern %s%n", r.layers().size(), r.pattern()));
        sb.append(String.format(Locale.ROOT, "             hidden %d, vocab %d%n", r.hidden(), r.vocab()));
        sb.append(String.format(Locale.ROOT, "%n%5s  %-9s  %-40s %14s%n", "layer", "kind", "widths", "params"));
        for (CheckpointReport.Layer l : r.layers()) {
            sb.append(String.format(Locale.ROOT, "%5d  %-9s  %-40s %,14d%n", l.spec().index(),
                    l.spec().kind().blockType(), l.widths(), l.params()));
        }
        var p = r.params();
        sb.append(String.format(Locale.ROOT, "%nparameters   %,d (%s): embeddings %,d, lm_head %,d, norm_f %,d",
                p.total(), Units.count(p.total()), p.embeddings(), p.lmHead(), p.finalNorm()));
        for (Map.Entry<LayerKind, Long> e : p.perKind().entrySet()) {
            if (e.getValue() > 0 || e.getKey() != LayerKind.MOE) {
                sb.append(String.format(Locale.ROOT, ", %s %,d", e.getKey().blockType(), e.getValue()));
            }
        }
        if (p.active() != p.total()) {
            sb.append(String.format(Locale.ROOT, "%nactive       %,d (%s) per token, %.1f%% of the total", p.active(),
                    Units.count(p.active()), 100.0 * p.active() / p.total()));
        }
        if (r.configOnly()) {
            sb.append(String.format(Locale.ROOT, "%nstored       config only: no weights read%n"));
        } else {
            sb.append(String.format(Locale.ROOT, "%nstored       %,d elements in %d tensors %s, %s on disk%n",
                    r.storedElements(), r.tensorCount(), r.dtypes(), Units.bytes(r.bytesOnDisk())));
        }
        CheckpointReport.Quantization q = r.quantization();
        if (q != null) {
            sb.append(String.format(Locale.ROOT, "quantized    %s (ModelOpt%s), KV cache %s: %d linear modules quantized"
                    + " (%,d parameters), %d kept unquantized (exclude_modules: %d entries)%n", q.algo(),
                    q.groupSize() > 0 ? ", blocks of " + q.groupSize() + " input columns" : ", one scale per tensor",
                    q.kvCacheQuantAlgo() == null ? "not quantized" : q.kvCacheQuantAlgo() + " (data only: manyone keeps it in fp32)",
                    q.quantizedModules(), q.quantizedParams(), q.keptModules(), q.excludeModules().size()));
            if (!r.configOnly()) {
                sb.append(String.format(Locale.ROOT, "             %d tensors quantized (weights and scales), %d kept%n",
                        q.quantizedTensors(), q.keptTensors()));
            }
        }
        var m = r.memory();
        sb.append(String.format(Locale.ROOT, "memory       %s total: weights %s + KV cache %s + Mamba state %s (batch %d, context %d)%n",
                Units.bytes(m.total()), Units.bytes(m.weightBytes()), Units.bytes(m.kvCacheBytes()),
                Units.bytes(m.mambaStateBytes()), r.batch(), r.context()));
        if (r.configOnly()) {
            sb.append("validation   not done: no weights to check");
            return sb.toString();
        }
        sb.append(String.format(Locale.ROOT, "side files   %s%n", r.sideFiles().isEmpty() ? "(none)" : String.join(", ", r.sideFiles())));
        if (!r.unusedTensors().isEmpty()) {
            sb.append(String.format(Locale.ROOT, "unused       %d tensors manyone does not use (dropped by children and"
                    + " exports): %s%n", r.unusedTensors().size(), summarize(r.unusedTensors())));
        }
        if (r.valid()) {
            sb.append("validation   ok: every tensor present with the shape config.json implies"
                    + (r.quantization() == null ? "" : " (quantized modules as " + r.quantization().algo() + " codes and scales)"));
        } else {
            sb.append("validation   FAILED");
            for (String problem : r.problems()) {
                sb.append(System.lineSeparator()).append("  - ").append(problem);
            }
        }
        return sb.toString();
    }

    /** The first few names, then "… (n more)". */
    private static String summarize(java.util.List<String> names) {
        int shown = Math.min(3, names.size());
        String head = String.join(", ", names.subList(0, shown));
        return names.size() > shown ? head + ", … (" + (names.size() - shown) + " more)" : head;
    }

    static ObjectNode toJson(CheckpointReport r) {
        ObjectNode o = Json.object();
        o.put("path", r.location().toString());
        o.put("model_type", "nemotron_h");
        o.put("hybrid_override_pattern", r.pattern());
        o.put("num_layers", r.layers().size());
        o.put("hidden_size", r.hidden());
        o.put("vocab_size", r.vocab());
        ArrayNode layers = o.putArray("layers");
        for (CheckpointReport.Layer l : r.layers()) {
            LayerSpec s = l.spec();
            ObjectNode row = layers.addObject();
            row.put("index", s.index());
            row.put("kind", s.kind().blockType());
            switch (s.kind()) {
                case MAMBA -> row.put("mamba_num_heads", s.mambaHeads()).put("mamba_head_dim", s.mambaHeadDim());
                case ATTENTION -> row.put("num_attention_heads", s.attentionHeads());
                case MLP -> row.put("intermediate_size", s.ffn());
                case MOE -> row.put("n_routed_experts", s.experts()).put("moe_intermediate_size", s.moeFfn())
                        .put("moe_shared_expert_intermediate_size", s.sharedFfn());
            }
            row.put("params", l.params());
        }
        ObjectNode params = o.putObject("params");
        params.put("total", r.params().total());
        params.put("active", r.params().active());
        params.put("embeddings", r.params().embeddings());
        params.put("lm_head", r.params().lmHead());
        params.put("norm_f", r.params().finalNorm());
        ObjectNode perKind = params.putObject("per_kind");
        r.params().perKind().forEach((k, v) -> perKind.put(k.blockType(), v));
        o.put("stored_elements", r.storedElements());
        CheckpointReport.Quantization q = r.quantization();
        if (q == null) {
            o.putNull("quantization");
        } else {
            ObjectNode qo = o.putObject("quantization");
            qo.put("quant_method", "modelopt");
            qo.put("quant_algo", q.algo());
            if (q.groupSize() > 0) {
                qo.put("group_size", q.groupSize());
            } else {
                qo.putNull("group_size");
            }
            if (q.kvCacheQuantAlgo() == null) {
                qo.putNull("kv_cache_quant_algo");
            } else {
                qo.put("kv_cache_quant_algo", q.kvCacheQuantAlgo());
            }
            qo.put("quantized_modules", q.quantizedModules());
            qo.put("kept_modules", q.keptModules());
            qo.put("quantized_params", q.quantizedParams());
            if (!r.configOnly()) {
                qo.put("quantized_tensors", q.quantizedTensors());
                qo.put("kept_tensors", q.keptTensors());
            }
            ArrayNode ex = qo.putArray("exclude_modules");
            q.excludeModules().forEach(ex::add);
        }
        o.put("tensors", r.tensorCount());
        ObjectNode dtypes = o.putObject("dtypes");
        r.dtypes().entrySet().stream().sorted(Map.Entry.comparingByKey())
                .forEach(e -> dtypes.put(e.getKey().safetensorsName(), e.getValue()));
        o.put("bytes_on_disk", r.bytesOnDisk());
        ObjectNode mem = o.putObject("memory");
        mem.put("batch", r.batch());
        mem.put("context", r.context());
        mem.put("weights_bytes", r.memory().weightBytes());
        mem.put("kv_cache_bytes", r.memory().kvCacheBytes());
        mem.put("mamba_state_bytes", r.memory().mambaStateBytes());
        mem.put("total_bytes", r.memory().total());
        ArrayNode side = o.putArray("side_files");
        r.sideFiles().forEach(side::add);
        o.put("config_only", r.configOnly());
        ArrayNode unused = o.putArray("unused_tensors");
        r.unusedTensors().forEach(unused::add);
        o.put("valid", r.valid());
        ArrayNode problems = o.putArray("problems");
        r.problems().forEach(problems::add);
        return o;
    }
}
