package dev.manyone.elastic.slice;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SelectionTest {

    @Test
    void topKeepsTheBestAscending() {
        assertArrayEquals(new int[] {1, 5, 7}, Selection.top(new int[] {7, 1, 5, 0, 2}, 3));
    }

    @Test
    void topPerGroupKeepsTheSameCountInEveryGroup() {
        // 8 heads in 2 groups {0..3}, {4..7}; ranking interleaves; keep 4 → top 2 of each group
        int[] ranking = {5, 4, 6, 0, 7, 3, 1, 2};
        assertArrayEquals(new int[] {0, 3, 4, 5}, Selection.topPerGroup(ranking, 2, 4));
        // the top-4 overall (5, 4, 6, 0) would take 3 heads from group 1: the group rule prevents it
    }

    @Test
    void nestedOnEveryAxis() {
        Random random = new Random(1);
        for (int trial = 0; trial < 200; trial++) {
            int groups = 1 + random.nextInt(4);
            int perGroup = 1 + random.nextInt(8);
            int n = groups * perGroup;
            int[] ranking = shuffled(n, random);
            int[] previous = null;
            for (int keep = n; keep >= groups; keep -= groups) {
                int[] kept = Selection.topPerGroup(ranking, groups, keep);
                assertEquals(keep, kept.length);
                for (int g = 0; g < groups; g++) {
                    int gg = g;
                    assertEquals(keep / groups, java.util.Arrays.stream(kept).filter(h -> h / perGroup == gg).count());
                }
                if (previous != null) {
                    int[] prev = previous;
                    assertTrue(java.util.Arrays.stream(kept).allMatch(h -> java.util.Arrays.binarySearch(prev, h) >= 0),
                            "a smaller child keeps a subset of a larger one");
                }
                previous = kept;
            }
        }
    }

    @Test
    void headChannelsAreHeadMajor() {
        assertArrayEquals(new int[] {0 * 4 + 1, 0 * 4 + 3, 2 * 4 + 1, 2 * 4 + 3},
                Selection.headChannels(new int[] {0, 2}, new int[] {1, 3}, 4));
    }

    @Test
    void runsCoalesceConsecutiveIndices() {
        assertArrayEquals(new int[] {0, 3, 5, 1, 7, 2}, SliceCopier.runs(new int[] {0, 1, 2, 5, 7, 8}));
    }

    private static int[] shuffled(int n, Random random) {
        int[] a = Rankings.iota(n);
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
        return a;
    }
}
