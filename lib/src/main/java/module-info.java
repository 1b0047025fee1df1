/**
 * kmem: the Linux kernel's memory allocators for Java user-space drivers.
 *
 * <p>The module exports the public API: {@code io.kmem} (MemoryPool, one contract per kernel
 * header, the handles) and the errors, GFP flags and zones, debug knobs and report records it
 * uses. The layers below it live under {@code io.kmem.internal} (system-call wrappers, the
 * physical layer, the allocators) and {@code io.kmem.bindings} (generated), and are not
 * exported.
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
