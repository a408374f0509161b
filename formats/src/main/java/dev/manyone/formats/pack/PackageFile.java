package dev.manyone.formats.pack;

import com.fasterxml.jackson.databind.JsonNode;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.Safetensors;
import dev.manyone.formats.SafetensorsFile;
import dev.manyone.formats.ShardedCheckpoint;
import dev.manyone.formats.TensorSource;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * An opened, validated package (see {@link PackageFormat} and docs/package-format.md). {@link #open} reads only
 * headers and metadata; the weights are mapped in place by {@link #tensors()}. Refused with a FormatException, before
 * anything is returned: a file that is not a tar archive or whose first entry is not the manifest; a manifest whose
 * own SHA-256 (in its tar header) does not match, that is not valid, or whose format version is not
 * {@value PackageFormat#VERSION}; an entry that runs past the end of the file (naming it); links, directories,
 * devices, FIFOs, sparse files or any entry that is not a plain regular file; unsafe names (absolute, {@code ..},
 * separators, see {@link EntryNames}); duplicate names; entries the manifest does not list, or in another order, with
 * another size or at another offset; bytes after the end of the archive; damaged tar headers or padding (every byte
 * between the entries' data must be what {@link TarLayout} writes); and a config.json, index or elastic.json
 * whose SHA-256 does not match or that disagrees with the manifest. The SHA-256 of the other entries is checked by
 * {@link PackageVerifier} (and whenever an entry is copied out).
 */
public final class PackageFile {
    /** Parent files that describe its elasticity; side files like the others, but also summarised in the manifest. */
    public static final String ELASTIC = "elastic.json";
    /** The elastic parent's rankings and router weights (beside elastic.json); packed, never a side file. */
    public static final String ELASTIC_TENSORS = "elastic.safetensors";
    public static final String CONFIG = "config.json";

    private final Path path;
    private final PackageEntry manifestEntry;
    private final Manifest manifest;
    private final List<PackageEntry> entries;
    private final Map<String, PackageEntry> byName;
    private final byte[] config;

    private PackageFile(Path path, PackageEntry manifestEntry, Manifest manifest, List<PackageEntry> entries, byte[] config) {
        this.path = path;
        this.manifestEntry = manifestEntry;
        this.manifest = manifest;
        this.entries = List.copyOf(entries);
        this.byName = new LinkedHashMap<>();
        for (PackageEntry e : entries) {
            byName.put(e.name(), e);
        }
        this.config = config;
    }

    /** Opens and validates {@code path}; FormatException for anything listed above, UncheckedIOException on I/O failure. */
    public static PackageFile open(Path path) {
        try {
            return read(path);
        } catch (IOException e) {
            throw new UncheckedIOException(path + ": " + e.getMessage(), e);
        }
    }

    private static PackageFile read(Path path) throws IOException {
        if (!Files.isRegularFile(path)) {
            throw new FormatException(path, Files.exists(path) ? "expected a package file, found a directory or special file"
                    : "no such file; expected a package file");
        }
        long length = Files.size(path);
        ArchiveChecks.FirstEntry first = ArchiveChecks.readManifest(path, length);
        Manifest manifest = Manifest.parse(first.bytes(), path.resolve(PackageFormat.MANIFEST));
        List<String> names = new ArrayList<>(List.of(PackageFormat.MANIFEST));
        List<Long> sizes = new ArrayList<>(List.of((long) first.bytes().length));
        for (Manifest.Entry e : manifest.entries()) {
            if (e.name().equals(PackageFormat.MANIFEST)) {
                throw new FormatException(path, "the manifest lists itself as an entry");
            }
            names.add(e.name());
            sizes.add(e.size());
        }
        TarLayout layout;
        try {
            layout = TarLayout.of(names, sizes);
        } catch (ArithmeticException e) {
            throw new FormatException(path, "the manifest lists entries whose sizes add up to more than a file can hold");
        }
        List<TarArchiveEntry> archive;
        try {
            archive = ArchiveChecks.scan(path);
        } catch (FormatException notTar) {
            ArchiveChecks.checkLength(path, layout, length); // a truncated package: name the entry that was cut
            throw notTar;
        }
        ArchiveChecks.checkEntries(path, archive, manifest);
        ArchiveChecks.checkMissing(path, archive, layout, length);
        ArchiveChecks.checkLength(path, layout, length);
        ArchiveChecks.checkAgreement(path, archive, layout, length);
        ArchiveChecks.checkFraming(path, layout, first.sha256());
        List<PackageEntry> entries = new ArrayList<>();
        for (int i = 1; i < layout.slots().size(); i++) {
            TarLayout.Slot s = layout.slots().get(i);
            Manifest.Entry m = manifest.entries().get(i - 1);
            entries.add(new PackageEntry(path, s.name(), s.dataOffset(), s.size(), m.sha256()));
        }
        TarLayout.Slot ms = layout.slots().get(0);
        PackageEntry manifestEntry = new PackageEntry(path, PackageFormat.MANIFEST, ms.dataOffset(), ms.size(), first.sha256());
        return new PackageFile(path, manifestEntry, manifest, entries, checkMetadata(path, manifest, entries));
    }

    /** Checks config.json, the index and elastic.json against their SHA-256 and the manifest; returns config.json. */
    private static byte[] checkMetadata(Path path, Manifest manifest, List<PackageEntry> entries) throws IOException {
        Map<String, PackageEntry> byName = new HashMap<>();
        entries.forEach(e -> byName.put(e.name(), e));
        PackageEntry configEntry = Optional.ofNullable(byName.get(CONFIG)).orElseThrow(() -> new FormatException(path, "the package has no " + CONFIG + " entry"));
        byte[] configBytes = configEntry.readVerified(PackageFormat.MAX_METADATA_BYTES);
        JsonNode parsed = Manifest.parseJson(configBytes, configEntry.label(), CONFIG);
        if (!parsed.equals(manifest.config())) {
            throw new FormatException(path, "the manifest's \"config\" disagrees with entry '" + CONFIG + "'");
        }
        PackageEntry index = byName.get(Safetensors.INDEX_FILE);
        if (index != null) {
            index.readVerified(PackageFormat.MAX_METADATA_BYTES);
        }
        Optional<PackageEntry> elastic = Optional.ofNullable(byName.get(ELASTIC));
        if (elastic.isPresent() != manifest.elasticMetadata().isPresent()) {
            throw new FormatException(path, elastic.isPresent() ? "the package has an " + ELASTIC + " entry but the manifest has no \"elastic\""
                    : "the manifest has \"elastic\" but the package has no " + ELASTIC + " entry");
        }
        if (elastic.isPresent()) {
            byte[] bytes = elastic.get().readVerified(PackageFormat.MAX_METADATA_BYTES);
            if (!Manifest.parseJson(bytes, elastic.get().label(), ELASTIC).equals(manifest.elastic())) {
                throw new FormatException(path, "the manifest's \"elastic\" disagrees with entry '" + ELASTIC + "'");
            }
        }
        return configBytes;
    }

    public Path path() {
        return path;
    }

    public Manifest manifest() {
        return manifest;
    }

    /** The manifest as an entry (its SHA-256 is the one its tar header records). */
    public PackageEntry manifestEntry() {
        return manifestEntry;
    }

    /** Every entry but the manifest, in archive order. */
    public List<PackageEntry> entries() {
        return entries;
    }

    public Optional<PackageEntry> entry(String name) {
        return Optional.ofNullable(byName.get(name));
    }

    /** config.json, as stored (already checked against its SHA-256). */
    public String configText() {
        return new String(config, StandardCharsets.UTF_8);
    }

    /**
     * The entries that are neither config.json nor weights ({@code *.safetensors}, {@code *.safetensors.index.json}):
     * tokenizer, generation config, rankings.json, elastic.json, … in archive order.
     */
    public List<PackageEntry> sideEntries() {
        List<PackageEntry> out = new ArrayList<>();
        for (PackageEntry e : entries) {
            String lower = e.name().toLowerCase(Locale.ROOT);
            if (!e.name().equals(CONFIG) && !lower.endsWith(".safetensors") && !lower.endsWith(".safetensors.index.json")) {
                out.add(e);
            }
        }
        return out;
    }

    /**
     * A JSON entry (elastic.json, rankings.json, …) parsed as the parent's JSON files are (bare Infinity accepted,
     * duplicate keys refused), checked against its SHA-256; empty if the package has no such entry.
     */
    public Optional<JsonNode> readJson(String name) {
        Optional<PackageEntry> e = entry(name);
        if (e.isEmpty()) {
            return Optional.empty();
        }
        try {
            return Optional.of(Manifest.parseJson(e.get().readVerified(PackageFormat.MAX_METADATA_BYTES), e.get().label(), name));
        } catch (IOException x) {
            throw new UncheckedIOException(x);
        }
    }

    /** Any safetensors entry (e.g. {@value #ELASTIC_TENSORS}), validated and mapped in place; the caller closes it. */
    public SafetensorsFile openSafetensors(String name) {
        PackageEntry e = entry(name).orElseThrow(() -> new FormatException(path, "the package has no entry " + EntryNames.quote(name)));
        return SafetensorsFile.open(path, e.offset(), e.size(), e.label());
    }

    /**
     * The weights, memory-mapped in place (no byte is copied): {@value Safetensors#INDEX_FILE} and the shards it names,
     * or {@value Safetensors#SINGLE_FILE}; validated as {@link Safetensors#open} validates a directory. The caller
     * closes the source.
     */
    public TensorSource tensors() {
        Optional<PackageEntry> index = entry(Safetensors.INDEX_FILE);
        Optional<PackageEntry> single = entry(Safetensors.SINGLE_FILE);
        if (index.isPresent() && single.isPresent()) {
            throw new FormatException(path, "the package holds both " + Safetensors.INDEX_FILE + " and " + Safetensors.SINGLE_FILE
                    + "; expected exactly one of them");
        }
        if (single.isPresent()) {
            PackageEntry e = single.get();
            return SafetensorsFile.open(path, e.offset(), e.size(), e.label());
        }
        if (index.isEmpty()) {
            throw new FormatException(path, "the package holds neither " + Safetensors.INDEX_FILE + " nor " + Safetensors.SINGLE_FILE);
        }
        byte[] indexBytes;
        try {
            indexBytes = index.get().readVerified(PackageFormat.MAX_METADATA_BYTES);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return ShardedCheckpoint.open(path, index.get().label(), indexBytes, new ShardedCheckpoint.ShardStore() {
            @Override
            public boolean contains(String file) {
                return byName.containsKey(file) && file.endsWith(".safetensors");
            }

            @Override
            public SafetensorsFile open(String file) {
                PackageEntry e = byName.get(file);
                return SafetensorsFile.open(path, e.offset(), e.size(), e.label());
            }
        });
    }
}
