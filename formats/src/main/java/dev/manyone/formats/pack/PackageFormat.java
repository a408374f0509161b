package dev.manyone.formats.pack;

/**
 * Constants of the many-in-one package, a POSIX (pax) tar file; the layout is specified in
 * {@code docs/package-format.md}:
 * <pre>
 *   .manyone-manifest.json      first; format version, every other entry with size and SHA-256, the parent's config
 *   config.json
 *   model.safetensors.index.json (sharded parents) and the shards, or model.safetensors
 *   side files                  tokenizer, generation config, rankings.json, elastic.json, … (sorted by name)
 * </pre>
 * Every entry is stored uncompressed, and its data starts at a multiple of {@value #ALIGNMENT} bytes, so a
 * safetensors entry can be memory-mapped in place.
 */
public final class PackageFormat {
    /** The {@code "format"} of the manifest. */
    public static final String FORMAT = "manyone-package";
    /** The only version this reader accepts. */
    public static final int VERSION = 1;
    /** The manifest, always the first entry. Hidden, so it never clashes with a file of the parent. */
    public static final String MANIFEST = ".manyone-manifest.json";
    /** Every entry's data starts at a multiple of this many bytes from the start of the file. */
    public static final int ALIGNMENT = 4096;
    /** The usual file name suffix (not required). */
    public static final String EXTENSION = ".manyone";
    /** The PAX record of the manifest's tar header that holds the manifest's own SHA-256. */
    public static final String MANIFEST_SHA256_KEY = "MANYONE.sha256";
    /** Largest manifest accepted (it embeds the config and elastic.json). */
    public static final long MAX_MANIFEST_BYTES = 256L << 20;
    /** Largest config.json, index or elastic.json entry read into memory. */
    public static final long MAX_METADATA_BYTES = 256L << 20;

    private PackageFormat() {
    }
}
