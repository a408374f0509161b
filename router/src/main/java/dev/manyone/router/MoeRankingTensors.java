package dev.manyone.router;

import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.slice.Rankings;
import dev.manyone.formats.DType;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.TensorInfo;
import dev.manyone.formats.TensorSource;
import dev.manyone.formats.TensorSpec;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The MoE part of elastic.safetensors (docs/elastic-format.md), the golden {@code rankings.per_layer.<i>} of an MoE
 * layer as tensors:
 * <pre>
 *   rankings.per_layer.{i}.experts      I32 [E]      routed experts, most important first
 *   rankings.per_layer.{i}.expert_ffn   I32 [E, I]   row j: the neurons of expert j (original id), "each expert keeps
 *                                                    its own top neurons"
 *   rankings.per_layer.{i}.shared_ffn   I32 [Is]     the shared expert's neurons
 *   scores.per_layer.{i}.{field}        F32, same shapes, by original index, ordered along the ranking (optional)
 * </pre>
 * An absent ranking is identity order; every row of {@code expert_ffn} must be a permutation on its own.
 */
final class MoeRankingTensors {
    private MoeRankingTensors() {
    }

    /** One MoE layer's rankings and (possibly null) scores; all null for other kinds. */
    record Part(int[] experts, int[][] expertFfn, int[] sharedFfn, float[] expertScores, float[][] expertFfnScores,
                float[] sharedFfnScores) {
        static final Part NONE = new Part(null, null, null, null, null, null);
    }

    static Part read(TensorSource src, LayerSpec l, Map<String, TensorInfo> byName, Path file, Map<String, TensorInfo> unused) {
        String p = "rankings.per_layer." + l.index() + ".";
        String q = "scores.per_layer." + l.index() + ".";
        int[] experts = ranking(src, byName.get(p + "experts"), l.experts(), file, unused);
        int[] shared = ranking(src, byName.get(p + "shared_ffn"), l.sharedFfn(), file, unused);
        TensorInfo t = byName.get(p + "expert_ffn");
        unused.remove(p + "expert_ffn");
        int[][] expertFfn;
        if (t != null) {
            expertFfn = rows(src, t, l.experts(), l.moeFfn(), file);
        } else {
            expertFfn = new int[l.experts()][];
            for (int j = 0; j < expertFfn.length; j++) {
                expertFfn[j] = ElasticTensors.iota(l.moeFfn());
            }
        }
        return new Part(experts, expertFfn, shared,
                ElasticTensors.scores(src, byName.get(q + "experts"), experts, file, unused),
                rowScores(src, byName.get(q + "expert_ffn"), expertFfn, file, unused),
                ElasticTensors.scores(src, byName.get(q + "shared_ffn"), shared, file, unused));
    }

    static void writeRankings(List<TensorSpec> plan, Map<String, ByteBuffer> data, LayerSpec l, Rankings.Layer r) {
        String p = "rankings.per_layer." + l.index() + ".";
        if (r.experts() != null) {
            ElasticTensors.ints(plan, data, p + "experts", r.experts());
        }
        if (r.expertFfn() != null) {
            ElasticTensors.ints(plan, data, p + "expert_ffn", flatten(r.expertFfn()), r.expertFfn().length, l.moeFfn());
        }
        if (r.sharedFfn() != null) {
            ElasticTensors.ints(plan, data, p + "shared_ffn", r.sharedFfn());
        }
    }

    static void writeScores(List<TensorSpec> plan, Map<String, ByteBuffer> data, LayerSpec l, ImportanceScores.Layer s) {
        String p = "scores.per_layer." + l.index() + ".";
        ElasticTensors.floats(plan, data, p + "experts", s.experts());
        if (s.expertFfn() != null) {
            ElasticTensors.floats(plan, data, p + "expert_ffn", flatten(s.expertFfn()), s.expertFfn().length, l.moeFfn());
        }
        ElasticTensors.floats(plan, data, p + "shared_ffn", s.sharedFfn());
    }

    /** A 1-D ranking, identity when absent. */
    private static int[] ranking(TensorSource src, TensorInfo t, int size, Path file, Map<String, TensorInfo> unused) {
        if (t == null) {
            return ElasticTensors.iota(size);
        }
        unused.remove(t.name());
        return ElasticTensors.permutation(src, t, size, file);
    }

    /** An [rows, size] tensor whose every row is a permutation of 0..size-1. */
    private static int[][] rows(TensorSource src, TensorInfo t, int rows, int size, Path file) {
        if (t.dtype() != DType.I32 && t.dtype() != DType.I64) {
            throw new FormatException(file, t.name(), "expected I32 (or I64) permutations, found dtype " + t.dtype());
        }
        ElasticTensors.shape(t, new long[] {rows, size}, file);
        ByteBuffer b = src.bytes(t).order(ByteOrder.LITTLE_ENDIAN);
        int[][] out = new int[rows][size];
        for (int j = 0; j < rows; j++) {
            boolean[] seen = new boolean[size];
            for (int k = 0; k < size; k++) {
                int at = j * size + k;
                long v = t.dtype() == DType.I32 ? b.getInt(at * 4) : b.getLong(at * 8);
                if (v < 0 || v >= size || seen[(int) v]) {
                    throw new FormatException(file, t.name(), "row " + j + " (expert " + j + "), element " + k
                            + ": expected a permutation of 0.." + (size - 1) + ", found " + v + (v >= 0 && v < size ? " twice" : ""));
                }
                seen[(int) v] = true;
                out[j][k] = (int) v;
            }
        }
        return out;
    }

    /** Scores [rows, size], each row by original neuron index and ordered along its row of {@code ranking}. */
    private static float[][] rowScores(TensorSource src, TensorInfo t, int[][] ranking, Path file, Map<String, TensorInfo> unused) {
        if (t == null) {
            return null;
        }
        unused.remove(t.name());
        int size = ranking.length == 0 ? 0 : ranking[0].length;
        if (t.dtype() != DType.F32) {
            throw new FormatException(file, t.name(), "expected F32 scores, found dtype " + t.dtype());
        }
        ElasticTensors.shape(t, new long[] {ranking.length, size}, file);
        float[] all = src.readFloats(t);
        float[][] out = new float[ranking.length][];
        for (int j = 0; j < out.length; j++) {
            out[j] = Arrays.copyOfRange(all, j * size, (j + 1) * size);
            for (int k = 0; k < size; k++) {
                if (!Float.isFinite(out[j][k]) || out[j][k] < 0) {
                    throw new FormatException(file, t.name(), "row " + j + ", element " + k + ": expected a finite score >= 0, found " + out[j][k]);
                }
            }
            for (int r = 1; r < size; r++) {
                if (out[j][ranking[j][r]] > out[j][ranking[j][r - 1]]) {
                    throw new FormatException(file, t.name(), "row " + j + ": scores disagree with the ranking at rank " + r);
                }
            }
        }
        return out;
    }

    private static int[] flatten(int[][] rows) {
        return Arrays.stream(rows).flatMapToInt(Arrays::stream).toArray();
    }

    private static float[] flatten(float[][] rows) {
        int n = 0;
        for (float[] r : rows) {
            n += r.length;
        }
        float[] out = new float[n];
        int at = 0;
        for (float[] r : rows) {
            System.arraycopy(r, 0, out, at, r.length);
            at += r.length;
        }
        return out;
    }
}
