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
    private volatile String unit; // null: bytes
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
        start(phase, total, null);
    }

    @Override
    public void start(String phase, long total, String unit) {
        this.unit = unit;
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
        String u = unit;
        String amounts = u == null
                ? String.format("%s / %s  %s/s", Units.bytes(d), Units.bytes(total), Units.bytes((long) (d / seconds)))
                : String.format("%d / %d %s  %.2f %s/s", d, total, u, d / seconds, u);
        String eta = d <= 0 || d >= total ? "" : String.format("  ETA %s", duration((total - d) * seconds / d));
        String line = String.format("\r%-10s [%s%s] %3d%% %s%s ", phase, "#".repeat(filled), " ".repeat(width - filled),
                Math.round(frac * 100), amounts, eta);
        synchronized (err) {
            err.print(line);
            err.flush();
        }
    }

    private static String duration(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600 ? String.format("%dh%02dm", s / 3600, s / 60 % 60) : String.format("%dm%02ds", s / 60, s % 60);
    }
}
