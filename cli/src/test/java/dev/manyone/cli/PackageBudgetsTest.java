package dev.manyone.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Budgets of an elastic parent read in place from its package give the same children as from the directory. */
class PackageBudgetsTest {

    @Test
    void extractByBudgetFromAPackage(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("parent");
        Path pkg = tmp.resolve("family.manyone");
        assertEquals(0, CliRun.of("generate", "--preset", "tiny", "--elastic", "-o", dir.toString()).code());
        assertEquals(0, CliRun.of("pack", dir.toString(), "-o", pkg.toString()).code());
        CliRun budgets = CliRun.of("budgets", pkg.toString(), "--json");
        assertEquals(0, budgets.code(), budgets.toString());
        assertEquals(Surgery.JSON.readTree(CliRun.of("budgets", dir.toString(), "--json").out()).get("budgets"),
                Surgery.JSON.readTree(budgets.out()).get("budgets"));
        for (Path parent : new Path[] {dir, pkg}) {
            CliRun run = CliRun.of("extract", parent.toString(), "--budget", "small,medium", "-o",
                    tmp.resolve("from-" + parent.getFileName()).toString());
            assertEquals(0, run.code(), run.toString());
        }
        for (String b : new String[] {"small", "medium"}) {
            Path a = tmp.resolve("from-parent").resolve(b);
            Path p = tmp.resolve("from-family.manyone").resolve(b);
            try (var files = Files.list(a)) {
                for (Path f : (Iterable<Path>) files::iterator) {
                    assertArrayEquals(Files.readAllBytes(f), Files.readAllBytes(p.resolve(f.getFileName())), b + "/" + f.getFileName());
                }
            }
            assertTrue(Files.exists(p.resolve("config.json")));
        }
    }

    @Test
    void moeBudgetsFromAPackage(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("moe");
        Path pkg = tmp.resolve("moe.manyone");
        assertEquals(0, CliRun.of("generate", "--preset", "moe-example", "--elastic", "-o", dir.toString()).code());
        assertEquals(0, CliRun.of("pack", dir.toString(), "-o", pkg.toString()).code());
        CliRun budgets = CliRun.of("budgets", pkg.toString(), "--json");
        assertEquals(0, budgets.code(), budgets.toString());
        var fromPkg = Surgery.JSON.readTree(budgets.out());
        var fromDir = Surgery.JSON.readTree(CliRun.of("budgets", dir.toString(), "--json").out());
        assertEquals(fromDir.get("budgets"), fromPkg.get("budgets"));
        assertEquals(fromDir.get("parent_active_params"), fromPkg.get("parent_active_params"));
        for (Path parent : new Path[] {dir, pkg}) {
            CliRun run = CliRun.of("extract", parent.toString(), "--budget", "medium", "-o",
                    tmp.resolve("from-" + parent.getFileName()).toString());
            assertEquals(0, run.code(), run.toString());
        }
        Path a = tmp.resolve("from-moe");
        try (var files = Files.list(a)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                assertArrayEquals(Files.readAllBytes(f), Files.readAllBytes(tmp.resolve("from-moe.manyone").resolve(f.getFileName())),
                        f.getFileName().toString());
            }
        }
    }
}
