package dev.manyone.formats.quant;

import dev.manyone.formats.DType;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.TensorInfo;
import dev.manyone.formats.TensorSource;

import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One quantized linear layer {@code X} of a ModelOpt checkpoint, its stored tensors validated against the format
 * table (golden README, "Formats"; see {@link QuantAlgo}): {@code X.weight}, {@code X.weight_scale},
 * {@code X.weight_scale_2} (NVFP4) and {@code X.input_scale}. The logical weight is {@code [out, in]}. Scalar
 * scales must be finite and not negative; a stored NaN code ("no NaN code is stored") is refused when read.
 *
 * @param algo         FP8 or NVFP4
 * @param prefix       the module name {@code X}, e.g. {@code backbone.layers.0.mixer.in_proj}
 * @param out          logical rows
 * @param in           logical input columns
 * @param weight       {@code X.weight}
 * @param weightScale  {@code X.weight_scale}
 * @param weightScale2 {@code X.weight_scale_2}, null for FP8
 * @param inputScale   {@code X.input_scale}, or null if the checkpoint has none (weights only need the others)
 */
public record QuantizedLinear(QuantAlgo algo, String prefix, long out, long in, TensorInfo weight, TensorInfo weightScale,
                              TensorInfo weightScale2, TensorInfo inputScale) {

    public static final String WEIGHT = ".weight";
    public static final String WEIGHT_SCALE = ".weight_scale";
    public static final String WEIGHT_SCALE_2 = ".weight_scale_2";
    public static final String INPUT_SCALE = ".input_scale";

    /** True if {@code src} stores module {@code prefix} quantized (it has {@code prefix.weight_scale}). */
    public static boolean isQuantized(TensorSource src, String prefix) {
        return src.find(prefix + WEIGHT_SCALE).isPresent();
    }

    /** The tensors of module {@code prefix} in {@code src}, validated for {@code algo}; FormatException otherwise. */
    public static QuantizedLinear of(TensorSource src, String prefix, QuantAlgo algo) {
        TensorInfo w = src.require(prefix + WEIGHT);
        requireDType(w, algo.weightDType(), algo);
        TensorInfo s = src.require(prefix + WEIGHT_SCALE);
        requireDType(s, algo.scaleDType(), algo);
        if (w.rank() != 2) {
            throw new FormatException(w.file(), w.name(), "expected a " + algo + " weight of rank 2 ([out, "
                    + (algo == QuantAlgo.FP8 ? "in" : "in/2") + "]), found shape " + w.shapeString());
        }
        long out = w.dim(0);
        long in = algo == QuantAlgo.FP8 ? w.dim(1) : Math.multiplyExact(w.dim(1), 2L);
        if (algo == QuantAlgo.NVFP4 && in % QuantAlgo.NVFP4_GROUP != 0) {
            throw new FormatException(w.file(), w.name(), "expected NVFP4 [out, in/2] with in a multiple of 16 (whole blocks),"
                    + " found shape " + w.shapeString() + " (in = " + in + ")");
        }
        long[] scaleShape = algo.scaleShape(out, in);
        if (!Arrays.equals(s.shape(), scaleShape)) {
            throw new FormatException(s.file(), s.name(), "expected shape " + Arrays.toString(scaleShape) + " for the "
                    + algo + " weight " + w.shapeString() + ", found " + s.shapeString());
        }
        TensorInfo s2 = null;
        if (algo.hasSecondScale()) {
            s2 = src.require(prefix + WEIGHT_SCALE_2);
            scalar(src, s2);
        } else if (src.find(prefix + WEIGHT_SCALE_2).isPresent()) {
            throw new FormatException(src.location(), prefix + WEIGHT_SCALE_2, "expected no weight_scale_2 in an FP8 checkpoint (NVFP4 only), found one");
        } else {
            scalar(src, s);
        }
        TensorInfo x = src.find(prefix + INPUT_SCALE).orElse(null);
        if (x != null) {
            scalar(src, x);
        }
        return new QuantizedLinear(algo, prefix, out, in, w, s, s2, x);
    }

    /**
     * Every quantized module of {@code src} (each {@code X} with an {@code X.weight_scale}), validated for
     * {@code algo}, in name order.
     */
    public static List<QuantizedLinear> all(TensorSource src, QuantAlgo algo) {
        List<QuantizedLinear> out = new ArrayList<>();
        for (TensorInfo t : src.tensors()) {
            if (t.name().endsWith(WEIGHT_SCALE)) {
                out.add(of(src, t.name().substring(0, t.name().length() - WEIGHT_SCALE.length()), algo));
            }
        }
        return out;
    }

    /**
     * Logical weights, {@code out · in}: "params counts logical weights, exactly as for BF16 checkpoints: an NVFP4
     * byte holds 2 parameters and an FP8 byte 1. Scales are not parameters."
     */
    public long parameters() {
        return Math.multiplyExact(out, in);
    }

    /** The stored tensors, in the order weight, weight_scale, weight_scale_2, input_scale (those present). */
    public List<TensorInfo> tensors() {
        List<TensorInfo> t = new ArrayList<>(4);
        t.add(weight);
        t.add(weightScale);
        if (weightScale2 != null) {
            t.add(weightScale2);
        }
        if (inputScale != null) {
            t.add(inputScale);
        }
        return t;
    }

    /** The logical weight {@code [out, in]} as floats (row-major); FormatException on a stored NaN code. */
    public float[] dequantize(TensorSource src) {
        long n = Math.multiplyExact(out, in);
        if (n > Integer.MAX_VALUE - 8) {
            throw new FormatException(weight.file(), weight.name(), "weight has " + n + " elements, more than one float[] holds; use dequantizeRows");
        }
        float[] w = new float[(int) n];
        dequantizeRows(src, 0, (int) out, w, 0);
        return w;
    }

    /**
     * Rows {@code [first, first + count)} of the logical weight into {@code dst[dstOff ..]}, reading only their
     * bytes; FormatException on a stored NaN code.
     */
    public void dequantizeRows(TensorSource src, int first, int count, float[] dst, int dstOff) {
        if (first < 0 || count < 0 || first > out - count) {
            throw new IllegalArgumentException("rows [" + first + ", " + (first + count) + ") outside [0, " + out + ")");
        }
        int rowBytes = Math.toIntExact(weight.dim(1));
        byte[] codes = read(src, weight, (long) first * rowBytes, Math.multiplyExact(count, rowBytes));
        if (algo == QuantAlgo.FP8) {
            requireNoNaN(codes, weight, (long) first * rowBytes);
            Dequantize.fp8(codes, 0, codes.length, scalar(src, weightScale), dst, dstOff);
        } else {
            int blocks = Math.toIntExact(in / QuantAlgo.NVFP4_GROUP);
            byte[] scales = read(src, weightScale, (long) first * blocks, Math.multiplyExact(count, blocks));
            requireNoNaN(scales, weightScale, (long) first * blocks);
            Dequantize.nvfp4(codes, 0, scales, 0, scalar(src, weightScale2), count, Math.toIntExact(in), dst, dstOff);
        }
    }

    private static byte[] read(TensorSource src, TensorInfo t, long offset, int length) {
        byte[] b = new byte[length];
        src.bytes(t, offset, length).get(b);
        return b;
    }

    private static void requireNoNaN(byte[] codes, TensorInfo t, long base) {
        for (int k = 0; k < codes.length; k++) {
            if (E4M3.isNaN(codes[k])) {
                throw new FormatException(t.file(), t.name(), "element " + (base + k) + " is the E4M3 NaN code 0x"
                        + Integer.toHexString(codes[k] & 0xFF).toUpperCase(java.util.Locale.ROOT)
                        + "; expected finite codes (ModelOpt stores no NaN)");
            }
        }
    }

    private static void requireDType(TensorInfo t, DType expected, QuantAlgo algo) {
        if (t.dtype() != expected) {
            throw new FormatException(t.file(), t.name(), "expected " + expected + " for " + algo + ", found " + t.dtype());
        }
    }

    /** The value of an F32 scalar scale, validated: dtype F32, shape [], finite, not negative. */
    private static float scalar(TensorSource src, TensorInfo t) {
        if (t.dtype() != DType.F32 || t.rank() != 0) {
            throw new FormatException(t.file(), t.name(), "expected an F32 scalar (shape []), found " + t.dtype() + t.shapeString());
        }
        float v = src.bytes(t).order(ByteOrder.LITTLE_ENDIAN).getFloat(0);
        if (!Float.isFinite(v) || v < 0 || (v == 0 && Float.floatToRawIntBits(v) != 0)) {
            throw new FormatException(t.file(), t.name(), "expected a finite scale ≥ 0, found " + v);
        }
        return v;
    }
}
