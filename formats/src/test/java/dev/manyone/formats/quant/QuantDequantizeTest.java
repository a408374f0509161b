package dev.manyone.formats.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.manyone.formats.DType;
import dev.manyone.formats.Safetensors;
import dev.manyone.formats.TensorInfo;
import dev.manyone.formats.TensorSource;

import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Every quantized tensor of the golden FP8 and NVFP4 parents, against tiny-moe's BF16 originals (golden README,
 * "Quantized checkpoints"): dequantized, the error is within the README's worst case ("Worst weight error,
 * |W_q − W| / amax|W|: FP8 0.036, NVFP4 0.153", figures rounded to three decimals, so every tensor is below the
 * figure plus half a unit of its last digit and the worst tensor rounds to it) and not zero; re-quantized from the
 * originals with ModelOpt's recipe,
 * every stored code and scale comes back bit for bit.
 */
class QuantDequantizeTest {
    private static final String SUFFIX = QuantizedLinear.WEIGHT_SCALE;

    /** The quantized modules of a parent: every X with X.weight_scale. */
    private static List<String> quantizedModules(TensorSource src) {
        List<String> out = new ArrayList<>();
        for (TensorInfo t : src.tensors()) {
            if (t.name().endsWith(SUFFIX)) {
                out.add(t.name().substring(0, t.name().length() - SUFFIX.length()));
            }
        }
        return out;
    }

    private static void checkAgainstOriginals(String dir, QuantAlgo algo, double readmeWorst) {
        double worst = readmeWorst + 0.0005;
        int checked = 0;
        double worstSeen = 0;
        try (TensorSource q = Safetensors.open(QuantGolden.golden().resolve(dir + "/model.safetensors"));
             TensorSource bf16 = Safetensors.open(QuantGolden.golden().resolve("tiny-moe/model.safetensors"))) {
            for (String module : quantizedModules(q)) {
                QuantizedLinear layer = QuantizedLinear.of(q, module, algo);
                TensorInfo original = bf16.require(module + ".weight");
                assertEquals(DType.BF16, original.dtype());
                assertArrayEquals(original.shape(), new long[] {layer.out(), layer.in()}, module);
                float[] w = bf16.readFloats(original);
                float[] wq = layer.dequantize(q);
                double amax = 0;
                double err = 0;
                for (int k = 0; k < w.length; k++) {
                    amax = Math.max(amax, Math.abs(w[k]));
                    err = Math.max(err, Math.abs((double) wq[k] - w[k]));
                }
                double rel = err / amax;
                assertTrue(rel > 0 && rel <= worst, module + ": relative error " + rel + " not in (0, " + worst + "]");
                worstSeen = Math.max(worstSeen, rel);
                checked++;
            }
        }
        // Mamba in/out (layers 0, 2, 5), MLP up/down (7), 3 MoE layers × (8 experts + shared) × up/down
        assertEquals(3 * 2 + 2 + 3 * 9 * 2, checked);
        assertEquals(readmeWorst, Math.round(worstSeen * 1000) / 1000.0, algo + " worst relative error " + worstSeen);
    }

    @Test
    void fp8DequantizesWithinTheReadmeError() {
        checkAgainstOriginals("tiny-moe-fp8", QuantAlgo.FP8, 0.036);
    }

    @Test
    void nvfp4DequantizesWithinTheReadmeError() {
        checkAgainstOriginals("tiny-moe-nvfp4", QuantAlgo.NVFP4, 0.153);
    }

    private static float f32(TensorSource src, TensorInfo t) {
        return src.bytes(t).order(ByteOrder.LITTLE_ENDIAN).getFloat(0);
    }

    @Test
    void modelOptRecipeReproducesEveryStoredCodeAndScale() {
        try (TensorSource fp8 = Safetensors.open(QuantGolden.golden().resolve("tiny-moe-fp8/model.safetensors"));
             TensorSource nvfp4 = Safetensors.open(QuantGolden.golden().resolve("tiny-moe-nvfp4/model.safetensors"));
             TensorSource bf16 = Safetensors.open(QuantGolden.golden().resolve("tiny-moe/model.safetensors"))) {
            List<String> modules = quantizedModules(fp8);
            assertEquals(modules, quantizedModules(nvfp4));
            for (String module : modules) {
                TensorInfo original = bf16.require(module + ".weight");
                float[] w = bf16.readFloats(original);
                ModelOptQuantizer.Fp8 a = ModelOptQuantizer.fp8(w);
                QuantizedLinear f = QuantizedLinear.of(fp8, module, QuantAlgo.FP8);
                assertEquals(Float.floatToRawIntBits(f32(fp8, f.weightScale())), Float.floatToRawIntBits(a.weightScale()), module);
                assertArrayEquals(QuantGolden.bytes(fp8, f.weight()), a.codes(), module + " FP8 codes");

                ModelOptQuantizer.Nvfp4 b = ModelOptQuantizer.nvfp4(w, (int) original.dim(0), (int) original.dim(1));
                QuantizedLinear n = QuantizedLinear.of(nvfp4, module, QuantAlgo.NVFP4);
                assertEquals(Float.floatToRawIntBits(f32(nvfp4, n.weightScale2())), Float.floatToRawIntBits(b.weightScale2()), module);
                assertArrayEquals(QuantGolden.bytes(nvfp4, n.weightScale()), b.blockScales(), module + " NVFP4 block scales");
                assertArrayEquals(QuantGolden.bytes(nvfp4, n.weight()), b.packed(), module + " NVFP4 codes");
            }
        }
    }

    @Test
    void rowBlocksEqualTheWholeTensorAndTheFormula() {
        try (TensorSource q = Safetensors.open(QuantGolden.golden().resolve("tiny-moe-nvfp4/model.safetensors"))) {
            QuantizedLinear layer = QuantizedLinear.of(q, "backbone.layers.0.mixer.out_proj", QuantAlgo.NVFP4);
            float[] whole = layer.dequantize(q);
            float[] rows = new float[whole.length];
            for (int r = 0; r < layer.out(); r += 5) {
                int count = (int) Math.min(5, layer.out() - r);
                layer.dequantizeRows(q, r, count, rows, r * (int) layer.in());
            }
            assertArrayEquals(whole, rows);
            // W[o, i] = e2m1(code[o, i]) · e4m3(weight_scale[o, i // 16]) · weight_scale_2, element 2j in the low nibble
            byte[] codes = QuantGolden.bytes(q, layer.weight());
            byte[] scales = QuantGolden.bytes(q, layer.weightScale());
            double s2 = f32(q, layer.weightScale2());
            int in = (int) layer.in();
            for (int o : new int[] {0, 17, 63}) {
                for (int i : new int[] {0, 1, 30, 31, 64, 127}) {
                    int code = (codes[o * in / 2 + i / 2] >> (i % 2 == 0 ? 0 : 4)) & 0xF;
                    double expected = E2M1.table()[code] * (double) E4M3.table()[scales[o * in / 16 + i / 16] & 0xFF] * s2;
                    assertEquals((float) expected, whole[o * in + i], "[" + o + ", " + i + "]");
                }
            }
        }
    }
}
