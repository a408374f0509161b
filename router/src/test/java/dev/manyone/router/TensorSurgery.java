package dev.manyone.router;

import com.fasterxml.jackson.databind.JsonNode;
import dev.manyone.formats.DType;
import dev.manyone.formats.SafetensorsWriter;
import dev.manyone.formats.TensorSpec;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/** Rewrites a safetensors file with edits: for damaging elastic.safetensors in tests. */
final class TensorSurgery {
    record Tensor(DType dtype, long[] shape, ByteBuffer bytes) {
    }

    private TensorSurgery() {
    }

    static void edit(Path file, Consumer<Map<String, Tensor>> edit) throws IOException {
        RawSafetensors raw = RawSafetensors.read(file);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : raw.header().properties()) {
            if (e.getKey().equals("__metadata__")) {
                continue;
            }
            DType t = DType.fromSafetensors(e.getValue().get("dtype").asText()).orElseThrow();
            ByteBuffer b = ByteBuffer.allocate(0);
            if (t == DType.F32) {
                float[] f = raw.f32(e.getKey());
                b = ByteBuffer.allocate(f.length * 4).order(ByteOrder.LITTLE_ENDIAN);
                b.asFloatBuffer().put(f);
            } else {
                int[] i = raw.i32(e.getKey());
                b = ByteBuffer.allocate(i.length * 4).order(ByteOrder.LITTLE_ENDIAN);
                b.asIntBuffer().put(i);
            }
            tensors.put(e.getKey(), new Tensor(t, raw.shape(e.getKey()), b));
        }
        edit.accept(tensors);
        List<TensorSpec> plan = new ArrayList<>();
        tensors.forEach((n, t) -> plan.add(new TensorSpec(n, t.dtype(), t.shape())));
        try (SafetensorsWriter w = SafetensorsWriter.create(file, plan, Map.of())) {
            for (var e : tensors.entrySet()) {
                w.write(e.getKey(), e.getValue().bytes().duplicate());
            }
            w.finish();
        }
    }

    static Tensor ints(int... v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asIntBuffer().put(v);
        return new Tensor(DType.I32, new long[] {v.length}, b);
    }

    static Tensor floats(long[] shape, float... v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        return new Tensor(DType.F32, shape, b);
    }

    static int[] intsOf(Tensor t) {
        int[] out = new int[(int) t.shape()[0]];
        t.bytes().duplicate().order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(out);
        return out;
    }

    static float[] floatsOf(Tensor t) {
        float[] out = new float[t.bytes().capacity() / 4];
        t.bytes().duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
        return out;
    }
}
