package dev.manyone.cli;

import picocli.CommandLine.Option;

/** Options every command takes. {@code --verbose} is also read by {@link ErrorHandler} before parsing. */
final class CommonOptions {
    @Option(names = "--verbose", description = "Show stack traces for errors.")
    boolean verbose;

    @Option(names = "--no-progress", description = "Do not draw progress bars (they are drawn only on a terminal anyway).")
    boolean noProgress;
}
