package dev.manyone.router;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.manyone.elastic.ModelDescription;
import dev.manyone.formats.FormatException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Fuzzes a parent's elastic metadata (elastic.json + elastic.safetensors) as {@link ElasticFiles#read} sees it,
 * validated against the tiny preset, then lists every trained budget (router decisions). Only {@link FormatException} (and
 * UncheckedIOException for real I/O) may escape. Input layout (so seeds can be built from real files): u32 LE
 * length of elastic.json, its bytes, then elastic.safetensors. Seeds: {@code
 * src/test/resources/dev/manyone/router/ElasticMetadataFuzzTestInputs/read/}.
 */
class ElasticMetadataFuzzTest {
    private static final Path DIR;
    private static final ModelDescription TINY = Parents.tinyModel();

    static {
        try {
            DIR = Files.createTempDirectory("elastic-metadata-fuzz");
            DIR.toFile().deleteOnExit();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @FuzzTest(maxDuration = "2m")
    void read(byte[] data) throws IOException {
        ByteBuffer in = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        int n = in.remaining() >= 4 ? (int) Math.min(in.getInt() & 0xffffffffL, in.remaining()) : 0;
        byte[] json = new byte[n];
        in.get(json);
        byte[] tensors = new byte[in.remaining()];
        in.get(tensors);
        Files.write(DIR.resolve(ElasticFiles.JSON), json);
        Files.write(DIR.resolve(ElasticFiles.SAFETENSORS), tensors);
        try {
            ElasticMetadata m = ElasticFiles.read(DIR, TINY);
            Budgets.trained(m, TINY, Budgets.Options.defaults());
            ElasticFiles.json(m);
        } catch (FormatException | UncheckedIOException expected) {
            // documented
        }
    }
}
