package dev.manyone.formats.quant;

import dev.manyone.formats.FormatException;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Which stored bytes a child keeps of a quantized linear layer (golden README, "Slicing rules for quantized tensors"):
 * <blockquote>The child extraction rules above choose the rows and columns; what gets sliced is the stored bytes.
 * <ul>
 * <li>FP8: the rows and columns of {@code weight}, for any index set.</li>
 * <li>NVFP4: Any rows of {@code weight} can be kept; {@code weight_scale} keeps the same rows. Input columns can only
 * be kept in whole aligned blocks of 16, columns 16b … 16b+15. For each kept block b, the child keeps bytes 8b … 8b+7
 * of each row and column b of {@code weight_scale}. A slice that cuts a block cannot be represented without
 * re-quantizing, so it must be <b>refused</b> with an error that names the tensor and the columns.</li>
 * <li>{@code weight_scale} (FP8), {@code weight_scale_2} and {@code input_scale} are copied unchanged.</li>
 * </ul></blockquote>
 * {@link #plan} turns a logical selection of the {@code [out, in]} weight into one {@link Stored} selection per
 * stored tensor, in the terms of the slicer's row/column gather (every stored element is one byte: F8_E4M3 or U8, so
 * a column index is a byte index within the row). {@link #gather} is the same selection on a byte array.
 */
public final class QuantSlice {
    private QuantSlice() {
    }

    /**
     * The child's part of one stored tensor.
     *
     * @param name  the parent tensor name ({@code X.weight}, …)
     * @param shape the child's stored shape
     * @param rows  kept leading indices, ascending, or null for all
     * @param cols  kept column (byte) indices of a matrix, ascending, or null for all
     */
    public record Stored(String name, long[] shape, int[] rows, int[] cols) {
        /** True if the tensor is copied unchanged. */
        public boolean whole() {
            return rows == null && cols == null;
        }
    }

    /**
     * The stored selections of {@code layer} for logical rows {@code rows} and input columns {@code cols} (ascending,
     * or null for all), in the order of {@link QuantizedLinear#tensors()}. {@code file} is named in errors.
     *
     * @throws FormatException for NVFP4 columns that cut a block, naming the weight tensor and the columns
     */
    public static List<Stored> plan(Path file, QuantizedLinear layer, int[] rows, int[] cols) {
        return plan(file, layer.algo(), layer.prefix(), layer.out(), layer.in(), layer.inputScale() != null, rows, cols);
    }

    /**
     * As {@link #plan(Path, QuantizedLinear, int[], int[])} for module {@code prefix} of logical shape
     * {@code [out, in]} stored as {@code algo} describes (with {@code prefix.input_scale} when {@code inputScale}),
     * before any of its tensors is opened: the names and shapes follow from the format table alone.
     */
    public static List<Stored> plan(Path file, QuantAlgo algo, String prefix, long out, long in, boolean inputScale,
                                    int[] rows, int[] cols) {
        String weight = prefix + QuantizedLinear.WEIGHT;
        check(rows, out, weight, "row");
        check(cols, in, weight, "column");
        long outRows = rows == null ? out : rows.length;
        long inCols = cols == null ? in : cols.length;
        List<Stored> stored = new ArrayList<>(4);
        if (algo == QuantAlgo.FP8) {
            stored.add(new Stored(weight, new long[] {outRows, inCols}, rows, cols));
            stored.add(new Stored(prefix + QuantizedLinear.WEIGHT_SCALE, new long[0], null, null));
        } else {
            int[] blocks = cols == null ? null : nvfp4Blocks(file, weight, in, cols);
            int[] bytes = blocks == null ? null : blockBytes(blocks);
            stored.add(new Stored(weight, new long[] {outRows, inCols / 2}, rows, bytes));
            stored.add(new Stored(prefix + QuantizedLinear.WEIGHT_SCALE, new long[] {outRows, inCols / QuantAlgo.NVFP4_GROUP},
                    rows, blocks));
            stored.add(new Stored(prefix + QuantizedLinear.WEIGHT_SCALE_2, new long[0], null, null));
        }
        if (inputScale) {
            stored.add(new Stored(prefix + QuantizedLinear.INPUT_SCALE, new long[0], null, null));
        }
        return stored;
    }

    /**
     * The NVFP4 blocks that input columns {@code cols} (ascending, within {@code [0, in)}) keep whole, ascending;
     * a FormatException naming {@code tensor} and the columns if they keep part of a block.
     */
    public static int[] nvfp4Blocks(Path file, String tensor, long in, int[] cols) {
        check(cols, in, tensor, "column");
        int g = QuantAlgo.NVFP4_GROUP;
        int[] blocks = new int[cols.length / g + 1];
        int n = 0;
        int i = 0;
        while (i < cols.length) {
            int b = cols[i] / g;
            int j = i;
            while (j < cols.length && cols[j] / g == b) {
                j++;
            }
            if (j - i != g) { // ascending and distinct, so 16 columns of block b are all of it
                throw new FormatException(file, tensor, "keeps columns " + runs(cols, i, j) + " of block " + b
                        + " (columns " + b * g + "–" + (b * g + g - 1) + "): NVFP4 slices whole 16-column blocks"
                        + " (a child width that is a multiple of 16, or whole 16-channel heads, keeps whole blocks)");
            }
            blocks[n++] = b;
            i = j;
        }
        return java.util.Arrays.copyOf(blocks, n);
    }

    /** For each kept block b, the packed bytes {@code 8b … 8b+7} of a row. */
    public static int[] blockBytes(int[] blocks) {
        int per = QuantAlgo.NVFP4_GROUP / 2;
        int[] out = new int[Math.multiplyExact(blocks.length, per)];
        for (int k = 0; k < blocks.length; k++) {
            for (int j = 0; j < per; j++) {
                out[k * per + j] = blocks[k] * per + j;
            }
        }
        return out;
    }

    /**
     * The kept bytes of a row-major {@code [srcRows, rowBytes]} byte tensor: rows {@code rows}, and within each
     * columns {@code cols} (null for all), in order. For the 1-byte stored tensors of both formats.
     */
    public static byte[] gather(byte[] src, int srcRows, int rowBytes, int[] rows, int[] cols) {
        if (Math.multiplyExact(srcRows, rowBytes) != src.length) {
            throw new IllegalArgumentException(src.length + " bytes are not [" + srcRows + ", " + rowBytes + "]");
        }
        check(rows, srcRows, "source", "row");
        check(cols, rowBytes, "source", "column");
        int nRows = rows == null ? srcRows : rows.length;
        int nCols = cols == null ? rowBytes : cols.length;
        byte[] out = new byte[Math.multiplyExact(nRows, nCols)];
        int at = 0;
        for (int r = 0; r < nRows; r++) {
            int base = (rows == null ? r : rows[r]) * rowBytes;
            if (cols == null) {
                System.arraycopy(src, base, out, at, rowBytes);
                at += rowBytes;
            } else {
                for (int c : cols) {
                    out[at++] = src[base + c];
                }
            }
        }
        return out;
    }

    /** Indices ascending, distinct and in {@code [0, n)}; IllegalArgumentException otherwise (a slicer bug). */
    private static void check(int[] idx, long n, String tensor, String what) {
        if (idx == null) {
            return;
        }
        for (int k = 0; k < idx.length; k++) {
            if (idx[k] < 0 || idx[k] >= n || (k > 0 && idx[k] <= idx[k - 1])) {
                throw new IllegalArgumentException(tensor + ": " + what + " indices must be ascending, distinct and in [0, "
                        + n + "); index " + k + " is " + idx[k]);
            }
        }
    }

    /** {@code cols[from..to)} as runs: "32–39", "32, 35–37". */
    private static String runs(int[] cols, int from, int to) {
        StringBuilder sb = new StringBuilder();
        int k = from;
        while (k < to) {
            int e = k;
            while (e + 1 < to && cols[e + 1] == cols[e] + 1) {
                e++;
            }
            if (sb.length() > 0) {
                sb.append(", ");
            }
            sb.append(cols[k]);
            if (e > k) {
                sb.append('–').append(cols[e]);
            }
            k = e + 1;
        }
        return sb.toString();
    }
}
