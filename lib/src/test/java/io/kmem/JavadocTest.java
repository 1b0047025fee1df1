package io.kmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.DocumentationTool;
import javax.tools.JavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Javadoc is part of the build: the JDK's javadoc runs on module io.kmem as its users see it
 * (the exported packages only; the bindings and io.kmem.internal do not appear) with doclint
 * on. Broken links, bad HTML, unknown tags and wrong {@code @param} names fail the build;
 * missing {@code @param}/{@code @return}/comments are counted and may only go down.
 */
class JavadocTest {
    /** Missing-documentation warnings left on the public API; lower it as they are written. */
    static final int MISSING_AT_MOST = 578;

    @Test
    void thePublicApiDocumentsWithoutDoclintWarnings(@TempDir Path out) throws Exception {
        Path lib = Path.of(System.getProperty("basedir", System.getProperty("user.dir"))).toAbsolutePath();
        Path src = lib.resolve("src/main/java");
        Path bindings = lib.resolve("../bindings").normalize();
        assertTrue(Files.isDirectory(src) && Files.isDirectory(bindings), "sources at " + src + " and " + bindings);
        DocumentationTool javadoc = ToolProvider.getSystemDocumentationTool();
        DiagnosticCollector<JavaFileObject> diags = new DiagnosticCollector<>();
        List<String> options = List.of("-quiet", "-Xdoclint:all", "-Xmaxwarns", "10000", "-d", out.toString(),
                "--module-source-path", "io.kmem=" + src + ":" + bindings, "--module", "io.kmem");
        StringWriter log = new StringWriter();
        try (StandardJavaFileManager fm = javadoc.getStandardFileManager(diags, Locale.ROOT, null)) {
            boolean ok = javadoc.getTask(log, fm, diags, null, options, null).call();
            assertTrue(ok, "javadoc failed:\n" + log + diags.getDiagnostics());
        }
        List<String> problems = new ArrayList<>();
        int missing = 0;
        for (Diagnostic<? extends JavaFileObject> d : diags.getDiagnostics()) {
            if (d.getKind() == Diagnostic.Kind.NOTE) {
                continue;
            }
            String msg = d.getMessage(Locale.ROOT);
            if (msg.startsWith("no comment") || msg.startsWith("no @param") || msg.startsWith("no @return")
                    || msg.startsWith("no @throws")) {
                missing++;
                continue;
            }
            problems.add((d.getSource() == null ? "" : d.getSource().getName() + ":" + d.getLineNumber() + ": ") + msg);
        }
        assertEquals(List.of(), problems, "doclint on the public API");
        assertTrue(missing <= MISSING_AT_MOST, missing + " missing @param/@return/comments on the public API, more than"
                + " the " + MISSING_AT_MOST + " left: document the new members");
        assertTrue(Files.exists(out.resolve("io.kmem/io/kmem/SlabApi.html")), "the slab.h contract is documented");
        assertTrue(!Files.exists(out.resolve("io.kmem/io/kmem/bindings")), "the generated bindings are not in the docs");
        assertTrue(!Files.exists(out.resolve("io.kmem/io/kmem/internal")), "the internals are not in the docs");
    }
}
