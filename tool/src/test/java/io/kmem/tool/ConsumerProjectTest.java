package io.kmem.tool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * kmem as a new user meets it: installed into a local repository of its own (the reactor's
 * pom and the library's jar, sources and javadoc jars, by {@code install:install-file}, from
 * what this build packaged), a separate project ({@code src/test/consumer}, its pom the
 * README's dependency snippet, its module {@code requires io.kmem;}) built by Maven against
 * it, then run as a module (with {@code --limit-modules}: kmem's own requirements suffice) and
 * on the class path, each under {@code --illegal-native-access=deny} with the flag the README
 * gives; without the flag, the pool's build says which flag to add.
 *
 * <p>Maven runs from a scratch repository that takes what it needs (plugins) from
 * {@code ~/.m2/repository} through a {@code file:} mirror of every repository: nothing is fetched from the
 * network and the user's repository is not written.
 */
class ConsumerProjectTest {
    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
    private static final Path WORK = Path.of("target/consumer").toAbsolutePath();

    record Run(int status, String output) {
    }

    private static Run run(List<String> cmd) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        pb.environment().put("MAVEN_OPTS", "--sun-misc-unsafe-memory-access=allow");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "finished: " + cmd);
        return new Run(p.exitValue(), out);
    }

    private static List<String> mvn(Path repo, Path settings, String... args) {
        List<String> cmd = new ArrayList<>(List.of("mvn", "-B", "-q", "-Dstyle.color=never", "-s",
                settings.toString(), "-Dmaven.repo.local=" + repo));
        cmd.addAll(List.of(args));
        return cmd;
    }

    private static String version() throws IOException {
        Matcher m = Pattern.compile("<artifactId>kmem-parent</artifactId>\\s*<version>([^<]+)</version>")
                .matcher(Files.readString(ROOT.resolve("pom.xml")));
        assertTrue(m.find(), "the reactor pom has a version");
        return m.group(1);
    }

    @Test
    void aSeparateProjectDependsOnTheInstalledArtifactAsAModuleAndOnTheClassPath() throws Exception {
        String v = version();
        Path lib = ROOT.resolve("lib/target");
        Path jar = lib.resolve("kmem.jar");
        assertTrue(Files.exists(jar), jar + ": package the library first (mvn -DskipTests package)");
        if (Files.exists(WORK)) {
            try (Stream<Path> s = Files.walk(WORK)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        Path repo = WORK.resolve("m2");
        Path settings = WORK.resolve("settings.xml");
        Files.createDirectories(repo);
        Files.writeString(settings, """
                <settings><mirrors><mirror><id>seed</id><mirrorOf>*</mirrorOf><url>%s</url></mirror></mirrors>
                </settings>""".formatted(Path.of(System.getProperty("user.home"), ".m2/repository").toUri()));

        String install = "org.apache.maven.plugins:maven-install-plugin:3.1.4:install-file";
        Run parent = run(mvn(repo, settings, install, "-Dfile=" + ROOT.resolve("pom.xml"),
                "-DpomFile=" + ROOT.resolve("pom.xml")));
        assertEquals(0, parent.status(), parent.output());
        Run kmem = run(mvn(repo, settings, install, "-Dfile=" + jar, "-DpomFile=" + ROOT.resolve("lib/pom.xml"),
                "-Dsources=" + lib.resolve("kmem-" + v + "-sources.jar"),
                "-Djavadoc=" + lib.resolve("kmem-" + v + "-javadoc.jar")));
        assertEquals(0, kmem.status(), kmem.output());
        Path installed = repo.resolve("io/kmem/kmem/" + v);
        for (String f : List.of("kmem-" + v + ".jar", "kmem-" + v + ".pom", "kmem-" + v + "-sources.jar",
                "kmem-" + v + "-javadoc.jar")) {
            assertTrue(Files.exists(installed.resolve(f)), "installed " + f);
        }

        Path project = WORK.resolve("project");
        copy(Path.of("src/test/consumer").toAbsolutePath(), project);
        Run build = run(mvn(repo, settings, "-f", project.resolve("pom.xml").toString(), "-Dkmem.version=" + v,
                "compiler:compile", "jar:jar"));
        assertEquals(0, build.status(), "the consumer compiles against the installed kmem: " + build.output());
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String app = project.resolve("target/kmem-consumer-1.0.jar").toString();
        String kmemJar = installed.resolve("kmem-" + v + ".jar").toString();
        String path = app + File.pathSeparator + kmemJar;

        Run module = run(List.of(java, "--illegal-native-access=deny", "--enable-native-access=io.kmem",
                "--limit-modules", "example.consumer", "-p", path, "-m", "example.consumer/example.consumer.Main"));
        assertEquals(0, module.status(), module.output());
        assertEquals("consumer: module example.consumer, kmem module io.kmem, kmalloc(100) from kmalloc-128, read"
                + " back 0x6b6d656d", module.output().strip());

        Run classPath = run(List.of(java, "--illegal-native-access=deny", "--enable-native-access=ALL-UNNAMED",
                "-cp", path, "example.consumer.Main"));
        assertEquals(0, classPath.status(), classPath.output());
        assertEquals("consumer: class path, kmem on the class path, kmalloc(100) from kmalloc-128, read back"
                + " 0x6b6d656d", classPath.output().strip());

        Run denied = run(List.of(java, "--illegal-native-access=deny", "-cp", path, "example.consumer.Main"));
        assertNotEquals(0, denied.status(), denied.output());
        assertTrue(denied.output().contains("IllegalCallerException: kmem reaches the kernel through the FFM API and"
                + " needs native access") && denied.output().contains("--enable-native-access=ALL-UNNAMED"),
                denied.output());
    }

    private static void copy(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t);
                }
            }
        }
    }
}
