package dev.manyone.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.manyone.elastic.MemoryEstimate;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.formats.DType;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.TensorInfo;
import dev.manyone.router.Axis;
import dev.manyone.router.BudgetChoice;
import dev.manyone.router.Budgets;
import dev.manyone.router.Configuration;
import dev.manyone.router.ElasticMetadata;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.Callable;

@Command(name = "budgets", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
            "List the trained budgets of an elastic parent and the child each one stands for.",
            "",
            "For every budget of elastic.json, the parent's router (one per axis: one-hot",
            "budget -> two fully connected layers with a LeakyReLU -> logits over the",
            "axis's candidate choices, argmax) gives the hidden channels, the layers kept",
            "(the top of the layer ranking) and the widths of every layer; the exact",
            "parameter count and the memory (weights + KV cache + Mamba state at --batch",
            "and --context) follow.",
            "",
            "MoE parents: parameters are total (every expert) and active (what a token",
            "uses: k of the E routed experts in every MoE layer); memory counts every",
            "expert as resident. The table adds experts, expert FFN, shared FFN and k.",
            "",
            "A parent with rankings but no router lists its budgets as found by the",
            "nested search (not router-trained); a plain checkpoint has none. Format:",
            "docs/elastic-format.md.",
            "",
            "Example:  manyone budgets ./parent --context 131072 --batch 8 --json"})
final class BudgetsCommand implements Callable<Integer> {
    @Parameters(paramLabel = "PARENT", description = "Parent checkpoint directory (config.json, weights, elastic.json + elastic.safetensors).")
    Path parent;

    @Option(names = "--context", defaultValue = "4096", paramLabel = "N", description = "Context length of the memory figure (default ${DEFAULT-VALUE}).")
    long context;

    @Option(names = "--batch", defaultValue = "1", paramLabel = "B", description = "Batch size of the memory figure (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--json", description = "Print JSON (for CI) instead of a table.")
    boolean json;

    @Mixin
    CommonOptions common = new CommonOptions();

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        if (batch < 1 || context < 1) {
            throw new FormatException(null, "--batch and --context must be at least 1, found " + batch + " and " + context);
        }
        ModelDescription model;
        DType weights;
        try (Checkpoint cp = Checkpoint.open(parent)) {
            model = cp.model();
            weights = storedDtype(cp);
        }
        ElasticMetadata m = Budgets.metadata(parent, model);
        Budgets.Options options = Budgets.Options.defaults().withWeightDtype(weights).withMemoryAt(batch, context);
        List<BudgetChoice> budgets = Budgets.trained(m, model, options);
        boolean nested = nested(budgets);
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(Json.write(toJson(m, model, budgets, nested)));
        } else {
            out.print(toText(m, model, budgets, nested));
        }
        out.flush();
        return Main.OK;
    }

    private static DType storedDtype(Checkpoint cp) {
        TreeSet<DType> types = new TreeSet<>();
        for (TensorInfo t : cp.tensors().tensors()) {
            types.add(t.dtype());
        }
        return types.size() == 1 ? types.first() : DType.BF16;
    }

    /** Whether the budgets, ordered by size, keep nested subsets of each other. */
    static boolean nested(List<BudgetChoice> budgets) {
        List<BudgetChoice> sorted = new ArrayList<>(budgets);
        sorted.sort(Comparator.comparingLong(b -> b.cost().params()));
        for (int i = 1; i < sorted.size(); i++) {
            if (!sorted.get(i - 1).configuration().nestedIn(sorted.get(i).configuration())) {
                return false;
            }
        }
        return true;
    }

    private ObjectNode toJson(ElasticMetadata m, ModelDescription model, List<BudgetChoice> budgets, boolean nested) {
        ObjectNode o = Json.object();
        o.put("parent", parent.toString());
        o.put("elastic", m.kind().key());
        o.put("description", m.kind().description());
        o.put("source", m.source() == null ? null : m.source().getFileName().toString());
        o.put("parent_params", model.params().total());
        o.put("parent_active_params", model.params().active());
        o.put("batch", batch);
        o.put("context", context);
        ArrayNode list = o.putArray("budgets");
        for (BudgetChoice b : budgets) {
            ObjectNode e = list.addObject();
            e.put("name", b.budget().name());
            e.put("index", b.index());
            e.put("target_params", b.budget().params());
            e.put("router_trained", b.routerTrained());
            if (b.decision() != null) {
                ObjectNode d = e.putObject("decision");
                b.decision().forEach((axis, picks) -> {
                    ArrayNode a = d.putArray(axis.key());
                    for (int p : picks) {
                        a.add(p);
                    }
                });
            }
            Configuration c = b.configuration();
            e.set("configuration", c.specJson(model));
            ObjectNode w = e.putObject("widths");
            c.widths().forEach((axis, values) -> {
                ArrayNode a = w.putArray(axis.key());
                values.forEach(a::add);
            });
            e.put("params", b.cost().params());
            e.put("active_params", b.cost().activeParams());
            if (c.expertsPerToken() > 0) {
                e.put("experts_per_token", c.expertsPerToken());
            }
            e.put("fraction", Math.round(1e4 * b.cost().params() / (double) model.params().total()) / 1e4);
            MemoryEstimate mem = b.cost().memory();
            ObjectNode mo = e.putObject("memory");
            mo.put("weights_bytes", mem.weightBytes());
            mo.put("kv_cache_bytes", mem.kvCacheBytes());
            mo.put("mamba_state_bytes", mem.mambaStateBytes());
            mo.put("total_bytes", mem.total());
        }
        o.put("nested", nested);
        return o;
    }

    private String toText(ElasticMetadata m, ModelDescription model, List<BudgetChoice> budgets, boolean nested) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "parent   %s: %s%s%n", parent, m.kind().description(),
                m.source() == null ? "" : " (" + m.source().getFileName() + ")"));
        boolean moe = model.moe().isPresent();
        sb.append(String.format(Locale.ROOT, "         %,d parameters%s, %d layers %s, hidden %d; memory at batch %d, context %d%n",
                model.params().total(), moe ? String.format(Locale.ROOT, " (%,d active)", model.params().active()) : "",
                model.layers().size(), model.config().hybridOverridePattern(), model.hidden(), batch, context));
        if (budgets.isEmpty()) {
            sb.append(m.kind() == ElasticMetadata.Kind.PLAIN
                    ? "no budgets: the parent has no elastic metadata; extract children with --params, --memory or --latency-ms\n"
                    : "no budgets listed; extract children with --params, --memory or --latency-ms (not router-trained)\n");
            return sb.toString();
        }
        sb.append(String.format(Locale.ROOT, "%n%-10s %8s %14s %7s %s%10s %6s %6s  %-13s %-10s %s%n", "budget", "target",
                "params", "%", moe ? String.format(Locale.ROOT, "%14s ", "active") : "", "memory", "hidden", "layers",
                "mamba hxd", "attn heads", moe ? String.format(Locale.ROOT, "%-10s %-8s %-8s %-8s %s", "ffn", "experts",
                        "moe ffn", "shared", "k") : "ffn"));
        for (BudgetChoice b : budgets) {
            Configuration c = b.configuration();
            Map<Axis, List<Integer>> w = c.widths();
            String mamba = w.get(Axis.MAMBA_HEADS).isEmpty() ? "-"
                    : distinct(w.get(Axis.MAMBA_HEADS)) + "x" + distinct(w.get(Axis.MAMBA_HEAD_DIM));
            sb.append(String.format(Locale.ROOT, "%-10s %8s %,14d %6.1f%% %s%10s %6d %6d  %-13s %-10s %s%s%n",
                    b.budget().name(), Units.count(Math.round(b.budget().params())), b.cost().params(),
                    100.0 * b.cost().params() / model.params().total(),
                    moe ? String.format(Locale.ROOT, "%,14d ", b.cost().activeParams()) : "",
                    Units.bytes(b.cost().memory().total()), c.hidden(),
                    c.layers().size(), mamba, distinct(w.get(Axis.ATTENTION_HEADS)),
                    moe ? String.format(Locale.ROOT, "%-10s %-8s %-8s %-8s %d", distinct(w.get(Axis.FFN)), distinct(w.get(Axis.EXPERTS)),
                            distinct(w.get(Axis.MOE_FFN)), distinct(w.get(Axis.SHARED_FFN)), c.expertsPerToken())
                            : distinct(w.get(Axis.FFN)),
                    b.routerTrained() ? "" : "  (not router-trained)"));
        }
        sb.append(String.format(Locale.ROOT, "%nlayers kept follow the layer ranking; widths list the distinct values over kept layers%s%n",
                nested ? "; the budgets are nested" : "; WARNING: the budgets are not nested"));
        return sb.toString();
    }

    private static String distinct(List<Integer> values) {
        if (values == null || values.isEmpty()) {
            return "-";
        }
        return String.join("/", new TreeSet<>(values).stream().map(String::valueOf).toList());
    }
}
