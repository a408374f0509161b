package dev.manyone.elastic.export;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.checkpoint.Checkpoint;
import dev.manyone.elastic.slice.SlicePlan;
import dev.manyone.elastic.slice.SlicedWeights;
import dev.manyone.elastic.slice.SpecFiles;
import dev.manyone.elastic.runtime.Evaluator;
import dev.manyone.elastic.runtime.OnnxDecoder;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.Progress;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * INT8/INT4 exports (MatMulNBits + GatherBlockQuantized) against three references:
 * <ul>
 *   <li>the fp32 export of the same weights quantized and dequantized by {@link BlockQuantizer}
 *       ({@link DequantizedWeights}; its arithmetic is checked by BlockQuantizerTest): with fp32 activations (accuracy_level 1) ONNX Runtime must compute the same
 *       logits within the golden tolerance, which checks the packing, nibble order, scale layout and zero point that
 *       its kernels read;</li>
 *   <li>the golden logits, bounded with a stated tolerance (the golden-parity pattern: full sequence and decode
 *       trace);</li>
 *   <li>ONNX Runtime's profile: every MatMulNBits runs with its weight prepacked (the profile lists a node's inputs;
 *       a prepacked B is released and no longer listed, while the fallback that dequantizes B on every call
 *       receives it as a uint8 input).</li>
 * </ul>
 */
class QuantizedExportTest {

    static ExportOptions options(ExportOptions.Weights w, int blockSize, int level, int lmHeadBits, int mambaProjBits) {
        return new ExportOptions(ExportOptions.Mamba.CONTRIB, w)
                .withQuantization(new ExportOptions.Quantization(blockSize, level, lmHeadBits, mambaProjBits));
    }

    static Path export(String model, ExportOptions options, Path out, boolean dequantizedReference) {
        Path dir = GoldenLogits.golden().resolve(model);
        try (Checkpoint cp = Checkpoint.open(dir)) {
            WeightSource w = dequantizedReference ? new DequantizedWeights(new CheckpointWeights(cp.tensors()), cp.model(), options)
                    : new CheckpointWeights(cp.tensors());
            ExportOptions o = dequantizedReference
                    ? new ExportOptions(options.mamba(), ExportOptions.Weights.FP32, false, options.attention()) : options;
            OnnxExporter.export(cp.model(), w, o, out, false, Map.of("manyone.test", "quant"), List.of(), "test", Progress.NONE);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    static float[][] logits(Path onnx, List<long[]> ids, int prefill) {
        try (OnnxDecoder d = OnnxDecoder.open(onnx, 0)) {
            return Evaluator.logits(d, ids, prefill);
        }
    }

    static double maxAbs(float[][] a, float[][] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[i].length; j++) {
                m = Math.max(m, Math.abs(a[i][j] - b[i][j]));
            }
        }
        return m;
    }

    /** int4 with fp32 activations computes exactly what the dequantized weights do, full sequence and decode trace. */
    @ParameterizedTest
    @CsvSource({"tiny-hybrid,CONTRIB,STANDARD,32", "tiny-hybrid,PORTABLE,GQA,16", "tiny-hybrid,CONTRIB,STANDARD,64",
        "tiny-hybrid,CONTRIB,STANDARD,256",
        "tiny-moe,CONTRIB,STANDARD,32", "tiny-latent-moe,PORTABLE,GQA,16"})
    void int4MatchesDequantizedWeights(String model, ExportOptions.Mamba mamba, ExportOptions.Attention attention,
                                       int blockSize, @TempDir Path tmp) {
        ExportOptions o = new ExportOptions(mamba, ExportOptions.Weights.INT4, false, attention)
                .withQuantization(new ExportOptions.Quantization(blockSize, 1, 4, 0));
        Path golden = GoldenLogits.golden().resolve(model).resolve("golden.safetensors");
        List<long[]> ids = GoldenLogits.inputIds(golden);
        int prefill = (int) GoldenLogits.read(golden, "decode.prefill_logits").shape()[1];
        Path q = export(model, o, tmp.resolve("q"), false);
        Path r = export(model, o, tmp.resolve("r"), true);
        double full = maxAbs(logits(q, ids, 0), logits(r, ids, 0));
        double traced = maxAbs(logits(q, ids, prefill), logits(r, ids, prefill));
        System.out.printf("%s int4 block %d %s %s vs dequantized weights: full %.3g, decode trace %.3g%n", model,
                blockSize, mamba, attention, full, traced);
        assertTrue(full < GoldenParityTest.TOLERANCE, "full sequence: " + full);
        assertTrue(traced < GoldenParityTest.TOLERANCE, "decode trace: " + traced);
    }

    /**
     * A golden child sliced straight from the parent into int4 ONNX: widths that are not multiples of the block
     * (hidden 54: padded blocks in MatMulNBits, a 27-byte GatherBlockQuantized row) still compute what the
     * dequantized child weights do.
     */
    @ParameterizedTest
    @CsvSource({"6B-style,32", "9B-style,16"})
    void slicedChildMatchesDequantizedWeights(String child, int blockSize, @TempDir Path tmp) throws IOException {
        ExportOptions o = options(ExportOptions.Weights.INT4, blockSize, 1, 4, 0);
        Path parentDir = GoldenLogits.golden().resolve("tiny-hybrid");
        Path rankings = parentDir.resolve("rankings.json");
        Path q = tmp.resolve("q");
        Path r = tmp.resolve("r");
        try (Checkpoint parent = Checkpoint.open(parentDir)) {
            SlicePlan plan = SlicePlan.of(parent.model(), SpecFiles.readSpec(rankings, child),
                    SpecFiles.rankingsIn(rankings, parent.model()).orElseThrow(), rankings);
            ModelDescription m = ModelDescription.of(plan.config());
            assertTrue(m.hidden() % blockSize != 0, "the child's hidden width " + m.hidden() + " should cut a block");
            OnnxExporter.export(m, new SlicedWeights(parent.tensors(), plan), o, q, false, Map.of(), List.of(), "test", Progress.NONE);
            OnnxExporter.export(m, new DequantizedWeights(new SlicedWeights(parent.tensors(), plan), m, o),
                    new ExportOptions(ExportOptions.Mamba.CONTRIB, ExportOptions.Weights.FP32), r, false, Map.of(), List.of(),
                    "test", Progress.NONE);
        }
        List<long[]> ids = GoldenLogits.inputIds(parentDir.resolve("golden.safetensors"));
        double d = maxAbs(logits(q, ids, 0), logits(r, ids, 0));
        System.out.printf("int4 child %s block %d vs dequantized weights: %.3g%n", child, blockSize, d);
        assertTrue(d < GoldenParityTest.TOLERANCE, child + ": " + d);
    }

    /**
     * Accuracy_level 4 with lm_head and embeddings at 8 bits (the defaults) against the golden logits: int8 at its
     * default block (0: 256), int4 at block 32, the block its bound was derived for. Stated tolerances: int8 1.0, below the 1.4 that the golden README measures for 2.5% random weight noise on these
     * models (int8 round-to-nearest moves a weight by at most 1/256 of its block's largest, 0.4%; the int8 activations
     * of accuracy_level 4 add as much again); int4 2.5 on the trained model (a weight moves by up to 1/16 of its
     * block's largest, 6%; tiny-hybrid's random weights are too sensitive for a useful int4 bound, see the golden
     * README, so int4 is held to the dequantized-weight parity above and to the KL targets of docs/quantization.md).
     * int4 at its default block 128 is held to the KL target only (QuantEvalTest): these models are 128 wide, so
     * block 128 is one scale per row, and the largest logit error measured is 2.53, above the 6% argument's 2.5.
     */
    @ParameterizedTest
    @CsvSource({"tiny-hybrid,INT8,0,1.0", "trained-hybrid,INT8,0,1.0", "trained-hybrid,INT4,32,2.5"})
    void defaultSettingsWithinBoundOfGolden(String model, ExportOptions.Weights weights, int blockSize, double tolerance,
                                            @TempDir Path tmp) {
        Path q = export(model, options(weights, blockSize, ExportOptions.Quantization.DEFAULT_ACCURACY_LEVEL, 8, 0),
                tmp.resolve("q"), false);
        Path golden = GoldenLogits.golden().resolve(model).resolve("golden.safetensors");
        List<long[]> ids = GoldenLogits.inputIds(golden);
        GoldenLogits.Tensor full = GoldenLogits.read(golden, "logits");
        int vocab = (int) full.shape()[2];
        int seq = (int) full.shape()[1];
        GoldenLogits.Tensor prefillLogits = GoldenLogits.read(golden, "decode.prefill_logits");
        int prefill = (int) prefillLogits.shape()[1];
        try (OnnxDecoder decoder = OnnxDecoder.open(q, 0)) {
            double d = GoldenLogits.maxAbsDiff(Evaluator.logits(decoder, ids, 0), 0, seq, full, vocab);
            float[][] traced = Evaluator.logits(decoder, ids, prefill);
            double worst = GoldenLogits.maxAbsDiff(traced, 0, prefill, prefillLogits, vocab);
            for (int k = 0; prefill + k < seq; k++) {
                worst = Math.max(worst, GoldenLogits.maxAbsDiff(traced, prefill + k, 1,
                        GoldenLogits.read(golden, "decode.step" + k + "_logits"), vocab));
            }
            System.out.printf("%s %s vs golden: full %.3g, decode trace %.3g (tolerance %.2g)%n", model, weights, d, worst, tolerance);
            assertTrue(d < tolerance, "full sequence: " + d);
            assertTrue(worst < tolerance, "decode trace: " + worst);
            assertTrue(d > GoldenParityTest.TOLERANCE, "the weights are quantized, so the logits must move: " + d);
        }
    }

    /** Every setting the options accept runs MatMulNBits with prepacked weights, and the embeddings stay quantized. */
    @ParameterizedTest
    @CsvSource({"INT8,32,4,8,0", "INT8,16,4,8,0", "INT8,256,4,8,0", "INT4,32,4,8,0", "INT4,32,4,8,8", "INT4,128,4,4,0",
        "INT4,32,1,4,0", "INT4,64,1,4,4"})
    void runsPackedKernels(ExportOptions.Weights w, int blockSize, int level, int lmHeadBits, int mambaProjBits,
                           @TempDir Path tmp) {
        Path q = export("tiny-hybrid", options(w, blockSize, level, lmHeadBits, mambaProjBits), tmp.resolve("q"), false);
        Profile p = profile(q, tmp.resolve("profile"), false);
        // tiny-hybrid: 4 Mamba layers × (in_proj, out_proj), 2 attention × (q, k, v, o), 4 MLP × (up, down), lm_head
        assertEquals(4 * 2 + 2 * 4 + 4 * 2 + 1, p.matMulNBits(), "MatMulNBits nodes run");
        assertEquals(0, p.gemms(), "Gemm nodes run (every linear layer is quantized)");
        assertEquals(List.of(), p.unpacked(), "MatMulNBits nodes given their uint8 weight (dequantized per call)");
        assertEquals(1, p.gatherBlockQuantized(), "GatherBlockQuantized nodes run");
        assertTrue(p.gatherReadsUint8(), "the embedding table stays packed (uint8) in the session");
    }

    /** The check sees the fallback: with prepacking off, every MatMulNBits node is handed its uint8 weight. */
    @Test
    void profileShowsUnpackedWeights(@TempDir Path tmp) {
        Path q = export("tiny-hybrid", new ExportOptions(ExportOptions.Mamba.CONTRIB, ExportOptions.Weights.INT8), tmp.resolve("q"), false);
        Profile p = profile(q, tmp.resolve("profile"), true);
        assertEquals(p.matMulNBits(), p.unpacked().size(), "unpacked MatMulNBits nodes: " + p.unpacked());
        assertTrue(p.matMulNBits() > 0);
    }

    /** What one profiled run shows: node counts and the MatMulNBits nodes that received B as an input. */
    record Profile(int matMulNBits, int gemms, int gatherBlockQuantized, List<String> unpacked, boolean gatherReadsUint8) {
    }

    /** Runs one decode step (batch 1, one token, empty state) with ONNX Runtime's profiler on and reads its events. */
    static Profile profile(Path onnx, Path prefix, boolean disablePrepacking) {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        Map<String, OnnxTensor> in = new HashMap<>();
        try (OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
            so.enableProfiling(prefix.toString());
            if (disablePrepacking) {
                so.addConfigEntry("session.disable_prepacking", "1");
            }
            so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            try (OrtSession s = env.createSession(onnx.resolve(OnnxExporter.ONNX_FILE).toString(), so)) {
                for (var e : s.getInputInfo().entrySet()) {
                    long[] shape = ((TensorInfo) e.getValue().getInfo()).getShape().clone();
                    for (int i = 0; i < shape.length; i++) {
                        if (shape[i] < 0) { // batch and seq 1, past_seq 0
                            shape[i] = i == 0 || e.getKey().equals(StateNames.INPUT_IDS) ? 1 : 0;
                        }
                    }
                    int count = 1;
                    for (long d : shape) {
                        count *= (int) d;
                    }
                    in.put(e.getKey(), e.getKey().equals(StateNames.INPUT_IDS)
                            ? OnnxTensor.createTensor(env, LongBuffer.wrap(new long[count]), shape)
                            : OnnxTensor.createTensor(env, FloatBuffer.wrap(new float[count]), shape));
                }
                s.run(in).close();
                String json = Files.readString(Path.of(s.endProfiling()));
                return parse(json);
            }
        } catch (OrtException | IOException e) {
            throw new IllegalStateException(e);
        } finally {
            in.values().forEach(OnnxTensor::close);
        }
    }

    /** Node events: "name":"<node>_kernel_time" … "args":{… "op_name":"<op>" … "input_type_shape":[{"float":[…]}, …]}. */
    static Profile parse(String json) {
        int nbits = 0;
        int gemm = 0;
        int gather = 0;
        List<String> unpacked = new ArrayList<>();
        boolean gatherReadsUint8 = false;
        Pattern opName = Pattern.compile("\"op_name\"\\s*:\\s*\"([A-Za-z]+)\"");
        Pattern name = Pattern.compile("\"name\"\\s*:\\s*\"([^\"]+)_kernel_time\"");
        Pattern inputs = Pattern.compile("\"input_type_shape\"\\s*:\\s*\\[((?:\\{[^{}]*\\}\\s*,?\\s*)*)\\]");
        for (String event : events(json)) {
            Matcher op = opName.matcher(event);
            Matcher nm = name.matcher(event);
            if (!op.find() || !nm.find()) {
                continue;
            }
            switch (op.group(1)) {
                case "MatMulNBits" -> {
                    nbits++;
                    Matcher ins = inputs.matcher(event);
                    assertTrue(ins.find(), "MatMulNBits event without input_type_shape: " + event);
                    if (ins.group(1).contains("\"uint8\"")) {
                        unpacked.add(nm.group(1));
                    }
                }
                case "Gemm" -> gemm++;
                case "GatherBlockQuantized" -> {
                    gather++;
                    Matcher ins = inputs.matcher(event);
                    gatherReadsUint8 = ins.find() && ins.group(1).contains("\"uint8\"");
                }
                default -> {
                }
            }
        }
        return new Profile(nbits, gemm, gather, unpacked, gatherReadsUint8);
    }

    /** The top-level objects of the profile's JSON array (one per event), by brace depth. */
    static List<String> events(String json) {
        List<String> out = new ArrayList<>();
        int depth = 0;
        int start = -1;
        boolean string = false;
        for (int i = 0; i < json.length(); i++) {
            char c = json.charAt(i);
            if (string) {
                if (c == '\\') {
                    i++;
                } else if (c == '"') {
                    string = false;
                }
            } else if (c == '"') {
                string = true;
            } else if (c == '{') {
                if (depth++ == 0) {
                    start = i;
                }
            } else if (c == '}' && --depth == 0) {
                out.add(json.substring(start, i + 1));
            }
        }
        return out;
    }

    /** The same export twice gives the same bytes. */
    @Test
    void deterministic(@TempDir Path tmp) throws IOException {
        ExportOptions o = options(ExportOptions.Weights.INT4, 32, 4, 8, 8);
        Path a = export("tiny-hybrid", o, tmp.resolve("a"), false);
        Path b = export("tiny-hybrid", o, tmp.resolve("b"), false);
        assertArrayEquals(Files.readAllBytes(a.resolve("model.onnx.data")), Files.readAllBytes(b.resolve("model.onnx.data")));
        assertArrayEquals(Files.readAllBytes(a.resolve(OnnxExporter.ONNX_FILE)), Files.readAllBytes(b.resolve(OnnxExporter.ONNX_FILE)));
    }

    /** Settings ONNX Runtime would not run packed are usage errors naming what was expected and found. */
    @Test
    void refusesUnsupportedSettings() {
        assertMessage("--block-size: expected 16, 32, 64, 128 or 256", "found 48",
                () -> options(ExportOptions.Weights.INT4, 48, 4, 8, 0));
        assertMessage("--block-size: expected 16, 32, 64, 128 or 256", "found 512",
                () -> options(ExportOptions.Weights.INT8, 512, 4, 8, 0));
        assertMessage("--accuracy-level: expected 4", "found 2", () -> options(ExportOptions.Weights.INT4, 32, 2, 8, 0));
        assertMessage("--accuracy-level 1 with 8-bit weights (--dtype int8", "dequantize",
                () -> options(ExportOptions.Weights.INT8, 32, 1, 8, 0));
        assertMessage("--accuracy-level 1 with 8-bit weights (--dtype int4, --lm-head-bits 8)", "--lm-head-bits 4",
                () -> options(ExportOptions.Weights.INT4, 32, 1, 8, 0));
        assertMessage("--lm-head-bits: expected 4 or 8", "found 2", () -> options(ExportOptions.Weights.INT4, 32, 4, 2, 0));
        assertMessage("--mamba-proj-bits: expected 4 or 8", "found 16", () -> options(ExportOptions.Weights.INT4, 32, 4, 8, 16));
        assertMessage("apply to --dtype int8 or int4", "found --dtype fp16",
                () -> options(ExportOptions.Weights.FP16, 32, 4, 8, 0));
        assertMessage("--dtype: expected fp32, fp16, int8 or int4", "found 'int2'", () -> ExportOptions.weights("int2"));
    }

    private static void assertMessage(String expected, String found, org.junit.jupiter.api.function.Executable call) {
        FormatException e = assertThrows(FormatException.class, call);
        assertTrue(e.getMessage().contains(expected) && e.getMessage().contains(found), e.getMessage());
    }
}
