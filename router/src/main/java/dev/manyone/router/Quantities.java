package dev.manyone.router;

import dev.manyone.formats.FormatException;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Parses the quantities of budget targets: parameter counts ({@code 7.5B}, {@code 750M}, {@code 120K},
 * {@code 7500000000}, {@code 7.5e9}) and byte sizes ({@code 20GiB} = 20·2^30, {@code 20GB} = 20·10^9, {@code 512MiB},
 * {@code 1048576}). Bad text is a FormatException naming the option.
 */
public final class Quantities {
    private static final Pattern COUNT = Pattern.compile("(\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?)\\s*([KMBT]?)");
    private static final Pattern BYTES = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*(?:([KMGT])(i?)B?|B?)", Pattern.CASE_INSENSITIVE);

    private Quantities() {
    }

    /** A parameter count; {@code what} names the option in messages (e.g. "--params"). */
    public static long count(String text, String what) {
        Matcher m = COUNT.matcher(text == null ? "" : text.strip().toUpperCase(Locale.ROOT));
        if (!m.matches()) {
            throw new FormatException(null, what + ": expected a parameter count such as 7.5B, 750M or 7500000000, found '" + text + "'");
        }
        double v = Double.parseDouble(m.group(1)) * switch (m.group(2)) {
            case "K" -> 1e3;
            case "M" -> 1e6;
            case "B" -> 1e9;
            case "T" -> 1e12;
            default -> 1;
        };
        if (!(v >= 1) || v > 1e15) {
            throw new FormatException(null, what + ": parameter count out of range: '" + text + "'");
        }
        return Math.round(v);
    }

    /** A byte size; {@code what} names the option in messages (e.g. "--memory"). */
    public static long bytes(String text, String what) {
        Matcher m = BYTES.matcher(text == null ? "" : text.strip());
        if (!m.matches()) {
            throw new FormatException(null, what + ": expected a size such as 20GiB, 20GB or 1048576, found '" + text + "'");
        }
        double v = Double.parseDouble(m.group(1));
        if (m.group(2) != null) {
            int power = "KMGT".indexOf(m.group(2).toUpperCase(Locale.ROOT)) + 1;
            v *= Math.pow(m.group(3).isEmpty() ? 1000 : 1024, power);
        }
        if (!(v >= 1) || v > Long.MAX_VALUE / 4.0) {
            throw new FormatException(null, what + ": size out of range: '" + text + "'");
        }
        return Math.round(v);
    }

    /** 7.5B, 312.5M, 12.3K, 950 (for labels). */
    public static String formatCount(double n) {
        String[] units = {"", "K", "M", "B", "T"};
        int u = 0;
        while (Math.abs(n) >= 1000 && u < units.length - 1) {
            n /= 1000;
            u++;
        }
        String s = String.format(Locale.ROOT, "%.3f", n).replaceAll("0+$", "").replaceAll("\\.$", "");
        return s + units[u];
    }

    /** 20GiB, 1.5GiB, 512MiB, 100B (binary units, for labels). */
    public static String formatBytes(long n) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
        double v = n;
        int u = 0;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        String s = String.format(Locale.ROOT, "%.2f", v).replaceAll("0+$", "").replaceAll("\\.$", "");
        return s + units[u];
    }
}
