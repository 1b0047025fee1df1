package io.kmem;

import static io.kmem.DmaDirection.DMA_BIDIRECTIONAL;
import static io.kmem.DmaDirection.DMA_FROM_DEVICE;
import static io.kmem.DmaDirection.DMA_TO_DEVICE;
import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.kmem.error.BadAddressException;
import io.kmem.error.DoubleFreeException;
import io.kmem.stats.LiveAllocation;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Scatter-gather tables over real pool frames: entries merge where frames are consecutive,
 * dma_map_sg maps every entry through dma_map_page's path and merges contiguous DMA
 * addresses within max_seg_size, a vmalloc area's bytes are all reached through the
 * segments, and every misuse DMA-API debugging names is named.
 */
class ScatterlistTest {
    private static final int PAGE = 4096;

    private MemoryPool pool;
    private Device dev;

    @BeforeEach
    void setUp() {
        pool = MemoryPool.builder().name("sg").smallPages(16L << 20).build();
        dev = new Device("sg0");
        assertEquals(0, pool.dma_set_mask(dev, DmaApi.DMA_BIT_MASK(64)));
    }

    @AfterEach
    void tearDown() {
        pool.close();
    }

    private static <T extends Throwable> T refused(Class<T> type, Runnable call, String start, String... pieces) {
        T e = assertThrows(type, call::run);
        assertTrue(e.getMessage().startsWith(start), e.getMessage());
        for (String p : pieces) {
            assertTrue(e.getMessage().contains(p), "lacks '" + p + "': " + e.getMessage());
        }
        return e;
    }

    @Test
    void consecutiveFramesMergeIntoOneEntryAndOthersStandAlone() {
        long block = pool.alloc_pages(GFP_KERNEL, 2);
        long other = pool.alloc_page(GFP_KERNEL);
        long[] pages = {block, block + 1, other, block + 2};
        SgTable sgt = pool.sg_alloc_table_from_pages(pages, 4, 100, 4 * PAGE - 100 - 50, GFP_KERNEL);
        assertEquals(3, sgt.orig_nents(), "block, block+1 | other | block+2");
        List<long[]> seen = new ArrayList<>();
        for (Scatterlist sg : sgt.for_each_sgtable_sg()) {
            seen.add(new long[] {pool.sg_page(sg), sg.offset(), sg.length()});
        }
        assertEquals(List.of(List.of(block, 100L, 2L * PAGE - 100), List.of(other, 0L, (long) PAGE),
                List.of(block + 2, 0L, (long) PAGE - 50)), seen.stream().map(a -> List.of(a[0], a[1], a[2])).toList());
        assertEquals(pool.page_address(block) + 100, pool.sg_virt(sgt.sgl()));
        assertEquals(pool.page_to_phys(other), pool.sg_phys(sgt.sg(1)));
        pool.sg_free_table(sgt);
        pool.__free_pages(block, 2);
        pool.__free_page(other);
    }

    @Test
    void dmaMapSgMergesContiguousDmaAddressesWithinMaxSegSize() {
        long block = pool.alloc_pages(GFP_KERNEL, 2);
        SgTable sgt = pool.sg_alloc_table(3, GFP_KERNEL);
        pool.sg_set_page(sgt.sg(0), block, PAGE, 0);
        pool.sg_set_page(sgt.sg(1), block + 1, PAGE, 0);
        pool.sg_set_page(sgt.sg(2), block + 2, 100, 0);
        long phys = pool.page_to_phys(block);
        assertEquals(65536, pool.dma_get_max_seg_size(dev), "64 KiB until set, as for a PCI device");

        assertEquals(1, pool.dma_map_sg(dev, sgt, 3, DMA_TO_DEVICE), "three contiguous entries, one segment");
        assertEquals(phys, pool.sg_dma_address(sgt.sgl()));
        assertEquals(2 * PAGE + 100, pool.sg_dma_len(sgt.sgl()));
        assertEquals(0, pool.sg_dma_len(sgt.sg(1)), "entries past the count carry no segment");
        assertEquals(3, dev.liveMappings(), "each entry mapped through dma_map_page's path, recorded on the device");
        refused(BadAddressException.class, () -> pool.dma_unmap_page(dev, phys, PAGE, DMA_TO_DEVICE),
                "dma_unmap_page(sg0)", "wrong function [mapped as sg] [unmapped as page]");
        pool.dma_unmap_sg(dev, sgt, 3, DMA_TO_DEVICE);
        assertEquals(0, dev.liveMappings());

        assertEquals(0, pool.dma_set_max_seg_size(dev, PAGE));
        assertEquals(3, pool.dma_map_sg(dev, sgt, 3, DMA_TO_DEVICE), "no segment beyond max_seg_size");
        pool.dma_unmap_sg(dev, sgt, 3, DMA_TO_DEVICE);
        pool.dma_set_max_seg_size(dev, 2 * PAGE);
        assertEquals(2, pool.dma_map_sg(dev, sgt, 3, DMA_TO_DEVICE));
        assertEquals(2 * PAGE, pool.sg_dma_len(sgt.sg(0)));
        assertEquals(phys + 2 * PAGE, pool.sg_dma_address(sgt.sg(1)));
        assertEquals(100, pool.sg_dma_len(sgt.sg(1)));
        List<Long> walked = new ArrayList<>();
        for (Scatterlist sg : sgt.for_each_sg(2)) {
            walked.add(pool.sg_dma_address(sg));
        }
        assertEquals(List.of(phys, phys + 2 * PAGE), walked);
        pool.dma_unmap_sg(dev, sgt, 3, DMA_TO_DEVICE);

        assertEquals(0, pool.dma_map_sgtable(dev, sgt, DMA_BIDIRECTIONAL));
        assertEquals(2, sgt.nents(), "dma_map_sgtable stores the segment count");
        int n = 0;
        for (Scatterlist sg : sgt.for_each_sgtable_dma_sg()) {
            n += pool.sg_dma_len(sg);
        }
        assertEquals(2 * PAGE + 100, n);
        pool.dma_sync_sg_for_device(dev, sgt, 3, DMA_TO_DEVICE);
        pool.dma_unmap_sgtable(dev, sgt, DMA_BIDIRECTIONAL);
        assertEquals(3, sgt.nents());
        pool.sg_free_table(sgt);
        pool.__free_pages(block, 2);
    }

    @Test
    void everyByteOfAVmallocAreaIsReachedThroughItsSegments() {
        int size = 9 * PAGE;
        long v = pool.vmalloc(size);
        MemorySegment area = pool.segment(v, size);
        for (int i = 0; i < size; i++) {
            area.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 31 + 7));
        }
        long from = v + 300;
        int len = size - 300 - 1000;
        SgTable sgt = pool.sg_alloc_table_from_vmalloc(from, len, GFP_KERNEL);
        assertEquals(len, total(sgt), "the CPU entries cover the range");
        int count = pool.dma_map_sg(dev, sgt, sgt.orig_nents(), DMA_FROM_DEVICE);
        assertTrue(count >= 1 && count <= sgt.orig_nents(), "segments: " + count);
        long at = 300;
        for (Scatterlist sg : sgt.for_each_sg(count)) {
            long dma = pool.sg_dma_address(sg);
            int n = pool.sg_dma_len(sg);
            // the device's view: the bytes at the DMA (physical) address, read through the direct map
            MemorySegment seen = pool.segment(pool.phys_to_virt(dma), n);
            assertEquals(-1, seen.mismatch(area.asSlice(at, n)), "segment at dma 0x" + Long.toHexString(dma));
            at += n;
        }
        assertEquals(300 + len, at, "the segments cover the range, in order");
        pool.dma_sync_sg_for_cpu(dev, sgt, sgt.orig_nents(), DMA_FROM_DEVICE);
        boolean listed = pool.kmemleak().stream().anyMatch(a -> a.kind() == LiveAllocation.Kind.DMA_STREAMING
                && a.toString().contains("dma_map_sg"));
        assertTrue(listed, "live sg mappings are listed as dma_map_sg: " + pool.kmemleak());
        pool.dma_unmap_sg(dev, sgt, sgt.orig_nents(), DMA_FROM_DEVICE);
        pool.sg_free_table(sgt);
        refused(BadAddressException.class, () -> pool.sg_alloc_table_from_vmalloc(v + size - 10, 20, GFP_KERNEL),
                "sg_alloc_table_from_vmalloc(0x", "not inside one vmalloc area");
        pool.vfree(v);
    }

    private int total(SgTable sgt) {
        int n = 0;
        for (Scatterlist sg : sgt.for_each_sgtable_sg()) {
            n += sg.length();
        }
        return n;
    }

    @Test
    void anEntryAboveTheMaskRefusesTheWholeListAndLeavesNothingMapped() {
        long low = pool.alloc_page(GFP_KERNEL);
        long high = pool.alloc_page(GFP_KERNEL);
        long mask = DmaApi.DMA_BIT_MASK(24);
        assumeTrue(pool.page_to_phys(high) > mask && pool.page_to_phys(low) > mask, "the pool's frames lie above 16 MiB");
        Device small = new Device("sg-small");
        assertEquals(0, pool.dma_set_mask(small, DmaApi.DMA_BIT_MASK(64)));
        SgTable sgt = pool.sg_alloc_table(2, GFP_KERNEL);
        pool.sg_set_page(sgt.sg(0), low, PAGE, 0);
        pool.sg_set_page(sgt.sg(1), high, PAGE, 0);
        assertEquals(0, pool.dma_set_mask(small, mask));
        assertEquals(0, pool.dma_map_sg(small, sgt, 2, DMA_TO_DEVICE), "0: the kernel's failure");
        assertEquals(0, small.liveMappings(), "nothing stays mapped");
        assertEquals(-5, pool.dma_map_sgtable(small, sgt, DMA_TO_DEVICE), "-EIO from dma_map_sgtable");
        refused(BadAddressException.class, () -> pool.dma_unmap_sg(small, sgt, 2, DMA_TO_DEVICE),
                "dma_unmap_sg(sg-small)", "never mapped");
        pool.sg_free_table(sgt);
    }

    @Test
    void misuseIsNamedAsDmaApiDebuggingNamesIt() {
        long block = pool.alloc_pages(GFP_KERNEL, 1);
        SgTable sgt = pool.sg_alloc_table_from_pages(new long[] {block, block + 1}, 2, 0, 2 * PAGE, GFP_KERNEL);
        Device other = new Device("sg1");
        refused(BadAddressException.class, () -> pool.dma_unmap_sg(dev, sgt, 1, DMA_TO_DEVICE), "dma_unmap_sg(sg0)",
                "has not allocated", "never mapped");
        refused(BadAddressException.class, () -> pool.dma_sync_sg_for_cpu(dev, sgt, 1, DMA_TO_DEVICE),
                "dma_sync_sg_for_cpu(sg0)", "tries to sync");
        assertEquals(1, pool.dma_map_sg(dev, sgt, 1, DMA_TO_DEVICE));
        refused(BadAddressException.class, () -> pool.dma_map_sg(dev, sgt, 1, DMA_TO_DEVICE), "dma_map_sg(sg0)",
                "mapped already");
        refused(BadAddressException.class, () -> pool.dma_unmap_sg(other, sgt, 1, DMA_TO_DEVICE), "dma_unmap_sg(sg1)",
                "with different device", "[mapped by sg0] [unmapped by sg1]");
        refused(BadAddressException.class, () -> pool.dma_unmap_sg(dev, sgt, 2, DMA_TO_DEVICE), "dma_unmap_sg(sg0)",
                "different entry count [map count=1] [unmap count=2]");
        refused(BadAddressException.class, () -> pool.dma_unmap_sg(dev, sgt, 1, DMA_FROM_DEVICE), "dma_unmap_sg(sg0)",
                "different direction [mapped with DMA_TO_DEVICE] [unmapped with DMA_FROM_DEVICE]");
        refused(BadAddressException.class, () -> pool.dma_sync_sg_for_device(other, sgt, 1, DMA_TO_DEVICE),
                "dma_sync_sg_for_device(sg1)", "with different device");
        refused(BadAddressException.class, () -> pool.dma_sync_sg_for_cpu(dev, sgt, 1, DMA_FROM_DEVICE),
                "dma_sync_sg_for_cpu(sg0)", "different direction");
        refused(BadAddressException.class, () -> pool.sg_free_table(sgt), "sg_free_table", "still mapped by sg0");
        pool.dma_sync_sg_for_device(dev, sgt, 1, DMA_TO_DEVICE);
        pool.dma_unmap_sg(dev, sgt, 1, DMA_TO_DEVICE);
        refused(DoubleFreeException.class, () -> pool.dma_unmap_sg(dev, sgt, 1, DMA_TO_DEVICE), "dma_unmap_sg(sg0)",
                "unmaps DMA sg list twice");
        assertEquals(0, dev.liveMappings());
        pool.sg_free_table(sgt);
        refused(DoubleFreeException.class, () -> pool.sg_free_table(sgt), "sg_free_table", "freed already");
        refused(BadAddressException.class, () -> pool.dma_map_sg(dev, sgt, 1, DMA_TO_DEVICE), "dma_map_sg",
                "freed by sg_free_table");
        refused(BadAddressException.class, () -> sgt.nents(), "nents", "freed by sg_free_table");

        SgTable empty = pool.sg_alloc_table(2, GFP_KERNEL);
        refused(IllegalArgumentException.class, () -> pool.dma_map_sg(dev, empty, 2, DMA_TO_DEVICE),
                "dma_map_sg(sg0)", "entry 0 of the sg_table is empty");
        refused(IllegalArgumentException.class, () -> pool.dma_map_sg(dev, empty, 3, DMA_TO_DEVICE),
                "dma_map_sg(sg0, nents 3)", "1 to the table's 2 entries");
        refused(BadAddressException.class, () -> pool.sg_virt(empty.sg(1)), "sg_virt(entry 1)", "not set");
        refused(BadAddressException.class, () -> pool.sg_set_page(empty.sg(0), pool.virt_to_phys(
                pool.page_address(block)), PAGE, 0), "sg_set_page", "not a page handle");
        try (MemoryPool second = MemoryPool.builder().name("sg2").smallPages(4L << 20).build()) {
            refused(IllegalArgumentException.class, () -> second.dma_map_sg(dev, empty, 1, DMA_TO_DEVICE),
                    "dma_map_sg", "belongs to pool 'sg'");
        }
        pool.__free_pages(block, 1);
    }
}
