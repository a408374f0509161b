package dev.manyone.formats;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SideFilesTest {

    @Test
    void listsAndCopiesEverythingButWeightsAndConfig(@TempDir Path root) throws Exception {
        Path from = Files.createDirectory(root.resolve("parent"));
        List<String> side = List.of("chat_template.jinja", "generation_config.json", "merges.txt", "special_tokens_map.json",
                "tokenizer.json", "tokenizer.model", "tokenizer_config.json");
        for (String name : side) {
            Files.write(from.resolve(name), (name + "\u00e9\n\0").getBytes(java.nio.charset.StandardCharsets.UTF_8));
        }
        for (String name : List.of("config.json", "model.safetensors", "model-00001-of-00002.safetensors",
                "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json", ".gitattributes",
                ".model.safetensors.partial-abc")) {
            Files.writeString(from.resolve(name), "not a side file");
        }
        Files.createDirectory(from.resolve("subdir"));
        Files.writeString(from.resolve("subdir/readme.txt"), "nested");
        Files.createSymbolicLink(from.resolve("linked.txt"), from.resolve("merges.txt"));

        assertEquals(side.stream().map(from::resolve).toList(), SideFiles.list(from));

        Path to = Files.createDirectory(root.resolve("child"));
        assertEquals(side.stream().map(to::resolve).toList(), SideFiles.copy(from, to));
        for (String name : side) {
            assertArrayEquals(Files.readAllBytes(from.resolve(name)), Files.readAllBytes(to.resolve(name)), name);
        }
        try (var s = Files.list(to)) {
            assertEquals(side.size(), s.count());
        }
    }
}
