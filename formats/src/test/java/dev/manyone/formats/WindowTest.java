package dev.manyone.formats;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Tiny mapping windows (tensors spread over many windows, big tensors mapped per range) must read the same bytes. */
class WindowTest {

    @Test
    void mappingsAreReleasedEagerly() {
        assertTrue(Unmapper.available(), "sun.misc.Unsafe.invokeCleaner reachable on this JDK");
    }

    @ParameterizedTest
    @ValueSource(longs = {1024, 70_000, 200_000})
    void tinyWindowsReadTheSameBytes(long limit) throws Exception {
        for (String name : new String[] {"tiny-hybrid/model.safetensors", "trained-hybrid/model.safetensors", "tiny-hybrid/golden.safetensors"}) {
            Path path = TestFiles.golden().resolve(name);
            byte[] file = Files.readAllBytes(path);
            Random random = new Random(limit);
            try (SafetensorsFile small = (SafetensorsFile) Safetensors.open(path, limit);
                 TensorSource plain = Safetensors.open(path)) {
                if (name.endsWith("model.safetensors")) {
                    assertTrue(small.windowCount() > 1, "several windows at limit " + limit);
                }
                if (limit == 1024) {
                    assertTrue(small.tensors().stream().anyMatch(t -> t.byteSize() > limit), "some tensor exceeds the window");
                }
                for (TensorInfo t : small.tensors()) {
                    byte[] expected = Arrays.copyOfRange(file, (int) t.offset(), (int) (t.offset() + t.byteSize()));
                    assertArrayEquals(expected, TestFiles.toArray(small.bytes(t)), t.name());
                    assertArrayEquals(TestFiles.toArray(plain.bytes(t)), TestFiles.toArray(small.bytes(t)), t.name());
                    int off = random.nextInt((int) t.byteSize());
                    int len = random.nextInt((int) t.byteSize() - off + 1);
                    assertArrayEquals(Arrays.copyOfRange(expected, off, off + len), TestFiles.toArray(small.bytes(t, off, len)));
                    if (t.dtype().isFloatingPoint()) {
                        assertArrayEquals(plain.readFloats(t), small.readFloats(t), t.name());
                    }
                    ByteArrayOutputStream out = new ByteArrayOutputStream();
                    small.copyTo(t, Channels.newChannel(out));
                    assertArrayEquals(expected, out.toByteArray());
                }
                assertEquals(plain.tensors(), small.tensors());
            }
        }
    }
}
