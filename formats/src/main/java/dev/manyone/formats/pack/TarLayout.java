package dev.manyone.formats.pack;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.apache.commons.compress.archivers.zip.ZipEncoding;
import org.apache.commons.compress.archivers.zip.ZipEncodingHelper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Where every byte of a package goes, computed from the entry names and sizes alone (so the writer and the reader
 * agree, and a reader can tell which entry a truncated file cut). Each entry is
 * <pre>
 *   512      a ustar header of type 'x' (a PAX extended header), name "PaxHeaders/NAME" cut to 100 characters
 *   512·k    its records: "MANYONE.sha256=HEX" (the manifest only), "size=N" (entries of 8 GiB and more), and a
 *            "comment=...." record that pads the records to exactly 512·k bytes, k ≥ 1 chosen so that the data
 *            below starts at a multiple of 4096
 *   512      the entry's ustar header: type '0', mode 0644, uid/gid 0, empty user/group names, mtime 0
 *            (sizes of 8 GiB and more in the base-256 form of star/GNU tar, and in the PAX "size" record)
 *   size     the entry's bytes, then zeros up to a multiple of 512
 * </pre>
 * and the archive ends with two zero blocks. Headers are encoded by commons-compress ({@link TarArchiveEntry}).
 */
final class TarLayout {
    static final int BLOCK = 512;
    /** The largest size the 11 octal digits of a ustar header hold. */
    static final long MAX_OCTAL_SIZE = 077777777777L;
    private static final String PAD_KEY = "comment";
    private static final String PAD_TEXT = "manyone: padding so that the next entry's data starts at a 4096-byte boundary ";
    private static final int MIN_PAD_RECORD = 16;
    private static final ZipEncoding UTF8 = ZipEncodingHelper.getZipEncoding(StandardCharsets.UTF_8);

    /**
     * One entry's place.
     *
     * @param start      offset of its PAX header
     * @param paxLength  length of its PAX records (a multiple of 512)
     * @param dataOffset offset of its first byte, a multiple of {@link PackageFormat#ALIGNMENT}
     */
    record Slot(String name, long size, boolean signed, long start, int paxLength, long dataOffset) {
        /** Where the next entry's header starts. */
        long next() {
            return dataOffset + roundUp(size);
        }
    }

    private final List<Slot> slots;
    private final long length;

    private TarLayout(List<Slot> slots, long length) {
        this.slots = List.copyOf(slots);
        this.length = length;
    }

    /** The layout of entries {@code names[i]} of {@code sizes[i]} bytes, in this order; the first is the (signed) manifest. */
    static TarLayout of(List<String> names, List<Long> sizes) {
        List<Slot> slots = new ArrayList<>(names.size());
        long pos = 0;
        for (int i = 0; i < names.size(); i++) {
            long size = sizes.get(i);
            boolean signed = i == 0;
            int fixed = fixedRecordsLength(size, signed);
            int k = 1;
            while (Math.floorMod(pos + 2L * BLOCK + (long) BLOCK * k, PackageFormat.ALIGNMENT) != 0
                    || BLOCK * k < fixed + MIN_PAD_RECORD) {
                k++;
            }
            long data = pos + 2L * BLOCK + (long) BLOCK * k;
            Slot s = new Slot(names.get(i), size, signed, pos, BLOCK * k, data);
            slots.add(s);
            pos = s.next();
        }
        return new TarLayout(slots, Math.addExact(pos, 2L * BLOCK));
    }

    List<Slot> slots() {
        return slots;
    }

    /** The length of the whole archive, end-of-archive blocks included. */
    long length() {
        return length;
    }

    static long roundUp(long size) {
        return Math.addExact(size, BLOCK - 1) / BLOCK * BLOCK;
    }

    private static int fixedRecordsLength(long size, boolean signed) {
        int n = 0;
        if (size > MAX_OCTAL_SIZE) {
            n += record("size", Long.toString(size)).length();
        }
        if (signed) {
            n += record(PackageFormat.MANIFEST_SHA256_KEY, "0".repeat(64)).length();
        }
        return n;
    }

    /** A PAX record "LEN key=value\n", LEN counting itself (key and value are ASCII). */
    static String record(String key, String value) {
        int body = 1 + key.length() + 1 + value.length() + 1;
        int len = body + digits(body);
        if (digits(len) != digits(body)) {
            len = body + digits(len);
        }
        return len + " " + key + "=" + value + "\n";
    }

    private static int digits(int n) {
        return Integer.toString(n).length();
    }

    /**
     * The bytes from {@code slot.start()} to {@code slot.dataOffset()}: PAX header, PAX records, ustar header.
     *
     * @param sha256 the manifest's SHA-256 for the signed slot, ignored otherwise
     */
    static byte[] headers(Slot slot, String sha256) {
        StringBuilder records = new StringBuilder();
        if (slot.size() > MAX_OCTAL_SIZE) {
            records.append(record("size", Long.toString(slot.size())));
        }
        if (slot.signed()) {
            records.append(record(PackageFormat.MANIFEST_SHA256_KEY, sha256));
        }
        int padLength = slot.paxLength() - records.length();
        int value = padLength - Integer.toString(padLength).length() - 2 - PAD_KEY.length() - 1;
        StringBuilder pad = new StringBuilder(value);
        while (pad.length() < value) {
            pad.append(PAD_TEXT, 0, Math.min(PAD_TEXT.length(), value - pad.length()));
        }
        records.append(padLength).append(' ').append(PAD_KEY).append('=').append(pad).append('\n');
        byte[] pax = records.toString().getBytes(StandardCharsets.US_ASCII);
        if (pax.length != slot.paxLength()) {
            throw new IllegalStateException("PAX records of " + slot.name() + " are " + pax.length + " bytes, planned " + slot.paxLength());
        }
        String paxName = "PaxHeaders/" + slot.name();
        byte[] out = new byte[2 * BLOCK + pax.length];
        header(paxName.substring(0, Math.min(paxName.length(), EntryNames.MAX_LENGTH)), TarConstants.LF_PAX_EXTENDED_HEADER_LC,
                pax.length, out, 0);
        System.arraycopy(pax, 0, out, BLOCK, pax.length);
        header(slot.name(), TarConstants.LF_NORMAL, slot.size(), out, BLOCK + pax.length);
        return out;
    }

    private static void header(String name, byte type, long size, byte[] out, int at) {
        TarArchiveEntry e = new TarArchiveEntry(name, type);
        e.setSize(size);
        e.setMode(0100644);
        e.setModTime(0L);
        e.setIds(0, 0);
        e.setUserName("");
        e.setGroupName("");
        byte[] block = new byte[BLOCK];
        try {
            e.writeEntryHeader(block, UTF8, true);
        } catch (IOException ex) {
            throw new UncheckedIOException(ex);
        }
        System.arraycopy(block, 0, out, at, BLOCK);
    }

    /** Zeros completing the last block of an entry of {@code size} bytes. */
    static int padding(long size) {
        return (int) (roundUp(size) - size);
    }
}
