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
 * on. Any warning fails the build: broken links, bad HTML, unknown tags, wrong {@code @param}
 * names, and a missing comment, {@code @param} or {@code @return} on anything public.
 */
class JavadocTest {

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
        for (Diagnostic<? extends JavaFileObject> d : diags.getDiagnostics()) {
            if (d.getKind() == Diagnostic.Kind.NOTE) {
                continue;
            }
            String msg = d.getMessage(Locale.ROOT);
            problems.add((d.getSource() == null ? "" : d.getSource().getName() + ":" + d.getLineNumber() + ": ") + msg);
        }
        assertEquals(List.of(), problems, "doclint on the public API: document every public member (a comment, an"
                + " @param for each parameter, an @return, an @throws for each kmem exception it throws)");
        assertTrue(Files.exists(out.resolve("io.kmem/io/kmem/SlabApi.html")), "the slab.h contract is documented");
        assertTrue(!Files.exists(out.resolve("io.kmem/io/kmem/bindings")), "the generated bindings are not in the docs");
        assertTrue(!Files.exists(out.resolve("io.kmem/io/kmem/internal")), "the internals are not in the docs");
    }
}
