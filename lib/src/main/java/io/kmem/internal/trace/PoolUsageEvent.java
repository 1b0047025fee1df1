package io.kmem.internal.trace;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.Period;
import jdk.jfr.StackTrace;

/** One pool's usage, once a period while a recording runs: what a recording graphs over time. */
@Name("io.kmem.PoolUsage")
@Label("kmem Pool Usage")
@Category({"kmem", "Pool"})
@Description("A pool's frames (managed, free, cached, in use), vmalloc pages and failure and misuse counts, read"
        + " without the allocators' locks")
@Period("1 s")
@StackTrace(false)
public final class PoolUsageEvent extends jdk.jfr.Event {
    @Label("Pool")
    String pool;

    @Label("Managed")
    @Description("Frames given to the page allocator")
    @DataAmount(DataAmount.BYTES)
    long managedBytes;

    @Label("Free")
    @Description("Free in the zones' free lists")
    @DataAmount(DataAmount.BYTES)
    long freeBytes;

    @Label("Cached")
    @Description("Free in threads' page caches")
    @DataAmount(DataAmount.BYTES)
    long cachedBytes;

    @Label("Used")
    @Description("Managed less free less cached: pages, slabs, vmalloc and DMA buffers handed out")
    @DataAmount(DataAmount.BYTES)
    long usedBytes;

    @Label("Vmalloc Pages")
    @Description("Pages mapped into vmalloc areas")
    long vmallocPages;

    @Label("Allocation Failures")
    @Description("Page allocations that returned NULL, ever")
    long allocFailures;

    @Label("Misuses")
    @Description("Misuses detected by all allocators, ever")
    long misuses;

    /** Sets the figures and commits; sizes in 4 KiB frames. */
    void set(String pool, long managed, long free, long cached, long vmallocPages, long allocFailures, long misuses) {
        this.pool = pool;
        this.managedBytes = managed << 12;
        this.freeBytes = free << 12;
        this.cachedBytes = cached << 12;
        this.usedBytes = (managed - free - cached) << 12;
        this.vmallocPages = vmallocPages;
        this.allocFailures = allocFailures;
        this.misuses = misuses;
    }
}
