package dev.manyone.formats.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A failing TensorData aborts the write and leaves nothing behind (and an earlier model untouched). */
class AbortTest {

    /** 4096 floats; writes {@code good} bytes, then fails with {@code failure} or stops short. */
    static TensorData failing(int good, Exception failure) {
        return new TensorData() {
            @Override
            public long byteSize() {
                return 4096 * 4;
            }

            @Override
            public void writeTo(WritableByteChannel out) throws IOException {
                out.write(ByteBuffer.allocate(good));
                if (failure instanceof IOException io) {
                    throw io;
                }
                if (failure instanceof RuntimeException re) {
                    throw re;
                }
            }
        };
    }

    static GraphBuilder graph(TensorData second) {
        GraphBuilder g = new GraphBuilder("abort", 23);
        String x = g.input("x", ElemType.FLOAT, 4096);
        String a = g.initializer("a", ElemType.FLOAT, new long[] {4096}, TensorData.ofFloats(new float[4096]));
        String b = g.initializer("b", ElemType.FLOAT, new long[] {4096}, second);
        g.output("y", ElemType.FLOAT, 4096);
        g.opNamed("", "Sum", List.of(x, a, b), List.of("y"), Attrs.none());
        return g;
    }

    static List<String> files(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void ioExceptionLeavesNoFiles(@TempDir Path dir) throws Exception {
        IOException e = assertThrows(IOException.class, () -> OnnxWriter.write(graph(failing(1000, new IOException("disk on fire"))),
                dir.resolve("m.onnx"), OnnxWriter.Options.defaults("t")));
        assertTrue(e.getMessage().contains("initializer 'b'") && e.getMessage().contains("disk on fire"), e.getMessage());
        assertEquals(List.of(), files(dir));
    }

    @Test
    void runtimeExceptionLeavesNoFiles(@TempDir Path dir) throws Exception {
        assertThrows(IOException.class, () -> OnnxWriter.write(graph(failing(0, new IllegalStateException("checkpoint closed"))),
                dir.resolve("m.onnx"), OnnxWriter.Options.defaults("t")));
        assertEquals(List.of(), files(dir));
    }

    @Test
    void shortWriteIsDetected(@TempDir Path dir) throws Exception {
        IOException e = assertThrows(IOException.class, () -> OnnxWriter.write(graph(failing(100, null)),
                dir.resolve("m.onnx"), OnnxWriter.Options.defaults("t")));
        assertTrue(e.getMessage().contains("wrote 100 bytes, its byteSize() is 16384"), e.getMessage());
        assertEquals(List.of(), files(dir));
    }

    @Test
    void failingInlineTensorLeavesNoFiles(@TempDir Path dir) {
        // both tensors inline: the failure happens while the model proto is built, after the data file is written
        assertThrows(RuntimeException.class, () -> OnnxWriter.write(graph(failing(0, new IllegalStateException("boom"))),
                dir.resolve("m.onnx"), OnnxWriter.Options.defaults("t").withExternalThresholdBytes(1 << 20)));
        assertDoesNotThrowIo(() -> assertEquals(List.of(), files(dir)));
    }

    @Test
    void earlierModelIsUntouched(@TempDir Path dir) throws Exception {
        Path onnx = dir.resolve("m.onnx");
        OnnxWriter.write(graph(TensorData.ofFloats(new float[4096])), onnx, OnnxWriter.Options.defaults("t"));
        byte[] model = Files.readAllBytes(onnx);
        byte[] data = Files.readAllBytes(dir.resolve("m.onnx.data"));
        assertThrows(IOException.class, () -> OnnxWriter.write(graph(failing(10, new IOException("x"))), onnx, OnnxWriter.Options.defaults("u")));
        assertEquals(List.of("m.onnx", "m.onnx.data"), files(dir));
        assertArrayEquals(model, Files.readAllBytes(onnx));
        assertArrayEquals(data, Files.readAllBytes(dir.resolve("m.onnx.data")));
    }

    interface IoRunnable {
        void run() throws IOException;
    }

    static void assertDoesNotThrowIo(IoRunnable r) {
        try {
            r.run();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}
