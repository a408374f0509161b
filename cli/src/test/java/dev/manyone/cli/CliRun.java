package dev.manyone.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;

/** Runs the CLI in-process and captures exit code, stdout and stderr. */
record CliRun(int code, String out, String err) {

    static CliRun of(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(new PrintWriter(out), new PrintWriter(err), args);
        return new CliRun(code, out.toString(), err.toString());
    }

    static Path golden() {
        String p = System.getProperty("manyone.golden");
        Path dir = p != null ? Path.of(p) : Path.of("../../shared/golden");
        if (!dir.resolve("README.md").toFile().exists()) {
            throw new IllegalStateException("golden data not found at " + dir.toAbsolutePath());
        }
        return dir;
    }

    @Override
    public String toString() {
        return "exit " + code + "\n--- stdout\n" + out + "--- stderr\n" + err;
    }
}
