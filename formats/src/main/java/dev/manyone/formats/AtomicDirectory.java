package dev.manyone.formats;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * A whole output directory that appears all at once: everything is written into a sibling
 * {@code .<name>.partial-<random>} and {@link #commit()} renames it to the target. Closing without commit deletes
 * the temp directory. Typical use:
 * <pre>
 *   try (AtomicDirectory out = AtomicDirectory.create(target, force)) {
 *       ... write into out.path() ...
 *       out.commit();
 *   }
 * </pre>
 */
public final class AtomicDirectory implements AutoCloseable {
    private final Path target;
    private final Path temp;
    private final boolean overwrite;
    private boolean committed;
    private boolean closed;

    private AtomicDirectory(Path target, Path temp, boolean overwrite) {
        this.target = target;
        this.temp = temp;
        this.overwrite = overwrite;
    }

    /**
     * Creates the temp directory beside {@code target} (creating the parent if needed). Fails early with
     * FormatException if the target exists and {@code overwrite} is false.
     */
    public static AtomicDirectory create(Path target, boolean overwrite) throws IOException {
        if (!overwrite && Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            throw exists(target);
        }
        Path parent = target.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Path temp = TempNames.partial(target);
        Files.createDirectory(temp);
        return new AtomicDirectory(target, temp, overwrite);
    }

    private static FormatException exists(Path target) {
        return new FormatException(target, "output already exists; pass --force to replace it");
    }

    /** The directory to write into (the temp directory until commit, the target after). */
    public Path path() {
        return committed ? target : temp;
    }

    public Path target() {
        return target;
    }

    /**
     * Renames the temp directory to the target. An existing target is, with overwrite, moved aside, replaced and then
     * deleted (restored if the rename fails); without overwrite it is a FormatException.
     */
    public void commit() throws IOException {
        if (committed || closed) {
            throw new IllegalStateException("atomic directory " + target + " is already " + (committed ? "committed" : "closed"));
        }
        Path old = null;
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            if (!overwrite) {
                throw exists(target);
            }
            old = TempNames.sibling(target, "old");
            Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
        }
        try {
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            if (old != null) {
                try {
                    Files.move(old, target, StandardCopyOption.ATOMIC_MOVE);
                } catch (IOException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
        committed = true;
        AtomicFiles.syncDirectory(target.toAbsolutePath().getParent());
        if (old != null) {
            deleteRecursively(old);
        }
    }

    /** Without commit: deletes the temp directory and everything in it. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (!committed) {
            try {
                deleteRecursively(temp);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    /** Deletes a tree without following symbolic links (a link is deleted, not its target). */
    static void deleteRecursively(Path root) throws IOException {
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
                if (e != null) {
                    throw e;
                }
                Files.delete(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
