package dev.manyone.elastic.export;

/**
 * Symmetric round-to-nearest block quantization of one row of weights, as ONNX Runtime's own blockwise quantizer
 * (MLAS {@code MlasQuantizeBlockwise}, used by {@code matmul_nbits_quantizer}) does it for symmetric weights:
 * <pre>
 *   m     = the element of the block with the largest magnitude, sign kept ("max = |max| > |min| ? max : min")
 *   scale = m / −2^(bits−1)              so m itself maps to code 0 (the larger half of the range, [−2^(bits−1), 0])
 *   code  = clamp(round(v · (1 / scale)) + 2^(bits−1), 0, 2^bits − 1)     round half away from zero (roundf)
 *   v'    = (code − 2^(bits−1)) · scale                                  dequantized
 * </pre>
 * A block of zeros gets scale 0 and codes 2^(bits−1). The zero point is the default that the contrib ops assume when
 * no {@code zero_points} input is given ("Defaults to 2^(bits−1)" for MatMulNBits; "2^(bits−1) for uint8" for
 * GatherBlockQuantized), so none is stored, and ONNX Runtime keeps its packed kernels (a float zero point would make
 * MatMulNBits skip prepacking and dequantize every weight per call).
 *
 * <p>Packing ({@code com.microsoft} MatMulNBits input B, "(N, k_blocks, blob_size) … bit-packed low-nibble-first
 * along K"; GatherBlockQuantized data, "packed along the last dimension (low-order bits first)"): 8-bit codes are one
 * byte each; 4-bit codes go two to a byte, element 2j in the low nibble and 2j+1 in the high nibble. A row of K
 * elements is {@code ceil(K / blockSize)} blocks; the last block is padded with zeros (code 2^(bits−1)).
 *
 * <p>Pure functions, no state: the same row always gives the same bytes.
 */
public final class BlockQuantizer {
    private final int bits;
    private final int blockSize;

    /** {@code bits} 4 or 8; {@code blockSize} a power of two ≥ 16 (checked by {@link ExportOptions.Quantization}). */
    public BlockQuantizer(int bits, int blockSize) {
        if (bits != 4 && bits != 8) {
            throw new IllegalArgumentException("bits must be 4 or 8, found " + bits);
        }
        if (blockSize < 16 || Integer.bitCount(blockSize) != 1) {
            throw new IllegalArgumentException("block size must be a power of two >= 16, found " + blockSize);
        }
        this.bits = bits;
        this.blockSize = blockSize;
    }

    public int bits() {
        return bits;
    }

    public int blockSize() {
        return blockSize;
    }

    /** Blocks per row of {@code k} elements: ceil(k / blockSize). */
    public long blocks(long k) {
        return (k + blockSize - 1) / blockSize;
    }

    /** Bytes of one quantized block: blockSize · bits / 8. */
    public int blobSize() {
        return blockSize * bits / 8;
    }

    /** Bytes of one packed row of {@code k} elements, padded to whole blocks (MatMulNBits B row: k_blocks · blob). */
    public long paddedRowBytes(long k) {
        return blocks(k) * blobSize();
    }

    /** Bytes of one packed row of {@code k} elements, unpadded (GatherBlockQuantized data row: ceil(k · bits / 8)). */
    public long rowBytes(long k) {
        return (k * bits + 7) / 8;
    }

    /** The scale of each block of {@code row} [k] into {@code scales} [blocks(k)] from {@code scalesOffset}. */
    public void scales(float[] row, int k, float[] scales, int scalesOffset) {
        float mid = -(1 << (bits - 1));
        int nb = (int) blocks(k);
        for (int b = 0; b < nb; b++) {
            float min = 0;
            float max = 0;
            for (int j = b * blockSize, end = Math.min(k, j + blockSize); j < end; j++) {
                min = Math.min(min, row[j]);
                max = Math.max(max, row[j]);
            }
            float m = Math.abs(max) > Math.abs(min) ? max : min;
            scales[scalesOffset + b] = m / mid;
        }
    }

    /**
     * Quantizes {@code row} [k] and packs its codes into {@code out} [paddedRowBytes(k)] from {@code outOffset}, using
     * the block scales of {@link #scales}: {@code out} receives k_blocks blobs of {@link #blobSize()} bytes.
     */
    public void pack(float[] row, int k, float[] scales, int scalesOffset, byte[] out, int outOffset) {
        int zero = 1 << (bits - 1);
        int maxCode = (1 << bits) - 1;
        int nb = (int) blocks(k);
        for (int b = 0; b < nb; b++) {
            float scale = scales[scalesOffset + b];
            float reciprocal = scale != 0 ? 1.0f / scale : 0.0f;
            int first = b * blockSize;
            int end = Math.min(k, first + blockSize);
            int o = outOffset + b * blobSize();
            for (int j = first; j < first + blockSize; j += 2) {
                // two elements at a time: one 4-bit byte (element j low nibble, j+1 high) or two 8-bit bytes
                int c0 = j < end ? Math.max(0, Math.min(maxCode, roundHalfAway(row[j] * reciprocal) + zero)) : zero;
                int c1 = j + 1 < end ? Math.max(0, Math.min(maxCode, roundHalfAway(row[j + 1] * reciprocal) + zero)) : zero;
                if (bits == 8) {
                    out[o++] = (byte) c0;
                    out[o++] = (byte) c1;
                } else {
                    out[o++] = (byte) (c0 | (c1 << 4));
                }
            }
        }
    }

    /** The code of element {@code j} in a packed row starting at {@code offset}. */
    public int code(byte[] packed, int offset, int j) {
        int b = packed[offset + (bits == 8 ? j : j >> 1)] & 0xFF;
        return bits == 8 ? b : (j & 1) == 0 ? b & 0x0F : b >>> 4;
    }

    /** Dequantized element {@code j}: (code − 2^(bits−1)) · scale of its block. */
    public float dequantize(byte[] packed, int offset, float[] scales, int scalesOffset, int j) {
        return (code(packed, offset, j) - (1 << (bits - 1))) * scales[scalesOffset + j / blockSize];
    }

    /** C's roundf: to nearest, halves away from zero. */
    static int roundHalfAway(float v) {
        return (int) Math.copySign(Math.floor(Math.abs((double) v) + 0.5), v); // exact in double: no float rounding of v + 0.5
    }
}
