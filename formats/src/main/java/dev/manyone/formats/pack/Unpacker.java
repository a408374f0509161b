package dev.manyone.formats.pack;

import dev.manyone.formats.AtomicDirectory;
import dev.manyone.formats.Progress;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Unpacks a package into a directory: every entry but the manifest becomes a file of the same name, byte for
 * byte, so packing a checkpoint directory and unpacking it gives back the packed files. Nothing is written outside
 * the target: entry names are plain file names ({@link EntryNames}, checked by {@link PackageFile#open}) and each
 * resolved path is checked again to be a direct child of the directory being written. Every entry's SHA-256 is
 * checked as it is copied; a corrupted entry is a FormatException naming it. Atomic ({@link AtomicDirectory}): on
 * any failure the target is left as it was.
 */
public final class Unpacker {
    private Unpacker() {
    }

    public record Result(Path target, List<String> files, long bytes) {
    }

    public static Result unpack(Path pkgFile, Path target, boolean overwrite, Progress progress) throws IOException {
        PackageFile pkg = PackageFile.open(pkgFile);
        long total = 0;
        for (PackageEntry e : pkg.entries()) {
            total += e.size();
        }
        progress.start("unpack", total);
        try (AtomicDirectory out = AtomicDirectory.create(target, overwrite)) {
            Path dir = out.path().toAbsolutePath().normalize();
            for (PackageEntry e : pkg.entries()) {
                Path dest = dir.resolve(e.name()).normalize();
                if (!dir.equals(dest.getParent())) {
                    throw new IllegalStateException("entry " + EntryNames.quote(e.name()) + " would be written outside " + target);
                }
                e.copyTo(dest, progress);
            }
            out.commit();
        }
        progress.done();
        return new Result(target, pkg.entries().stream().map(PackageEntry::name).toList(), total);
    }
}
