package dev.manyone.elastic.slice;

import dev.manyone.elastic.checkpoint.NonFinite;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.TensorInfo;

/**
 * Refuses NaN and ±Inf in what a child keeps, checked on the bytes as they are gathered (no extra pass over the
 * parent): the values of each child tensor are counted on their way to the writer, and when a tensor is complete
 * any NaN or Inf among them fails the extraction (the output is never committed). Values the child drops are not
 * looked at; {@code manyone inspect} reports every tensor of a checkpoint.
 */
public final class FiniteCheck {
    private final String child;
    private final long[] counts = new long[3];

    /** @param child the child's name for the message (e.g. "9B-style"), or null for a single unnamed child */
    public FiniteCheck(String child) {
        this.child = child;
    }

    /**
     * A sink that counts the values of {@code src}'s dtype in every chunk, then passes the chunk on. F8_E4M3 codes
     * (FP8 weights, NVFP4 block scales) count 0x7F and 0xFF as NaN; tensors whose values cannot be NaN or infinite
     * (NVFP4's packed U8 E2M1 codes, integers) pass through uncounted ({@link NonFinite#scanned}).
     */
    SliceCopier.Sink wrap(TensorInfo src, SliceCopier.Sink next) {
        if (!NonFinite.scanned(src.dtype())) {
            return next;
        }
        return chunk -> {
            NonFinite.count(chunk, src.dtype(), counts);
            next.write(chunk);
        };
    }

    /** Ends one tensor: throws if it had any NaN or Inf, else resets the counts. */
    void endTensor(TensorInfo src) {
        long nan = counts[0];
        long inf = counts[1] + counts[2];
        counts[0] = counts[1] = counts[2] = 0;
        if (nan + inf > 0) {
            throw new FormatException(src.file(), src.name(), nan + " NaN and " + inf + " Inf values in what "
                    + (child == null ? "the child" : "child '" + child + "'") + " keeps of this tensor; expected finite weights "
                    + "(pass --allow-nonfinite to extract anyway)");
        }
    }
}
