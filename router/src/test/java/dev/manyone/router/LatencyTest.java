package dev.manyone.router;

import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.generate.Presets;
import dev.manyone.elastic.slice.Rankings;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** --latency-ms: measured with ONNX Runtime on this machine, cached, verified, nested. */
class LatencyTest {
    @TempDir
    Path tmp;

    static LatencyProbe.Settings settings(Path cache) {
        return new LatencyProbe.Settings(cache, 1, 3, 16, 1L << 30);
    }

    @Test
    void latencyTargetsAreMeasuredCachedAndNested() throws Exception {
        Path dir = tmp.resolve("parent");
        ModelDescription parent = Parents.tinyModel();
        ElasticMetadata m = Parents.write(dir, ElasticParentGenerator.example(parent), 3);
        Path cache = tmp.resolve("cache");
        List<String> log = new ArrayList<>();
        Budgets.Options options = Budgets.Options.defaults().withLatency(settings(cache)).withLog(log::add);

        // the largest and smallest configurations, measured through the same cache the search uses
        ChoiceSpace space = new ChoiceSpace(parent, m.rankings(), m.axes());
        LatencyProbe probe = new LatencyProbe(settings(cache), null);
        Configuration top = space.configuration(space.top());
        Configuration bottom = space.configuration(new int[space.units().size()]);
        double tTop = probe.measure(LatencySearch.childConfig(space, top), new SyntheticWeights(ModelDescription.of(LatencySearch.childConfig(space, top))));
        double tBottom = probe.measure(LatencySearch.childConfig(space, bottom), new SyntheticWeights(ModelDescription.of(LatencySearch.childConfig(space, bottom))));
        System.out.printf("tiny example-recipe parent: largest %.3f ms, smallest %.3f ms per decode step%n", tTop, tBottom);
        double hi = Math.max(tTop, tBottom);

        double[] targets = {hi * 1.5, tBottom + 0.5 * (hi - tBottom), tBottom + 0.1 * (hi - tBottom)};
        List<ChildRequest> results = new ArrayList<>();
        long start = System.nanoTime();
        for (double t : targets) {
            ChildRequest r = Budgets.resolve(dir, parent, new Target.Latency(t), options);
            assertTrue(r.latencyMs().isPresent());
            assertTrue(r.latencyMs().getAsDouble() <= t, r.latencyMs() + " > " + t);
            assertEquals("measured", r.provenance().get("manyone.latency_source"));
            assertFalse(r.routerTrained());
            results.add(r);
            System.out.printf("  target %.3f ms -> %.3f ms, %,d params, %d layers%n", t, r.latencyMs().getAsDouble(), r.params(),
                    r.configuration().layers().size());
        }
        System.out.printf("  3 latency searches in %.1f s%n", (System.nanoTime() - start) / 1e9);
        log.forEach(l -> System.out.println("  log: " + l));
        for (int i = 1; i < results.size(); i++) {
            assertTrue(results.get(i).configuration().nestedIn(results.get(i - 1).configuration()), "nested");
        }
        assertTrue(Files.exists(cache.resolve(LatencyProbe.CACHE_FILE)));

        // again, from the cache: nothing measured, the same answers
        for (int i = 0; i < targets.length; i++) {
            ChildRequest again = Budgets.resolve(dir, parent, new Target.Latency(targets[i]), options);
            assertEquals(results.get(i).configuration(), again.configuration());
            assertEquals(results.get(i).latencyMs(), again.latencyMs());
        }
        assertTrue(log.stream().filter(l -> l.startsWith("measured")).count() > 0);
        int before = (int) log.stream().filter(l -> l.startsWith("measured")).count();
        Budgets.resolve(dir, parent, new Target.Latency(targets[1]), options);
        assertEquals(before, log.stream().filter(l -> l.startsWith("measured")).count(), "served from the cache");
    }

    @Test
    void bigParentsAreTimedOnAScaledProxy() throws Exception {
        ModelDescription parent = ModelDescription.of(Presets.load("example"));
        Path dir = tmp.resolve("example");
        Files.createDirectories(dir);
        parent.config().write(dir.resolve("config.json"));
        // pretend the machine can only export 2 MB: the example parent (about 20 MB as fp32) is proxied
        LatencyProbe.Settings small = new LatencyProbe.Settings(tmp.resolve("cache2"), 1, 2, 8, 2_000_000);
        assertTrue(LatencySearch.proxyScale(parent, small.maxProbeBytes()) > 1);
        ModelDescription proxy = ModelDescription.of(LatencySearch.proxyConfig(parent, LatencySearch.proxyScale(parent, small.maxProbeBytes())));
        assertEquals(parent.layers().size(), proxy.layers().size());
        assertTrue(4 * proxy.params().total() <= small.maxProbeBytes());
        List<String> log = new ArrayList<>();
        ChildRequest r = Budgets.resolve(dir, parent, new Target.Latency(1e6), Budgets.Options.defaults().withLatency(small).withLog(log::add));
        assertEquals("predicted-from-proxy", r.provenance().get("manyone.latency_source"));
        assertEquals(parent.params().total(), r.params(), "a generous target keeps everything");
        assertTrue(log.stream().anyMatch(l -> l.contains("proxy")), log.toString());
        assertTrue(Rankings.identity(parent).identity());
    }

    /**
     * When the fitted model predicts nothing fast enough but the smallest configuration measures within the target,
     * the search returns it; below its measurement, it refuses naming the measurement. The measurements are set in the
     * cache (the real ones are replaced) so that the fit mispredicts deterministically: four probes on a line, the
     * smallest far below it.
     */
    @Test
    void measuredSmallestConfigurationBeatsAPessimisticFit() throws Exception {
        Path dir = tmp.resolve("parent2");
        ModelDescription parent = Parents.tinyModel();
        ElasticMetadata m = Parents.write(dir, ElasticParentGenerator.example(parent), 3);
        Path cache = tmp.resolve("cache2");
        Budgets.Options options = Budgets.Options.defaults().withLatency(settings(cache));
        Budgets.resolve(dir, parent, new Target.Latency(1e6), options); // measures and caches the probes

        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        Path file = cache.resolve(LatencyProbe.CACHE_FILE);
        com.fasterxml.jackson.databind.node.ObjectNode root = (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(file.toFile());
        long smallest = Long.MAX_VALUE;
        for (var e : root.get("entries").properties()) {
            smallest = Math.min(smallest, e.getValue().get("params").asLong());
        }
        for (var e : root.get("entries").properties()) {
            long params = e.getValue().get("params").asLong();
            ((com.fasterxml.jackson.databind.node.ObjectNode) e.getValue()).put("ms", params == smallest ? 0.1 : 0.5 + params * 1e-7);
        }
        assertTrue(root.get("entries").size() >= 4, root.toString());
        Files.writeString(file, json.writeValueAsString(root));

        ChildRequest r = Budgets.resolve(dir, parent, new Target.Latency(0.12), options);
        assertEquals(0.1, r.latencyMs().getAsDouble(), 0.0, "the smallest configuration, as measured");
        assertEquals(smallest, r.params());
        assertEquals("measured", r.provenance().get("manyone.latency_source"));

        dev.manyone.formats.FormatException e = org.junit.jupiter.api.Assertions.assertThrows(dev.manyone.formats.FormatException.class,
                () -> Budgets.resolve(dir, parent, new Target.Latency(0.05), options));
        assertTrue(e.getMessage().contains("even the smallest configuration of the candidate choices measures 0.100 ms"), e.getMessage());
    }
}
