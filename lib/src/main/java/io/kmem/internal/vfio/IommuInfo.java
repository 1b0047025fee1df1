package io.kmem.internal.vfio;

import io.kmem.bindings.Libc;
import io.kmem.bindings.vfio_info_cap_header;
import io.kmem.bindings.vfio_iommu_type1_info;
import io.kmem.bindings.vfio_iommu_type1_info_cap_iova_range;
import io.kmem.bindings.vfio_iommu_type1_info_dma_avail;
import io.kmem.bindings.vfio_iova_range;
import io.kmem.error.KmemException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * What {@code VFIO_IOMMU_GET_INFO} says about a type1 IOMMU: the page sizes it maps, and from
 * its capability chain the usable IOVA ranges and how many more DMA mappings it takes.
 *
 * <h2>The capability chain</h2>
 * <pre>
 *  struct vfio_iommu_type1_info  argsz | flags (INFO_CAPS) | iova_pgsizes | cap_offset ---+
 *                                                                                          v
 *  at cap_offset:   vfio_info_cap_header { u16 id, u16 version, u32 next } + payload ... next --> ... 0
 *    id 1 IOVA_RANGE  u32 nr_iovas, u32 reserved, { u64 start, u64 end } * nr_iovas
 *    id 3 DMA_AVAIL   u32 avail
 * </pre>
 * Offsets count from the start of the info buffer. The kernel appends capabilities where the
 * previous one ended, so a header need not be 8-byte aligned (the DMA_AVAIL capability is 12
 * bytes): every field is read with unaligned accesses at the offsets the bindings give. A chain
 * that points outside the buffer, backwards into itself or loops is refused with the offset.
 *
 * @param pageSizes  {@code iova_pgsizes}: a bit per page size the IOMMU maps (bit 12: 4 KiB)
 * @param ranges     usable IOVA ranges, inclusive; all of the 64-bit space when the kernel
 *                   reports none
 * @param dmaAvail   mappings the container may still make ({@code dma_entry_limit} less those
 *                   made), or -1 when the kernel does not say
 */
public record IommuInfo(long pageSizes, List<IovaAllocator.Range> ranges, int dmaAvail) {
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;

    /**
     * Parses an info buffer as {@code VFIO_IOMMU_GET_INFO} filled it ({@code buf} is the whole
     * buffer of {@code argsz} bytes).
     *
     * @throws KmemException for a chain that leaves the buffer or loops
     */
    public static IommuInfo parse(MemorySegment buf) {
        long size = buf.byteSize();
        if (size < vfio_iommu_type1_info.sizeof()) {
            throw new KmemException("VFIO_IOMMU_GET_INFO: the info buffer holds " + size + " bytes, fewer than struct"
                    + " vfio_iommu_type1_info's " + vfio_iommu_type1_info.sizeof());
        }
        int flags = buf.get(U32, vfio_iommu_type1_info.flags$offset());
        long pgsizes = (flags & Libc.VFIO_IOMMU_INFO_PGSIZES()) != 0
                ? buf.get(U64, vfio_iommu_type1_info.iova_pgsizes$offset()) : 0;
        List<IovaAllocator.Range> ranges = new ArrayList<>();
        int avail = -1;
        long off = (flags & Libc.VFIO_IOMMU_INFO_CAPS()) != 0
                ? Integer.toUnsignedLong(buf.get(U32, vfio_iommu_type1_info.cap_offset$offset())) : 0;
        Set<Long> seen = new HashSet<>();
        boolean sawRanges = false;
        while (off != 0) {
            if (off < vfio_iommu_type1_info.sizeof() || off + vfio_info_cap_header.sizeof() > size || !seen.add(off)) {
                throw new KmemException(String.format(Locale.ROOT, "VFIO_IOMMU_GET_INFO: capability at offset %d of"
                        + " a %d-byte info buffer %s", off, size, seen.contains(off) && off >= vfio_iommu_type1_info
                        .sizeof() && off + vfio_info_cap_header.sizeof() <= size ? "is reached twice (the chain loops)"
                        : "lies outside it"));
            }
            int id = Short.toUnsignedInt(buf.get(U16, off + vfio_info_cap_header.id$offset()));
            long next = Integer.toUnsignedLong(buf.get(U32, off + vfio_info_cap_header.next$offset()));
            if (id == Libc.VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE()) {
                long n = Integer.toUnsignedLong(buf.get(U32, off + vfio_iommu_type1_info_cap_iova_range.nr_iovas$offset()));
                long first = off + vfio_iommu_type1_info_cap_iova_range.iova_ranges$offset();
                if (first + n * vfio_iova_range.sizeof() > size) {
                    throw new KmemException(String.format(Locale.ROOT, "VFIO_IOMMU_GET_INFO: the IOVA range capability"
                            + " at offset %d names %d ranges, more than the %d-byte buffer holds", off, n, size));
                }
                for (long i = 0; i < n; i++) {
                    long r = first + i * vfio_iova_range.sizeof();
                    ranges.add(new IovaAllocator.Range(buf.get(U64, r + vfio_iova_range.start$offset()),
                            buf.get(U64, r + vfio_iova_range.end$offset())));
                }
                sawRanges = true;
            } else if (id == Libc.VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL()) {
                if (off + vfio_iommu_type1_info_dma_avail.sizeof() > size) {
                    throw new KmemException("VFIO_IOMMU_GET_INFO: the DMA_AVAIL capability at offset " + off
                            + " lies outside the " + size + "-byte buffer");
                }
                avail = buf.get(U32, off + vfio_iommu_type1_info_dma_avail.avail$offset());
            }
            off = next;
        }
        if (!sawRanges) {
            ranges.add(new IovaAllocator.Range(0, -1L));
        }
        return new IommuInfo(pgsizes, List.copyOf(ranges), avail);
    }

    /** The smallest page size the IOMMU maps, in bytes (4 KiB when it does not say). */
    public long minPageSize() {
        return pageSizes == 0 ? IovaAllocator.GRANULE : Long.lowestOneBit(pageSizes);
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "IOMMU type1: page sizes 0x%x, IOVA ranges %s, %s", pageSizes, ranges,
                dmaAvail < 0 ? "DMA mapping limit not reported" : dmaAvail + " DMA mappings available");
    }
}
