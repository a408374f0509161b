package dev.manyone.formats;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SideFilesTest {

    @Test
    void listsAndCopiesEverythingButWeightsAndConfig(@TempDir Path root) throws Exception {
        Path from = Files.createDirectory(root.resolve("parent"));
        List<String> side = List.of("chat_template.jinja", "generation_config.json", "linked.txt", "merges.txt",
                "special_tokens_map.json", "tokenizer.json", "tokenizer.model", "tokenizer_config.json");
        for (String name : side.stream().filter(n -> !n.equals("linked.txt")).toList()) {
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
        Files.createSymbolicLink(from.resolve("dangling.json"), from.resolve("missing.json"));
        Files.createSymbolicLink(from.resolve("dirlink"), from.resolve("subdir"));

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

    /** A Hugging Face cache snapshot: every file is a link into blobs/; the copies are regular files with the blobs' bytes. */
    @Test
    void followsLinksToRegularFilesAsInAHuggingFaceCacheSnapshot(@TempDir Path root) throws Exception {
        Path blobs = Files.createDirectories(root.resolve("models--org--m/blobs"));
        Path snapshot = Files.createDirectories(root.resolve("models--org--m/snapshots/0123abc"));
        Files.writeString(blobs.resolve("a1"), "{\"model_max_length\": 8}\n");
        Files.writeString(blobs.resolve("b2"), "tokenizer bytes");
        Files.createSymbolicLink(snapshot.resolve("tokenizer_config.json"), Path.of("../../blobs/a1"));
        Files.createSymbolicLink(snapshot.resolve("tokenizer.json"), Path.of("../../blobs/b2"));
        Files.createSymbolicLink(snapshot.resolve("config.json"), Path.of("../../blobs/a1"));

        assertEquals(List.of(snapshot.resolve("tokenizer.json"), snapshot.resolve("tokenizer_config.json")), SideFiles.list(snapshot));
        Path to = Files.createDirectory(root.resolve("child"));
        SideFiles.copy(snapshot, to);
        for (String name : List.of("tokenizer.json", "tokenizer_config.json")) {
            assertFalse(Files.isSymbolicLink(to.resolve(name)), name + " is copied, not linked");
            assertArrayEquals(Files.readAllBytes(snapshot.resolve(name)), Files.readAllBytes(to.resolve(name)), name);
        }
    }
}
