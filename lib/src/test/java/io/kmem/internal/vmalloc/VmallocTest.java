package io.kmem.internal.vmalloc;

import static io.kmem.gfp.Gfp.GFP_ATOMIC;
import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.MemoryPool;
import io.kmem.VmStruct;
import io.kmem.error.BadAddressException;
import io.kmem.error.DoubleFreeException;
import io.kmem.error.PoolClosedException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Examples, edge cases and misuse of vmalloc and vmap, on real frames. */
class VmallocTest {
    private static final long MIB = 1L << 20;
    private static final long PAGE = 4096;

    /** Free frames (buddy plus per-thread caches) of every zone. */
    static long free(MemoryPool pool) {
        long f = 0;
        for (var z : pool.zoneStats()) {
            f += z.free() + z.cached();
        }
        return f;
    }

    static MemoryPool pool() {
        return MemoryPool.builder().name("vmalloc").smallPages(32 * MIB).maxSmallPages(128 * MIB)
                .build();
    }

    /** For every page of the area: vmalloc_to_pfn equals pagemap, and a write through the area is read through phys_to_virt. */
    static void assertBackedByItsFrames(MemoryPool pool, long addr, long bytes) {
        MemorySegment area = pool.segment(addr, bytes);
        for (long off = 0; off < bytes; off += PAGE) {
            long pfn = pool.vmalloc_to_pfn(addr + off);
            assertEquals(pool.pagemapPfn(addr + off), pfn, "pagemap and vmalloc_to_pfn of page " + off / PAGE);
            long stamp = 0x5eed_0000_0000L ^ (addr + off);
            area.set(ValueLayout.JAVA_LONG_UNALIGNED, off + 8, stamp);
            MemorySegment direct = pool.segment(pool.phys_to_virt(pfn << 12), PAGE);
            assertEquals(stamp, direct.get(ValueLayout.JAVA_LONG_UNALIGNED, 8), "page " + off / PAGE
                    + " read through the direct map");
        }
    }

    /**
     * The guard page after an area is not mapped: pagemap says not present, and either the
     * maps table says no access or pagemap marks it a guard region (bit 58, PM_GUARD_REGION:
     * an access faults although it lies inside the area's mapping).
     */
    static void assertGuard(MemoryPool pool, long guard) throws Exception {
        assertEquals(-1, pool.pagemapPfn(guard), "guard page at 0x" + Long.toHexString(guard) + " is not present");
        boolean found = false;
        for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
            String[] range = line.split(" ")[0].split("-");
            long s = Long.parseUnsignedLong(range[0], 16);
            long e = Long.parseUnsignedLong(range[1], 16);
            if (guard >= s && guard < e) {
                assertTrue(line.split(" ")[1].startsWith("---") || guardRegion(guard),
                        "guard page mapped with access and no guard region: " + line);
                found = true;
            }
        }
        assertTrue(found, "the guard page lies in the window");
    }

    /** Bit 58 of the page's pagemap entry (PM_GUARD_REGION, Linux 6.15): a guard region. */
    static boolean guardRegion(long addr) throws Exception {
        try (var ch = java.nio.channels.FileChannel.open(Path.of("/proc/self/pagemap"))) {
            var buf = java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.nativeOrder());
            ch.read(buf, (addr >>> 12) * 8);
            return (buf.getLong(0) >>> 58 & 1) != 0;
        }
    }

    @Test
    void vmallocMapsScatteredFramesContiguouslyWithAGuardPage() throws Exception {
        try (MemoryPool pool = pool()) {
            long free0 = free(pool);
            long p = pool.vmalloc(5 * PAGE + 100);
            assertNotEquals(0, p);
            assertTrue(pool.is_vmalloc_addr(p));
            assertFalse(pool.is_vmalloc_addr(pool.kmalloc(64, GFP_KERNEL)));
            assertBackedByItsFrames(pool, p, 6 * PAGE);
            assertGuard(pool, p + 6 * PAGE);
            assertEquals(0, pool.vmalloc_to_page(p + 6 * PAGE), "vmalloc_to_page of the guard page is NULL");
            VmStruct vm = pool.find_vm_area(p + 3 * PAGE + 17);
            assertNotNull(vm);
            assertEquals(p, vm.addr());
            assertEquals(7 * PAGE, vm.size(), "size counts the guard page, as the kernel's vm_struct does");
            assertEquals(6, vm.nrPages());
            assertEquals(VmStruct.VM_ALLOC, vm.flags());
            assertTrue(vm.caller().startsWith("VmallocTest.vmallocMapsScattered"), vm.caller());
            String info = pool.vmallocinfo();
            assertTrue(info.matches("(?s)0x0*" + Long.toHexString(p) + "-0x0*" + Long.toHexString(p + 7 * PAGE)
                    + "\\s+28672 VmallocTest\\.\\w+:\\d+ pages=6 vmalloc\n"), info);
            assertEquals(List.of(), pool.checkVmalloc());
            pool.vfree(p);
            for (int i = 0; i < 6; i++) {
                assertEquals(-1, pool.pagemapPfn(p + i * PAGE), "page " + i + " unmapped after vfree");
            }
            assertNull(pool.find_vm_area(p));
            assertEquals("", pool.vmallocinfo());
            assertEquals(List.of(), pool.checkVmalloc());
            assertEquals(List.of(), pool.checkPageAllocator());
            assertEquals(free0 - 1, free(pool), "every frame is back in the page allocator (one kmalloc slab page held)");
        }
    }

    @Test
    void vzallocZeroesFramesThatWereDirty() {
        try (MemoryPool pool = pool()) {
            long p = pool.vmalloc(64 * PAGE);
            pool.segment(p, 64 * PAGE).fill((byte) 0xa7);
            pool.vfree(p);
            for (long q : new long[] {pool.vzalloc(64 * PAGE), pool.vmalloc_user(64 * PAGE), pool.vcalloc(16, 4 * PAGE)}) {
                MemorySegment seg = pool.segment(q, 64 * PAGE);
                for (long off = 0; off < 64 * PAGE; off += 8) {
                    assertEquals(0, seg.get(ValueLayout.JAVA_LONG, off), "byte " + off + " of 0x" + Long.toHexString(q));
                }
                seg.fill((byte) 0xa7);
            }
            assertTrue(pool.vmallocinfo().contains(" pages=64 vmalloc user\n"), pool.vmallocinfo());
            assertEquals(3, pool.vmallocStats().areas());
        }
    }

    @Test
    void largeAreasStartOnA2MiBBoundaryAndMapInFewCalls() {
        try (MemoryPool pool = MemoryPool.builder().name("vmalloc-large").smallPages(96 * MIB).build()) {
            long mmaps0 = pool.vmallocStats().mmaps();
            long p = pool.vmalloc(64 * MIB);
            assertNotEquals(0, p);
            assertEquals(0, p % (2 * MIB), "a 64 MiB area starts on a 2 MiB boundary");
            assertBackedByItsFrames(pool, p, 64 * MIB);
            long mmaps = pool.vmallocStats().mmaps() - mmaps0;
            assertTrue(mmaps < 16384 / 8, "16384 pages mapped in " + mmaps + " mmap calls (runs of the memfd)");
            pool.vfree(p);
            assertEquals(List.of(), pool.checkVmalloc());
            assertEquals(List.of(), pool.checkPageAllocator());
        }
    }

    @Test
    void hugetlbFramesAreMappedOnlyAsWhole2MiBPages() throws Exception {
        long reserved = Long.parseLong(Files.readAllLines(Path.of("/proc/sys/vm/nr_hugepages")).get(0).strip());
        assertTrue(reserved >= 4, "this test needs 4 free 2 MiB hugepages (make test reserves 64; see make hugepages),"
                + " the host has " + reserved + " reserved");
        try (MemoryPool pool = MemoryPool.builder().name("vmalloc-huge").smallPages(0).maxSmallPages(0)
                .hugePages2m(8 * MIB).build()) {
            long free0 = free(pool);
            long p = pool.vmalloc(4 * MIB);
            assertNotEquals(0, p, "4 MiB from two whole 2 MiB hugetlb pages");
            assertEquals(0, p % (2 * MIB));
            assertBackedByItsFrames(pool, p, 4 * MIB);
            assertEquals(0, pool.vmalloc_to_pfn(p) % 512, "the first page is the head of a hugepage");
            assertEquals(-1, pool.pagemapPfn(p + 4 * MIB), "guard page");
            long small = pool.vmalloc(16 << 10);
            assertEquals(0, small, "16 KiB cannot be mapped from pieces of hugetlb pages: NULL");
            assertTrue(pool.vmallocStats().setAside() > 0, "the pieces taken were set aside");
            assertEquals(free0 - 1024, free(pool), "and given back");
            pool.vfree(p);
            assertEquals(free0, free(pool));
            assertEquals(List.of(), pool.checkPageAllocator());
        }
    }

    @Test
    void vmapMapsPagesTheCallerOwnsAndVunmapLeavesThemToIt() throws Exception {
        try (MemoryPool pool = pool()) {
            long a = pool.alloc_pages(GFP_KERNEL, 2);
            long b = pool.alloc_page(GFP_KERNEL);
            long pfn = pool.page_to_pfn(a);
            long[] pages = {b, a, pool.pfn_to_page(pfn + 1), pool.pfn_to_page(pfn + 2), pool.pfn_to_page(pfn + 3)};
            long v = pool.vmap(pages, 5);
            assertNotEquals(0, v);
            VmStruct vm = pool.find_vm_area(v);
            assertEquals(VmStruct.VM_MAP, vm.flags());
            assertEquals(5, vm.nrPages());
            for (int i = 0; i < 5; i++) {
                assertEquals(pool.page_to_pfn(pages[i]), pool.vmalloc_to_pfn(v + i * PAGE));
                assertEquals(pages[i], pool.vmalloc_to_page(v + i * PAGE));
                pool.segment(v + i * PAGE, 8).set(ValueLayout.JAVA_LONG, 0, 1000 + i);
                assertEquals(1000 + i, pool.segment(pool.page_address(pages[i]), 8).get(ValueLayout.JAVA_LONG, 0));
            }
            assertGuard(pool, v + 5 * PAGE);
            assertTrue(pool.vmallocinfo().contains(" pages=5 vmap\n"), pool.vmallocinfo());
            BadAddressException e = assertThrows(BadAddressException.class, () -> pool.vfree(v));
            assertTrue(e.getMessage().contains("vmap") && e.getMessage().contains("vunmap"), e.getMessage());
            pool.vunmap(v);
            assertEquals(-1, pool.pagemapPfn(v));
            assertEquals(1004, pool.segment(pool.page_address(pages[4]), 8).get(ValueLayout.JAVA_LONG, 0),
                    "the pages keep their contents and stay the caller's");
            pool.__free_pages(a, 2);
            pool.__free_page(b);
            assertEquals(List.of(), pool.checkPageAllocator());
            assertEquals(0, pool.vmap(pages, 0), "vmap of no page is NULL");
            assertThrows(IllegalArgumentException.class, () -> pool.vmap(pages, 1), "the page is free now");
            assertThrows(IllegalArgumentException.class, () -> pool.vmap(pages, 6));
            assertThrows(BadAddressException.class, () -> pool.vmap(new long[] {0x1234}, 1));
        }
    }

    @Test
    void misuseGetsASpecificErrorAndVmallocKeepsWorking() {
        try (MemoryPool pool = pool()) {
            long p = pool.vmalloc(3 * PAGE);
            long k = pool.kmalloc(128, GFP_KERNEL);
            long g = pool.__get_free_page(GFP_KERNEL);
            String m;
            m = assertThrows(BadAddressException.class, () -> pool.vfree(k)).getMessage();
            assertTrue(m.startsWith("vfree(0x" + Long.toHexString(k) + ")") && m.contains("kfree"), m);
            m = assertThrows(BadAddressException.class, () -> pool.vfree(g)).getMessage();
            assertTrue(m.contains("free_pages"), m);
            m = assertThrows(BadAddressException.class, () -> pool.vfree(p + PAGE)).getMessage();
            assertTrue(m.contains("offset 0x1000") && m.contains("start address"), m);
            m = assertThrows(BadAddressException.class, () -> pool.vfree(p + 3 * PAGE)).getMessage();
            assertTrue(m.contains("guard page"), m);
            m = assertThrows(BadAddressException.class, () -> pool.vunmap(p)).getMessage();
            assertTrue(m.contains("vmalloc") && m.contains("vfree") && m.contains("allocated"), m);
            m = assertThrows(BadAddressException.class, () -> pool.kfree(p)).getMessage();
            assertTrue(m.startsWith("kfree(0x" + Long.toHexString(p) + ")") && m.contains("vfree"), m);
            long pfn = pool.vmalloc_to_pfn(p);
            m = assertThrows(BadAddressException.class, () -> pool.free_page(pool.phys_to_virt(pfn << 12))).getMessage();
            assertTrue(m.contains("vmalloc area") && m.contains("vfree"), m);
            pool.vfree(p);
            m = assertThrows(DoubleFreeException.class, () -> pool.vfree(p)).getMessage();
            assertTrue(m.contains("double free"), m);
            m = assertThrows(BadAddressException.class, () -> pool.vmalloc_to_pfn(p)).getMessage();
            assertTrue(m.contains("no frame is mapped"), m);
            assertThrows(BadAddressException.class, () -> pool.segment(p, 8), "no area there any more");
            assertThrows(IllegalArgumentException.class, () -> pool.vmalloc(-1));
            assertEquals(0, pool.vmalloc(0), "vmalloc(0) is NULL, as in the kernel");
            assertEquals(0, pool.vmalloc(1L << 40), "more than the pool can ever hold: NULL");
            assertEquals(0, pool.vcalloc(1L << 40, 1L << 40), "vcalloc overflow: NULL");
            assertEquals(0, pool.__vmalloc(PAGE, GFP_ATOMIC), "vmalloc may block; GFP_ATOMIC gets NULL");
            assertEquals(4, pool.vmallocStats().failures(), "each NULL counted");
            pool.vfree(0);
            long q = pool.vmalloc(3 * PAGE);
            assertNotEquals(0, q, "vmalloc still works");
            assertBackedByItsFrames(pool, q, 3 * PAGE);
            pool.vfree(q);
            pool.kfree(k);
            pool.free_page(g);
            assertEquals(List.of(), pool.checkVmalloc());
            assertEquals(List.of(), pool.checkPageAllocator());
        }
    }

    @Test
    void segmentOfAnAreaStopsWorkingAtVfree() {
        try (MemoryPool pool = pool()) {
            long p = pool.vmalloc(2 * PAGE);
            MemorySegment seg = pool.segment(p, 2 * PAGE);
            seg.set(ValueLayout.JAVA_INT, 4, 42);
            assertThrows(BadAddressException.class, () -> pool.segment(p + PAGE, PAGE + 1), "runs into the guard page");
            pool.vfree(p);
            assertThrows(IllegalStateException.class, () -> seg.get(ValueLayout.JAVA_INT, 4),
                    "an access after vfree throws, it does not crash");
        }
    }

    @Test
    void kvmallocTakesTheSlabFirstAndVmallocForLargeSizes() {
        try (MemoryPool pool = pool()) {
            long small = pool.kvmalloc(100, GFP_KERNEL);
            long mid = pool.kvzalloc(64 << 10, GFP_KERNEL);
            long large = pool.kvmalloc(8 * MIB, GFP_KERNEL);
            assertFalse(pool.is_vmalloc_addr(small));
            assertFalse(pool.is_vmalloc_addr(mid), "64 KiB fits kmalloc (an order-4 block) while the pool has one");
            assertTrue(pool.is_vmalloc_addr(large), "8 MiB is above KMALLOC_MAX_SIZE: vmalloc");
            assertEquals(0, pool.kvmalloc(8 * MIB, GFP_ATOMIC), "no vmalloc for a gfp that must not block");
            for (long a : new long[] {small, mid, large}) {
                pool.kvfree(a);
            }
            pool.kvfree(0);
            assertEquals(List.of(), pool.checkVmalloc());
        }
    }

    @Test
    void vmalloc32TakesOnlyFramesBelow4GiB() {
        try (MemoryPool pool = pool()) {
            long p = pool.vmalloc_32(4 * PAGE);
            if (p != 0) {
                for (int i = 0; i < 4; i++) {
                    assertTrue(pool.vmalloc_to_pfn(p + i * PAGE) < 1L << 20, "page " + i + " below 4 GiB");
                }
                pool.vfree(p);
            } else {
                assertTrue(pool.zoneStats().stream().noneMatch(z -> z.zone().name().startsWith("DMA") && z.free() > 4),
                        "vmalloc_32 returned NULL although the DMA zones have free frames");
            }
        }
    }

    @Test
    void aClosedPoolRefusesVmallocWithItsOwnError() {
        MemoryPool pool = pool();
        long p = pool.vmalloc(PAGE);
        MemorySegment seg = pool.segment(p, PAGE);
        pool.close();
        assertThrows(PoolClosedException.class, () -> pool.vmalloc(PAGE));
        assertThrows(PoolClosedException.class, () -> pool.vfree(p));
        assertThrows(IllegalStateException.class, () -> seg.get(ValueLayout.JAVA_BYTE, 0));
    }
}
