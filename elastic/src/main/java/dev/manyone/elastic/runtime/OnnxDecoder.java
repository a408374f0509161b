package dev.manyone.elastic.runtime;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.manyone.elastic.export.DeploymentConfig;
import dev.manyone.elastic.export.StateNames;
import dev.manyone.formats.FormatException;

import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An exported Nemotron-H model in ONNX Runtime: one session, all graph optimizations, state carried between calls
 * (never re-running the prefix). Reads the deployment contract ({@code genai_config.json}) to know the state
 * tensors and their shapes.
 */
public final class OnnxDecoder implements AutoCloseable {
    private final OrtEnvironment env;
    private final OrtSession session;
    private final DeploymentConfig contract;
    private final Path dir;

    private OnnxDecoder(Path dir, OrtEnvironment env, OrtSession session, DeploymentConfig contract) {
        this.dir = dir;
        this.env = env;
        this.session = session;
        this.contract = contract;
    }

    /**
     * Opens {@code dir} (an export of {@code manyone export}); {@code threads} 0 lets ONNX Runtime choose. fp16 exports
     * fold their weight casts at session creation (fp32 speed; the session then holds fp32 weights) unless
     * {@code -Dmanyone.fp16=cast}.
     */
    public static OnnxDecoder open(Path dir, int threads) {
        return open(dir, threads, !"cast".equals(System.getProperty("manyone.fp16")));
    }

    /**
     * As {@link #open(Path, int)}; {@code foldFp16} false keeps an fp16 export's casts per call (a quick load that
     * holds only the fp16 file, for checking that a model loads; slow to run).
     */
    public static OnnxDecoder open(Path dir, int threads, boolean foldFp16) {
        if (!Files.isDirectory(dir)) {
            throw new FormatException(dir, "expected an exported model directory (model.onnx + genai_config.json)");
        }
        DeploymentConfig contract = DeploymentConfig.read(dir);
        Path onnx = dir.resolve(contract.onnxFile());
        if (!Files.isRegularFile(onnx)) {
            throw new FormatException(onnx, "model file named by genai_config.json is missing");
        }
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) {
            if ("fp16".equals(contract.weights())) {
                // fp16 weights are Cast to fp32 in the graph. Folded (the default), the session holds fp32 copies and
                // runs at fp32 speed; measured on a 1.09B model (docs/quantization.md) per-call casts decode at 0.35x
                // with 2.2x the peak RSS. ORT 1.29 asserts in its layout (ALL) level when a Cast stays unfolded (off,
                // or over its 1 GiB folding limit, as a 131072-row lm_head), so fp16 stops at EXTENDED.
                opts.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.EXTENDED_OPT);
                if (!foldFp16) {
                    opts.addConfigEntry("optimization.disable_specified_optimizers", "ConstantFolding");
                }
            } else {
                opts.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            }
            if (threads > 0) {
                opts.setIntraOpNumThreads(threads);
            }
            // measurement only: ONNX Runtime session config entries, and its JSON profile (written when closed)
            String extra = System.getProperty("manyone.ort.config");
            if (extra != null && !extra.isBlank()) {
                for (String kv : extra.split(";")) {
                    String[] p = kv.split("=", 2);
                    if (p.length != 2 || p[0].isBlank()) {
                        throw new FormatException(null, "-Dmanyone.ort.config: expected KEY=VALUE;KEY=VALUE (ONNX Runtime "
                                + "session config entries), found '" + extra + "'");
                    }
                    opts.addConfigEntry(p[0].strip(), p[1].strip());
                }
            }
            String profile = System.getProperty("manyone.profile");
            if (profile != null && !profile.isBlank()) {
                opts.enableProfiling(profile);
            }
            OrtSession session = env.createSession(onnx.toString(), opts);
            checkContract(onnx, session, contract);
            return new OnnxDecoder(dir, env, session, contract);
        } catch (OrtException e) {
            throw new FormatException(onnx, null, "ONNX Runtime cannot load the model: " + e.getMessage(), e);
        }
    }

    private static void checkContract(Path onnx, OrtSession session, DeploymentConfig contract) throws OrtException {
        Set<String> inputs = session.getInputNames();
        List<String> missing = new ArrayList<>();
        if (!inputs.contains(StateNames.INPUT_IDS)) {
            missing.add(StateNames.INPUT_IDS);
        }
        for (DeploymentConfig.State s : contract.states()) {
            if (!inputs.contains(s.past())) {
                missing.add(s.past());
            }
        }
        if (!missing.isEmpty() || inputs.size() != contract.states().size() + 1) {
            throw new FormatException(onnx, "graph inputs " + inputs + " do not match genai_config.json (missing " + missing + ")");
        }
    }

    public DeploymentConfig contract() {
        return contract;
    }

    public Path dir() {
        return dir;
    }

    /** Zero state for {@code batch} sequences: empty KV caches, zero conv and SSM states. */
    public DecoderState initialState(int batch) {
        Map<String, OnnxTensor> map = new LinkedHashMap<>();
        List<OnnxTensor> created = new ArrayList<>();
        try {
            for (DeploymentConfig.State s : contract.states()) {
                long[] shape = s.shape(batch, 0);
                long n = 1;
                for (long d : shape) {
                    n *= d;
                }
                OnnxTensor t = OnnxTensor.createTensor(env, FloatBuffer.allocate((int) n), shape);
                created.add(t);
                map.put(s.past(), t);
            }
        } catch (OrtException e) {
            created.forEach(OnnxTensor::close);
            throw new IllegalStateException("cannot allocate the initial state", e);
        }
        return new DecoderState(map, 0, batch, null, created);
    }

    /**
     * Runs {@code ids} ([batch][seq], the same length in every row) after {@code state}. The returned step owns the
     * new state; the caller closes the old one when it no longer needs the old logits.
     */
    public DecoderStep step(long[][] ids, DecoderState state) {
        int batch = ids.length;
        int seq = ids[0].length;
        if (batch != state.batch()) {
            throw new IllegalArgumentException("batch " + batch + " does not match the state's batch " + state.batch());
        }
        LongBuffer flat = LongBuffer.allocate(batch * seq);
        for (long[] row : ids) {
            if (row.length != seq) {
                throw new IllegalArgumentException("every sequence in a batch must have the same length");
            }
            flat.put(row);
        }
        flat.flip();
        try (OnnxTensor input = OnnxTensor.createTensor(env, flat, new long[] {batch, seq})) {
            Map<String, OnnxTensor> feed = new HashMap<>(state.tensors());
            feed.put(StateNames.INPUT_IDS, input);
            OrtSession.Result result = session.run(feed);
            Map<String, OnnxTensor> next = new LinkedHashMap<>();
            for (DeploymentConfig.State s : contract.states()) {
                next.put(s.past(), (OnnxTensor) result.get(s.present()).orElseThrow(
                        () -> new IllegalStateException("model did not return " + s.present())));
            }
            OnnxValue logits = result.get(StateNames.LOGITS).orElseThrow();
            FloatBuffer buf = ((OnnxTensor) logits).getFloatBuffer();
            DecoderState after = new DecoderState(next, state.pastSeq() + seq, batch, result, List.of());
            return new DecoderStep(buf, batch, seq, contract.vocab(), after);
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime failed: " + e.getMessage(), e);
        }
    }

    /** A metadata_props value of the model (e.g. {@code NemotronHGraph.DECODE_BYTES_KEY}), or null. */
    public String metadata(String key) {
        try {
            return session.getMetadata().getCustomMetadata().get(key);
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime failed: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        try {
            try {
                String profile = System.getProperty("manyone.profile");
                if (profile != null && !profile.isBlank()) {
                    System.err.println("ONNX Runtime profile: " + session.endProfiling());
                }
            } finally {
                session.close();
            }
        } catch (OrtException e) {
            throw new IllegalStateException(e);
        }
    }
}
