package dev.manyone.elastic.slice;

import dev.manyone.elastic.checkpoint.TensorReader;
import dev.manyone.formats.DType;
import dev.manyone.formats.FormatException;
import dev.manyone.formats.Safetensors;
import dev.manyone.formats.SafetensorsWriter;
import dev.manyone.formats.TensorInfo;
import dev.manyone.formats.TensorSource;
import dev.manyone.formats.TensorSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Gathers against a naive reference computed here from the raw bytes: every path of {@link SliceCopier} (long runs,
 * short runs element by element for 2- and 4-byte elements, rows larger than a block, whole tensors), and the
 * finiteness check on what is kept.
 */
class SliceCopierTest {
    @TempDir
    Path tmp;

    /** Random bytes, except that 16-bit patterns never have an all-ones exponent (so the data is finite). */
    private static byte[] randomFinite(int n, SplittableRandom r) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        for (int i = 1; i < n; i += 2) {
            b[i] &= 0x3f; // high byte of each LE 16-bit value (and of 32-bit halves): exponent never all ones
        }
        return b;
    }

    private static int[] pick(int n, double keep, SplittableRandom r) {
        return IntStream.range(0, n).filter(i -> r.nextDouble() < keep).toArray();
    }

    /** What a slice keeps, element by element from the parent's bytes. */
    private static byte[] reference(byte[] parent, int rowCount, int width, int elem, int[] rows, int[] cols) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int[] rs = rows == null ? IntStream.range(0, rowCount).toArray() : rows;
        int[] cs = cols == null ? IntStream.range(0, width).toArray() : cols;
        for (int r : rs) {
            for (int c : cs) {
                out.write(parent, (r * width + c) * elem, elem);
            }
        }
        return out.toByteArray();
    }

    private static SliceCopier.Sink collect(ByteArrayOutputStream into) {
        return chunk -> {
            byte[] b = new byte[chunk.remaining()];
            chunk.get(b);
            into.write(b, 0, b.length);
        };
    }

    private byte[] gather(TensorInfo t, TensorSlice slice) throws Exception {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        try (TensorReader reader = new TensorReader()) {
            new SliceCopier(reader).gather(t, slice, chunk -> {
                byte[] b = new byte[chunk.remaining()];
                chunk.get(b);
                got.write(b);
            });
        }
        return got.toByteArray();
    }

    @Test
    void everyPathMatchesTheReference() throws Exception {
        everyPath();
    }

    /** The same through the page cache only (file systems without direct I/O, or -Dmanyone.direct-io=false). */
    @Test
    void everyPathMatchesTheReferenceWithoutDirectIo() throws Exception {
        String before = System.getProperty(dev.manyone.formats.OutputFiles.PROPERTY);
        System.setProperty(dev.manyone.formats.OutputFiles.PROPERTY, "false");
        try {
            everyPath();
        } finally {
            if (before == null) {
                System.clearProperty(dev.manyone.formats.OutputFiles.PROPERTY);
            } else {
                System.setProperty(dev.manyone.formats.OutputFiles.PROPERTY, before);
            }
        }
    }

    private void everyPath() throws Exception {
        SplittableRandom r = new SplittableRandom(42);
        // [rows, width, elem]: block-sized rows and a row larger than a block (8 MiB) for each element size
        int[][] shapes = {{300, 1000, 2}, {300, 1000, 4}, {37, 5000, 2}, {2, (8 << 20) / 2 + 10, 2}, {40, 999, 8}};
        DType[] types = {DType.BF16, DType.F32, DType.F16, DType.BF16, DType.F64};
        Path file = tmp.resolve("p.safetensors");
        List<TensorSpec> specs = new java.util.ArrayList<>();
        byte[][] data = new byte[shapes.length][];
        for (int i = 0; i < shapes.length; i++) {
            specs.add(new TensorSpec("t" + i, types[i], new long[] {shapes[i][0], shapes[i][1]}));
            data[i] = randomFinite(shapes[i][0] * shapes[i][1] * shapes[i][2], r);
        }
        try (SafetensorsWriter w = SafetensorsWriter.create(file, specs, Map.of())) {
            for (int i = 0; i < shapes.length; i++) {
                w.write("t" + i, ByteBuffer.wrap(data[i]));
            }
            w.finish();
        }
        try (TensorSource src = Safetensors.open(file)) {
            for (int i = 0; i < shapes.length; i++) {
                TensorInfo t = src.require("t" + i);
                int rows = shapes[i][0];
                int width = shapes[i][1];
                int elem = shapes[i][2];
                // scattered (short runs), mostly kept (long runs), contiguous prefix, all columns, rows only
                int[][] colChoices = {pick(width, 0.8, r), pick(width, 0.995, r), IntStream.range(0, width / 2).toArray(), null};
                // two children in one pass: each gets what it gets alone, and the tensor is read at most once
                int[] rowsA = pick(rows, 0.5, r);
                int[] colsA = colChoices[0];
                int[] colsB = colChoices[2];
                TensorSlice a = new TensorSlice("a", "t" + i, new long[] {rowsA.length, colsA.length}, rowsA, colsA);
                TensorSlice b = new TensorSlice("b", "t" + i, new long[] {rows, colsB.length}, null, colsB);
                ByteArrayOutputStream gotA = new ByteArrayOutputStream();
                ByteArrayOutputStream gotB = new ByteArrayOutputStream();
                long read;
                try (TensorReader reader = new TensorReader()) {
                    read = new SliceCopier(reader).gatherAll(t, List.of(new SliceCopier.Part(a, collect(gotA)),
                            new SliceCopier.Part(b, collect(gotB))));
                }
                assertArrayEquals(reference(data[i], rows, width, elem, rowsA, colsA), gotA.toByteArray(), t + " child a");
                assertArrayEquals(reference(data[i], rows, width, elem, null, colsB), gotB.toByteArray(), t + " child b");
                if ((long) width * elem <= SliceCopier.BUFFER_BYTES) { // rows over a block are read per child (rare shapes)
                    assertTrue(read <= t.byteSize(), read + " bytes read of " + t.byteSize());
                }
                for (int[] cols : colChoices) {
                    for (int[] keptRows : new int[][] {null, pick(rows, 0.5, r)}) {
                        TensorSlice s = new TensorSlice("c", "t" + i, new long[] {keptRows == null ? rows : keptRows.length,
                                cols == null ? width : cols.length}, keptRows, cols);
                        assertArrayEquals(reference(data[i], rows, width, elem, keptRows, cols), gather(t, s),
                                t + " rows " + (keptRows == null ? "all" : keptRows.length) + " cols " + (cols == null ? "all" : cols.length));
                    }
                }
            }
        }
    }

    @Test
    void finiteCheckLooksOnlyAtWhatIsKept() throws Exception {
        // BF16 [4, 8]; element (2, 5) is NaN, element (3, 1) is -Inf
        byte[] bytes = randomFinite(4 * 8 * 2, new SplittableRandom(1));
        ByteBuffer b = ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putShort((2 * 8 + 5) * 2, (short) 0x7FC1);
        b.putShort((3 * 8 + 1) * 2, (short) 0xFF80);
        Path file = tmp.resolve("nan.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(file, List.of(new TensorSpec("w", DType.BF16, new long[] {4, 8})), Map.of())) {
            w.write("w", ByteBuffer.wrap(bytes));
            w.finish();
        }
        try (TensorSource src = Safetensors.open(file); TensorReader reader = new TensorReader()) {
            TensorInfo t = src.require("w");
            SliceCopier copier = new SliceCopier(reader);
            FiniteCheck check = new FiniteCheck("small");
            // rows 0, 1 and 3 without column 1: finite
            copier.gather(t, new TensorSlice("w", "w", new long[] {3, 7}, new int[] {0, 1, 3}, new int[] {0, 2, 3, 4, 5, 6, 7}),
                    check.wrap(t, c -> c.position(c.limit())));
            check.endTensor(t);
            // every row, columns 1 and 5: both bad values
            copier.gather(t, new TensorSlice("w", "w", new long[] {4, 2}, null, new int[] {1, 5}), check.wrap(t, c -> c.position(c.limit())));
            FormatException e = assertThrows(FormatException.class, () -> check.endTensor(t));
            assertTrue(e.getMessage().contains("1 NaN and 1 Inf values in what child 'small' keeps") && e.getMessage().contains("'w'"),
                    e.getMessage());
            check.endTensor(t); // counts were reset
        }
    }
}
