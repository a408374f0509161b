package dev.manyone.elastic;

import dev.manyone.formats.FormatException;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.OptionalInt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class TensorNamesTest {

    @Test
    void hubNames() {
        assertEquals("backbone.embeddings.weight", TensorNames.EMBEDDINGS);
        assertEquals("backbone.norm_f.weight", TensorNames.NORM_F);
        assertEquals("lm_head.weight", TensorNames.LM_HEAD);
        assertEquals("backbone.layers.7.norm.weight", TensorNames.layerNorm(7));
        assertEquals("backbone.layers.0.mixer.in_proj.weight", TensorNames.inProj(0));
        assertEquals("backbone.layers.0.mixer.conv1d.weight", TensorNames.conv1dWeight(0));
        assertEquals("backbone.layers.0.mixer.conv1d.bias", TensorNames.conv1dBias(0));
        assertEquals("backbone.layers.0.mixer.A_log", TensorNames.aLog(0));
        assertEquals("backbone.layers.0.mixer.D", TensorNames.d(0));
        assertEquals("backbone.layers.0.mixer.dt_bias", TensorNames.dtBias(0));
        assertEquals("backbone.layers.0.mixer.norm.weight", TensorNames.mambaNorm(0));
        assertEquals("backbone.layers.0.mixer.out_proj.weight", TensorNames.outProj(0));
        assertEquals("backbone.layers.61.mixer.q_proj.weight", TensorNames.qProj(61));
        assertEquals("backbone.layers.61.mixer.k_proj.weight", TensorNames.kProj(61));
        assertEquals("backbone.layers.61.mixer.v_proj.weight", TensorNames.vProj(61));
        assertEquals("backbone.layers.61.mixer.o_proj.weight", TensorNames.oProj(61));
        assertEquals("backbone.layers.1.mixer.up_proj.weight", TensorNames.upProj(1));
        assertEquals("backbone.layers.1.mixer.down_proj.weight", TensorNames.downProj(1));
        assertThrows(IllegalArgumentException.class, () -> TensorNames.inProj(-1));
        // MoE (golden README, "MoE layers (Nemotron 3)")
        assertEquals("backbone.layers.1.mixer.gate.weight", TensorNames.gate(1));
        assertEquals("backbone.layers.1.mixer.gate.e_score_correction_bias", TensorNames.correctionBias(1));
        assertEquals("backbone.layers.1.mixer.experts.7.up_proj.weight", TensorNames.expertUp(1, 7));
        assertEquals("backbone.layers.1.mixer.experts.7.down_proj.weight", TensorNames.expertDown(1, 7));
        assertEquals("backbone.layers.1.mixer.shared_experts.up_proj.weight", TensorNames.sharedUp(1));
        assertEquals("backbone.layers.1.mixer.shared_experts.down_proj.weight", TensorNames.sharedDown(1));
        assertEquals("backbone.layers.3.mixer.fc1_latent_proj.weight", TensorNames.latentIn(3));
        assertEquals("backbone.layers.3.mixer.fc2_latent_proj.weight", TensorNames.latentOut(3));
        assertEquals(true, TensorNames.alwaysF32(TensorNames.correctionBias(1)));
        assertEquals(false, TensorNames.alwaysF32(TensorNames.gate(1)));
        assertEquals(true, TensorNames.isMtp("mtp.layers.0.eh_proj.weight"));
        assertThrows(IllegalArgumentException.class, () -> TensorNames.expertUp(1, -1));
    }

    @Test
    void layerOf() {
        assertEquals(OptionalInt.of(12), TensorNames.layerOf(TensorNames.downProj(12)));
        assertEquals(OptionalInt.of(0), TensorNames.layerOf("backbone.layers.0.norm.weight"));
        assertEquals(OptionalInt.empty(), TensorNames.layerOf(TensorNames.EMBEDDINGS));
        assertEquals(OptionalInt.empty(), TensorNames.layerOf(TensorNames.LM_HEAD));
        assertEquals(OptionalInt.empty(), TensorNames.layerOf("backbone.layers.x.norm.weight"));
        assertEquals(OptionalInt.empty(), TensorNames.layerOf("backbone.layers.01.norm.weight"));
        assertEquals(OptionalInt.empty(), TensorNames.layerOf("backbone.layers..norm.weight"));
        assertEquals(OptionalInt.empty(), TensorNames.layerOf("backbone.layers.99999999999.norm"));
        assertEquals(OptionalInt.empty(), TensorNames.layerOf(null));
    }

    @Test
    void layerKinds() {
        Path f = Path.of("config.json");
        assertEquals(LayerKind.MAMBA, LayerKind.fromSymbol('M', 0, f));
        assertEquals(LayerKind.ATTENTION, LayerKind.fromSymbol('*', 0, f));
        assertEquals(LayerKind.MLP, LayerKind.fromSymbol('-', 0, f));
        assertEquals('*', LayerKind.ATTENTION.symbol());
        assertEquals("mlp", LayerKind.MLP.blockType());
        assertEquals(LayerKind.MOE, LayerKind.fromSymbol('E', 4, f));
        assertEquals("moe", LayerKind.MOE.blockType());
        assertEquals("hybrid_override_pattern: layer 2 is 'm', expected one of M, *, -, E",
                assertThrows(FormatException.class, () -> LayerKind.fromSymbol('m', 2, f)).reason());
    }
}
