package io.kmem.tool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code kmem info --pid} and {@code kmem top --pid} against a driver in a JVM of its own
 * ({@link PoolHolder}), and a clear message for each PID that cannot be watched: no such
 * process, not a JVM, a JVM without a pool, another user's JVM.
 */
class RemoteTest {
    private static Process driver;
    private static Process bare;

    static Process java(String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path")));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    }

    private static Process started(Process p) throws IOException {
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String line = r.readLine();
        assertEquals("ready", line, "the child JVM came up");
        return p;
    }

    @BeforeAll
    static void start() throws IOException {
        driver = started(java(PoolHolder.class.getName(), "pool"));
        bare = started(java(PoolHolder.class.getName(), "none"));
    }

    @AfterAll
    static void stop() throws Exception {
        for (Process p : new Process[] {driver, bare}) {
            if (p != null) {
                p.getOutputStream().close();
                if (!p.waitFor(20, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                }
            }
        }
    }

    @Test
    void infoPrintsTheOtherJvmsPoolsInProcFormats() {
        MainTest.Result r = MainTest.run("info", "--pid", Long.toString(driver.pid()));
        assertEquals(0, r.status(), r.toString());
        assertTrue(r.out().contains("# pool 'held' of JVM " + driver.pid()), r.toString());
        assertTrue(r.out().contains("slabinfo - version: 2.1"), r.toString());
        String line = r.out().lines().filter(l -> l.startsWith("remote_obj ")).findFirst()
                .orElseThrow(() -> new AssertionError("no remote_obj line in slabinfo: " + r));
        assertEquals("25", line.trim().split("\\s+")[1], "active_objs of the held cache: " + line);
        assertTrue(r.out().contains("MemTotal"), "meminfo: " + r);
        assertTrue(r.out().contains("Node 0, zone"), "buddyinfo: " + r);
    }

    @Test
    void topRedrawsInPlace() {
        MainTest.Result r = MainTest.run("top", "--pid", Long.toString(driver.pid()), "--iterations", "2",
                "--delay", "1");
        assertEquals(0, r.status(), r.toString());
        assertEquals(2, r.out().split(java.util.regex.Pattern.quote(Top.CLEAR), -1).length - 1,
                "two frames, each clearing the screen first: " + r);
        assertTrue(r.out().contains("Pool 'held' (unprivileged)"), r.toString());
        assertTrue(r.out().contains("  OBJS ACTIVE  USE OBJ SIZE  SLABS OBJ/SLAB CACHE SIZE NAME"), r.toString());
        assertTrue(r.out().lines().anyMatch(l -> l.endsWith(" remote_obj") && l.trim().split("\\s+")[1].equals("25")),
                r.toString());
        MainTest.Result batch = MainTest.run("top", "--pid", Long.toString(driver.pid()), "--iterations", "1",
                "--batch");
        assertTrue(!batch.out().contains(Top.CLEAR) && batch.out().contains("remote_obj"), batch.toString());
    }

    @Test
    void aPoolNameThatIsNotThereListsThoseThatAre() {
        MainTest.Result r = MainTest.run("info", "--pid", Long.toString(driver.pid()), "--pool", "nosuch");
        assertEquals(1, r.status(), r.toString());
        assertTrue(r.err().contains("has no kmem pool named 'nosuch'; its pools: [held]"), r.toString());
    }

    @Test
    void aJvmWithoutAPool() {
        MainTest.Result r = MainTest.run("info", "--pid", Long.toString(bare.pid()));
        assertEquals(1, r.status(), r.toString());
        assertTrue(r.err().contains("has no kmem pool open"), r.toString());
    }

    @Test
    void aProcessThatIsNotAJvm() throws Exception {
        Process sleep = new ProcessBuilder("sleep", "60").start();
        try {
            MainTest.Result r = MainTest.run("top", "--pid", Long.toString(sleep.pid()));
            assertEquals(2, r.status(), r.toString());
            assertTrue(r.err().contains("(/usr/bin/sleep) is not a Java virtual machine")
                    || r.err().contains("(/bin/sleep) is not a Java virtual machine"), r.toString());
        } finally {
            sleep.destroy();
        }
    }

    @Test
    void noSuchProcessAndNoPid() {
        MainTest.Result r = MainTest.run("info", "--pid", "2147483647");
        assertEquals(2, r.status(), r.toString());
        assertTrue(r.err().contains("no process 2147483647"), r.toString());
        MainTest.Result top = MainTest.run("top");
        assertEquals(2, top.status(), top.toString());
        assertTrue(top.err().contains("--pid PID is required"), top.toString());
    }

    @Test
    void anotherUsersJvmIsPermissionDenied() throws Exception {
        // The tool as user nobody, watching the driver this (root) test started.
        List<String> cmd = new ArrayList<>(List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                System.getProperty("java.class.path"), Main.class.getName(), "info", "--pid",
                Long.toString(driver.pid())));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(2, p.exitValue(), out);
        assertTrue(out.contains("permission denied attaching to JVM " + driver.pid() + " (owned by root): run kmem as"
                + " that user or as root"), out);
    }
}
