package dev.manyone.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.manyone.elastic.LayerSpec;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.NemotronHConfig;
import dev.manyone.elastic.generate.Presets;
import dev.manyone.router.ElasticParentGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code manyone budgets}. The router's decisions are recomputed here independently of the router module — the
 * safetensors header and floats parsed by hand, the MLP in plain float64 loops, the configuration derived from the
 * raw rankings — and compared with {@code budgets --json}.
 */
class BudgetsCommandTest {
    @TempDir
    Path tmp;

    /** Runs the (not yet registered) command as Main would: same error handling and exit codes. */
    static CliRun budgets(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = new CommandLine(new BudgetsCommand());
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        cli.setExecutionExceptionHandler(new ErrorHandler(false));
        cli.setParameterExceptionHandler((ex, argv) -> {
            ex.getCommandLine().getErr().println("manyone: " + ex.getMessage());
            return Main.BAD_INPUT;
        });
        int code = cli.execute(args);
        cli.getOut().flush();
        cli.getErr().flush();
        return new CliRun(code, out.toString(), err.toString());
    }

    private Path parent(String name, ElasticParentGenerator.Recipe recipe, long seed) throws Exception {
        Path dir = tmp.resolve(name);
        ElasticParentGenerator.write(Presets.load("tiny"), recipe, seed, dir, false);
        return dir;
    }

    // ------------------------------------------------------------------------------- independent recomputation

    record Raw(JsonNode header, ByteBuffer data) {
        static Raw of(Path file) throws Exception {
            return new Raw(Surgery.header(file), ByteBuffer.wrap(Surgery.data(file)).order(ByteOrder.LITTLE_ENDIAN));
        }

        float[] floats(String name) {
            JsonNode off = header.get(name).get("data_offsets");
            float[] out = new float[(off.get(1).asInt() - off.get(0).asInt()) / 4];
            for (int i = 0; i < out.length; i++) {
                out[i] = data.getFloat(off.get(0).asInt() + 4 * i);
            }
            return out;
        }

        int[] ints(String name) {
            JsonNode off = header.get(name).get("data_offsets");
            int[] out = new int[(off.get(1).asInt() - off.get(0).asInt()) / 4];
            for (int i = 0; i < out.length; i++) {
                out[i] = data.getInt(off.get(0).asInt() + 4 * i);
            }
            return out;
        }
    }

    /** Budget k → per axis, per segment, the chosen width (choices[argmax]). */
    static List<Map<String, int[]>> expectedWidths(Path dir) throws Exception {
        JsonNode json = Surgery.JSON.readTree(dir.resolve("elastic.json").toFile());
        Raw st = Raw.of(dir.resolve("elastic.safetensors"));
        int budgets = json.get("budgets").size();
        int hw = json.get("router").get("hidden_width").asInt();
        double slope = json.get("router").get("leaky_relu_slope").asDouble();
        List<Map<String, int[]>> out = new ArrayList<>();
        for (int k = 0; k < budgets; k++) {
            Map<String, int[]> byAxis = new java.util.TreeMap<>();
            for (Map.Entry<String, JsonNode> axis : json.get("axes").properties()) {
                String p = "router." + axis.getKey() + ".";
                float[] w1 = st.floats(p + "fc1.weight");
                float[] b1 = st.floats(p + "fc1.bias");
                float[] w2 = st.floats(p + "fc2.weight");
                float[] b2 = st.floats(p + "fc2.bias");
                double[] h = new double[hw];
                for (int j = 0; j < hw; j++) {
                    double v = b1[j] + w1[j * budgets + k];
                    h[j] = v < 0 ? slope * v : v;
                }
                List<int[]> lists = new ArrayList<>();
                if (axis.getValue().isArray()) {
                    lists.add(ints(axis.getValue()));
                } else {
                    List<Integer> keys = new ArrayList<>();
                    axis.getValue().fieldNames().forEachRemaining(s -> keys.add(Integer.valueOf(s)));
                    keys.sort(null);
                    for (int key : keys) {
                        lists.add(ints(axis.getValue().get(Integer.toString(key))));
                    }
                }
                int[] chosen = new int[lists.size()];
                int o = 0;
                for (int s = 0; s < lists.size(); s++) {
                    int[] choices = lists.get(s);
                    int best = -1;
                    double bestLogit = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < choices.length; j++, o++) {
                        double logit = b2[o];
                        for (int u = 0; u < hw; u++) {
                            logit += w2[o * hw + u] * h[u];
                        }
                        if (logit > bestLogit) {
                            bestLogit = logit;
                            best = j;
                        }
                    }
                    chosen[s] = choices[best];
                }
                byAxis.put(axis.getKey(), chosen);
            }
            out.add(byAxis);
        }
        return out;
    }

    private static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).asInt();
        }
        return out;
    }

    /** Compares budgets --json with the independent recomputation, layer by layer. */
    private static void assertMatchesIndependentRouter(Path dir, JsonNode report) throws Exception {
        List<Map<String, int[]>> expected = expectedWidths(dir);
        JsonNode json = Surgery.JSON.readTree(dir.resolve("elastic.json").toFile());
        NemotronHConfig config = NemotronHConfig.read(dir.resolve("config.json"));
        ModelDescription parent = ModelDescription.of(config);
        int[] layerRanking = Raw.of(dir.resolve("elastic.safetensors")).ints("rankings.layers");
        JsonNode budgets = report.get("budgets");
        assertEquals(expected.size(), budgets.size());
        for (int k = 0; k < expected.size(); k++) {
            Map<String, int[]> e = expected.get(k);
            JsonNode b = budgets.get(k);
            assertEquals(json.get("budgets").get(k).get("name").asText(), b.get("name").asText());
            assertTrue(b.get("router_trained").asBoolean());
            JsonNode c = b.get("configuration");
            int hidden = e.containsKey("hidden") ? e.get("hidden")[0] : parent.hidden();
            assertEquals(hidden, c.get("hidden").asInt(), "hidden of budget " + k);
            int depth = e.containsKey("depth") ? e.get("depth")[0] : parent.layers().size();
            int[] kept = Arrays.copyOf(layerRanking, depth);
            Arrays.sort(kept);
            assertArrayEquals(kept, ints(c.get("layers")), "layers of budget " + k);
            for (int i : kept) {
                LayerSpec l = parent.layers().get(i);
                JsonNode w = c.get("per_layer").get(Integer.toString(i));
                switch (l.kind()) {
                    case MAMBA -> {
                        assertEquals(width(json, e, "mamba_heads", i, l.mambaHeads()), w == null ? l.mambaHeads() : w.get("mamba_heads").asInt());
                        assertEquals(width(json, e, "mamba_head_dim", i, l.mambaHeadDim()), w == null ? l.mambaHeadDim() : w.get("mamba_head_dim").asInt());
                    }
                    case ATTENTION -> assertEquals(width(json, e, "attention_heads", i, l.attentionHeads()),
                            w == null ? l.attentionHeads() : w.get("attention_heads").asInt());
                    case MLP -> assertEquals(width(json, e, "ffn", i, l.ffn()), w == null ? l.ffn() : w.get("ffn").asInt(),
                            "ffn of layer " + i + ", budget " + k);
                }
            }
        }
    }

    /** The independently chosen width of layer i on an axis: its own segment, the whole-model segment, or the parent's. */
    private static int width(JsonNode json, Map<String, int[]> chosen, String axis, int layer, int parentWidth) {
        JsonNode c = json.get("axes").get(axis);
        if (c == null) {
            return parentWidth;
        }
        if (c.isArray()) {
            return chosen.get(axis)[0];
        }
        List<Integer> keys = new ArrayList<>();
        c.fieldNames().forEachRemaining(s -> keys.add(Integer.valueOf(s)));
        keys.sort(null);
        int s = keys.indexOf(layer);
        return s < 0 ? parentWidth : chosen.get(axis)[s];
    }

    // ------------------------------------------------------------------------------- tests

    @Test
    void jsonMatchesAnIndependentForwardPassOfTheRouter() throws Exception {
        ModelDescription tiny = ModelDescription.of(Presets.load("tiny"));
        for (long seed = 1; seed <= 4; seed++) {
            Path dir = parent("random" + seed, ElasticParentGenerator.random(tiny, 2 + (int) seed, seed,
                    ElasticParentGenerator.RouterKind.RANDOM), seed);
            CliRun run = budgets(dir.toString(), "--json");
            assertEquals(0, run.code(), run.toString());
            assertMatchesIndependentRouter(dir, Surgery.JSON.readTree(run.out()));
        }
        Path example = parent("example", ElasticParentGenerator.example(tiny), 9);
        CliRun run = budgets(example.toString(), "--json", "--context", "131072", "--batch", "8");
        assertEquals(0, run.code(), run.toString());
        JsonNode report = Surgery.JSON.readTree(run.out());
        assertMatchesIndependentRouter(example, report);
        assertEquals("router", report.get("elastic").asText());
        assertTrue(report.get("nested").asBoolean(), "a constructed router's budgets are nested");
        // small picks every smallest choice, full every largest: the full budget is the parent
        JsonNode full = report.get("budgets").get(2);
        assertEquals("full", full.get("name").asText());
        assertEquals(report.get("parent_params").asLong(), full.get("params").asLong());
        assertEquals(report.get("parent_params").asLong(), full.get("target_params").asLong());
        JsonNode inspect = Surgery.JSON.readTree(CliRun.of("inspect", example.toString(), "--json", "--context", "131072",
                "--batch", "8").out());
        assertEquals(inspect.get("memory").get("total_bytes").asLong(), full.get("memory").get("total_bytes").asLong(),
                "the memory figure is inspect's");
    }

    @Test
    void textTableAndDeterminism() throws Exception {
        ModelDescription tiny = ModelDescription.of(Presets.load("tiny"));
        Path dir = parent("example", ElasticParentGenerator.example(tiny), 9);
        CliRun a = budgets(dir.toString());
        CliRun b = budgets(dir.toString());
        assertEquals(0, a.code(), a.toString());
        assertEquals(a.out(), b.out());
        assertEquals(budgets(dir.toString(), "--json").out(), budgets(dir.toString(), "--json").out());
        for (String s : new String[] {"router-trained elastic parent", "small", "medium", "full", "nested"}) {
            assertTrue(a.out().contains(s), s + " in\n" + a.out());
        }
    }

    @Test
    void parentsWithoutRouterOrMetadata() throws Exception {
        Path golden = CliRun.golden().resolve("tiny-hybrid"); // rankings.json only
        CliRun run = budgets(golden.toString(), "--json");
        assertEquals(0, run.code(), run.toString());
        JsonNode r = Surgery.JSON.readTree(run.out());
        assertEquals("rankings", r.get("elastic").asText());
        assertEquals(0, r.get("budgets").size());

        ModelDescription tiny = ModelDescription.of(Presets.load("tiny"));
        Path noRouter = parent("norouter", ElasticParentGenerator.example(tiny).withRouter(ElasticParentGenerator.RouterKind.NONE), 2);
        run = budgets(noRouter.toString(), "--json");
        assertEquals(0, run.code(), run.toString());
        r = Surgery.JSON.readTree(run.out());
        assertEquals("rankings", r.get("elastic").asText());
        assertEquals(3, r.get("budgets").size());
        for (JsonNode b : r.get("budgets")) {
            assertFalse(b.get("router_trained").asBoolean());
            assertTrue(b.get("params").asLong() <= b.get("target_params").asLong());
        }
        assertTrue(budgets(noRouter.toString()).out().contains("not router-trained"));

        Path plain = tmp.resolve("plain");
        Surgery.copyDir(golden, plain);
        Files.delete(plain.resolve("rankings.json"));
        run = budgets(plain.toString());
        assertEquals(0, run.code(), run.toString());
        assertTrue(run.out().contains("plain checkpoint"), run.out());
    }

    @Test
    void badMetadataIsExitTwoNamingFileAndField() throws Exception {
        ModelDescription tiny = ModelDescription.of(Presets.load("tiny"));
        Path dir = parent("bad", ElasticParentGenerator.example(tiny), 4);
        Path json = dir.resolve("elastic.json");
        String good = Files.readString(json);

        ObjectNode o = (ObjectNode) Surgery.JSON.readTree(good);
        ((ObjectNode) o.get("budgets").get(1)).put("name", "small");
        Files.writeString(json, Surgery.JSON.writeValueAsString(o));
        expectBadInput(dir, "elastic.json", "'budgets[1].name'", "unique");

        o = (ObjectNode) Surgery.JSON.readTree(good);
        ((ObjectNode) o.get("axes")).putArray("mamba_heads").add(3).add(8);
        Files.writeString(json, Surgery.JSON.writeValueAsString(o));
        expectBadInput(dir, "elastic.json", "'axes.mamba_heads[0]'", "n_groups");

        o = (ObjectNode) Surgery.JSON.readTree(good);
        ((ObjectNode) o.get("router")).put("hidden_width", 128);
        Files.writeString(json, Surgery.JSON.writeValueAsString(o));
        expectBadInput(dir, "elastic.safetensors", "router.", "expected shape");

        Files.writeString(json, good);
        Path st = dir.resolve("elastic.safetensors");
        Surgery.editHeader(st, h -> {
            // rankings.layers as a float tensor of the same byte size
            ((ObjectNode) h.get("rankings.layers")).put("dtype", "F32");
        });
        expectBadInput(dir, "elastic.safetensors", "rankings.layers", "I32");
    }

    private static void expectBadInput(Path dir, String file, String... mustContain) {
        CliRun run = budgets(dir.toString(), "--json");
        assertEquals(2, run.code(), run.toString());
        assertTrue(run.err().contains(dir.resolve(file).toString()), run.toString());
        for (String s : mustContain) {
            assertTrue(run.err().contains(s), "expected '" + s + "' in " + run);
        }
        assertFalse(run.err().contains("\tat "), "no stack trace: " + run);
        assertEquals("", run.out());
    }

    @Test
    void usageErrors() {
        assertEquals(2, budgets().code());
        assertEquals(2, budgets(tmp.resolve("missing").toString()).code());
        assertEquals(2, budgets(CliRun.golden().resolve("tiny-hybrid").toString(), "--batch", "0").code());
    }
}
