package io.kmem.internal.dma;

import static io.kmem.DmaDirection.DMA_BIDIRECTIONAL;
import static io.kmem.DmaDirection.DMA_FROM_DEVICE;
import static io.kmem.DmaDirection.DMA_NONE;
import static io.kmem.DmaDirection.DMA_TO_DEVICE;
import static io.kmem.DmaApi.DMA_BIT_MASK;
import static io.kmem.DmaApi.DMA_MAPPING_ERROR;
import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static io.kmem.gfp.Gfp.__GFP_DMA;
import static io.kmem.gfp.Gfp.__GFP_NOWARN;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.Device;
import io.kmem.DmaBuffer;
import io.kmem.DmaApi;
import io.kmem.MemoryPool;
import io.kmem.error.BadAddressException;
import io.kmem.error.DoubleFreeException;
import io.kmem.error.PrivilegeException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The DMA API on real frames: masks as dma_supported decides them, a 32-bit device refused
 * this host's frames (all of them above 4 GiB), the exact edge of a mask, coherent memory
 * within a mask between the pool's lowest and highest frame, and the DMA-API debugging checks
 * of unmap and sync.
 */
class DmaDirectTest {
    private static final long MIB = 1L << 20;
    private static final long FOUR_GIB = 1L << 32;

    private MemoryPool pool;
    private Device dev;

    @BeforeEach
    void setUp() {
        pool = MemoryPool.builder().name("dma").smallPages(16 * MIB).build();
        dev = new Device("testdev");
    }

    @AfterEach
    void tearDown() {
        pool.close();
    }

    private long lowestPhys() {
        return pool.pfns()[0] << 12;
    }

    @Test
    void masksAreAcceptedAsDmaSupportedSays() {
        assertEquals(DMA_BIT_MASK(32), dev.dma_mask(), "a new device starts with 32-bit masks");
        assertEquals(DMA_BIT_MASK(32), dev.coherent_dma_mask());
        assertEquals(-5, pool.dma_set_mask(dev, DMA_BIT_MASK(23)), "below the DMA zone's 24 bits: -EIO");
        assertEquals(DMA_BIT_MASK(32), dev.dma_mask(), "a refused mask leaves the old one");
        assertFalse(pool.dma_supported(dev, 0xfffffe));
        assertEquals(0, pool.dma_set_mask(dev, DMA_BIT_MASK(24)));
        assertEquals(0xffffff, dev.dma_mask());
        assertEquals(0, pool.dma_set_coherent_mask(dev, DMA_BIT_MASK(28)));
        assertEquals(0xfffffff, dev.coherent_dma_mask());
        assertEquals(-5, pool.dma_set_mask_and_coherent(dev, DMA_BIT_MASK(16)));
        assertEquals(0xffffff, dev.dma_mask(), "neither mask changed");
        assertEquals(0xfffffff, dev.coherent_dma_mask());
        assertEquals(0, pool.dma_set_mask_and_coherent(dev, DMA_BIT_MASK(64)));
        assertEquals(-1L, pool.dma_get_mask(dev));
        assertEquals(0, DMA_BIT_MASK(0));
        assertEquals(0xffffffffL, DMA_BIT_MASK(32));
        assertThrows(IllegalArgumentException.class, () -> DMA_BIT_MASK(65));
    }

    @Test
    void aThirtyTwoBitDeviceIsRefusedThisHostsFramesWithDmaMappingError() {
        long buf = pool.kmalloc(512, GFP_KERNEL);
        long phys = pool.virt_to_phys(buf);
        assertTrue(phys >= FOUR_GIB, "the test needs a kmalloc buffer above 4 GiB (this host gives user memory there);"
                + " got 0x" + Long.toHexString(phys));
        long dma = pool.dma_map_single(dev, buf, 512, DMA_TO_DEVICE);
        assertEquals(DMA_MAPPING_ERROR, dma);
        assertTrue(pool.dma_mapping_error(dev, dma));
        assertEquals(0, dev.liveMappings(), "a refused buffer is not recorded as mapped");
        assertEquals(0, pool.dma_set_mask(dev, DMA_BIT_MASK(64)));
        dma = pool.dma_map_single(dev, buf, 512, DMA_TO_DEVICE);
        assertEquals(phys, dma, "no IOMMU: the DMA address is the physical address");
        assertFalse(pool.dma_mapping_error(dev, dma));
        pool.dma_unmap_single(dev, dma, 512, DMA_TO_DEVICE);
        pool.kfree(buf);
    }

    @Test
    void theMaskIsCheckedAtItsExactLastByte() {
        long page = pool.__get_free_pages(GFP_KERNEL, 1);
        long phys = pool.virt_to_phys(page);
        assertEquals(0, pool.dma_set_mask(dev, phys + 8191));
        long dma = pool.dma_map_single(dev, page, 8192, DMA_FROM_DEVICE);
        assertEquals(phys, dma, "the last byte exactly at the mask fits");
        pool.dma_unmap_single(dev, dma, 8192, DMA_FROM_DEVICE);
        assertEquals(0, pool.dma_set_mask(dev, phys + 8190));
        assertEquals(DMA_MAPPING_ERROR, pool.dma_map_single(dev, page, 8192, DMA_FROM_DEVICE), "one byte over");
        assertEquals(phys + 100, pool.dma_map_single(dev, page + 100, 8091, DMA_FROM_DEVICE));
        pool.dma_unmap_single(dev, phys + 100, 8091, DMA_FROM_DEVICE);
        pool.free_pages(page, 1);
    }

    @Test
    void unmapAndSyncAreCheckedAgainstTheMapsLikeDmaApiDebug() {
        pool.dma_set_mask(dev, DMA_BIT_MASK(64));
        long buf = pool.kmalloc(1024, GFP_KERNEL);
        long dma = pool.dma_map_single(dev, buf, 1024, DMA_BIDIRECTIONAL);
        assertEquals(1, dev.liveMappings());
        pool.dma_sync_single_for_cpu(dev, dma, 1024, DMA_BIDIRECTIONAL);
        pool.dma_sync_single_for_device(dev, dma + 512, 512, DMA_TO_DEVICE);
        BadAddressException outside = assertThrows(BadAddressException.class,
                () -> pool.dma_sync_single_for_cpu(dev, dma + 512, 1024, DMA_FROM_DEVICE));
        assertTrue(outside.getMessage().contains("syncs DMA memory outside allocated range"), outside.getMessage());
        BadAddressException size = assertThrows(BadAddressException.class,
                () -> pool.dma_unmap_single(dev, dma, 512, DMA_BIDIRECTIONAL));
        assertTrue(size.getMessage().contains("with different size [map size=1024 bytes] [unmap size=512 bytes]"),
                size.getMessage());
        BadAddressException dir = assertThrows(BadAddressException.class,
                () -> pool.dma_unmap_single(dev, dma, 1024, DMA_TO_DEVICE));
        assertTrue(dir.getMessage().contains("[mapped with DMA_BIDIRECTIONAL] [unmapped with DMA_TO_DEVICE]"),
                dir.getMessage());
        BadAddressException fn = assertThrows(BadAddressException.class,
                () -> pool.dma_unmap_page(dev, dma, 1024, DMA_BIDIRECTIONAL));
        assertTrue(fn.getMessage().contains("[mapped as single] [unmapped as page]"), fn.getMessage());
        assertEquals(1, dev.liveMappings(), "misuse changed nothing");
        pool.dma_unmap_single(dev, dma, 1024, DMA_BIDIRECTIONAL);
        DoubleFreeException twice = assertThrows(DoubleFreeException.class,
                () -> pool.dma_unmap_single(dev, dma, 1024, DMA_BIDIRECTIONAL));
        assertTrue(twice.getMessage().contains("unmaps DMA memory twice"), twice.getMessage());
        BadAddressException never = assertThrows(BadAddressException.class,
                () -> pool.dma_unmap_single(dev, dma + 4096, 1024, DMA_BIDIRECTIONAL));
        assertTrue(never.getMessage().contains("tries to free DMA memory it has not allocated"), never.getMessage());
        BadAddressException stale = assertThrows(BadAddressException.class,
                () -> pool.dma_sync_single_for_cpu(dev, dma, 16, DMA_FROM_DEVICE));
        assertTrue(stale.getMessage().contains("tries to sync DMA memory it has not allocated"), stale.getMessage());
        pool.kfree(buf);
    }

    @Test
    void dmaMapPageTakesAPageHandle() {
        pool.dma_set_mask(dev, DMA_BIT_MASK(64));
        long page = pool.alloc_pages(GFP_KERNEL, 1);
        long dma = pool.dma_map_page(dev, page, 100, 5000, DMA_TO_DEVICE);
        assertEquals(pool.page_to_phys(page) + 100, dma);
        pool.dma_unmap_page(dev, dma, 5000, DMA_TO_DEVICE);
        long addr = pool.page_address(page);
        BadAddressException e = assertThrows(BadAddressException.class,
                () -> pool.dma_map_page(dev, addr, 0, 4096, DMA_TO_DEVICE), "an address is not a page handle");
        assertTrue(e.getMessage().contains("is not a page handle"), e.getMessage());
        pool.__free_pages(page, 1);
    }

    @Test
    void foreignBuffersAndBadArgumentsAreMisuse() {
        pool.dma_set_mask(dev, DMA_BIT_MASK(64));
        assertThrows(BadAddressException.class, () -> pool.dma_map_single(dev, 0x1000, 64, DMA_TO_DEVICE));
        long buf = pool.kmalloc(64, GFP_KERNEL);
        assertThrows(IllegalArgumentException.class, () -> pool.dma_map_single(dev, buf, 64, DMA_NONE));
        assertThrows(IllegalArgumentException.class, () -> pool.dma_map_single(dev, buf, 0, DMA_TO_DEVICE));
        assertEquals(0, dev.liveMappings());
        pool.kfree(buf);
    }

    @Test
    void coherentMemoryIsZeroedAndWithinTheMask() {
        pool.dma_set_coherent_mask(dev, DMA_BIT_MASK(64));
        DmaBuffer b = pool.dma_alloc_coherent(dev, 10000, GFP_KERNEL);
        assertNotNull(b);
        assertEquals(pool.virt_to_phys(b.cpuAddr()), b.dmaHandle());
        assertEquals(0, b.cpuAddr() & 4095);
        MemorySegment s = pool.segment(b.cpuAddr(), 3 * 4096);
        assertEquals(-1, s.mismatch(MemorySegment.ofArray(new byte[3 * 4096])), "dma_alloc_coherent memory is zero");
        s.fill((byte) 0x5a);
        pool.dma_free_coherent(dev, b);
        DmaBuffer again = pool.dma_alloc_coherent(dev, 10000, GFP_KERNEL | __GFP_DMA);
        assertNotNull(again, "zone modifiers are dropped: the mask decides the zone");
        assertEquals(-1, pool.segment(again.cpuAddr(), 3 * 4096).mismatch(MemorySegment.ofArray(new byte[3 * 4096])),
                "zeroed again, even where the freed buffer was dirtied");
        pool.dma_free_coherent(dev, again.size(), again.cpuAddr(), again.dmaHandle());
    }

    @Test
    void aThirtyTwoBitCoherentMaskGetsNullOnThisHost() {
        assertTrue(lowestPhys() >= FOUR_GIB, "the test needs a pool without frames below 4 GiB; the lowest is 0x"
                + Long.toHexString(lowestPhys()));
        assertNull(pool.dma_alloc_coherent(dev, 4096, GFP_KERNEL | __GFP_NOWARN), "nothing in the pool fits 32 bits");
    }

    @Test
    void aMaskBetweenTheZonesIsHonouredFrameByFrame() {
        long[] pfns = pool.pfns();
        long mask = (pfns[pfns.length / 2] << 12) + 4095;
        long below = Arrays.stream(pfns).filter(p -> (p << 12) + 4095 <= mask).count();
        assertTrue(below > 0 && below < pfns.length, "the mask splits the pool");
        assertEquals(0, pool.dma_set_coherent_mask(dev, mask));
        List<DmaBuffer> got = new ArrayList<>();
        for (int i = 0; i < pfns.length; i++) {
            DmaBuffer b = pool.dma_alloc_coherent(dev, 4096, GFP_KERNEL | __GFP_NOWARN);
            if (b == null) {
                break;
            }
            assertTrue(Long.compareUnsigned(b.dmaHandle() + 4095, mask) <= 0, "buffer " + i + " at 0x"
                    + Long.toHexString(b.dmaHandle()) + " ends above the mask 0x" + Long.toHexString(mask));
            got.add(b);
        }
        assertTrue(got.size() > below / 2, "most frames below the mask were found: " + got.size() + " of " + below);
        assertTrue(got.size() <= below);
        DmaBuffer big = pool.dma_alloc_coherent(dev, 1 << 20, GFP_KERNEL | __GFP_NOWARN);
        if (big != null) {
            assertTrue(big.dmaHandle() + (1 << 20) - 1 <= mask);
            got.add(big);
        }
        for (DmaBuffer b : got) {
            pool.dma_free_coherent(dev, b);
        }
        assertTrue(pool.checkPageAllocator().isEmpty(), pool.checkPageAllocator().toString());
    }

    @Test
    void freeingCoherentMemoryWrongIsCaught() {
        pool.dma_set_coherent_mask(dev, DMA_BIT_MASK(64));
        DmaBuffer b = pool.dma_alloc_coherent(dev, 8192, GFP_KERNEL);
        BadAddressException handle = assertThrows(BadAddressException.class,
                () -> pool.dma_free_coherent(dev, 8192, b.cpuAddr(), b.dmaHandle() + 4096));
        assertTrue(handle.getMessage().contains("the DMA handle is not that of the CPU address"), handle.getMessage());
        assertThrows(BadAddressException.class, () -> pool.dma_free_coherent(dev, 4096, b.cpuAddr(), b.dmaHandle()),
                "freed with the wrong size (order 0, allocated with order 1)");
        pool.dma_free_coherent(dev, b);
        assertThrows(DoubleFreeException.class, () -> pool.dma_free_coherent(dev, b));
    }

    @Test
    void anUnprivilegedPoolHasNoDma() {
        try (MemoryPool up = MemoryPool.builder().name("noroot").smallPages(4 * MIB).unprivileged().build()) {
            Device d = new Device("d");
            PrivilegeException e = assertThrows(PrivilegeException.class, () -> up.dma_alloc_coherent(d, 4096, GFP_KERNEL));
            assertTrue(e.getMessage().contains("has no physical addresses"), e.getMessage());
            long buf = up.kmalloc(64, GFP_KERNEL);
            assertThrows(PrivilegeException.class, () -> up.dma_map_single(d, buf, 64, DMA_TO_DEVICE));
        }
    }
}
