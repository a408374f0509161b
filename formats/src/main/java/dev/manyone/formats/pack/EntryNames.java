package dev.manyone.formats.pack;

import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * What may be the name of a package entry: a plain file name that is safe to create in any directory on any
 * platform. Printable ASCII (0x20–0x7E) of at most {@value #MAX_LENGTH} characters (the ustar name field, so no
 * name needs a PAX {@code path} record), without {@code / \ : * ? " < > |}, not starting with '.' (so never
 * {@code .} or {@code ..}, and never hidden), not ending with a space or '.', and not a Windows device name
 * ({@code CON}, {@code NUL}, {@code COM1}, … with any extension). The manifest's own name,
 * {@link PackageFormat#MANIFEST}, is the one exception (it starts with '.' so it can never clash with a packed file).
 */
final class EntryNames {
    static final int MAX_LENGTH = 100;
    private static final String FORBIDDEN = "/\\:*?\"<>|";
    private static final Set<String> DEVICES = Set.of("CON", "PRN", "AUX", "NUL",
            "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
            "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9");

    private EntryNames() {
    }

    /** Why {@code name} cannot be an entry name, or empty if it can. */
    static Optional<String> problem(String name) {
        if (name.isEmpty()) {
            return Optional.of("the name is empty");
        }
        if (name.length() > MAX_LENGTH) {
            return Optional.of("the name has " + name.length() + " characters; at most " + MAX_LENGTH + " are allowed");
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c < 0x20 || c > 0x7e) {
                return Optional.of(String.format(Locale.ROOT, "character U+%04X at position %d is not printable ASCII", (int) c, i));
            }
            if (FORBIDDEN.indexOf(c) >= 0) {
                return Optional.of("'" + c + "' is not allowed in an entry name (entries are plain file names: no paths)");
            }
        }
        if (name.startsWith(".")) {
            return Optional.of("names starting with '.' (., .., hidden files) are not allowed");
        }
        if (name.endsWith(" ") || name.endsWith(".")) {
            return Optional.of("names ending with a space or '.' are not allowed");
        }
        int dot = name.indexOf('.');
        String base = (dot < 0 ? name : name.substring(0, dot)).strip().toUpperCase(Locale.ROOT);
        if (DEVICES.contains(base)) {
            return Optional.of("'" + base + "' is a device name on Windows");
        }
        return Optional.empty();
    }

    /** The key under which two names clash on a case-insensitive file system. */
    static String foldCase(String name) {
        return name.toLowerCase(Locale.ROOT);
    }

    /** {@code name} quoted for messages, with anything unprintable escaped. */
    static String quote(String name) {
        StringBuilder sb = new StringBuilder("'");
        int shown = 0;
        for (int i = 0; i < name.length() && shown < 200; i++, shown++) {
            char c = name.charAt(i);
            if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0)) {
                sb.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
            } else {
                sb.append(c);
            }
        }
        if (name.length() > 200) {
            sb.append("…");
        }
        return sb.append('\'').toString();
    }
}
