package dev.manyone.cli;

import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;

/**
 * Runs {@code rank} / {@code rank-eval} in-process like {@link CliRun} (same exit codes and error handling). Until
 * Main lists RankCommand and RankEvalCommand, they are added here; once it does, this is {@code CliRun.of}.
 */
final class RankCli {
    private RankCli() {
    }

    static CliRun of(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = new CommandLine(new Main());
        if (!cli.getSubcommands().containsKey("rank")) {
            cli.addSubcommand("rank", new RankCommand());
        }
        if (!cli.getSubcommands().containsKey("rank-eval")) {
            cli.addSubcommand("rank-eval", new RankEvalCommand());
        }
        PrintWriter o = new PrintWriter(out);
        PrintWriter e = new PrintWriter(err);
        cli.setOut(o);
        cli.setErr(e);
        cli.setExecutionExceptionHandler(new ErrorHandler(java.util.List.of(args).contains("--verbose")));
        cli.setParameterExceptionHandler((ex, argv) -> {
            ex.getCommandLine().getErr().println("manyone: " + ex.getMessage());
            return Main.BAD_INPUT;
        });
        int code = cli.execute(args);
        o.flush();
        e.flush();
        return new CliRun(code, out.toString(), err.toString());
    }
}
