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

    /** {@return the pool's name, as given to its builder} */
    String getName();

    /** {@return true when the pool has physical addresses (PFNs from pagemap); false for an unprivileged pool} */
    boolean isPhysical();

    /** {@return frames the pool holds now, in 4 KiB frames} */
    long getFrames();

    /** {@return per-zone figures: free, cached, watermarks, managed, free blocks per order; no lock taken} */
    List<ZoneStats> getZones();

    /** {@return the page allocator's event counters (failures, growths, harvests, waits); no lock taken} */
    PageStats getPageStats();

    /** {@return per-cache slab figures, oldest cache first; takes each cache's slow-path lock in turn} */
    List<SlabCacheStats> getSlabCaches();

    /** {@return the slab layer's large kmalloc counters and its misuse count; no lock taken} */
    LargeKmallocStats getLargeKmalloc();

    /** {@return vmalloc's window and counters; takes the window's lock once} */
    VmallocStats getVmalloc();

    /** {@return the DMA API's figures; takes the lock of the live coherent-buffer table once} */
    DmaStats getDma();

    /** {@return misuses detected per allocator; no lock taken} */
    MisuseStats getMisuses();

    /**
     * {@return whether the pool's physical addresses stay put: how its frames are pinned
     * (long-term by io_uring buffer registration, with the kB pinned, or mlock only and why),
     * then the host's setting and what it means for the pool's frames}
     */
    String getPinning();

    /** {@return the /proc/meminfo-style summary, as {@code MemoryPool.meminfo()}} */
    String getMeminfo();

    /** {@return /proc/buddyinfo, as {@code MemoryPool.buddyinfo()}; takes each zone's lock in turn} */
    String getBuddyinfo();

    /** {@return the /proc/zoneinfo-style view, as {@code MemoryPool.zoneinfo()}; takes each zone's lock in turn} */
    String getZoneinfo();

    /** {@return /proc/slabinfo 2.1, as {@code MemoryPool.slabinfo()}; takes each cache's slow-path lock in turn} */
    String getSlabinfo();

    /** {@return /proc/vmallocinfo, as {@code MemoryPool.vmallocinfo()}} */
    String getVmallocinfo();

    /** {@return /proc/iomem as the pool sees it, with its requests, as {@code MemoryPool.iomem()}} */
    String getIomem();
}
