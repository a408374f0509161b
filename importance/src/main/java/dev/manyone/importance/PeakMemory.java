package dev.manyone.importance;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;

/**
 * The process's peak resident memory so far: {@code VmHWM} of {@code /proc/self/status} (Linux), the high-water
 * mark of the whole process (JVM heap and code, ONNX Runtime's native allocations and mapped files alike), not of
 * one phase. Empty where /proc is not available.
 */
public final class PeakMemory {
    private PeakMemory() {
    }

    public static OptionalLong bytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    String[] parts = line.substring(6).trim().split("\\s+");
                    return OptionalLong.of(Long.parseLong(parts[0]) * 1024);
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux
        }
        return OptionalLong.empty();
    }
}
