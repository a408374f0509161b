package dev.manyone.cli;

import dev.manyone.formats.FormatException;
import picocli.CommandLine;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;

/** Maps exceptions to exit codes and one-line messages: bad input → 2, everything else → 1. */
final class ErrorHandler implements CommandLine.IExecutionExceptionHandler {
    private final boolean verbose;

    ErrorHandler(boolean verbose) {
        this.verbose = verbose;
    }

    @Override
    public int handleExecutionException(Exception ex, CommandLine cli, CommandLine.ParseResult parsed) {
        PrintWriter err = cli.getErr();
        Throwable t = ex instanceof UncheckedIOException u ? u.getCause() : ex;
        int code;
        if (t instanceof FormatException f) {
            err.println("manyone: error: " + f.getMessage());
            code = Main.BAD_INPUT;
        } else if (t instanceof NoSuchFileException n) {
            err.println("manyone: error: " + n.getFile() + ": no such file or directory");
            code = Main.BAD_INPUT;
        } else if (t instanceof AccessDeniedException a) {
            err.println("manyone: error: " + a.getFile() + ": permission denied");
            code = Main.FAILURE;
        } else if (t instanceof IOException io) {
            err.println("manyone: I/O error: " + io.getMessage());
            code = Main.FAILURE;
        } else {
            err.println("manyone: internal error: " + t + (verbose ? "" : " (run with --verbose for details)"));
            code = Main.FAILURE;
        }
        if (verbose) {
            t.printStackTrace(err);
        }
        err.flush();
        return code;
    }
}
