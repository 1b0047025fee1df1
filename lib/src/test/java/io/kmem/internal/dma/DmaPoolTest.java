package io.kmem.internal.dma;

import static io.kmem.DmaApi.DMA_BIT_MASK;
import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static io.kmem.gfp.Gfp.__GFP_NOWARN;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.Device;
import io.kmem.DmaPool;
import io.kmem.DmaApi;
import io.kmem.MemoryPool;
import io.kmem.error.BadAddressException;
import io.kmem.error.DoubleFreeException;
import io.kmem.error.KmemException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** dma_pool examples: the carving, zalloc, every misuse, and destroy with blocks still allocated. */
class DmaPoolTest {
    private MemoryPool pool;
    private Device dev;

    @BeforeEach
    void setUp() {
        pool = MemoryPool.builder().name("dmapool").smallPages(8L << 20).build();
        dev = new Device("nvme0");
        pool.dma_set_mask_and_coherent(dev, DMA_BIT_MASK(64));
    }

    @AfterEach
    void tearDown() {
        pool.close();
    }

    @Test
    void blocksAreCarvedAsTheKernelCarvesThem() {
        assertArrayEquals(new long[] {0, 96, 192, 288, 384, 480, 576, 672, 768, 864, 1024, 1120, 1216},
                java.util.Arrays.copyOf(DmaPoolImpl.offsets(96, 1024, 4096), 13),
                "block 10 would cross 1024: it starts there");
        assertEquals(40, DmaPoolImpl.offsets(96, 1024, 4096).length, "10 blocks per KiB");
        assertEquals(42, DmaPoolImpl.offsets(96, 4096, 4096).length);
        assertEquals(1, DmaPoolImpl.offsets(8192, 8192, 8192).length);
        DmaPool p = pool.dma_pool_create("prp", dev, 90, 32, 1024);
        assertEquals(96, p.size(), "90 rounded up to the alignment");
        assertEquals(4096, p.allocation());
        assertEquals(40, p.blocksPerPage());
        DmaPool tiny = pool.dma_pool_create("tiny", dev, 1, 0, 0);
        assertEquals(16, tiny.size(), "at least a struct dma_block");
        assertEquals(1, tiny.align());
        assertEquals(4096, tiny.boundary(), "boundary 0: the allocation");
        DmaPool big = pool.dma_pool_create("big", dev, 6000, 8, 0);
        assertEquals(6000, big.allocation(), "max(size, PAGE_SIZE), as the kernel's; dma_alloc_coherent rounds up");
        pool.dma_pool_destroy(p);
        pool.dma_pool_destroy(tiny);
        pool.dma_pool_destroy(big);
    }

    @Test
    void blocksAreAlignedInsideTheirBoundaryAndAtTheirDmaAddress() {
        DmaPool p = pool.dma_pool_create("desc", dev, 100, 64, 512);
        long[] h = new long[1];
        for (int i = 0; i < 200; i++) {
            long v = pool.dma_pool_alloc(p, GFP_KERNEL, h);
            assertNotEquals(0, v);
            assertEquals(pool.virt_to_phys(v), h[0], "the handle is the block's DMA address");
            assertEquals(0, h[0] % 64);
            assertEquals(h[0] / 512, (h[0] + p.size() - 1) / 512, "block at 0x" + Long.toHexString(h[0])
                    + " crosses a 512-byte boundary");
        }
        assertEquals(200, p.active());
        pool.dma_pool_destroy(p);
        assertEquals(1, pool.takeDmaReports().size());
    }

    @Test
    void zallocZeroesARecycledBlock() {
        DmaPool p = pool.dma_pool_create("z", dev, 64, 0, 0);
        long[] h = new long[1];
        long v = pool.dma_pool_alloc(p, GFP_KERNEL, h);
        pool.segment(v, 64).fill((byte) 0x77);
        pool.dma_pool_free(p, v, h[0]);
        long w = pool.dma_pool_zalloc(p, GFP_KERNEL, h);
        assertEquals(v, w, "the block just freed comes back first");
        assertEquals(-1, pool.segment(w, 64).mismatch(MemorySegment.ofArray(new byte[64])));
        pool.dma_pool_free(p, w, h[0]);
        long x = pool.dma_pool_alloc(p, GFP_KERNEL, h);
        assertEquals(0, pool.segment(x, 1).get(ValueLayout.JAVA_BYTE, 0), "the zalloc'd bytes stayed");
        pool.dma_pool_free(p, x, h[0]);
        pool.dma_pool_destroy(p);
        assertTrue(pool.takeDmaReports().isEmpty());
    }

    @Test
    void misuseIsNamedAndChangesNothing() {
        DmaPool p = pool.dma_pool_create("cmd", dev, 96, 32, 1024);
        long[] h = new long[1];
        long v = pool.dma_pool_alloc(p, GFP_KERNEL, h);
        long dma = h[0];
        BadAddressException inner = assertThrows(BadAddressException.class, () -> pool.dma_pool_free(p, v + 8, dma + 8));
        assertTrue(inner.getMessage().contains("inside block 0, at offset 8 of its 96 bytes"), inner.getMessage());
        BadAddressException gap = assertThrows(BadAddressException.class, () -> pool.dma_pool_free(p, v + 960, dma + 960));
        assertTrue(gap.getMessage().contains("in a gap between blocks"), gap.getMessage());
        BadAddressException wrongDma = assertThrows(BadAddressException.class, () -> pool.dma_pool_free(p, v, dma + 96));
        assertTrue(wrongDma.getMessage().contains("(bad dma)"), wrongDma.getMessage());
        BadAddressException foreign = assertThrows(BadAddressException.class, () -> pool.dma_pool_free(p, 0x1000, 0));
        assertTrue(foreign.getMessage().contains("(bad vaddr): not in a page of the pool"), foreign.getMessage());
        assertEquals(1, p.active());
        pool.dma_pool_free(p, v, dma);
        DoubleFreeException twice = assertThrows(DoubleFreeException.class, () -> pool.dma_pool_free(p, v, dma));
        assertTrue(twice.getMessage().startsWith("dma_pool_free cmd, dma 0x" + Long.toHexString(dma) + " already free"),
                twice.getMessage());
        assertThrows(IllegalArgumentException.class, () -> pool.dma_pool_alloc(p, GFP_KERNEL, new long[0]));
        assertThrows(IllegalArgumentException.class, () -> pool.dma_pool_create("x", dev, 64, 48, 0), "align 48");
        assertThrows(IllegalArgumentException.class, () -> pool.dma_pool_create("x", dev, 0, 8, 0), "size 0");
        assertThrows(IllegalArgumentException.class, () -> pool.dma_pool_create("x", dev, 128, 8, 64), "boundary < size");
        assertThrows(IllegalArgumentException.class, () -> pool.dma_pool_create("x", dev, 64, 8, 3000), "boundary 3000");
        assertThrows(NullPointerException.class, () -> pool.dma_pool_create("x", null, 64, 8, 0), "no device");
        pool.dma_pool_destroy(p);
        KmemException after = assertThrows(KmemException.class, () -> pool.dma_pool_alloc(p, GFP_KERNEL, h));
        assertTrue(after.getMessage().contains("destroyed by dma_pool_destroy"), after.getMessage());
        assertThrows(KmemException.class, () -> pool.dma_pool_destroy(p));
    }

    @Test
    void destroyWithLiveBlocksReportsEachAndLeaksThePages() {
        DmaPool p = pool.dma_pool_create("busy", dev, 512, 0, 0);
        long[] h = new long[1];
        long a = pool.dma_pool_alloc(p, GFP_KERNEL, h);
        long ha = h[0];
        long b = pool.dma_pool_alloc(p, GFP_KERNEL, h);
        long c = pool.dma_pool_alloc(p, GFP_KERNEL, h);
        pool.dma_pool_free(p, b, pool.virt_to_phys(b));
        long freeBefore = freeFrames();
        pool.dma_pool_destroy(p);
        List<String> reports = pool.takeDmaReports();
        assertEquals(1, reports.size());
        String r = reports.getFirst();
        assertTrue(r.startsWith("dma_pool_destroy nvme0 busy busy: 2 blocks still allocated, its 1 pages leaked"), r);
        assertTrue(r.contains(String.format("block 0x%x (dma 0x%x) of 512 bytes", a, ha)), r);
        assertTrue(r.contains(String.format("block 0x%x (dma 0x%x)", c, h[0])), r);
        assertTrue(!r.contains(String.format("block 0x%x ", b)), "the freed block is not reported");
        assertEquals(freeBefore, freeFrames(), "the busy pool's page stays allocated, as in the kernel");
        pool.segment(a, 512).fill((byte) 1);
    }

    @Test
    void aPoolWhoseDeviceReachesNothingAllocatesNull() {
        Device small = new Device("isa");
        pool.dma_set_mask_and_coherent(small, DMA_BIT_MASK(24));
        DmaPool p = pool.dma_pool_create("isa", small, 64, 0, 0);
        long[] h = new long[1];
        assertEquals(0, pool.dma_pool_alloc(p, GFP_KERNEL | __GFP_NOWARN, h), "no frame below 16 MiB in the pool");
        pool.dma_pool_destroy(p);
    }

    private long freeFrames() {
        pool.drain_all_pages();
        return pool.zoneStats().stream().mapToLong(z -> z.free()).sum();
    }
}
