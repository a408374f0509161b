package dev.manyone.elastic.runtime;

import java.nio.FloatBuffer;

/**
 * The result of one decoder call: logits [batch, seq, vocab] (a view, valid until {@link #state()} is closed) and
 * the state to pass to the next call.
 */
public record DecoderStep(FloatBuffer logits, int batch, int seq, int vocab, DecoderState state) {

    /** The logits of sequence {@code b} at position {@code t}, copied. */
    public float[] logitsAt(int b, int t) {
        float[] out = new float[vocab];
        logits.get((int) (((long) b * seq + t) * vocab), out);
        return out;
    }

    /** argmax over the vocabulary at (b, t): greedy decoding. */
    public int argmax(int b, int t) {
        int base = (b * seq + t) * vocab;
        int best = 0;
        float bestValue = Float.NEGATIVE_INFINITY;
        for (int v = 0; v < vocab; v++) {
            float x = logits.get(base + v);
            if (x > bestValue) {
                bestValue = x;
                best = v;
            }
        }
        return best;
    }
}
