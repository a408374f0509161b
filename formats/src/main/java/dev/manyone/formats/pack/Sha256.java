package dev.manyone.formats.pack;

import dev.manyone.formats.Progress;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Streaming SHA-256 of a file or a byte range of one, optionally copying the bytes on: one 4 MiB direct buffer, every
 * byte read once, nothing else held in memory.
 */
public final class Sha256 {
    static final int BUFFER = 4 << 20;

    private Sha256() {
    }

    static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The SHA-256 of {@code bytes}, as lowercase hex. */
    public static String hex(byte[] bytes) {
        return HexFormat.of().formatHex(digest().digest(bytes));
    }

    /** The SHA-256 of a whole file, as lowercase hex. */
    public static String ofFile(java.nio.file.Path file) throws IOException {
        try (FileChannel in = FileChannel.open(file, java.nio.file.StandardOpenOption.READ)) {
            return of(in, 0, in.size(), Progress.NONE);
        }
    }

    /** The SHA-256 of bytes {@code [position, position + length)} of {@code in}. */
    static String of(FileChannel in, long position, long length, Progress progress) throws IOException {
        return copy(in, position, length, null, progress);
    }

    /**
     * Copies bytes {@code [position, position + length)} of {@code in} to {@code out} (if not null) and returns
     * their SHA-256. EOFException if {@code in} ends early.
     */
    static String copy(FileChannel in, long position, long length, WritableByteChannel out, Progress progress) throws IOException {
        MessageDigest sha = digest();
        ByteBuffer buf = ByteBuffer.allocateDirect((int) Math.min(BUFFER, Math.max(length, 1)));
        long pos = position;
        long end = position + length;
        while (pos < end) {
            buf.clear().limit((int) Math.min(buf.capacity(), end - pos));
            int n = in.read(buf, pos);
            if (n < 0) {
                throw new EOFException("unexpected end of file at byte " + pos + "; expected " + (end - pos) + " more bytes");
            }
            buf.flip();
            sha.update(buf.duplicate());
            if (out != null) {
                while (buf.hasRemaining()) {
                    out.write(buf);
                }
            }
            pos += n;
            progress.advance(n);
        }
        return HexFormat.of().formatHex(sha.digest());
    }
}
