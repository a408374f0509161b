package dev.manyone.formats.pack;

import com.fasterxml.jackson.databind.json.JsonMapper;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Builds tar files by hand for the hostile-package tests: any entry type, any name, any manifest. */
final class Tars {
    /** One entry: name, tar type, bytes (regular files), link target (links). */
    record Raw(String name, byte type, byte[] data, String link) {
        static Raw file(String name, String text) {
            return new Raw(name, TarConstants.LF_NORMAL, Fixtures.utf8(text), null);
        }

        static Raw file(String name, byte[] data) {
            return new Raw(name, TarConstants.LF_NORMAL, data, null);
        }
    }

    static final String CONFIG = "{\"model_type\": \"nemotron_h\"}";

    private Tars() {
    }

    /** A manifest listing {@code entries} (name, size and SHA-256 of their data) with config {@link #CONFIG}. */
    static byte[] manifest(List<Raw> entries) throws IOException {
        List<Manifest.Entry> list = new ArrayList<>();
        for (Raw r : entries) {
            byte[] d = r.data() == null ? new byte[0] : r.data();
            list.add(new Manifest.Entry(r.name(), d.length, Sha256.hex(d)));
        }
        return new Manifest("parent", list, new JsonMapper().readTree(CONFIG), null).toBytes();
    }

    /**
     * Writes a tar through commons-compress: the manifest (with its SHA-256 PAX record, {@code manifestSha} or the
     * right one when null) and then {@code entries}, names exactly as given. Not aligned like a real package.
     */
    static Path raw(Path file, byte[] manifest, String manifestSha, List<Raw> entries) throws IOException {
        try (OutputStream out = Files.newOutputStream(file); TarArchiveOutputStream tar = new TarArchiveOutputStream(out)) {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            if (manifest != null) {
                TarArchiveEntry m = new TarArchiveEntry(PackageFormat.MANIFEST);
                m.addPaxHeader(PackageFormat.MANIFEST_SHA256_KEY, manifestSha != null ? manifestSha : Sha256.hex(manifest));
                m.setSize(manifest.length);
                tar.putArchiveEntry(m);
                tar.write(manifest);
                tar.closeArchiveEntry();
            }
            for (Raw r : entries) {
                TarArchiveEntry e = new TarArchiveEntry(r.name(), r.type(), true);
                if (r.link() != null) {
                    e.setLinkName(r.link());
                }
                if (r.type() == TarConstants.LF_CHR || r.type() == TarConstants.LF_BLK) {
                    e.setDevMajor(1);
                    e.setDevMinor(3);
                }
                e.setSize(r.type() == TarConstants.LF_NORMAL ? r.data().length : 0);
                tar.putArchiveEntry(e);
                if (r.type() == TarConstants.LF_NORMAL) {
                    tar.write(r.data());
                }
                tar.closeArchiveEntry();
            }
        }
        return file;
    }

    /** A tar laid out exactly as a real package ({@link TarLayout}), but with any manifest bytes and any entries. */
    static Path aligned(Path file, byte[] manifest, List<Raw> entries) throws IOException {
        List<String> names = new ArrayList<>(List.of(PackageFormat.MANIFEST));
        List<Long> sizes = new ArrayList<>(List.of((long) manifest.length));
        List<byte[]> data = new ArrayList<>(List.of(manifest));
        for (Raw r : entries) {
            names.add(r.name());
            sizes.add((long) r.data().length);
            data.add(r.data());
        }
        TarLayout layout = TarLayout.of(names, sizes);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < names.size(); i++) {
            TarLayout.Slot s = layout.slots().get(i);
            out.write(TarLayout.headers(s, Sha256.hex(manifest)));
            out.write(data.get(i));
            out.write(new byte[TarLayout.padding(s.size())]);
        }
        out.write(new byte[2 * TarLayout.BLOCK]);
        Files.write(file, out.toByteArray());
        return file;
    }
}
