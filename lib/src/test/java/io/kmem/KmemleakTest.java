package io.kmem;

import static io.kmem.SlabFlags.SLAB_STORE_USER;
import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.stats.LiveAllocation;
import io.kmem.stats.LiveAllocation.Kind;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;

/** The leak list on demand ({@code kmemleak()}) and the leak warning of pool close. */
class KmemleakTest {
    private static final long MIB = 1L << 20;

    private static LiveAllocation find(List<LiveAllocation> live, Kind kind, long address) {
        return live.stream().filter(l -> l.kind() == kind && l.address() == address).findFirst()
                .orElseThrow(() -> new AssertionError(kind + " at 0x" + Long.toHexString(address) + " not in " + live));
    }

    /** A handler that adds every record published to {@code logged}. */
    private static Handler capture(List<LogRecord> logged) {
        return new Handler() {
            @Override
            public void publish(LogRecord r) {
                logged.add(r);
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
    }

    @Test
    void everyFamilyIsListedOnDemandAndReportedAtClose() throws Exception {
        Logger jul = Logger.getLogger("io.kmem.leak");
        List<LogRecord> logged = new ArrayList<>();
        Handler capture = capture(logged);
        jul.addHandler(capture);
        Path dev = Files.createTempFile("kmem-leak", ".dev");
        try {
            Files.write(dev, new byte[8192]);
            MemoryPool pool = MemoryPool.builder().name("leaky").smallPages(32 * MIB).build();
            try {
                assertEquals(List.of(), pool.kmemleak(), "a new pool has nothing live");
                long small = pool.kmalloc(100, GFP_KERNEL);
                KmemCache cache = pool.kmem_cache_create("leak-tracked", 48, 0, SLAB_STORE_USER, null);
                long obj = pool.kmem_cache_alloc(cache, GFP_KERNEL);
                long large = pool.kmalloc(20_000, GFP_KERNEL);
                long pages = pool.__get_free_pages(GFP_KERNEL, 2);
                long v = pool.vmalloc(3 * 4096);
                long page = pool.alloc_page(GFP_KERNEL);
                long vm = pool.vmap(new long[] {page}, 1);
                IoMem io = pool.ioremapFile(dev, 0, 4096);
                long freed = pool.kmalloc(64, GFP_KERNEL);
                pool.kfree(freed);
                Device device = new Device("leakdev");
                assertEquals(0, pool.dma_set_mask_and_coherent(device, DmaApi.DMA_BIT_MASK(64)));
                DmaBuffer coherent = pool.dma_alloc_coherent(device, 5000, GFP_KERNEL);
                long buf = pool.kmalloc(256, GFP_KERNEL);
                long mapped = pool.dma_map_single(device, buf, 256, DmaDirection.DMA_TO_DEVICE);
                long unmapped = pool.dma_map_single(device, buf, 128, DmaDirection.DMA_FROM_DEVICE);
                pool.dma_unmap_single(device, unmapped, 128, DmaDirection.DMA_FROM_DEVICE);
                DmaPool dp = pool.dma_pool_create("leakpool", device, 64, 0, 0);
                long[] handle = new long[1];
                long block = pool.dma_pool_alloc(dp, GFP_KERNEL, handle);
                long blockFreed = pool.dma_pool_alloc(dp, GFP_KERNEL, new long[1]);
                pool.dma_pool_free(dp, blockFreed, pool.virt_to_phys(blockFreed));
                DmaBuffer freedCoherent = pool.dma_alloc_coherent(device, 4096, GFP_KERNEL);
                pool.dma_free_coherent(device, freedCoherent);

                List<LiveAllocation> live = pool.kmemleak();
                LiveAllocation s = find(live, Kind.SLAB_OBJECT, small);
                assertNotNull(s);
                assertEquals("kmalloc", s.function());
                assertEquals("kmalloc-128", s.owner());
                assertTrue(s.size() == 100 || s.size() == 128, "the requested size where recorded, else the object's: "
                        + s);
                LiveAllocation o = find(live, Kind.SLAB_OBJECT, obj);
                assertEquals("kmem_cache_alloc", o.function());
                assertEquals("leak-tracked", o.owner());
                assertEquals(48, o.size());
                assertNotNull(o.allocatedAt(), "SLAB_STORE_USER: the allocating stack");
                assertTrue(o.allocatedAt().contains("KmemleakTest.everyFamilyIsListedOnDemandAndReportedAtClose"),
                        o.allocatedAt());
                assertEquals(32768, find(live, Kind.LARGE_KMALLOC, large).size());
                assertEquals(4 * 4096, find(live, Kind.PAGES, pages).size());
                assertEquals(4096, find(live, Kind.PAGES, pool.page_address(page)).size(), "the vmap'ed page");
                assertEquals(3 * 4096, find(live, Kind.VMALLOC, v).size());
                assertEquals(4096, find(live, Kind.VMAP, vm).size());
                assertEquals(4096, find(live, Kind.IOREMAP, io.address()).size());
                assertTrue(live.stream().noneMatch(l -> l.address() == freed), "a freed object is not listed");
                LiveAllocation c = find(live, Kind.DMA_COHERENT, coherent.cpuAddr());
                assertEquals(5000, c.size());
                assertEquals("leakdev", c.owner());
                LiveAllocation st = find(live, Kind.DMA_STREAMING, buf);
                assertEquals("dma_map_single", st.function());
                assertEquals(256, st.size());
                assertTrue(st.owner().contains(String.format("dma 0x%x", mapped)) && st.owner().contains("DMA_TO_DEVICE"),
                        st.owner());
                LiveAllocation b = find(live, Kind.DMA_POOL_BLOCK, block);
                assertEquals(64, b.size());
                assertTrue(b.owner().contains("leakpool") && b.owner().contains(String.format("0x%x", handle[0])),
                        b.owner());
                find(live, Kind.SLAB_OBJECT, buf);
                assertEquals(12, live.size(), "exactly what was allocated (the coherent buffer and the dma_pool's page"
                        + " not again as pages): " + live);

                assertEquals(List.of(), logged, "nothing logged before close");
                long ioAddr = io.address();
                pool.close();
                assertEquals(1, logged.size(), "one warning at close");
                LogRecord r = logged.getFirst();
                assertEquals(Level.WARNING, r.getLevel());
                String m = r.getMessage();
                assertTrue(m.contains("pool 'leaky' closed with 12 live allocation(s)"), m);
                for (long a : new long[] {small, obj, large, pages, v, vm, ioAddr, coherent.cpuAddr(), block}) {
                    assertTrue(m.contains(String.format("0x%x", a)), "0x" + Long.toHexString(a) + " in " + m);
                }
                assertTrue(m.contains("Allocated in io.kmem.KmemleakTest"), m);
            } finally {
                pool.close();
            }
            assertEquals(1, logged.size(), "a second close says nothing");

            logged.clear();
            try (MemoryPool clean = MemoryPool.builder().name("clean").smallPages(16 * MIB).build()) {
                long p = clean.kmalloc(64, GFP_KERNEL);
                long v = clean.vmalloc(8192);
                assertNotEquals(0, v);
                clean.kfree(p);
                clean.vfree(v);
                assertEquals(List.of(), clean.kmemleak());
            }
            assertEquals(List.of(), logged, "a pool closed with nothing live logs nothing");
        } finally {
            jul.removeHandler(capture);
            Files.deleteIfExists(dev);
        }
    }

    @Test
    void closeListsTheFirstHundredOfAFamilyThenCounts() {
        Logger jul = Logger.getLogger("io.kmem.leak");
        List<LogRecord> logged = new ArrayList<>();
        Handler capture = capture(logged);
        jul.addHandler(capture);
        try {
            try (MemoryPool pool = MemoryPool.builder().name("many").smallPages(16 * MIB).build()) {
                for (int i = 0; i < 250; i++) {
                    pool.kmalloc(32, GFP_KERNEL);
                }
                assertEquals(250, pool.kmemleak().size(), "on demand: all of them");
            }
            String m = logged.getFirst().getMessage();
            assertEquals(MemoryPool.LEAKS_LISTED, m.lines().filter(l -> l.startsWith("SLAB_OBJECT kmalloc")).count(), m);
            assertTrue(m.contains("SLAB_OBJECT=250"), m);
            assertTrue(m.contains("... and 150 more SLAB_OBJECT"), m);
        } finally {
            jul.removeHandler(capture);
        }
    }
}
