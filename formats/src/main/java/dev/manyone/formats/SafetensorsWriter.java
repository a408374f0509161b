package dev.manyone.formats;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes one safetensors file whose layout is fixed up front by a plan. The header is written at once:
 * <pre>
 *   u64 LE N | {"__metadata__":{..sorted keys..},"name":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,12]},..} | spaces
 * </pre>
 * compact JSON, {@code __metadata__} first (only if non-empty), tensors in plan order with data laid out in plan
 * order, padded with spaces so that 8 + N is a multiple of 8 ("the header may be padded with whitespace", safetensors
 * spec; the Rust writer aligns to 8). Tensor bytes then arrive in plan order through {@link #write} or
 * {@link #transferFrom}. The file is built as {@code .<name>.partial-<random>} beside the target and renamed over
 * it by {@link #finish()}; {@link #close()} without finish deletes it. Same plan and bytes give identical files.
 * Misuse (writing out of order, too many bytes, finishing early) is an IllegalStateException. Tensor bytes are
 * written to the file by a {@link BackgroundWriter} while the caller prepares the next ones. Not thread-safe.
 */
public final class SafetensorsWriter implements AutoCloseable {
    private static final int BUFFER_BYTES = 8 << 20;

    private final Path target;
    private final Path temp;
    private final List<TensorSpec> plan;
    private final long[] sizes;
    private final Map<String, Integer> indexOf = new HashMap<>();
    private final long[] written;
    private final long expectedFileSize;
    private FileChannel channel;
    private BackgroundWriter out;
    private boolean direct; // the channel does direct I/O: every byte goes through the background writer
    private int cursor; // first tensor not completely written
    private boolean finished;
    private boolean closed;

    private SafetensorsWriter(Path target, Path temp, List<TensorSpec> plan, long[] sizes, long expectedFileSize) {
        this.target = target;
        this.temp = temp;
        this.plan = plan;
        this.sizes = sizes;
        this.written = new long[plan.size()];
        this.expectedFileSize = expectedFileSize;
        for (int i = 0; i < plan.size(); i++) {
            indexOf.put(plan.get(i).name(), i);
        }
        advance();
    }

    /** Creates the temp file beside {@code target} and writes the header. Plan names must be unique. */
    public static SafetensorsWriter create(Path target, List<TensorSpec> plan, Map<String, String> metadata) throws IOException {
        List<TensorSpec> p = List.copyOf(plan);
        long[] sizes = new long[p.size()];
        for (int i = 0; i < sizes.length; i++) {
            sizes[i] = p.get(i).byteSize();
        }
        byte[] header = header(p, metadata);
        long total = header.length;
        for (long s : sizes) {
            total = Math.addExact(total, s);
        }
        Path temp = TempNames.partial(target);
        OutputFiles.Output file = OutputFiles.create(temp);
        SafetensorsWriter w = new SafetensorsWriter(target, temp, p, sizes, total);
        w.channel = file.channel();
        w.out = new BackgroundWriter(file.channel(), BUFFER_BYTES, target.getFileName().toString(), file.alignment());
        w.direct = file.alignment() != 0;
        try {
            w.out.write(ByteBuffer.wrap(header));
        } catch (IOException | RuntimeException e) {
            w.close();
            throw e;
        }
        return w;
    }

    /** The whole header: 8-byte length then JSON padded with spaces to a multiple of 8. Deterministic. */
    static byte[] header(List<TensorSpec> plan, Map<String, String> metadata) {
        StringBuilder sb = new StringBuilder("{");
        if (!metadata.isEmpty()) {
            sb.append("\"__metadata__\":{");
            boolean first = true;
            for (Map.Entry<String, String> e : new TreeMap<>(metadata).entrySet()) {
                sb.append(first ? "" : ",");
                Json.quote(sb, e.getKey()).append(':');
                Json.quote(sb, java.util.Objects.requireNonNull(e.getValue(), e.getKey()));
                first = false;
            }
            sb.append('}');
        }
        java.util.Set<String> seen = new java.util.HashSet<>();
        long offset = 0;
        for (TensorSpec t : plan) {
            if (t.name().equals("__metadata__") || !seen.add(t.name())) {
                throw new IllegalArgumentException("tensor name '" + t.name() + "' is reserved or repeated in the plan");
            }
            long end = Math.addExact(offset, t.byteSize());
            sb.append(sb.length() > 1 ? "," : "");
            Json.quote(sb, t.name()).append(":{\"dtype\":\"").append(t.dtype().safetensorsName()).append("\",\"shape\":[");
            for (int i = 0; i < t.shape().length; i++) {
                sb.append(i > 0 ? "," : "").append(t.shape()[i]);
            }
            sb.append("],\"data_offsets\":[").append(offset).append(',').append(end).append("]}");
            offset = end;
        }
        sb.append('}');
        byte[] json = sb.toString().getBytes(StandardCharsets.UTF_8);
        int n = (json.length + 7) & ~7;
        if (n > Safetensors.MAX_HEADER_BYTES) {
            throw new IllegalArgumentException("header of " + n + " bytes exceeds " + Safetensors.MAX_HEADER_BYTES);
        }
        ByteBuffer out = ByteBuffer.allocate(8 + n).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(n).put(json);
        while (out.hasRemaining()) {
            out.put((byte) ' ');
        }
        return out.array();
    }

    public Path target() {
        return target;
    }

    /** Whether every tensor of the plan has all its bytes. */
    public boolean isComplete() {
        return cursor == plan.size();
    }

    /**
     * Appends {@code chunk}'s remaining bytes (consumed) to tensor {@code name}, which must be the first tensor not
     * yet complete. Chunks may be of any size; they are copied and written to the file in the background.
     */
    public void write(String name, ByteBuffer chunk) throws IOException {
        int i = check(name, chunk.remaining());
        written[i] += chunk.remaining();
        try {
            out.write(chunk);
        } catch (IOException e) {
            throw named(e);
        }
        advance();
    }

    /**
     * Writes the whole tensor {@code t} of {@code src} as tensor {@code name} (same dtype and byte size), via copyTo:
     * a kernel-side copy into the file, or with direct I/O through the background writer.
     */
    public void transferFrom(String name, TensorSource src, TensorInfo t) throws IOException {
        int i = check(name, t.byteSize());
        TensorSpec spec = plan.get(i);
        if (t.dtype() != spec.dtype() || t.byteSize() != sizes[i] || written[i] != 0) {
            throw new IllegalStateException("cannot copy " + t + " into " + spec + " with " + written[i] + " bytes already written");
        }
        long before;
        long after;
        try {
            if (direct) {
                before = out.count();
                src.copyTo(t, out);
                after = out.count();
            } else {
                flush();
                before = channel.position();
                src.copyTo(t, channel);
                after = channel.position();
            }
        } catch (IOException e) {
            throw named(e);
        }
        if (after - before != sizes[i]) {
            throw new IOException("copying " + t + " wrote " + (after - before) + " bytes, expected " + sizes[i]);
        }
        written[i] = sizes[i];
        advance();
    }

    private int check(String name, long bytes) {
        if (finished || closed) {
            throw new IllegalStateException("writer for " + target + " is " + (finished ? "finished" : "closed"));
        }
        Integer i = indexOf.get(name);
        if (i == null) {
            throw new IllegalStateException("tensor '" + name + "' is not in the plan of " + target);
        }
        if (i > cursor) {
            throw new IllegalStateException("tensor '" + name + "' written before '" + plan.get(cursor).name()
                    + "' is complete (" + written[cursor] + " of " + sizes[cursor] + " bytes)");
        }
        if (bytes > sizes[i] - written[i]) {
            throw new IllegalStateException("tensor '" + name + "': " + bytes + " more bytes exceed its size " + sizes[i]
                    + " (" + written[i] + " already written)");
        }
        return i;
    }

    private void advance() {
        while (cursor < plan.size() && written[cursor] == sizes[cursor]) {
            cursor++;
        }
    }

    /** Waits until every byte written so far is in the file (before the channel is used directly). */
    private void flush() throws IOException {
        if (out != null) {
            try {
                out.drain();
            } catch (IOException e) {
                throw named(e);
            }
        }
    }

    /** A write failure (disk full, file too large) that says which output it was writing. */
    private IOException named(IOException e) {
        return e instanceof java.nio.file.FileSystemException ? e
                : new IOException("writing " + target + ": " + e.getMessage(), e);
    }

    /** Checks every tensor is complete, flushes, forces to disk and renames the file over the target atomically. */
    public void finish() throws IOException {
        if (finished || closed) {
            throw new IllegalStateException("writer for " + target + " is already " + (finished ? "finished" : "closed"));
        }
        if (!isComplete()) {
            throw new IllegalStateException("cannot finish " + target + ": tensor '" + plan.get(cursor).name() + "' has "
                    + written[cursor] + " of " + sizes[cursor] + " bytes");
        }
        try {
            out.finish();
        } catch (IOException e) {
            throw named(e);
        }
        if (channel.size() != expectedFileSize) {
            throw new IOException(temp + " has " + channel.size() + " bytes, expected " + expectedFileSize);
        }
        channel.force(true);
        stopWriter();
        channel.close();
        Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        finished = true;
        AtomicFiles.syncDirectory(target.toAbsolutePath().getParent());
    }

    private void stopWriter() {
        if (out != null) {
            out.close();
            out = null;
        }
    }

    /** Without a successful {@link #finish()}: closes and deletes the temp file. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        stopWriter();
        if (finished) {
            return;
        }
        try {
            try {
                channel.close();
            } finally {
                Files.deleteIfExists(temp);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
