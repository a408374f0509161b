package dev.manyone.router;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.formats.FormatException;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * elastic.json (docs/elastic-format.md), read like an adversary: unknown fields, a wrong {@code format_version},
 * repeated or blank budget names, non-positive targets, choice lists that are empty, not strictly ascending, wider
 * than the parent, not multiples of n_groups / the KV heads, keyed by a layer of another kind, and a router whose
 * shape disagrees with the budgets or the axes are all refused with a FormatException naming the file and the field.
 * MoE axes follow the golden child rules: {@code experts} choices are multiples of {@code n_group} with "at least 2
 * per group" when grouped, and every {@code experts_per_token} choice (or, without that axis, the parent's k) must fit
 * every state the axes span — "the child's k must not exceed the kept experts of any MoE layer. With groups, it must
 * not exceed topk_group × experts/n_group" — so that no combination of router outputs is an impossible child.
 */
final class ElasticJson {
    static final String FILE = "elastic.json";
    static final int FORMAT_VERSION = 1;

    private static final Set<String> TOP = Set.of("format_version", "budgets", "axes", "router");
    private static final Set<String> BUDGET = Set.of("name", "params");
    private static final Set<String> ROUTER = Set.of("input_size", "hidden_width", "leaky_relu_slope", "outputs");

    private ElasticJson() {
    }

    /** The router's shape as elastic.json declares it; the weights come from elastic.safetensors. */
    record RouterShape(int inputSize, int hiddenWidth, double slope, Map<Axis, Integer> outputs) {
    }

    record Parsed(List<Budget> budgets, Map<Axis, AxisChoices> axes, RouterShape router) {
    }

    static Parsed parse(JsonNode root, ModelDescription parent, Path file) {
        if (root == null || !root.isObject()) {
            throw new FormatException(file, "expected a JSON object {\"format_version\", \"budgets\", \"axes\", \"router\"}");
        }
        fields(root, TOP, "", file);
        JsonNode v = root.get("format_version");
        if (v == null) {
            throw new FormatException(file, "'format_version': missing; expected " + FORMAT_VERSION);
        }
        if (!v.isIntegralNumber() || v.asLong() != FORMAT_VERSION) {
            throw new FormatException(file, "'format_version': expected " + FORMAT_VERSION + ", found " + v
                    + " (written by a newer or different tool?)");
        }
        List<Budget> budgets = budgets(root.get("budgets"), file);
        Map<Axis, AxisChoices> axes = axes(root.get("axes"), parent, file);
        RouterShape router = root.has("router") ? router(root.get("router"), budgets, axes, file) : null;
        return new Parsed(budgets, axes, router);
    }

    private static void fields(JsonNode o, Set<String> allowed, String where, Path file) {
        for (Iterator<String> it = o.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!allowed.contains(f)) {
                throw new FormatException(file, "'" + where + f + "': unknown field; expected one of "
                        + String.join(", ", allowed.stream().sorted().toList()));
            }
        }
    }

    private static List<Budget> budgets(JsonNode b, Path file) {
        List<Budget> out = new ArrayList<>();
        if (b == null) {
            return out;
        }
        if (!b.isArray()) {
            throw new FormatException(file, "'budgets': expected an array of {\"name\", \"params\"}, found " + b.getNodeType().toString().toLowerCase());
        }
        Set<String> names = new HashSet<>();
        for (int k = 0; k < b.size(); k++) {
            JsonNode e = b.get(k);
            String where = "budgets[" + k + "]";
            if (!e.isObject()) {
                throw new FormatException(file, "'" + where + "': expected an object {\"name\", \"params\"}, found " + e);
            }
            fields(e, BUDGET, where + ".", file);
            JsonNode name = e.get("name");
            if (name == null || !name.isTextual() || name.asText().isBlank()) {
                throw new FormatException(file, "'" + where + ".name': expected a non-blank string, found " + name);
            }
            if (!names.add(name.asText())) {
                throw new FormatException(file, "'" + where + ".name': budget '" + name.asText() + "' is listed twice; names must be unique");
            }
            JsonNode p = e.get("params");
            if (p == null || !p.isNumber() || !Double.isFinite(p.asDouble()) || p.asDouble() <= 0) {
                throw new FormatException(file, "'" + where + ".params': expected a positive parameter count, found " + p);
            }
            out.add(new Budget(name.asText(), p.asDouble()));
        }
        return out;
    }

    private static Map<Axis, AxisChoices> axes(JsonNode a, ModelDescription parent, Path file) {
        Map<Axis, AxisChoices> out = new EnumMap<>(Axis.class);
        if (a == null) {
            return out;
        }
        if (!a.isObject()) {
            throw new FormatException(file, "'axes': expected an object keyed by axis, found " + a.getNodeType().toString().toLowerCase());
        }
        for (Map.Entry<String, JsonNode> e : a.properties()) {
            Axis axis = Axis.of(e.getKey());
            String where = "axes." + e.getKey();
            if (axis == null) {
                throw new FormatException(file, "'" + where + "': unknown axis; expected hidden, depth, mamba_heads, "
                        + "mamba_head_dim, attention_heads, ffn, experts, moe_ffn, shared_ffn or experts_per_token");
            }
            if (axis.moe() && parent.moe().isEmpty()) {
                throw new FormatException(file, "'" + where + "': the parent has no MoE layer (hybrid_override_pattern has no E)");
            }
            JsonNode c = e.getValue();
            if (c.isArray()) {
                List<LayerSpec> layers = axis.perLayer() ? layersOf(parent, axis) : List.of();
                if (axis.perLayer() && layers.isEmpty()) {
                    throw new FormatException(file, "'" + where + "': the parent has no " + axis.kind().blockType() + " layer");
                }
                int max = axis.perLayer() ? Integer.MAX_VALUE : axis.parentWidth(parent, null);
                for (LayerSpec l : layers) {
                    max = Math.min(max, axis.parentWidth(parent, l));
                }
                out.put(axis, AxisChoices.global(axis, list(c, max, axis, parent, where, file)));
            } else if (c.isObject() && axis.perLayer()) {
                TreeMap<Integer, int[]> per = new TreeMap<>();
                for (Map.Entry<String, JsonNode> le : c.properties()) {
                    int i = layerKey(le.getKey(), parent, where, file);
                    LayerSpec l = parent.layers().get(i);
                    if (l.kind() != axis.kind()) {
                        throw new FormatException(file, "'" + where + "." + i + "': layer " + i + " is " + l.kind().aLayer()
                                + "; " + axis.key() + " applies to " + axis.kind().blockType() + " layers");
                    }
                    per.put(i, list(le.getValue(), axis.parentWidth(parent, l), axis, parent, where + "." + i, file));
                }
                if (per.isEmpty()) {
                    throw new FormatException(file, "'" + where + "': expected at least one layer's choices, found {}");
                }
                out.put(axis, AxisChoices.perLayer(axis, per));
            } else {
                throw new FormatException(file, "'" + where + "': expected " + (axis.perLayer()
                        ? "an array of widths (whole model) or an object of arrays keyed by layer index"
                        : "an array of " + (axis == Axis.DEPTH ? "layer counts" : "widths")) + ", found " + c);
            }
        }
        expertsPerToken(out, parent, file);
        return out;
    }

    /**
     * k against the experts: the largest k choice (or the parent's k) must not exceed the smallest experts choice of any
     * MoE layer (the parent's experts for a layer the axis does not list), nor, with router groups, topk_group × that
     * choice / n_group.
     */
    private static void expertsPerToken(Map<Axis, AxisChoices> axes, ModelDescription parent, Path file) {
        if (parent.moe().isEmpty() || (!axes.containsKey(Axis.EXPERTS) && !axes.containsKey(Axis.EXPERTS_PER_TOKEN))) {
            return;
        }
        var moe = parent.moe().get();
        AxisChoices kc = axes.get(Axis.EXPERTS_PER_TOKEN);
        int k = kc == null ? moe.expertsPerToken() : kc.global()[kc.global().length - 1];
        String kWhere = kc == null ? "the parent's num_experts_per_tok " + k + " (there is no 'axes.experts_per_token')"
                : "choice " + k;
        AxisChoices ec = axes.get(Axis.EXPERTS);
        for (LayerSpec l : layersOf(parent, Axis.EXPERTS)) {
            int e = l.experts();
            String where = "the parent's " + e + " experts of layer " + l.index();
            if (ec != null && ec.global() != null) {
                e = ec.global()[0];
                where = "'axes.experts[0]' = " + e;
            } else if (ec != null && ec.perLayer().containsKey(l.index())) {
                e = ec.perLayer().get(l.index())[0];
                where = "'axes.experts." + l.index() + "[0]' = " + e;
            }
            if (k > e) {
                throw new FormatException(file, "'axes." + (kc == null ? "experts" : "experts_per_token") + "': " + kWhere
                        + " exceeds " + where + "; the child's k must not exceed the kept experts of any MoE layer");
            }
            int groups = moe.routerGroups();
            if (groups > 1 && k > moe.topkGroup() * (e / groups)) {
                throw new FormatException(file, "'axes." + (kc == null ? "experts" : "experts_per_token") + "': " + kWhere
                        + " exceeds topk_group × experts/n_group = " + moe.topkGroup() + " × " + e + "/" + groups + " = "
                        + moe.topkGroup() * (e / groups) + " for " + where);
            }
        }
    }

    static List<LayerSpec> layersOf(ModelDescription parent, Axis axis) {
        return parent.layers().stream().filter(l -> l.kind() == axis.kind()).toList();
    }

    private static int layerKey(String key, ModelDescription parent, String where, Path file) {
        int i;
        try {
            i = Integer.parseInt(key);
        } catch (NumberFormatException ex) {
            throw new FormatException(file, "'" + where + "': expected layer indices as keys, found '" + key + "'");
        }
        if (i < 0 || i >= parent.layers().size() || !Integer.toString(i).equals(key)) {
            throw new FormatException(file, "'" + where + "': layer '" + key + "' does not exist; the parent has layers 0.."
                    + (parent.layers().size() - 1));
        }
        return i;
    }

    /**
     * A non-empty, strictly ascending list of integers in [1, max], each a multiple of the axis's granule; experts keep
     * at least 2 per router group when grouped.
     */
    private static int[] list(JsonNode a, int max, Axis axis, ModelDescription parent, String where, Path file) {
        int granule = axis.granule(parent);
        if (!a.isArray() || a.isEmpty()) {
            throw new FormatException(file, "'" + where + "': expected a non-empty array of choices, found " + a);
        }
        int[] out = new int[a.size()];
        for (int k = 0; k < out.length; k++) {
            JsonNode n = a.get(k);
            if (!n.isIntegralNumber() || !n.canConvertToInt() || n.intValue() < 1) {
                throw new FormatException(file, "'" + where + "[" + k + "]': expected a positive integer, found " + n);
            }
            int w = n.intValue();
            if (w > max) {
                throw new FormatException(file, "'" + where + "[" + k + "]': " + w + " is more than the parent's " + max);
            }
            if (w % granule != 0) {
                throw new FormatException(file, "'" + where + "[" + k + "]': expected a multiple of " + granule
                        + " (" + axis.granuleName() + "), found " + w);
            }
            if (axis == Axis.EXPERTS && granule > 1 && w / granule < 2) {
                throw new FormatException(file, "'" + where + "[" + k + "]': " + w + " experts in " + granule
                        + " router groups is " + w / granule + " per group; at least 2 per group must remain");
            }
            if (k > 0 && w <= out[k - 1]) {
                throw new FormatException(file, "'" + where + "[" + k + "]': choices must be strictly ascending (router output j"
                        + " is choice j), found " + out[k - 1] + " then " + w);
            }
            out[k] = w;
        }
        return out;
    }

    private static RouterShape router(JsonNode r, List<Budget> budgets, Map<Axis, AxisChoices> axes, Path file) {
        if (!r.isObject()) {
            throw new FormatException(file, "'router': expected an object {\"input_size\", \"hidden_width\", \"leaky_relu_slope\", \"outputs\"}");
        }
        fields(r, ROUTER, "router.", file);
        if (budgets.isEmpty()) {
            throw new FormatException(file, "'budgets': a router needs at least one budget, found none");
        }
        if (axes.isEmpty()) {
            throw new FormatException(file, "'axes': a router needs at least one axis, found none");
        }
        int input = positive(r.get("input_size"), "router.input_size", file);
        if (input != budgets.size()) {
            throw new FormatException(file, "'router.input_size': expected " + budgets.size() + " (one input per budget), found " + input);
        }
        int hidden = positive(r.get("hidden_width"), "router.hidden_width", file);
        JsonNode s = r.get("leaky_relu_slope");
        if (s == null || !s.isNumber() || !(s.asDouble() >= 0 && s.asDouble() < 1)) {
            throw new FormatException(file, "'router.leaky_relu_slope': expected a number in [0, 1), found " + s);
        }
        JsonNode o = r.get("outputs");
        if (o == null || !o.isObject()) {
            throw new FormatException(file, "'router.outputs': expected an object of output sizes keyed by axis, found " + o);
        }
        Map<Axis, Integer> outputs = new EnumMap<>(Axis.class);
        for (Map.Entry<String, JsonNode> e : o.properties()) {
            Axis axis = Axis.of(e.getKey());
            if (axis == null || !axes.containsKey(axis)) {
                throw new FormatException(file, "'router.outputs." + e.getKey() + "': not an axis of 'axes' (" + keys(axes) + ")");
            }
            int n = positive(e.getValue(), "router.outputs." + e.getKey(), file);
            if (n != axes.get(axis).outputs()) {
                throw new FormatException(file, "'router.outputs." + e.getKey() + "': expected " + axes.get(axis).outputs()
                        + " (the number of choices in axes." + e.getKey() + "), found " + n);
            }
            outputs.put(axis, n);
        }
        for (Axis a : axes.keySet()) {
            if (!outputs.containsKey(a)) {
                throw new FormatException(file, "'router.outputs': axis " + a.key() + " has no output size; every axis needs a router");
            }
        }
        return new RouterShape(input, hidden, s.asDouble(), outputs);
    }

    private static String keys(Map<Axis, ?> axes) {
        return String.join(", ", axes.keySet().stream().map(Axis::key).toList());
    }

    private static int positive(JsonNode n, String field, Path file) {
        if (n == null || !n.isIntegralNumber() || !n.canConvertToInt() || n.intValue() < 1) {
            throw new FormatException(file, "'" + field + "': expected a positive integer, found " + n);
        }
        return n.intValue();
    }

    // ------------------------------------------------------------------------------------------------ writing

    private static final ObjectMapper MAPPER = new ObjectMapper();

    /**
     * The file text: fields in schema order, 2-space indentation, one budget per line, every list of choices on one
     * line, trailing newline. Deterministic.
     */
    static String write(ElasticMetadata m) {
        StringBuilder sb = new StringBuilder("{\n");
        sb.append("  \"format_version\": ").append(FORMAT_VERSION).append(",\n");
        sb.append("  \"budgets\": [");
        for (int k = 0; k < m.budgets().size(); k++) {
            Budget b = m.budgets().get(k);
            sb.append(k == 0 ? "\n" : ",\n").append("    {\"name\": ").append(quote(b.name())).append(", \"params\": ")
                    .append(number(b.params())).append('}');
        }
        sb.append(m.budgets().isEmpty() ? "]" : "\n  ]");
        if (!m.axes().isEmpty()) {
            sb.append(",\n  \"axes\": {");
            boolean first = true;
            for (AxisChoices c : m.axes().values()) {
                sb.append(first ? "\n" : ",\n").append("    ").append(quote(c.axis().key())).append(": ");
                first = false;
                if (c.global() != null) {
                    ints(sb, c.global());
                } else {
                    sb.append('{');
                    boolean firstLayer = true;
                    for (var e : c.perLayer().entrySet()) {
                        sb.append(firstLayer ? "\n" : ",\n").append("      \"").append(e.getKey()).append("\": ");
                        ints(sb, e.getValue());
                        firstLayer = false;
                    }
                    sb.append("\n    }");
                }
            }
            sb.append("\n  }");
        }
        if (m.router() != null) {
            Router r = m.router();
            sb.append(",\n  \"router\": {\n");
            sb.append("    \"input_size\": ").append(r.inputSize()).append(",\n");
            sb.append("    \"hidden_width\": ").append(r.hiddenWidth()).append(",\n");
            sb.append("    \"leaky_relu_slope\": ").append(number(r.slope())).append(",\n");
            sb.append("    \"outputs\": {");
            boolean first = true;
            for (AxisChoices c : m.axes().values()) {
                sb.append(first ? "" : ", ").append(quote(c.axis().key())).append(": ").append(c.outputs());
                first = false;
            }
            sb.append("}\n  }");
        }
        return sb.append("\n}\n").toString();
    }

    private static String quote(String s) {
        try {
            return MAPPER.writeValueAsString(s);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Integral values as integers (6e9 → 6000000000), others as Java's shortest repr (valid JSON). */
    private static String number(double v) {
        if (v == Math.rint(v) && Math.abs(v) < 0x1p53) {
            return Long.toString((long) v);
        }
        return Double.toString(v);
    }

    private static void ints(StringBuilder sb, int[] values) {
        sb.append('[');
        for (int i = 0; i < values.length; i++) {
            sb.append(i > 0 ? ", " : "").append(values[i]);
        }
        sb.append(']');
    }
}
