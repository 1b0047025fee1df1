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
 * <h2>Per-call mapping (the option)</h2>
 * Built with {@code perCall}, the domain maps nothing up front: each {@link #map}
 * ({@code dma_map_*}, {@code dma_alloc_coherent}) maps the buffer's pages at a fresh IOVA with
 * one {@code VFIO_IOMMU_MAP_DMA}, and {@link #unmap} ({@code dma_unmap_*},
 * {@code dma_free_coherent}) unmaps them and frees the IOVA, as the kernel's IOMMU DMA ops do:
 * the device reaches only what is mapped for it now, at the price of two ioctls a pair. Live
 * mappings are kept in a map by IOVA; {@link #toDma} finds a live one (the dma_pool's pages).
 *
 * <p>Lock order: the domain's monitor, then the IOVA allocator's.
 */
public final class IommuDomain implements DmaTranslation, AutoCloseable {
    private record Runs(long[] cpu, long[] len, long[] iova) {
        static final Runs EMPTY = new Runs(new long[0], new long[0], new long[0]);
    }

    private final FramePool phys;
    private final IommuContainer container;
    private final DeviceImpl dev;
    private final IovaAllocator iovas;
    private volatile Runs runs = Runs.EMPTY;
    private volatile String lastFailure;
    private boolean closed;
    /** Per-call mode: live mappings, IOVA -> {page-aligned cpu, length}; null in whole-pool mode. */
    private final java.util.TreeMap<Long, long[]> live;

    public IommuDomain(FramePool phys, IommuContainer container, DeviceImpl dev) {
        this(phys, container, dev, false);
    }

    /** A domain that maps the whole pool ({@code perCall} false) or each buffer per call. */
    public IommuDomain(FramePool phys, IommuContainer container, DeviceImpl dev, boolean perCall) {
        this.phys = phys;
        this.container = container;
        this.dev = dev;
        this.iovas = IovaAllocator.withMsiWindow(container.bdf(), container.info().ranges());
        this.live = perCall ? new java.util.TreeMap<>() : null;
    }

    /** True when each dma_map_* maps (and each dma_unmap_* unmaps) its buffer. */
    public boolean perCall() {
        return live != null;
    }

    @Override
    public long map(long cpuAddr, long size) {
        if (live == null) {
            return toDma(cpuAddr, size);
        }
        long start = cpuAddr & PhysLayout.PAGE_MASK;
        long len = (cpuAddr + size - start + PhysLayout.PAGE_SIZE - 1) & PhysLayout.PAGE_MASK;
        long limit = Long.compareUnsigned(dev.dmaMask(), dev.coherentMask()) < 0 ? dev.dmaMask() : dev.coherentMask();
        synchronized (this) {
            if (closed) {
                lastFailure = "the device's IOMMU domain is torn down (vfio_close)";
                return DmaDirect.DMA_MAPPING_ERROR;
            }
            long iova = iovas.alloc(len, limit);
            if (iova == IovaAllocator.IOVA_NONE) {
                lastFailure = String.format(Locale.ROOT, "no IOVA range of %d KiB below the mask 0x%x: %s; unmap"
                        + " buffers no longer in use, or use a device with a wider mask", len >> 10, limit,
                        iovas.describe());
                return DmaDirect.DMA_MAPPING_ERROR;
            }
            try {
                container.map(start, iova, len);
            } catch (RuntimeException e) {
                iovas.free(iova, len);
                lastFailure = e.getMessage();
                return DmaDirect.DMA_MAPPING_ERROR;
            }
            live.put(iova, new long[] {start, len});
            return iova + (cpuAddr - start);
        }
    }

    @Override
    public void unmap(long dma, long size) {
        if (live == null) {
            return;
        }
        synchronized (this) {
            java.util.Map.Entry<Long, long[]> e = live.floorEntry(dma);
            if (e == null || dma + size > e.getKey() + e.getValue()[1]) {
                return;
            }
            live.remove(e.getKey());
            container.unmap(e.getKey(), e.getValue()[1]);
            iovas.free(e.getKey(), e.getValue()[1]);
        }
    }

    @Override
    public long toDma(long cpuAddr, long size) {
        if (live != null) {
            synchronized (this) {
                for (java.util.Map.Entry<Long, long[]> e : live.entrySet()) {
                    long[] m = e.getValue();
                    if (cpuAddr >= m[0] && cpuAddr + size <= m[0] + m[1]) {
                        return e.getKey() + (cpuAddr - m[0]);
                    }
                }
            }
            return DmaDirect.DMA_MAPPING_ERROR;
        }
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
        if (live != null) {
            synchronized (this) {
                java.util.Map.Entry<Long, long[]> e = live.floorEntry(dma);
                return e != null && dma < e.getKey() + e.getValue()[1] ? e.getValue()[0] + (dma - e.getKey()) : 0;
            }
        }
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
        if (live != null) {
            String f = lastFailure;
            return f != null ? f : String.format(Locale.ROOT, "0x%x is not mapped into %s's IOMMU domain (per-call"
                    + " mapping: only what dma_map_* or dma_alloc_coherent mapped and has not unmapped)", cpuAddr,
                    container.bdf());
        }
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
    public synchronized int mappedRuns() {
        return live != null ? live.size() : runs.cpu.length;
    }

    /** Bytes of the pool mapped into the domain now. */
    public long mappedBytes() {
        long b = 0;
        if (live != null) {
            synchronized (this) {
                for (long[] m : live.values()) {
                    b += m[1];
                }
            }
            return b;
        }
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
        if (live != null) {
            for (java.util.Map.Entry<Long, long[]> e : live.entrySet()) {
                container.unmap(e.getKey(), e.getValue()[1]);
                iovas.free(e.getKey(), e.getValue()[1]);
            }
            live.clear();
        }
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "IOMMU domain of %s (%s): %d %s, %d KiB mapped; %s", container.bdf(),
                perCall() ? "per-call mapping" : "the pool mapped once", mappedRuns(), perCall() ? "mappings" : "runs",
                mappedBytes() >> 10, container.info());
    }
}
