package dev.manyone.elastic.slice;

import java.util.Arrays;

/**
 * Which indices a child keeps on one axis, from a ranking (most important first). Kept indices are always
 * returned in ascending original order (golden README: "it always writes the kept indices in ascending original
 * order"). Grouped axes keep the same number of items in every group, so a Mamba group keeps its B/C state and a
 * KV head keeps its query heads.
 */
final class Selection {
    private Selection() {
    }

    /** The top {@code k} items of {@code ranking}, ascending. */
    static int[] top(int[] ranking, int k) {
        int[] kept = Arrays.copyOf(ranking, k);
        Arrays.sort(kept);
        return kept;
    }

    /**
     * Grouped top-k: items {@code 0..n-1} fall in {@code groups} contiguous groups of {@code n / groups}; in each
     * group keep its top {@code k / groups} items by {@code ranking}. Used for Mamba heads (group = SSM group,
     * {@code h // (heads / G)}) and attention query heads (group = KV head, {@code h // (q_heads / kv_heads)}).
     */
    static int[] topPerGroup(int[] ranking, int groups, int k) {
        int n = ranking.length;
        int perGroup = n / groups;
        int keepPerGroup = k / groups;
        int[] taken = new int[groups];
        int[] kept = new int[k];
        int m = 0;
        for (int item : ranking) {
            int g = item / perGroup;
            if (taken[g] < keepPerGroup) {
                taken[g]++;
                kept[m++] = item;
            }
        }
        Arrays.sort(kept);
        return kept;
    }

    /** {@code base + i} for each i in {@code idx}. */
    static int[] offset(int[] idx, int base) {
        int[] out = new int[idx.length];
        for (int i = 0; i < idx.length; i++) {
            out[i] = base + idx[i];
        }
        return out;
    }

    /** {@code [from, to)}. */
    static int[] range(int from, int to) {
        int[] out = new int[to - from];
        for (int i = 0; i < out.length; i++) {
            out[i] = from + i;
        }
        return out;
    }

    static int[] concat(int[]... parts) {
        int n = 0;
        for (int[] p : parts) {
            n += p.length;
        }
        int[] out = new int[n];
        int at = 0;
        for (int[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    /** Whole blocks: for each kept block b, the indices {@code b·size .. b·size + size - 1}. */
    static int[] blocks(int[] kept, int size) {
        int[] out = new int[kept.length * size];
        for (int i = 0; i < kept.length; i++) {
            for (int j = 0; j < size; j++) {
                out[i * size + j] = kept[i] * size + j;
            }
        }
        return out;
    }

    /** Mamba d_inner indices {@code h·headDim + c} for kept heads h and kept channels c, head-major. */
    static int[] headChannels(int[] heads, int[] channels, int headDim) {
        int[] out = new int[heads.length * channels.length];
        int at = 0;
        for (int h : heads) {
            for (int c : channels) {
                out[at++] = h * headDim + c;
            }
        }
        return out;
    }
}
