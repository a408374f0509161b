package dev.manyone.elastic.generate;

import dev.manyone.elastic.NemotronHConfig;
import dev.manyone.formats.FormatException;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Named model shapes for {@code manyone generate --preset NAME}. The configs live in {@code test-data/presets/}
 * and are bundled as resources:
 * <ul>
 *   <li>{@code tiny} — the shape of the golden tiny-hybrid (310,304 parameters), for unit tests;</li>
 *   <li>{@code example} — the README's example parent (a few million parameters);</li>
 *   <li>{@code nano-v2-12b}, {@code nano-v2-9b} — the published Nemotron Nano V2 shapes (12.31B / 8.89B
 *       parameters), benchmark inputs for the scale work;</li>
 *   <li>{@code moe-example} — a small Nemotron 3 style MoE model (16 experts, top-2, shared expert);</li>
 *   <li>{@code nemotron-3-nano-30b-a3b} — the published NVIDIA-Nemotron-3-Nano-30B-A3B shape (31.58B total, 3.58B
 *       active parameters per token; BF16 with F32 router correction biases).</li>
 * </ul>
 */
public final class Presets {
    public static final List<String> NAMES = List.of("tiny", "example", "nano-v2-9b", "nano-v2-12b", "moe-example",
            "nemotron-3-nano-30b-a3b");

    private Presets() {
    }

    public static NemotronHConfig load(String name) {
        if (!NAMES.contains(name)) {
            throw new FormatException(null, "unknown preset '" + name + "'; expected one of " + String.join(", ", NAMES));
        }
        String resource = "/dev/manyone/elastic/presets/" + name + ".json";
        try (InputStream in = Presets.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("preset resource missing from the build: " + resource);
            }
            return NemotronHConfig.parse(new String(in.readAllBytes(), StandardCharsets.UTF_8), null);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
