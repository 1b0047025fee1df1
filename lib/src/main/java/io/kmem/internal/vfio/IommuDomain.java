package io.kmem.internal.vfio;

import io.kmem.internal.dma.DeviceImpl;
import io.kmem.internal.dma.DmaDirect;
import io.kmem.internal.dma.DmaTranslation;
import io.kmem.internal.phys.FramePool;
import io.kmem.internal.phys.PhysLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * A VFIO device's IOMMU domain over one pool: every frame of the pool mapped once, run by run,
 * at IOVAs from kmem's {@link IovaAllocator} (as DPDK maps its memsegs), so that a
 * {@code dma_map_*} is a lookup and never a system call.
 *
 * <h2>Runs</h2>
 * A run is a maximal stretch of the pool's frames with consecutive PFNs, so consecutive in the
 * direct map too ({@code directAddress(pfn)}). Each run is mapped with one
 * {@code VFIO_IOMMU_MAP_DMA} of its direct-map range at an IOVA the allocator gives below the
 * device's DMA masks (the smaller of the two, read when the run is first mapped) and inside the
 * IOMMU's usable ranges, outside the MSI window. Buddy blocks never span two runs, so every
 * allocation (a kmalloc object, a page block, a coherent buffer) has contiguous IOVAs, whatever
 * its physical address: a buffer above a 28-bit device's reach physically is below it as IOVA.
 *
 * <pre>
 *  direct map   [run A: pfn 0x1f000..0x1f1ff]      [run B: pfn 0x3a200..0x3a3ff]
 *  IOVA         0x0fc00000..0x0fdfffff              0x0fe00000... (top-down below the mask)
 *  runs table   cpu[] sorted | len[] | iova[]       toDma: binary search, cpu - cpu[i] + iova[i]
 * </pre>
 *
 * <h2>Steps</h2>
 * <ol>
 *   <li>{@link #toDma}: binary search of the published table (a volatile array triple, no
 *       lock, no allocation); a hit returns the IOVA.</li>
 *   <li>A miss (the first use, or frames the pool grew by since) maps the frames no run covers
 *       yet, under the domain's lock, publishes a new table and looks once more.</li>
 *   <li>Still a miss: {@link DmaDirect#DMA_MAPPING_ERROR}; {@link #why} says which (not pool
 *       memory, the buffer spans two runs, the IOVA space below the mask is exhausted, the
 *       container's mapping limit).</li>
 * </ol>
 * Frames released by the pool stay mapped (and pinned by VFIO) until {@link #close}, which
 * unmaps every run and frees its IOVAs; the device then faults on every address.
 *
 * <p>Lock order: the domain's monitor, then the IOVA allocator's.
 */
public final class IommuDomain implements DmaTranslation, AutoCloseable {
    private record Runs(long[] cpu, long[] len, long[] iova) {
        static final Runs EMPTY = new Runs(new long[0], new long[0], new long[0]);
    }

    private final FramePool phys;
    private final VfioContainer container;
    private final DeviceImpl dev;
    private final IovaAllocator iovas;
    private volatile Runs runs = Runs.EMPTY;
    private volatile String lastFailure;
    private boolean closed;

    public IommuDomain(FramePool phys, VfioContainer container, DeviceImpl dev) {
        this.phys = phys;
        this.container = container;
        this.dev = dev;
        this.iovas = IovaAllocator.withMsiWindow(container.bdf(), container.info().ranges());
    }

    @Override
    public long toDma(long cpuAddr, long size) {
        long dma = lookup(runs, cpuAddr, size);
        if (dma != DmaDirect.DMA_MAPPING_ERROR) {
            return dma;
        }
        return lookup(sync(), cpuAddr, size);
    }

    private static long lookup(Runs r, long cpu, long size) {
        long[] starts = r.cpu;
        int lo = 0;
        int hi = starts.length - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (starts[mid] <= cpu) {
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        int i = hi;
        if (i < 0 || cpu + size > starts[i] + r.len[i]) {
            return DmaDirect.DMA_MAPPING_ERROR;
        }
        return r.iova[i] + (cpu - starts[i]);
    }

    @Override
    public long toCpu(long dma) {
        Runs r = runs;
        for (int i = 0; i < r.cpu.length; i++) {
            if (dma >= r.iova[i] && dma < r.iova[i] + r.len[i]) {
                return r.cpu[i] + (dma - r.iova[i]);
            }
        }
        return 0;
    }

    @Override
    public String why(long cpuAddr, long size) {
        Runs r = runs;
        long first = lookup(r, cpuAddr, 1);
        if (first == DmaDirect.DMA_MAPPING_ERROR) {
            String f = lastFailure;
            return f != null ? f : String.format(Locale.ROOT, "0x%x is not memory of pool '%s' (only pool frames are"
                    + " mapped into %s's IOMMU domain)", cpuAddr, phys.name(), container.bdf());
        }
        return String.format(Locale.ROOT, "[0x%x, +%d) spans two separately mapped runs of frames (frames the pool"
                + " grew by next to older ones); allocate DMA buffers with the pool's allocators", cpuAddr, size);
    }

    /** Maps the pool's frames no run covers yet; returns the table published. */
    private synchronized Runs sync() {
        Runs old = runs;
        if (closed) {
            return old;
        }
        long[] pfns = phys.presentPfns();
        Arrays.sort(pfns);
        long limit = Long.compareUnsigned(dev.dmaMask(), dev.coherentMask()) < 0 ? dev.dmaMask() : dev.coherentMask();
        List<long[]> added = new ArrayList<>();
        int i = 0;
        while (i < pfns.length) {
            long cpu = phys.directAddress(pfns[i]);
            if (lookup(old, cpu, 1) != DmaDirect.DMA_MAPPING_ERROR) {
                i++;
                continue;
            }
            int j = i + 1;
            while (j < pfns.length && pfns[j] == pfns[j - 1] + 1
                    && lookup(old, phys.directAddress(pfns[j]), 1) == DmaDirect.DMA_MAPPING_ERROR) {
                j++;
            }
            long len = (long) (j - i) << PhysLayout.PAGE_SHIFT;
            long iova = iovas.alloc(len, limit);
            if (iova == IovaAllocator.IOVA_NONE) {
                lastFailure = String.format(Locale.ROOT, "no IOVA range of %d KiB below the mask 0x%x for a run of"
                        + " pool frames: %s; use a smaller pool or a device with a wider mask", len >> 10, limit,
                        iovas.describe());
                break;
            }
            try {
                container.map(cpu, iova, len);
            } catch (RuntimeException e) {
                iovas.free(iova, len);
                lastFailure = e.getMessage();
                break;
            }
            added.add(new long[] {cpu, len, iova});
            i = j;
        }
        if (added.isEmpty()) {
            return old;
        }
        int n = old.cpu.length + added.size();
        long[][] all = new long[n][];
        for (int k = 0; k < old.cpu.length; k++) {
            all[k] = new long[] {old.cpu[k], old.len[k], old.iova[k]};
        }
        for (int k = 0; k < added.size(); k++) {
            all[old.cpu.length + k] = added.get(k);
        }
        Arrays.sort(all, (a, b) -> Long.compare(a[0], b[0]));
        Runs r = new Runs(new long[n], new long[n], new long[n]);
        for (int k = 0; k < n; k++) {
            r.cpu[k] = all[k][0];
            r.len[k] = all[k][1];
            r.iova[k] = all[k][2];
        }
        runs = r;
        return r;
    }

    /** Runs mapped now. */
    public int mappedRuns() {
        return runs.cpu.length;
    }

    /** Bytes of the pool mapped into the domain now. */
    public long mappedBytes() {
        long b = 0;
        for (long l : runs.len) {
            b += l;
        }
        return b;
    }

    public IovaAllocator iovas() {
        return iovas;
    }

    /** Unmaps every run and frees its IOVAs: the device faults on all of them afterwards. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        Runs r = runs;
        runs = Runs.EMPTY;
        closed = true;
        lastFailure = "the device's IOMMU domain is torn down (vfio_close)";
        for (int k = 0; k < r.cpu.length; k++) {
            container.unmap(r.iova[k], r.len[k]);
            iovas.free(r.iova[k], r.len[k]);
        }
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "IOMMU domain of %s: %d runs, %d KiB mapped; %s", container.bdf(),
                mappedRuns(), mappedBytes() >> 10, container.info());
    }
}
