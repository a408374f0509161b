package dev.manyone.router;

import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.slice.Rankings;
import dev.manyone.formats.DType;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.SafetensorsWriter;
import dev.manyone.formats.TensorInfo;
import dev.manyone.formats.TensorSource;
import dev.manyone.formats.TensorSpec;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * elastic.safetensors (docs/elastic-format.md): the integer rankings (the golden {@code rankings} object as tensors),
 * optional raw importance scores and the router weights.
 * <pre>
 *   rankings.hidden                      I32 [H]       permutation, most important first
 *   rankings.layers                      I32 [L]
 *   rankings.per_layer.{i}.{field}       I32 [width]   field: mamba_heads, mamba_head_channels, attention_heads, ffn,
 *                                                      experts, shared_ffn
 *   rankings.per_layer.{i}.expert_ffn    I32 [E, I]    MoE layer: row j ranks the neurons of expert j ({@link MoeRankingTensors})
 *   scores.hidden | scores.layers | scores.per_layer.{i}.{field}   F32, by original index (optional)
 *   router.{axis}.fc1.weight [hidden_width, budgets]  .fc1.bias [hidden_width]
 *   router.{axis}.fc2.weight [outputs, hidden_width]  .fc2.bias [outputs]       F32
 * </pre>
 * Reading refuses unknown tensors, wrong dtypes or shapes, rankings that are not permutations, scores that are
 * negative, not finite or not ordered as the ranking says, router weights that are not finite, and router tensors
 * that elastic.json does not announce (or missing ones).
 */
final class ElasticTensors {
    static final String FILE = "elastic.safetensors";
    static final List<String> FIELDS = List.of("mamba_heads", "mamba_head_channels", "attention_heads", "ffn");
    private static final List<String> ROUTER_PARTS = List.of("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias");

    private ElasticTensors() {
    }

    record Contents(Rankings rankings, ImportanceScores scores, Router router) {
    }

    static Contents read(TensorSource src, ModelDescription parent, ElasticJson.RouterShape shape, Path file) {
        Map<String, TensorInfo> byName = new HashMap<>();
        for (TensorInfo t : src.tensors()) {
            byName.put(t.name(), t);
        }
        Map<String, TensorInfo> unused = new TreeMap<>(byName);
        int n = parent.layers().size();

        TensorInfo h = require(byName, "rankings.hidden", file);
        int[] hidden = permutation(src, h, parent.hidden(), file);
        int[] layers = permutation(src, require(byName, "rankings.layers", file), n, file);
        unused.remove("rankings.hidden");
        unused.remove("rankings.layers");
        float[] sHidden = scores(src, byName.get("scores.hidden"), hidden, file, unused);
        float[] sLayers = scores(src, byName.get("scores.layers"), layers, file, unused);

        Map<Integer, Rankings.Layer> per = new TreeMap<>();
        Map<Integer, ImportanceScores.Layer> perScores = new TreeMap<>();
        for (LayerSpec l : parent.layers()) {
            int[][] r = new int[4][];
            float[][] s = new float[4][];
            for (int f = 0; f < 4; f++) {
                int size = fieldSize(l, f);
                String rn = "rankings.per_layer." + l.index() + "." + FIELDS.get(f);
                if (size == 0) {
                    continue; // other kinds: a tensor of that name stays unused and is refused below
                }
                TensorInfo t = byName.get(rn);
                r[f] = t == null ? iota(size) : permutation(src, t, size, file);
                unused.remove(rn);
                s[f] = scores(src, byName.get("scores.per_layer." + l.index() + "." + FIELDS.get(f)), r[f], file, unused);
            }
            MoeRankingTensors.Part moe = switch (l.kind()) {
                case MOE -> MoeRankingTensors.read(src, l, byName, file, unused);
                case MAMBA, ATTENTION, MLP -> MoeRankingTensors.Part.NONE;
            };
            per.put(l.index(), new Rankings.Layer(r[0], r[1], r[2], r[3], moe.experts(), moe.expertFfn(), moe.sharedFfn()));
            ImportanceScores.Layer sl = new ImportanceScores.Layer(s[0], s[1], s[2], s[3], moe.expertScores(),
                    moe.expertFfnScores(), moe.sharedFfnScores());
            if (!sl.isEmpty()) {
                perScores.put(l.index(), sl);
            }
        }
        Rankings rankings = new Rankings(hidden, layers, Map.copyOf(per), false);
        ImportanceScores scores = new ImportanceScores(sHidden, sLayers, Map.copyOf(perScores));

        Router router = null;
        if (shape != null) {
            Map<Axis, AxisRouter> axes = new EnumMap<>(Axis.class);
            for (Map.Entry<Axis, Integer> e : shape.outputs().entrySet()) {
                String p = "router." + e.getKey().key() + ".";
                int hw = shape.hiddenWidth();
                int in = shape.inputSize();
                int out = e.getValue();
                float[] w1 = weights(src, require(byName, p + "fc1.weight", file), new long[] {hw, in}, file);
                float[] b1 = weights(src, require(byName, p + "fc1.bias", file), new long[] {hw}, file);
                float[] w2 = weights(src, require(byName, p + "fc2.weight", file), new long[] {out, hw}, file);
                float[] b2 = weights(src, require(byName, p + "fc2.bias", file), new long[] {out}, file);
                ROUTER_PARTS.forEach(part -> unused.remove(p + part));
                axes.put(e.getKey(), new AxisRouter(e.getKey(), in, hw, out, w1, b1, w2, b2));
            }
            router = new Router(shape.inputSize(), shape.hiddenWidth(), shape.slope(), axes);
        }
        if (!unused.isEmpty()) {
            String name = unused.keySet().iterator().next();
            String why = name.startsWith("router.") ? (shape == null
                    ? "router weights, but elastic.json has no 'router' (a rankings-only parent has no router tensors)"
                    : "not a router tensor of an axis in elastic.json 'router.outputs'")
                    : name.startsWith("rankings.per_layer.") || name.startsWith("scores.per_layer.")
                    ? "no such layer, or a field that does not apply to the layer's kind (mamba_heads and mamba_head_channels"
                    + " for Mamba layers, attention_heads for attention layers, ffn for MLP layers, experts, expert_ffn and"
                    + " shared_ffn for MoE layers)"
                    : name.startsWith("scores.") ? "scores without rankings of the same name"
                    : "unknown tensor; expected rankings.*, scores.* or router.* (docs/elastic-format.md)";
            throw new FormatException(file, name, why + (unused.size() > 1 ? " (and " + (unused.size() - 1) + " more)" : ""));
        }
        return new Contents(rankings, scores, router);
    }

    private static int fieldSize(LayerSpec l, int f) {
        return switch (f) {
            case 0 -> l.mambaHeads();
            case 1 -> l.mambaHeadDim();
            case 2 -> l.attentionHeads();
            default -> l.ffn();
        };
    }

    private static TensorInfo require(Map<String, TensorInfo> byName, String name, Path file) {
        TensorInfo t = byName.get(name);
        if (t == null) {
            throw new FormatException(file, name, "missing; " + (name.startsWith("router.")
                    ? "elastic.json declares a router for this axis" : "the rankings need it"));
        }
        return t;
    }

    static void shape(TensorInfo t, long[] expected, Path file) {
        if (!Arrays.equals(t.shape(), expected)) {
            throw new FormatException(file, t.name(), "expected shape " + Arrays.toString(expected) + ", found " + t.shapeString());
        }
    }

    static int[] permutation(TensorSource src, TensorInfo t, int size, Path file) {
        if (t.dtype() != DType.I32 && t.dtype() != DType.I64) {
            throw new FormatException(file, t.name(), "expected an I32 (or I64) permutation, found dtype " + t.dtype());
        }
        shape(t, new long[] {size}, file);
        ByteBuffer b = src.bytes(t).order(ByteOrder.LITTLE_ENDIAN);
        int[] out = new int[size];
        boolean[] seen = new boolean[size];
        for (int k = 0; k < size; k++) {
            long v = t.dtype() == DType.I32 ? b.getInt(k * 4) : b.getLong(k * 8);
            if (v < 0 || v >= size) {
                throw new FormatException(file, t.name(), "element " + k + ": expected an index in 0.." + (size - 1) + ", found " + v);
            }
            if (seen[(int) v]) {
                throw new FormatException(file, t.name(), "index " + v + " appears twice; expected a permutation of 0.." + (size - 1));
            }
            seen[(int) v] = true;
            out[k] = (int) v;
        }
        return out;
    }

    /** Scores by original index; null when absent. Non-negative, finite, non-increasing along {@code ranking}. */
    static float[] scores(TensorSource src, TensorInfo t, int[] ranking, Path file, Map<String, TensorInfo> unused) {
        if (t == null) {
            return null;
        }
        unused.remove(t.name());
        if (!t.dtype().isFloatingPoint()) {
            throw new FormatException(file, t.name(), "expected F32 scores, found dtype " + t.dtype());
        }
        shape(t, new long[] {ranking.length}, file);
        float[] s = src.readFloats(t);
        for (int k = 0; k < s.length; k++) {
            if (!Float.isFinite(s[k]) || s[k] < 0) {
                throw new FormatException(file, t.name(), "element " + k + ": expected a finite score >= 0, found " + s[k]);
            }
        }
        for (int r = 1; r < ranking.length; r++) {
            if (s[ranking[r]] > s[ranking[r - 1]]) {
                throw new FormatException(file, t.name(), "scores disagree with the ranking: item " + ranking[r] + " (rank " + r
                        + ") scores " + s[ranking[r]] + ", more than item " + ranking[r - 1] + " (rank " + (r - 1) + ") with "
                        + s[ranking[r - 1]]);
            }
        }
        return s;
    }

    private static float[] weights(TensorSource src, TensorInfo t, long[] expected, Path file) {
        if (t.dtype() != DType.F32) {
            throw new FormatException(file, t.name(), "expected F32 router weights, found dtype " + t.dtype());
        }
        shape(t, expected, file);
        float[] w = src.readFloats(t);
        for (int k = 0; k < w.length; k++) {
            if (!Float.isFinite(w[k])) {
                throw new FormatException(file, t.name(), "element " + k + ": expected a finite weight, found " + w[k]);
            }
        }
        return w;
    }

    static int[] iota(int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        return a;
    }

    // ------------------------------------------------------------------------------------------------ writing

    /** Writes the file atomically; the same metadata gives the same bytes. */
    static void write(Path target, ElasticMetadata m, ModelDescription parent) throws IOException {
        Map<String, ByteBuffer> data = new LinkedHashMap<>();
        List<TensorSpec> plan = new ArrayList<>();
        Rankings r = m.rankings();
        ints(plan, data, "rankings.hidden", r.hidden());
        ints(plan, data, "rankings.layers", r.layers());
        for (LayerSpec l : parent.layers()) {
            Rankings.Layer rl = r.layer(l.index());
            int[][] arrays = {rl.mambaHeads(), rl.mambaHeadChannels(), rl.attentionHeads(), rl.ffn()};
            for (int f = 0; f < 4; f++) {
                if (arrays[f] != null) {
                    ints(plan, data, "rankings.per_layer." + l.index() + "." + FIELDS.get(f), arrays[f]);
                }
            }
            MoeRankingTensors.writeRankings(plan, data, l, rl);
        }
        ImportanceScores s = m.scores();
        floats(plan, data, "scores.hidden", s.hidden());
        floats(plan, data, "scores.layers", s.layers());
        for (LayerSpec l : parent.layers()) {
            ImportanceScores.Layer sl = s.layer(l.index());
            if (sl != null) {
                float[][] arrays = {sl.mambaHeads(), sl.mambaHeadChannels(), sl.attentionHeads(), sl.ffn()};
                for (int f = 0; f < 4; f++) {
                    floats(plan, data, "scores.per_layer." + l.index() + "." + FIELDS.get(f), arrays[f]);
                }
                MoeRankingTensors.writeScores(plan, data, l, sl);
            }
        }
        if (m.router() != null) {
            for (AxisRouter a : m.router().axes().values()) {
                String p = "router." + a.axis().key() + ".";
                floats(plan, data, p + "fc1.weight", a.fc1Weight(), a.hiddenWidth(), a.inputs());
                floats(plan, data, p + "fc1.bias", a.fc1Bias());
                floats(plan, data, p + "fc2.weight", a.fc2Weight(), a.outputs(), a.hiddenWidth());
                floats(plan, data, p + "fc2.bias", a.fc2Bias());
            }
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "manyone-elastic");
        meta.put("format_version", Integer.toString(ElasticJson.FORMAT_VERSION));
        try (SafetensorsWriter w = SafetensorsWriter.create(target, plan, meta)) {
            for (TensorSpec t : plan) {
                w.write(t.name(), data.get(t.name()));
            }
            w.finish();
        }
    }

    static void ints(List<TensorSpec> plan, Map<String, ByteBuffer> data, String name, int[] v, long... shape) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asIntBuffer().put(v);
        plan.add(new TensorSpec(name, DType.I32, shape.length == 0 ? new long[] {v.length} : shape));
        data.put(name, b);
    }

    static void floats(List<TensorSpec> plan, Map<String, ByteBuffer> data, String name, float[] v, long... shape) {
        if (v == null) {
            return;
        }
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        plan.add(new TensorSpec(name, DType.F32, shape.length == 0 ? new long[] {v.length} : shape));
        data.put(name, b);
    }
}
