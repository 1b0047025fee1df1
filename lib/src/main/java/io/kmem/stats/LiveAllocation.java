package io.kmem.stats;

import java.util.Locale;

/**
 * One allocation still live in a pool, as {@code MemoryPool.kmemleak()} lists them and pool
 * close reports them: what it is, the call that made it, what holds it, where and how big.
 *
 * @param kind        the family
 * @param function    the allocating call ({@code kmalloc}, {@code kmem_cache_alloc},
 *                    {@code alloc_pages}, {@code vmalloc}, {@code vmap}, {@code ioremap},
 *                    {@code dma_alloc_coherent}, {@code dma_map_single}, {@code dma_map_page},
 *                    {@code dma_pool_alloc})
 * @param owner       the slab cache; the device (and DMA address) of DMA allocations; for
 *                    other families the allocator's word for it
 * @param address     the address the call returned (direct map or vmalloc window)
 * @param size        bytes: kmalloc's requested size where the cache records it (SLUB
 *                    debugging), else the object size; a block's or area's bytes otherwise
 * @param allocatedAt the allocating stack (slab objects of caches with
 *                    {@code SLAB_STORE_USER}) or frame (vmalloc areas); null when none was recorded
 */
public record LiveAllocation(Kind kind, String function, String owner, long address, long size, String allocatedAt) {

    /** The families of allocation. */
    public enum Kind {
        /** An object of a slab cache (kmalloc up to 8 KiB, kmem_cache_alloc). */
        SLAB_OBJECT,
        /** kmalloc above 8 KiB: pages straight from the buddy. */
        LARGE_KMALLOC,
        /**
         * A block the page allocator handed out and kmem has no other owner for: alloc_pages,
         * __get_free_pages, and the pages behind dma_alloc_coherent and dma_pool.
         */
        PAGES,
        /** A vmalloc area (vmalloc, vzalloc, kvmalloc above kmalloc's reach ...). */
        VMALLOC,
        /** A vmap of caller's pages. */
        VMAP,
        /** An ioremap (or pci_iomap, UIO, file) mapping in the vmalloc window. */
        IOREMAP,
        /** A dma_alloc_coherent buffer (the pages of a dma_pool destroyed while busy, too). */
        DMA_COHERENT,
        /** A dma_map_single or dma_map_page mapping not unmapped; the address is its CPU address. */
        DMA_STREAMING,
        /** A block of a dma_pool. */
        DMA_POOL_BLOCK
    }

    /** One line: {@code kind function owner 0xaddress size bytes}, then the stack if any. */
    @Override
    public String toString() {
        String head = String.format(Locale.ROOT, "%s %s (%s) 0x%x %d bytes", kind, function, owner, address, size);
        return allocatedAt == null ? head : head + "\n" + allocatedAt.indent(2).stripTrailing();
    }
}
