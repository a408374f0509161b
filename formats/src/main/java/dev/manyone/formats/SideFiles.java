package dev.manyone.formats;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * The files of a Hugging Face checkpoint directory that travel unchanged with a sliced model: tokenizer.json,
 * tokenizer_config.json, generation_config.json, special_tokens_map.json, chat_template.jinja, *.txt, custom code, …
 * That is every regular file directly in the directory (not recursive, no hidden files such as our own
 * {@code .x.partial-*} temp files) except {@code config.json}, which the slicer rewrites, and weights:
 * {@code *.safetensors} and {@code *.safetensors.index.json}, and the weights of other formats ({@code *.bin},
 * {@code *.bin.index.json}, {@code *.pt}, {@code *.pth}, {@code *.ckpt}, {@code *.h5}, {@code *.msgpack},
 * {@code *.gguf}, {@code *.onnx}, {@code *.onnx_data}), which describe the parent, not the child.
 * <p>
 * A symbolic link to a regular file counts as that file and is copied as its content: a Hugging Face cache snapshot
 * ({@code models--org--name/snapshots/<rev>/}) holds nothing but links into {@code blobs/}. Links to directories and
 * dangling links are not side files.
 */
public final class SideFiles {
    private static final List<String> WEIGHT_SUFFIXES = List.of(".safetensors", ".safetensors.index.json", ".bin",
            ".bin.index.json", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".gguf", ".onnx", ".onnx_data");

    private SideFiles() {
    }

    /** The side files of {@code checkpointDir}, sorted by name. */
    public static List<Path> list(Path checkpointDir) throws IOException {
        List<Path> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(checkpointDir)) {
            s.filter(p -> Files.isRegularFile(p)) // follows links
                    .filter(p -> isSideFile(p.getFileName().toString()))
                    .sorted()
                    .forEach(out::add);
        }
        return out;
    }

    static boolean isSideFile(String name) {
        if (name.startsWith(".") || name.equals("config.json")) {
            return false;
        }
        String lower = name.toLowerCase(Locale.ROOT);
        for (String suffix : WEIGHT_SUFFIXES) {
            if (lower.endsWith(suffix)) {
                return false;
            }
        }
        return true;
    }

    /**
     * Copies the side files of {@code fromDir} byte for byte into {@code toDir} (replacing same-named files; a link's
     * target content, never the link); returns the copies.
     */
    public static List<Path> copy(Path fromDir, Path toDir) throws IOException {
        List<Path> copies = new ArrayList<>();
        for (Path p : list(fromDir)) {
            Path dest = toDir.resolve(p.getFileName().toString());
            Files.copy(p, dest, StandardCopyOption.REPLACE_EXISTING);
            copies.add(dest);
        }
        return copies;
    }
}
