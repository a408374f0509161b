package dev.manyone.formats.pack;

import dev.manyone.formats.Progress;
import dev.manyone.formats.TensorInfo;
import dev.manyone.formats.TensorSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Packing, unpacking and reading never hold a shard in memory, whatever the heap: the bytes this thread allocates on
 * the heap while packing a parent with one 96 MiB shard stay far below the shard's size (they are counted by the JVM,
 * independent of -Xmx), and reading the package maps the shard in place.
 */
class StreamingTest {
    static final long SHARD = 96L << 20;

    @TempDir
    Path tmp;

    private static long allocated(Callable<?> work) throws Exception {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long id = Thread.currentThread().getId();
        long before = mx.getThreadAllocatedBytes(id);
        work.call();
        return mx.getThreadAllocatedBytes(id) - before;
    }

    @Test
    void packUnpackAndReadAllocateFarLessThanTheShard() throws Exception {
        Path dir = tmp.resolve("parent");
        Files.createDirectories(dir);
        Files.copy(Fixtures.golden().resolve("config.json"), dir.resolve("config.json"));
        Fixtures.tensorFile(dir.resolve("model.safetensors"), "big", SHARD);
        Path pkg = tmp.resolve("p.manyone");
        allocated(() -> PackageWriter.pack(dir, tmp.resolve("warm-up.manyone"), false, Progress.NONE));

        long pack = allocated(() -> PackageWriter.pack(dir, pkg, false, Progress.NONE));
        assertTrue(pack < SHARD / 8, "packing allocated " + pack + " heap bytes for a " + SHARD + "-byte shard");

        long[] sum = new long[1];
        long read = allocated(() -> {
            try (TensorSource t = PackageFile.open(pkg).tensors()) {
                TensorInfo big = t.require("big");
                assertEquals(pkg, big.file());
                ByteBuffer view = t.bytes(big);
                assertTrue(view.isDirect());
                for (int i = 0; i < view.limit(); i += 4096) {
                    sum[0] += view.get(i);
                }
            }
            return null;
        });
        assertTrue(read < SHARD / 8, "reading allocated " + read + " heap bytes");
        long expected = 0;
        for (long i = 0; i < SHARD; i += 4096) {
            expected += (byte) (i * 31 + 7);
        }
        assertEquals(expected, sum[0], "the mapped bytes are the shard's");

        long unpack = allocated(() -> Unpacker.unpack(pkg, tmp.resolve("out"), false, Progress.NONE));
        assertTrue(unpack < SHARD / 8, "unpacking allocated " + unpack + " heap bytes");
        assertEquals(-1L, Files.mismatch(dir.resolve("model.safetensors"), tmp.resolve("out/model.safetensors")));

        long verify = allocated(() -> PackageVerifier.verify(PackageFile.open(pkg), Progress.NONE));
        assertTrue(verify < SHARD / 8, "verifying allocated " + verify + " heap bytes");
    }
}
