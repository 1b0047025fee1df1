package io.kmem.tool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The tool's command line: help for every command, and a clear message and exit 2 for every wrong one. */
class MainTest {
    /** What one run printed and returned. */
    record Result(int status, String out, String err) {
        @Override
        public String toString() {
            return "status " + status + "\n--- out\n" + out + "--- err\n" + err;
        }
    }

    static Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Result(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void anUnprivilegedDefaultPoolFitsHalfOfTheMemlockLimit() {
        assertEquals(64L << 20, Main.unprivilegedPoolBytes(Long.MAX_VALUE), "unlimited (root): 64 MiB");
        assertEquals(64L << 20, Main.unprivilegedPoolBytes(1L << 30));
        assertEquals(4L << 20, Main.unprivilegedPoolBytes(8L << 20), "a user's usual 8 MiB: 4 MiB");
        assertEquals(4L << 20, Main.unprivilegedPoolBytes((9L << 20) + 4096), "in 2 MiB steps");
        assertEquals(2L << 20, Main.unprivilegedPoolBytes(1L << 20), "at least 2 MiB (mlock then says why it fails)");
    }

    @Test
    void helpListsEveryCommand() {
        for (String[] args : new String[][] {{"help"}, {"--help"}, {"-h"}}) {
            Result r = run(args);
            assertEquals(0, r.status(), r.toString());
            for (String c : Main.COMMANDS.keySet()) {
                assertTrue(r.out().contains("  " + c + " "), c + " is listed: " + r);
            }
            assertTrue(r.out().contains("Exit status"), r.toString());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tour", "info", "verify", "stress", "map", "bench"})
    void everyCommandHasHelpThreeWays(String command) {
        Result viaHelp = run("help", command);
        assertEquals(0, viaHelp.status(), viaHelp.toString());
        assertTrue(viaHelp.out().startsWith("kmem " + command), viaHelp.toString());
        Result viaFlag = run(command, "--help");
        assertEquals(viaHelp, viaFlag, "kmem help " + command + " and kmem " + command + " --help say the same");
        assertEquals(viaHelp.out(), run(command, "-h").out());
        for (String option : Main.COMMANDS.get(command).options().keySet()) {
            assertTrue(viaHelp.out().contains(option), command + "'s help mentions " + option + ": " + viaHelp);
        }
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "''|missing command",
        "frobnicate|unknown command 'frobnicate'",
        "help frobnicate|no command 'frobnicate'",
        "help tour map|one command at most",
        "tour --threads 3|unknown option '--threads'",
        "info --mib|--mib needs a value",
        "info --mib lots|--mib expects a whole number, got 'lots'",
        "verify --mib 0|--mib expects 1 to 1048576, got 0",
        "info --huge-mib 3|--huge-mib expects a multiple of 2 (2 MiB pages), got 3",
        "tour extra|unexpected argument 'extra'",
        "tour --unprivileged=yes|--unprivileged takes no value",
        "info --mib 8 --mib 9|--mib given twice",
        "info --workload nonesuch|unknown workload 'nonesuch'",
        "stress --threads 0|--threads expects 1 to 256, got 0",
        "stress --seconds -1|--seconds expects 1 to 604800, got -1",
        "stress --ops 1e6|--ops expects a whole number, got '1e6'",
        "stress --inject typo|--inject expects 'corrupt' or 'leak', got 'typo'",
        "map|--out FILE.png or --out FILE.svg is required",
        "map --out picture.gif|the format follows the extension, .png or .svg",
        "map --out x.png --workload nonesuch|unknown workload 'nonesuch'",
        "bench a b|expected at most 1 argument(s)",
        "bench [unclosed|'[unclosed' is not a regular expression",
    })
    void wrongCommandLinesGetAMessageAndExitTwo(String line, String message) {
        String[] args = line.isEmpty() ? new String[0] : line.split(" ");
        Result r = run(args);
        assertEquals(2, r.status(), r.toString());
        assertTrue(r.err().contains(message), "expected '" + message + "' in: " + r);
        assertEquals("", r.out(), "nothing on stdout: " + r);
    }

    @Test
    void benchWithoutTheBenchmarksSaysWhatToRun(@TempDir Path empty) {
        Result r = run("bench", "SlabBench", "--dir", empty.toString());
        assertEquals(2, r.status(), r.toString());
        assertTrue(r.err().contains("the JMH benchmarks are not built in " + empty), r.toString());
        assertTrue(r.err().contains("make run ARGS=\"bench SlabBench\"") && r.err().contains("make bench BENCH='SlabBench'"),
                r.toString());
    }

    @Test
    void benchPrintsTheCommandMakeBenchRuns(@TempDir Path tree) throws Exception {
        Path classes = tree.resolve("bench/target/classes/io/kmem/bench/BenchMain.class");
        Files.createDirectories(classes.getParent());
        Files.write(classes, new byte[0]);
        Files.writeString(tree.resolve("bench/target/bench-classpath.txt"), "/m2/jmh-core.jar\n");
        Result r = run("bench", "SlabBench", "--print", "--dir", tree.toString());
        assertEquals(0, r.status(), r.toString());
        assertTrue(r.out().contains("--enable-native-access=ALL-UNNAMED -cp bench/target/classes:$(cat"
                + " bench/target/bench-classpath.txt) io.kmem.bench.BenchMain SlabBench"), r.toString());
    }

    @Test
    void infoPrintsEveryReportInTheKernelsFormats() {
        Result r = run("info", "--mib", "8", "--workload", "mixed");
        assertEquals(0, r.status(), r.toString());
        for (String report : new String[] {"MemTotal", "# /proc/buddyinfo", "# /proc/slabinfo", "slabinfo - version: 2.1",
                "# /proc/vmallocinfo", " vmalloc\n", "# /proc/iomem", " : System RAM\n"}) {
            assertTrue(r.out().contains(report), "kmem info prints " + report.strip() + ":\n" + r.out());
        }
    }

    /** Without CAP_SYS_ADMIN a physical pool fails saying what to do; --unprivileged works. */
    @Test
    void withoutCapSysAdminAPhysicalPoolFailsSayingWhatToDo() throws Exception {
        String javaBin = System.getProperty("java.home") + "/bin/java";
        List<String> cmd = List.of("setpriv", "--inh-caps=-sys_admin", "--bounding-set=-sys_admin",
                "--", javaBin, "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                "io.kmem.tool.Main", "info", "--mib", "4");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "child finished");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(1, p.exitValue(), out);
        assertTrue(out.contains("CAP_SYS_ADMIN") && out.contains("Run the JVM as root") && out.contains("unprivileged"),
                out);
        assertTrue(!out.contains("make "), "the library speaks to a library user, not of this project's make: " + out);

        List<String> unpriv = new ArrayList<>(cmd);
        unpriv.add("--unprivileged");
        Process r = new ProcessBuilder(unpriv).redirectErrorStream(true).start();
        assertTrue(r.waitFor(60, TimeUnit.SECONDS));
        String rout = new String(r.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, r.exitValue(), rout);
        assertTrue(rout.contains("unprivileged (frame index as PFN)"), rout);
    }

}
