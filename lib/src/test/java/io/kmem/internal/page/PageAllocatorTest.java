package io.kmem.internal.page;

import static io.kmem.gfp.Gfp.GFP_ATOMIC;
import static io.kmem.gfp.Gfp.GFP_DMA;
import static io.kmem.gfp.Gfp.GFP_DMA32;
import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static io.kmem.gfp.Gfp.GFP_NOWAIT;
import static io.kmem.gfp.Gfp.__GFP_NOFAIL;
import static io.kmem.gfp.Gfp.__GFP_NORETRY;
import static io.kmem.gfp.Gfp.__GFP_NOWARN;
import static io.kmem.gfp.Gfp.__GFP_ZERO;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.GfpApi;
import io.kmem.MemoryPool;
import io.kmem.error.BadAddressException;
import io.kmem.error.DoubleFreeException;
import io.kmem.error.KmemException;
import io.kmem.error.PoolClosedException;
import io.kmem.stats.PageStats;
import io.kmem.stats.ZoneStats;
import io.kmem.gfp.FrameKind;
import io.kmem.gfp.ZoneType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Examples and edge cases of the page allocator, on real frames (run as root). */
class PageAllocatorTest {
    private static final long MIB = 1L << 20;

    static MemoryPool pool(long mib) {
        return MemoryPool.builder().name("buddy").smallPages(mib * MIB).build();
    }

    /** Free frames (buddy plus caches) of every zone. */
    static long free(MemoryPool pool) {
        long f = 0;
        for (ZoneStats z : pool.zoneStats()) {
            f += z.free() + z.cached();
        }
        return f;
    }

    static long managed(MemoryPool pool) {
        long m = 0;
        for (ZoneStats z : pool.zoneStats()) {
            m += z.managed();
        }
        return m;
    }

    /** Every page of the block is where pagemap says, consecutive and aligned. */
    static void assertContiguous(MemoryPool pool, long addr, int order) {
        long pfn = pool.virt_to_pfn(addr);
        assertEquals(0, pfn & (1L << order) - 1, "order-" + order + " block at pfn 0x" + Long.toHexString(pfn)
                + " is aligned");
        for (long i = 0; i < 1L << order; i++) {
            assertEquals(pfn + i, pool.pagemapPfn(addr + (i << 12)), "page " + i + " of the order-" + order
                    + " block is physically contiguous according to pagemap");
        }
    }

    /** True when some zone has a free block of at least {@code order} in its buddy lists. */
    static boolean hasFreeBlock(MemoryPool pool, int order) {
        for (ZoneStats z : pool.zoneStats()) {
            for (int o = order; o <= MemoryPool.MAX_ORDER; o++) {
                if (z.nrFree()[o] > 0) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * Allocates one block of every order 0..10, checks each against pagemap, fills it, then
     * frees them all and checks that the free lists are exactly as before. A physical pool
     * of 4 KiB frames has the high orders only where the kernel gave 2 MiB-contiguous
     * folios, so each order must be served exactly when a free block of that order or more
     * exists.
     */
    static void allocateEveryOrderAndMergeBack(MemoryPool pool, boolean physical) {
        String before = pool.buddyinfo();
        long managed = managed(pool);
        long[] addrs = new long[MemoryPool.MAX_ORDER + 1];
        long used = 0;
        for (int order = 0; order <= MemoryPool.MAX_ORDER; order++) {
            boolean possible = hasFreeBlock(pool, order);
            addrs[order] = pool.__get_free_pages(GFP_NOWAIT | __GFP_NOWARN, order);
            assertEquals(possible, addrs[order] != 0, "order " + order + " served exactly when a free block exists:\n"
                    + pool.buddyinfo());
            if (addrs[order] == 0) {
                continue;
            }
            used += 1L << order;
            if (physical) {
                assertContiguous(pool, addrs[order], order);
            }
            pool.segment(addrs[order], 4096L << order).fill((byte) order);
        }
        assertEquals(managed - used, free(pool));
        for (int order = 0; order <= MemoryPool.MAX_ORDER; order++) {
            if (addrs[order] == 0) {
                continue;
            }
            MemorySegment s = pool.segment(addrs[order], 4096L << order);
            assertEquals(-1, s.asByteBuffer().mismatch(MemorySegment.ofArray(new byte[4096 << order])
                    .fill((byte) order).asByteBuffer()), "order-" + order + " contents intact");
            pool.free_pages(addrs[order], order);
        }
        pool.drain_all_pages();
        assertEquals(List.of(), pool.checkPageAllocator());
        assertEquals(managed, free(pool));
        assertEquals(before, pool.buddyinfo(), "every block merged back with its buddy");
    }

    @Test
    void everyOrderIsAlignedContiguousAndMergesBackOnFree() {
        try (MemoryPool pool = pool(16)) {
            assertTrue(hasFreeBlock(pool, 0));
            allocateEveryOrderAndMergeBack(pool, true);
        }
    }

    /**
     * Page handles are PFN-based, as the kernel's struct page pointers: page + i is the i-th
     * page of a block for every way of getting a handle, and a handle of a frame the pool does
     * not hold, or of no frame, is refused.
     */
    @Test
    void pageHandlesOfABlockFollowEachOtherAsInTheKernel() {
        try (MemoryPool pool = pool(16)) {
            long page = pool.alloc_pages(GFP_KERNEL, 3);
            assertTrue(page != 0, "alloc_pages(GFP_KERNEL, 3)");
            long pfn = pool.page_to_pfn(page);
            long addr = pool.page_address(page);
            for (int i = 0; i < 8; i++) {
                assertEquals(pfn + i, pool.page_to_pfn(page + i), "page_to_pfn(page + " + i + ")");
                assertEquals(addr + i * 4096L, pool.page_address(page + i), "page_address(page + " + i + ")");
                assertEquals(page + i, pool.virt_to_page(addr + i * 4096L), "virt_to_page of page " + i);
                assertEquals(page + i, pool.pfn_to_page(pfn + i), "pfn_to_page of page " + i);
            }
            // Over the whole pool: the handle after a frame's is its PFN neighbour's, also
            // where the memfd's order of frames differs from the PFN order (across folios).
            long[] pfns = pool.pfns();
            int neighbours = 0;
            for (int k = 0; k + 1 < pfns.length; k++) {
                if (pfns[k + 1] == pfns[k] + 1) {
                    neighbours++;
                    assertEquals(pool.pfn_to_page(pfns[k + 1]), pool.pfn_to_page(pfns[k]) + 1, "the handle after pfn 0x"
                            + Long.toHexString(pfns[k]) + "'s");
                }
            }
            assertTrue(neighbours > pfns.length / 2, neighbours + " PFN neighbours among " + pfns.length + " frames");
            long outside = pool.page_to_pfn(page) + (1L << 30);
            assertThrows(BadAddressException.class, () -> pool.pfn_to_page(outside));
            assertThrows(BadAddressException.class, () -> pool.page_to_pfn(page - pfn + outside));
            assertThrows(BadAddressException.class, () -> pool.page_to_pfn(pfn));
            pool.__free_pages(page, 3);
        }
    }

    @Test
    void everyOrderUpToMaxIsServedWhereFramesAreConsecutive() {
        try (MemoryPool pool = MemoryPool.builder().name("u").smallPages(16 * MIB).unprivileged().build()) {
            assertEquals(4, pool.zoneStats().get(ZoneType.NORMAL.ordinal()).nrFree()[MemoryPool.MAX_ORDER],
                    "16 MiB of consecutive frames are four order-10 blocks:\n" + pool.buddyinfo());
            allocateEveryOrderAndMergeBack(pool, false);
            for (int order = 0; order <= MemoryPool.MAX_ORDER; order++) {
                long a = pool.__get_free_pages(GFP_KERNEL, order);
                assertNotEquals(0, a, "order " + order);
                pool.free_pages(a, order);
            }
        }
    }

    @Test
    void hugetlbFramesServeOrderNine() {
        try (MemoryPool pool = MemoryPool.builder().name("huge").smallPages(0).hugePages2m(6 * MIB).build()) {
            long a = pool.__get_free_pages(GFP_KERNEL, 9);
            assertNotEquals(0, a, "a 2 MiB hugepage is an aligned order-9 block");
            assertContiguous(pool, a, 9);
            long b = pool.__get_free_pages(GFP_KERNEL, 9);
            assertNotEquals(0, b);
            assertContiguous(pool, b, 9);
            assertEquals(0, pool.__get_free_pages(GFP_ATOMIC | __GFP_NOWARN, 9),
                    "the last hugepage would take the zone below its watermark");
            long c = pool.__get_free_page(GFP_NOWAIT);
            assertNotEquals(0, c, "a single page still comes from the last hugepage");
            pool.free_page(c);
            pool.free_pages(a, 9);
            pool.free_pages(b, 9);
            pool.drain_all_pages();
            assertEquals(3, pool.zoneStats().get(ZoneType.NORMAL.ordinal()).nrFree()[9]
                    + 2 * pool.zoneStats().get(ZoneType.NORMAL.ordinal()).nrFree()[10], pool.buddyinfo());
            assertEquals(List.of(), pool.checkPageAllocator());
        }
    }

    @Test
    void pageHandlesAndAddressesAgree() {
        try (MemoryPool pool = pool(4)) {
            long page = pool.alloc_pages(GFP_KERNEL, 2);
            assertNotEquals(0, page);
            long addr = pool.page_address(page);
            assertEquals(page, pool.virt_to_page(addr));
            assertContiguous(pool, addr, 2);
            assertThrows(BadAddressException.class, () -> pool.__free_pages(page, 1));
            pool.__free_pages(page, 2);
            long one = pool.alloc_page(GFP_KERNEL);
            pool.__free_page(one);
            assertThrows(DoubleFreeException.class, () -> pool.__free_page(one));
            assertEquals(List.of(), pool.checkPageAllocator());
        }
    }

    @Test
    void orderAboveMaxReturnsNullWithAWarningAndBadArgumentsThrow() {
        try (MemoryPool pool = pool(4)) {
            long failures = pool.pageStats().failures();
            assertEquals(0, pool.__get_free_pages(GFP_KERNEL, 11));
            assertEquals(0, pool.alloc_pages(GFP_KERNEL | __GFP_NOWARN, 20));
            assertEquals(failures + 2, pool.pageStats().failures());
            assertThrows(IllegalArgumentException.class, () -> pool.__get_free_pages(GFP_KERNEL, -1));
            assertThrows(IllegalArgumentException.class, () -> pool.__get_free_pages(1 << 30, 0));
            assertEquals(0, GfpApi.get_order(1));
            assertEquals(0, GfpApi.get_order(4096));
            assertEquals(1, GfpApi.get_order(4097));
            assertEquals(10, GfpApi.get_order(4 * MIB));
            assertEquals(11, GfpApi.get_order(4 * MIB + 1));
        }
    }

    @Test
    void misuseIsNamedAndLeavesTheAllocatorConsistent() {
        try (MemoryPool pool = pool(8)) {
            long a = pool.__get_free_pages(GFP_KERNEL, 3);
            long b = pool.__get_free_page(GFP_KERNEL);
            String hexA = Long.toHexString(a);

            KmemException e = assertThrows(BadAddressException.class, () -> pool.free_pages(a, 2));
            assertTrue(e.getMessage().startsWith("free_pages(0x" + hexA + ", 2)") && e.getMessage().contains("pfn 0x")
                    && e.getMessage().contains("wrong order: the block was allocated with order 3"), e.getMessage());
            e = assertThrows(BadAddressException.class, () -> pool.free_pages(a + 4096, 0));
            assertTrue(e.getMessage().contains("not the start of a block: the frame is page 1 of the order-3 block"),
                    e.getMessage());
            e = assertThrows(BadAddressException.class, () -> pool.free_pages(a + 100, 3));
            assertTrue(e.getMessage().contains("not page-aligned"), e.getMessage());
            e = assertThrows(BadAddressException.class, () -> pool.free_page(12345 << 12));
            assertTrue(e.getMessage().contains("outside its direct map"), e.getMessage());
            e = assertThrows(BadAddressException.class, () -> pool.free_pages(a, 11));
            assertTrue(e.getMessage().contains("order 11 is outside 0..10"), e.getMessage());

            pool.free_page(b);
            e = assertThrows(DoubleFreeException.class, () -> pool.free_page(b));
            assertTrue(e.getMessage().contains("double free") && e.getMessage().contains("per-thread page cache"),
                    e.getMessage());
            pool.drain_all_pages();
            e = assertThrows(DoubleFreeException.class, () -> pool.free_page(b));
            assertTrue(e.getMessage().contains("double free") && e.getMessage().contains("free"), e.getMessage());

            pool.free_pages(a, 3);
            pool.drain_all_pages();
            e = assertThrows(DoubleFreeException.class, () -> pool.free_pages(a, 3));
            assertTrue(e.getMessage().contains("double free"), e.getMessage());

            long c = pool.__get_free_pages(GFP_KERNEL, 1);
            long odd = c + 4096;
            e = assertThrows(BadAddressException.class, () -> pool.free_pages(odd, 1));
            assertTrue(e.getMessage().contains("not the start of a block"), e.getMessage());
            pool.free_pages(c, 1);
            pool.free_pages(0, 5);

            pool.drain_all_pages();
            assertEquals(List.of(), pool.checkPageAllocator());
            assertEquals(managed(pool), free(pool), "nothing leaked by the refused frees");
            long again = pool.__get_free_pages(GFP_KERNEL, 3);
            assertNotEquals(0, again, "the allocator still serves");
            pool.free_pages(again, 3);
        }
    }

    @Test
    void freeingAnotherPoolsAddressIsRefused() {
        try (MemoryPool p1 = pool(4); MemoryPool p2 = pool(4)) {
            long a = p1.__get_free_page(GFP_KERNEL);
            KmemException e = assertThrows(BadAddressException.class, () -> p2.free_page(a));
            assertTrue(e.getMessage().contains("pool 'buddy'"), e.getMessage());
            p1.free_page(a);
            assertEquals(List.of(), p2.checkPageAllocator());
        }
    }

    @Test
    void zeroedPagesAreZero() {
        try (MemoryPool pool = pool(4)) {
            long a = pool.__get_free_pages(GFP_KERNEL, 2);
            pool.segment(a, 4 * 4096).fill((byte) 0x5a);
            pool.free_pages(a, 2);
            long z = pool.__get_free_pages(GFP_KERNEL | __GFP_ZERO, 2);
            assertEquals(a, z, "the block just freed comes back from the thread's cache");
            MemorySegment s = pool.segment(z, 4 * 4096);
            for (long off = 0; off < s.byteSize(); off += 8) {
                assertEquals(0, s.get(ValueLayout.JAVA_LONG, off), "zeroed at offset " + off);
            }
            long p = pool.get_zeroed_page(GFP_ATOMIC);
            assertEquals(0, pool.segment(p, 4096).get(ValueLayout.JAVA_LONG, 4088));
            pool.free_page(p);
            pool.free_pages(z, 2);
        }
    }

    @Test
    void exactAllocationsKeepOnlyTheirPages() {
        try (MemoryPool pool = pool(4)) {
            long managed = managed(pool);
            long a = pool.alloc_pages_exact(5 * 4096 - 100, GFP_KERNEL);
            assertNotEquals(0, a);
            assertContiguous(pool, a, 0);
            for (int i = 0; i < 5; i++) {
                assertEquals(pool.virt_to_pfn(a) + i, pool.pagemapPfn(a + i * 4096L));
            }
            pool.drain_all_pages();
            assertEquals(managed - 5, free(pool), "the 3 pages past the size went back");
            assertThrows(BadAddressException.class, () -> pool.free_pages(a, 3), "an exact area is 5 order-0 pages");
            pool.free_pages_exact(a, 5 * 4096 - 100);
            assertThrows(DoubleFreeException.class, () -> pool.free_pages_exact(a, 4096));
            pool.drain_all_pages();
            assertEquals(managed, free(pool));
            assertEquals(List.of(), pool.checkPageAllocator());
        }
    }

    @Test
    void zoneRestrictedRequestsNeverGetHigherFrames() {
        try (MemoryPool pool = pool(4)) {
            boolean hasDma32 = pool.zoneStats().get(ZoneType.DMA32.ordinal()).managed() > 0;
            long a = pool.__get_free_pages(GFP_KERNEL | GFP_DMA32 | __GFP_NOWARN, 0);
            if (a != 0) {
                assertTrue(pool.virt_to_phys(a) < 1L << 32, "a __GFP_DMA32 page lies below 4 GiB");
                pool.free_page(a);
            } else {
                assertTrue(!hasDma32, "NULL only when the pool holds no DMA32 frame");
            }
            long d = pool.__get_dma_pages(GFP_KERNEL | __GFP_NOWARN, 0);
            if (d != 0) {
                assertTrue(pool.virt_to_phys(d) < 1L << 24, "a __GFP_DMA page lies below 16 MiB");
                pool.free_page(d);
            }
            long failures = pool.pageStats().failures();
            long growths = pool.pageStats().growths();
            if (pool.zoneStats().get(ZoneType.DMA.ordinal()).managed() == 0) {
                assertEquals(0, pool.__get_free_pages(GFP_KERNEL | GFP_DMA | __GFP_NORETRY, 0));
                assertEquals(failures + 1, pool.pageStats().failures());
                assertEquals(growths, pool.pageStats().growths(), "a DMA request does not grow a pool whose"
                        + " growth cannot reach the DMA zone");
            }
        }
    }

    @Test
    void atomicMayUseTheReserveButNowaitMayNot() {
        try (MemoryPool pool = pool(4)) {
            List<Long> got = new ArrayList<>();
            long a;
            while ((a = pool.__get_free_page(GFP_NOWAIT | __GFP_NOWARN)) != 0) {
                got.add(a);
            }
            ZoneStats z = pool.zoneStats().get(ZoneType.NORMAL.ordinal());
            assertTrue(z.free() + z.cached() >= z.min() - 1, "GFP_NOWAIT stopped at the min watermark: free "
                    + z.free() + " min " + z.min());
            int reserve = 0;
            while ((a = pool.__get_free_page(GFP_ATOMIC | __GFP_NOWARN)) != 0) {
                got.add(a);
                reserve++;
            }
            assertTrue(reserve > 0, "GFP_ATOMIC got pages from the reserve below min");
            z = pool.zoneStats().get(ZoneType.NORMAL.ordinal());
            assertTrue(z.free() > 0, "GFP_ATOMIC left part of the reserve: free " + z.free());
            for (long p : got) {
                pool.free_page(p);
            }
            pool.drain_all_pages();
            assertEquals(managed(pool), free(pool));
        }
    }

    @Test
    void kernelAllocationsGrowThePoolUpToItsMaximum() {
        try (MemoryPool pool = MemoryPool.builder().name("grow").smallPages(2 * MIB).maxSmallPages(16 * MIB)
                .allocWait(Duration.ZERO).build()) {
            assertEquals(512, pool.frames());
            List<Long> got = new ArrayList<>();
            for (int i = 0; i < 1024; i++) {
                long a = pool.__get_free_page(GFP_KERNEL);
                assertNotEquals(0, a, "page " + i + " served by growing the pool");
                got.add(a);
            }
            assertTrue(pool.frames() > 1024, "the pool grew: " + pool.frames() + " frames");
            assertTrue(pool.pageStats().growths() > 0);
            long nowaitBefore = pool.frames();
            while (pool.__get_free_page(GFP_NOWAIT | __GFP_NOWARN) != 0) {
                assertEquals(nowaitBefore, pool.frames(), "GFP_NOWAIT never grows the pool");
            }
            long a;
            while ((a = pool.__get_free_page(GFP_KERNEL | __GFP_NOWARN)) != 0) {
                got.add(a);
            }
            assertEquals(4096, pool.frames(), "growth stops at the maximum (16 MiB)");
            pool.drain_all_pages();
            assertEquals(List.of(), pool.checkPageAllocator());
        }
    }

    @Test
    void harvestFindsOrTakesBackWithinItsBound() {
        try (MemoryPool pool = MemoryPool.builder().name("harvest").smallPages(MIB).maxSmallPages(256 * MIB)
                .allocWait(Duration.ZERO).build()) {
            long frames = pool.frames();
            long a = pool.__get_free_pages(GFP_KERNEL | __GFP_NOWARN, MemoryPool.MAX_ORDER);
            PageStats s = pool.pageStats();
            if (a != 0) {
                assertContiguous(pool, a, MemoryPool.MAX_ORDER);
                pool.free_pages(a, MemoryPool.MAX_ORDER);
            }
            assertTrue(s.harvestTaken() <= s.harvests() * BuddyAllocator.HARVEST_FACTOR * 1024L,
                    "a harvest takes at most 16 x 1024 frames: " + s);
            assertEquals(s.harvestTaken() - s.harvestReturned(), s.harvestHits() * 1024L,
                    "a harvest keeps only the block it found: " + s);
            assertEquals(frames + s.grownFrames() + s.harvestHits() * 1024L, pool.frames(),
                    "every frame taken is either in the pool or given back");
            pool.drain_all_pages();
            assertEquals(List.of(), pool.checkPageAllocator());
            assertEquals(managed(pool), free(pool));
        }
    }

    /** Exhausts a pool that may not grow; returns the pages taken. */
    static List<Long> exhaust(MemoryPool pool) {
        List<Long> got = new ArrayList<>();
        long a;
        while ((a = pool.__get_free_page(GFP_ATOMIC | __GFP_NOWARN)) != 0) {
            got.add(a);
        }
        return got;
    }

    @Test
    void kernelWaitsAndIsServedByAFreeFromAnotherThread() throws Exception {
        try (MemoryPool pool = MemoryPool.builder().name("wait").smallPages(2 * MIB)
                .allocWait(Duration.ofSeconds(30)).build()) {
            List<Long> got = exhaust(pool);
            long waits = pool.pageStats().waits();
            AtomicLong served = new AtomicLong();
            Thread waiter = Thread.ofPlatform().name("waiter").start(() ->
                    served.set(pool.__get_free_page(GFP_KERNEL)));
            assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
                while (pool.pageStats().waits() == waits) {
                    Thread.sleep(1);
                }
            }, "the GFP_KERNEL allocation waits");
            assertTrue(waiter.isAlive());

            long atomicFailures = pool.pageStats().failures();
            // "At once" is read from the wait counter below, not from a clock.
            assertEquals(0, pool.__get_free_page(GFP_ATOMIC | __GFP_NOWARN), "GFP_ATOMIC: NULL, at once");
            assertEquals(0, pool.__get_free_page(GFP_NOWAIT | __GFP_NOWARN), "GFP_NOWAIT: NULL, at once");
            assertEquals(0, pool.__get_free_pages(GFP_ATOMIC | __GFP_NOWARN, 3));
            assertEquals(atomicFailures + 3, pool.pageStats().failures());
            assertEquals(waits + 1, pool.pageStats().waits(), "the atomic calls did not wait");
            assertTrue(waiter.isAlive(), "the GFP_KERNEL caller is still waiting");

            List<Long> freed = List.copyOf(got);
            Thread freer = Thread.ofPlatform().name("freer").start(() -> {
                for (long p : freed) {
                    pool.free_page(p);
                }
            });
            freer.join();
            waiter.join(20_000);
            // Served once the frees lifted the zone above min; the page may be one of the freed
            // ones or the reserve frame below GFP_ATOMIC's mark that they merged with.
            assertFalse(waiter.isAlive(), "the waiter returned after the other thread's frees");
            assertNotEquals(0, served.get(), "the waiter got a page, not NULL");
            pool.free_page(served.get());
            pool.drain_all_pages();
            assertEquals(List.of(), pool.checkPageAllocator());
        }
    }

    @Test
    void noretryGivesUpAtOnceAndNofailWaitsBeyondTheBound() throws Exception {
        try (MemoryPool pool = MemoryPool.builder().name("nofail").smallPages(2 * MIB)
                .allocWait(Duration.ofMillis(50)).build()) {
            List<Long> got = exhaust(pool);
            long waits = pool.pageStats().waits();
            assertEquals(0, pool.__get_free_page(GFP_KERNEL | __GFP_NORETRY | __GFP_NOWARN));
            assertEquals(waits, pool.pageStats().waits(), "__GFP_NORETRY does not wait");
            assertEquals(0, pool.__get_free_page(GFP_KERNEL | __GFP_NOWARN), "GFP_KERNEL gives up after 50 ms");
            assertEquals(waits + 1, pool.pageStats().waits());

            AtomicLong served = new AtomicLong();
            Thread t = Thread.ofPlatform().name("nofail").start(() ->
                    served.set(pool.__get_free_page(GFP_KERNEL | __GFP_NOFAIL)));
            assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
                while (pool.pageStats().waits() < waits + 4) {
                    Thread.sleep(5);
                }
            }, "__GFP_NOFAIL keeps waiting past the 50 ms bound");
            assertTrue(t.isAlive());
            for (long p : got) {
                pool.free_page(p);
            }
            t.join(20_000);
            assertNotEquals(0, served.get());
            pool.free_page(served.get());
        }
    }

    @Test
    void endedThreadsCachesComeBack() throws Exception {
        try (MemoryPool pool = pool(4)) {
            Thread t = Thread.ofPlatform().name("short-lived").start(() -> {
                long[] a = new long[20];
                for (int i = 0; i < a.length; i++) {
                    a[i] = pool.__get_free_page(GFP_KERNEL);
                }
                for (long p : a) {
                    pool.free_page(p);
                }
            });
            long reaped = pool.pageStats().reapedCaches();
            t.join();
            assertTrue(pool.buddyinfo().startsWith("Node 0, zone"), "a report reaps ended threads' caches");
            assertEquals(reaped + 1, pool.pageStats().reapedCaches());
            long cached = 0;
            for (ZoneStats z : pool.zoneStats()) {
                cached += z.cached();
            }
            assertEquals(0, cached, "no frame stays in an ended thread's cache");
            assertEquals(managed(pool), free(pool));
        }
    }

    @Test
    void releaseTakesOnlyFreeFramesAndClosedPoolsRefuse() {
        MemoryPool pool = pool(4);
        long a = pool.__get_free_pages(GFP_KERNEL, 1);
        long pfn = pool.virt_to_pfn(a);
        KmemException e = assertThrows(BadAddressException.class, () -> pool.release(new long[] {pfn}));
        assertTrue(e.getMessage().contains("is not free"), e.getMessage());
        pool.free_pages(a, 1);
        long frames = pool.frames();
        pool.release(new long[] {pfn});
        assertEquals(frames - 1, pool.frames());
        assertEquals(managed(pool), free(pool));
        assertEquals(List.of(), pool.checkPageAllocator());
        pool.grow(FrameKind.SMALL_4K, 4096);
        assertEquals(List.of(), pool.checkPageAllocator());
        pool.close();
        assertThrows(PoolClosedException.class, () -> pool.__get_free_page(GFP_KERNEL));
        assertThrows(PoolClosedException.class, () -> pool.free_page(a));
    }

    @Test
    void threadsAllocateAndFreeEachOthersBlocksWithoutLossOrDuplicates() throws Exception {
        try (MemoryPool pool = MemoryPool.builder().name("mt").smallPages(16 * MIB).build()) {
            int threads = 4;
            long managed = managed(pool);
            ConcurrentHashMap<Long, Integer> live = new ConcurrentHashMap<>();
            List<LinkedBlockingQueue<long[]>> inbox = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                inbox.add(new LinkedBlockingQueue<>());
            }
            AtomicReference<Throwable> failure = new AtomicReference<>();
            CountDownLatch done = new CountDownLatch(threads);
            List<Thread> ts = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int me = t;
                ts.add(Thread.ofPlatform().name("mt-" + t).start(() -> {
                    java.util.Random rnd = new java.util.Random(me);
                    try {
                        for (int op = 0; op < 20_000; op++) {
                            long[] mine = inbox.get(me).poll();
                            if (mine != null) {
                                free(pool, live, mine);
                                continue;
                            }
                            int order = rnd.nextInt(10) < 8 ? rnd.nextInt(4) : rnd.nextInt(7);
                            long a = pool.__get_free_pages(GFP_ATOMIC | __GFP_NOWARN, order);
                            if (a == 0) {
                                continue;
                            }
                            for (long i = 0; i < 1L << order; i++) {
                                Integer prev = live.putIfAbsent(pool.virt_to_pfn(a) + i, me);
                                if (prev != null) {
                                    throw new AssertionError("pfn handed out twice: 0x"
                                            + Long.toHexString(pool.virt_to_pfn(a) + i));
                                }
                            }
                            pool.segment(a, 8).set(ValueLayout.JAVA_LONG, 0, a ^ order);
                            inbox.get(rnd.nextInt(threads)).add(new long[] {a, order});
                        }
                        done.countDown();
                        done.await();
                        long[] mine;
                        while ((mine = inbox.get(me).poll()) != null) {
                            free(pool, live, mine);
                        }
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                        done.countDown();
                    }
                }));
            }
            for (Thread t : ts) {
                t.join();
            }
            if (failure.get() != null) {
                throw new AssertionError(failure.get());
            }
            assertEquals(0, live.size(), "every block allocated was freed");
            pool.drain_all_pages();
            assertEquals(managed, free(pool), "free + used = pool: nothing lost");
            assertEquals(List.of(), pool.checkPageAllocator());
        }
    }

    private static void free(MemoryPool pool, ConcurrentHashMap<Long, Integer> live, long[] block) {
        long a = block[0];
        int order = (int) block[1];
        if (pool.segment(a, 8).get(ValueLayout.JAVA_LONG, 0) != (a ^ order)) {
            throw new AssertionError("contents of the block at 0x" + Long.toHexString(a) + " changed");
        }
        for (long i = 0; i < 1L << order; i++) {
            if (live.remove(pool.virt_to_pfn(a) + i) == null) {
                throw new AssertionError("pfn freed but not live");
            }
        }
        pool.free_pages(a, order);
    }

    static long cached(MemoryPool pool) {
        long c = 0;
        for (ZoneStats z : pool.zoneStats()) {
            c += z.cached();
        }
        return c;
    }

    /**
     * A thread that gives back a burst of pages it took from the buddy keeps them in its
     * cache beyond the base high (64 frames for a 64 MiB pool), up to 1/32 of the pool
     * (512 frames); drain_all_pages gives them back and the base high again.
     */
    @Test
    void aCacheHoldsABurstItGivesBack() {
        try (MemoryPool pool = pool(64)) {
            long[] p = new long[400];
            for (int i = 0; i < p.length; i++) {
                p[i] = pool.__get_free_page(GFP_KERNEL);
                assertNotEquals(0, p[i]);
            }
            for (long a : p) {
                pool.free_page(a);
            }
            assertTrue(cached(pool) >= p.length, "the burst stayed in the thread's cache: " + cached(pool)
                    + " frames cached\n" + pool.zoneinfo());
            pool.drain_all_pages();
            assertEquals(0, cached(pool));
            for (int i = 0; i < 100; i++) {
                pool.free_page(pool.__get_free_page(GFP_KERNEL));
            }
            assertTrue(cached(pool) <= 64, "back to the base high: " + cached(pool));
        }
    }
}
