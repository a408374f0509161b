package dev.manyone.formats;

import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;

/**
 * Eager release of memory mappings through {@code sun.misc.Unsafe.invokeCleaner} (module jdk.unsupported), looked
 * up reflectively. Without it a mapping lives until its buffer is garbage collected, which keeps the file's pages
 * mapped (and, on Windows, the file locked). If Unsafe is unavailable, {@link #unmap} does nothing and the mapping is
 * released by the GC once the caller drops its references.
 */
final class Unmapper {
    private static final Object UNSAFE;
    private static final Method INVOKE_CLEANER;

    static {
        Object unsafe = null;
        Method invoke = null;
        try {
            Class<?> c = Class.forName("sun.misc.Unsafe");
            Field f = c.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            unsafe = f.get(null);
            invoke = c.getMethod("invokeCleaner", ByteBuffer.class);
        } catch (ReflectiveOperationException | RuntimeException e) {
            unsafe = null;
            invoke = null;
        }
        UNSAFE = unsafe;
        INVOKE_CLEANER = invoke;
    }

    private Unmapper() {
    }

    /** Whether mappings are released eagerly. */
    static boolean available() {
        return INVOKE_CLEANER != null;
    }

    /** Unmaps {@code buffer} (which must be the buffer FileChannel.map returned, not a slice). No use of it or of any view after this. */
    static void unmap(MappedByteBuffer buffer) {
        if (INVOKE_CLEANER == null || buffer == null) {
            return;
        }
        try {
            INVOKE_CLEANER.invoke(UNSAFE, buffer);
        } catch (ReflectiveOperationException | RuntimeException e) {
            // fall back to the GC
        }
    }
}
