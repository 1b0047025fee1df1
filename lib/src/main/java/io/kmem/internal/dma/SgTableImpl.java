package io.kmem.internal.dma;

import io.kmem.error.BadAddressException;
import io.kmem.error.DoubleFreeException;
import io.kmem.internal.phys.PhysLayout;
import java.util.Locale;

/**
 * A {@code struct sg_table}: {@code orig_nents} entries, each a run of physically contiguous
 * bytes (first frame, offset in it, length) as the CPU sees them, and after
 * {@code dma_map_sg} the DMA segments the device sees: {@code count} (address, length) pairs
 * in the first entries, fewer than the CPU entries where neighbours merged.
 *
 * <pre>
 *   entry i      pfn[i]  offset[i]  length[i]        CPU side (sg_set_page, sg_alloc_table_from_pages)
 *                entryDma[i]                         where entry i's own mapping put it (for unmap)
 *   segment j    dmaAddress[j]  dmaLength[j]         DMA side, j &lt; count (sg_dma_address, sg_dma_len)
 * </pre>
 *
 * <p>The map state ({@code mappedBy}, its entry count and direction) is what DMA-API debugging
 * keeps for an sg list: an unmap by another device, with another count or direction, a second
 * unmap, an unmap of a list never mapped, and {@code sg_free_table} of a mapped list are caught
 * and named ({@link DmaDirect#mapSg}, {@link DmaDirect#unmapSg}).
 *
 * <p>Thread safety: guarded by this object's monitor; the CPU-side fields are written by
 * {@code sg_set_page} and read by the map, which the caller orders as in C (one owner at a time).
 */
public final class SgTableImpl {
    private final int origNents;
    private final long[] pfn;
    private final int[] offset;
    private final int[] length;
    private final long[] entryDma;
    private final long[] dmaAddress;
    private final int[] dmaLength;
    private int nents;
    private DeviceImpl mappedBy;
    private int mappedNents;
    private int mappedDir;
    private int mappedCount;
    private DeviceImpl lastUnmappedBy;
    private boolean freed;

    public SgTableImpl(int nents) {
        this.origNents = nents;
        this.nents = nents;
        this.pfn = new long[nents];
        this.offset = new int[nents];
        this.length = new int[nents];
        this.entryDma = new long[nents];
        this.dmaAddress = new long[nents];
        this.dmaLength = new int[nents];
    }

    public int origNents() {
        return origNents;
    }

    public synchronized int nents() {
        return nents;
    }

    public synchronized void nents(int n) {
        this.nents = n;
    }

    public synchronized long pfn(int i) {
        return pfn[i];
    }

    public synchronized int offset(int i) {
        return offset[i];
    }

    public synchronized int length(int i) {
        return length[i];
    }

    public synchronized long dmaAddress(int i) {
        return dmaAddress[i];
    }

    public synchronized int dmaLength(int i) {
        return dmaLength[i];
    }

    /** {@code sg_set_page}: entry {@code i} is {@code len} bytes at {@code off} in the frames from {@code pfn}. */
    public synchronized void set(int i, long pfn, int off, int len) {
        this.pfn[i] = pfn;
        this.offset[i] = off;
        this.length[i] = len;
    }

    public synchronized boolean freed() {
        return freed;
    }

    /** The device that holds the table mapped, or null. */
    public synchronized DeviceImpl mappedBy() {
        return mappedBy;
    }

    /** {@code sg_free_table}: refused while mapped, and twice. */
    public synchronized void free(String function) {
        if (freed) {
            throw new DoubleFreeException(function + ": the sg_table was freed already");
        }
        if (mappedBy != null) {
            throw new BadAddressException(String.format(Locale.ROOT, "%s: the sg_table is still mapped by %s (%d entries,"
                    + " %s); dma_unmap_sg it first", function, mappedBy.name(), mappedNents,
                    DeviceImpl.direction(mappedDir)));
        }
        freed = true;
    }

    // ------------------------------------------------------------------ for DmaDirect, under the monitor

    void requireLive(String function) {
        if (freed) {
            throw new BadAddressException(function + ": the sg_table was freed by sg_free_table");
        }
    }

    long entryPhys(int i) {
        return pfn[i] << PhysLayout.PAGE_SHIFT;
    }

    long[] entryDma() {
        return entryDma;
    }

    void mapped(DeviceImpl dev, int n, int dir, int count) {
        mappedBy = dev;
        mappedNents = n;
        mappedDir = dir;
        mappedCount = count;
    }

    void segment(int j, long dma, int len) {
        dmaAddress[j] = dma;
        dmaLength[j] = len;
    }

    void unmapped(DeviceImpl dev) {
        for (int j = 0; j < mappedCount; j++) {
            dmaAddress[j] = 0;
            dmaLength[j] = 0;
        }
        mappedBy = null;
        lastUnmappedBy = dev;
    }

    int mappedNents() {
        return mappedNents;
    }

    int mappedDir() {
        return mappedDir;
    }

    DeviceImpl lastUnmappedBy() {
        return lastUnmappedBy;
    }
}
