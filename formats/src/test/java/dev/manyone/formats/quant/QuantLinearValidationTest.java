package dev.manyone.formats.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.manyone.formats.DType;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.Safetensors;
import dev.manyone.formats.SafetensorsWriter;
import dev.manyone.formats.TensorSource;
import dev.manyone.formats.TensorSpec;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hand-built quantized layers: what the quantizer writes reads back and dequantizes to within the formats' step, and
 * layers that break the format table (golden README, "Formats") are refused naming the tensor.
 */
class QuantLinearValidationTest {
    private static final String X = "model.layers.0.mlp.up_proj";

    @TempDir
    Path dir;

    private static ByteBuffer f32(float v) {
        return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(0, v);
    }

    /** Writes the tensors (name → dtype, shape, bytes) to one file and opens it. */
    private TensorSource write(Map<String, Object[]> tensors) throws Exception {
        Path f = dir.resolve("m" + System.nanoTime() + ".safetensors");
        List<TensorSpec> plan = new ArrayList<>();
        for (Map.Entry<String, Object[]> e : tensors.entrySet()) {
            plan.add(new TensorSpec(e.getKey(), (DType) e.getValue()[0], (long[]) e.getValue()[1]));
        }
        try (SafetensorsWriter w = SafetensorsWriter.create(f, plan, Map.of())) {
            for (Map.Entry<String, Object[]> e : tensors.entrySet()) {
                Object data = e.getValue()[2];
                w.write(e.getKey(), data instanceof ByteBuffer b ? b.duplicate() : ByteBuffer.wrap((byte[]) data));
            }
            w.finish();
        }
        return Safetensors.open(f);
    }

    private static Map<String, Object[]> nvfp4(int out, int in, ModelOptQuantizer.Nvfp4 q) {
        Map<String, Object[]> m = new LinkedHashMap<>();
        m.put(X + ".weight", new Object[] {DType.U8, new long[] {out, in / 2}, q.packed()});
        m.put(X + ".weight_scale", new Object[] {DType.F8_E4M3, new long[] {out, in / 16}, q.blockScales()});
        m.put(X + ".weight_scale_2", new Object[] {DType.F32, new long[0], f32(q.weightScale2())});
        m.put(X + ".input_scale", new Object[] {DType.F32, new long[0], f32(0.5f)});
        return m;
    }

    private static float[] random(int n, long seed) {
        Random r = new Random(seed);
        float[] w = new float[n];
        for (int k = 0; k < n; k++) {
            w[k] = (float) (r.nextGaussian() * 0.05);
        }
        return w;
    }

    @Test
    void quantizedLayersReadBackAndDequantizeClose() throws Exception {
        int out = 6;
        int in = 48;
        float[] w = random(out * in, 1);
        w[7] = 0f;
        ModelOptQuantizer.Nvfp4 q = ModelOptQuantizer.nvfp4(w, out, in);
        try (TensorSource src = write(nvfp4(out, in, q))) {
            QuantizedLinear layer = QuantizedLinear.of(src, X, QuantAlgo.NVFP4);
            assertEquals(List.of(layer), QuantizedLinear.all(src, QuantAlgo.NVFP4));
            assertEquals(out * in, layer.parameters());
            float[] back = layer.dequantize(src);
            float[] direct = new float[out * in];
            Dequantize.nvfp4(q.packed(), 0, q.blockScales(), 0, q.weightScale2(), out, in, direct, 0);
            assertArrayEquals(direct, back);
            for (int k = 0; k < w.length; k++) {
                // one E2M1 step at the top of a block is 2 (4 → 6) of 6 · block scale; the block scale itself rounds
                double blockAmax = 0;
                for (int j = k / 16 * 16; j < k / 16 * 16 + 16; j++) {
                    blockAmax = Math.max(blockAmax, Math.abs(w[j]));
                }
                assertTrue(Math.abs(back[k] - w[k]) <= blockAmax * (1.0 / 6 + 1.0 / 16) + 1e-9, "element " + k);
            }
            assertEquals(0f, back[7]);
        }
        float[] zeros = new float[32];
        ModelOptQuantizer.Nvfp4 z = ModelOptQuantizer.nvfp4(zeros, 1, 32);
        assertArrayEquals(new byte[] {0x38, 0x38}, z.blockScales()); // "a block of zeros would get 1.0"
        assertArrayEquals(new byte[16], z.packed());
        ModelOptQuantizer.Fp8 f = ModelOptQuantizer.fp8(new float[] {0.25f, -1f, 0.5f});
        assertEquals(1f / 448f, f.weightScale());
        assertArrayEquals(new byte[] {(byte) E4M3.encode(112f), (byte) 0xFE, (byte) E4M3.encode(224f)}, f.codes());
    }

    private static void refused(TensorSource src, QuantAlgo algo, String tensor, String fragment) {
        FormatException e = assertThrows(FormatException.class, () -> QuantizedLinear.of(src, X, algo).dequantize(src));
        assertEquals(Optional.of(tensor), e.tensor(), e.getMessage());
        assertTrue(e.getMessage().contains(fragment), "expected '" + fragment + "' in: " + e.getMessage());
    }

    @Test
    void layersThatBreakTheFormatAreRefused() throws Exception {
        int out = 2;
        int in = 32;
        ModelOptQuantizer.Nvfp4 q = ModelOptQuantizer.nvfp4(random(out * in, 2), out, in);
        Map<String, Object[]> m = nvfp4(out, in, q);
        m.put(X + ".weight_scale", new Object[] {DType.F8_E4M3, new long[] {out, 4}, new byte[8]});
        try (TensorSource src = write(m)) {
            refused(src, QuantAlgo.NVFP4, X + ".weight_scale", "expected shape [2, 2] for the NVFP4 weight [2, 16], found [2, 4]");
        }
        m = nvfp4(out, in, q);
        byte[] nan = q.blockScales().clone();
        nan[3] = (byte) 0xFF;
        m.put(X + ".weight_scale", new Object[] {DType.F8_E4M3, new long[] {out, 2}, nan});
        try (TensorSource src = write(m)) {
            refused(src, QuantAlgo.NVFP4, X + ".weight_scale", "element 3 is the E4M3 NaN code 0xFF");
        }
        m = nvfp4(out, in, q);
        m.put(X + ".weight_scale_2", new Object[] {DType.F32, new long[0], f32(-1f)});
        try (TensorSource src = write(m)) {
            refused(src, QuantAlgo.NVFP4, X + ".weight_scale_2", "expected a finite scale ≥ 0, found -1.0");
        }
        m = nvfp4(out, in, q);
        m.put(X + ".weight_scale_2", new Object[] {DType.F32, new long[] {1}, f32(1f)});
        try (TensorSource src = write(m)) {
            refused(src, QuantAlgo.NVFP4, X + ".weight_scale_2", "expected an F32 scalar (shape []), found F32[1]");
        }
        m = nvfp4(out, in, q);
        m.remove(X + ".weight_scale_2");
        try (TensorSource src = write(m)) {
            refused(src, QuantAlgo.NVFP4, X + ".weight_scale_2", "missing");
        }
        m = nvfp4(out, in, q);
        m.put(X + ".weight", new Object[] {DType.U8, new long[] {out, 12}, new byte[24]});
        m.put(X + ".weight_scale", new Object[] {DType.F8_E4M3, new long[] {out, 1}, new byte[2]});
        try (TensorSource src = write(m)) {
            refused(src, QuantAlgo.NVFP4, X + ".weight", "in a multiple of 16 (whole blocks), found shape [2, 12] (in = 24)");
        }
        // FP8: codes, a scalar F32 scale and no weight_scale_2
        ModelOptQuantizer.Fp8 f = ModelOptQuantizer.fp8(random(out * in, 3));
        Map<String, Object[]> fp8 = new LinkedHashMap<>();
        fp8.put(X + ".weight", new Object[] {DType.F8_E4M3, new long[] {out, in}, f.codes()});
        fp8.put(X + ".weight_scale", new Object[] {DType.F32, new long[0], f32(f.weightScale())});
        try (TensorSource src = write(fp8)) {
            float[] back = QuantizedLinear.of(src, X, QuantAlgo.FP8).dequantize(src);
            assertEquals((float) (E4M3.decode(f.codes()[5]) * (double) f.weightScale()), back[5]);
        }
        fp8.put(X + ".weight_scale_2", new Object[] {DType.F32, new long[0], f32(1f)});
        try (TensorSource src = write(fp8)) {
            refused(src, QuantAlgo.FP8, X + ".weight_scale_2", "expected no weight_scale_2 in an FP8 checkpoint");
        }
        fp8.remove(X + ".weight_scale_2");
        byte[] codes = f.codes().clone();
        codes[40] = 0x7F;
        fp8.put(X + ".weight", new Object[] {DType.F8_E4M3, new long[] {out, in}, codes});
        fp8.put(X + ".weight_scale", new Object[] {DType.F32, new long[0], f32(Float.NaN)});
        try (TensorSource src = write(fp8)) {
            refused(src, QuantAlgo.FP8, X + ".weight_scale", "expected a finite scale ≥ 0, found NaN");
        }
        fp8.put(X + ".weight_scale", new Object[] {DType.F32, new long[0], f32(f.weightScale())});
        try (TensorSource src = write(fp8)) {
            refused(src, QuantAlgo.FP8, X + ".weight", "element 40 is the E4M3 NaN code 0x7F");
        }
    }
}
