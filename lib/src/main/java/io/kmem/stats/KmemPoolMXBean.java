package io.kmem.stats;

import java.util.List;

/**
 * One pool's figures as a platform MXBean, registered under
 * {@code io.kmem:type=MemoryPool,name=<pool>} while the pool is open (a second open pool of
 * the same name gets {@code <pool>#2}, and so on), so that a JMX client, {@code jconsole} or
 * {@code kmem info --pid} reads a running driver's pools from outside its JVM.
 *
 * <p>The types are MXBean open types: records become {@code CompositeData}, lists arrays of
 * them, enums strings, so a client needs none of kmem's classes. {@code MemoryPool.mxBean()}
 * gives the same view inside the process.
 *
 * <p>Cost to the allocators: the counters are read without the locks of the allocators'
 * paths (LongAdders and opaque reads of the zones' counters: each figure whole, the set not
 * from one instant). The exceptions say so in their docs: the slab figures take each
 * cache's lock in turn (the lock of SLUB's slow path, as reading {@code /proc/slabinfo}
 * takes the kernel's {@code list_lock}; the per-thread fast path never takes it), vmalloc's
 * take the window's lock, the text reports take what their methods on {@code MemoryPool}
 * take. Reading a closed pool throws {@link IllegalStateException}.
 */
public interface KmemPoolMXBean {
    /** The JMX domain and type every pool's name shares: {@value}. */
    String TYPE = "io.kmem:type=MemoryPool";

    /** The pool's name, as given to its builder. */
    String getName();

    /** True when the pool has physical addresses (PFNs from pagemap); false for an unprivileged pool. */
    boolean isPhysical();

    /** Frames the pool holds now, in 4 KiB frames. */
    long getFrames();

    /** Per-zone figures: free, cached, watermarks, managed, free blocks per order; no lock taken. */
    List<ZoneStats> getZones();

    /** The page allocator's event counters (failures, growths, harvests, waits); no lock taken. */
    PageStats getPageStats();

    /** Per-cache slab figures, oldest cache first; takes each cache's slow-path lock in turn. */
    List<SlabCacheStats> getSlabCaches();

    /** The slab layer's large kmalloc counters and its misuse count; no lock taken. */
    LargeKmallocStats getLargeKmalloc();

    /** vmalloc's window and counters; takes the window's lock once. */
    VmallocStats getVmalloc();

    /** The DMA API's figures; takes the lock of the live coherent-buffer table once. */
    DmaStats getDma();

    /** Misuses detected per allocator; no lock taken. */
    MisuseStats getMisuses();

    /**
     * Whether the pool's physical addresses stay put: the host's pinning setting and what it
     * means for the pool's frames, as {@code kmem verify} prints it.
     */
    String getPinning();

    /** {@code MemoryPool.meminfo()}: the /proc/meminfo-style summary. */
    String getMeminfo();

    /** {@code MemoryPool.buddyinfo()}: /proc/buddyinfo; takes each zone's lock in turn. */
    String getBuddyinfo();

    /** {@code MemoryPool.zoneinfo()}: the /proc/zoneinfo-style view; takes each zone's lock in turn. */
    String getZoneinfo();

    /** {@code MemoryPool.slabinfo()}: /proc/slabinfo 2.1; takes each cache's slow-path lock in turn. */
    String getSlabinfo();

    /** {@code MemoryPool.vmallocinfo()}: /proc/vmallocinfo. */
    String getVmallocinfo();

    /** {@code MemoryPool.iomem()}: /proc/iomem as the pool sees it, with its requests. */
    String getIomem();
}
