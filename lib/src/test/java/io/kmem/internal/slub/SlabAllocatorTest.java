package io.kmem.internal.slub;

import static io.kmem.SlabFlags.SLAB_CONSISTENCY_CHECKS;
import static io.kmem.SlabFlags.SLAB_HWCACHE_ALIGN;
import static io.kmem.SlabFlags.SLAB_PANIC;
import static io.kmem.SlabFlags.SLAB_POISON;
import static io.kmem.SlabFlags.SLAB_RED_ZONE;
import static io.kmem.SlabFlags.SLAB_STORE_USER;
import static io.kmem.gfp.Gfp.GFP_ATOMIC;
import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static io.kmem.gfp.Gfp.__GFP_NOWARN;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.KmemCache;
import io.kmem.MemoryPool;
import io.kmem.error.BadAddressException;
import io.kmem.error.DoubleFreeException;
import io.kmem.error.KmemException;
import io.kmem.error.PoolClosedException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Examples, edge cases, misuse and SLUB debug detections of the slab allocator, on real frames. */
class SlabAllocatorTest {
    private static final long MIB = 1L << 20;
    private static final int DEBUG = SLAB_CONSISTENCY_CHECKS | SLAB_RED_ZONE | SLAB_POISON | SLAB_STORE_USER;

    /** A pool with SLUB debugging as the run asks for it ({@code -Dkmem.slub_debug}, off by default). */
    static MemoryPool pool() {
        return MemoryPool.builder().name("slab").smallPages(32 * MIB).build();
    }

    /**
     * A pool without SLUB debugging whatever the run asks for: for the tests of exact layouts
     * and of what the non-debug paths catch by themselves.
     */
    static MemoryPool plainPool() {
        return MemoryPool.builder().name("slab").smallPages(32 * MIB).slubDebug(null).build();
    }

    static byte get(MemoryPool pool, long addr) {
        return pool.segment(addr, 1).get(ValueLayout.JAVA_BYTE, 0);
    }

    static void put(MemoryPool pool, long addr, int v) {
        pool.segment(addr, 1).set(ValueLayout.JAVA_BYTE, 0, (byte) v);
    }

    /** Every page of [addr, addr + len) is where virt_to_phys says (pagemap), and the PFNs follow each other. */
    static void assertContiguous(MemoryPool pool, long addr, long len) {
        long first = pool.pagemapPfn(addr & -4096L);
        assertEquals(pool.virt_to_phys(addr) >>> 12, first, "pagemap agrees with virt_to_phys");
        long k = 0;
        for (long a = addr & -4096L; a < addr + len; a += 4096, k++) {
            assertEquals(first + k, pool.pagemapPfn(a), "pfn of page " + k + " of the object at 0x"
                    + Long.toHexString(addr));
        }
    }

    /**
     * The bulk calls take runs of the thread's current slab in one pass: misuse inside a run
     * is still caught at the object, named as kmem_cache_free would name it, with the objects
     * before it freed and the ones after it not.
     */
    @Test
    void bulkCallsCatchMisuseInsideTheirRuns() {
        try (MemoryPool pool = plainPool()) {
            KmemCache cache = pool.kmem_cache_create("bulk64", 64, 0, 0, null);
            long[] p = new long[8];
            assertEquals(8, pool.kmem_cache_alloc_bulk(cache, GFP_KERNEL, 8, p));
            for (int i = 0; i < 8; i++) {
                assertTrue(pool.kmem_obj_info(p[i]).allocated(), "object " + i + " allocated");
                for (int k = 0; k < i; k++) {
                    assertNotEquals(p[k], p[i], "objects " + k + " and " + i + " are distinct");
                }
            }
            // A double free inside one bulk free: the first three are freed, the fourth (the
            // first again) refused, the rest left allocated.
            long[] twice = {p[0], p[1], p[2], p[0], p[3]};
            DoubleFreeException df = assertThrows(DoubleFreeException.class,
                    () -> pool.kmem_cache_free_bulk(cache, twice.length, twice));
            assertTrue(df.getMessage().startsWith("kmem_cache_free_bulk(bulk64, 0x" + Long.toHexString(p[0]) + ")"),
                    df.getMessage());
            assertTrue(df.getMessage().contains("double free"), df.getMessage());
            for (int i = 0; i < 3; i++) {
                assertFalse(pool.kmem_obj_info(p[i]).allocated(), "object " + i + " freed before the bad one");
            }
            assertTrue(pool.kmem_obj_info(p[3]).allocated(), "the object after the bad one is not freed");
            // An inner pointer, then a foreign object (another cache's), each refused where it stands.
            long[] inner = {p[3], p[4] + 8, p[5]};
            BadAddressException bad = assertThrows(BadAddressException.class,
                    () -> pool.kmem_cache_free_bulk(cache, inner.length, inner));
            assertTrue(bad.getMessage().contains("not the start of an object"), bad.getMessage());
            assertFalse(pool.kmem_obj_info(p[3]).allocated());
            assertTrue(pool.kmem_obj_info(p[4]).allocated());
            assertTrue(pool.kmem_obj_info(p[5]).allocated());
            long foreign = pool.kmalloc(64, GFP_KERNEL);
            long[] mixed = {p[4], foreign, p[5]};
            BadAddressException wrong = assertThrows(BadAddressException.class,
                    () -> pool.kmem_cache_free_bulk(cache, mixed.length, mixed));
            assertTrue(wrong.getMessage().contains("wrong slab cache"), wrong.getMessage());
            assertFalse(pool.kmem_obj_info(p[4]).allocated());
            assertTrue(pool.kmem_obj_info(foreign).allocated(), "the foreign object is left alone");
            pool.kfree(foreign);
            pool.kmem_cache_free_bulk(cache, 3, new long[] {p[5], p[6], p[7]});
            // Zeroed runs, and the objects come back for the next bulk allocation.
            for (int i = 0; i < 8; i++) {
                pool.segment(p[i], 64).fill((byte) 0x5a);
            }
            long[] z = new long[8];
            assertEquals(8, pool.kmem_cache_alloc_bulk(cache, GFP_KERNEL | io.kmem.gfp.Gfp.__GFP_ZERO, 8, z));
            for (long o : z) {
                for (int b = 0; b < 64; b++) {
                    assertEquals(0, get(pool, o + b), "byte " + b + " of a __GFP_ZERO bulk object");
                }
            }
            pool.kmem_cache_free_bulk(cache, 8, z);
            pool.kmem_cache_destroy(cache);
        }
    }

    @Test
    void sizeClassesAlignmentAndPhysicalContiguity() {
        try (MemoryPool pool = pool()) {
            long[][] cases = {{1, 8}, {8, 8}, {9, 16}, {33, 64}, {65, 96}, {96, 96}, {97, 128}, {129, 192}, {193, 256},
                              {1000, 1024}, {4096, 4096}, {5000, 8192}, {8192, 8192}};
            for (long[] c : cases) {
                long p = pool.kmalloc(c[0], GFP_KERNEL);
                assertNotEquals(0, p);
                var info = pool.kmem_obj_info(p);
                String expect = c[1] >= 1024 ? "kmalloc-" + (c[1] >> 10) + "k" : "kmalloc-" + c[1];
                assertEquals(expect, info.cache(), "kmalloc(" + c[0] + ")");
                assertEquals(0, info.offset());
                assertTrue(info.allocated());
                assertEquals(c[1], pool.ksize(p));
                if (Long.bitCount(c[1]) == 1) {
                    assertEquals(0, p % c[1], "kmalloc(" + c[0] + ") aligned to " + c[1]);
                }
                assertContiguous(pool, p, c[1]);
                long slabEnd = info.slabBase() + ((long) info.slabPages() << 12);
                assertTrue(p >= info.slabBase() && p + c[1] <= slabEnd, "inside its slab");
                pool.kfree(p);
            }
            assertEquals(List.of(), pool.validateSlabs());
        }
    }

    @Test
    void zeroSizeNullAndLargeKmalloc() {
        try (MemoryPool pool = pool()) {
            assertEquals(MemoryPool.ZERO_SIZE_PTR, pool.kmalloc(0, GFP_KERNEL));
            pool.kfree(0);
            pool.kfree(MemoryPool.ZERO_SIZE_PTR);
            assertEquals(0, pool.ksize(MemoryPool.ZERO_SIZE_PTR));
            long big = pool.kmalloc(8193, GFP_KERNEL);
            assertEquals(0, big % 4096);
            assertEquals(16384, pool.ksize(big));
            assertNull(pool.kmem_obj_info(big));
            assertContiguous(pool, big, 16384);
            assertThrows(BadAddressException.class, () -> pool.free_page(big), "a kmalloc block is not a page");
            pool.kfree(big);
            assertThrows(DoubleFreeException.class, () -> pool.kfree(big));
            assertEquals(0, pool.kmalloc(MemoryPool.KMALLOC_MAX_SIZE + 1, GFP_KERNEL | __GFP_NOWARN));
            assertEquals(0, pool.kmalloc_array(Long.MAX_VALUE / 2, 3, GFP_KERNEL), "overflow gives NULL");
            assertEquals(0, pool.kcalloc(1L << 40, 1L << 40, GFP_KERNEL));
            assertThrows(IllegalArgumentException.class, () -> pool.kmalloc(-1, GFP_KERNEL));
        }
        // 4 MiB needs an order-10 block: physical contiguity that a small physical pool may
        // not hold, so this part runs on an unprivileged pool (frame index = pfn).
        try (MemoryPool pool = MemoryPool.builder().name("max").smallPages(16 * MIB).unprivileged().build()) {
            long max = pool.kmalloc(MemoryPool.KMALLOC_MAX_SIZE, GFP_KERNEL);
            assertNotEquals(0, max);
            assertEquals(MemoryPool.KMALLOC_MAX_SIZE, pool.ksize(max));
            pool.kfree(max);
        }
    }

    @Test
    void zeroingReallocSensitiveAndDup() {
        try (MemoryPool pool = plainPool()) {
            long p = pool.kmalloc(100, GFP_KERNEL);
            pool.segment(p, 100).fill((byte) 0x77);
            pool.kfree(p);
            long z = pool.kzalloc(100, GFP_KERNEL);
            assertEquals(p, z, "the freed object comes back first (LIFO)");
            for (int k = 0; k < 100; k++) {
                assertEquals(0, get(pool, z + k));
            }
            long c = pool.kcalloc(10, 30, GFP_KERNEL);
            for (int k = 0; k < 300; k++) {
                assertEquals(0, get(pool, c + k));
            }
            pool.segment(z, 100).fill((byte) 0x42);
            assertEquals(z, pool.krealloc(z, 120, GFP_KERNEL), "fits in its kmalloc-128 object: same address");
            long r = pool.krealloc(z, 5000, GFP_KERNEL);
            assertNotEquals(z, r);
            for (int k = 0; k < 100; k++) {
                assertEquals(0x42, get(pool, r + k));
            }
            assertThrows(DoubleFreeException.class, () -> pool.kfree(z), "krealloc freed the old object");
            assertEquals(MemoryPool.ZERO_SIZE_PTR, pool.krealloc(r, 0, GFP_KERNEL));
            assertThrows(DoubleFreeException.class, () -> pool.kfree(r));
            long s = pool.kmalloc(64, GFP_KERNEL);
            pool.segment(s, 64).fill((byte) 0xAA);
            pool.kfree_sensitive(s);
            for (int k = 8; k < 64; k++) {
                assertEquals(0, get(pool, s + k), "kfree_sensitive zeroed byte " + k);
            }
            MemorySegment src = MemorySegment.ofArray("driver state".getBytes());
            long d = pool.kmemdup(src, GFP_KERNEL);
            assertEquals("driver state", new String(pool.segment(d, src.byteSize()).toArray(ValueLayout.JAVA_BYTE)));
            long d2 = pool.kmemdup(d, src.byteSize(), GFP_KERNEL);
            assertEquals("driver state", new String(pool.segment(d2, src.byteSize()).toArray(ValueLayout.JAVA_BYTE)));
            pool.kfree(d);
            pool.kfree(d2);
            pool.kfree(c);
        }
    }

    @Test
    void cacheCreateCtorBulkShrinkDestroy() {
        try (MemoryPool pool = plainPool()) {
            AtomicInteger ctorCalls = new AtomicInteger();
            KmemCache cache = pool.kmem_cache_create("nvme_cmd", 100, 0, SLAB_HWCACHE_ALIGN, obj -> {
                ctorCalls.incrementAndGet();
                obj.fill((byte) 0x3c);
            });
            assertEquals(64, cache.align());
            assertEquals(128, cache.size());
            long a = pool.kmem_cache_alloc(cache, GFP_KERNEL);
            assertEquals(0, a % 64);
            assertEquals(cache.objectsPerSlab(), ctorCalls.get(), "the constructor ran once per object of the new slab");
            for (int k = 0; k < 100; k++) {
                assertEquals(0x3c, get(pool, a + k));
            }
            pool.kmem_cache_free(cache, a);
            long b = pool.kmem_cache_alloc(cache, GFP_KERNEL);
            assertEquals(cache.objectsPerSlab(), ctorCalls.get(), "no constructor call at allocation");
            assertEquals(0x3c, get(pool, b), "the free pointer lives outside the object of a cache with a ctor");
            pool.kmem_cache_free(cache, b);
            long zeroed = pool.kmem_cache_zalloc(cache, GFP_KERNEL);
            assertEquals(0, get(pool, zeroed + 50));
            pool.kmem_cache_free(cache, zeroed);

            KmemCache small = pool.kmem_cache_create("tiny", 24, 0, SLAB_HWCACHE_ALIGN, null);
            assertEquals(32, small.align(), "HWCACHE_ALIGN halves the line for small objects");
            long[] objs = new long[200];
            assertEquals(200, pool.kmem_cache_alloc_bulk(small, GFP_KERNEL, 200, objs));
            for (long o : objs) {
                assertEquals("tiny", pool.kmem_obj_info(o).cache());
            }
            pool.kmem_cache_free_bulk(small, 200, objs);
            pool.flushSlabs();
            assertTrue(pool.kmem_cache_shrink(small) > 0, "empty slabs went back to the buddy");
            assertEquals(0, pool.slabStats().stream().filter(s -> s.name().equals("tiny")).findFirst().orElseThrow()
                    .numSlabs());

            assertNull(pool.kmem_cache_create("tiny", 8, 0, 0, null), "a second cache of the same name fails");
            assertThrows(KmemException.class, () -> pool.kmem_cache_create("tiny", 8, 0, SLAB_PANIC, null));
            assertThrows(IllegalArgumentException.class, () -> pool.kmem_cache_create("bad", 0, 0, 0, null));
            assertThrows(IllegalArgumentException.class, () -> pool.kmem_cache_create("bad", 8, 3, 0, null));
            assertThrows(IllegalArgumentException.class, () -> pool.kmem_cache_create("bad", 8, 0, 1 << 30, null));
            pool.kmem_cache_destroy(small);
            assertThrows(KmemException.class, () -> pool.kmem_cache_alloc(small, GFP_KERNEL));
        }
    }

    @Test
    void destroyWithLiveObjectsReportsEachAndKeepsTheMemory() {
        try (MemoryPool pool = pool()) {
            KmemCache cache = pool.kmem_cache_create("leaky", 48, 0, SLAB_STORE_USER, null);
            long a = pool.kmem_cache_alloc(cache, GFP_KERNEL);
            long b = pool.kmem_cache_alloc(cache, GFP_KERNEL);
            pool.segment(a, 48).fill((byte) 0x11);
            pool.takeSlabReports();
            pool.kmem_cache_destroy(cache);
            List<String> reports = pool.takeSlabReports();
            assertEquals(1, reports.size());
            String r = reports.getFirst();
            assertTrue(r.contains("BUG leaky (Not tainted): Objects remaining on __kmem_cache_shutdown()"), r);
            assertTrue(r.contains(String.format("Object 0x%x", a)) && r.contains(String.format("Object 0x%x", b)), r);
            assertTrue(r.contains("Allocated in io.kmem.internal.slub.SlabAllocatorTest.destroyWithLiveObjects"), r);
            assertTrue(r.contains("kmem_cache_destroy leaky: Slab cache still has objects"), r);
            assertEquals(0x11, get(pool, a + 47), "memory still in use is untouched");
            pool.kmem_cache_free(cache, a);
            pool.kmem_cache_free(cache, b);
            pool.kmem_cache_destroy(cache);
            assertEquals(List.of(), pool.takeSlabReports());
        }
    }

    @Test
    void misuseGetsSpecificErrorsAndTheAllocatorGoesOn() {
        try (MemoryPool pool = pool()) {
            long p = pool.kmalloc(64, GFP_KERNEL);
            pool.kfree(p);
            var e = assertThrows(DoubleFreeException.class, () -> pool.kfree(p));
            assertTrue(e.getMessage().contains("kfree(0x" + Long.toHexString(p) + ")") && e.getMessage().contains(
                    "kmalloc-64") && e.getMessage().contains("double free"), e.getMessage());
            long q = pool.kmalloc(64, GFP_KERNEL);
            long other = pool.kmalloc(64, GFP_KERNEL);
            pool.kfree(other);
            assertThrows(DoubleFreeException.class, () -> pool.kfree(other), "a double free not at the list head");
            var inner = assertThrows(BadAddressException.class, () -> pool.kfree(q + 8));
            assertTrue(inner.getMessage().contains("not the start of an object"), inner.getMessage());
            long page = pool.__get_free_page(GFP_KERNEL);
            var pg = assertThrows(BadAddressException.class, () -> pool.kfree(page));
            assertTrue(pg.getMessage().contains("free it with free_pages"), pg.getMessage());
            var fp = assertThrows(BadAddressException.class, () -> pool.free_page(q & -4096L));
            assertTrue(fp.getMessage().contains("slab"), fp.getMessage());
            assertThrows(BadAddressException.class, () -> pool.kfree(0x1000_0000L), "not the pool's");
            KmemCache c1 = pool.kmem_cache_create("c1", 64, 0, 0, null);
            var wrong = assertThrows(BadAddressException.class, () -> pool.kmem_cache_free(c1, q));
            assertTrue(wrong.getMessage().contains("wrong slab cache: the object is from kmalloc-64"), wrong.getMessage());
            pool.free_page(page);
            pool.kfree(q);
            List<Long> live = new ArrayList<>();
            for (int k = 0; k < 1000; k++) {
                live.add(pool.kmalloc(64, GFP_KERNEL));
            }
            assertEquals(1000, live.stream().distinct().count(), "no object handed out twice after the misuse");
            live.forEach(pool::kfree);
            assertEquals(List.of(), pool.validateSlabs());
            pool.close();
            assertThrows(PoolClosedException.class, () -> pool.kmalloc(64, GFP_KERNEL));
            assertThrows(PoolClosedException.class, () -> pool.kfree(p));
        }
    }

    // ================================================================== SLUB debugging

    static MemoryPool debugPool(String slubDebug) {
        return MemoryPool.builder().name("slub-debug").smallPages(16 * MIB).slubDebug(slubDebug).build();
    }

    @Test
    void debugLayoutPoisonAndRedZoneBytes() {
        try (MemoryPool pool = debugPool(null)) {
            KmemCache c = pool.kmem_cache_create("dbg", 40, 0, DEBUG, null);
            long p = pool.kmem_cache_alloc(c, GFP_KERNEL);
            for (int k = 0; k < 40; k++) {
                assertEquals(0x5a, get(pool, p + k) & 0xff, "POISON_INUSE in a new object, byte " + k);
            }
            assertEquals(0xcc, get(pool, p - 1) & 0xff, "left red zone active");
            assertEquals(0xcc, get(pool, p + 40) & 0xff, "right red zone active");
            pool.kmem_cache_free(c, p);
            for (int k = 0; k < 39; k++) {
                assertEquals(0x6b, get(pool, p + k) & 0xff, "POISON_FREE byte " + k);
            }
            assertEquals(0xa5, get(pool, p + 39) & 0xff, "POISON_END");
            assertEquals(0xbb, get(pool, p + 40) & 0xff, "right red zone inactive");
            for (int k = 0; k < 200; k++) {
                pool.kmem_cache_free(c, pool.kmem_cache_alloc(c, GFP_KERNEL));
            }
            assertEquals(List.of(), pool.validateSlabs());
            assertEquals(List.of(), pool.takeSlabReports(), "correct use: no report");
        }
    }

    @Test
    void redZoneOverwrittenIsReportedAndFixed() {
        try (MemoryPool pool = debugPool("FZPU,kmalloc-64")) {
            long p = pool.kmalloc(64, GFP_KERNEL);
            put(pool, p + 64, 0x41);
            put(pool, p + 66, 0x42);
            pool.kfree(p);
            List<String> r = pool.takeSlabReports();
            assertEquals(1, r.size(), r.toString());
            String s = r.getFirst();
            assertTrue(s.contains("BUG kmalloc-64 (Not tainted): Right Redzone overwritten"), s);
            assertTrue(s.contains(String.format("0x%x-0x%x", p + 64, p + 66)) && s.contains(
                    "First byte 0x41 instead of 0xcc"), s);
            assertTrue(s.contains("Allocated in io.kmem.internal.slub.SlabAllocatorTest.redZoneOverwrittenIsReportedAndFixed"), s);
            assertTrue(Pattern.compile("Redzone  [0-9a-f]{16}: 41 cc 42 ").matcher(s).find(), s);
            assertTrue(s.contains("FIX kmalloc-64: Restoring Redzone"), s);
            assertEquals(0xbb, get(pool, p + 64) & 0xff, "fixed, then made inactive by the free");
            long left = pool.kmalloc(64, GFP_KERNEL);
            put(pool, left - 2, 0);
            pool.kfree(left);
            assertTrue(pool.takeSlabReports().getFirst().contains("Left Redzone overwritten"));
            long other = pool.kmalloc(32, GFP_KERNEL);
            put(pool, other + 40, 0x41);
            pool.kfree(other);
            assertEquals(List.of(), pool.takeSlabReports(), "kmalloc-32 has no debugging: nothing checked");
        }
    }

    @Test
    void writeAfterFreeIsFoundAtTheNextAllocationAndByValidate() {
        try (MemoryPool pool = debugPool("FZPU")) {
            long p = pool.kmalloc(128, GFP_KERNEL);
            pool.kfree(p);
            put(pool, p + 10, 0x00);
            long again = pool.kmalloc(128, GFP_KERNEL);
            List<String> r = pool.takeSlabReports();
            assertEquals(1, r.size(), r.toString());
            assertTrue(r.getFirst().contains("BUG kmalloc-128 (Not tainted): Poison overwritten"), r.getFirst());
            assertTrue(r.getFirst().contains("First byte 0x0 instead of 0x6b") || r.getFirst().contains(
                    "First byte 0x00 instead of 0x6b"), r.getFirst());
            assertTrue(r.getFirst().contains("Freed in io.kmem.internal.slub.SlabAllocatorTest"), r.getFirst());
            assertEquals(p, again, "the damaged object was restored and handed out");
            long q = pool.kmalloc(128, GFP_KERNEL);
            pool.kfree(q);
            put(pool, q + 127, 0x99);
            List<String> v = pool.validateSlabs();
            assertEquals(1, v.size(), v.toString());
            assertTrue(v.getFirst().contains("Poison overwritten"), v.getFirst());
            assertEquals(List.of(), pool.validateSlabs(), "validate fixed it");
            pool.kfree(again);
        }
    }

    @Test
    void doubleFreeAndInvalidPointerAreReportedInDebugCaches() {
        try (MemoryPool pool = debugPool("FZPU")) {
            long p = pool.kmalloc(256, GFP_KERNEL);
            long keep = pool.kmalloc(256, GFP_KERNEL);
            pool.kfree(p);
            pool.takeSlabReports();
            assertThrows(DoubleFreeException.class, () -> pool.kfree(p));
            List<String> r = pool.takeSlabReports();
            assertTrue(r.getFirst().contains("BUG kmalloc-256 (Not tainted): Object already free"), r.toString());
            assertTrue(r.getFirst().contains("FIX kmalloc-256: Object not freed"), r.getFirst());
            assertThrows(BadAddressException.class, () -> pool.kfree(keep + 4));
            r = pool.takeSlabReports();
            assertTrue(r.getFirst().contains("Invalid object pointer 0x" + Long.toHexString(keep + 4)), r.toString());
            pool.kfree(keep);
            assertEquals(List.of(), pool.validateSlabs());
        }
    }

    @Test
    void slubDebugOptionParsing() {
        try (MemoryPool pool = debugPool("ZP,kmalloc-64")) {
            KmemCache mine = pool.kmem_cache_create("mine", 64, 0, 0, null);
            assertEquals(0, mine.flags() & DEBUG, "not named: no debugging");
        }
        try (MemoryPool pool = debugPool("")) {
            KmemCache all = pool.kmem_cache_create("all", 64, 0, 0, null);
            assertEquals(DEBUG, all.flags() & DEBUG, "empty letters: FZPU");
        }
        assertThrows(IllegalArgumentException.class, () -> debugPool("FQ"));
    }

    @Test
    void corruptFreePointerIsCaughtEvenWithoutDebugging() {
        try (MemoryPool pool = plainPool()) {
            long p = pool.kmalloc(64, GFP_KERNEL);
            long q = pool.kmalloc(64, GFP_KERNEL);
            pool.kfree(q);
            pool.kfree(p);
            pool.segment(p, 8).set(ValueLayout.JAVA_LONG_UNALIGNED, 0, 0x1234_5678L);
            assertEquals(p, pool.kmalloc(64, GFP_KERNEL));
            long next = pool.kmalloc(64, GFP_KERNEL);
            List<String> r = pool.takeSlabReports();
            assertEquals(1, r.size(), r.toString());
            assertTrue(r.getFirst().contains("BUG kmalloc-64 (Not tainted): Freepointer corrupt"), r.getFirst());
            assertTrue(r.getFirst().contains("Freepointer 0x12345678 is not a free object"), r.getFirst());
            assertNotEquals(0x1234_5678L, next);
            assertEquals("kmalloc-64", pool.kmem_obj_info(next).cache());
            assertTrue(pool.kmem_obj_info(next).allocated());
            pool.kfree(next);
            pool.kfree(p);
        }
    }

    /**
     * The same damage while the thread also holds other free objects (a full sheaf, an owned
     * slab on its index): the slow path must report the corrupt head before it makes another
     * list current, or the damaged list is dropped unreported (it was, once owned slabs came).
     */
    @Test
    void corruptFreePointerIsCaughtWhileOtherListsHoldObjects() {
        try (MemoryPool pool = plainPool()) {
            int per = pool.slabStats().stream().filter(st -> st.name().equals("kmalloc-64")).findFirst()
                    .orElseThrow().objectsPerSlab();
            long[] a = new long[3 * per];
            for (int i = 0; i < a.length; i++) {
                a[i] = pool.kmalloc(64, GFP_KERNEL);
            }
            long cur = pool.kmem_obj_info(a[a.length - 1]).slabBase();
            List<Long> others = new java.util.ArrayList<>();
            List<Long> inCurrent = new java.util.ArrayList<>();
            for (long x : a) {
                (pool.kmem_obj_info(x).slabBase() == cur ? inCurrent : others).add(x);
            }
            assertTrue(others.size() > KmemCacheImpl.SHEAF_SIZE, "objects of the thread's other slabs: " + others.size());
            // A full sheaf, then frees onto an owned slab's own list (the index).
            for (int i = 0; i <= KmemCacheImpl.SHEAF_SIZE; i++) {
                pool.kfree(others.get(i));
            }
            long q = inCurrent.get(0);
            long p = inCurrent.get(1);
            pool.kfree(q);
            pool.kfree(p);
            pool.segment(p, 8).set(ValueLayout.JAVA_LONG_UNALIGNED, 0, 0x1234_5678L);
            assertEquals(p, pool.kmalloc(64, GFP_KERNEL));
            long next = pool.kmalloc(64, GFP_KERNEL);
            List<String> r = pool.takeSlabReports();
            assertEquals(1, r.size(), "the corrupt head is reported at the next allocation: " + r);
            assertTrue(r.getFirst().contains("Freepointer 0x12345678 is not a free object"), r.getFirst());
            assertTrue(pool.kmem_obj_info(next).allocated());
        }
    }

    // ================================================================== fault injection

    @Test
    void failslabTimesIntervalAndIgnoreGfpWait() {
        try (MemoryPool pool = pool()) {
            long warm = pool.kmalloc(64, GFP_KERNEL);
            pool.failslab().probability(100).times(3);
            assertEquals(0, pool.kmalloc(64, GFP_KERNEL));
            assertEquals(0, pool.kmalloc(64, GFP_KERNEL));
            assertEquals(0, pool.kmalloc(200, GFP_KERNEL));
            assertFalse(pool.failslab().armed(), "times used up");
            long ok = pool.kmalloc(64, GFP_KERNEL);
            assertNotEquals(0, ok, "fast path serves again once disarmed");
            assertEquals(3, pool.failslab().failures());

            pool.failslab().reset().probability(100).interval(4);
            int failed = 0;
            List<Long> got = new ArrayList<>();
            for (int k = 0; k < 40; k++) {
                long p = pool.kmalloc(32, GFP_KERNEL);
                if (p == 0) {
                    failed++;
                } else {
                    got.add(p);
                }
            }
            assertEquals(10, failed, "every 4th allocation");
            got.forEach(pool::kfree);

            pool.failslab().reset().probability(100).ignoreGfpWait(true);
            assertNotEquals(0, pool.kmalloc(64, GFP_KERNEL), "GFP_KERNEL may block: ignored");
            assertEquals(0, pool.kmalloc(64, GFP_ATOMIC), "GFP_ATOMIC fails");
            pool.failslab().reset();

            pool.fail_page_alloc().probability(100).minOrder(2);
            long page = pool.__get_free_page(GFP_KERNEL);
            assertNotEquals(0, page, "order 0 is below min-order");
            assertEquals(0, pool.__get_free_pages(GFP_KERNEL | __GFP_NOWARN, 2));
            assertEquals(0, pool.kmalloc(16384, GFP_KERNEL | __GFP_NOWARN), "large kmalloc goes to the page allocator");
            pool.fail_page_alloc().reset();
            pool.free_page(page);
            pool.kfree(ok);
            pool.kfree(warm);
        }
    }

    @Test
    void slabinfoFormat() {
        try (MemoryPool pool = plainPool()) {
            long p = pool.kmalloc(64, GFP_KERNEL);
            String info = pool.slabinfo();
            String[] lines = info.split("\n");
            assertEquals("slabinfo - version: 2.1", lines[0]);
            assertTrue(lines[1].startsWith("# name            <active_objs> <num_objs> <objsize> <objperslab>"
                    + " <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs>"
                    + " <num_slabs> <sharedavail>"), lines[1]);
            Pattern line = Pattern.compile("kmalloc-64 +1 +64 +64 +64 +1 : tunables +0 +0 +0 : slabdata +1 +1 +0");
            assertTrue(line.matcher(info).find(), info);
            pool.kfree(p);
        }
    }

    /**
     * The run's {@code -Dkmem.slub_debug} reaches every pool built without an explicit option:
     * with FZPU (make test's second run), kmalloc-64 objects carry red zones and tracking (a
     * stride above 64) and a write past the end is reported; without it, the stride is 64.
     */
    @Test
    void theRunsSlubDebugOptionReachesEveryCache() {
        String option = System.getProperty("kmem.slub_debug");
        try (MemoryPool pool = pool()) {
            long p = pool.kmalloc(64, GFP_KERNEL);
            var st = pool.slabStats().stream().filter(c -> c.name().equals("kmalloc-64")).findFirst().orElseThrow();
            if (option == null) {
                assertEquals(64, st.size(), "no debugging: objects of kmalloc-64 sit 64 bytes apart");
                pool.kfree(p);
                return;
            }
            assertTrue(option.contains("Z") || option.isEmpty() || option.startsWith(","), "this test expects red zones"
                    + " in the run's option, got '" + option + "'");
            assertTrue(st.size() > 64, "kmalloc-64 with -Dkmem.slub_debug=" + option + " has a stride of " + st.size());
            put(pool, p + 64, 0x41);
            pool.kfree(p);
            List<String> reports = pool.takeSlabReports();
            assertTrue(reports.stream().anyMatch(r -> r.contains("Redzone overwritten")), String.join("\n", reports));
        }
    }

    static io.kmem.stats.SlabCacheStats stats(MemoryPool pool, String cache) {
        return pool.slabStats().stream().filter(st -> st.name().equals(cache)).findFirst().orElseThrow();
    }

    /**
     * A thread keeps the slabs it allocated from: its frees into them, current or not, take no
     * lock, and once its current slab runs out it allocates from the oldest of them again
     * without the lock and without a new slab. A double free into them is still caught.
     */
    @Test
    void ownerFreesIntoItsOwnSlabsTakeNoLock() {
        try (MemoryPool pool = plainPool()) {
            int per = stats(pool, "kmalloc-256").objectsPerSlab();
            long[] p = new long[4 * per];
            for (int i = 0; i < p.length; i++) {
                p[i] = pool.kmalloc(256, GFP_KERNEL);
            }
            io.kmem.stats.SlabCacheStats before = stats(pool, "kmalloc-256");
            for (int i = 0; i < 3 * per; i++) {
                pool.kfree(p[i]);
            }
            assertEquals(before.slowFrees(), stats(pool, "kmalloc-256").slowFrees(),
                    "frees into owned slabs took no lock");
            DoubleFreeException e = assertThrows(DoubleFreeException.class, () -> pool.kfree(p[5]));
            assertTrue(e.getMessage().contains("already free"), e.getMessage());
            java.util.Set<Long> freed = new java.util.HashSet<>();
            for (int i = 0; i < 3 * per; i++) {
                freed.add(p[i]);
            }
            for (int i = 0; i < 3 * per; i++) {
                p[i] = pool.kmalloc(256, GFP_KERNEL);
                assertTrue(freed.remove(p[i]), "object " + i + " again is one freed before");
            }
            io.kmem.stats.SlabCacheStats after = stats(pool, "kmalloc-256");
            assertEquals(before.slowAllocs(), after.slowAllocs(), "the owned slabs were taken again without the lock");
            assertEquals(before.slabsAllocated(), after.slabsAllocated(), "no new slab");
            for (long a : p) {
                pool.kfree(a);
            }
            assertTrue(pool.validateSlabs().isEmpty(), "validate finds the counts right");
            assertEquals(0, stats(pool, "kmalloc-256").activeObjs());
        }
    }

    /**
     * Another thread's frees into a thread's owned slabs go onto their remote lists without
     * the lock (two full sheaves here, flushed by the next free), and the owner allocates them again without the lock
     * and without a new slab (the producer/consumer pattern). A double free from the other
     * thread is still caught.
     */
    @Test
    void remoteFreesIntoOwnedSlabsComeBackWithoutTheLock() throws Exception {
        try (MemoryPool pool = plainPool()) {
            int per = stats(pool, "kmalloc-256").objectsPerSlab();
            int freed = 2 * KmemCacheImpl.SHEAF_SIZE;
            long[] p = new long[freed + 2 * per];
            for (int i = 0; i < p.length; i++) {
                p[i] = pool.kmalloc(256, GFP_KERNEL);
            }
            io.kmem.stats.SlabCacheStats before = stats(pool, "kmalloc-256");
            Throwable[] failure = new Throwable[1];
            Thread other = new Thread(() -> {
                try {
                    for (int i = 0; i <= freed; i++) {
                        pool.kfree(p[i]);   // p[freed] stays in this thread's sheaf
                    }
                    DoubleFreeException e = assertThrows(DoubleFreeException.class, () -> pool.kfree(p[3]));
                    assertTrue(e.getMessage().contains("already free"), e.getMessage());
                } catch (Throwable t) {
                    failure[0] = t;
                }
            });
            other.start();
            other.join();
            if (failure[0] != null) {
                throw new AssertionError(failure[0]);
            }
            assertEquals(before.slowFrees(), stats(pool, "kmalloc-256").slowFrees(),
                    "the other thread's frees took no lock");
            java.util.Set<Long> back = new java.util.HashSet<>();
            for (int i = 0; i < freed; i++) {
                back.add(p[i]);
            }
            for (int i = 0; i < freed; i++) {
                p[i] = pool.kmalloc(256, GFP_KERNEL);
                assertTrue(back.remove(p[i]), "object " + i + " again is one the other thread freed");
            }
            io.kmem.stats.SlabCacheStats after = stats(pool, "kmalloc-256");
            assertEquals(before.slowAllocs(), after.slowAllocs(), "taken back without the lock");
            assertEquals(before.slabsAllocated(), after.slabsAllocated(), "no new slab");
            for (int i = 0; i < p.length; i++) {
                if (i != freed) {
                    pool.kfree(p[i]);
                }
            }
            assertTrue(pool.validateSlabs().isEmpty(), "validate finds the counts right");
            assertEquals(0, stats(pool, "kmalloc-256").activeObjs());
        }
    }

    /**
     * Frees into slabs no thread owns go to the freeing thread's sheaf: no lock per free, one
     * lock round per sheaf, and the next allocations take them back first (last freed, first
     * handed out). A double free of an object in the sheaf is still caught.
     */
    @Test
    void freesIntoOtherSlabsGoThroughTheSheaf() {
        try (MemoryPool pool = plainPool()) {
            int per = stats(pool, "kmalloc-256").objectsPerSlab();
            int sheaf = KmemCacheImpl.SHEAF_SIZE;
            long[] p = new long[Math.max(4 * per, sheaf + 2)];
            for (int i = 0; i < p.length; i++) {
                p[i] = pool.kmalloc(256, GFP_KERNEL);
            }
            pool.shrinkSlabs();   // the thread's slabs go back to the cache: owned by none
            long before = stats(pool, "kmalloc-256").slowFrees();
            for (int i = 0; i < sheaf - 1; i++) {
                pool.kfree(p[i]);
            }
            assertEquals(before, stats(pool, "kmalloc-256").slowFrees(),
                    (sheaf - 1) + " frees into other slabs took no lock");
            DoubleFreeException e = assertThrows(DoubleFreeException.class, () -> pool.kfree(p[5]));
            assertTrue(e.getMessage().contains("already free"), e.getMessage());
            pool.kfree(p[sheaf - 1]);
            pool.kfree(p[sheaf]);
            assertEquals(before + sheaf, stats(pool, "kmalloc-256").slowFrees(), "the full sheaf went back in one round");
            assertEquals(p[sheaf], pool.kmalloc(256, GFP_KERNEL), "the sheaf's object first");
            for (int i = sheaf + 1; i < p.length; i++) {
                pool.kfree(p[i]);
            }
            pool.kfree(p[sheaf]);
            assertTrue(pool.validateSlabs().isEmpty(), "validate finds the counts right");
            assertEquals(0, stats(pool, "kmalloc-256").activeObjs());
        }
    }

    /**
     * An emptied slab stays in its cache (up to a quarter of the pool) and is reused without
     * going through the buddy again; under memory pressure the page allocator takes it back.
     */
    @Test
    void emptySlabsAreKeptThenReclaimedUnderPressure() {
        try (MemoryPool pool = plainPool()) {
            long pagesFresh = countAtomicPages(pool);
            long[] p = new long[1000];
            for (int round = 0; round < 2; round++) {
                for (int i = 0; i < p.length; i++) {
                    p[i] = pool.kmalloc(4096, GFP_KERNEL);
                }
                for (long a : p) {
                    pool.kfree(a);
                }
            }
            io.kmem.stats.SlabCacheStats st = stats(pool, "kmalloc-4k");
            assertEquals(0, st.slabsFreed(), "no slab went back to the buddy: " + st);
            assertEquals(st.slabsAllocated(), st.numSlabs(), "the second round reused the first round's slabs: " + st);
            assertTrue(st.numSlabs() * st.pagesPerSlab() >= 1000, st.toString());
            long pages = countAtomicPages(pool);
            assertTrue(pages >= pagesFresh - 64, "pages to be had after the frees: " + pages + ", on the fresh pool "
                    + pagesFresh + " (the kept slabs were reclaimed)");
            assertTrue(stats(pool, "kmalloc-4k").slabsFreed() > 0, "reclaimed");
        }
    }

    /** Order-0 pages with GFP_ATOMIC until NULL, then all freed again: how many could be had. */
    static long countAtomicPages(MemoryPool pool) {
        List<Long> got = new ArrayList<>();
        for (long a; (a = pool.__get_free_page(GFP_ATOMIC | __GFP_NOWARN)) != 0; ) {
            got.add(a);
        }
        for (long a : got) {
            pool.free_page(a);
        }
        pool.drain_all_pages();
        return got.size();
    }

    /**
     * Objects another thread frees into a thread's current slab go back without the cache
     * lock: the freeing thread's full sheaf pushes them onto the slab's remote list, and the
     * owner takes that list whole when its private list runs out.
     */
    @Test
    void freesIntoAnotherThreadsCurrentSlabTakeNoLock() throws Exception {
        try (MemoryPool pool = plainPool()) {
            int per = stats(pool, "kmalloc-8").objectsPerSlab();
            int sheaf = KmemCacheImpl.SHEAF_SIZE;
            int frees = 2 * sheaf;
            long[] p = new long[frees + 36];
            for (int i = 0; i < p.length; i++) {
                p[i] = pool.kmalloc(8, GFP_KERNEL);
            }
            io.kmem.stats.SlabCacheStats before = stats(pool, "kmalloc-8");
            Thread t = new Thread(() -> {
                for (int i = 0; i < frees; i++) {
                    pool.kfree(p[i]);
                }
            });
            t.start();
            t.join();
            assertEquals(before.slowFrees(), stats(pool, "kmalloc-8").slowFrees(),
                    "the other thread's full sheaf went onto the slab's remote list, no lock");
            java.util.Set<Long> freed = new java.util.HashSet<>();
            for (int i = 0; i < sheaf; i++) {
                freed.add(p[i]);
            }
            long[] q = new long[per - p.length];
            for (int i = 0; i < q.length; i++) {
                q[i] = pool.kmalloc(8, GFP_KERNEL);
                assertFalse(freed.contains(q[i]), "the private list first");
            }
            long r = pool.kmalloc(8, GFP_KERNEL);
            assertTrue(freed.contains(r), "then the remote list: 0x" + Long.toHexString(r));
            assertEquals(before.slowAllocs(), stats(pool, "kmalloc-8").slowAllocs(), "taken without the lock");
            pool.kfree(r);
            for (long a : q) {
                pool.kfree(a);
            }
            for (int i = frees; i < p.length; i++) {
                pool.kfree(p[i]);
            }
            pool.flushSlabs();
            assertTrue(pool.validateSlabs().isEmpty());
            assertEquals(0, stats(pool, "kmalloc-8").activeObjs());
        }
    }
}
