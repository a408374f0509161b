package dev.manyone.elastic;

import dev.manyone.formats.DType;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.TensorInfo;
import dev.manyone.formats.TensorSource;
import dev.manyone.formats.quant.QuantAlgo;
import dev.manyone.formats.quant.QuantSlice;
import dev.manyone.formats.quant.QuantizationConfig;
import dev.manyone.formats.quant.QuantizedLinear;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * How the logical tensors of a {@link ModelDescription} are stored: the one seam between the description (every
 * linear weight logically {@code X.weight [out, in]}) and a checkpoint that may store some of them quantized. Plain
 * checkpoints store every tensor as a floating-point tensor of the logical shape. A ModelOpt checkpoint (golden
 * README, "Quantized checkpoints (FP8, NVFP4)") stores each quantized linear module {@code X} as
 * <pre>
 * | tensor             | FP8                 | NVFP4                 |
 * | X.weight           | F8_E4M3 [out, in]   | U8 [out, in/2]        |
 * | X.weight_scale     | F32, shape []       | F8_E4M3 [out, in/16]  |
 * | X.weight_scale_2   | —                   | F32, shape []         |
 * | X.input_scale      | F32, shape []       | F32, shape []         |
 * </pre>
 * Which modules: every linear weight (a rank-2 {@code X.weight}; the embeddings are a lookup table, not a linear
 * layer) unless {@code quantization_config} excludes it: "The list names each module that is kept unquantized and
 * that a loader could otherwise treat as quantized … vLLM matches entries exactly, as substrings, or as fnmatch
 * wildcards." Norms, {@code A_log}, {@code D}, {@code dt_bias}, {@code conv1d} and the correction bias are never
 * quantized. Parameters count logical weights: "an NVFP4 byte holds 2 parameters and an FP8 byte 1. Scales are not
 * parameters."
 */
public final class WeightLayout {
    /** Every tensor stored as floating point in its logical shape. */
    public static final WeightLayout PLAIN = new WeightLayout(null);

    private final QuantizationConfig quant;
    private final List<Pattern> wildcards;

    private WeightLayout(QuantizationConfig quant) {
        this.quant = quant;
        List<Pattern> w = new ArrayList<>();
        if (quant != null) {
            for (String entry : quant.excludeModules()) {
                w.add(fnmatch(entry));
            }
        }
        this.wildcards = List.copyOf(w);
    }

    /** The layout of a checkpoint quantized as {@code quant}; {@link #PLAIN} when empty. */
    public static WeightLayout of(Optional<QuantizationConfig> quant) {
        return quant.map(WeightLayout::new).orElse(PLAIN);
    }

    /**
     * The layout {@code config}'s own {@code quantization_config} defines (config.json alone; a checkpoint directory
     * also checks hf_quant_config.json, see {@link QuantizationConfig#read}).
     */
    public static WeightLayout of(NemotronHConfig config) {
        Path file = config.source() != null ? config.source() : Path.of("config.json");
        return of(QuantizationConfig.fromConfig(file, config.json()));
    }

    /** The quantization, empty for a plain checkpoint. */
    public Optional<QuantizationConfig> quantization() {
        return Optional.ofNullable(quant);
    }

    /** FP8 or NVFP4, empty for a plain checkpoint. */
    public Optional<QuantAlgo> algo() {
        return quant == null ? Optional.empty() : Optional.of(quant.algo());
    }

    /** True if module {@code module} is in the exclude list (exactly, as a substring, or by an fnmatch wildcard). */
    public boolean excluded(String module) {
        if (quant == null) {
            return false;
        }
        for (int k = 0; k < wildcards.size(); k++) {
            String entry = quant.excludeModules().get(k);
            if (module.contains(entry) || wildcards.get(k).matcher(module).matches()) {
                return true;
            }
        }
        return false;
    }

    /** The module {@code X} of a linear weight {@code X.weight}, or null if {@code e} is not a linear weight. */
    public static String linearModule(ExpectedTensor e) {
        String name = e.name();
        if (e.shape().length != 2 || !name.endsWith(QuantizedLinear.WEIGHT) || name.equals(TensorNames.EMBEDDINGS)) {
            return null;
        }
        return name.substring(0, name.length() - QuantizedLinear.WEIGHT.length());
    }

    /** True if {@code e} is stored quantized: a linear weight of a quantized checkpoint, not excluded. */
    public boolean quantized(ExpectedTensor e) {
        String module = linearModule(e);
        return quant != null && module != null && !excluded(module);
    }

    /** The names {@code e} is stored under: {@code e}'s own, or for a quantized module its weight and scales. */
    public List<String> storedNames(ExpectedTensor e) {
        if (!quantized(e)) {
            return List.of(e.name());
        }
        String x = linearModule(e);
        List<String> names = new ArrayList<>(4);
        names.add(x + QuantizedLinear.WEIGHT);
        names.add(x + QuantizedLinear.WEIGHT_SCALE);
        if (quant.algo().hasSecondScale()) {
            names.add(x + QuantizedLinear.WEIGHT_SCALE_2);
        }
        names.add(x + QuantizedLinear.INPUT_SCALE);
        return names;
    }

    /**
     * How a child keeps logical tensor {@code e} of this layout: its logical selection (leading indices {@code rows},
     * for a matrix input columns {@code cols}; ascending, or null for all) as a selection of each tensor {@code e} is
     * stored under ({@link #storedNames}, in that order), in stored units. A plain tensor is its own selection. A
     * quantized module follows the golden README's "Slicing rules for quantized tensors" ({@link QuantSlice#plan}):
     * "what gets sliced is the stored bytes" — FP8 weight rows and columns; NVFP4 weight rows and whole 8-byte column
     * blocks, {@code weight_scale} the same rows and the block columns; {@code weight_scale} (FP8),
     * {@code weight_scale_2} and {@code input_scale} "copied unchanged".
     *
     * @param file named in errors (the parent)
     * @throws FormatException for NVFP4 columns that cut a 16-column block, naming the weight tensor and the columns
     */
    public List<QuantSlice.Stored> storedSlices(ExpectedTensor e, Path file, int[] rows, int[] cols) {
        long[] shape = e.shape();
        if (!quantized(e)) {
            if (rows != null) {
                shape[0] = rows.length;
            }
            if (cols != null) {
                shape[1] = cols.length;
            }
            return List.of(new QuantSlice.Stored(e.name(), shape, rows, cols));
        }
        return QuantSlice.plan(file, quant.algo(), linearModule(e), shape[0], shape[1], true, rows, cols);
    }

    /** The tensors {@code e} is stored as, whole: names as {@link #storedNames}, with their stored shapes. */
    public List<QuantSlice.Stored> stored(ExpectedTensor e) {
        return storedSlices(e, null, null, null);
    }

    /**
     * The quantized module of {@code e} in {@code src}, validated against the format table and {@code e}'s logical
     * shape.
     *
     * @throws FormatException naming the tensor, if {@code e} is not stored quantized or does not match
     */
    public QuantizedLinear linear(ExpectedTensor e, TensorSource src) {
        if (!quantized(e)) {
            throw new IllegalArgumentException(e.name() + " is not stored quantized");
        }
        QuantizedLinear q = QuantizedLinear.of(src, linearModule(e), quant.algo());
        long[] logical = {q.out(), q.in()};
        if (!e.hasShape(logical)) {
            throw new FormatException(q.weight().file(), q.weight().name(), "holds " + quant.algo() + " weights of logical shape "
                    + Arrays.toString(logical) + " (stored " + q.weight().shapeString() + "), expected " + e.shapeString()
                    + " (" + e.shapeDoc() + ")");
        }
        return q;
    }

    /** Every difference between how {@code src} stores {@code e} and this layout, one line each; appended to {@code out}. */
    public void problems(ExpectedTensor e, TensorSource src, List<String> out) {
        if (!quantized(e)) {
            plainProblems(e, src, out);
            return;
        }
        String x = linearModule(e);
        QuantAlgo algo = quant.algo();
        Optional<TensorInfo> w = src.find(e.name());
        if (w.isEmpty()) {
            out.add("missing tensor " + e.name() + " " + algo.weightDType() + " " + Arrays.toString(algo.weightShape(
                    e.shape()[0], e.shape()[1])) + " (" + algo + " weights of " + e.shapeString() + ", " + e.shapeDoc() + ")");
            return;
        }
        if (w.get().dtype().isFloatingPoint() && src.find(x + QuantizedLinear.WEIGHT_SCALE).isEmpty()) {
            out.add("tensor " + e.name() + " has dtype " + w.get().dtype() + ", expected " + algo.weightDType() + ": "
                    + "quantization_config (" + algo + ") quantizes module " + x + " (it is not in exclude_modules)");
            return;
        }
        long[] logical = e.shape();
        String scale = x + QuantizedLinear.WEIGHT_SCALE;
        if (src.find(scale).isEmpty()) {
            out.add("missing tensor " + scale + " " + algo.scaleDType() + " " + Arrays.toString(algo.scaleShape(logical[0],
                    logical[1])) + " (the " + algo + " weight scale of " + x + ")");
            return;
        }
        String scale2 = x + QuantizedLinear.WEIGHT_SCALE_2;
        if (algo.hasSecondScale() && src.find(scale2).isEmpty()) {
            out.add("missing tensor " + scale2 + " F32 [] (the NVFP4 second-level scale of " + x + ")");
            return;
        }
        try {
            QuantizedLinear q = linear(e, src);
            if (q.inputScale() == null) {
                out.add("missing tensor " + x + QuantizedLinear.INPUT_SCALE + " F32 [] (the " + algo
                        + " activation scale of " + x + ")");
            }
        } catch (FormatException ex) {
            out.add("tensor " + ex.tensor().orElse(e.name()) + ": " + ex.reason());
        }
    }

    private static void plainProblems(ExpectedTensor e, TensorSource src, List<String> out) {
        Optional<TensorInfo> found = src.find(e.name());
        if (found.isEmpty()) {
            out.add("missing tensor " + e.name() + " " + e.shapeString());
            return;
        }
        TensorInfo t = found.get();
        if (!e.hasShape(t.shape())) {
            out.add("tensor " + e.name() + " has shape " + Arrays.toString(t.shape()) + ", expected "
                    + e.shapeString() + " (" + e.shapeDoc() + ")");
        }
        if (!t.dtype().isFloatingPoint()) {
            out.add("tensor " + e.name() + " has dtype " + t.dtype()
                    + ", expected a floating-point type (F32, F16, BF16 or F64)");
        }
    }

    /** A hint for an unexpected stored tensor that looks like a quantization tensor, or "". */
    public String unexpectedHint(String name) {
        for (String suffix : List.of(QuantizedLinear.WEIGHT_SCALE_2, QuantizedLinear.WEIGHT_SCALE, QuantizedLinear.INPUT_SCALE)) {
            if (name.endsWith(suffix)) {
                String x = name.substring(0, name.length() - suffix.length());
                if (quant == null) {
                    return " (a quantization scale, but config.json has no quantization_config)";
                }
                if (excluded(x)) {
                    return " (module " + x + " is in quantization_config's exclude_modules, so it is stored unquantized)";
                }
                if (suffix.equals(QuantizedLinear.WEIGHT_SCALE_2) && !quant.algo().hasSecondScale()) {
                    return " (" + quant.algo() + " has no weight_scale_2; NVFP4 only)";
                }
            }
        }
        return "";
    }

    /**
     * KV-cache scales of a checkpoint whose {@code kv_cache_quant_algo} is set ({@code …k_proj.k_scale},
     * {@code …v_proj.v_scale}, F32 scalars): manyone's runtime keeps the KV cache in fp32, so they are read past,
     * as data.
     */
    public boolean isKvCacheScale(TensorInfo t) {
        return quant != null && quant.kvCacheQuantAlgo() != null && t.dtype() == DType.F32 && t.rank() == 0
                && (t.name().endsWith(".k_scale") || t.name().endsWith(".v_scale"));
    }

    /** Python's fnmatch.translate for {@code *}, {@code ?} and {@code [seq]} (whole-name match). */
    private static Pattern fnmatch(String glob) {
        StringBuilder re = new StringBuilder();
        for (int i = 0; i < glob.length(); i++) {
            char c = glob.charAt(i);
            switch (c) {
                case '*' -> re.append(".*");
                case '?' -> re.append('.');
                case '[' -> {
                    int close = glob.indexOf(']', i + 2);
                    if (close < 0) {
                        re.append("\\[");
                    } else {
                        String set = glob.substring(i + 1, close);
                        boolean negate = set.startsWith("!");
                        String body = (negate ? set.substring(1) : set).replace("\\", "\\\\").replace("[", "\\[")
                                .replace("&", "\\&");
                        re.append('[').append(negate ? "^" : "").append(body.startsWith("^") ? "\\" + body : body).append(']');
                        i = close;
                    }
                }
                default -> re.append(Pattern.quote(String.valueOf(c)));
            }
        }
        return Pattern.compile(re.toString(), Pattern.DOTALL);
    }

    @Override
    public String toString() {
        return quant == null ? "WeightLayout[plain]" : "WeightLayout[" + quant.algo() + ", " + quant.excludeModules().size()
                + " modules excluded]";
    }
}
