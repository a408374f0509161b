package dev.manyone.elastic;

import dev.manyone.formats.DType;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.TensorInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ModelDescriptionTest {

    // Expected counts were computed independently (Python, from the shape rules), not by this code.

    @Test
    void nanoV2_12B() {
        NemotronHConfig c = Golden.resourceConfig("nano-v2-12b-config.json");
        assertEquals(62, c.numHiddenLayers());
        ParamCount p = ModelDescription.of(c).params();
        assertEquals(12_310_001_152L, p.total());
        assertEquals(131072L * 5120, p.embeddings());
        assertEquals(131072L * 5120, p.lmHead());
        assertEquals(5120, p.finalNorm());
        assertEquals(Map.of(LayerKind.MAMBA, 28 * 168_504_704L, LayerKind.ATTENTION, 6 * 62_919_680L,
                LayerKind.MLP, 28 * 209_720_320L, LayerKind.MOE, 0L), p.perKind());
        assertEquals(168_504_704L, p.perLayer().get(0));
        assertEquals(209_720_320L, p.perLayer().get(1));
        assertEquals(62_919_680L, p.perLayer().get(7)); // "M-M-M-M*-": layer 7 is the first attention layer
        assertEquals(28, c.layers().stream().filter(l -> l.kind() == LayerKind.MAMBA).count());
        assertEquals(6, c.layers().stream().filter(l -> l.kind() == LayerKind.ATTENTION).count());
    }

    @Test
    void nanoV2_9B() {
        NemotronHConfig c = Golden.resourceConfig("nano-v2-9b-config.json");
        assertEquals(56, c.numHiddenLayers());
        ParamCount p = ModelDescription.of(c).params();
        assertEquals(8_888_227_328L, p.total());
        // 27 M, 4 *, 25 -
        assertEquals(Map.of(LayerKind.MAMBA, 27 * 147_450_624L, LayerKind.ATTENTION, 4 * 55_054_720L,
                LayerKind.MLP, 25 * 140_497_280L, LayerKind.MOE, 0L), p.perKind());
    }

    @Test
    void tinyHybrid() {
        ParamCount p = ModelDescription.of(Golden.config("tiny-hybrid")).params();
        assertEquals(310_304, p.total());
        // pattern M-M*-M-M*-
        assertEquals(List.of(30_360L, 24_640L, 30_360L, 12_352L, 24_640L, 30_360L, 24_640L, 30_360L, 12_352L,
                24_640L), p.perLayer());
        assertEquals(512 * 64, p.embeddings());
        assertEquals(512 * 64, p.lmHead());
        assertEquals(64, p.finalNorm());
        assertEquals(310_304 - 2 * 512 * 64 - 64, p.layers());
    }

    @Test
    void trainedHybrid() {
        assertEquals(796_384, ModelDescription.of(Golden.config("trained-hybrid")).params().total());
    }

    @Test
    void tiedEmbeddingsHaveNoLmHead() {
        NemotronHConfig tied = Golden.config("tiny-hybrid").with(o -> o.put("tie_word_embeddings", true));
        ModelDescription d = ModelDescription.of(tied);
        assertEquals(0, d.params().lmHead());
        assertEquals(310_304 - 512 * 64, d.params().total());
        assertEquals(TensorNames.NORM_F, d.expectedTensors().get(d.expectedTensors().size() - 1).name());
    }

    @Test
    void tinyTensorsInCanonicalOrder() {
        ModelDescription d = ModelDescription.of(Golden.config("tiny-hybrid"));
        List<ExpectedTensor> all = d.expectedTensors();
        // embeddings + 4 Mamba (1+8) + 2 attention (1+4) + 4 MLP (1+2) + norm_f + lm_head
        assertEquals(1 + 36 + 10 + 12 + 2, all.size());
        assertEquals(new ExpectedTensor(TensorNames.EMBEDDINGS, new long[]{512, 64}, "[vocab, hidden]"), all.get(0));
        assertEquals(List.of(
                        "backbone.layers.0.norm.weight [64]",
                        "backbone.layers.0.mixer.in_proj.weight [328, 64]", // 2*128 + 2*2*16 + 8
                        "backbone.layers.0.mixer.conv1d.weight [192, 1, 4]",
                        "backbone.layers.0.mixer.conv1d.bias [192]",
                        "backbone.layers.0.mixer.A_log [8]",
                        "backbone.layers.0.mixer.D [8]",
                        "backbone.layers.0.mixer.dt_bias [8]",
                        "backbone.layers.0.mixer.norm.weight [128]",
                        "backbone.layers.0.mixer.out_proj.weight [64, 128]"),
                nameAndShape(d.layerTensors(0)));
        assertEquals("[2*d_inner + 2*G*N + heads, hidden]", d.layerTensors(0).get(1).shapeDoc());
        assertEquals(List.of(
                        "backbone.layers.3.norm.weight [64]",
                        "backbone.layers.3.mixer.q_proj.weight [64, 64]",
                        "backbone.layers.3.mixer.k_proj.weight [32, 64]",
                        "backbone.layers.3.mixer.v_proj.weight [32, 64]",
                        "backbone.layers.3.mixer.o_proj.weight [64, 64]"),
                nameAndShape(d.layerTensors(3)));
        assertEquals(List.of(
                        "backbone.layers.9.norm.weight [64]",
                        "backbone.layers.9.mixer.up_proj.weight [192, 64]",
                        "backbone.layers.9.mixer.down_proj.weight [64, 192]"),
                nameAndShape(d.layerTensors(9)));
        assertEquals(List.of("backbone.norm_f.weight [64]", "lm_head.weight [512, 64]"),
                nameAndShape(all.subList(all.size() - 2, all.size())));
        List<ExpectedTensor> concatenated = new ArrayList<>(List.of(all.get(0)));
        for (int i = 0; i < 10; i++) {
            concatenated.addAll(d.layerTensors(i));
        }
        assertEquals(concatenated, all.subList(0, all.size() - 2));
        assertThrows(IndexOutOfBoundsException.class, () -> d.layerTensors(10));
    }

    @Test
    void heterogeneousChildShapes() {
        NemotronHConfig child = Golden.config("tiny-hybrid").withLayers(48, List.of(
                LayerSpec.mamba(0, 4, 12), LayerSpec.attention(1, 2), LayerSpec.mlp(2, 100)));
        ModelDescription d = ModelDescription.of(child);
        // d_inner 48, 2*G*N = 64, heads 4
        assertEquals(List.of("backbone.layers.0.norm.weight [48]",
                "backbone.layers.0.mixer.in_proj.weight [164, 48]",
                "backbone.layers.0.mixer.conv1d.weight [112, 1, 4]",
                "backbone.layers.0.mixer.conv1d.bias [112]",
                "backbone.layers.0.mixer.A_log [4]",
                "backbone.layers.0.mixer.D [4]",
                "backbone.layers.0.mixer.dt_bias [4]",
                "backbone.layers.0.mixer.norm.weight [48]",
                "backbone.layers.0.mixer.out_proj.weight [48, 48]"), nameAndShape(d.layerTensors(0)));
        assertEquals("backbone.layers.1.mixer.q_proj.weight [32, 48]", nameAndShape(d.layerTensors(1)).get(1));
        assertEquals("backbone.layers.1.mixer.k_proj.weight [32, 48]", nameAndShape(d.layerTensors(1)).get(2));
        assertEquals("backbone.layers.2.mixer.down_proj.weight [48, 100]", nameAndShape(d.layerTensors(2)).get(2));
    }

    /** The real golden checkpoints, read from their safetensors headers, match their configs. */
    @ParameterizedTest
    @ValueSource(strings = {"tiny-hybrid", "trained-hybrid"})
    void goldenCheckpointsMatch(String model) throws IOException {
        ModelDescription d = ModelDescription.of(Golden.config(model));
        FakeTensorSource src = FakeTensorSource.fromSafetensorsHeader(Golden.dir().resolve(model)
                .resolve("model.safetensors"));
        assertEquals(d.expectedTensors().size(), src.tensors().size());
        assertDoesNotThrow(() -> d.check(src));
    }

    @Test
    void checkReportsEveryProblemAtOnce() {
        ModelDescription d = ModelDescription.of(Golden.config("tiny-hybrid"));
        Path location = Path.of("/ckpt/model.safetensors");
        List<TensorInfo> tensors = FakeTensorSource.infos(location, d.expectedTensors(), DType.BF16);
        assertDoesNotThrow(() -> d.check(new FakeTensorSource(location, tensors)));

        tensors.removeIf(t -> t.name().equals(TensorNames.dtBias(5)));
        tensors.replaceAll(t -> t.name().equals(TensorNames.kProj(8))
                ? FakeTensorSource.info(location, t.name(), DType.BF16, 64, 64) : t);
        tensors.replaceAll(t -> t.name().equals(TensorNames.aLog(0))
                ? FakeTensorSource.info(location, t.name(), DType.I64, 8) : t);
        tensors.add(FakeTensorSource.info(location, "backbone.layers.3.mixer.up_proj.weight", DType.BF16, 192, 64));
        tensors.add(FakeTensorSource.info(location, "backbone.layers.12.norm.weight", DType.BF16, 64));

        FormatException e = assertThrows(FormatException.class, () -> d.check(new FakeTensorSource(location, tensors)));
        assertEquals(location, e.file().orElseThrow());
        List<String> lines = List.of(e.reason().split("\n"));
        assertEquals("checkpoint does not match " + Golden.configPath("tiny-hybrid") + " (5 problems):", lines.get(0));
        assertEquals(List.of(
                "tensor backbone.layers.0.mixer.A_log has dtype I64, expected a floating-point type (F32, F16, BF16 or F64)",
                "missing tensor backbone.layers.5.mixer.dt_bias [8]",
                "tensor backbone.layers.8.mixer.k_proj.weight has shape [64, 64], expected [32, 64] "
                        + "([kv_heads*head_dim, hidden])",
                "unexpected tensor backbone.layers.12.norm.weight (the config has 10 layers)",
                "unexpected tensor backbone.layers.3.mixer.up_proj.weight (layer 3 is attention in "
                        + "hybrid_override_pattern)"), lines.subList(1, lines.size()));
    }

    @Test
    void tiedCheckpointWithLmHeadIsReported() {
        ModelDescription d = ModelDescription.of(Golden.config("tiny-hybrid").with(o -> o.put("tie_word_embeddings", true)));
        Path location = Path.of("/ckpt");
        List<TensorInfo> tensors = FakeTensorSource.infos(location, d.expectedTensors(), DType.F32);
        tensors.add(FakeTensorSource.info(location, TensorNames.LM_HEAD, DType.F32, 512, 64));
        FormatException e = assertThrows(FormatException.class, () -> d.check(new FakeTensorSource(location, tensors)));
        assertEquals("checkpoint does not match config.json (1 problem):\n"
                + "unexpected tensor lm_head.weight (tie_word_embeddings is true)", e.reason());
    }

    @Test
    void memoryOfNano12BAt128k() {
        ModelDescription d = ModelDescription.of(Golden.resourceConfig("nano-v2-12b-config.json"));
        MemoryEstimate m = d.memory(DType.BF16, 1, 131_072, DType.BF16);
        // weights: 12,310,001,152 params × 2 bytes                                    = 24,620,002,304
        assertEquals(24_620_002_304L, m.weightBytes());
        // KV: 6 attention layers × 2 (K,V) × 1 × 8 kv heads × 131,072 × 128 × 2 bytes
        //     = 6 × 536,870,912                                                        =  3,221,225,472 (3 GiB)
        assertEquals(3_221_225_472L, m.kvCacheBytes());
        // Mamba: 28 layers × 1 × ((10,240 + 2·8·128) · 3 + 128·80·128) × 2 bytes
        //     = 28 × (36,864 + 1,310,720) × 2 = 28 × 2,695,168                         =     75,464,704
        assertEquals(75_464_704L, m.mambaStateBytes());
        assertEquals(27_916_692_480L, m.total());

        // the state scales with the batch, the weights do not; Mamba state does not depend on the context
        MemoryEstimate m2 = d.memory(DType.BF16, 2, 1024, DType.F32);
        assertEquals(m.weightBytes(), m2.weightBytes());
        assertEquals(6L * 2 * 2 * 8 * 1024 * 128 * 4, m2.kvCacheBytes());
        assertEquals(28L * 2 * (36_864 + 1_310_720) * 4, m2.mambaStateBytes());
        assertThrows(IllegalArgumentException.class, () -> d.memory(DType.BF16, 0, 1, DType.BF16));
    }

    @Test
    void paramCountIsConsistent() {
        assertThrows(IllegalArgumentException.class,
                () -> new ParamCount(10, 10, 1, 1, 1, List.of(5L), Map.of(LayerKind.MLP, 5L)));
        assertThrows(IllegalArgumentException.class,
                () -> new ParamCount(8, 9, 1, 1, 1, List.of(5L), Map.of(LayerKind.MLP, 5L)));
        ParamCount p = new ParamCount(8, 8, 1, 1, 1, List.of(5L), Map.of(LayerKind.MLP, 5L));
        assertEquals(Map.of(LayerKind.MAMBA, 0L, LayerKind.ATTENTION, 0L, LayerKind.MLP, 5L, LayerKind.MOE, 0L),
                p.perKind());
        assertThrows(UnsupportedOperationException.class, () -> p.perLayer().add(1L));
        assertEquals(Collections.nCopies(1, 5L), p.perLayer());
    }

    private static List<String> nameAndShape(List<ExpectedTensor> tensors) {
        return tensors.stream().map(t -> t.name() + " " + t.shapeString()).toList();
    }
}
