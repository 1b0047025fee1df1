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
import io.kmem.error.SyscallException;
import io.kmem.internal.vfio.IommuContainer;
import io.kmem.internal.vfio.IommuDomain;
import io.kmem.internal.vfio.IommuInfo;
import io.kmem.internal.vfio.IovaAllocator;
import io.kmem.internal.vfio.VfioContainer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.TreeMap;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The DMA API for a device behind an IOMMU (the hook VFIO devices use): with a
 * {@link DmaTranslation} on the device, dma_map_single, dma_map_page, dma_alloc_coherent and
 * dma_pool hand out its IOVAs, checked against the device's mask; a buffer the domain does not
 * map is refused with DMA_MAPPING_ERROR and the domain's reason. The translation here is a
 * stand-in (every pool byte at a fixed offset below 28 bits); the real one, IommuDomain, is
 * proven in the guest (tools/vm-test vfio). Also vfio_open's errors on a host without VFIO, and
 * the real IommuDomain's two mapping failures, driven through a container that behaves as the
 * kernel's type1 backend does ({@link KernelLikeContainer}): an exhausted IOVA space and the
 * container's DMA mapping limit (ENOSPC once VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL mappings are made).
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

    /**
     * A VFIO container as vfio_iommu_type1 behaves towards kmem, without a device: MAP_DMA
     * records the mapping, refuses an IOVA range that overlaps one (EEXIST) and, once
     * {@code dmaAvail} mappings are live, fails with ENOSPC (the kernel's {@code dma_avail}
     * counter, {@code dma_entry_limit} at open); UNMAP_DMA gives the entry back. A failure goes
     * through VfioContainer's own errno translation, as the real ioctl's does.
     */
    private static final class KernelLikeContainer implements IommuContainer {
        final IommuInfo info;
        final TreeMap<Long, Long> mapped = new TreeMap<>();
        int enospc;
        long refusedIova = -1;

        KernelLikeContainer(List<IovaAllocator.Range> usable, int dmaAvail) {
            this.info = new IommuInfo(4096, usable, dmaAvail);
        }

        @Override
        public String bdf() {
            return "0000:00:03.0";
        }

        @Override
        public IommuInfo info() {
            return info;
        }

        @Override
        public void map(long vaddr, long iova, long size) {
            var below = mapped.floorEntry(iova + size - 1);
            int errno = below != null && below.getKey() + below.getValue() > iova ? 17 /* EEXIST */
                    : info.dmaAvail() >= 0 && mapped.size() >= info.dmaAvail() ? 28 /* ENOSPC */ : 0;
            if (errno != 0) {
                enospc += errno == 28 ? 1 : 0;
                refusedIova = iova;
                String name = errno == 28 ? "ENOSPC" : "EEXIST";
                throw VfioContainer.mapFailure(new SyscallException("ioctl(VFIO_IOMMU_MAP_DMA)", errno, name,
                        "ioctl(VFIO_IOMMU_MAP_DMA) failed: fd=7: errno " + errno + " (" + name + ")"), bdf(), info,
                        vaddr, iova, size);
            }
            mapped.put(iova, size);
        }

        @Override
        public void unmap(long iova, long size) {
            assertEquals(size, mapped.remove(iova), "UNMAP_DMA of exactly what was mapped at 0x" + Long.toHexString(iova));
        }
    }

    /** The warnings DmaDirect logs while {@code body} runs. */
    private static List<String> warnings(Runnable body) {
        List<String> logged = new ArrayList<>();
        Handler h = new Handler() {
            @Override
            public void publish(LogRecord r) {
                logged.add(r.getMessage());
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        Logger jul = Logger.getLogger("io.kmem.internal.dma");
        jul.addHandler(h);
        try {
            body.run();
        } finally {
            jul.removeHandler(h);
        }
        return logged;
    }

    private static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }

    /**
     * Per-call mapping with 64 KiB of usable IOVA space: 16 granules, so 16 live 2 KiB mappings;
     * the 17th dma_map_single returns DMA_MAPPING_ERROR without an ioctl, and the warning names
     * the call, the buffer, its size, the IOVA space and the fix. An unmap makes room again.
     */
    @Test
    void anExhaustedIovaSpaceNamesTheCallTheBufferAndTheFix() {
        KernelLikeContainer c = new KernelLikeContainer(List.of(new IovaAllocator.Range(0x100000, 0x10ffff)), 65535);
        IommuDomain d = new IommuDomain(pool.phys, c, dev.impl, true);
        dev.impl.translation(d);
        assertEquals(0, pool.dma_set_mask_and_coherent(dev, DMA_BIT_MASK(32)));
        List<long[]> maps = new ArrayList<>();
        long[] failed = new long[2];
        List<String> logged = warnings(() -> {
            for (int i = 0; i < 64; i++) {
                long buf = pool.kmalloc(2048, GFP_KERNEL);
                long iova = pool.dma_map_single(dev, buf, 2048, DMA_TO_DEVICE);
                if (iova == DMA_MAPPING_ERROR) {
                    failed[0] = buf;
                    failed[1] = i;
                    break;
                }
                assertTrue(iova >= 0x100000 && iova + 2048 - 1 <= 0x10ffff, hex(iova) + " outside the usable range");
                maps.add(new long[] {buf, iova});
            }
        });
        assertEquals(16, maps.size(), "16 granules of IOVA space, one a mapping");
        assertEquals(16, c.mapped.size(), "the failed map made no ioctl");
        assertEquals(1, logged.size(), "one warning: " + logged);
        String w = logged.get(0);
        assertTrue(w.startsWith(String.format(Locale.ROOT, "dma_map_single(edu-vfio, %s, 2048): no IOVA: no IOVA range"
                + " of 4 KiB below the mask 0xffffffff", hex(failed[0]))), w);
        assertTrue(w.contains("IOVA domain of 0000:00:03.0: usable [[0x100000-0x10ffff]] less the MSI window, 0 KiB free"), w);
        assertTrue(w.contains("unmap buffers no longer in use, or use a device with a wider mask"), w);

        long[] first = maps.remove(0);
        pool.dma_unmap_single(dev, first[1], 2048, DMA_TO_DEVICE);
        long again = pool.dma_map_single(dev, failed[0], 2048, DMA_TO_DEVICE);
        assertTrue(again != DMA_MAPPING_ERROR, "the unmapped granule serves the next mapping");
        pool.dma_unmap_single(dev, again, 2048, DMA_TO_DEVICE);
        for (long[] m : maps) {
            pool.dma_unmap_single(dev, m[1], 2048, DMA_TO_DEVICE);
            pool.kfree(m[0]);
        }
        pool.kfree(first[0]);
        pool.kfree(failed[0]);
        assertEquals(0, c.mapped.size(), "everything unmapped");
        d.close();
    }

    /**
     * The whole-pool mapping (the default) with one granule of usable IOVA space: a 16 KiB page
     * block lies in a run of at least 4 frames, which no IOVA range fits, so dma_map_page fails
     * and the warning names the call, the block, its size and the fix.
     */
    @Test
    void anExhaustedIovaSpaceForThePoolNamesTheCallAndTheFix() {
        KernelLikeContainer c = new KernelLikeContainer(List.of(new IovaAllocator.Range(0x100000, 0x100fff)), 65535);
        IommuDomain d = new IommuDomain(pool.phys, c, dev.impl, false);
        dev.impl.translation(d);
        assertEquals(0, pool.dma_set_mask_and_coherent(dev, DMA_BIT_MASK(32)));
        long page = pool.alloc_pages(GFP_KERNEL, 2);
        long[] got = new long[1];
        List<String> logged = warnings(() -> got[0] = pool.dma_map_page(dev, page, 0, 16384, DMA_TO_DEVICE));
        assertEquals(DMA_MAPPING_ERROR, got[0]);
        assertEquals(1, logged.size(), "one warning: " + logged);
        String w = logged.get(0);
        assertTrue(w.startsWith(String.format(Locale.ROOT, "dma_map_page(edu-vfio, %s, 16384): no IOVA: no IOVA range of",
                hex(pool.page_address(page)))), w);
        assertTrue(w.contains("below the mask 0xffffffff for a run of pool frames: IOVA domain of 0000:00:03.0: usable"
                + " [[0x100000-0x100fff]]"), w);
        assertTrue(w.contains("use a smaller pool or a device with a wider mask"), w);
        pool.__free_pages(page, 2);
        d.close();
        assertEquals(0, c.mapped.size(), "close unmapped every run it mapped");
    }

    /**
     * Per-call mapping in a container that allows 3 mappings (VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL 3):
     * the 4th dma_map_single gets the kernel's ENOSPC and returns DMA_MAPPING_ERROR; the warning
     * names the call, the buffer and size, the ioctl and errno, the limit read at open and the
     * fix; the IOVA taken for it is given back, and an unmap makes room again.
     */
    @Test
    void aMappingOverTheDmaLimitNamesTheCallTheBufferAndTheFix() {
        KernelLikeContainer c = new KernelLikeContainer(List.of(new IovaAllocator.Range(0, (1L << 39) - 1)), 3);
        IommuDomain d = new IommuDomain(pool.phys, c, dev.impl, true);
        dev.impl.translation(d);
        assertEquals(0, pool.dma_set_mask_and_coherent(dev, DMA_BIT_MASK(32)));
        long[] bufs = new long[4];
        long[] iovas = new long[4];
        for (int i = 0; i < 4; i++) {
            bufs[i] = pool.alloc_pages(GFP_KERNEL, 0);
        }
        List<String> logged = warnings(() -> {
            for (int i = 0; i < 4; i++) {
                iovas[i] = pool.dma_map_single(dev, pool.page_address(bufs[i]), 2048, DMA_TO_DEVICE);
            }
        });
        for (int i = 0; i < 3; i++) {
            assertTrue(iovas[i] != DMA_MAPPING_ERROR, "mapping " + i + " is within the limit");
        }
        assertEquals(DMA_MAPPING_ERROR, iovas[3], "the 4th is over the limit");
        assertEquals(1, c.enospc, "the kernel said ENOSPC once");
        assertEquals(3, d.mappedRuns(), "3 live mappings");
        long reused = d.iovas().alloc(4096, DMA_BIT_MASK(32));
        assertEquals(c.refusedIova, reused, "the refused mapping's IOVA went back to the allocator (its magazine)");
        d.iovas().free(reused, 4096);
        assertEquals(1, logged.size(), "one warning: " + logged);
        String w = logged.get(0);
        assertTrue(w.startsWith(String.format(Locale.ROOT, "dma_map_single(edu-vfio, %s, 2048): no IOVA: ",
                hex(pool.page_address(bufs[3])))), w);
        assertTrue(w.contains("VFIO_IOMMU_MAP_DMA") && w.contains("ENOSPC"), w);
        assertTrue(w.contains(String.format(Locale.ROOT, "mapping 4096 bytes at %s to IOVA 0x",
                hex(pool.page_address(bufs[3])))), w);
        assertTrue(w.contains("the container's DMA mapping limit is reached (3 mappings were available at vfio_open,"
                + " VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL)"), w);
        assertTrue(w.contains("modprobe vfio_iommu_type1 dma_entry_limit=N"), w);

        pool.dma_unmap_single(dev, iovas[0], 2048, DMA_TO_DEVICE);
        iovas[0] = pool.dma_map_single(dev, pool.page_address(bufs[3]), 2048, DMA_TO_DEVICE);
        assertTrue(iovas[0] != DMA_MAPPING_ERROR, "an unmap gave an entry back");
        for (int i = 0; i < 3; i++) {
            pool.dma_unmap_single(dev, iovas[i], 2048, DMA_TO_DEVICE);
        }
        for (long b : bufs) {
            pool.__free_pages(b, 0);
        }
        assertEquals(0, c.mapped.size());
        d.close();
    }
}
