/**
 * kmem's JDK Flight Recorder events, the counterpart of the kernel's {@code kmem} and
 * {@code page_alloc} tracepoints: allocation failures, the page allocator's slow paths (pool
 * growth, contiguity harvest, waits for frees) and detected misuse. {@link io.kmem.internal.trace.Trace}
 * is what the allocators call; every call is on a path that is slow already (a failure, a
 * growth, a wait, a throw), never on a fast path. Internal: the module does not export it;
 * recordings carry the events' names and fields, so {@code jfr print --events io.kmem.*}
 * and JDK Mission Control read them without these classes.
 */
package io.kmem.internal.trace;
