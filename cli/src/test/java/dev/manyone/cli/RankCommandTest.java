package dev.manyone.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RankCommandTest {
    @TempDir
    Path tmp;

    static Path trained() {
        return CliRun.golden().resolve("trained-hybrid");
    }

    @Test
    void rankingsThatExtractReadsAndTheSameFromBothModes() throws Exception {
        Path whole = tmp.resolve("whole.json");
        Path streamed = tmp.resolve("streamed.json");
        String heldout = trained().resolve("heldout.safetensors").toString();
        CliRun run = RankCli.of("rank", trained().toString(), "--calib", heldout, "--samples", "4", "--seq-len", "128",
                "-o", whole.toString(), "--json");
        assertEquals(0, run.code(), run.toString());
        JsonNode summary = Surgery.JSON.readTree(run.out());
        assertEquals("whole-model", summary.get("mode").asText());
        assertEquals(4, summary.get("windows").asInt());
        assertEquals(512, summary.get("tokens").asInt());
        assertTrue(summary.get("peak_rss_bytes").asLong() > 0);
        run = RankCli.of("rank", trained().toString(), "--calib", heldout, "--samples", "4", "--seq-len", "128",
                "-o", streamed.toString(), "--streamed");
        assertEquals(0, run.code(), run.toString());
        assertTrue(run.out().contains("layer-streamed") && run.out().contains("VmHWM"), run.toString());
        JsonNode file = Surgery.JSON.readTree(whole.toFile());
        assertEquals(file.get("rankings"), Surgery.JSON.readTree(streamed.toFile()).get("rankings"), "the same rankings from both modes");
        assertEquals(128, file.get("rankings").get("hidden").size());
        assertEquals(128, file.get("scores").get("hidden").size());
        assertEquals(16, file.get("rankings").get("per_layer").get("0").get("mamba_head_channels").size());
        assertEquals("nmse", file.get("importance").get("depth").asText());

        Path child = tmp.resolve("child");
        CliRun extract = CliRun.of("extract", trained().toString(), "--spec", trained().resolve("rankings.json").toString(),
                "--child", "75pct", "--rankings", whole.toString(), "-o", child.toString(), "--json");
        assertEquals(0, extract.code(), extract.toString());
        assertEquals("given", Surgery.JSON.readTree(extract.out()).get("rankings").asText());
        assertEquals(567_600, Surgery.JSON.readTree(extract.out()).get("params").asLong());
    }

    @Test
    void moeParentRankedByEachExpertStatisticAndExtracted() throws Exception {
        Path moe = CliRun.golden().resolve("tiny-moe");
        String calib = moe.resolve("golden.safetensors").toString(); // 2 × 37 tokens, k = 2
        Path freq = tmp.resolve("frequency.json");
        CliRun run = RankCli.of("rank", moe.toString(), "--calib", calib, "--experts-by", "frequency", "--depth", "cosine",
                "-o", freq.toString());
        assertEquals(0, run.code(), run.toString());
        JsonNode f = Surgery.JSON.readTree(freq.toFile());
        assertEquals("frequency", f.get("importance").get("experts_by").asText());
        for (String layer : new String[] {"1", "4", "6"}) {
            JsonNode r = f.get("rankings").get("per_layer").get(layer);
            assertEquals(8, r.get("experts").size());
            assertEquals(8, r.get("expert_ffn").size());
            assertEquals(32, r.get("expert_ffn").get(0).size());
            assertEquals(48, r.get("shared_ffn").size());
            JsonNode counts = f.get("scores").get("per_layer").get(layer).get("experts");
            double total = 0;
            for (int k = 0; k < counts.size(); k++) {
                total += counts.get(k).asDouble();
                if (k > 0) { // the ranking is by these counts
                    assertTrue(counts.get(r.get("experts").get(k).asInt()).asDouble()
                            <= counts.get(r.get("experts").get(k - 1).asInt()).asDouble(), layer + ": " + r.get("experts"));
                }
            }
            assertEquals(2 * 74, total, 1e-9, "every token routed to k = 2 experts");
        }
        Path reap = tmp.resolve("reap.json");
        run = RankCli.of("rank", moe.toString(), "--calib", calib, "--depth", "cosine", "-o", reap.toString());
        assertEquals(0, run.code(), run.toString());
        JsonNode r = Surgery.JSON.readTree(reap.toFile());
        assertEquals("reap", r.get("importance").get("experts_by").asText());
        assertEquals(f.get("rankings").get("hidden"), r.get("rankings").get("hidden"), "only the experts depend on --experts-by");
        assertEquals(f.get("rankings").get("per_layer").get("1").get("expert_ffn"), r.get("rankings").get("per_layer").get("1").get("expert_ffn"));

        Path child = tmp.resolve("child");
        CliRun extract = CliRun.of("extract", moe.toString(), "--spec", moe.resolve("rankings.json").toString(),
                "--child", "small", "--rankings", reap.toString(), "-o", child.toString(), "--json");
        assertEquals(0, extract.code(), extract.toString());
        assertEquals("given", Surgery.JSON.readTree(extract.out()).get("rankings").asText());

        run = RankCli.of("rank", moe.toString(), "--calib", calib, "--experts-by", "popularity", "-o", tmp.resolve("x.json").toString());
        assertEquals(2, run.code(), run.toString());
        assertTrue(run.err().contains("--experts-by") && run.err().contains("reap, frequency, weight or mass"), run.toString());
        run = RankCli.of("rank", moe.toString(), "--calib", calib, "--into-parent");
        assertEquals(2, run.code(), run.toString());
        assertTrue(run.err().contains("no MoE axes"), run.toString());
    }

    /**
     * An FP8 or NVFP4 parent is ranked on the model it stores (its linear weights dequantized): the same depth order as
     * the BF16 tiny-moe it was quantized from, and most of the same top half of hidden channels (a random order would
     * share about half). Measured: FP8 0.94, NVFP4 0.84 (FP8's worst weight error is 3.6%, NVFP4's 15%, golden README).
     */
    @Test
    void quantizedParentsAreRankedLikeTheModelTheyStore() throws Exception {
        Path golden = CliRun.golden();
        String calib = golden.resolve("tiny-moe").resolve("golden.safetensors").toString();
        JsonNode bf16 = rank(golden.resolve("tiny-moe"), calib, tmp.resolve("bf16.json"));
        for (String q : new String[] {"fp8", "nvfp4"}) {
            JsonNode r = rank(golden.resolve("tiny-moe-" + q), calib, tmp.resolve(q + ".json"));
            assertEquals(bf16.get("layers"), r.get("layers"), q);
            int half = bf16.get("hidden").size() / 2;
            java.util.Set<Integer> top = new java.util.HashSet<>();
            for (int k = 0; k < half; k++) {
                top.add(bf16.get("hidden").get(k).asInt());
            }
            int shared = 0;
            for (int k = 0; k < half; k++) {
                shared += top.contains(r.get("hidden").get(k).asInt()) ? 1 : 0;
            }
            assertTrue(shared >= 0.75 * half, q + ": " + shared + " of the top " + half + " hidden channels shared");
        }
        // FP8 scales are per tensor, so any channel order slices; the child keeps FP8
        Path child = tmp.resolve("fp8-child");
        CliRun extract = CliRun.of("extract", golden.resolve("tiny-moe-fp8").toString(), "--hidden", "32",
                "--rankings", tmp.resolve("fp8.json").toString(), "-o", child.toString(), "--json");
        assertEquals(0, extract.code(), extract.toString());
        assertTrue(Files.readString(child.resolve("config.json")).contains("FP8"), "the child stays FP8");

        // rank-eval too: the full child is the parent, whatever the rankings
        CliRun eval = RankCli.of("rank-eval", golden.resolve("tiny-moe-fp8").toString(), "--tokens", calib, "--children",
                golden.resolve("tiny-moe").resolve("rankings.json").toString(), "--calib-rows", "1", "--random-seeds", "1",
                "--json");
        assertEquals(0, eval.code(), eval.toString());
        int full = 0;
        for (JsonNode row : Surgery.JSON.readTree(eval.out()).get("rows")) {
            if (row.get("child").asText().equals("full")) {
                assertEquals(0, row.get("kl").asDouble(), 1e-9, row.toString());
                full++;
            } else {
                assertTrue(row.get("kl").asDouble() > 0, row.toString());
            }
        }
        assertTrue(full > 0, eval.out());
    }

    private JsonNode rank(Path parent, String calib, Path out) throws Exception {
        CliRun run = RankCli.of("rank", parent.toString(), "--calib", calib, "--depth", "cosine", "-o", out.toString());
        assertEquals(0, run.code(), run.toString());
        return Surgery.JSON.readTree(out.toFile()).get("rankings");
    }

    @Test
    void textCalibrationOnAByteLevelModel() throws Exception {
        Path text = tmp.resolve("calib.py");
        Files.writeString(text, "import os\n\ndef main(argv):\n    return os.path.join(*argv)\n".repeat(20), StandardCharsets.UTF_8);
        Path out = tmp.resolve("r.json");
        CliRun run = RankCli.of("rank", trained().toString(), "--calib", text.toString(), "--seq-len", "64", "--depth", "cosine",
                "-o", out.toString());
        assertEquals(0, run.code(), run.toString());
        assertTrue(run.out().contains("utf-8 bytes"), run.toString());
        assertEquals("cosine", Surgery.JSON.readTree(out.toFile()).get("importance").get("depth").asText());
    }

    @Test
    void badInputIsExitTwoWithAMessageNamingTheFile() throws Exception {
        Path tiny = CliRun.golden().resolve("tiny-hybrid");
        Path text = tmp.resolve("calib.txt");
        Files.writeString(text, "hello");
        Path out = tmp.resolve("r.json");
        CliRun run = RankCli.of("rank", tiny.toString(), "--calib", text.toString(), "-o", out.toString());
        assertEquals(2, run.code(), run.toString());
        assertTrue(run.err().contains("calib.txt") && run.err().contains("tokenizer.json"), run.toString());
        assertFalse(Files.exists(out));

        run = RankCli.of("rank", tiny.toString(), "--calib", tiny.resolve("golden.safetensors").toString(), "--depth", "random",
                "-o", out.toString());
        assertEquals(2, run.code(), run.toString());
        assertTrue(run.err().contains("--depth"), run.toString());

        Files.writeString(out, "{}");
        run = RankCli.of("rank", tiny.toString(), "--calib", tiny.resolve("golden.safetensors").toString(), "-o", out.toString());
        assertEquals(2, run.code(), run.toString());
        assertTrue(run.err().contains("--force"), run.toString());
        assertEquals("{}", Files.readString(out), "left untouched");

        run = RankCli.of("rank", tmp.resolve("missing").toString(), "--calib", text.toString(), "-o", tmp.resolve("x.json").toString());
        assertEquals(2, run.code(), run.toString());
    }

    @Test
    void rankEvalPrintsTheTable() throws Exception {
        CliRun run = RankCli.of("rank-eval", trained().toString(), "--tokens", trained().resolve("heldout.safetensors").toString(),
                "--calib-rows", "4", "--children", trained().resolve("rankings.json").toString(), "--child", "75pct",
                "--depth", "cosine", "--json");
        assertEquals(0, run.code(), run.toString());
        JsonNode r = Surgery.JSON.readTree(run.out());
        assertEquals(4, r.get("eval_rows").asInt());
        assertEquals(3, r.get("rows").size()); // estimated, the file's (random), weight magnitude
        assertTrue(r.get("rows").get(0).get("kl").asDouble() < r.get("rows").get(1).get("kl").asDouble(), run.out());

        run = RankCli.of("rank-eval", trained().toString(), "--tokens", trained().resolve("heldout.safetensors").toString(),
                "--calib-rows", "8", "--children", trained().resolve("rankings.json").toString());
        assertEquals(2, run.code(), run.toString());
        assertTrue(run.err().contains("--calib-rows"), run.toString());
    }

    @Test
    void intoParentWritesElasticMetadataTheRouterModuleReads() throws Exception {
        Path parent = tmp.resolve("parent");
        Files.createDirectories(parent);
        for (String f : new String[] {"config.json", "model.safetensors", "rankings.json"}) {
            Files.copy(trained().resolve(f), parent.resolve(f));
        }
        Path out = tmp.resolve("r.json");
        CliRun run = RankCli.of("rank", parent.toString(), "--calib", trained().resolve("heldout.safetensors").toString(),
                "--samples", "2", "--seq-len", "64", "-o", out.toString(), "--into-parent", "--json");
        assertEquals(0, run.code(), run.toString());
        assertEquals("rankings", Surgery.JSON.readTree(run.out()).get("replaced_metadata").asText(), "the golden rankings.json");
        dev.manyone.elastic.ModelDescription model;
        try (var cp = dev.manyone.elastic.checkpoint.Checkpoint.open(parent)) {
            model = cp.model();
        }
        var m = dev.manyone.router.ElasticFiles.read(parent, model);
        assertEquals(dev.manyone.router.ElasticMetadata.Kind.RANKINGS, m.kind());
        assertTrue(m.source().endsWith("elastic.json"));
        var written = dev.manyone.elastic.slice.SpecFiles.readRankings(out, model);
        assertArrayEquals(written.hidden(), m.rankings().hidden());
        assertArrayEquals(written.layers(), m.rankings().layers());
        assertArrayEquals(written.layer(4).ffn(), m.rankings().layer(4).ffn());
        JsonNode scores = Surgery.JSON.readTree(out.toFile()).get("scores");
        assertEquals((float) scores.get("hidden").get(3).asDouble(), m.scores().hidden()[3]);
        assertEquals((float) scores.get("per_layer").get("0").get("mamba_heads").get(5).asDouble(), m.scores().layer(0).mambaHeads()[5]);

        // without -o, and again over the elastic files it wrote
        run = RankCli.of("rank", parent.toString(), "--calib", trained().resolve("heldout.safetensors").toString(),
                "--samples", "2", "--seq-len", "64", "--depth", "cosine", "--streamed", "--into-parent");
        assertEquals(0, run.code(), run.toString());
        assertEquals(dev.manyone.router.ElasticMetadata.Kind.RANKINGS, dev.manyone.router.ElasticFiles.read(parent, model).kind());

        run = RankCli.of("rank", parent.toString(), "--calib", trained().resolve("heldout.safetensors").toString());
        assertEquals(2, run.code(), run.toString());
        assertTrue(run.err().contains("-o FILE, --into-parent"), run.toString());
    }

    @Test
    void layerScoresOutOfRankingOrderAreLeftOutOfTheElasticMetadata() {
        var model = dev.manyone.elastic.ModelDescription.of(dev.manyone.elastic.NemotronHConfig.read(trained().resolve("config.json")));
        var identity = dev.manyone.elastic.slice.Rankings.identity(model);
        java.util.Map<Integer, dev.manyone.importance.Scores.Layer> per = new java.util.TreeMap<>();
        model.layers().forEach(l -> per.put(l.index(), new dev.manyone.importance.Scores.Layer(
                l.mambaHeads() > 0 ? new double[l.mambaHeads()] : null, l.mambaHeadDim() > 0 ? new double[l.mambaHeadDim()] : null,
                l.attentionHeads() > 0 ? new double[l.attentionHeads()] : null, l.ffn() > 0 ? new double[l.ffn()] : null)));
        double[] rising = new double[10];
        for (int i = 0; i < 10; i++) {
            rising[i] = i; // identity ranking says layer 0 first, its score is the lowest: the iterative case
        }
        var s = new dev.manyone.importance.Scores(new double[128], rising, per, identity.layers());
        assertEquals(null, ParentMetadata.toFloat(model, identity, s).layers());
        double[] falling = new double[10];
        for (int i = 0; i < 10; i++) {
            falling[i] = 10 - i;
        }
        s = new dev.manyone.importance.Scores(new double[128], falling, per, null);
        assertEquals(9f, ParentMetadata.toFloat(model, identity, s).layers()[1]);
    }
}
