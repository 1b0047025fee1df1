package io.kmem.stats;

/**
 * One slab cache's figures, as a line of /proc/slabinfo and SLUB's counters.
 * {@code activeObjs}: objects handed out; {@code numObjs}: objects in all its slabs;
 * {@code activeSlabs}: slabs with an object handed out or held by a thread.
 */
public record SlabCacheStats(String name, int objectSize, int size, int objectsPerSlab, int pagesPerSlab,
                             long activeObjs, long numObjs, long activeSlabs, long numSlabs, int partialSlabs,
                             long slowAllocs, long slowFrees, long slabsAllocated, long slabsFreed, long failures) {
}
