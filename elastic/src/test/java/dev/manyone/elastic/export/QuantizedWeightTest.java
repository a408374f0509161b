package dev.manyone.elastic.export;

import dev.manyone.formats.onnx.TensorData;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Streaming quantization: the same bytes whether the scales are kept between the two writes or recomputed. */
class QuantizedWeightTest {
    static final int ROWS = 7;
    static final int K = 70;                    // not a multiple of the block: padded blocks

    static byte[] bytes(TensorData d) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        d.writeTo(Channels.newChannel(out));
        assertEquals(d.byteSize(), out.size());
        return out.toByteArray();
    }

    @Test
    void cachedAndRecomputedScalesGiveTheSameBytes() throws IOException {
        float[] w = new float[ROWS * K];
        SplittableRandom r = new SplittableRandom(3);
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) r.nextGaussian();
        }
        ByteBuffer fp32 = ByteBuffer.allocate(w.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        fp32.asFloatBuffer().put(w);
        AtomicInteger reads = new AtomicInteger();
        WeightSource source = (name, fp16) -> {
            reads.incrementAndGet();
            return TensorData.of(fp32);
        };
        BlockQuantizer q = new BlockQuantizer(4, 32);
        QuantizedWeight cached = new QuantizedWeight(source, "w", ROWS, K, q);
        byte[] codes = bytes(cached.codes(true));
        byte[] scales = bytes(cached.scales());
        assertEquals(1, reads.get(), "the scales come from the codes' pass");

        QuantizedWeight recomputed = new QuantizedWeight(source, "w", ROWS, K, q, 0);
        reads.set(0);
        assertArrayEquals(codes, bytes(recomputed.codes(true)));
        assertArrayEquals(scales, bytes(recomputed.scales()));
        assertEquals(2, reads.get(), "without the cache the scales read the weight again");
        assertArrayEquals(scales, bytes(cached.scales()), "a second write of the scales recomputes them");

        // the first row against the quantizer directly
        float[] row = new float[K];
        System.arraycopy(w, 0, row, 0, K);
        float[] s = new float[3];
        byte[] packed = new byte[(int) q.paddedRowBytes(K)];
        q.scales(row, K, s, 0);
        q.pack(row, K, s, 0, packed, 0);
        assertEquals(ROWS * 3 * 4, scales.length);
        assertEquals(s[2], ByteBuffer.wrap(scales).order(ByteOrder.LITTLE_ENDIAN).getFloat(8));
        assertArrayEquals(packed, java.util.Arrays.copyOf(codes, packed.length));
        assertEquals(ROWS * q.rowBytes(K), bytes(cached.codes(false)).length, "unpadded rows for GatherBlockQuantized");
    }
}
