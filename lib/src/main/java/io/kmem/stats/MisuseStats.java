package io.kmem.stats;

/**
 * Misuses each allocator detected and threw since the pool was built (double frees, pointers
 * it never handed out, wrong orders or caches): bugs in the caller, each also reported in
 * its exception and, when recording, as an {@code io.kmem.Misuse} JFR event.
 *
 * @param pageAllocator the page allocator's ({@code free_pages}, {@code __free_pages} ...)
 * @param slab          the slab allocator's ({@code kfree}, {@code kmem_cache_free} ...)
 * @param vmalloc       vmalloc's ({@code vfree}, {@code vunmap})
 */
public record MisuseStats(long pageAllocator, long slab, long vmalloc) {
    /** {@return all three added} */
    public long total() {
        return pageAllocator + slab + vmalloc;
    }
}
