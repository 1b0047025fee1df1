package io.kmem.internal.mmio;

import java.net.URL;
import java.security.CodeSource;

/**
 * Who called into kmem: the first stack frame whose class is not kmem's own (loaded from
 * another place than this class: a driver, a test), as {@code "EduDriver.probe(EduDriver.java:42)"}.
 * It stands where the kernel prints a caller symbol: vmallocinfo's
 * {@code pci_iomap_range+0x63/0xa0}, the owner of a requested region.
 */
final class Caller {
    private static final StackWalker WALKER = StackWalker.getInstance(StackWalker.Option.RETAIN_CLASS_REFERENCE);
    private static final URL KMEM = location(Caller.class);

    private Caller() {
    }

    /** The calling driver's frame, or "kmem" when kmem called itself (the tool, a report). */
    static String get() {
        return WALKER.walk(frames -> frames
                .filter(f -> KMEM == null || !KMEM.equals(location(f.getDeclaringClass())))
                .findFirst()
                .map(f -> f.toStackTraceElement().toString())
                .orElse("kmem"));
    }

    private static URL location(Class<?> c) {
        CodeSource cs = c.getProtectionDomain().getCodeSource();
        return cs == null ? null : cs.getLocation();
    }
}
