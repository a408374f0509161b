package dev.manyone.elastic.generate;

import dev.manyone.elastic.ExpectedTensor;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.elastic.NemotronHConfig;
import dev.manyone.elastic.TensorNames;
import dev.manyone.formats.AtomicDirectory;
import dev.manyone.formats.CheckpointWriter;

import dev.manyone.formats.DType;
import dev.manyone.formats.Precision;
import dev.manyone.formats.Progress;
import dev.manyone.formats.TensorSpec;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Writes a Nemotron-H checkpoint with random BF16 weights for a config: config.json, safetensors shards (+ index)
 * in the canonical tensor order, and a generation_config.json side file. Deterministic: the same config, seed and
 * shard size give the same bytes, whatever the number of threads. Memory is bounded by a few chunks in flight.
 *
 * <p>Random-weight models are for exactness tests and benchmarks; quality is measured on trained weights.
 */
public final class ModelGenerator {
    /** The Hugging Face default shard size ("5GB"). */
    public static final long DEFAULT_SHARD_BYTES = 5_000_000_000L;
    static final int CHUNK_ELEMENTS = 1 << 22; // 8 MiB of BF16 per chunk

    private final NemotronHConfig config;
    private final long seed;
    private final long maxShardBytes;
    private final int threads;

    public ModelGenerator(NemotronHConfig config, long seed, long maxShardBytes, int threads) {
        this.config = config;
        this.seed = seed;
        this.maxShardBytes = maxShardBytes;
        this.threads = Math.max(1, threads);
    }

    /** Writes the checkpoint to {@code target} atomically (nothing at {@code target} until it is complete). */
    public void write(Path target, boolean overwrite, Progress progress) throws IOException {
        ModelDescription model = ModelDescription.of(config);
        List<ExpectedTensor> tensors = model.expectedTensors();
        List<TensorSpec> plan = new ArrayList<>();
        long total = 0;
        for (ExpectedTensor t : tensors) {
            TensorSpec spec = new TensorSpec(t.name(), TensorNames.alwaysF32(t.name()) ? DType.F32 : DType.BF16,
                    t.shape());
            plan.add(spec);
            total += spec.byteSize();
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("format", "pt");
        metadata.put("generated_by", "manyone generate");
        metadata.put("seed", Long.toString(seed));

        ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "manyone-generate");
            t.setDaemon(true);
            return t;
        });
        try (AtomicDirectory out = AtomicDirectory.create(target, overwrite)) {
            config.write(out.path().resolve("config.json"));
            Files.writeString(out.path().resolve("generation_config.json"), generationConfig(), StandardCharsets.UTF_8);
            progress.start("generate", total);
            try (CheckpointWriter writer = CheckpointWriter.create(out.path(), plan, metadata, maxShardBytes)) {
                for (ExpectedTensor t : tensors) {
                    writeTensor(writer, t, WeightInit.forTensor(t, model), pool, progress);
                }
                writer.finish();
            }
            progress.done();
            out.commit();
        } finally {
            pool.shutdownNow();
        }
    }

    private void writeTensor(CheckpointWriter writer, ExpectedTensor t, WeightInit init, ExecutorService pool,
                             Progress progress) throws IOException {
        long elements = 1;
        for (long d : t.shape()) {
            elements = Math.multiplyExact(elements, d);
        }
        long tensorSeed = mix(seed ^ mix(stableHash(t.name())));
        ArrayDeque<Future<ByteBuffer>> inFlight = new ArrayDeque<>();
        for (long first = 0; first < elements; first += CHUNK_ELEMENTS) {
            long from = first;
            int count = (int) Math.min(CHUNK_ELEMENTS, elements - first);
            long chunkSeed = mix(tensorSeed + from / CHUNK_ELEMENTS);
            boolean f32 = TensorNames.alwaysF32(t.name());
            inFlight.add(pool.submit(() -> chunk(init, chunkSeed, from, count, f32)));
            if (inFlight.size() > threads + 1) {
                drainOne(writer, t.name(), inFlight, progress);
            }
        }
        while (!inFlight.isEmpty()) {
            drainOne(writer, t.name(), inFlight, progress);
        }
    }

    private static void drainOne(CheckpointWriter writer, String name, ArrayDeque<Future<ByteBuffer>> inFlight,
                                 Progress progress) throws IOException {
        ByteBuffer bytes;
        try {
            bytes = inFlight.removeFirst().get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while generating " + name, e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("generating " + name + " failed", e.getCause());
        }
        int n = bytes.remaining();
        writer.write(name, bytes);
        progress.advance(n);
    }

    /** BF16 (or, for the tensors kept in F32, F32) bytes of elements [first, first + count). */
    private static ByteBuffer chunk(WeightInit init, long chunkSeed, long first, int count, boolean f32) {
        float[] values = new float[count];
        init.fill(new SplittableRandom(chunkSeed), first, values, count);
        ByteBuffer out = ByteBuffer.allocate(count * (f32 ? 4 : 2)).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            if (f32) {
                out.putFloat(v);
            } else {
                out.putShort(Precision.floatToBf16(v));
            }
        }
        return out.flip();
    }

    private String generationConfig() {
        List<Integer> eos = config.eosTokenIds();
        String eosJson = eos.size() == 1 ? eos.get(0).toString() : eos.toString().replace(" ", "");
        return "{\n  \"_from_model_config\": true,\n  \"eos_token_id\": " + eosJson + "\n}\n";
    }

    /** String.hashCode is specified by the JLS, so it is stable across JVMs; spread it to 64 bits. */
    private static long stableHash(String s) {
        long h = 1125899906842597L;
        for (int i = 0; i < s.length(); i++) {
            h = 31 * h + s.charAt(i);
        }
        return h;
    }

    /** SplitMix64 finaliser. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }
}
