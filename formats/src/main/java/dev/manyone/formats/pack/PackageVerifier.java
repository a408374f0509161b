package dev.manyone.formats.pack;

import dev.manyone.formats.Progress;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Checks the SHA-256 of every entry of an opened package (the structure was checked by {@link PackageFile#open}):
 * every byte of the package is read once.
 */
public final class PackageVerifier {
    private PackageVerifier() {
    }

    /** One entry's result: the SHA-256 its bytes have now. */
    public record Check(PackageEntry entry, String actualSha256) {
        public boolean ok() {
            return entry.sha256().equals(actualSha256);
        }
    }

    /** The manifest first, then every entry in archive order. */
    public static List<Check> verify(PackageFile pkg, Progress progress) throws IOException {
        List<PackageEntry> all = new ArrayList<>();
        all.add(pkg.manifestEntry());
        all.addAll(pkg.entries());
        long total = 0;
        for (PackageEntry e : all) {
            total += e.size();
        }
        progress.start("verify", total);
        List<Check> out = new ArrayList<>();
        for (PackageEntry e : all) {
            out.add(new Check(e, e.actualSha256(progress)));
        }
        progress.done();
        return out;
    }

    /** The checks that failed. */
    public static List<Check> corrupted(List<Check> checks) {
        return checks.stream().filter(c -> !c.ok()).toList();
    }
}
