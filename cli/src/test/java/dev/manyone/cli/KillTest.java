package dev.manyone.cli;

import dev.manyone.elastic.NemotronHConfig;
import dev.manyone.elastic.generate.ModelGenerator;
import dev.manyone.elastic.generate.Presets;
import dev.manyone.formats.Progress;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Crash safety: {@code extract} (HF, sharded) and {@code export} run in a child JVM that is killed with SIGKILL
 * ({@link Process#destroyForcibly}) after a seeded random delay in [0, the measured run time]. Afterwards the output
 * path is either absent or complete: byte-identical to an uninterrupted run (outputs are deterministic, see
 * DeterminismTest), and for the HF child {@code inspect} passes. A hidden {@code .NAME.partial-*} sibling may be
 * left behind by a kill (documented in docs/errors.md); nothing else may appear beside the output. The test prints
 * how many kills landed before the temp directory existed, while it was being written, and after the rename.
 */
class KillTest {
    static final long SEED = 20261123L;
    /** Kills per command: 4 in the normal run, more with -Dmanyone.kills=N. */
    static final int KILLS_PER_COMMAND = Integer.getInteger("manyone.kills", 4);

    @TempDir
    static Path tmp;
    static Path parent;

    @BeforeAll
    static void parent() throws IOException {
        // ~20 MB of BF16 weights, in shards, so that writing takes long enough to be interrupted
        NemotronHConfig config = Presets.load("tiny").with(o -> {
            o.put("vocab_size", 8000);
            o.put("hidden_size", 512);
            o.put("intermediate_size", 1536);
            o.put("num_attention_heads", 8);
            o.put("num_key_value_heads", 2);
            o.put("head_dim", 64);
            o.put("mamba_num_heads", 16);
            o.put("mamba_head_dim", 64);
            o.put("n_groups", 4);
            o.put("ssm_state_size", 32);
        });
        parent = tmp.resolve("parent");
        new ModelGenerator(config, 5, 4_000_000, 2).write(parent, false, Progress.NONE);
    }

    @Test
    void killedExtractLeavesNothingOrAWholeChild() throws Exception {
        killAtRandomPoints("extract", out -> List.of("extract", parent.toString(), "--hidden", "384", "--ffn", "1024",
                "--mamba-heads", "8", "-o", out.toString(), "--shard-size", "3MB"), true);
    }

    @Test
    void killedExportLeavesNothingOrAWholeModel() throws Exception {
        killAtRandomPoints("export", out -> List.of("export", parent.toString(), "-o", out.toString()), false);
    }

    /**
     * A full disk, simulated without a tmpfs or a special file system: the child JVM runs under {@code ulimit -f}
     * (RLIMIT_FSIZE), so the kernel fails every write past 1 MiB of a file with EFBIG (the JVM ignores SIGXFSZ), as
     * it would fail with ENOSPC on a full disk: in the middle of a shard, through both write() and the
     * transferTo() copy path. The command must exit 1 with an I/O error naming the problem, and leave neither the
     * output nor a temporary sibling behind.
     */
    @Test
    void fullDiskGivesExitOneAndNoOutput() throws Exception {
        for (String command : List.of("extract", "export")) {
            Path dir = Files.createDirectories(tmp.resolve("full-" + command));
            Path out = dir.resolve("out");
            List<String> args = command.equals("extract")
                    ? List.of("extract", parent.toString(), "--hidden", "384", "-o", out.toString(), "--shard-size", "3MB")
                    : List.of("export", parent.toString(), "-o", out.toString());
            List<String> cmd = new ArrayList<>(List.of("/bin/sh", "-c", "ulimit -f 1024 && exec \"$@\"", "sh"));
            cmd.addAll(javaCommand(args));
            Path log = dir.resolveSibling("full-" + command + ".log");
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            assertTrue(p.waitFor(5, TimeUnit.MINUTES));
            String output = Files.readString(log);
            System.out.println("KillTest full disk, " + command + ": " + output.strip());
            assertEquals(1, p.exitValue(), command + ":\n" + output);
            assertTrue(output.contains("manyone: I/O error: ") && output.contains("File too large"), command + ":\n" + output);
            assertTrue(!output.contains("\tat "), "no stack trace:\n" + output);
            try (Stream<Path> s = Files.list(dir)) {
                assertEquals(List.of(), s.toList(), command + " left files behind");
            }
        }
    }

    interface Args {
        List<String> of(Path out);
    }

    void killAtRandomPoints(String name, Args args, boolean inspect) throws Exception {
        Path refDir = Files.createDirectories(tmp.resolve(name + "-reference"));
        Path reference = refDir.resolve("out");
        long t0 = System.nanoTime();
        Process p = start(args.of(reference));
        long writingFrom = waitForPartial(p, refDir, t0);
        assertTrue(p.waitFor(5, TimeUnit.MINUTES));
        long runMillis = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(0, p.exitValue(), name + " failed");
        long writingMillis = Math.max(1, runMillis - writingFrom);
        Random random = new Random(SEED ^ name.hashCode());
        int absent = 0;
        int complete = 0;
        int leftovers = 0;
        for (int k = 0; k < KILLS_PER_COMMAND; k++) {
            Path dir = Files.createDirectories(tmp.resolve(name + "-kill-" + k));
            Path out = dir.resolve("out");
            // even kills: anywhere in the run (JVM start, validation, writing); odd kills: while the temp output is
            // being written (after the hidden sibling appeared), where a non-atomic writer would leave half a child
            boolean whileWriting = k % 2 == 1;
            long delay = (long) (random.nextDouble() * (whileWriting ? writingMillis : runMillis));
            long start = System.nanoTime();
            Process child = start(args.of(out));
            if (whileWriting) {
                waitForPartial(child, dir, start);
            }
            boolean finished = child.waitFor(delay, TimeUnit.MILLISECONDS);
            if (!finished) {
                child.destroyForcibly();
                child.waitFor(1, TimeUnit.MINUTES);
            }
            List<String> names = new ArrayList<>();
            try (Stream<Path> s = Files.list(dir)) {
                s.forEach(f -> names.add(f.getFileName().toString()));
            }
            for (String n : names) {
                assertTrue(n.equals("out") || n.startsWith(".out.partial-"), "unexpected " + n + " after a kill at " + delay + " ms");
            }
            leftovers += (int) names.stream().filter(n -> n.startsWith(".out.partial-")).count();
            if (Files.exists(out)) {
                complete++;
                DeterminismTest.assertSameTree(reference, out);
                if (inspect) {
                    CliRun r = CliRun.of("inspect", out.toString());
                    assertEquals(0, r.code(), r.toString());
                }
            } else {
                absent++;
            }
        }
        System.out.printf("KillTest %s: run %d ms (writing from %d ms), %d kills: %d left no output (%d hidden partial "
                + "siblings), %d complete%n", name, runMillis, writingFrom, KILLS_PER_COMMAND, absent, leftovers, complete);
        assertEquals(KILLS_PER_COMMAND, absent + complete);
    }

    /** Polls until a hidden {@code .out.partial-*} appears in {@code dir} (or the process ends); ms since t0. */
    static long waitForPartial(Process p, Path dir, long t0) throws IOException, InterruptedException {
        while (p.isAlive()) {
            try (Stream<Path> s = Files.list(dir)) {
                if (s.anyMatch(f -> f.getFileName().toString().startsWith(".out.partial-"))) {
                    break;
                }
            }
            Thread.sleep(1);
        }
        return (System.nanoTime() - t0) / 1_000_000;
    }

    static Process start(List<String> args) throws IOException {
        return new ProcessBuilder(javaCommand(args)).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    }

    static List<String> javaCommand(List<String> args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx512m");
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Main.class.getName());
        cmd.addAll(args);
        cmd.add("--no-progress");
        return cmd;
    }
}
