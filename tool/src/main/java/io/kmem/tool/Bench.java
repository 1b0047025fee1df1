package io.kmem.tool;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * {@code kmem bench}: runs the JMH suite the way {@code make bench} does. The benchmarks and
 * JMH are the source tree's bench module (bench/, built with {@code mvn -Pbench}: classes in
 * bench/target/classes, the rest of the class path in bench/target/bench-classpath.txt), not
 * part of the kmem or kmem-tool jars: so this starts a new JVM on that class path, in the
 * source tree, and passes its output through. Without those files it says what to run
 * instead and exits 2.
 */
final class Bench {
    static final String MAIN = "io.kmem.bench.BenchMain";

    private Bench() {
    }

    static int run(Main.Args a, PrintStream out, PrintStream err) {
        String regex = a.positional().isEmpty() ? null : a.positional().getFirst();
        if (regex != null) {
            try {
                Pattern.compile(regex);
            } catch (PatternSyntaxException e) {
                throw new Main.UsageException("'" + regex + "' is not a regular expression: " + e.getDescription());
            }
        }
        Path dir = Path.of(a.string("--dir", ".")).toAbsolutePath().normalize();
        Path classes = dir.resolve("bench/target/classes/io/kmem/bench/BenchMain.class");
        Path cpFile = dir.resolve("bench/target/bench-classpath.txt");
        if (!Files.isRegularFile(classes) || !Files.isRegularFile(cpFile)) {
            err.println("kmem bench: the JMH benchmarks are not built in " + dir + " (looked for "
                    + dir.relativize(classes) + " and " + dir.relativize(cpFile) + ").");
            err.println("  They are the source tree's bench module, not part of the kmem jars. In the kmem source"
                    + " tree, run");
            err.println("    make run ARGS=\"bench" + (regex == null ? "" : " " + regex) + "\"   (compiles them first),"
                    + " or");
            err.println("    make bench" + (regex == null ? "" : " BENCH='" + regex + "'"));
            err.println("  or give the tree with --dir DIR after `mvn -Pbench -DskipTests package` there.");
            return Main.USAGE;
        }
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.add("-cp");
        String cp;
        try {
            cp = Files.readString(cpFile).strip();
        } catch (IOException e) {
            err.println("kmem bench: cannot read " + cpFile + ": " + e);
            return Main.FAILED;
        }
        cmd.add("bench/target/classes" + (cp.isEmpty() ? "" : ":" + cp));
        cmd.add(MAIN);
        if (regex != null) {
            cmd.add(regex);
        }
        out.println("kmem bench: in " + dir + ", running");
        out.println("  " + String.join(" ", cmd.subList(0, 3)) + " bench/target/classes:$(cat"
                + " bench/target/bench-classpath.txt) " + String.join(" ", cmd.subList(4, cmd.size())));
        if (a.has("--print")) {
            return Main.OK;
        }
        out.flush();
        try {
            Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.INHERIT).start();
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    out.println(line);
                }
            }
            int status = p.waitFor();
            if (status != 0) {
                err.println("kmem bench: " + MAIN + " exited with status " + status);
                return Main.FAILED;
            }
            return Main.OK;
        } catch (IOException e) {
            err.println("kmem bench: cannot start " + cmd.getFirst() + ": " + e.getMessage());
            return Main.FAILED;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Main.FAILED;
        }
    }
}
