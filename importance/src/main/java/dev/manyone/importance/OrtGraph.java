package dev.manyone.importance;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.export.DeploymentConfig;
import dev.manyone.elastic.export.ExportOptions;
import dev.manyone.elastic.export.NemotronHGraph;
import dev.manyone.elastic.export.StateNames;
import dev.manyone.formats.onnx.GraphBuilder;
import dev.manyone.formats.onnx.OnnxWriter;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;

/**
 * One graph written to a work directory and opened in ONNX Runtime (the only compute engine): every forward pass of
 * importance estimation goes through here. Feeds are created per call and closed after it; the requested outputs
 * are copied to float arrays. Closing ends the session and deletes the graph's files.
 */
final class OrtGraph implements AutoCloseable {
    private final OrtEnvironment env;
    private final OrtSession session;
    private final Path onnx;
    private final Path data;

    private OrtGraph(OrtEnvironment env, OrtSession session, Path onnx, Path data) {
        this.env = env;
        this.session = session;
        this.onnx = onnx;
        this.data = data;
    }

    /** Writes {@code g} as {@code dir/name.onnx} (+ data file) and opens it with {@code threads} intra-op threads (0: ORT's choice). */
    static OrtGraph open(GraphBuilder g, Path dir, String name, int threads) {
        Path file = dir.resolve(name + ".onnx");
        OnnxWriter.Result written;
        try {
            written = OnnxWriter.write(g, file, OnnxWriter.Options.defaults("manyone-importance"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) {
            opts.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            // short-lived sessions, one after the other: no arena or memory pattern kept beyond a run, so the
            // layer-streamed peak is one part's weights and one batch's activations
            opts.setCPUArenaAllocator(false);
            opts.setMemoryPatternOptimization(false);
            if (threads > 0) {
                opts.setIntraOpNumThreads(threads);
            }
            return new OrtGraph(env, env.createSession(file.toString(), opts), file, written.dataFile());
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime cannot load " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Runs one batch. {@code ids} ([batch][seq]) gives the batch shape and feeds {@code input_ids} when the graph has
     * it (a head part has not: then only its shape counts), {@code hidden}
     * ([batch, seq, H]) feeds {@code hidden_in}; every state input gets zeros (no past). Only the requested outputs
     * are produced; the caller copies them out one at a time ({@link Outputs#get}) and closes the result.
     */
    Outputs run(ModelDescription model, long[][] ids, float[] hidden, Collection<String> outputs) {
        int batch = ids.length;
        int seq = ids[0].length;
        Map<String, OnnxTensor> feed = new HashMap<>();
        try {
            java.util.Set<String> inputs = session.getInputNames();
            if (inputs.contains(StateNames.INPUT_IDS)) {
                LongBuffer flat = LongBuffer.allocate(batch * seq);
                for (long[] row : ids) {
                    flat.put(row);
                }
                flat.flip();
                feed.put(StateNames.INPUT_IDS, OnnxTensor.createTensor(env, flat, new long[] {batch, seq}));
            }
            if (inputs.contains(NemotronHGraph.HIDDEN_IN)) {
                feed.put(NemotronHGraph.HIDDEN_IN, OnnxTensor.createTensor(env, FloatBuffer.wrap(hidden),
                        new long[] {batch, seq, model.hidden()}));
            }
            for (DeploymentConfig.State s : DeploymentConfig.of(model, "x", ExportOptions.DEFAULT).states()) {
                if (inputs.contains(s.past())) {
                    long[] shape = s.shape(batch, 0);
                    long n = 1;
                    for (long d : shape) {
                        n *= d;
                    }
                    feed.put(s.past(), OnnxTensor.createTensor(env, FloatBuffer.allocate((int) n), shape));
                }
            }
            return new Outputs(session.run(feed, new LinkedHashSet<>(outputs)));
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime failed on " + onnx.getFileName() + ": " + e.getMessage(), e);
        } finally {
            feed.values().forEach(OnnxTensor::close);
        }
    }

    /** Runs one batch and copies out a single output. */
    /** Bytes of the graph's external data file (its weights), 0 if it has none. */
    long dataBytes() {
        try {
            return data != null && Files.exists(data) ? Files.size(data) : 0;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A metadata_props value of the model, or null. */
    String metadata(String key) {
        try {
            return session.getMetadata().getCustomMetadata().get(key);
        } catch (OrtException e) {
            throw new IllegalStateException(e);
        }
    }

    float[] runOne(ModelDescription model, long[][] ids, float[] hidden, String output) {
        try (Outputs o = run(model, ids, hidden, java.util.List.of(output))) {
            return o.get(output);
        }
    }

    /** The outputs of one run, in ONNX Runtime's memory until closed. */
    static final class Outputs implements AutoCloseable {
        private final OrtSession.Result result;

        private Outputs(OrtSession.Result result) {
            this.result = result;
        }

        /** A copy of output {@code name} as a float array. */
        float[] get(String name) {
            OnnxTensor t = (OnnxTensor) result.get(name).orElseThrow(() -> new IllegalStateException("graph has no output " + name));
            FloatBuffer b = t.getFloatBuffer();
            if (b.hasArray() && b.arrayOffset() == 0 && b.position() == 0 && b.array().length == b.remaining()) {
                return b.array();
            }
            float[] a = new float[b.remaining()];
            b.get(a);
            return a;
        }

        @Override
        public void close() {
            result.close();
        }
    }

    @Override
    public void close() {
        try {
            session.close();
        } catch (OrtException e) {
            throw new IllegalStateException(e);
        } finally {
            try {
                Files.deleteIfExists(onnx);
                if (data != null) {
                    Files.deleteIfExists(data);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }
}
