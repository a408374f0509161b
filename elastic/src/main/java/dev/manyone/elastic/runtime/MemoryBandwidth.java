package dev.manyone.elastic.runtime;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.management.ManagementFactory;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;

/**
 * Sustained memory read bandwidth of this machine, in bytes/s, measured from Java: the reference figure a decode
 * step's weight traffic is divided by (see {@link Bench}).
 *
 * <p>Method: an off-heap buffer of {@link #defaultBufferBytes()} (at least 1 GiB and at least 8× the largest CPU
 * cache, so that a pass cannot be served from cache; at most a quarter of physical memory) is split into one
 * contiguous slice per core. One thread per core first writes its own slice with a non-zero byte (so every page is
 * really backed, on the thread's NUMA node, and not the shared zero page), compiles its read loop on a cache-sized
 * head of the slice, and reads the whole slice once untimed. Then, in each timed pass, every thread reads its slice
 * sequentially as 8-byte words into four independent sums (so loads are not serialised on one add chain). A pass
 * starts and ends at a barrier shared by all threads; its bandwidth is buffer bytes ÷ wall time from the common
 * start to the last thread's end. The figure is the best of a few passes (at least 2, at most 5, no new pass after
 * ~2 s): the attainable read bandwidth, not an average that includes interference. Writes are not counted; a decode
 * step reads weights and writes little.
 *
 * <p>The buffer lives outside the Java heap ({@code sun.misc.Unsafe.allocateMemory}, looked up reflectively) so
 * that neither {@code -Xmx} nor {@code -XX:MaxDirectMemorySize} limits it, and is freed before returning. If
 * Unsafe is unavailable, direct byte buffers are used, as large as the JVM allows ({@link Result#method()} says
 * which). Typical run time 1–3 s.
 */
public final class MemoryBandwidth {
    /** At least this many bytes are read per pass (unless physical memory is small). */
    public static final long MIN_BUFFER_BYTES = 1L << 30;
    /** The buffer is at least this many times the largest cache. */
    public static final int CACHE_MULTIPLE = 8;
    private static final long MAX_BUFFER_BYTES = 4L << 30;
    private static final long ALIGN = 4096;
    private static final int MIN_PASSES = 2;
    private static final int MAX_PASSES = 5;
    private static final double PASS_BUDGET_SECONDS = 2.0;
    private static final long WARM_BYTES = 64 << 10;
    private static final int WARM_CALLS = 2000;

    private static final MethodHandle ALLOCATE;
    private static final MethodHandle FREE;
    private static final MethodHandle GET_LONG;
    private static final MethodHandle SET_MEMORY;

    static {
        MethodHandle allocate = null;
        MethodHandle free = null;
        MethodHandle get = null;
        MethodHandle set = null;
        try {
            Class<?> c = Class.forName("sun.misc.Unsafe");
            Field f = c.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            Object unsafe = f.get(null);
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            allocate = lookup.findVirtual(c, "allocateMemory", MethodType.methodType(long.class, long.class)).bindTo(unsafe);
            free = lookup.findVirtual(c, "freeMemory", MethodType.methodType(void.class, long.class)).bindTo(unsafe);
            get = lookup.findVirtual(c, "getLong", MethodType.methodType(long.class, long.class)).bindTo(unsafe);
            set = lookup.findVirtual(c, "setMemory", MethodType.methodType(void.class, long.class, long.class, byte.class))
                    .bindTo(unsafe);
        } catch (ReflectiveOperationException | RuntimeException e) {
            allocate = null;
        }
        ALLOCATE = allocate;
        FREE = allocate == null ? null : free;
        GET_LONG = allocate == null ? null : get;
        SET_MEMORY = allocate == null ? null : set;
    }

    /** Keeps the sums observable so the JIT cannot drop the reads. */
    private static volatile long sink;

    private MemoryBandwidth() {
    }

    /**
     * A measurement.
     *
     * @param bytesPerSecond best pass: bytes read ÷ seconds
     * @param bufferBytes    bytes read per pass
     * @param threads        reader threads (one per core)
     * @param passes         timed passes (the best one is reported)
     * @param largestCache   the largest CPU cache found, in bytes (0 if unknown)
     * @param method         "off-heap" (Unsafe) or "direct buffers"
     */
    public record Result(double bytesPerSecond, long bufferBytes, int threads, int passes, long largestCache, String method) {
    }

    /** Measures with the default buffer size and one thread per available processor. */
    public static Result measure() {
        return measure(defaultBufferBytes(), Runtime.getRuntime().availableProcessors());
    }

    /** Measures reading {@code bufferBytes} (rounded to whole pages per thread) with {@code threads} threads. */
    public static Result measure(long bufferBytes, int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, found " + threads);
        }
        long perThread = Math.max(ALIGN, bufferBytes / threads / ALIGN * ALIGN);
        return ALLOCATE != null ? measureOffHeap(perThread, threads) : measureDirect(perThread, threads);
    }

    /** max(1 GiB, 8 × largest cache), at most 4 GiB and at most a quarter of physical memory. */
    public static long defaultBufferBytes() {
        long bytes = Math.max(MIN_BUFFER_BYTES, CACHE_MULTIPLE * largestCacheBytes());
        bytes = Math.min(bytes, MAX_BUFFER_BYTES);
        long physical = physicalMemoryBytes();
        if (physical > 0) {
            bytes = Math.min(bytes, physical / 4);
        }
        return Math.max(ALIGN, bytes);
    }

    /** The largest CPU cache on Linux ({@code /sys/devices/system/cpu/cpu0/cache/index*}/size); 0 if unknown. */
    static long largestCacheBytes() {
        Path dir = Path.of("/sys/devices/system/cpu/cpu0/cache");
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        long best = 0;
        try (Stream<Path> entries = Files.list(dir)) {
            for (Path index : (Iterable<Path>) entries::iterator) {
                Path size = index.resolve("size");
                if (index.getFileName().toString().startsWith("index") && Files.isRegularFile(size)) {
                    best = Math.max(best, parseCacheSize(Files.readString(size)));
                }
            }
        } catch (java.io.IOException | RuntimeException e) {
            return best;
        }
        return best;
    }

    /** Parses sysfs cache sizes such as {@code 32K}, {@code 4096K}, {@code 260M}; 0 if unreadable. */
    static long parseCacheSize(String text) {
        String s = text.strip().toUpperCase(Locale.ROOT);
        if (s.isEmpty()) {
            return 0;
        }
        long multiplier = switch (s.charAt(s.length() - 1)) {
            case 'K' -> 1L << 10;
            case 'M' -> 1L << 20;
            case 'G' -> 1L << 30;
            default -> 1;
        };
        String digits = multiplier == 1 ? s : s.substring(0, s.length() - 1);
        try {
            return Long.parseLong(digits) * multiplier;
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private static long physicalMemoryBytes() {
        try {
            if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
                return os.getTotalMemorySize();
            }
        } catch (RuntimeException | LinkageError e) {
            return 0;
        }
        return 0;
    }

    // ---- off-heap (Unsafe) ------------------------------------------------------------------------------------

    private static Result measureOffHeap(long perThread, int threads) {
        long total = perThread * threads;
        long base = allocate(total);
        try {
            Timing timing = timePasses(threads, perThread, t -> fillOffHeap(base + t * perThread, perThread), (t, bytes) -> {
                long start = base + t * perThread;
                return sumOffHeap(start, start + bytes);
            });
            return new Result(total / timing.bestSeconds(), total, threads, timing.passes(), largestCacheBytes(), "off-heap");
        } finally {
            free(base);
        }
    }

    private static long allocate(long bytes) {
        try {
            return (long) ALLOCATE.invokeExact(bytes);
        } catch (Throwable e) {
            throw new IllegalStateException("cannot allocate " + bytes + " bytes off-heap for the bandwidth test", e);
        }
    }

    private static void free(long address) {
        try {
            FREE.invokeExact(address);
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }

    private static void fillOffHeap(long from, long bytes) {
        try {
            SET_MEMORY.invokeExact(from, bytes, (byte) 0x5A); // non-zero: every page really backed
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }

    private static long sumOffHeap(long from, long to) {
        long s0 = 0;
        long s1 = 0;
        long s2 = 0;
        long s3 = 0;
        try {
            for (long p = from; p < to; p += 32) {
                s0 += (long) GET_LONG.invokeExact(p);
                s1 += (long) GET_LONG.invokeExact(p + 8);
                s2 += (long) GET_LONG.invokeExact(p + 16);
                s3 += (long) GET_LONG.invokeExact(p + 24);
            }
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
        return s0 + s1 + s2 + s3;
    }

    // ---- fallback: direct buffers -----------------------------------------------------------------------------

    private static Result measureDirect(long perThread, int threads) {
        List<ByteBuffer> slices = new ArrayList<>();
        long per = Math.min(perThread, Integer.MAX_VALUE / ALIGN * ALIGN);
        while (true) {
            try {
                for (int t = 0; t < threads; t++) {
                    slices.add(ByteBuffer.allocateDirect((int) per).order(ByteOrder.nativeOrder()));
                }
                break;
            } catch (OutOfMemoryError e) {
                slices.clear();
                System.gc();
                if (per <= 16L << 20) {
                    throw e;
                }
                per /= 2;
            }
        }
        long perSlice = per;
        long total = perSlice * threads;
        Timing timing = timePasses(threads, perSlice, t -> {
            ByteBuffer b = slices.get(t);
            for (int i = 0; i + 8 <= b.capacity(); i += 8) {
                b.putLong(i, i);
            }
        }, (t, bytes) -> {
            ByteBuffer b = slices.get(t);
            int end = (int) Math.min(bytes, b.capacity());
            long s0 = 0;
            long s1 = 0;
            long s2 = 0;
            long s3 = 0;
            for (int i = 0; i + 32 <= end; i += 32) {
                s0 += b.getLong(i);
                s1 += b.getLong(i + 8);
                s2 += b.getLong(i + 16);
                s3 += b.getLong(i + 24);
            }
            return s0 + s1 + s2 + s3;
        });
        return new Result(total / timing.bestSeconds(), total, threads, timing.passes(), largestCacheBytes(), "direct buffers");
    }

    // ---- the timed passes -------------------------------------------------------------------------------------

    private interface Fill {
        void fill(int thread);
    }

    /** Sums the first {@code bytes} of a thread's slice. */
    private interface Read {
        long read(int thread, long bytes);
    }

    private record Timing(double bestSeconds, int passes) {
    }

    /**
     * Fills every slice, warms up the JIT on a cache-resident part and reads once (untimed), then times read passes
     * of all threads between barriers.
     */
    private static Timing timePasses(int threads, long sliceBytes, Fill fill, Read read) {
        CyclicBarrier barrier = new CyclicBarrier(threads + 1);
        long[] sums = new long[threads];
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicBoolean stop = new AtomicBoolean();
        Thread main = Thread.currentThread();
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int id = t;
            Thread w = new Thread(() -> {
                try {
                    fill.fill(id);
                    long head = Math.min(sliceBytes, WARM_BYTES);
                    for (int i = 0; i < WARM_CALLS; i++) {
                        sums[id] += read.read(id, head); // compile the read loop before it is timed
                    }
                    sums[id] += read.read(id, sliceBytes); // untimed pass: TLB, first-touch effects
                    barrier.await();
                    while (true) {
                        barrier.await(); // start of a pass
                        if (stop.get()) {
                            return;
                        }
                        sums[id] += read.read(id, sliceBytes);
                        barrier.await(); // end of the pass
                    }
                } catch (InterruptedException | BrokenBarrierException e) {
                    Thread.currentThread().interrupt();
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                    main.interrupt(); // breaks the barrier for everyone
                }
            }, "manyone-bandwidth-" + t);
            w.setDaemon(true);
            workers.add(w);
            w.start();
        }
        double best = Double.POSITIVE_INFINITY;
        int passes = 0;
        try {
            barrier.await(); // every slice written and read once
            long started = System.nanoTime();
            while (passes < MAX_PASSES && (passes < MIN_PASSES || (System.nanoTime() - started) / 1e9 < PASS_BUDGET_SECONDS)) {
                barrier.await();
                long t0 = System.nanoTime();
                barrier.await();
                long t1 = System.nanoTime();
                best = Math.min(best, (t1 - t0) / 1e9);
                passes++;
            }
            stop.set(true);
            barrier.await();
            for (Thread w : workers) {
                w.join();
            }
        } catch (InterruptedException | BrokenBarrierException e) {
            workers.forEach(Thread::interrupt);
            Throwable cause = failure.get();
            if (cause == null) {
                Thread.currentThread().interrupt();
            } else {
                Thread.interrupted(); // the interrupt came from the failed worker
            }
            throw new IllegalStateException("memory bandwidth measurement failed"
                    + (cause != null ? ": " + cause : " (interrupted)"), cause != null ? cause : e);
        }
        long all = 0;
        for (long s : sums) {
            all += s;
        }
        sink = all;
        if (!(best > 0)) {
            throw new IllegalStateException("memory bandwidth measurement took no measurable time");
        }
        return new Timing(best, passes);
    }
}
