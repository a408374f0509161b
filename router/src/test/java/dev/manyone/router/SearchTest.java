package dev.manyone.router;

import dev.manyone.elastic.LayerKind;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.NemotronHConfig;
import dev.manyone.elastic.generate.Presets;
import dev.manyone.formats.FormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Untrained targets: the search meets the target, keeps nested children, and is deterministic. */
class SearchTest {
    @TempDir
    Path tmp;

    /** A parent directory with only config.json (+ metadata): enough for params and memory targets. */
    private Path parentDir(String name, NemotronHConfig config, ElasticMetadata m) throws Exception {
        Path dir = tmp.resolve(name);
        Files.createDirectories(dir);
        config.write(dir.resolve("config.json"));
        if (m != null) {
            ElasticFiles.write(dir, m, ModelDescription.of(config));
        }
        return dir;
    }

    private static void assertNestedChain(List<ChildRequest> bySizeAscending) {
        for (int i = 1; i < bySizeAscending.size(); i++) {
            Configuration small = bySizeAscending.get(i - 1).configuration();
            Configuration large = bySizeAscending.get(i).configuration();
            assertTrue(small.nestedIn(large), small + "\n is not nested in\n" + large);
        }
    }

    @Test
    void paramsTargetsAreMetAndNestedOnTheExampleParent() throws Exception {
        NemotronHConfig config = Presets.load("example");
        ModelDescription parent = ModelDescription.of(config);
        ElasticMetadata m = ElasticParentGenerator.metadata(parent, ElasticParentGenerator.example(parent), 7);
        Path dir = parentDir("example", config, m);
        long full = parent.params().total();
        List<ChildRequest> chain = new ArrayList<>();
        for (double f : new double[] {0.55, 0.65, 0.75, 0.85, 0.95}) {
            long target = Math.round(f * full);
            ChildRequest r = Budgets.resolve(dir, parent, new Target.Params(target), Budgets.Options.defaults());
            assertTrue(r.params() <= target, r.params() + " > " + target);
            assertFalse(r.routerTrained());
            assertEquals("false", r.provenance().get("manyone.router_trained"));
            assertEquals("scores", r.provenance().get("manyone.importance"));
            chain.add(r);
        }
        assertNestedChain(chain);
        // every width is one of the candidate choices of elastic.json
        for (ChildRequest r : chain) {
            assertTrue(contains(m.axes().get(Axis.HIDDEN).global(), r.configuration().hidden()));
            assertTrue(contains(m.axes().get(Axis.DEPTH).global(), r.configuration().layers().size()));
        }
    }

    private static String distinct(Configuration c) {
        StringBuilder sb = new StringBuilder();
        c.widths().forEach((a, w) -> sb.append(a.key()).append('=').append(new java.util.TreeSet<>(w)).append(' '));
        return sb.toString().strip();
    }

    private static boolean contains(int[] a, int v) {
        for (int x : a) {
            if (x == v) {
                return true;
            }
        }
        return false;
    }

    @Test
    void memoryTargetsAreMetAndNested() throws Exception {
        NemotronHConfig config = Presets.load("example");
        ModelDescription parent = ModelDescription.of(config);
        Path dir = parentDir("plain", config, null);
        long context = 131072;
        int batch = 8;
        long full = parent.memory(dev.manyone.formats.DType.BF16, batch, context, dev.manyone.formats.DType.F32).total();
        List<ChildRequest> chain = new ArrayList<>();
        for (double f : new double[] {0.7, 0.8, 0.9, 0.97}) {
            long target = Math.round(f * full);
            ChildRequest r = Budgets.resolve(dir, parent, new Target.Memory(target, context, batch), Budgets.Options.defaults());
            assertTrue(r.memory().total() <= target, r.memory().total() + " > " + target);
            assertEquals("identity", r.provenance().get("manyone.importance"));
            chain.add(r);
        }
        assertNestedChain(chain);
    }

    @Test
    void searchIsDeterministic() throws Exception {
        NemotronHConfig config = Presets.load("example");
        ModelDescription parent = ModelDescription.of(config);
        ElasticMetadata m = ElasticParentGenerator.metadata(parent, ElasticParentGenerator.example(parent).withRouter(
                ElasticParentGenerator.RouterKind.NONE), 3);
        Path dir = parentDir("det", config, m);
        Target t = Target.params("3.5M");
        ChildRequest a = Budgets.resolve(dir, parent, t, Budgets.Options.defaults());
        ChildRequest b = Budgets.resolve(dir, parent, t, Budgets.Options.defaults());
        assertEquals(a.configuration(), b.configuration());
        assertEquals(a.configuration().specJson(parent).toString(), b.configuration().specJson(parent).toString());
    }

    @Test
    void nanoTwelveBillionSearchIsFastMetAndNested() throws Exception {
        NemotronHConfig config = Presets.load("nano-v2-12b");
        ModelDescription parent = ModelDescription.of(config);
        Path dir = parentDir("nano", config, null);
        List<ChildRequest> chain = new ArrayList<>();
        long start = System.nanoTime();
        for (String t : new String[] {"6B", "7.5B", "9B", "11B"}) {
            ChildRequest r = Budgets.resolve(dir, parent, Target.params(t), Budgets.Options.defaults());
            assertTrue(r.params() <= Quantities.count(t, "t"));
            chain.add(r);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf("nano-v2-12b: 4 params searches in %.3f s%n", seconds);
        chain.forEach(r -> System.out.println("  " + r.label() + ": " + r.params() + " hidden " + r.configuration().hidden()
                + " layers " + r.configuration().layers().size() + " attention " + r.configuration().count(LayerKind.ATTENTION)
                + " widths " + distinct(r.configuration())));
        assertNestedChain(chain);
        assertTrue(seconds < 30, "search took " + seconds + " s");
        // 12B at 128K context, batch 8: the fp32 KV cache alone is 51 GB; with a BF16 state, 20 GiB is reachable
        ChildRequest mem = Budgets.resolve(dir, parent, Target.memory("20GiB", 131072, 8),
                Budgets.Options.defaults().withStateDtype(dev.manyone.formats.DType.BF16));
        assertTrue(mem.memory().total() <= 20L << 30);
        System.out.println("  " + mem.label() + ": " + mem.params() + " memory " + mem.memory());
    }

    @Test
    void unreachableTargetsAreBadInput() throws Exception {
        NemotronHConfig config = Presets.load("tiny");
        ModelDescription parent = ModelDescription.of(config);
        Path dir = parentDir("tiny", config, null);
        FormatException e = assertThrows(FormatException.class,
                () -> Budgets.resolve(dir, parent, new Target.Params(1000), Budgets.Options.defaults()));
        assertTrue(e.getMessage().contains("--params 1K") && e.getMessage().contains("smallest"), e.getMessage());
        e = assertThrows(FormatException.class, () -> Budgets.resolve(dir, parent, Target.budget("9B"), Budgets.Options.defaults()));
        assertTrue(e.getMessage().contains("no elastic metadata"), e.getMessage());
    }
}
