package io.kmem;

import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.internal.slub.KmemCacheImpl;
import io.kmem.stats.SlabCacheStats;
import java.util.HashSet;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The owner's frees scattered over many of its owned slabs (random replacement: one object
 * here and there) are found again through the index of owned slabs with free objects: each
 * refill looks at about one owned slab, not a search through hundreds; no lock, no new slab.
 */
class OwnedSlabIndexTest {
    private static final long MIB = 1L << 20;

    private static SlabCacheStats stats(MemoryPool pool, String cache) {
        return pool.slabStats().stream().filter(st -> st.name().equals(cache)).findFirst().orElseThrow();
    }

    @Test
    void scatteredOwnerFreesAreFoundThroughTheIndex() {
        try (MemoryPool pool = MemoryPool.builder().name("ownedq").smallPages(32 * MIB).slubDebug(null).build()) {
            KmemCacheImpl cache = pool.slab.kmallocCacheFor(256);
            int per = stats(pool, "kmalloc-256").objectsPerSlab();
            int slabs = 512;
            long[] p = new long[slabs * per];
            for (int i = 0; i < p.length; i++) {
                p[i] = pool.kmalloc(256, GFP_KERNEL);
            }
            SlabCacheStats before = stats(pool, "kmalloc-256");
            long lookedBefore = cache.ownedSlabsLookedAt();
            SplittableRandom r = new SplittableRandom(7);
            int allocated = 0;
            for (int round = 0; round < 20; round++) {
                // Free a random object of a random slab, as many times as half the slabs (several
                // sheaves' worth), then allocate as many.
                Set<Long> freed = new HashSet<>();
                int[] at = new int[slabs / 2];
                for (int k = 0; k < at.length; k++) {
                    int i;
                    do {
                        i = r.nextInt(slabs) * per + r.nextInt(per);
                    } while (freed.contains(p[i]));
                    at[k] = i;
                    freed.add(p[i]);
                    pool.kfree(p[i]);
                }
                for (int i : at) {
                    p[i] = pool.kmalloc(256, GFP_KERNEL);
                    assertTrue(freed.remove(p[i]), "an object freed in this round comes back");
                    allocated++;
                }
            }
            SlabCacheStats after = stats(pool, "kmalloc-256");
            assertEquals(before.slowAllocs(), after.slowAllocs(), "no refill took the lock");
            assertEquals(before.slowFrees(), after.slowFrees(), "no free took the lock");
            assertEquals(before.slabsAllocated(), after.slabsAllocated(), "no new slab");
            long looked = cache.ownedSlabsLookedAt() - lookedBefore;
            assertTrue(looked <= allocated, "owned slabs looked at: " + looked + " for " + allocated
                    + " allocations (at most one a refill)");
            for (long a : p) {
                pool.kfree(a);
            }
            assertTrue(pool.validateSlabs().isEmpty(), "validate finds the counts right");
            assertEquals(0, stats(pool, "kmalloc-256").activeObjs());
        }
    }
}
