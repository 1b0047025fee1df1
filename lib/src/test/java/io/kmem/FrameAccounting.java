package io.kmem;

import io.kmem.stats.SlabCacheStats;
import io.kmem.stats.ZoneStats;
import io.kmem.internal.slub.KmemCacheImpl;

/**
 * Where every frame of a pool is at rest, for the tests that must show nothing leaked: free
 * (the buddy and the per-thread caches) or held by a slab, nothing else.
 *
 * @param managed    frames the page allocator manages
 * @param free       of those, free in the buddy or a per-thread cache
 * @param slabPages  held by slabs (empty or partial slabs the caches keep)
 * @param activeObjs slab objects still allocated, in every cache
 */
public record FrameAccounting(long managed, long free, long slabPages, long activeObjs) {

    /** Flushes the per-thread slabs, then counts. Call when everything was freed. */
    public static FrameAccounting of(MemoryPool pool) {
        pool.flushSlabs();
        long free = 0;
        long managed = 0;
        for (ZoneStats z : pool.zoneStats()) {
            free += z.free() + z.cached();
            managed += z.managed();
        }
        long slabPages = 0;
        long active = 0;
        for (SlabCacheStats s : pool.slabStats()) {
            active += s.activeObjs();
            slabPages += s.numSlabs() * s.pagesPerSlab();
        }
        return new FrameAccounting(managed, free, slabPages, active);
    }

    /** Frames neither free nor in a slab: leaked. */
    public long unaccounted() {
        return managed - free - slabPages;
    }

    @Override
    public String toString() {
        return free + " frames free + " + slabPages + " in slabs of " + managed + " managed: " + unaccounted()
                + " unaccounted for; " + activeObjs + " slab objects active";
    }
}
