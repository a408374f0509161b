package dev.manyone.formats.pack;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TarLayoutTest {
    static final long GIB = 1L << 30;

    @Test
    void everyEntryIsAlignedWhateverTheSizes() throws Exception {
        List<Long> sizes = List.of(3163L, 0L, 1L, 511L, 512L, 513L, 4095L, 4096L, 4097L, 5 * GIB + 12345, 8 * GIB - 1, 8 * GIB, 24_600_000_000L, 7L);
        List<String> names = new ArrayList<>();
        for (int i = 0; i < sizes.size(); i++) {
            names.add(i == 0 ? PackageFormat.MANIFEST : "entry-" + i + ".bin");
        }
        TarLayout layout = TarLayout.of(names, sizes);
        long previous = 0;
        String sha = "ab".repeat(32);
        for (TarLayout.Slot s : layout.slots()) {
            assertEquals(previous, s.start(), s.name());
            assertEquals(0, s.dataOffset() % PackageFormat.ALIGNMENT, s.name());
            assertTrue(s.dataOffset() - s.start() <= 1024 + 4096, "at most 4.5 KiB of headers: " + s);
            byte[] headers = TarLayout.headers(s, sha);
            assertEquals(s.dataOffset() - s.start(), headers.length);
            // commons-compress reads the headers back: name, size (8 GiB and more too), and the manifest's hash
            try (TarArchiveInputStream in = new TarArchiveInputStream(new ByteArrayInputStream(headers))) {
                TarArchiveEntry e = in.getNextEntry();
                assertEquals(s.name(), e.getName());
                assertEquals(s.size(), e.getSize(), s.name());
                assertTrue(e.isCheckSumOK());
                assertEquals(s.signed() ? sha : null, e.getExtraPaxHeader(PackageFormat.MANIFEST_SHA256_KEY));
            }
            previous = s.next();
        }
        assertEquals(previous + 1024, layout.length());
    }

    @Test
    void paxRecordsCountTheirOwnLength() {
        for (int n = 0; n < 2000; n++) {
            String r = TarLayout.record("k", "v".repeat(n));
            assertEquals(Integer.parseInt(r.substring(0, r.indexOf(' '))), r.length(), r);
        }
    }
}
