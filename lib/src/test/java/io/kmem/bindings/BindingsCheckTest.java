package io.kmem.bindings;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Checks the jextract output in {@code bindings/} against the C compiler: builds
 * {@code native/probe.c} with gcc, runs it, and compares every constant, C type size and struct
 * layout it prints with the bindings. Both directions fail: a constant or struct field in the
 * bindings that the probe does not print, and a probe line nothing in the bindings accounts
 * for. The argfile {@code native/jextract.args} is checked against the bindings the same way.
 */
class BindingsCheckTest {

    /** The source tree's root: the first directory up from the module's that holds native/. */
    private static final Path ROOT = sourceRoot(Path.of(System.getProperty("basedir", System.getProperty("user.dir"))));
    private static final Path PROBE_SOURCE = ROOT.resolve("native/probe.c");
    private static final Path ARGFILE = ROOT.resolve("native/jextract.args");
    private static final Path PROBE_BINARY = ROOT.resolve("target/kmem-probe");

    /** Probe output, in order: name to value. */
    private static Map<String, Long> probe;

    @BeforeAll
    static void runProbe() throws IOException, InterruptedException {
        probe = parse(run(compileCommand(), "compiling " + PROBE_SOURCE));
    }

    private static List<String> compileCommand() throws IOException {
        Files.createDirectories(PROBE_BINARY.getParent());
        String gcc = findOnPath("gcc");
        if (gcc == null) {
            fail("gcc is not on PATH: install gcc (apt-get install gcc libc6-dev, or `make deps`); "
                    + "BindingsCheckTest compiles native/probe.c to check the bindings against the C headers");
        }
        return List.of(gcc, "-Wall", "-Werror", "-o", PROBE_BINARY.toString(), PROBE_SOURCE.toString());
    }

    private static String run(List<String> compile, String what) throws IOException, InterruptedException {
        exec(compile, what);
        return exec(List.of(PROBE_BINARY.toString()), "running " + PROBE_BINARY);
    }

    private static String exec(List<String> command, String what) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            fail(what + " did not finish in 60 s");
        }
        if (process.exitValue() != 0) {
            fail(what + " failed (exit " + process.exitValue() + "): " + String.join(" ", command) + "\n" + output);
        }
        return output;
    }

    private static String findOnPath(String program) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            Path candidate = Path.of(dir.isEmpty() ? "." : dir, program);
            if (Files.isExecutable(candidate)) {
                return candidate.toString();
            }
        }
        return null;
    }

    private static Map<String, Long> parse(String output) {
        Map<String, Long> values = new LinkedHashMap<>();
        for (String line : output.split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            String[] parts = line.trim().split(" ");
            assertEquals(2, parts.length, "probe line is not 'NAME VALUE': " + line);
            Long previous = values.put(parts[0], Long.parseLong(parts[1]));
            assertNull(previous, "probe prints " + parts[0] + " twice");
        }
        assertTrue(values.size() > 10, "the probe printed almost nothing:\n" + output);
        return values;
    }

    /** Probe names without a dot: the constants. */
    private static Map<String, Long> probeConstants() {
        return probe.entrySet().stream().filter(e -> !e.getKey().contains("."))
                .collect(Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue, (a, b) -> a, TreeMap::new));
    }

    /**
     * The constant getters of {@link Libc}: its own public static methods without parameters
     * that return int, long or MemorySegment and are not functions (a function {@code f} has
     * {@code f$descriptor()} next to it; a variadic one is a nested class).
     */
    private static Map<String, Method> libcConstants() {
        Set<String> functions = new TreeSet<>();
        for (Method m : Libc.class.getDeclaredMethods()) {
            if (m.getName().endsWith("$descriptor")) {
                functions.add(m.getName().substring(0, m.getName().length() - "$descriptor".length()));
            }
        }
        Map<String, Method> constants = new TreeMap<>();
        for (Method m : Libc.class.getDeclaredMethods()) {
            Class<?> type = m.getReturnType();
            if (Modifier.isPublic(m.getModifiers()) && Modifier.isStatic(m.getModifiers())
                    && m.getParameterCount() == 0 && !m.getName().contains("$")
                    && !functions.contains(m.getName())
                    && (type == int.class || type == long.class || type == MemorySegment.class)) {
                constants.put(m.getName(), m);
            }
        }
        return constants;
    }

    @Test
    void everyConstantMatchesTheProbeBothWays() throws ReflectiveOperationException {
        Map<String, Method> bound = libcConstants();
        Map<String, Long> printed = probeConstants();
        List<String> problems = new ArrayList<>();
        for (var e : bound.entrySet()) {
            Long expected = printed.get(e.getKey());
            if (expected == null) {
                problems.add(e.getKey() + ": in the bindings, not printed by native/probe.c");
                continue;
            }
            Object value = e.getValue().invoke(null);
            long actual = switch (value) {
                case Integer i -> i;
                case Long l -> l;
                case MemorySegment s -> s.address();
                default -> throw new AssertionError(e.getKey() + " returns " + value.getClass());
            };
            boolean matches = value instanceof Integer
                    // an unsigned C int constant above INT_MAX reads back negative from Java's int
                    ? (expected >= Integer.MIN_VALUE && expected <= 0xffff_ffffL && (int) actual == expected.intValue())
                    : actual == expected;
            if (!matches) {
                problems.add(e.getKey() + ": bindings " + actual + ", C " + expected);
            }
        }
        for (String name : printed.keySet()) {
            if (!bound.containsKey(name)) {
                problems.add(name + ": printed by native/probe.c, no constant getter in Libc");
            }
        }
        assertTrue(problems.isEmpty(), "bindings and C headers disagree:\n  " + String.join("\n  ", problems));
        assertTrue(bound.size() >= 50, "only " + bound.size() + " constants found: " + bound.keySet());
    }

    @Test
    void cTypeLayoutsMatchTheProbeBothWays() throws ReflectiveOperationException {
        List<String> problems = new ArrayList<>();
        Set<String> checked = new TreeSet<>();
        for (Field f : Libc.class.getFields()) {
            if (!f.getName().startsWith("C_") || !MemoryLayout.class.isAssignableFrom(f.getType())) {
                continue;
            }
            String key = "sizeof." + f.getName().substring(2).toLowerCase();
            Long expected = probe.get(key);
            MemoryLayout layout = (MemoryLayout) f.get(null);
            if (expected == null) {
                problems.add(f.getName() + ": in the bindings, native/probe.c prints no " + key);
            } else if (layout.byteSize() != expected) {
                problems.add(f.getName() + ": " + layout.byteSize() + " bytes, C " + expected);
            }
            checked.add(key);
        }
        for (String key : probe.keySet()) {
            if (key.startsWith("sizeof.") && !checked.contains(key)) {
                problems.add(key + ": printed by native/probe.c, no Libc.C_" + key.substring(7).toUpperCase());
            }
        }
        assertTrue(problems.isEmpty(), "C type layouts disagree:\n  " + String.join("\n  ", problems));
    }

    @Test
    void everyStructLayoutMatchesTheProbeBothWays() throws ReflectiveOperationException, IOException {
        List<String> problems = new ArrayList<>();
        Set<String> checked = new TreeSet<>();
        for (Class<?> struct : structClasses()) {
            String name = struct.getSimpleName();
            GroupLayout layout = (GroupLayout) struct.getMethod("layout").invoke(null);
            expect(problems, checked, name + ".sizeof", (long) struct.getMethod("sizeof").invoke(null));
            expect(problems, checked, name + ".sizeof", layout.byteSize());
            for (Method m : struct.getDeclaredMethods()) {
                if (!m.getName().endsWith("$offset") || m.getParameterCount() != 0) {
                    continue;
                }
                String field = m.getName().substring(0, m.getName().length() - "$offset".length());
                long offset = (long) m.invoke(null);
                expect(problems, checked, name + "." + field + ".offset", offset);
                expect(problems, checked, name + "." + field + ".offset", layout.byteOffset(groupElement(field)));
                MemoryLayout fieldLayout = (MemoryLayout) struct.getMethod(field + "$layout").invoke(null);
                expect(problems, checked, name + "." + field + ".size", fieldLayout.byteSize());
            }
        }
        for (String key : probe.keySet()) {
            if (key.contains(".") && !key.startsWith("sizeof.") && !checked.contains(key)) {
                problems.add(key + ": printed by native/probe.c, no such struct or field in the bindings");
            }
        }
        assertTrue(problems.isEmpty(), "struct layouts disagree:\n  " + String.join("\n  ", problems));
        assertTrue(checked.contains("rlimit.rlim_cur.offset"), "struct rlimit was not checked: " + checked);
    }

    private static void expect(List<String> problems, Set<String> checked, String key, long actual) {
        Long expected = probe.get(key);
        if (expected == null) {
            problems.add(key + ": in the bindings, not printed by native/probe.c");
        } else if (expected != actual) {
            problems.add(key + ": bindings " + actual + ", C " + expected);
        }
        checked.add(key);
    }

    /** The top-level classes of the bindings package that have a struct {@code layout()}. */
    private static List<Class<?>> structClasses() throws IOException, ClassNotFoundException {
        Path dir;
        try {
            dir = Path.of(Libc.class.getProtectionDomain().getCodeSource().getLocation().toURI())
                    .resolve(Libc.class.getPackageName().replace('.', '/'));
        } catch (java.net.URISyntaxException e) {
            throw new IOException(e);
        }
        List<Class<?>> structs = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path file : files.sorted().toList()) {
                String simple = file.getFileName().toString();
                if (!simple.endsWith(".class")) {
                    continue;
                }
                Class<?> c = Class.forName(Libc.class.getPackageName() + "." + simple.replace(".class", ""),
                        false, Libc.class.getClassLoader());
                if (c.isMemberClass() || c.isLocalClass() || c.isAnonymousClass()) {
                    continue;
                }
                try {
                    Method layout = c.getMethod("layout");
                    if (Modifier.isStatic(layout.getModifiers()) && layout.getReturnType() == GroupLayout.class) {
                        structs.add(c);
                    }
                } catch (NoSuchMethodException notAStruct) {
                    // a header class
                }
            }
        }
        return structs;
    }

    @Test
    void argfileAndBindingsDeclareTheSameSymbols() throws IOException, ClassNotFoundException {
        Map<String, Set<String>> included = new TreeMap<>();
        for (String line : Files.readAllLines(ARGFILE)) {
            String[] parts = line.trim().split("\\s+");
            if (parts.length == 2 && parts[0].startsWith("--include-")) {
                included.computeIfAbsent(parts[0], k -> new TreeSet<>()).add(parts[1]);
            }
            assertTrue(!line.startsWith("-I") && !line.contains("/usr/"), "host path in the argfile: " + line);
        }
        assertEquals(libcConstants().keySet(), included.get("--include-constant"),
                "--include-constant lines vs constant getters in Libc");

        Set<String> functions = new TreeSet<>();
        for (Method m : Libc.class.getDeclaredMethods()) {
            if (m.getName().endsWith("$address") && Modifier.isPublic(m.getModifiers())) {
                functions.add(m.getName().substring(0, m.getName().length() - "$address".length()));
            }
        }
        for (Class<?> nested : Libc.class.getDeclaredClasses()) {
            if (Modifier.isPublic(nested.getModifiers())
                    && Stream.of(nested.getMethods()).anyMatch(m -> m.getName().equals("makeInvoker"))) {
                functions.add(nested.getSimpleName());
            }
        }
        assertEquals(included.get("--include-function"), functions, "--include-function lines vs functions in Libc");

        Set<String> structs = structClasses().stream().map(Class::getSimpleName).collect(Collectors.toCollection(TreeSet::new));
        assertEquals(included.get("--include-struct"), structs, "--include-struct lines vs struct classes");
    }

    @Test
    void everyFunctionResolvesInLibc() throws ReflectiveOperationException {
        for (Method m : Libc.class.getDeclaredMethods()) {
            if (m.getName().endsWith("$address")) {
                MemorySegment address = (MemorySegment) m.invoke(null);
                assertNotNull(address);
                assertTrue(address.address() != 0, m.getName() + " resolved to NULL");
            }
        }
        for (Class<?> nested : Libc.class.getDeclaredClasses()) {
            if (Stream.of(nested.getMethods()).anyMatch(m -> m.getName().equals("makeInvoker"))) {
                MemorySegment address = (MemorySegment) nested.getMethod("address").invoke(null);
                assertTrue(address.address() != 0, nested.getSimpleName() + " resolved to NULL");
            }
        }
    }

    private static Path sourceRoot(Path start) {
        for (Path p = start.toAbsolutePath(); p != null; p = p.getParent()) {
            if (java.nio.file.Files.isRegularFile(p.resolve("native/jextract.args"))) {
                return p;
            }
        }
        return start;
    }
}
