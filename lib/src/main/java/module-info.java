/**
 * kmem: the Linux kernel's memory allocators for Java user-space drivers.
 *
 * <p>The module exports the public API ({@code io.kmem}, and the errors, GFP flags and zones,
 * debug knobs and report records it uses); the layers below it (bindings,
 * system-call wrappers, the physical layer, the allocators) are internal.
 */
module io.kmem {
    requires java.logging;
    requires jdk.jfr;
    exports io.kmem;
    exports io.kmem.error;
    exports io.kmem.gfp;
    exports io.kmem.debug;
    exports io.kmem.stats;
}
