package dev.manyone.elastic.slice;

import dev.manyone.elastic.checkpoint.TensorReader;
import dev.manyone.formats.TensorInfo;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Reads a tensor's blocks (known up front: the blocks that hold a kept row) on a read-ahead thread, up to
 * {@link #DEPTH} blocks ahead of the caller, so that the disk works while the caller gathers the previous block. The
 * block buffers belong to the caller ({@link TensorReader#blockBuffer}) and are reused from tensor to tensor; a view
 * returned by {@link #next()} is valid until the following call. {@link #close()} waits for reads still running,
 * so the buffers are free again when it returns.
 */
final class ReadAhead implements AutoCloseable {
    /** Blocks in flight or ready; the caller's buffer ring has this many buffers. */
    static final int DEPTH = 3;

    private static final ExecutorService THREAD = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "manyone-read-ahead");
        t.setDaemon(true);
        return t;
    });

    /** One block: bytes [offset, offset + length) of the tensor. */
    record Block(long offset, int length) {
    }

    private final TensorReader reader;
    private final TensorInfo tensor;
    private final List<Block> blocks;
    private final ByteBuffer[] buffers;
    private final ArrayDeque<Future<ByteBuffer>> pending = new ArrayDeque<>();
    private int submitted;
    private int taken;

    ReadAhead(TensorReader reader, TensorInfo tensor, List<Block> blocks, ByteBuffer[] buffers) {
        this.reader = reader;
        this.tensor = tensor;
        this.blocks = blocks;
        this.buffers = buffers;
        while (submitted < blocks.size() && submitted < buffers.length - 1) {
            submit();
        }
    }

    private void submit() {
        Block b = blocks.get(submitted);
        ByteBuffer buffer = buffers[submitted % buffers.length];
        pending.add(THREAD.submit(() -> reader.readBlock(tensor, b.offset(), b.length(), buffer)));
        submitted++;
    }

    /** The next block's bytes, little-endian, position 0. */
    ByteBuffer next() throws IOException {
        if (taken >= blocks.size()) {
            throw new IllegalStateException("all " + blocks.size() + " blocks of " + tensor.name() + " were taken");
        }
        // the buffer of the block taken before this one is free now: read one more ahead into it
        if (submitted < blocks.size()) {
            submit();
        }
        taken++;
        try {
            return pending.poll().get();
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof IOException io) {
                throw io;
            }
            if (c instanceof UncheckedIOException u) {
                throw u.getCause();
            }
            if (c instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException(c);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while reading " + tensor.name());
        }
    }

    @Override
    public void close() {
        boolean interrupted = false;
        for (Future<ByteBuffer> f : pending) {
            while (true) {
                try {
                    f.get();
                    break;
                } catch (ExecutionException e) {
                    break; // the caller is abandoning this tensor; its own error is the one to report
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        pending.clear();
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
