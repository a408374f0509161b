package dev.manyone.formats.pack;

import com.fasterxml.jackson.databind.JsonNode;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.Progress;
import dev.manyone.formats.Safetensors;
import dev.manyone.formats.SafetensorsFile;
import dev.manyone.formats.SideFiles;
import dev.manyone.formats.TensorInfo;
import dev.manyone.formats.TensorSource;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * Packs a Hugging Face checkpoint directory into one package file (layout: {@link PackageFormat}, {@link TarLayout}).
 * Packed, in this order: config.json; {@value Safetensors#INDEX_FILE} and the shards it names (sorted), or
 * {@value Safetensors#SINGLE_FILE}; then, sorted by name, the side files ({@link SideFiles#list}: tokenizer, generation
 * config, rankings.json, elastic.json, …) and {@value PackageFile#ELASTIC_TENSORS} if present. Anything else in the directory (hidden files, subdirectories, weights
 * of other formats, shards the index does not name) is left out and reported in {@link Result#skipped()}.
 * <p>
 * Streaming: each file is read once through one 4 MiB buffer, hashed on the way and written straight to the
 * package; the manifest goes first with placeholder hashes of the same length (so every offset is known before any
 * weight is read) and is rewritten in place at the end. Deterministic: fixed order, mtime 0, uid/gid 0, no user
 * names, so the same directory gives the same bytes. Atomic: written to {@code .NAME.partial-RANDOM} beside the
 * target, forced to disk and renamed over it.
 */
public final class PackageWriter {
    private static final SecureRandom RANDOM = new SecureRandom();

    private PackageWriter() {
    }

    /**
     * @param entries the packed files, in package order
     * @param skipped files of the directory that were not packed
     * @param bytes   the package's size
     */
    public record Result(Path target, List<String> entries, List<String> skipped, long dataBytes, long bytes) {
    }

    private record Source(String name, Path file, long size) {
    }

    /** Packs {@code dir} into {@code target}; FormatException for a bad directory or an existing target without overwrite. */
    public static Result pack(Path dir, Path target, boolean overwrite, Progress progress) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new FormatException(dir, Files.exists(dir) ? "expected a checkpoint directory to pack, found a file"
                    : "no such directory; expected a checkpoint directory to pack");
        }
        checkTarget(target, overwrite);
        Path into = target.toAbsolutePath().normalize().getParent();
        if (into != null && Files.isDirectory(into) && Files.isSameFile(dir, into)) {
            throw new FormatException(target, "the package cannot be written into the directory being packed (it would be "
                    + "packed as a side file next time); write it beside the directory");
        }
        List<Source> sources = sources(dir);
        Map<String, byte[]> metadata = new HashMap<>();
        byte[] configBytes = readSmall(dir.resolve(PackageFile.CONFIG));
        metadata.put(PackageFile.CONFIG, configBytes);
        JsonNode config = Manifest.parseJson(configBytes, dir.resolve(PackageFile.CONFIG), PackageFile.CONFIG);
        if (!config.isObject()) {
            throw new FormatException(dir.resolve(PackageFile.CONFIG), "expected a JSON object, found " + config.getNodeType());
        }
        JsonNode elastic = null;
        if (sources.stream().anyMatch(s -> s.name().equals(PackageFile.ELASTIC))) {
            byte[] bytes = readSmall(dir.resolve(PackageFile.ELASTIC));
            metadata.put(PackageFile.ELASTIC, bytes);
            elastic = Manifest.parseJson(bytes, dir.resolve(PackageFile.ELASTIC), "elastic metadata");
        }
        Path abs = dir.toAbsolutePath().normalize();
        String parent = abs.getFileName() == null ? "parent" : abs.getFileName().toString();
        if (parent.length() > 255 || parent.chars().anyMatch(c -> c < 0x20)) {
            throw new FormatException(dir, "cannot record the directory's name in the manifest: it is longer than 255 characters "
                    + "or holds control characters");
        }
        String zeros = "0".repeat(64);
        List<Manifest.Entry> draftEntries = new ArrayList<>();
        List<String> names = new ArrayList<>(List.of(PackageFormat.MANIFEST));
        List<Long> sizes = new ArrayList<>();
        long dataBytes = 0;
        for (Source s : sources) {
            draftEntries.add(new Manifest.Entry(s.name(), s.size(), zeros));
            names.add(s.name());
            dataBytes += s.size();
        }
        Manifest draft = new Manifest(parent, draftEntries, config, elastic);
        byte[] draftBytes = draft.toBytes();
        sizes.add((long) draftBytes.length);
        sources.forEach(s -> sizes.add(s.size()));
        TarLayout layout = TarLayout.of(names, sizes);

        Path temp = partial(target);
        progress.start("pack", dataBytes);
        try {
            try (FileChannel out = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                List<TarLayout.Slot> slots = layout.slots();
                writeSlot(out, slots.get(0), zeros, ByteBuffer.wrap(draftBytes));
                List<String> hashes = new ArrayList<>();
                for (int i = 0; i < sources.size(); i++) {
                    Source s = sources.get(i);
                    writeFully(out, ByteBuffer.wrap(TarLayout.headers(slots.get(i + 1), null)));
                    String sha = copy(s, out, progress);
                    byte[] known = metadata.get(s.name());
                    if (known != null && !sha.equals(Sha256.hex(known))) {
                        throw new IOException(s.file() + " changed while it was being packed");
                    }
                    hashes.add(sha);
                    writeFully(out, ByteBuffer.allocate(TarLayout.padding(s.size())));
                }
                writeFully(out, ByteBuffer.allocate(2 * TarLayout.BLOCK));
                if (out.position() != layout.length()) {
                    throw new IllegalStateException("wrote " + out.position() + " bytes, planned " + layout.length());
                }
                byte[] manifest = draft.withHashes(hashes).toBytes();
                if (manifest.length != draftBytes.length) {
                    throw new IllegalStateException("manifest changed length from " + draftBytes.length + " to " + manifest.length);
                }
                out.position(slots.get(0).start());
                writeSlot(out, slots.get(0), Sha256.hex(manifest), ByteBuffer.wrap(manifest));
                out.force(true);
            }
            checkTarget(target, overwrite);
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException | RuntimeException | Error e) {
            try {
                Files.deleteIfExists(temp);
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        syncDirectory(target.toAbsolutePath().getParent());
        progress.done();
        return new Result(target, sources.stream().map(Source::name).toList(), skipped(dir, sources), dataBytes, layout.length());
    }

    /** The files to pack, in package order, names checked. */
    private static List<Source> sources(Path dir) throws IOException {
        List<String> names = new ArrayList<>();
        names.add(PackageFile.CONFIG);
        if (!Files.isRegularFile(dir.resolve(PackageFile.CONFIG))) {
            throw new FormatException(dir.resolve(PackageFile.CONFIG), "config.json not found; expected a checkpoint directory");
        }
        try (TensorSource weights = Safetensors.open(dir)) {
            if (Files.exists(dir.resolve(Safetensors.INDEX_FILE), LinkOption.NOFOLLOW_LINKS)) {
                names.add(Safetensors.INDEX_FILE);
                Set<String> shards = new TreeSet<>();
                for (TensorInfo t : weights.tensors()) {
                    shards.add(t.file().getFileName().toString());
                }
                names.addAll(shards);
            } else {
                names.add(Safetensors.SINGLE_FILE);
            }
        }
        Set<String> others = new TreeSet<>();
        for (Path p : SideFiles.list(dir)) {
            others.add(p.getFileName().toString());
        }
        Path elasticTensors = dir.resolve(PackageFile.ELASTIC_TENSORS);
        if (Files.isRegularFile(elasticTensors)) {
            SafetensorsFile.open(elasticTensors).close(); // validated like the weights
            others.add(PackageFile.ELASTIC_TENSORS);
        }
        names.addAll(others);
        List<Source> out = new ArrayList<>();
        Map<String, String> seen = new HashMap<>();
        for (String name : names) {
            Path file = dir.resolve(name);
            EntryNames.problem(name).ifPresent(p -> {
                throw new FormatException(file, "cannot pack this file: " + p);
            });
            String other = seen.put(EntryNames.foldCase(name), name);
            if (other != null) {
                throw new FormatException(file, "cannot pack both " + EntryNames.quote(other) + " and " + EntryNames.quote(name)
                        + ": names may not differ only in case");
            }
            out.add(new Source(name, file, Files.size(file)));
        }
        return out;
    }

    private static List<String> skipped(Path dir, List<Source> packed) throws IOException {
        Set<String> names = new TreeSet<>();
        try (Stream<Path> s = Files.list(dir)) {
            s.forEach(p -> names.add(p.getFileName().toString() + (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) ? "/" : "")));
        }
        packed.forEach(p -> names.remove(p.name()));
        return List.copyOf(names);
    }

    private static byte[] readSmall(Path file) throws IOException {
        long size = Files.size(file);
        if (size > PackageFormat.MAX_METADATA_BYTES) {
            throw new FormatException(file, "file of " + size + " bytes is larger than the " + PackageFormat.MAX_METADATA_BYTES
                    + " bytes accepted for metadata");
        }
        return Files.readAllBytes(file);
    }

    private static String copy(Source s, FileChannel out, Progress progress) throws IOException {
        try (FileChannel in = FileChannel.open(s.file(), StandardOpenOption.READ)) {
            String sha = Sha256.copy(in, 0, s.size(), out, progress);
            if (in.size() != s.size()) {
                throw new IOException(s.file() + " changed size while it was being packed (" + s.size() + " -> " + in.size() + " bytes)");
            }
            return sha;
        } catch (EOFException e) {
            throw new IOException(s.file() + " shrank while it was being packed: " + e.getMessage(), e);
        }
    }

    private static void writeSlot(FileChannel out, TarLayout.Slot slot, String sha256, ByteBuffer data) throws IOException {
        writeFully(out, ByteBuffer.wrap(TarLayout.headers(slot, sha256)));
        writeFully(out, data);
        writeFully(out, ByteBuffer.allocate(TarLayout.padding(slot.size())));
    }

    private static void writeFully(FileChannel out, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            out.write(b);
        }
    }

    private static void checkTarget(Path target, boolean overwrite) {
        if (Files.isDirectory(target)) {
            throw new FormatException(target, "output is a directory; expected a package file name");
        }
        if (!overwrite && Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            throw new FormatException(target, "output already exists; pass --force to replace it");
        }
    }

    /** {@code .NAME.partial-RANDOM} beside {@code target}, as {@link dev.manyone.formats.AtomicFiles} names its temp files. */
    private static Path partial(Path target) throws IOException {
        Path abs = target.toAbsolutePath();
        Path parent = abs.getParent();
        if (parent == null || abs.getFileName() == null) {
            throw new FormatException(target, "expected a file name for the package");
        }
        Files.createDirectories(parent);
        byte[] r = new byte[6];
        RANDOM.nextBytes(r);
        return parent.resolve("." + abs.getFileName() + ".partial-" + HexFormat.of().formatHex(r));
    }

    /** Best effort: make the rename durable (not possible on every platform). */
    private static void syncDirectory(Path dir) {
        if (dir == null) {
            return;
        }
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | RuntimeException e) {
            // not supported here; the rename itself is still atomic
        }
    }
}
