package io.kmem.internal.slub;

import static io.kmem.SlabFlags.SLAB_POISON;
import static io.kmem.SlabFlags.SLAB_RED_ZONE;
import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static io.kmem.gfp.Gfp.__GFP_ZERO;
import static io.kmem.internal.slub.SlabAllocatorTest.get;
import static io.kmem.internal.slub.SlabAllocatorTest.put;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.KmemCache;
import io.kmem.MemoryPool;
import io.kmem.error.KmemException;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The kernel's own tests of SLUB, vmalloc and memory initialisation ({@code mm/slub_kunit.c},
 * {@code lib/test_vmalloc.c}, {@code lib/test_meminit.c}), ported to kmem's API where kmem
 * has the counterpart: they define what the field calls correct. Each test names the kernel
 * function it ports. The kernel's KUnit tests count "slab errors": each BUG report and each
 * FIX line; {@link #errors} counts the same in kmem's reports. Runs under the plain suite and
 * under {@code -Dkmem.slub_debug=FZPU} (caches created with explicit flags get those too).
 */
class KernelSuitePortTest {
    private static final long MIB = 1L << 20;

    private static MemoryPool pool() {
        return SlabAllocatorTest.pool();
    }

    /** A pool whose kmalloc cache {@code cache} has red zones and store user, as the kunit tests' SLAB_KMALLOC caches. */
    private static MemoryPool kmallocDebugPool(String cache) {
        return MemoryPool.builder().name("kunit").smallPages(32 * MIB).slubDebug("ZU," + cache).build();
    }

    /** The kernel's slab_errors for these reports: BUG headers, FIX lines, leaked-object lines. */
    static int errors(List<String> reports) {
        int n = 0;
        for (String r : reports) {
            boolean leakReport = r.contains("Objects remaining");
            for (String line : r.split("\n")) {
                if (line.startsWith("BUG ") || line.startsWith("FIX ") || leakReport && line.startsWith("Object 0x")) {
                    n++;
                }
            }
        }
        return n;
    }

    /** The offset of a free object's free pointer: where it holds {@code next}. */
    private static int freePointerOffset(MemoryPool pool, long obj, int size, long next) {
        for (int off = 0; off + 8 <= size; off += 8) {
            if (pool.segment(obj + off, 8).get(ValueLayout.JAVA_LONG_UNALIGNED, 0) == next) {
                return off;
            }
        }
        throw new AssertionError("no free pointer to 0x" + Long.toHexString(next) + " in the object at 0x"
                + Long.toHexString(obj));
    }

    // ================================================================== mm/slub_kunit.c

    /** slub_kunit.c test_clobber_zone: a write just past an allocated object, found by validate. */
    @Test
    void testClobberZone() {
        try (MemoryPool pool = pool()) {
            KmemCache s = pool.kmem_cache_create("TestSlub_RZ_alloc", 64, 0, SLAB_RED_ZONE, null);
            long p = pool.kmem_cache_alloc(s, GFP_KERNEL);
            put(pool, p + 64, 0x12);
            assertEquals(2, errors(pool.validateSlabs()));
            pool.kmem_cache_free(s, p);
            pool.kmem_cache_destroy(s);
        }
    }

    /**
     * slub_kunit.c test_next_pointer: a corrupt free pointer. validate reports the free chain
     * corrupt, cuts it, and adjusts the object count (3 errors); with the pointer restored,
     * the count is adjusted back (2); then all is well (0).
     */
    @Test
    void testNextPointer() {
        try (MemoryPool pool = pool()) {
            KmemCache s = pool.kmem_cache_create("TestSlub_next_ptr_free", 64, 0, SLAB_POISON, null);
            long p = pool.kmem_cache_alloc(s, GFP_KERNEL);
            long q = pool.kmem_cache_alloc(s, GFP_KERNEL);
            pool.kmem_cache_free(s, q);
            pool.kmem_cache_free(s, p);
            int offset = freePointerOffset(pool, p, s.size(), q);
            long tmp = pool.segment(p + offset, 8).get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
            put(pool, p + offset, ~get(pool, p + offset));

            List<String> first = pool.validateSlabs();
            assertEquals(3, errors(first), String.join("\n", first));
            assertTrue(first.getFirst().contains("Freechain corrupt"), first.getFirst());
            assertTrue(first.get(1).contains("Wrong object count") && first.get(1).contains("Object count adjusted"),
                    first.get(1));

            pool.segment(p + offset, 8).set(ValueLayout.JAVA_LONG_UNALIGNED, 0, tmp);
            List<String> second = pool.validateSlabs();
            assertEquals(2, errors(second), String.join("\n", second));

            assertEquals(0, errors(pool.validateSlabs()));
            pool.takeSlabReports();
            pool.kmem_cache_destroy(s);
            assertEquals(List.of(), pool.takeSlabReports(), "every object free again: destroyed without a report");
        }
    }

    /**
     * A write of {@code value} at {@code offset} of a free object of a 64-byte cache with
     * {@code flags}: validate reports it and restores the bytes (2 errors, as the kernel counts
     * a report and its fix).
     */
    private static void writeAfterFree(String cache, int flags, int offset, int value) {
        try (MemoryPool pool = pool()) {
            KmemCache s = pool.kmem_cache_create(cache, 64, 0, flags, null);
            long p = pool.kmem_cache_alloc(s, GFP_KERNEL);
            pool.kmem_cache_free(s, p);
            put(pool, p + offset, value);
            assertEquals(2, errors(pool.validateSlabs()));
            pool.kmem_cache_destroy(s);
        }
    }

    /** slub_kunit.c test_first_word: a write after free to the first byte. */
    @Test
    void testFirstWord() {
        writeAfterFree("TestSlub_1th_word_free", SLAB_POISON, 0, 0x78);
    }

    /** slub_kunit.c test_clobber_50th_byte: a write after free in the middle of the object. */
    @Test
    void testClobber50thByte() {
        writeAfterFree("TestSlub_50th_word_free", SLAB_POISON, 50, 0x9a);
    }

    /** slub_kunit.c test_clobber_redzone_free: a write to a free object's red zone. */
    @Test
    void testClobberRedzoneFree() {
        writeAfterFree("TestSlub_RZ_free", SLAB_RED_ZONE, 64, 0xab);
    }

    /**
     * slub_kunit.c test_kmalloc_redzone_access: kmalloc(18) from kmalloc-32 with red zones; a
     * write to bytes 18 and 19 is a "kmalloc Redzone" overwrite (2 errors: report and fix).
     * Then, beyond the kernel's test: the same write is reported by kfree.
     */
    @Test
    void testKmallocRedzoneAccess() {
        try (MemoryPool pool = kmallocDebugPool("kmalloc-32")) {
            long p = pool.kmalloc(18, GFP_KERNEL);
            assertEquals("kmalloc-32", pool.kmem_obj_info(p).cache());
            put(pool, p + 18, 0xab);
            put(pool, p + 19, 0xab);
            List<String> r = pool.validateSlabs();
            assertEquals(2, errors(r), String.join("\n", r));
            assertTrue(r.getFirst().contains("kmalloc Redzone overwritten"), r.getFirst());
            assertEquals(0, errors(pool.validateSlabs()), "restored");
            pool.takeSlabReports();
            put(pool, p + 31, 0x11);
            pool.kfree(p);
            List<String> atFree = pool.takeSlabReports();
            assertEquals(1, atFree.size(), atFree.toString());
            assertTrue(atFree.getFirst().contains("kmalloc Redzone overwritten"), atFree.getFirst());

            long k = pool.kmalloc(18, GFP_KERNEL);
            assertEquals(32, pool.ksize(k), "ksize gives the whole object");
            pool.segment(k, 32).fill((byte) 0x22);
            assertEquals(0, errors(pool.validateSlabs()), "after ksize the caller may use all 32 bytes");
            pool.kfree(k);
            assertEquals(List.of(), pool.takeSlabReports());
        }
    }

    /**
     * slub_kunit.c test_krealloc_redzone_zeroing: krealloc with __GFP_ZERO of a kmalloc(48)
     * from kmalloc-64 with red zones: shrinking red-zones the tail, growing in place zeroes
     * the new bytes, growing into kmalloc-128 copies only the requested bytes.
     */
    @Test
    void testKreallocRedzoneZeroing() {
        try (MemoryPool pool = kmallocDebugPool("kmalloc-64")) {
            long p = pool.kmalloc(48, GFP_KERNEL);
            assertEquals("kmalloc-64", pool.kmem_obj_info(p).cache());
            pool.segment(p, 48).fill((byte) 0xff);

            p = pool.krealloc(p, 40, GFP_KERNEL | __GFP_ZERO);
            for (int i = 40; i < 64; i++) {
                assertEquals((byte) 0xcc, get(pool, p + i), "shrunk: red zone at byte " + i);
            }
            p = pool.krealloc(p, 56, GFP_KERNEL | __GFP_ZERO);
            for (int i = 40; i < 56; i++) {
                assertEquals(0, get(pool, p + i), "grown in place: zero at byte " + i);
            }
            for (int i = 56; i < 64; i++) {
                assertEquals((byte) 0xcc, get(pool, p + i), "grown in place: red zone at byte " + i);
            }
            assertEquals(0, errors(pool.validateSlabs()));

            pool.segment(p, 56).fill((byte) 0xff);
            p = pool.krealloc(p, 112, GFP_KERNEL | __GFP_ZERO);
            assertEquals("kmalloc-128", pool.kmem_obj_info(p).cache());
            for (int i = 0; i < 56; i++) {
                assertEquals((byte) 0xff, get(pool, p + i), "copied byte " + i);
            }
            for (int i = 56; i < 112; i++) {
                assertEquals(0, get(pool, p + i), "zero at byte " + i);
            }
            pool.kfree(p);
            assertEquals(List.of(), pool.takeSlabReports());
        }
    }

    /**
     * The same krealloc sequence on the run's kmalloc caches (no debugging in the plain run,
     * FZPU in the second): whatever the debugging, every byte the caller asked to be zero is.
     */
    @Test
    void kreallocZeroingOnTheRunsCaches() {
        try (MemoryPool pool = pool()) {
            long p = pool.kmalloc(48, GFP_KERNEL);
            pool.segment(p, 48).fill((byte) 0xff);
            p = pool.krealloc(p, 40, GFP_KERNEL | __GFP_ZERO);
            for (int i = 0; i < 40; i++) {
                assertEquals((byte) 0xff, get(pool, p + i), "kept byte " + i);
            }
            if (pool.slabStats().stream().noneMatch(c -> c.name().equals("kmalloc-64") && c.size() > 64)) {
                for (int i = 40; i < 64; i++) {
                    assertEquals(0, get(pool, p + i), "shrunk in place with __GFP_ZERO: zero at byte " + i);
                }
            }
            p = pool.krealloc(p, 56, GFP_KERNEL | __GFP_ZERO);
            for (int i = 40; i < 56; i++) {
                assertEquals(0, get(pool, p + i), "grown in place: zero at byte " + i);
            }
            pool.segment(p, 56).fill((byte) 0xff);
            p = pool.krealloc(p, 112, GFP_KERNEL | __GFP_ZERO);
            for (int i = 56; i < 112; i++) {
                assertEquals(0, get(pool, p + i), "grown into a new object: zero at byte " + i);
            }
            pool.kfree(p);
            assertEquals(List.of(), pool.takeSlabReports());
        }
    }

    /**
     * slub_kunit.c test_leak_destroy: kmem_cache_destroy with an object still allocated
     * reports it (2 errors: the report and the object); then, as the kernel takes the cache
     * off its list, a cache of the same name can be made.
     */
    @Test
    void testLeakDestroy() {
        try (MemoryPool pool = pool()) {
            KmemCache s = pool.kmem_cache_create("TestSlub_leak_destroy", 64, 0, 0, null);
            long p = pool.kmem_cache_alloc(s, GFP_KERNEL);
            pool.kmem_cache_destroy(s);
            List<String> r = pool.takeSlabReports();
            assertEquals(2, errors(r), String.join("\n", r));
            assertTrue(pool.slabStats().stream().noneMatch(c -> c.name().equals("TestSlub_leak_destroy")),
                    "the leaked cache is off the list");
            KmemCache again = pool.kmem_cache_create("TestSlub_leak_destroy", 64, 0, 0, null);
            assertNotNull(again, "the name is free again");
            assertThrows(KmemException.class, () -> pool.kmem_cache_alloc(s, GFP_KERNEL),
                    "the destroyed cache refuses allocations");
            long q = pool.kmem_cache_alloc(again, GFP_KERNEL);
            pool.kmem_cache_free(s, p);
            pool.kmem_cache_destroy(s);
            pool.kmem_cache_free(again, q);
            pool.kmem_cache_destroy(again);
            assertEquals(List.of(), pool.takeSlabReports());
        }
    }

    // ================================================================== lib/test_meminit.c

    /** test_meminit.c test_kvmalloc (do_kmalloc_size, do_vmalloc_size): kzalloc and vzalloc give zeroes. */
    @Test
    void testKvmallocZeroes() {
        try (MemoryPool pool = pool()) {
            for (long size = 1; size <= 8192; size = size * 2 + 1) {
                long p = pool.kmalloc(size, GFP_KERNEL);
                pool.segment(p, size).fill((byte) 0x5c);
                pool.kfree(p);
                long z = pool.kzalloc(size, GFP_KERNEL);
                for (long i = 0; i < size; i++) {
                    assertEquals(0, get(pool, z + i), "kzalloc(" + size + ") byte " + i);
                }
                pool.kfree(z);
            }
            for (long size = 1; size <= (1 << 20); size = size * 4 + 1) {
                long v = pool.vzalloc(size);
                assertNotEquals(0, v);
                for (long i = 0; i < size; i += 97) {
                    assertEquals(0, pool.segment(v + i, 1).get(ValueLayout.JAVA_BYTE, 0), "vzalloc(" + size + ")");
                }
                pool.vfree(v);
            }
        }
    }

    /**
     * test_meminit.c test_kmemcache (do_kmem_cache_size with a constructor and with zeroing):
     * an object of a cache with a constructor holds what the constructor wrote; a
     * kmem_cache_zalloc'd one holds zeroes.
     */
    @Test
    void testKmemcacheCtorAndZero() {
        try (MemoryPool pool = pool()) {
            for (int size : new int[] {8, 24, 64, 200, 1024, 4096}) {
                KmemCache c = pool.kmem_cache_create("meminit-ctor-" + size, size, 0, 0,
                        seg -> seg.fill((byte) 0x17));
                long p = pool.kmem_cache_alloc(c, GFP_KERNEL);
                for (int i = 0; i < size; i++) {
                    assertEquals(0x17, get(pool, p + i), "ctor'd object of " + size + ", byte " + i);
                }
                pool.kmem_cache_free(c, p);
                pool.kmem_cache_destroy(c);
                KmemCache z = pool.kmem_cache_create("meminit-zero-" + size, size, 0, 0, null);
                long q = pool.kmem_cache_alloc(z, GFP_KERNEL);
                pool.segment(q, size).fill((byte) 0x3c);
                pool.kmem_cache_free(z, q);
                q = pool.kmem_cache_zalloc(z, GFP_KERNEL);
                for (int i = 0; i < size; i++) {
                    assertEquals(0, get(pool, q + i), "zalloc'd object of " + size + ", byte " + i);
                }
                pool.kmem_cache_free(z, q);
                pool.kmem_cache_destroy(z);
            }
            assertEquals(List.of(), pool.takeSlabReports());
        }
    }

    /**
     * test_meminit.c test_pages (do_alloc_pages_order), with __GFP_ZERO standing for
     * init_on_alloc. Orders 0 to 9, from hugepages so that the large orders exist (order 10
     * would need two physically adjacent hugepages, which the host need not give).
     */
    @Test
    void testPagesZeroed() {
        try (MemoryPool pool = MemoryPool.builder().name("meminit").smallPages(0).hugePages2m(4 * MIB).build()) {
            for (int order = 0; order <= 9; order++) {
                long a = pool.__get_free_pages(GFP_KERNEL, order);
                assertNotEquals(0, a, "order " + order);
                pool.segment(a, 4096L << order).fill((byte) 0x6e);
                pool.free_pages(a, order);
                long z = pool.__get_free_pages(GFP_KERNEL | __GFP_ZERO, order);
                for (long i = 0; i < 4096L << order; i += 61) {
                    assertEquals(0, get(pool, z + i), "order " + order + " byte " + i);
                }
                pool.free_pages(z, order);
            }
        }
    }

    // ================================================================== lib/test_vmalloc.c

    /** test_vmalloc.c fix_size_alloc_test: vmalloc(3 pages), touch, vfree, many times. */
    @Test
    void fixSizeAllocTest() {
        try (MemoryPool pool = pool()) {
            for (int i = 0; i < 1000; i++) {
                long p = pool.vmalloc(3 * 4096);
                assertNotEquals(0, p);
                pool.segment(p, 1).set(ValueLayout.JAVA_BYTE, 0, (byte) 0);
                pool.vfree(p);
            }
            assertEquals(List.of(), pool.checkVmalloc());
        }
    }

    /** test_vmalloc.c random_size_alloc_test: vmalloc of 1..100 pages, touch, vfree. */
    @Test
    void randomSizeAllocTest() {
        Random rnd = new Random(15);
        try (MemoryPool pool = pool()) {
            for (int i = 0; i < 300; i++) {
                long pages = 1 + rnd.nextInt(100);
                long p = pool.vmalloc(pages * 4096);
                assertNotEquals(0, p, pages + " pages");
                pool.segment(p, 1).set(ValueLayout.JAVA_BYTE, 0, (byte) 0);
                pool.segment(p + pages * 4096 - 1, 1).set(ValueLayout.JAVA_BYTE, 0, (byte) 0);
                pool.vfree(p);
            }
            assertEquals(List.of(), pool.checkVmalloc());
        }
    }

    /** test_vmalloc.c long_busy_list_alloc_test: many one-page areas stay busy while others come and go. */
    @Test
    void longBusyListAllocTest() {
        try (MemoryPool pool = pool()) {
            long[] busy = new long[2000];
            for (int i = 0; i < busy.length; i++) {
                busy[i] = pool.vmalloc(4096);
                assertNotEquals(0, busy[i]);
            }
            for (int i = 0; i < 1000; i++) {
                long p = pool.vmalloc(3 * 4096);
                assertNotEquals(0, p);
                pool.segment(p, 1).set(ValueLayout.JAVA_BYTE, 0, (byte) 0);
                pool.vfree(p);
            }
            for (long b : busy) {
                pool.vfree(b);
            }
            assertEquals(List.of(), pool.checkVmalloc());
        }
    }

    /** test_vmalloc.c vm_map_ram_test: map pages, write every word, unmap (vmap/vunmap here). */
    @Test
    void vmMapRamTest() {
        try (MemoryPool pool = pool()) {
            long[] pages = new long[64];
            for (int i = 0; i < pages.length; i++) {
                pages[i] = pool.alloc_page(GFP_KERNEL);
            }
            for (int r = 0; r < 100; r++) {
                long v = pool.vmap(pages, pages.length);
                assertNotEquals(0, v);
                pool.segment(v, 64 * 4096L).fill((byte) 0xa5);
                pool.vunmap(v);
            }
            for (long pg : pages) {
                pool.__free_page(pg);
            }
            assertEquals(List.of(), pool.checkVmalloc());
        }
    }
}
