package dev.manyone.router;

import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.slice.Rankings;
import dev.manyone.elastic.slice.SpecFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ElasticFilesTest {
    @TempDir
    Path tmp;

    @Test
    void roundTripKeepsEverything() throws Exception {
        ModelDescription parent = Parents.tinyModel();
        for (ElasticParentGenerator.RouterKind kind : ElasticParentGenerator.RouterKind.values()) {
            ElasticParentGenerator.Recipe recipe = ElasticParentGenerator.random(parent, 3, 5, kind).withScores(true);
            ElasticMetadata m = ElasticParentGenerator.metadata(parent, recipe, 5);
            Path dir = tmp.resolve(kind.name());
            Files.createDirectories(dir);
            ElasticFiles.write(dir, m, parent);
            ElasticMetadata back = ElasticFiles.read(dir, parent);
            assertEquals(kind == ElasticParentGenerator.RouterKind.NONE ? ElasticMetadata.Kind.RANKINGS : ElasticMetadata.Kind.ROUTER,
                    back.kind());
            assertEquals(m.budgets(), back.budgets());
            assertEquals(m.axes(), back.axes());
            assertArrayEquals(m.rankings().hidden(), back.rankings().hidden());
            assertArrayEquals(m.rankings().layers(), back.rankings().layers());
            for (int i = 0; i < parent.layers().size(); i++) {
                Rankings.Layer a = m.rankings().layer(i);
                Rankings.Layer b = back.rankings().layer(i);
                assertArrayEquals(a.mambaHeads(), b.mambaHeads());
                assertArrayEquals(a.mambaHeadChannels(), b.mambaHeadChannels());
                assertArrayEquals(a.attentionHeads(), b.attentionHeads());
                assertArrayEquals(a.ffn(), b.ffn());
                assertArrayEquals(m.scores().layer(i).ffn(), back.scores().layer(i).ffn());
            }
            assertArrayEquals(m.scores().hidden(), back.scores().hidden());
            if (m.router() != null) {
                assertEquals(m.router().hiddenWidth(), back.router().hiddenWidth());
                assertEquals(m.router().slope(), back.router().slope());
                m.router().axes().forEach((a, r) -> {
                    assertArrayEquals(r.fc1Weight(), back.router().axes().get(a).fc1Weight());
                    assertArrayEquals(r.fc2Bias(), back.router().axes().get(a).fc2Bias());
                });
            } else {
                assertNull(back.router());
            }
            // the same metadata gives the same bytes
            Path again = tmp.resolve(kind.name() + "-again");
            Files.createDirectories(again);
            ElasticFiles.write(again, ElasticParentGenerator.metadata(parent, recipe, 5), parent);
            for (String f : new String[] {ElasticFiles.JSON, ElasticFiles.SAFETENSORS}) {
                assertArrayEquals(Files.readAllBytes(dir.resolve(f)), Files.readAllBytes(again.resolve(f)), f);
            }
        }
    }

    @Test
    void generatedParentsAreByteIdenticalForTheSameSeed() throws Exception {
        ElasticParentGenerator.Recipe recipe = ElasticParentGenerator.example(Parents.tinyModel());
        Parents.write(tmp.resolve("a"), recipe, 42);
        Parents.write(tmp.resolve("b"), recipe, 42);
        try (var files = Files.list(tmp.resolve("a"))) {
            for (Path f : files.toList()) {
                assertArrayEquals(Files.readAllBytes(f), Files.readAllBytes(tmp.resolve("b").resolve(f.getFileName())), f.toString());
            }
        }
        assertTrue(Files.exists(tmp.resolve("a").resolve("model.safetensors")));
        Parents.write(tmp.resolve("c"), recipe, 43);
        assertFalse(java.util.Arrays.equals(Files.readAllBytes(tmp.resolve("a").resolve(ElasticFiles.SAFETENSORS)),
                Files.readAllBytes(tmp.resolve("c").resolve(ElasticFiles.SAFETENSORS))));
    }

    @Test
    void kindsOfParent() throws Exception {
        ModelDescription parent = Parents.tinyModel();
        // plain: nothing beside config.json
        Path plain = tmp.resolve("plain");
        Files.createDirectories(plain);
        ElasticMetadata p = ElasticFiles.read(plain, parent);
        assertEquals(ElasticMetadata.Kind.PLAIN, p.kind());
        assertTrue(p.rankings().identity());
        // the golden tiny-hybrid: rankings.json only
        Path golden = Parents.golden().resolve("tiny-hybrid");
        ElasticMetadata g = ElasticFiles.read(golden, parent);
        assertEquals(ElasticMetadata.Kind.RANKINGS, g.kind());
        assertArrayEquals(SpecFiles.readRankings(golden.resolve("rankings.json"), parent).hidden(), g.rankings().hidden());
        assertTrue(g.budgets().isEmpty());
        // the golden rankings as elastic.safetensors: same permutations
        Path converted = tmp.resolve("converted");
        Files.createDirectories(converted);
        ElasticFiles.write(converted, new ElasticMetadata(ElasticMetadata.Kind.RANKINGS, null, java.util.List.of(),
                java.util.Map.of(), null, g.rankings(), null), parent);
        ElasticMetadata c = ElasticFiles.read(converted, parent);
        assertEquals(ElasticMetadata.Kind.RANKINGS, c.kind());
        assertArrayEquals(g.rankings().layers(), c.rankings().layers());
        assertArrayEquals(g.rankings().layer(1).ffn(), c.rankings().layer(1).ffn());
        assertTrue(c.scores().isEmpty());
    }
}
