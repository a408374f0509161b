package dev.manyone.elastic;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.manyone.elastic.generate.Presets;
import dev.manyone.elastic.runtime.TokenFile;
import dev.manyone.elastic.slice.ChildSpec;
import dev.manyone.elastic.slice.Rankings;
import dev.manyone.elastic.slice.SlicePlan;
import dev.manyone.elastic.slice.SpecFiles;
import dev.manyone.formats.FormatException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Fuzzes the user-file parsers of the elastic module: config.json, child specs, rankings and token files. Only
 * {@link FormatException} (and UncheckedIOException for real I/O) may escape. Seeds: {@code
 * src/test/resources/dev/manyone/elastic/ParsersFuzzTestInputs/<method>/}; fuzz with {@code JAZZER_FUZZ=1}
 * (docs/fuzzing.md).
 */
class ParsersFuzzTest {
    private static final Path DIR;
    private static final ModelDescription TINY = ModelDescription.of(Presets.load("tiny"));

    static {
        try {
            DIR = Files.createTempDirectory("elastic-fuzz");
            DIR.toFile().deleteOnExit();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** config.json text → config → model description (layer table, parameter counts). */
    @FuzzTest(maxDuration = "2m")
    void config(byte[] data) {
        try {
            NemotronHConfig c = NemotronHConfig.parse(new String(data, StandardCharsets.UTF_8), Path.of("config.json"));
            ModelDescription m = ModelDescription.of(c);
            m.params();
            m.expectedTensors();
        } catch (FormatException | UncheckedIOException expected) {
            // documented
        }
    }

    /** A child spec file (single spec or rankings.json-shaped with children), planned against the tiny preset. */
    @FuzzTest(maxDuration = "2m")
    void childSpec(byte[] data) throws IOException {
        Path f = DIR.resolve("spec.json");
        Files.write(f, data);
        try {
            ChildSpec spec;
            try {
                spec = SpecFiles.readSpec(f, null);
            } catch (FormatException several) {
                spec = SpecFiles.readSpec(f, "a");
            }
            Rankings r = SpecFiles.rankingsIn(f, TINY).orElse(Rankings.identity(TINY));
            SlicePlan.of(TINY, spec, r, f).params();
        } catch (FormatException | UncheckedIOException expected) {
            // documented
        }
    }

    /** A rankings file (rankings.json-shaped or a bare rankings object) against the tiny preset. */
    @FuzzTest(maxDuration = "2m")
    void rankings(byte[] data) throws IOException {
        Path f = DIR.resolve("rankings.json");
        Files.write(f, data);
        try {
            Rankings r = SpecFiles.readRankings(f, TINY);
            SlicePlan.of(TINY, ChildSpec.full(), r, f);
        } catch (FormatException | UncheckedIOException expected) {
            // documented
        }
    }

    /** Token files: the first byte picks .jsonl or .safetensors, the rest is the file. */
    @FuzzTest(maxDuration = "2m")
    void tokenFile(byte[] data) throws IOException {
        boolean st = data.length > 0 && (data[0] & 1) == 1;
        Path f = DIR.resolve(st ? "tokens.safetensors" : "tokens.jsonl");
        Files.write(f, data.length > 0 ? java.util.Arrays.copyOfRange(data, 1, data.length) : data);
        try {
            TokenFile.read(f, 1000);
        } catch (FormatException | UncheckedIOException expected) {
            // documented
        }
    }
}
