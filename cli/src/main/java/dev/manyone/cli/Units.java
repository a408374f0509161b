package dev.manyone.cli;

import dev.manyone.formats.FormatException;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Human-readable sizes and counts, and parsing of sizes such as {@code 5GB}, {@code 512MiB}, {@code 7.5B}. */
final class Units {
    private static final Pattern SIZE = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([KMGT]?)(i?)B?", Pattern.CASE_INSENSITIVE);

    private Units() {
    }

    static String bytes(long n) {
        if (n < 1000) {
            return n + " B";
        }
        String[] units = {"kB", "MB", "GB", "TB"};
        double v = n;
        int i = -1;
        while (v >= 1000 && i < units.length - 1) {
            v /= 1000;
            i++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[i]);
    }

    static String count(long n) {
        if (n >= 1_000_000_000L) {
            return String.format(Locale.ROOT, "%.2fB", n / 1e9);
        }
        if (n >= 1_000_000L) {
            return String.format(Locale.ROOT, "%.2fM", n / 1e6);
        }
        if (n >= 1_000L) {
            return String.format(Locale.ROOT, "%.1fK", n / 1e3);
        }
        return Long.toString(n);
    }

    /** Parses {@code 5GB} (10^9), {@code 5GiB} (2^30), {@code 1048576}; {@code what} names the option. */
    static long parseBytes(String text, String what) {
        Matcher m = SIZE.matcher(text.strip());
        if (!m.matches()) {
            throw new FormatException(null, what + ": expected a size such as 5GB, 512MiB or 1048576, found '" + text + "'");
        }
        double v = Double.parseDouble(m.group(1));
        int power = "KMGT".indexOf(m.group(2).toUpperCase(Locale.ROOT)) + 1;
        double base = m.group(3).isEmpty() ? 1000 : 1024;
        double bytes = v * Math.pow(base, power);
        if (bytes < 1 || bytes > Long.MAX_VALUE / 2) {
            throw new FormatException(null, what + ": size out of range: '" + text + "'");
        }
        return (long) bytes;
    }
}
