package dev.manyone.formats.onnx;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import dev.manyone.formats.BackgroundWriter;
import dev.manyone.formats.OutputFiles;
import dev.manyone.formats.onnx.GraphBuilder.Initializer;
import dev.manyone.formats.onnx.GraphBuilder.Node;
import dev.manyone.formats.onnx.GraphBuilder.ValueInfo;
import dev.manyone.formats.onnx.proto.Onnx.AttributeProto;
import dev.manyone.formats.onnx.proto.Onnx.GraphProto;
import dev.manyone.formats.onnx.proto.Onnx.ModelProto;
import dev.manyone.formats.onnx.proto.Onnx.NodeProto;
import dev.manyone.formats.onnx.proto.Onnx.OperatorSetIdProto;
import dev.manyone.formats.onnx.proto.Onnx.StringStringEntryProto;
import dev.manyone.formats.onnx.proto.Onnx.TensorProto;
import dev.manyone.formats.onnx.proto.Onnx.TensorShapeProto;
import dev.manyone.formats.onnx.proto.Onnx.TypeProto;
import dev.manyone.formats.onnx.proto.Onnx.ValueInfoProto;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Writes a {@link GraphBuilder} as an ONNX model file plus, for large initializers, one external data file.
 *
 * <p>External data follows the ONNX spec (onnx.in.proto, TensorProto.external_data): "location" (required) is a
 * "POSIX filesystem path relative to the directory where the ONNX protobuf model was stored", "offset" and "length"
 * are integers stored as strings, and "Offset values SHOULD be multiples 4096 (page size) to enable mmap support";
 * such tensors have {@code data_location = EXTERNAL}. Initializers of at least
 * {@link Options#externalThresholdBytes()} bytes go there, each at the next multiple of 4096 (zero padding between),
 * in initializer order; smaller ones, and every int64 initializer (shapes, split sizes, indices, which ONNX Runtime's
 * shape inference must read at load time), are inline {@code raw_data}. The tensor bytes are streamed from
 * {@link TensorData} through a buffer into the data file and never held in memory together, so the .onnx file holds
 * only the graph and references and stays far below protobuf's 2 GiB limit whatever the model size.
 *
 * <p>Atomic and deterministic: both files are written to hidden {@code .<name>.partial-<random>} files in the target
 * directory, forced to disk, then renamed, the data file first and the .onnx file last, so a reader that finds the
 * .onnx finds its data. On any failure the temporary files are deleted and no new output remains. The same graph
 * gives byte-identical files. An existing data file of the same name is replaced; one that the new model no longer
 * needs (no initializer above the threshold) is left alone.
 */
public final class OnnxWriter {
    /** Page alignment of external tensors, as the spec recommends. */
    public static final int ALIGNMENT = 4096;
    /** The .onnx file must stay below this (protobuf messages are limited to 2 GiB). */
    static final long MAX_ONNX_BYTES = 1L << 30;
    private static final int BUFFER = 8 << 20;
    private static final SecureRandom RANDOM = new SecureRandom();

    private OnnxWriter() {
    }

    /**
     * Output options.
     *
     * @param producerVersion        ModelProto.producer_version
     * @param externalThresholdBytes initializers of at least this many bytes (and not empty) go to the data file
     * @param dataFileName           the data file's name, in the directory of the .onnx file; null for
     *                               {@code <onnx file name>.data}
     * @param irVersion              ModelProto.ir_version, 7..13 (ONNX Runtime 1.29 reads up to 13)
     */
    public record Options(String producerVersion, long externalThresholdBytes, String dataFileName, int irVersion) {
        public static final long DEFAULT_THRESHOLD = 1024;
        public static final int DEFAULT_IR_VERSION = 10;

        public Options {
            Objects.requireNonNull(producerVersion, "producerVersion");
            if (externalThresholdBytes < 0) {
                throw new IllegalArgumentException("externalThresholdBytes must be >= 0, got " + externalThresholdBytes);
            }
            if (irVersion < 7 || irVersion > 13) {
                throw new IllegalArgumentException("irVersion must be in 7..13 (ONNX Runtime 1.29 reads up to 13), got " + irVersion);
            }
            if (dataFileName != null && (dataFileName.isEmpty() || dataFileName.contains("/") || dataFileName.contains("\\")
                    || dataFileName.equals(".") || dataFileName.equals(".."))) {
                throw new IllegalArgumentException("dataFileName must be a plain file name (it is stored relative to the model's directory): '"
                        + dataFileName + "'");
            }
        }

        /** Threshold 1024 bytes, data file {@code <onnx file name>.data}, IR version 10. */
        public static Options defaults(String producerVersion) {
            return new Options(producerVersion, DEFAULT_THRESHOLD, null, DEFAULT_IR_VERSION);
        }

        public Options withExternalThresholdBytes(long bytes) {
            return new Options(producerVersion, bytes, dataFileName, irVersion);
        }

        public Options withDataFileName(String name) {
            return new Options(producerVersion, externalThresholdBytes, name, irVersion);
        }

        public Options withIrVersion(int version) {
            return new Options(producerVersion, externalThresholdBytes, dataFileName, version);
        }
    }

    /**
     * What was written.
     *
     * @param onnxFile  the model file
     * @param dataFile  the external data file, or null when every initializer is inline
     * @param onnxBytes size of the model file
     * @param dataBytes size of the data file (0 without one)
     */
    public record Result(Path onnxFile, Path dataFile, long onnxBytes, long dataBytes) {
    }

    /**
     * Writes the model of top-level graph {@code g} to {@code onnxFile} (and its data file beside it).
     *
     * @throws IllegalArgumentException if {@code g} is a subgraph, declares an output no node produces, has no
     *                                  outputs, or the inline data would make the .onnx file too large
     * @throws IOException              if writing fails or a TensorData fails or writes the wrong number of bytes
     */
    public static Result write(GraphBuilder g, Path onnxFile, Options o) throws IOException {
        Objects.requireNonNull(g, "g");
        Objects.requireNonNull(o, "o");
        if (g.isSubgraph()) {
            throw new IllegalArgumentException("graph '" + g.name() + "' is a subgraph; write the top-level graph");
        }
        if (g.outputs().isEmpty()) {
            throw new IllegalArgumentException("graph '" + g.name() + "' has no outputs");
        }
        List<String> missing = g.undefinedOutputs();
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException("graph '" + g.name() + "': declared outputs that no node produces: " + missing);
        }
        Path onnx = onnxFile.toAbsolutePath();
        Path dir = onnx.getParent();
        if (dir == null || onnx.getFileName() == null) {
            throw new IllegalArgumentException("not a file path: " + onnxFile);
        }
        String dataName = o.dataFileName() != null ? o.dataFileName() : onnx.getFileName() + ".data";
        if (dataName.equals(onnx.getFileName().toString())) {
            throw new IllegalArgumentException("data file name equals the model file name: " + dataName);
        }
        Path data = dir.resolve(dataName);

        // plan: which initializers go external, at which offsets
        List<Initializer> inits = g.initializers();
        long[] offsets = new long[inits.size()];
        long dataEnd = 0;
        long inline = 0;
        boolean anyExternal = false;
        for (int i = 0; i < inits.size(); i++) {
            long size = inits.get(i).data().byteSize();
            // int64 initializers are shapes, split sizes and indices: ONNX Runtime's shape inference reads them at load
            // time and cannot read external data ("Cannot parse data from external tensors"), so they stay inline
            if (size > 0 && size >= o.externalThresholdBytes() && inits.get(i).type() != ElemType.INT64) {
                offsets[i] = align(dataEnd);
                dataEnd = offsets[i] + size;
                anyExternal = true;
            } else {
                offsets[i] = -1;
                inline += size;
            }
        }
        if (inline > MAX_ONNX_BYTES) {
            throw new IllegalArgumentException("inline initializers total " + inline + " bytes, more than the "
                    + MAX_ONNX_BYTES + " allowed in the .onnx file; lower externalThresholdBytes");
        }

        Path dataTmp = anyExternal ? partial(dir, dataName) : null;
        Path onnxTmp = partial(dir, onnx.getFileName().toString());
        boolean dataMoved = false;
        try {
            if (anyExternal) {
                writeData(inits, offsets, dataTmp, dataEnd);
            }
            ModelProto model = model(g, o, dataName, offsets);
            long onnxBytes = model.getSerializedSize();
            if (onnxBytes < 0 || onnxBytes > MAX_ONNX_BYTES) {
                throw new IllegalArgumentException("the model proto would be " + onnxBytes + " bytes; lower externalThresholdBytes");
            }
            try (FileChannel ch = FileChannel.open(onnxTmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                OutputStream out = Channels.newOutputStream(ch);
                CodedOutputStream cos = CodedOutputStream.newInstance(out, 1 << 16);
                model.writeTo(cos);
                cos.flush();
                ch.force(true);
            }
            if (anyExternal) {
                Files.move(dataTmp, data, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                dataMoved = true;
            }
            Files.move(onnxTmp, onnx, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            syncDirectory(dir);
            return new Result(onnx, anyExternal ? data : null, onnxBytes, anyExternal ? dataEnd : 0);
        } catch (IOException | RuntimeException | Error e) {
            deleteQuietly(onnxTmp, e);
            if (dataTmp != null) {
                deleteQuietly(dataTmp, e);
            }
            if (dataMoved) {
                deleteQuietly(data, e);
            }
            throw e;
        }
    }

    private static void writeData(List<Initializer> inits, long[] offsets, Path tmp, long expectedEnd) throws IOException {
        OutputFiles.Output file = OutputFiles.create(tmp);
        try (FileChannel ch = file.channel();
             BackgroundWriter sink = new BackgroundWriter(ch, BUFFER, tmp.getFileName().toString(), file.alignment())) {
            for (int i = 0; i < inits.size(); i++) {
                if (offsets[i] < 0) {
                    continue;
                }
                Initializer init = inits.get(i);
                zeros(sink, offsets[i] - sink.count());
                long start = sink.count();
                try {
                    init.data().writeTo(sink);
                } catch (dev.manyone.formats.FormatException e) {
                    throw e; // bad input found while reading the data (it names its file and tensor)
                } catch (IOException | RuntimeException e) {
                    throw new IOException("initializer '" + init.name() + "': writing its data failed: " + e, e);
                }
                long written = sink.count() - start;
                if (written != init.data().byteSize()) {
                    throw new IOException("initializer '" + init.name() + "': TensorData wrote " + written
                            + " bytes, its byteSize() is " + init.data().byteSize());
                }
            }
            sink.finish();
            if (ch.size() != expectedEnd) {
                throw new IOException(tmp + ": data file has " + ch.size() + " bytes, expected " + expectedEnd);
            }
            ch.force(true);
        }
    }

    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(4096);

    /** Appends {@code n} zero bytes (alignment padding between initializers). */
    private static void zeros(BackgroundWriter out, long n) throws IOException {
        for (long left = n; left > 0; ) {
            int k = (int) Math.min(left, ZEROS.capacity());
            out.write(ZEROS.duplicate().limit(k));
            left -= k;
        }
    }

    // ---------------------------------------------------------------------------------------------- protos

    private static ModelProto model(GraphBuilder g, Options o, String dataName, long[] offsets) {
        List<Initializer> inits = g.initializers();
        List<TensorProto> tensors = new ArrayList<>(inits.size());
        for (int i = 0; i < inits.size(); i++) {
            Initializer init = inits.get(i);
            TensorProto.Builder t = TensorProto.newBuilder().setName(init.name()).setDataType(init.type().code());
            for (long d : init.dims()) {
                t.addDims(d);
            }
            if (offsets[i] >= 0) {
                t.setDataLocation(TensorProto.DataLocation.EXTERNAL)
                        .addExternalData(entry("location", dataName))
                        .addExternalData(entry("offset", Long.toString(offsets[i])))
                        .addExternalData(entry("length", Long.toString(init.data().byteSize())));
            } else {
                t.setRawData(ByteString.copyFrom(Sinks.toArray(init.data(), "initializer '" + init.name() + "'")));
            }
            tensors.add(t.build());
        }
        ModelProto.Builder m = ModelProto.newBuilder()
                .setIrVersion(o.irVersion())
                .setProducerName("manyone")
                .setProducerVersion(o.producerVersion())
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain(OpSchemas.AI_ONNX).setVersion(g.opset()));
        if (g.usesMicrosoft()) {
            m.addOpsetImport(OperatorSetIdProto.newBuilder().setDomain(OpSchemas.MICROSOFT).setVersion(OpSchemas.MICROSOFT_VERSION));
        }
        m.setGraph(graph(g, tensors));
        for (Map.Entry<String, String> e : g.metadataProps().entrySet()) {
            m.addMetadataProps(entry(e.getKey(), e.getValue()));
        }
        return m.build();
    }

    private static GraphProto graph(GraphBuilder g, List<TensorProto> initializers) {
        GraphProto.Builder b = GraphProto.newBuilder().setName(g.name());
        for (Node n : g.nodes()) {
            b.addNode(node(n));
        }
        b.addAllInitializer(initializers);
        for (ValueInfo v : g.inputs()) {
            b.addInput(valueInfo(v));
        }
        for (ValueInfo v : g.outputs()) {
            b.addOutput(valueInfo(v));
        }
        return b.build();
    }

    private static NodeProto node(Node n) {
        NodeProto.Builder b = NodeProto.newBuilder().setName(n.name()).setOpType(n.opType());
        if (!n.domain().isEmpty()) {
            b.setDomain(n.domain());
        }
        b.addAllInput(n.inputs()).addAllOutput(n.outputs());
        for (Attrs.Attr a : n.attrs().list()) {
            b.addAttribute(attribute(a));
        }
        return b.build();
    }

    private static AttributeProto attribute(Attrs.Attr a) {
        AttributeProto.Builder b = AttributeProto.newBuilder().setName(a.name())
                .setType(AttributeProto.AttributeType.forNumber(a.type().code()));
        switch (a.type()) {
            case INT -> b.setI((Long) a.value());
            case FLOAT -> b.setF((Float) a.value());
            case STRING -> b.setS(ByteString.copyFrom(((String) a.value()).getBytes(StandardCharsets.UTF_8)));
            case INTS -> {
                for (long v : (long[]) a.value()) {
                    b.addInts(v);
                }
            }
            case FLOATS -> {
                for (float v : (float[]) a.value()) {
                    b.addFloats(v);
                }
            }
            case STRINGS -> {
                for (String v : (String[]) a.value()) {
                    b.addStrings(ByteString.copyFrom(v.getBytes(StandardCharsets.UTF_8)));
                }
            }
            case GRAPH -> b.setG(graph((GraphBuilder) a.value(), List.of()));
            case TENSOR -> {
                Attrs.Tensor t = (Attrs.Tensor) a.value();
                TensorProto.Builder tb = TensorProto.newBuilder().setDataType(t.type().code()).setRawData(ByteString.copyFrom(t.bytes()));
                for (long d : t.dims()) {
                    tb.addDims(d);
                }
                b.setT(tb);
            }
        }
        return b.build();
    }

    private static ValueInfoProto valueInfo(ValueInfo v) {
        TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
        for (Object d : v.dims()) {
            TensorShapeProto.Dimension.Builder db = TensorShapeProto.Dimension.newBuilder();
            if (d instanceof Long l) {
                db.setDimValue(l);
            } else if (d instanceof String s) {
                db.setDimParam(s);
            }
            shape.addDim(db);
        }
        return ValueInfoProto.newBuilder().setName(v.name())
                .setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(v.type().code()).setShape(shape)))
                .build();
    }

    private static StringStringEntryProto entry(String key, String value) {
        return StringStringEntryProto.newBuilder().setKey(key).setValue(value).build();
    }

    // ---------------------------------------------------------------------------------------------- files

    static long align(long offset) {
        return (offset + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    }

    private static Path partial(Path dir, String name) {
        byte[] r = new byte[6];
        RANDOM.nextBytes(r);
        return dir.resolve("." + name + ".partial-" + HexFormat.of().formatHex(r));
    }

    private static void deleteQuietly(Path p, Throwable into) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException | RuntimeException e) {
            into.addSuppressed(e);
        }
    }

    /** Best effort: fsync the directory so the renames are durable (not possible everywhere). */
    private static void syncDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | RuntimeException e) {
            // not supported here (e.g. Windows); the renames themselves are atomic
        }
    }
}
