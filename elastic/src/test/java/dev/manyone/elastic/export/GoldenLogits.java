package dev.manyone.elastic.export;

import dev.manyone.formats.DType;
import dev.manyone.formats.Safetensors;
import dev.manyone.formats.TensorInfo;
import dev.manyone.formats.TensorSource;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Reads the golden logits and compares them with ours. */
final class GoldenLogits {
    private GoldenLogits() {
    }

    static Path golden() {
        String p = System.getProperty("manyone.golden");
        return Path.of(p != null ? p : "../../shared/golden");
    }

    /** A golden F32 tensor, flattened, with its shape. */
    record Tensor(float[] values, long[] shape) {
    }

    static Tensor read(Path file, String name) {
        try (TensorSource src = Safetensors.open(file)) {
            TensorInfo t = src.require(name);
            assertEquals(DType.F32, t.dtype());
            return new Tensor(src.readFloats(t), t.shape());
        }
    }

    static List<long[]> inputIds(Path file) {
        return dev.manyone.elastic.runtime.TokenFile.read(file, Integer.MAX_VALUE);
    }

    /** max |a - b| over the [batch][seq·vocab] logits at positions [from, from + len) against golden [batch, len, vocab]. */
    static double maxAbsDiff(float[][] ours, int from, int len, Tensor golden, int vocab) {
        double max = 0;
        for (int b = 0; b < ours.length; b++) {
            for (int t = 0; t < len; t++) {
                for (int v = 0; v < vocab; v++) {
                    double d = Math.abs(ours[b][(from + t) * vocab + v] - golden.values()[(b * len + t) * vocab + v]);
                    max = Math.max(max, d);
                }
            }
        }
        return max;
    }
}
