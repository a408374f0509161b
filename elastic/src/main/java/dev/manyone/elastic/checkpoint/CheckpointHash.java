package dev.manyone.elastic.checkpoint;

import dev.manyone.formats.TensorInfo;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Set;
import java.util.TreeSet;

/**
 * The SHA-256 that identifies a checkpoint in provenance metadata: over config.json, then each weight file in name
 * order (file name, then its bytes). Reads every byte once with a 4 MiB buffer.
 */
public final class CheckpointHash {
    private CheckpointHash() {
    }

    public static String sha256(Checkpoint checkpoint) {
        Set<Path> files = new TreeSet<>();
        files.add(checkpoint.dir().resolve("config.json"));
        for (TensorInfo t : checkpoint.tensors().tensors()) {
            files.add(t.file());
        }
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            ByteBuffer buf = ByteBuffer.allocateDirect(4 << 20);
            for (Path f : files) {
                sha.update(f.getFileName().toString().getBytes(StandardCharsets.UTF_8));
                try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
                    while (ch.read(buf.clear()) > 0) {
                        sha.update(buf.flip());
                    }
                }
            }
            return HexFormat.of().formatHex(sha.digest());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
