package io.kmem;

import static io.kmem.DmaDirection.DMA_BIDIRECTIONAL;
import static io.kmem.DmaDirection.DMA_TO_DEVICE;
import static io.kmem.DmaApi.DMA_BIT_MASK;
import static io.kmem.MemoryPool.DMA_MAPPING_ERROR;
import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.internal.dma.DmaTranslation;
import io.kmem.error.KmemException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The DMA API for a device behind an IOMMU (the hook VFIO devices use): with a
 * {@link DmaTranslation} on the device, dma_map_single, dma_map_page, dma_alloc_coherent and
 * dma_pool hand out its IOVAs, checked against the device's mask; a buffer the domain does not
 * map is refused with DMA_MAPPING_ERROR and the domain's reason. The translation here is a
 * stand-in (every pool byte at a fixed offset below 28 bits); the real one, IommuDomain, is
 * proven in the guest (tools/vm-test vfio). Also vfio_open's errors on a host without VFIO.
 */
class IommuDmaTest {
    private static final long MIB = 1L << 20;
    private MemoryPool pool;
    private Device dev;
    private long base;

    /** IOVA = cpu - the pool's lowest direct-map address + 1 MiB; nothing maps above {@code limit} IOVA. */
    private final class Linear implements DmaTranslation {
        long refuseFrom = Long.MAX_VALUE;

        @Override
        public long toDma(long cpu, long size) {
            long iova = cpu - base + MIB;
            return iova + size > refuseFrom ? DMA_MAPPING_ERROR : iova;
        }

        @Override
        public long toCpu(long dma) {
            return dma - MIB + base;
        }

        @Override
        public String why(long cpu, long size) {
            return "stand-in domain maps nothing from 0x" + Long.toHexString(refuseFrom);
        }
    }

    private Linear domain;

    @BeforeEach
    void setUp() {
        pool = MemoryPool.builder().name("iommu").smallPages(16 * MIB).build();
        dev = new Device("edu-vfio");
        base = Long.MAX_VALUE;
        for (long pfn : pool.pfns()) {
            base = Math.min(base, pool.phys_to_virt(pfn << 12));
        }
        domain = new Linear();
        dev.impl.translation(domain);
    }

    @AfterEach
    void tearDown() {
        pool.close();
    }

    @Test
    void streamingMapsReturnIovas() {
        assertEquals(0, pool.dma_set_mask_and_coherent(dev, DMA_BIT_MASK(64)), "the stand-in's IOVAs span the host");
        long buf = pool.kmalloc(2048, GFP_KERNEL);
        long iova = pool.dma_map_single(dev, buf, 2048, DMA_TO_DEVICE);
        assertEquals(buf - base + MIB, iova, "the IOVA, not the physical address");
        pool.dma_unmap_single(dev, iova, 2048, DMA_TO_DEVICE);
        long page = pool.alloc_pages(GFP_KERNEL, 0);
        long pi = pool.dma_map_page(dev, page, 100, 200, DMA_BIDIRECTIONAL);
        assertEquals(pool.page_address(page) + 100 - base + MIB, pi);
        pool.dma_unmap_page(dev, pi, 200, DMA_BIDIRECTIONAL);
        pool.kfree(buf);
        pool.__free_pages(page, 0);
    }

    @Test
    void theMaskAppliesToTheIova() {
        assertEquals(0, pool.dma_set_mask(dev, DMA_BIT_MASK(24)));
        long buf = pool.kmalloc(64, GFP_KERNEL);
        long iova = buf - base + MIB;
        long got = pool.dma_map_single(dev, buf, 64, DMA_TO_DEVICE);
        assertEquals(iova + 63 <= DMA_BIT_MASK(24) ? iova : DMA_MAPPING_ERROR, got);
        domain.refuseFrom = 0;
        assertEquals(DMA_MAPPING_ERROR, pool.dma_map_single(dev, buf, 64, DMA_TO_DEVICE), "the domain maps nothing");
        pool.kfree(buf);
    }

    @Test
    void coherentAndDmaPoolHandlesAreIovas() {
        assertEquals(0, pool.dma_set_mask_and_coherent(dev, DMA_BIT_MASK(64)), "the stand-in's IOVAs span the host");
        DmaBuffer b = pool.dma_alloc_coherent(dev, 8192, GFP_KERNEL);
        assertNotNull(b);
        assertEquals(b.cpuAddr() - base + MIB, b.dmaHandle());
        pool.dma_free_coherent(dev, b);
        DmaPool p = pool.dma_pool_create("descs", dev, 64, 64, 0);
        long[] h = new long[1];
        long v = pool.dma_pool_alloc(p, GFP_KERNEL, h);
        assertEquals(v - base + MIB, h[0]);
        pool.dma_pool_free(p, v, h[0]);
        pool.dma_pool_destroy(p);
        domain.refuseFrom = 0;
        assertEquals(null, pool.dma_alloc_coherent(dev, 4096, GFP_KERNEL | io.kmem.gfp.Gfp.__GFP_NOWARN));
    }

    @Test
    void vfioOpenOnAHostWithoutVfioSaysSo() {
        try (FakeHost host = new FakeHost()) {
            host.pci("0000:00:03.0", 0x1234, 0x11e8, new long[][] {{0xfea00000L, MIB, 0x40200}});
            pool.ioRoots(host.roots());
            KmemException e = assertThrows(KmemException.class, () -> pool.vfio_open("0000:00:03.0"));
            assertTrue(e.getMessage().startsWith("vfio_open(0000:00:03.0): no IOMMU/VFIO"), e.getMessage());
            PciDev d = pool.pci_get_device(0x1234, 0x11e8, null);
            assertTrue(!d.toString().contains("IOMMU domain"), "the failed open left the function as it was");
            assertThrows(KmemException.class, () -> pool.vfio_close(d));
        }
    }

}
