package dev.manyone.elastic.runtime;

import java.util.ArrayList;
import java.util.List;

/**
 * Greedy generation with state carried between calls: the prompt in one call (prefill), then one token per call
 * (decode), never re-running the prefix. Stops at an eos id or after {@code maxNewTokens}.
 */
public final class Generator {
    private Generator() {
    }

    /** Generated ids and timings, prefill and decode separately. */
    public record Result(List<Long> ids, int promptTokens, double prefillSeconds, double decodeSeconds, boolean stoppedAtEos) {
        public double prefillTokensPerSecond() {
            return promptTokens / prefillSeconds;
        }

        /** Decode calls per second (the first generated token comes from the prefill call). */
        public double decodeTokensPerSecond() {
            return ids.size() <= 1 ? 0 : (ids.size() - 1) / decodeSeconds;
        }
    }

    public static Result greedy(OnnxDecoder decoder, long[] prompt, int maxNewTokens) {
        List<Integer> eos = decoder.contract().eosTokenIds();
        List<Long> out = new ArrayList<>();
        DecoderState state = decoder.initialState(1);
        long t0 = System.nanoTime();
        DecoderStep step = decoder.step(new long[][] {prompt}, state);
        state.close();
        state = step.state();
        long next = step.argmax(0, prompt.length - 1);
        long t1 = System.nanoTime();
        boolean atEos = false;
        try {
            while (out.size() < maxNewTokens) {
                out.add(next);
                if (eos.contains((int) next)) {
                    atEos = true;
                    break;
                }
                if (out.size() == maxNewTokens) {
                    break;
                }
                step = decoder.step(new long[][] {{next}}, state);
                state.close();
                state = step.state();
                next = step.argmax(0, 0);
            }
        } finally {
            state.close();
        }
        long t2 = System.nanoTime();
        return new Result(List.copyOf(out), prompt.length, (t1 - t0) / 1e9, (t2 - t1) / 1e9, atEos);
    }
}
