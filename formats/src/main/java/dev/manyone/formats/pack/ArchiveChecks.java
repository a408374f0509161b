package dev.manyone.formats.pack;

import dev.manyone.formats.FormatException;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.apache.commons.compress.archivers.tar.TarFile;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The structural checks of {@link PackageFile#open}, in the order it runs them: the manifest (first entry, its own
 * SHA-256), the tar headers as commons-compress reads them (regular files with safe, unique, listed names), the
 * entries against the manifest and the layout ({@link TarLayout}), and every byte between the entries' data.
 */
final class ArchiveChecks {
    private ArchiveChecks() {
    }

    record FirstEntry(byte[] bytes, String sha256) {
    }

    /** The first entry, which must be the manifest, checked against the SHA-256 its PAX header records. */
    static FirstEntry readManifest(Path path, long length) throws IOException {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ);
             TarArchiveInputStream tar = new TarArchiveInputStream(new BufferedInputStream(Channels.newInputStream(ch), 1 << 16),
                     StandardCharsets.UTF_8.name())) {
            TarArchiveEntry e;
            try {
                e = tar.getNextEntry();
            } catch (IOException | RuntimeException x) {
                throw notPackage(path, "a file that is not a tar archive (" + x.getMessage() + ")");
            }
            if (e == null) {
                throw notPackage(path, "an empty tar archive");
            }
            if (!e.getName().equals(PackageFormat.MANIFEST)) {
                throw notPackage(path, "a tar archive whose first entry is " + EntryNames.quote(e.getName()));
            }
            if (e.getLinkFlag() != TarConstants.LF_NORMAL || e.isSparse()) {
                throw new FormatException(path, "the manifest is not stored as a regular file (tar type '" + (char) e.getLinkFlag() + "')");
            }
            if (e.getSize() > PackageFormat.MAX_MANIFEST_BYTES) {
                throw new FormatException(path, "the manifest has " + e.getSize() + " bytes; at most " + PackageFormat.MAX_MANIFEST_BYTES
                        + " are accepted");
            }
            if (e.getSize() > length) {
                throw new FormatException(path, "entry " + EntryNames.quote(PackageFormat.MANIFEST) + " needs " + e.getSize()
                        + " bytes but the file has only " + length + " bytes (truncated?)");
            }
            byte[] bytes;
            try {
                bytes = tar.readNBytes((int) e.getSize());
            } catch (IOException | RuntimeException x) {
                throw new FormatException(path, "entry " + EntryNames.quote(PackageFormat.MANIFEST) + " cannot be read: " + x.getMessage());
            }
            if (bytes.length != e.getSize()) {
                throw new FormatException(path, "entry " + EntryNames.quote(PackageFormat.MANIFEST) + " has " + bytes.length
                        + " of its " + e.getSize() + " bytes (truncated?)");
            }
            String recorded = e.getExtraPaxHeaders().get(PackageFormat.MANIFEST_SHA256_KEY);
            if (recorded == null) {
                throw new FormatException(path, "the manifest's tar header has no " + PackageFormat.MANIFEST_SHA256_KEY + " record");
            }
            String actual = Sha256.hex(bytes);
            if (!actual.equals(recorded)) {
                throw new FormatException(path, "entry " + EntryNames.quote(PackageFormat.MANIFEST) + " is corrupted: its tar header "
                        + "records SHA-256 " + recorded + ", its " + bytes.length + " bytes have " + actual);
            }
            return new FirstEntry(bytes, actual);
        }
    }

    static FormatException notPackage(Path path, String found) {
        return new FormatException(path, "expected a manyone package (a tar file whose first entry is " + PackageFormat.MANIFEST
                + "), found " + found);
    }

    /** Every entry of the archive, as commons-compress reads the headers (data is skipped, not read). */
    static List<TarArchiveEntry> scan(Path path) {
        try (SeekableByteChannel ch = Files.newByteChannel(path, StandardOpenOption.READ);
             TarFile tar = new TarFile(ch, TarConstants.DEFAULT_BLKSIZE, TarConstants.DEFAULT_RCDSIZE, StandardCharsets.UTF_8.name(), false)) {
            return tar.getEntries();
        } catch (IOException | RuntimeException e) {
            throw new FormatException(path, null, "not a valid tar archive: " + e.getMessage(), e);
        }
    }

    /** A complete archive (with its end-of-archive blocks) that holds fewer entries than the manifest lists. */
    static void checkMissing(Path path, List<TarArchiveEntry> archive, TarLayout layout, long length) {
        if (archive.size() < layout.slots().size() && !archive.isEmpty()) {
            TarArchiveEntry last = archive.get(archive.size() - 1);
            if (length >= last.getDataOffset() + TarLayout.roundUp(last.getSize()) + 2L * TarLayout.BLOCK) {
                // the archive is complete (it has its end-of-archive blocks): entries are missing, not cut off
                throw new FormatException(path, "the manifest lists " + (layout.slots().size() - 1) + " entries but the archive holds "
                        + (archive.size() - 1) + " besides the manifest; " + EntryNames.quote(layout.slots().get(archive.size()).name())
                        + " and any after it are missing");
            }
        }
    }

    /** Every entry the manifest lists must lie within the file. */
    static void checkLength(Path path, TarLayout layout, long length) {
        for (TarLayout.Slot s : layout.slots()) {
            if (s.dataOffset() > length - s.size()) {
                throw new FormatException(path, "entry " + EntryNames.quote(s.name()) + " needs bytes " + s.dataOffset() + " to "
                        + (s.dataOffset() + s.size()) + " but the file has only " + length + " bytes (truncated?)");
            }
        }
    }

    /** Each entry of the archive on its own: a regular file with a safe name, not repeated, listed in the manifest. */
    static void checkEntries(Path path, List<TarArchiveEntry> archive, Manifest manifest) {
        Map<String, String> seen = new HashMap<>();
        Map<String, Boolean> listed = new HashMap<>();
        listed.put(PackageFormat.MANIFEST, true);
        manifest.entries().forEach(e -> listed.put(e.name(), true));
        for (int i = 0; i < archive.size(); i++) {
            TarArchiveEntry t = archive.get(i);
            String name = t.getName();
            String q = "entry " + EntryNames.quote(name);
            if (!t.isCheckSumOK()) {
                if (i > manifest.entries().size()) {
                    throw new FormatException(path, "the archive has a damaged tar header after its last entry, where the "
                            + "end-of-archive blocks of zeros belong");
                }
                throw new FormatException(path, q + " has a damaged tar header: its checksum does not match (the manifest lists "
                        + EntryNames.quote(i == 0 ? PackageFormat.MANIFEST : manifest.entries().get(i - 1).name()) + " there)");
            }
            String kind = kind(t);
            if (kind != null) {
                throw new FormatException(path, q + " is " + kind + "; a package holds regular files only");
            }
            if (!(i == 0 && name.equals(PackageFormat.MANIFEST))) {
                EntryNames.problem(name).ifPresent(p -> {
                    throw new FormatException(path, q + " has an unsafe name: " + p);
                });
            }
            if (seen.put(EntryNames.foldCase(name), name) != null) {
                throw new FormatException(path, q + " appears twice in the archive (names may not repeat, not even in another case)");
            }
            if (!listed.containsKey(name)) {
                throw new FormatException(path, q + " is not listed in the manifest");
            }
        }
    }

    /** The archive holds exactly the manifest's entries, in its order, with its sizes, where the layout puts them. */
    static void checkAgreement(Path path, List<TarArchiveEntry> archive, TarLayout layout, long length) {
        List<TarLayout.Slot> slots = layout.slots();
        if (archive.size() != slots.size()) {
            throw new FormatException(path, "the manifest lists " + (slots.size() - 1) + " entries but the archive holds "
                    + (archive.size() - 1) + " besides the manifest");
        }
        for (int i = 0; i < slots.size(); i++) {
            TarArchiveEntry t = archive.get(i);
            TarLayout.Slot s = slots.get(i);
            String q = "entry " + EntryNames.quote(t.getName());
            if (!t.getName().equals(s.name())) {
                throw new FormatException(path, q + " is entry " + i + " of the archive, where the manifest lists " + EntryNames.quote(s.name()));
            }
            if (t.getSize() != s.size()) {
                throw new FormatException(path, q + " has " + t.getSize() + " bytes, the manifest says " + s.size());
            }
            if (t.getDataOffset() != s.dataOffset()) {
                throw new FormatException(path, q + " starts at byte " + t.getDataOffset() + ", expected " + s.dataOffset()
                        + " (each entry's data starts at the first " + PackageFormat.ALIGNMENT + "-byte boundary after its headers)");
            }
        }
        if (length != layout.length()) {
            throw new FormatException(path, length > layout.length()
                    ? (length - layout.length()) + " unexpected bytes after the end of the archive at byte " + layout.length()
                    : "the file ends at byte " + length + ", before the end-of-archive blocks at byte " + layout.length() + " (truncated?)");
        }
    }

    /**
     * Every byte that is not entry data (PAX and ustar headers, block padding, the end-of-archive blocks) must be
     * exactly what {@link TarLayout} writes: together with the manifest's SHA-256 (checked here) and the entries'
     * (checked by {@link PackageVerifier}), no byte of a package goes unchecked.
     */
    static void checkFraming(Path path, TarLayout layout, String manifestSha) throws IOException {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            for (TarLayout.Slot s : layout.slots()) {
                byte[] expected = TarLayout.headers(s, manifestSha);
                if (!Arrays.equals(expected, read(ch, s.start(), expected.length))) {
                    throw new FormatException(path, "the tar headers of entry " + EntryNames.quote(s.name()) + " (bytes " + s.start()
                            + " to " + s.dataOffset() + ") are damaged: they differ from the ones this format writes");
                }
                int pad = TarLayout.padding(s.size());
                if (!Arrays.equals(new byte[pad], read(ch, s.dataOffset() + s.size(), pad))) {
                    throw new FormatException(path, "the padding after entry " + EntryNames.quote(s.name()) + " (bytes "
                            + (s.dataOffset() + s.size()) + " to " + s.next() + ") is damaged: expected zeros");
                }
            }
            int end = 2 * TarLayout.BLOCK;
            if (!Arrays.equals(new byte[end], read(ch, layout.length() - end, end))) {
                throw new FormatException(path, "the end-of-archive blocks (the last " + end + " bytes) are damaged: expected zeros");
            }
        }
    }

    static byte[] read(FileChannel ch, long position, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        while (b.hasRemaining()) {
            if (ch.read(b, position + b.position()) < 0) {
                break;
            }
        }
        return b.array();
    }

    /** What a non-regular entry is, or null for a regular file. */
    static String kind(TarArchiveEntry t) {
        if (t.isSymbolicLink()) {
            return "a symbolic link to " + EntryNames.quote(t.getLinkName());
        }
        if (t.isLink()) {
            return "a hard link to " + EntryNames.quote(t.getLinkName());
        }
        if (t.isCharacterDevice() || t.isBlockDevice()) {
            return "a device";
        }
        if (t.isFIFO()) {
            return "a FIFO";
        }
        if (t.isDirectory()) {
            return "a directory";
        }
        if (t.isSparse() || t.isPaxGNUSparse() || t.isOldGNUSparse() || t.isStarSparse()) {
            return "a sparse file";
        }
        if (t.getLinkFlag() != TarConstants.LF_NORMAL) {
            return String.format(Locale.ROOT, "of tar type 0x%02x", t.getLinkFlag() & 0xff);
        }
        return null;
    }
}
