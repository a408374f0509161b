package dev.manyone.formats.pack;

import dev.manyone.formats.FormatException;
import dev.manyone.formats.Progress;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * One entry of a package, as the manifest lists it and the archive places it.
 *
 * @param pkg    the package file
 * @param name   a plain file name ({@link EntryNames})
 * @param offset where its bytes start in {@code pkg} (a multiple of {@link PackageFormat#ALIGNMENT})
 * @param size   its length in bytes
 * @param sha256 the SHA-256 the manifest records (lowercase hex)
 */
public record PackageEntry(Path pkg, String name, long offset, long size, String sha256) {

    /** The entry as a path for messages and listings: {@code family.manyone/tokenizer.json} (not a file on disk). */
    public Path label() {
        return pkg.resolve(name);
    }

    /** The SHA-256 of the entry's bytes as stored now. */
    public String actualSha256(Progress progress) throws IOException {
        try (FileChannel in = FileChannel.open(pkg, StandardOpenOption.READ)) {
            return Sha256.of(in, offset, size, progress);
        } catch (EOFException e) {
            throw truncated(e);
        }
    }

    /** The bytes of a small entry, checked against the manifest's SHA-256. */
    public byte[] readVerified(long maxBytes) throws IOException {
        if (size > maxBytes) {
            throw new FormatException(pkg, "entry " + EntryNames.quote(name) + " has " + size + " bytes; at most " + maxBytes
                    + " are read into memory");
        }
        byte[] bytes = new byte[(int) size];
        try (FileChannel in = FileChannel.open(pkg, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) {
                if (in.read(b, offset + b.position()) < 0) {
                    throw truncated(new EOFException("at byte " + (offset + b.position())));
                }
            }
        }
        String actual = Sha256.hex(bytes);
        if (!actual.equals(sha256)) {
            throw corrupted(actual);
        }
        return bytes;
    }

    /**
     * Copies the entry to a new file {@code target} (which must not exist), checking its SHA-256 on the way; a
     * corrupted entry is a FormatException and {@code target} is deleted.
     */
    public void copyTo(Path target, Progress progress) throws IOException {
        String actual;
        try (FileChannel in = FileChannel.open(pkg, StandardOpenOption.READ);
             FileChannel out = FileChannel.open(target, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            actual = Sha256.copy(in, offset, size, out, progress);
            out.force(true);
        } catch (EOFException e) {
            Files.deleteIfExists(target);
            throw truncated(e);
        } catch (IOException | RuntimeException e) {
            if (!(e instanceof java.nio.file.FileAlreadyExistsException)) {
                Files.deleteIfExists(target);
            }
            throw e;
        }
        if (!actual.equals(sha256)) {
            Files.deleteIfExists(target);
            throw corrupted(actual);
        }
    }

    /** The exception for an entry whose bytes do not match the manifest. */
    public FormatException corrupted(String actualSha256) {
        return new FormatException(pkg, "entry " + EntryNames.quote(name) + " is corrupted: the manifest records SHA-256 "
                + sha256 + ", its " + size + " bytes have " + actualSha256);
    }

    private FormatException truncated(EOFException e) {
        return new FormatException(pkg, null, "entry " + EntryNames.quote(name) + " (bytes " + offset + " to " + (offset + size)
                + ") runs past the end of the file (truncated?)", e);
    }
}
