package io.kmem.vmalloc;

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
        return MemoryPool.builder().name("vmalloc").smallPages(32 * MIB).maxSmallPages(128 * MIB).slubDebug(null)
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

    /** The guard page after an area is not mapped: pagemap says not present, the maps table says no access. */
    static void assertGuard(MemoryPool pool, long guard) throws Exception {
        assertEquals(-1, pool.pagemapPfn(guard), "guard page at 0x" + Long.toHexString(guard) + " is not present");
        boolean found = false;
        for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
            String[] range = line.split(" ")[0].split("-");
            long s = Long.parseUnsignedLong(range[0], 16);
            long e = Long.parseUnsignedLong(range[1], 16);
            if (guard >= s && guard < e) {
                assertTrue(line.split(" ")[1].startsWith("---"), "guard page mapped without access: " + line);
                found = true;
            }
        }
        assertTrue(found, "the guard page lies in the window's PROT_NONE reservation");
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
}
