package io.kmem;

import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static io.kmem.gfp.Gfp.__GFP_NOWARN;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Fault injection scenarios: with failslab and fail_page_alloc armed at several rates, a
 * workload that handles NULL as a driver must (every allocation checked, a failure skipped)
 * runs over kmalloc, a kmem_cache, pages of orders 0..4, vmalloc and kvmalloc (the pool
 * cannot grow and waits at most 5 ms for frees, so that a fragmented pool's order-4 misses
 * cost little). Afterwards,
 * disarmed: nothing leaked (every frame free or in a slab, no object active), nothing
 * corrupted (every object's pattern intact until its free, the allocators' own checks
 * empty), and the injected failures really happened (the attributes' counters).
 */
class FaultInjectionTest {
    private static final int PAGE = 4096;

    record Live(long addr, long bytes, int kind, int order, long tag) {
    }

    @ParameterizedTest(name = "failslab {0}%, fail_page_alloc {1}%")
    @CsvSource({"1, 1", "10, 0", "0, 10", "50, 50", "100, 0"})
    void aWorkloadThatHandlesNullLeaksAndCorruptsNothing(int slabPercent, int pagePercent) {
        try (MemoryPool pool = MemoryPool.builder().name("faults").smallPages(32L << 20)
                .allocWait(Duration.ofMillis(5)).build()) {
            KmemCache cache = pool.kmem_cache_create("fault_obj", 96, 0, 0, null);
            pool.failslab().probability(slabPercent).interval(1).times(-1);
            pool.fail_page_alloc().probability(pagePercent).interval(1).times(-1);
            Random r = new Random(slabPercent * 131L + pagePercent);
            List<Live> live = new ArrayList<>();
            int nulls = 0;
            long tag = 1;
            for (int i = 0; i < 60_000; i++) {
                if (!live.isEmpty() && (r.nextInt(5) < 2 || live.size() > 3000)) {
                    int k = r.nextInt(live.size());
                    Live o = live.get(k);
                    live.set(k, live.getLast());
                    live.removeLast();
                    check(pool, o);
                    free(pool, cache, o);
                    continue;
                }
                int kind = r.nextInt(10);
                // At least a word: the tag written below is 8 bytes (kmalloc's red zone catches less).
                long size = Math.max(8, 1 + r.nextInt(kind == 9 ? 20 * PAGE : 2000));
                int order = r.nextInt(5);
                int gfp = GFP_KERNEL | __GFP_NOWARN;
                long p = switch (kind) {
                    case 0, 1, 2, 3 -> pool.kmalloc(size, gfp);
                    case 4, 5 -> pool.kmem_cache_alloc(cache, gfp);
                    case 6, 7 -> pool.__get_free_pages(gfp, order);
                    case 8 -> pool.vmalloc(size);
                    default -> pool.kvmalloc(size, gfp);
                };
                if (p == 0) {
                    nulls++;
                    continue;
                }
                long bytes = switch (kind) {
                    case 4, 5 -> 96;
                    case 6, 7 -> (long) PAGE << order;
                    default -> size;
                };
                Live o = new Live(p, bytes, kind, order, tag++);
                pool.segment(p, 8).set(ValueLayout.JAVA_LONG_UNALIGNED, 0, o.tag);
                live.add(o);
            }
            long slabInjected = pool.failslab().failures();
            long pageInjected = pool.fail_page_alloc().failures();
            pool.failslab().probability(0);
            pool.fail_page_alloc().probability(0);
            for (Live o : live) {
                check(pool, o);
                free(pool, cache, o);
            }
            assertTrue(slabPercent == 0 || slabInjected > 0, "failslab at " + slabPercent + "% failed nothing");
            assertTrue(pagePercent == 0 || pageInjected > 0, "fail_page_alloc at " + pagePercent + "% failed nothing");
            assertTrue(nulls >= slabInjected / 2, nulls + " NULLs seen for " + slabInjected + " injected slab failures");
            assertEquals(List.of(), pool.checkPageAllocator());
            assertEquals(List.of(), pool.validateSlabs());
            assertEquals(List.of(), pool.takeSlabReports());
            assertEquals(List.of(), pool.checkVmalloc());
            assertEquals("", pool.vmallocinfo());
            pool.kmem_cache_destroy(cache);
            assertEquals(List.of(), pool.takeSlabReports(), "kmem_cache_destroy found no leaked object");
            FrameAccounting at = FrameAccounting.of(pool);
            assertEquals(0, at.activeObjs(), "slab objects active after every free: " + at);
            assertEquals(0, at.unaccounted(), "every frame free or in a slab, nothing leaked (" + slabInjected
                    + " slab and " + pageInjected + " page failures injected, " + nulls + " NULLs): " + at);
            assertTrue(pool.kmalloc(64, GFP_KERNEL) != 0, "disarmed, the pool serves again");
        }
    }

    private static void check(MemoryPool pool, Live o) {
        assertEquals(o.tag, pool.segment(o.addr, 8).get(ValueLayout.JAVA_LONG_UNALIGNED, 0), "first word of " + o);
    }

    private static void free(MemoryPool pool, KmemCache cache, Live o) {
        switch (o.kind) {
            case 4, 5 -> pool.kmem_cache_free(cache, o.addr);
            case 6, 7 -> pool.free_pages(o.addr, o.order);
            case 8 -> pool.vfree(o.addr);
            case 9 -> pool.kvfree(o.addr);
            default -> pool.kfree(o.addr);
        }
    }
}
