package dev.manyone.formats;

import java.nio.file.Path;
import java.util.Optional;

/**
 * The one exception for bad input: a file that is malformed, inconsistent or not what was expected.
 * It carries the file, the tensor (when one is concerned) and a reason that says what was expected and
 * what was found. The CLI turns it into exit code 2 and a one-line message without a stack trace.
 */
public final class FormatException extends RuntimeException {
    private final Path file;
    private final String tensor;
    private final String reason;

    public FormatException(Path file, String tensor, String reason) {
        this(file, tensor, reason, null);
    }

    public FormatException(Path file, String tensor, String reason, Throwable cause) {
        super(format(file, tensor, reason), cause);
        this.file = file;
        this.tensor = tensor;
        this.reason = reason;
    }

    public FormatException(Path file, String reason) {
        this(file, null, reason, null);
    }

    public Optional<Path> file() {
        return Optional.ofNullable(file);
    }

    public Optional<String> tensor() {
        return Optional.ofNullable(tensor);
    }

    public String reason() {
        return reason;
    }

    private static String format(Path file, String tensor, String reason) {
        StringBuilder sb = new StringBuilder();
        if (file != null) {
            sb.append(file).append(": ");
        }
        if (tensor != null) {
            sb.append("tensor '").append(tensor).append("': ");
        }
        return sb.append(reason).toString();
    }
}
