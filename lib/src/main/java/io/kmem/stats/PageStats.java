package io.kmem.stats;

/**
 * The page allocator's event counters.
 *
 * @param failures        allocations that returned NULL
 * @param slowAllocs      allocations that missed the per-thread cache
 * @param growths         pool growths made by blocking allocations
 * @param grownFrames     frames those growths took
 * @param harvests        contiguity harvests started
 * @param harvestHits     harvests that found their block
 * @param harvestTaken    frames harvests took from the kernel
 * @param harvestReturned frames harvests gave back
 * @param waits           waits for frees
 * @param waitNanos       time spent waiting, in nanoseconds
 * @param reapedCaches    caches of ended threads drained
 */
public record PageStats(long failures, long slowAllocs, long growths, long grownFrames, long harvests, long harvestHits,
                        long harvestTaken, long harvestReturned, long waits, long waitNanos, long reapedCaches) {
}
