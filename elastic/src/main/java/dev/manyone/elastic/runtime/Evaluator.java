package dev.manyone.elastic.runtime;

import dev.manyone.formats.DType;
import dev.manyone.formats.SafetensorsWriter;
import dev.manyone.formats.TensorSpec;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Mean negative log-likelihood of token sequences: the logits at position t score token t+1. Sequences of equal
 * length are run as one batch. With {@code prefill} = N the first N tokens go in one call and the rest one token
 * per call with the state carried over, which exercises the decode path a deployment uses. Optionally writes the
 * F32 logits [batch, seq, vocab] to a safetensors file.
 */
public final class Evaluator {
    private Evaluator() {
    }

    public record Result(int sequences, long tokensScored, double meanNll) {
        public double perplexity() {
            return Math.exp(meanNll);
        }
    }

    public static Result evaluate(OnnxDecoder decoder, List<long[]> rows, int prefill, Path dumpLogits) throws IOException {
        int vocab = decoder.contract().vocab();
        int seq = rows.get(0).length;
        boolean sameLength = rows.stream().allMatch(r -> r.length == seq);
        if (dumpLogits != null && !sameLength) {
            throw new dev.manyone.formats.FormatException(dumpLogits,
                    "--dump-logits needs sequences of one length, to write [batch, seq, vocab]");
        }
        List<List<long[]>> batches = new ArrayList<>();
        if (sameLength) {
            batches.add(rows);
        } else {
            rows.forEach(r -> batches.add(List.of(r)));
        }
        SafetensorsWriter dump = dumpLogits == null ? null : SafetensorsWriter.create(dumpLogits,
                List.of(new TensorSpec("logits", DType.F32, new long[] {rows.size(), seq, vocab})), Map.of("format", "pt"));
        double nll = 0;
        long scored = 0;
        try {
            // the dump is [batch, seq, vocab] row-major: collect per sequence, write after the batch
            for (List<long[]> batch : batches) {
                float[][] logits = logits(decoder, batch, prefill);
                for (int b = 0; b < batch.size(); b++) {
                    long[] ids = batch.get(b);
                    for (int t = 0; t + 1 < ids.length; t++) {
                        nll += -logSoftmax(logits[b], t * vocab, vocab, (int) ids[t + 1]);
                        scored++;
                    }
                    if (dump != null) {
                        ByteBuffer bytes = ByteBuffer.allocate(logits[b].length * 4).order(ByteOrder.LITTLE_ENDIAN);
                        bytes.asFloatBuffer().put(logits[b]);
                        dump.write("logits", bytes);
                    }
                }
            }
            if (dump != null) {
                dump.finish();
            }
        } finally {
            if (dump != null) {
                dump.close();
            }
        }
        return new Result(rows.size(), scored, nll / scored);
    }

    /** Logits per sequence, flattened [seq, vocab]. */
    public static float[][] logits(OnnxDecoder decoder, List<long[]> batch, int prefill) {
        int n = batch.size();
        int seq = batch.get(0).length;
        int vocab = decoder.contract().vocab();
        float[][] out = new float[n][seq * vocab];
        int first = prefill <= 0 || prefill >= seq ? seq : prefill;
        DecoderState state = decoder.initialState(n);
        try {
            int t = 0;
            while (t < seq) {
                int len = t == 0 ? first : 1;
                long[][] ids = new long[n][len];
                for (int b = 0; b < n; b++) {
                    System.arraycopy(batch.get(b), t, ids[b], 0, len);
                }
                DecoderStep step = decoder.step(ids, state);
                state.close();
                state = step.state();
                for (int b = 0; b < n; b++) {
                    step.logits().get(b * len * vocab, out[b], t * vocab, len * vocab);
                }
                t += len;
            }
        } finally {
            state.close();
        }
        return out;
    }

    /** log softmax(x[off .. off+n))[target], computed stably in double. */
    static double logSoftmax(float[] x, int off, int n, int target) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, x[off + i]);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += Math.exp(x[off + i] - max);
        }
        return x[off + target] - max - Math.log(sum);
    }
}
