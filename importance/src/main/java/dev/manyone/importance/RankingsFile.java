package dev.manyone.importance;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.slice.Rankings;
import dev.manyone.formats.AtomicFiles;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Writes rankings in the golden {@code rankings.json} schema, which {@code manyone extract --rankings FILE} reads:
 * <pre>
 * {
 *   "rankings":   {"hidden": [...], "layers": [...], "per_layer": {"0": {"mamba_heads": [...], "mamba_head_channels": [...]},
 *                  "3": {"attention_heads": [...]}, "1": {"ffn": [...]},
 *                  "4": {"experts": [...], "expert_ffn": [[...], ...], "shared_ffn": [...]}}},
 *                                                                                permutations, most important first
 *   "scores":     the same shape, one raw score per item indexed by original index (higher is more important),
 *   "importance": how the scores were made (aggregation, depth method, expert statistic for MoE parents, head
 *                 channels K, calibration)
 * }
 * </pre>
 * Arrays are written on one line; the bytes depend only on the content (no time, no absolute path).
 */
public final class RankingsFile {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private RankingsFile() {
    }

    /** The JSON document of {@code r}. */
    public static ObjectNode toJson(ModelDescription model, ImportanceEstimator.Result r) {
        ObjectNode root = MAPPER.createObjectNode();
        root.set("rankings", rankings(model, r.rankings()));
        root.set("scores", scores(model, r.scores()));
        ObjectNode how = root.putObject("importance");
        how.put("aggregation", "per window the mean over positions of |a| (a head: the L2 norm over its channels), "
                + "then the L2 norm over windows; hidden: summed over every pre-mixer norm and norm_f"
                + (model.moe().isPresent() ? "; MoE expert neurons: the same over the tokens routed to the expert; "
                + "experts: by experts_by over the tokens routed to them" : ""));
        how.put("depth", r.options().depth().text());
        if (model.moe().isPresent()) {
            how.put("experts_by", r.scores().expertsBy().text());
        }
        how.put("mamba_head_channels_k", r.options().headChannels() == 0 ? "all" : Integer.toString(r.options().headChannels()));
        ObjectNode cal = how.putObject("calibration");
        Calibration c = r.calibration();
        cal.put("source", c.source());
        cal.put("tokenization", c.tokenization());
        cal.put("windows", c.windows().size());
        cal.put("tokens", c.tokens());
        cal.put("samples", c.sampling().samples());
        cal.put("seq_len", c.sampling().seqLen());
        cal.put("seed", c.sampling().seed());
        return root;
    }

    /** The rankings object of the golden schema. */
    public static ObjectNode rankings(ModelDescription model, Rankings r) {
        ObjectNode o = MAPPER.createObjectNode();
        ints(o.putArray("hidden"), r.hidden());
        ints(o.putArray("layers"), r.layers());
        ObjectNode per = o.putObject("per_layer");
        for (LayerSpec l : model.layers()) {
            Rankings.Layer x = r.layer(l.index());
            ObjectNode lo = per.putObject(Integer.toString(l.index()));
            switch (l.kind()) {
                case MAMBA -> {
                    ints(lo.putArray("mamba_heads"), x.mambaHeads());
                    ints(lo.putArray("mamba_head_channels"), x.mambaHeadChannels());
                }
                case ATTENTION -> ints(lo.putArray("attention_heads"), x.attentionHeads());
                case MLP -> ints(lo.putArray("ffn"), x.ffn());
                case MOE -> {
                    ints(lo.putArray("experts"), x.experts());
                    ArrayNode e = lo.putArray("expert_ffn");
                    for (int[] p : x.expertFfn()) {
                        ints(e.addArray(), p);
                    }
                    ints(lo.putArray("shared_ffn"), x.sharedFfn());
                }
            }
        }
        return o;
    }

    private static ObjectNode scores(ModelDescription model, Scores s) {
        ObjectNode o = MAPPER.createObjectNode();
        doubles(o.putArray("hidden"), s.hidden());
        doubles(o.putArray("layers"), s.layers());
        ObjectNode per = o.putObject("per_layer");
        for (LayerSpec l : model.layers()) {
            Scores.Layer x = s.perLayer().get(l.index());
            ObjectNode lo = per.putObject(Integer.toString(l.index()));
            switch (l.kind()) {
                case MAMBA -> {
                    doubles(lo.putArray("mamba_heads"), x.mambaHeads());
                    doubles(lo.putArray("mamba_head_channels"), x.mambaHeadChannels());
                }
                case ATTENTION -> doubles(lo.putArray("attention_heads"), x.attentionHeads());
                case MLP -> doubles(lo.putArray("ffn"), x.ffn());
                case MOE -> {
                    doubles(lo.putArray("experts"), x.experts().score(s.expertsBy()));
                    ArrayNode e = lo.putArray("expert_ffn");
                    for (double[] p : x.expertFfn()) {
                        doubles(e.addArray(), p);
                    }
                    doubles(lo.putArray("shared_ffn"), x.sharedFfn());
                }
            }
        }
        return o;
    }

    private static void ints(ArrayNode a, int[] v) {
        for (int x : v) {
            a.add(x);
        }
    }

    private static void doubles(ArrayNode a, double[] v) {
        for (double x : v) {
            a.add(x);
        }
    }

    /** Pretty-printed with every array on one line, newline-terminated. */
    public static String write(ObjectNode root) {
        DefaultPrettyPrinter pp = new DefaultPrettyPrinter()
                .withObjectIndenter(new DefaultIndenter("  ", "\n"))
                .withArrayIndenter(DefaultPrettyPrinter.NopIndenter.instance);
        try {
            return MAPPER.writer(pp).writeValueAsString(root) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Writes the file atomically. */
    public static void write(Path file, ObjectNode root) throws IOException {
        AtomicFiles.write(file, write(root).getBytes(StandardCharsets.UTF_8));
    }
}
