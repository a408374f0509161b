package dev.manyone.formats;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.ArrayDeque;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Appends bytes to a file from a thread of its own, so that the copy into the page cache (the dearest step of a
 * buffered write: on a 2-core build agent it costs as much CPU as reading and slicing together) overlaps the caller's
 * reads and gathers. Bytes are copied into one of {@link #BUFFERS} direct buffers of {@code bufferBytes}; a full
 * buffer is handed to the thread and written at the channel's position, in order, while the caller fills the next
 * one. The caller blocks only when every buffer is in flight.
 * <p>
 * A write that fails fails the next call on the caller's side with the same {@link IOException} (so a "File too
 * large" or "No space left on device" reaches the user unchanged). {@link #drain()} waits until every byte handed
 * over is in the file (before the caller touches the channel itself, e.g. {@code transferTo}, {@code force}).
 * {@link #close()} stops the thread (it does not close the channel, which the caller owns). Not thread-safe: one
 * caller thread.
 * <p>
 * With an {@code alignment} (a channel opened for direct I/O, {@link OutputFiles}), buffers are aligned and only
 * whole buffers are written until {@link #finish()}, which writes the last one zero-padded to the alignment and
 * truncates the file to the bytes actually written; {@link #drain()} then leaves a partly filled buffer pending, so
 * the channel must not be written directly in between.
 */
public final class BackgroundWriter implements java.nio.channels.WritableByteChannel {
    /** Buffers per writer: one being filled, the others queued or being written. */
    static final int BUFFERS = 3;

    private final FileChannel channel;
    private final int alignment;
    private final ExecutorService thread;
    private final ArrayDeque<ByteBuffer> free = new ArrayDeque<>();
    private final ArrayDeque<Pending> inFlight = new ArrayDeque<>();
    private ByteBuffer current;
    private long count; // bytes accepted
    private boolean closed;

    private record Pending(ByteBuffer buffer, Future<?> done) {
    }

    /** A buffered writer (the channel is an ordinary one). */
    public BackgroundWriter(FileChannel channel, int bufferBytes, String name) {
        this(channel, bufferBytes, name, 0);
    }

    /**
     * @param alignment 0, or the direct I/O block size of {@code channel} (a power of two that divides
     *                  {@code bufferBytes}); the channel must be at position 0
     */
    public BackgroundWriter(FileChannel channel, int bufferBytes, String name, int alignment) {
        if (alignment < 0 || (alignment > 0 && (Integer.bitCount(alignment) != 1 || bufferBytes % alignment != 0))) {
            throw new IllegalArgumentException("alignment " + alignment + " for buffers of " + bufferBytes + " bytes");
        }
        this.channel = channel;
        this.alignment = alignment;
        for (int i = 0; i < BUFFERS; i++) {
            free.add(alignment == 0 ? ByteBuffer.allocateDirect(bufferBytes)
                    : ByteBuffer.allocateDirect(bufferBytes + alignment).alignedSlice(alignment).limit(bufferBytes));
        }
        this.thread = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "manyone-writer " + name);
            t.setDaemon(true);
            return t;
        });
    }

    /** Copies {@code src}'s remaining bytes (consumed) to the end of what was handed over so far; returns their count. */
    @Override
    public int write(ByteBuffer src) throws IOException {
        check();
        int total = src.remaining();
        count += total;
        while (src.hasRemaining()) {
            if (current == null) {
                current = takeFree();
            }
            int n = Math.min(current.remaining(), src.remaining());
            current.put(current.position(), src, src.position(), n);
            current.position(current.position() + n);
            src.position(src.position() + n);
            if (!current.hasRemaining()) {
                handOver();
            }
        }
        return total;
    }

    /** Open until {@link #finish()}, {@link #close()} or a failed write. */
    @Override
    public boolean isOpen() {
        return !closed;
    }

    /** Bytes accepted so far. */
    public long count() {
        return count;
    }

    /**
     * Waits until every byte handed over so far is written to the channel; rethrows a failed write. Buffered: a
     * partly filled buffer is written too. Aligned: it stays pending until more bytes fill it or {@link #finish()}.
     */
    public void drain() throws IOException {
        check();
        if (alignment == 0 && current != null && current.position() > 0) {
            handOver();
        }
        while (!inFlight.isEmpty()) {
            free.add(await(inFlight.poll()));
        }
    }

    /**
     * Writes everything, the last block zero-padded to the alignment and the file then truncated to
     * {@link #count()} bytes; returns the count. Only {@link #close()} may follow.
     */
    public long finish() throws IOException {
        check();
        if (current != null && current.position() > 0) {
            int used = current.position();
            int padded = alignment == 0 ? used : (used + alignment - 1) / alignment * alignment;
            while (current.position() < padded) {
                current.put((byte) 0);
            }
            handOver();
        }
        drain();
        if (alignment != 0 && channel.size() != count) {
            channel.truncate(count);
        }
        closed = true;
        thread.shutdown();
        return count;
    }

    private void handOver() {
        ByteBuffer b = current.flip();
        current = null;
        inFlight.add(new Pending(b, thread.submit(() -> {
            while (b.hasRemaining()) {
                channel.write(b);
            }
            return null;
        })));
    }

    private ByteBuffer takeFree() throws IOException {
        if (free.isEmpty()) {
            free.add(await(inFlight.poll()));
        }
        ByteBuffer b = free.poll().clear();
        return alignment == 0 ? b : b.limit(b.capacity() - b.capacity() % alignment);
    }

    private ByteBuffer await(Pending p) throws IOException {
        try {
            p.done().get();
            return p.buffer();
        } catch (ExecutionException e) {
            closed = true;
            thread.shutdownNow();
            Throwable cause = e.getCause();
            if (cause instanceof IOException io) {
                throw io;
            }
            if (cause instanceof UncheckedIOException u) {
                throw u.getCause();
            }
            if (cause instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException(cause);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while writing");
        }
    }

    private void check() {
        if (closed) {
            throw new IllegalStateException("background writer is closed");
        }
    }

    /**
     * Stops the thread and waits for it; bytes not drained are dropped (the caller is abandoning the file; a write
     * interrupted mid-way closes the channel, as FileChannel does on interrupt). Idempotent.
     */
    @Override
    public void close() {
        closed = true;
        inFlight.clear();
        current = null;
        thread.shutdownNow();
        try {
            thread.awaitTermination(1, java.util.concurrent.TimeUnit.MINUTES);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
