package dev.manyone.elastic.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Linux process figures: storage-level I/O from {@code /proc/self/io} (read_bytes / write_bytes: what reached the
 * block layer, so page-cache hits do not count) and the resident-set high-water mark from {@code /proc/self/status}
 * (VmHWM: heap, native memory and touched file-backed pages, the process's peak). -1 where unavailable.
 */
public final class ProcStats {
    private ProcStats() {
    }

    /** {read_bytes, write_bytes}. */
    public static long[] io() {
        return new long[] {field(Path.of("/proc/self/io"), "read_bytes:"), field(Path.of("/proc/self/io"), "write_bytes:")};
    }

    /** CPU time of this process so far (every thread, user + system), in seconds; -1 if the JVM cannot say. */
    public static double cpuSeconds() {
        if (java.lang.management.ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            long ns = os.getProcessCpuTime();
            return ns < 0 ? -1 : ns / 1e9;
        }
        return -1;
    }

    /** Peak resident set size in bytes. */
    public static long peakRss() {
        long kb = field(Path.of("/proc/self/status"), "VmHWM:");
        return kb < 0 ? -1 : kb * 1024;
    }

    /**
     * Drops the page cache (sync, then 3 → /proc/sys/vm/drop_caches) so the next run reads from the disk.
     * Needs root; returns false if it could not.
     */
    public static boolean dropCaches() {
        try {
            Process sync = new ProcessBuilder("sync").inheritIO().start();
            sync.waitFor();
            Files.writeString(Path.of("/proc/sys/vm/drop_caches"), "3\n");
            return true;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static long field(Path file, String name) {
        try {
            for (String line : Files.readAllLines(file)) {
                if (line.startsWith(name)) {
                    return Long.parseLong(line.substring(name.length()).trim().split("\\s+")[0]);
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }
}
