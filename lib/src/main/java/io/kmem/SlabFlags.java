package io.kmem;

import io.kmem.internal.slub.KmemCacheImpl;

/**
 * The kernel's {@code SLAB_*} flags for {@link MemoryPool#kmem_cache_create}.
 *
 * <p>Debugging ({@code SLAB_CONSISTENCY_CHECKS}, {@code SLAB_RED_ZONE}, {@code SLAB_POISON},
 * {@code SLAB_STORE_USER}) can also be turned on for every cache, or named ones, without a code
 * change: {@code -Dkmem.slub_debug=FZPU} or {@code -Dkmem.slub_debug=FZPU,kmalloc-64,my_cache}
 * (the kernel's {@code slub_debug} letters). A debug cache runs every allocation and free under
 * its lock with the checks, as SLUB does.
 */
public final class SlabFlags {
    /** F: check free lists, object pointers and counts at every allocation and free. */
    public static final int SLAB_CONSISTENCY_CHECKS = KmemCacheImpl.SLAB_CONSISTENCY_CHECKS;
    /** Z: red zones around each object (0xbb while free, 0xcc while allocated), checked at free. */
    public static final int SLAB_RED_ZONE = KmemCacheImpl.SLAB_RED_ZONE;
    /** P: poison free objects (0x6b, last byte 0xa5) and new ones (0x5a); damage is a write after free. */
    public static final int SLAB_POISON = KmemCacheImpl.SLAB_POISON;
    /** Align objects to the 64-byte cache line (smaller objects: the smallest power of two that holds them). */
    public static final int SLAB_HWCACHE_ALIGN = KmemCacheImpl.SLAB_HWCACHE_ALIGN;
    /** Slabs from the DMA zone (below 16 MiB). */
    public static final int SLAB_CACHE_DMA = KmemCacheImpl.SLAB_CACHE_DMA;
    /** Slabs from the DMA32 zone (below 4 GiB). */
    public static final int SLAB_CACHE_DMA32 = KmemCacheImpl.SLAB_CACHE_DMA32;
    /** U: record the thread and stack of each object's last allocation and free, for reports. */
    public static final int SLAB_STORE_USER = KmemCacheImpl.SLAB_STORE_USER;
    /** kmem_cache_create throws instead of returning null when it fails. */
    public static final int SLAB_PANIC = KmemCacheImpl.SLAB_PANIC;

    private SlabFlags() {
    }
}
