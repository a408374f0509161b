package dev.manyone.formats;

/**
 * Progress of a long operation, reported by library code and rendered by the CLI (a progress bar on a terminal,
 * nothing in CI logs). Implementations must be cheap and thread-safe; library code calls {@link #advance} often.
 */
public interface Progress {

    /** Starts a phase of {@code total} bytes. */
    void start(String phase, long total);

    /** Starts a phase of {@code total} countable units named by {@code unit} (plural, e.g. "passes"). */
    default void start(String phase, long total, String unit) {
        start(phase, total);
    }

    /** {@code units} more done in the current phase. */
    void advance(long units);

    /** The current phase is over. */
    void done();

    /** A Progress that ignores everything. */
    Progress NONE = new Progress() {
        @Override
        public void start(String phase, long total) {
        }

        @Override
        public void advance(long units) {
        }

        @Override
        public void done() {
        }
    };
}
