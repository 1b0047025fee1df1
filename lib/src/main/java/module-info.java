/**
 * kmem: the Linux kernel's memory allocators for Java user-space drivers.
 *
 * <p>The module exports the public API: {@code io.kmem} (MemoryPool, one contract per kernel
 * header, the handles) and the errors, GFP flags and zones, debug knobs, report records and
 * the pools' MXBean type ({@code io.kmem.stats.KmemPoolMXBean}) it uses. The layers below it
 * live under {@code io.kmem.internal} (system-call wrappers, the physical layer, the
 * allocators) and {@code io.kmem.bindings} (generated), and are not exported.
 */
module io.kmem {
    requires jdk.jfr;
    // Optional: each pool registers its MXBean when the runtime has java.management (a full
    // JDK does; a jlinked driver image may leave it out and lose only the MXBean).
    requires static java.management;
    exports io.kmem;
    exports io.kmem.error;
    exports io.kmem.gfp;
    exports io.kmem.debug;
    exports io.kmem.stats;
}
