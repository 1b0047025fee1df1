package io.kmem.stats;

/**
 * One slab cache's figures, as a line of /proc/slabinfo and SLUB's counters.
 *
 * @param name           the cache's name ({@code kmalloc-64}, or the one given to {@code kmem_cache_create})
 * @param objectSize     bytes of each object as asked for
 * @param size           bytes from one object to the next (alignment and debug metadata included)
 * @param objectsPerSlab objects in one slab
 * @param pagesPerSlab   4 KiB pages in one slab (2^order)
 * @param activeObjs     objects handed out
 * @param numObjs        objects in all its slabs, free or not
 * @param activeSlabs    slabs with an object handed out or held by a thread
 * @param numSlabs       slabs the cache holds
 * @param partialSlabs   slabs on the cache's partial list (some objects free)
 * @param slowAllocs     allocations that took the slow path (no free object in the thread's slab)
 * @param slowFrees      frees put back on their slab under the cache's lock (objects of a slab other than the
 *                       thread's current one; a thread's sheaf puts back 32 at a time)
 * @param slabsAllocated slabs taken from the page allocator since creation
 * @param slabsFreed     slabs given back to the page allocator since creation
 * @param failures       allocations that returned NULL (out of memory or injected by failslab)
 */
public record SlabCacheStats(String name, int objectSize, int size, int objectsPerSlab, int pagesPerSlab,
                             long activeObjs, long numObjs, long activeSlabs, long numSlabs, int partialSlabs,
                             long slowAllocs, long slowFrees, long slabsAllocated, long slabsFreed, long failures) {
}
