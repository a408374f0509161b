package dev.manyone.cli;

import dev.manyone.formats.Progress;

import java.io.PrintWriter;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A one-line progress bar on stderr: phase, bar, percent, bytes, rate. Drawn only on an interactive terminal
 * (never in CI logs or with --json), at most five times a second.
 */
final class ConsoleProgress implements Progress {
    private final PrintWriter err;
    private final AtomicLong done = new AtomicLong();
    private volatile String phase = "";
    private volatile long total;
    private volatile long started;
    private volatile long lastDraw;

    private ConsoleProgress(PrintWriter err) {
        this.err = err;
    }

    /** A bar on a terminal, nothing otherwise. */
    static Progress forTerminal(PrintWriter err, boolean quiet) {
        return quiet || System.console() == null ? Progress.NONE : new ConsoleProgress(err);
    }

    @Override
    public void start(String phase, long total) {
        this.phase = phase;
        this.total = total;
        this.done.set(0);
        this.started = System.nanoTime();
        draw(true);
    }

    @Override
    public void advance(long units) {
        done.addAndGet(units);
        draw(false);
    }

    @Override
    public void done() {
        draw(true);
        synchronized (err) {
            err.println();
            err.flush();
        }
    }

    private void draw(boolean force) {
        long now = System.nanoTime();
        if (!force && now - lastDraw < 200_000_000L) {
            return;
        }
        lastDraw = now;
        long d = done.get();
        double frac = total <= 0 ? 1 : Math.min(1, (double) d / total);
        int width = 30;
        int filled = (int) Math.round(frac * width);
        double seconds = Math.max(1e-9, (now - started) / 1e9);
        String line = String.format("\r%-10s [%s%s] %3d%% %s / %s  %s/s ", phase, "#".repeat(filled),
                " ".repeat(width - filled), Math.round(frac * 100), Units.bytes(d), Units.bytes(total),
                Units.bytes((long) (d / seconds)));
        synchronized (err) {
            err.print(line);
            err.flush();
        }
    }
}
