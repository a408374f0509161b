package dev.manyone.cli;

import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;

/**
 * Runs the CLI in-process like {@link CliRun}, with pack, unpack and verify registered even if {@link Main} does not
 * list them (yet): the same handlers as {@link Main#run}.
 */
final class PackCli {
    private PackCli() {
    }

    static CliRun of(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = new CommandLine(new Main());
        for (Object command : List.of(new PackCommand(), new UnpackCommand(), new VerifyCommand())) {
            String name = command.getClass().getAnnotation(CommandLine.Command.class).name();
            if (!cli.getSubcommands().containsKey(name)) {
                cli.addSubcommand(command);
            }
        }
        PrintWriter o = new PrintWriter(out);
        PrintWriter e = new PrintWriter(err);
        cli.setOut(o);
        cli.setErr(e);
        cli.setExecutionExceptionHandler(new ErrorHandler(List.of(args).contains("--verbose")));
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
