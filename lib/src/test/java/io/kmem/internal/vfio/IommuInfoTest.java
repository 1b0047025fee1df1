package io.kmem.internal.vfio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.bindings.Libc;
import io.kmem.error.KmemException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The VFIO_IOMMU_GET_INFO capability chain, parsed from crafted buffers laid out as the
 * kernel lays them out: the info struct, then capabilities back to back, so that one after a
 * 12-byte DMA_AVAIL capability starts at an offset that is not 8-byte aligned.
 */
class IommuInfoTest {
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final int INFO = 24;

    private static MemorySegment info(Arena a, int size, int capOffset) {
        MemorySegment b = a.allocate(size, 8);
        b.set(U32, 0, size);
        b.set(U32, 4, Libc.VFIO_IOMMU_INFO_PGSIZES() | (capOffset != 0 ? Libc.VFIO_IOMMU_INFO_CAPS() : 0));
        b.set(U64, 8, 0x40201000L);
        b.set(U32, 16, capOffset);
        return b;
    }

    private static void header(MemorySegment b, long off, int id, int next) {
        b.set(U16, off, (short) id);
        b.set(U16, off + 2, (short) 1);
        b.set(U32, off + 4, next);
    }

    @Test
    void unalignedChainIsRead() {
        try (Arena a = Arena.ofConfined()) {
            // 24: DMA_AVAIL (12 bytes) -> 36: IOVA_RANGE with two ranges (16 + 32 bytes), unaligned.
            MemorySegment b = info(a, 36 + 48, INFO);
            header(b, 24, Libc.VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL(), 36);
            b.set(U32, 32, 65_000);
            header(b, 36, Libc.VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE(), 0);
            b.set(U32, 44, 2);
            b.set(U64, 52, 0);
            b.set(U64, 60, 0xfedf_ffffL);
            b.set(U64, 68, 0xfef0_0000L);
            b.set(U64, 76, (1L << 39) - 1);
            IommuInfo i = IommuInfo.parse(b);
            assertEquals(0x40201000L, i.pageSizes());
            assertEquals(4096, i.minPageSize());
            assertEquals(65_000, i.dmaAvail());
            assertEquals(List.of(new IovaAllocator.Range(0, 0xfedf_ffffL),
                    new IovaAllocator.Range(0xfef0_0000L, (1L << 39) - 1)), i.ranges());
            assertTrue(i.toString().contains("65000 DMA mappings available"), i.toString());
        }
    }

    @Test
    void unknownCapabilitiesAreSkippedAndNoRangesMeansAll() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment b = info(a, 24 + 32 + 12, INFO);
            header(b, 24, 2 /* MIGRATION */, 56);
            header(b, 56, Libc.VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL(), 0);
            b.set(U32, 64, 7);
            IommuInfo i = IommuInfo.parse(b);
            assertEquals(7, i.dmaAvail());
            assertEquals(List.of(new IovaAllocator.Range(0, -1L)), i.ranges());
        }
        try (Arena a = Arena.ofConfined()) {
            IommuInfo i = IommuInfo.parse(info(a, INFO, 0));
            assertEquals(-1, i.dmaAvail(), "no chain: the limit is not reported");
        }
    }

    @Test
    void loopsAndStrayOffsetsAreRefused() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment b = info(a, 24 + 12 + 12, INFO);
            header(b, 24, Libc.VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL(), 36);
            header(b, 36, Libc.VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL(), 24);
            KmemException e = assertThrows(KmemException.class, () -> IommuInfo.parse(b));
            assertTrue(e.getMessage().contains("loops"), e.getMessage());
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment b = info(a, 24 + 12, INFO);
            header(b, 24, Libc.VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL(), 400);
            KmemException e = assertThrows(KmemException.class, () -> IommuInfo.parse(b));
            assertTrue(e.getMessage().contains("offset 400") && e.getMessage().contains("outside"), e.getMessage());
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment b = info(a, 24 + 16 + 16, INFO);
            header(b, 24, Libc.VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE(), 0);
            b.set(U32, 32, 5);
            KmemException e = assertThrows(KmemException.class, () -> IommuInfo.parse(b));
            assertTrue(e.getMessage().contains("names 5 ranges"), e.getMessage());
        }
    }
}
