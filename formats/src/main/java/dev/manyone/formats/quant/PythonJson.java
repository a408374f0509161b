package dev.manyone.formats.quant;

import dev.manyone.formats.Json;
import com.fasterxml.jackson.databind.JsonNode;

import java.util.Iterator;
import java.util.Locale;
import java.util.Map;

/**
 * Python's {@code json.dumps(obj, indent=2)} followed by a newline, for the trees of the quantization side files:
 * objects, arrays, strings, integers, floats (Python's repr: {@code 0.5}, {@code 1e-05}, {@code 1e+16}), booleans
 * and null. Separators are {@code ", "}/{@code ": "} with
 * newlines, so items end a line with {@code ","}; empty containers are {@code []}/{@code {}}; strings are escaped as
 * with {@code ensure_ascii=True}: {@code "} and {@code \} and the controls \n \r \t \b \f by name, everything else
 * outside {@code ' '..'~'} as {@code \}{@code uXXXX}.
 */
final class PythonJson {
    private PythonJson() {
    }

    static String write(JsonNode node) {
        StringBuilder sb = new StringBuilder();
        value(sb, node, 0);
        return sb.append('\n').toString();
    }

    private static void value(StringBuilder sb, JsonNode n, int depth) {
        if (n.isObject()) {
            if (n.isEmpty()) {
                sb.append("{}");
                return;
            }
            sb.append('{');
            Iterator<Map.Entry<String, JsonNode>> it = n.properties().iterator();
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> e = it.next();
                newline(sb, depth + 1);
                string(sb, e.getKey());
                sb.append(": ");
                value(sb, e.getValue(), depth + 1);
                if (it.hasNext()) {
                    sb.append(',');
                }
            }
            newline(sb, depth);
            sb.append('}');
        } else if (n.isArray()) {
            if (n.isEmpty()) {
                sb.append("[]");
                return;
            }
            sb.append('[');
            for (int i = 0; i < n.size(); i++) {
                newline(sb, depth + 1);
                value(sb, n.get(i), depth + 1);
                if (i + 1 < n.size()) {
                    sb.append(',');
                }
            }
            newline(sb, depth);
            sb.append(']');
        } else if (n.isTextual()) {
            string(sb, n.textValue());
        } else if (n.isNull()) {
            sb.append("null");
        } else if (n.isBoolean()) {
            sb.append(n.booleanValue() ? "true" : "false");
        } else if (n.isIntegralNumber()) {
            sb.append(n.bigIntegerValue());
        } else if (n.isFloatingPointNumber()) {
            sb.append(pythonRepr(n.doubleValue()));
        } else {
            throw new IllegalArgumentException("not written here: " + n.getNodeType());
        }
    }

    /** Python's {@code repr(float)}: shortest digits, fixed for 1e-4 ≤ |v| < 1e16, else d.ddde±XX. */
    static String pythonRepr(double v) {
        if (Double.isNaN(v)) {
            return "NaN";
        }
        if (Double.isInfinite(v)) {
            return v > 0 ? "Infinity" : "-Infinity";
        }
        if (v == 0) {
            return (Double.doubleToRawLongBits(v) < 0 ? "-" : "") + "0.0";
        }
        java.math.BigDecimal d = new java.math.BigDecimal(Double.toString(v)).stripTrailingZeros();
        String digits = d.unscaledValue().abs().toString();
        int exp = digits.length() - 1 - d.scale(); // v = ±d.ddd × 10^exp
        String sign = v < 0 ? "-" : "";
        if (exp >= -4 && exp < 16) {
            String plain = d.abs().toPlainString();
            return sign + (plain.contains(".") ? plain : plain + ".0");
        }
        String mant = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
        return sign + mant + "e" + (exp < 0 ? "-" : "+") + (Math.abs(exp) < 10 ? "0" : "") + Math.abs(exp);
    }

    private static void newline(StringBuilder sb, int depth) {
        sb.append('\n');
        sb.append("  ".repeat(depth));
    }

    /** A JSON string as Python's json.dumps writes it (ensure_ascii: non-ASCII escaped). */
    private static void string(StringBuilder sb, String s) {
        Json.quote(sb, s, true);
    }
}
