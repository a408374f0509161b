package dev.manyone.formats;

import static dev.manyone.formats.TestFiles.assertFormat;
import static dev.manyone.formats.TestFiles.bytes;
import static dev.manyone.formats.TestFiles.openAndClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A hand-built two-shard checkpoint (s1: a, b; s2: c) and every way its index can be wrong. */
class ShardedCheckpointTest {
    private static final String S1 = "model-00001-of-00002.safetensors";
    private static final String S2 = "model-00002-of-00002.safetensors";

    @TempDir
    Path root;
    Path dir;
    Path index;

    @BeforeEach
    void shards() throws Exception {
        dir = Files.createDirectory(root.resolve("ckpt"));
        index = dir.resolve("model.safetensors.index.json");
        TestFiles.write(dir.resolve(S1), "{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[8,14]}}", bytes(14));
        TestFiles.write(dir.resolve(S2), "{\"c\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}", bytes(4));
    }

    private void index(String weightMap) throws Exception {
        Files.writeString(index, "{\"metadata\": {\"total_size\": 18}, \"weight_map\": {" + weightMap + "}}");
    }

    private static String entry(String tensor, String file) {
        return "\"" + tensor.replace("\\", "\\\\") + "\": \"" + file.replace("\\", "\\\\") + "\"";
    }

    private static final String VALID = entry("a", S1) + ", " + entry("b", S1) + ", " + entry("c", S2);

    @Test
    void opensValidCheckpoint() throws Exception {
        index(VALID);
        try (TensorSource src = Safetensors.open(dir)) {
            assertInstanceOf(ShardedCheckpoint.class, src);
            assertEquals(dir, src.location());
            assertEquals(List.of("a", "b", "c"), src.tensors().stream().map(TensorInfo::name).toList());
            assertEquals(dir.resolve(S2), src.require("c").file());
            assertArrayEquals(Arrays.copyOfRange(bytes(14), 8, 14), TestFiles.toArray(src.bytes(src.require("b"))));
            assertArrayEquals(bytes(4), TestFiles.toArray(src.bytes(src.require("c"))));
            assertEquals(Map.of("format", "pt"), src.metadata());
            assertEquals(18, src.totalBytes());
        }
    }

    @Test
    void missingShard() throws Exception {
        index(VALID + ", " + entry("d", "model-00003-of-00003.safetensors"));
        assertFormat(index, "d", () -> openAndClose(dir), "shard 'model-00003-of-00003.safetensors'", "does not exist");
    }

    @Test
    void tensorInIndexButNotInShard() throws Exception {
        index(VALID + ", " + entry("d", S2));
        assertFormat(index, "d", () -> openAndClose(dir), "listed in the index under shard '" + S2 + "'", "no such tensor");
    }

    @Test
    void tensorInShardButNotInIndex() throws Exception {
        index(entry("a", S1) + ", " + entry("c", S2));
        assertFormat(dir.resolve(S1), "b", () -> openAndClose(dir), "in shard '" + S1 + "' but not listed in " + index);
    }

    @Test
    void tensorInTwoShards() throws Exception {
        TestFiles.write(dir.resolve(S2), "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"c\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[8,12]}}", bytes(12));
        index(VALID);
        assertFormat(dir.resolve(S2), "a", () -> openAndClose(dir), "two shards", S1, S2);
    }

    @Test
    void pathTraversalRejected() throws Exception {
        // a real file outside the checkpoint, so a reader that followed the path would succeed
        TestFiles.write(root.resolve("evil.safetensors"), "{\"c\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}", bytes(4));
        String absolute = root.resolve("evil.safetensors").toAbsolutePath().toString();
        for (String bad : List.of("../evil.safetensors", absolute, "sub/x.safetensors", "..\\evil.safetensors", "..", ".", "")) {
            index(entry("a", S1) + ", " + entry("b", S1) + ", " + entry("c", bad));
            assertFormat(index, "c", () -> openAndClose(dir), "is not a plain file name");
        }
    }

    @Test
    void malformedIndex() throws Exception {
        Files.writeString(index, "{\"weight_map\": {\"a\": \"" + S1 + "\", \"a\": \"" + S1 + "\"}}");
        assertFormat(index, null, () -> openAndClose(dir), "not valid JSON", "Duplicate field 'a'");
        Files.writeString(index, "{\"metadata\": {}}");
        assertFormat(index, null, () -> openAndClose(dir), "\"weight_map\" to be an object", "found nothing");
        Files.writeString(index, "{\"weight_map\": {\"a\": 1}}");
        assertFormat(index, "a", () -> openAndClose(dir), "shard file name to be a string");
        Files.writeString(index, "{\"weight_map\": {}}");
        assertFormat(index, null, () -> openAndClose(dir), "is empty");
    }

    @Test
    void badShardIsReportedWithItsPath() throws Exception {
        index(VALID);
        Files.write(dir.resolve(S2), new byte[3]);
        assertFormat(dir.resolve(S2), null, () -> openAndClose(dir), "file is 3 bytes");
        assertTrue(Files.exists(dir.resolve(S1)));
    }
}
