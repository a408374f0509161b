package dev.manyone.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;

/**
 * The {@code manyone} command. Exit codes: 0 ok, 1 failure (I/O, internal error), 2 bad input (malformed or
 * inconsistent files, impossible requests, usage errors). User errors print one message and no stack trace;
 * {@code --verbose} shows it.
 */
@Command(name = "manyone",
        mixinStandardHelpOptions = true,
        versionProvider = Version.class,
        sortOptions = false,
        description = {
            "Package many-in-one (elastic) Nemotron-H language models and slice them, zero-shot, into children.",
            "",
            "Start with:  manyone generate --preset example -o parent && manyone inspect parent"},
        footer = {"", "Exit codes: 0 ok, 1 failure, 2 bad input. Add --verbose to any command for stack traces.",
            "Run 'manyone help COMMAND' for a command's options."},
        subcommands = {
            InspectCommand.class,
            GenerateCommand.class,
            ExtractCommand.class,
            ExportCommand.class,
            RunCommand.class,
            EvalCommand.class,
            BudgetsCommand.class,
            RankCommand.class,
            RankEvalCommand.class,
            QuantEvalCommand.class,
            PackCommand.class,
            UnpackCommand.class,
            VerifyCommand.class,
            BenchCommand.class,
            BenchExtractCommand.class,
            CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    public static final int OK = 0;
    public static final int FAILURE = 1;
    public static final int BAD_INPUT = 2;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    public static void main(String[] args) {
        System.exit(run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args));
    }

    /** Runs the command line with the given streams and returns the exit code (used by tests). */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cli = new CommandLine(new Main());
        cli.setOut(out);
        cli.setErr(err);
        cli.setExecutionExceptionHandler(new ErrorHandler(java.util.List.of(args).contains("--verbose")));
        cli.setParameterExceptionHandler((ex, argv) -> {
            PrintWriter e = ex.getCommandLine().getErr();
            e.println("manyone: " + ex.getMessage());
            e.println("Run '" + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help' for usage.");
            return BAD_INPUT;
        });
        int code = cli.execute(args);
        out.flush();
        err.flush();
        return code;
    }
}
