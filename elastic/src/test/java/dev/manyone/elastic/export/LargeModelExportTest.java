package dev.manyone.elastic.export;

import dev.manyone.elastic.NemotronHConfig;
import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.elastic.generate.ModelGenerator;
import dev.manyone.elastic.generate.Presets;
import dev.manyone.elastic.runtime.DecoderState;
import dev.manyone.elastic.runtime.DecoderStep;
import dev.manyone.elastic.runtime.OnnxDecoder;
import dev.manyone.formats.Progress;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A model whose fp32 weights exceed protobuf's 2 GiB message limit exports (weights streamed to external data)
 * and loads in ONNX Runtime; its .onnx file stays small. 713,560,640 parameters = 2.66 GiB as fp32.
 */
class LargeModelExportTest {

    @Test
    void moreThan2point5GiBOfFp32WeightsExportAndLoad(@TempDir Path tmp) throws Exception {
        NemotronHConfig config = Presets.load("tiny").with(o -> {
            o.put("vocab_size", 98304);
            o.put("hidden_size", 2048);
            o.put("intermediate_size", 8192);
            o.put("hybrid_override_pattern", "M-M*-M-M-M*-M-");
            o.put("num_hidden_layers", 14);
            o.put("num_attention_heads", 16);
            o.put("num_key_value_heads", 4);
            o.put("head_dim", 128);
            o.put("mamba_num_heads", 32);
            o.put("mamba_head_dim", 64);
            o.put("n_groups", 8);
            o.put("ssm_state_size", 64);
        });
        Path parent = tmp.resolve("parent");
        new ModelGenerator(config, 1, ModelGenerator.DEFAULT_SHARD_BYTES, 2).write(parent, false, Progress.NONE);
        Path out = tmp.resolve("onnx");
        OnnxExporter.Result r;
        try (Checkpoint cp = Checkpoint.open(parent)) {
            assertEquals(713_560_640L, cp.model().params().total());
            r = OnnxExporter.export(cp.model(), new CheckpointWeights(cp.tensors()), ExportOptions.DEFAULT, out, false,
                    Map.of(), List.of(), "test", Progress.NONE);
        }
        assertTrue(r.dataBytes() > 2.5 * (1L << 30), "data " + r.dataBytes());
        assertTrue(r.onnxBytes() < 1_000_000, ".onnx " + r.onnxBytes());
        assertEquals(r.onnxBytes(), Files.size(out.resolve("model.onnx")));
        try (OnnxDecoder decoder = OnnxDecoder.open(out, 0)) {
            DecoderState s = decoder.initialState(1);
            DecoderStep step = decoder.step(new long[][] {{5, 6, 7}}, s);
            s.close();
            float[] logits = step.logitsAt(0, 2);
            step.state().close();
            assertEquals(98304, logits.length);
            for (float v : logits) {
                assertTrue(Float.isFinite(v));
            }
        }
    }
}
