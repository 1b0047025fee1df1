package io.kmem.internal.dma;

import static io.kmem.gfp.Gfp.__GFP_DMA;
import static io.kmem.gfp.Gfp.__GFP_DMA32;
import static io.kmem.gfp.Gfp.__GFP_NOWARN;
import static io.kmem.gfp.Gfp.__GFP_ZERO;

import io.kmem.bindings.Libc;
import io.kmem.error.BadAddressException;
import io.kmem.error.PrivilegeException;
import io.kmem.gfp.Gfp;
import io.kmem.internal.lib.LazyLogger;
import io.kmem.internal.page.BuddyAllocator;
import io.kmem.internal.lib.Ratelimit;
import io.kmem.internal.phys.FramePool;
import io.kmem.internal.phys.PhysLayout;
import io.kmem.internal.trace.AtomicContext;
import java.lang.invoke.VarHandle;
import io.kmem.stats.LiveAllocation;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.WeakHashMap;
import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * The kernel's direct DMA mapping ({@code kernel/dma/direct.c}) over one pool: no IOMMU, a
 * DMA address is the physical address, and x86 DMA is cache-coherent, so mapping is a
 * check and syncing is a fence.
 *
 * <h2>Masks ({@code dma_set_mask}, {@code dma_supported})</h2>
 * {@code dma_direct_supported}: a mask of 32 bits or more is always accepted; a smaller one
 * must reach the smaller of the last byte of memory ({@code (max_pfn - 1) << PAGE_SHIFT}, the
 * host's) and the DMA zone's limit ({@code DMA_BIT_MASK(24)}). So masks under 24 bits are
 * refused with -EIO, as on any x86 machine with more than 16 MiB.
 *
 * <h2>{@code dma_alloc_coherent}, step by step ({@code __dma_direct_alloc_pages})</h2>
 * <ol>
 *   <li>Drop the caller's zone modifiers; choose the zone from the coherent mask
 *       ({@code dma_direct_optimal_gfp_mask}): at or below 16 MiB {@code GFP_DMA}, at or below
 *       4 GiB {@code GFP_DMA32}, otherwise none.</li>
 *   <li>Allocate {@code get_order(size)} pages, zeroed. If the block ends above the mask
 *       ({@code dma_coherent_ok} fails), free it and retry with {@code GFP_DMA32} (when no zone
 *       was chosen), then with {@code GFP_DMA}.</li>
 *   <li>kmem's addition: the pool knows the PFN of every free block, so when the zones
 *       cannot serve a mask between their limits (a 28-bit device: DMA32 frames above 256
 *       MiB, no DMA frames) it takes a free block below the mask from the free lists
 *       ({@link BuddyAllocator#allocPagesBelow}).</li>
 *   <li>Nothing fits: NULL, with a rate-limited warning unless {@code __GFP_NOWARN}.</li>
 * </ol>
 *
 * <h2>Streaming mappings ({@code dma_map_single}, {@code dma_map_page})</h2>
 * The buffer must be pool memory (every page of it a pool frame: kmalloc, the page
 * allocator, dma_alloc_coherent). {@code dma_capable}: when its last byte lies above the
 * device's {@code dma_mask} the map returns {@link #DMA_MAPPING_ERROR} with a rate-limited
 * warning ("DMA addr ... overflow"); the address is never handed out (the kernel would bounce
 * it through swiotlb; kmem has none). Every map is recorded on the device, so unmap and sync
 * are checked against it ({@link DeviceImpl}).
 *
 * <h2>Scatter-gather ({@code dma_map_sg})</h2>
 * Every entry of an {@link SgTableImpl} is mapped through the private {@code mapPage}, the
 * path of {@code dma_map_page}, and recorded on the device as an sg mapping; then entries whose
 * DMA addresses follow each other merge into one segment up to the device's
 * {@code max_seg_size} (iommu-dma's {@code __finalise_sg}; Linux's dma-direct does not merge at
 * map time). An entry refused by the mask unmaps the ones before it and the map returns 0.
 * Unmap goes through the one unmap path too, after the table-level checks of DMA-API debugging.
 *
 * <h2>Ownership fences</h2>
 * Handing a buffer to the device ({@code dma_map_*}, {@code dma_sync_*_for_device}) is a
 * release fence: the CPU's earlier writes to the buffer are not moved after it (the doorbell
 * {@code writel} that follows is a release as well). Taking it back ({@code dma_unmap_*},
 * {@code dma_sync_*_for_cpu}) is an acquire fence: later reads of the buffer are not moved
 * before it, so they see what the device wrote. x86 needs no cache maintenance.
 *
 * <h2>Devices behind an IOMMU</h2>
 * A device with a {@link DmaTranslation} (a VFIO device, see {@code io.kmem.internal.vfio})
 * gets I/O virtual addresses instead: {@code dma_map_*} returns {@link DmaTranslation#toDma}
 * (then checked against the mask as above), {@code dma_alloc_coherent} takes a block from any
 * zone and accepts it when its IOVA fits the coherent mask, and no physical address is needed.
 *
 * <p>Thread safety: every method may be called from any thread.
 */
public final class DmaDirect {
    /** {@code DMA_MAPPING_ERROR}: {@code ~(dma_addr_t) 0}. */
    public static final long DMA_MAPPING_ERROR = -1L;
    /** {@code zone_dma_limit} on x86: the DMA zone ends at 16 MiB. */
    public static final long ZONE_DMA_LIMIT = bitMask(24);

    private static final System.Logger LOG = LazyLogger.of("io.kmem.internal.dma");

    private final FramePool phys;
    private final BuddyAllocator buddy;
    private final long minMask;
    private final Ratelimit warnLimit = new Ratelimit(TimeUnit.SECONDS.toNanos(5), 10);
    private final LongAdder mapErrors = new LongAdder();
    private final LongAdder allocFailures = new LongAdder();
    private final LongAdder streamingMaps = new LongAdder();
    private final LongAdder streamingUnmaps = new LongAdder();
    private final List<String> reports = new ArrayList<>();
    /** The device of each live coherent allocation, by CPU address: a free by another device is refused. */
    private final Map<Long, DeviceImpl> coherentOwners = new ConcurrentHashMap<>();
    /**
     * For leak reports, as DMA-API debugging keeps them: live coherent buffers by CPU address
     * ({owner, device, size}), the devices that made streaming mappings through this pool, and
     * the dma_pools not destroyed. Guarded by {@link #live}'s monitor; touched by allocation,
     * free, map and pool creation, never by unmap, sync or dma_pool_alloc of a free block.
     */
    private final Map<Long, String[]> live = new HashMap<>();
    private final Set<DeviceImpl> mappers = Collections.newSetFromMap(new WeakHashMap<>());
    private final Set<DmaPoolImpl> pools = new LinkedHashSet<>();

    public DmaDirect(FramePool phys, BuddyAllocator buddy) {
        this.phys = phys;
        this.buddy = buddy;
        long maxPfn = phys.host().limitPfn();
        this.minMask = Math.min((maxPfn - 1) << PhysLayout.PAGE_SHIFT, ZONE_DMA_LIMIT);
    }

    /** {@code DMA_BIT_MASK(n)}: 2^n - 1, all ones for 64. */
    public static long bitMask(int n) {
        if (n < 0 || n > 64) {
            throw new IllegalArgumentException("DMA_BIT_MASK(" + n + "): expected 0 to 64 bits");
        }
        return n == 64 ? -1L : (1L << n) - 1;
    }

    // ------------------------------------------------------------------ masks

    /** {@code dma_supported}: may a device use {@code mask}? See the class comment. */
    public boolean supported(long mask) {
        return Long.compareUnsigned(mask, bitMask(32)) >= 0 || Long.compareUnsigned(mask, minMask) >= 0;
    }

    /** {@code dma_set_mask}: 0, or -EIO for a mask the platform cannot serve (the mask is unchanged). */
    public int setMask(DeviceImpl dev, long mask) {
        if (!supported(mask)) {
            return -Libc.EIO();
        }
        dev.dmaMask(mask);
        return 0;
    }

    /** {@code dma_set_coherent_mask}: 0, or -EIO. */
    public int setCoherentMask(DeviceImpl dev, long mask) {
        if (!supported(mask)) {
            return -Libc.EIO();
        }
        dev.coherentMask(mask);
        return 0;
    }

    // ------------------------------------------------------------------ coherent memory

    /**
     * {@code dma_alloc_coherent}: {@code size} bytes ({@code get_order(size)} pages), zeroed,
     * whose DMA addresses all lie within the device's coherent mask. Returns the CPU address,
     * or 0 (NULL) when nothing fits; the DMA address is its physical address.
     *
     * @throws PrivilegeException in a pool without physical addresses
     */
    public long allocCoherent(DeviceImpl dev, long size, int gfp) {
        Gfp.check("dma_alloc_coherent", gfp);
        AtomicContext.mightSleep("dma_alloc_coherent", gfp);
        if (size <= 0) {
            throw new IllegalArgumentException("dma_alloc_coherent(" + dev.name() + ", " + size
                    + "): expected a size above 0");
        }
        DmaTranslation t = dev.translation();
        if (t == null) {
            requirePhysical("dma_alloc_coherent");
        } else {
            phys.ensureOpen("dma_alloc_coherent");
        }
        int order = size > PhysLayout.PAGE_SIZE << BuddyAllocator.MAX_ORDER ? BuddyAllocator.MAX_ORDER + 1
                : BuddyAllocator.getOrder(size);
        long pageSize = (size + PhysLayout.PAGE_SIZE - 1) & PhysLayout.PAGE_MASK;
        long limit = dev.coherentMask();
        int caller = gfp & ~(__GFP_DMA | __GFP_DMA32);
        if (t != null) {
            return allocCoherentIommu(dev, t, size, gfp, order, pageSize, limit, caller);
        }
        int g = caller | zoneFor(limit) | __GFP_ZERO | __GFP_NOWARN;
        long pfn;
        while (true) {
            pfn = order > BuddyAllocator.MAX_ORDER ? -1 : buddy.allocPages(g, order);
            if (pfn >= 0 && !fits(pfn << PhysLayout.PAGE_SHIFT, pageSize, limit)) {
                buddy.freePages("dma_alloc_coherent", phys.directAddress(pfn), pfn, order);
                pfn = -1;
                if (limit != -1L && (g & (__GFP_DMA32 | __GFP_DMA)) == 0) {
                    g |= __GFP_DMA32;
                    continue;
                }
                if ((g & __GFP_DMA) == 0) {
                    g = g & ~__GFP_DMA32 | __GFP_DMA;
                    continue;
                }
            }
            break;
        }
        if (pfn < 0 && order <= BuddyAllocator.MAX_ORDER) {
            pfn = buddy.allocPagesBelow(caller | __GFP_ZERO, order, limit);
        }
        if (pfn < 0) {
            allocFailures.increment();
            if ((gfp & __GFP_NOWARN) == 0) {
                warn(String.format(Locale.ROOT, "dma_alloc_coherent(%s, %d): no block of order %d within the coherent"
                        + " mask 0x%x in pool '%s' (%s)", dev.name(), size, order, limit, phys.name(),
                        order > BuddyAllocator.MAX_ORDER ? "above MAX_ORDER" : "nothing free below the mask"));
            }
            return 0;
        }
        long cpu = phys.directAddress(pfn);
        coherentOwners.put(cpu, dev);
        synchronized (live) {
            live.put(cpu, new String[] {"dma_alloc_coherent", dev.name(), Long.toString(size)});
        }
        return cpu;
    }

    /** dma_alloc_coherent for a device behind an IOMMU: any zone, the IOVA within the coherent mask. */
    private long allocCoherentIommu(DeviceImpl dev, DmaTranslation t, long size, int gfp, int order, long pageSize,
                                    long limit, int caller) {
        long pfn = order > BuddyAllocator.MAX_ORDER ? -1 : buddy.allocPages(caller | __GFP_ZERO | __GFP_NOWARN, order);
        String why = order > BuddyAllocator.MAX_ORDER ? "above MAX_ORDER" : "the pool has no free block";
        if (pfn >= 0) {
            long cpu = phys.directAddress(pfn);
            long dma = t.map(cpu, pageSize);
            if (dma != DMA_MAPPING_ERROR && !fits(dma, pageSize, limit)) {
                t.unmap(dma, pageSize);
            }
            if (dma != DMA_MAPPING_ERROR && fits(dma, pageSize, limit)) {
                coherentOwners.put(cpu, dev);
                synchronized (live) {
                    live.put(cpu, new String[] {"dma_alloc_coherent", dev.name(), Long.toString(size)});
                }
                return cpu;
            }
            why = dma == DMA_MAPPING_ERROR ? t.why(cpu, pageSize) : String.format(Locale.ROOT, "its IOVA 0x%x lies"
                    + " above the coherent mask", dma);
            buddy.freePages("dma_alloc_coherent", cpu, pfn, order);
        }
        allocFailures.increment();
        if ((gfp & __GFP_NOWARN) == 0) {
            warn(String.format(Locale.ROOT, "dma_alloc_coherent(%s, %d): no block of order %d with an IOVA within the"
                    + " coherent mask 0x%x in pool '%s' (%s)", dev.name(), size, order, limit, phys.name(), why));
        }
        return 0;
    }

    /**
     * The DMA address of pool address {@code cpu} for {@code dev}: its physical address, or its
     * IOVA for a device behind an IOMMU ({@link DmaDirect#DMA_MAPPING_ERROR} when not mapped).
     */
    public long dmaAddress(DeviceImpl dev, long cpu) {
        DmaTranslation t = dev.translation();
        return t == null ? phys.virtToPhys(cpu) : t.toDma(cpu, 1);
    }

    /** A dma_pool's page: the coherent buffer at {@code cpu} is owned by {@code owner}. */
    void claim(long cpu, String owner) {
        synchronized (live) {
            String[] e = live.get(cpu);
            if (e != null) {
                e[0] = owner;
            }
        }
    }

    void register(DmaPoolImpl pool) {
        synchronized (live) {
            pools.add(pool);
        }
    }

    void unregister(DmaPoolImpl pool) {
        synchronized (live) {
            pools.remove(pool);
        }
    }

    /** The CPU addresses of every live coherent buffer, dma_pools' pages included: for leak reports. */
    public Set<Long> coherentBuffers() {
        synchronized (live) {
            return new HashSet<>(live.keySet());
        }
    }

    /**
     * Every DMA allocation live now (coherent buffers, dma_pool blocks, streaming mappings),
     * for MemoryPool.kmemleak. A coherent buffer that is a page of a live dma_pool is listed
     * as that pool's blocks instead.
     */
    public List<LiveAllocation> liveAllocations() {
        List<DmaPoolImpl> ps;
        List<DeviceImpl> devs;
        Map<Long, String[]> bufs;
        synchronized (live) {
            ps = new ArrayList<>(pools);
            devs = new ArrayList<>(mappers);
            bufs = new TreeMap<>(live);
        }
        List<LiveAllocation> out = new ArrayList<>();
        Set<Long> poolPages = new HashSet<>();
        for (DmaPoolImpl p : ps) {
            p.liveBlocks(out, poolPages);
        }
        bufs.forEach((cpu, e) -> {
            if (!poolPages.contains(cpu)) {
                out.add(new LiveAllocation(LiveAllocation.Kind.DMA_COHERENT, "dma_alloc_coherent", e[0].equals(
                        "dma_alloc_coherent") ? e[1] : e[0] + " of " + e[1] + " (destroyed while busy)", cpu,
                        Long.parseLong(e[2]), null));
            }
        });
        for (DeviceImpl d : devs) {
            for (long[] m : d.mappingsNow()) {
                long cpu;
                try {
                    DmaTranslation t = d.translation();
                    cpu = t == null ? phys.physToVirt(m[0]) : t.toCpu(m[0]);
                    if (cpu == 0) {
                        continue;
                    }
                } catch (RuntimeException notThisPool) {
                    continue;
                }
                out.add(new LiveAllocation(LiveAllocation.Kind.DMA_STREAMING, m[3] == DeviceImpl.MapKind.SINGLE
                        .ordinal() ? "dma_map_single" : m[3] == DeviceImpl.MapKind.SG.ordinal() ? "dma_map_sg"
                        : "dma_map_page", String.format(Locale.ROOT, "%s, dma 0x%x, %s",
                        d.name(), m[0], DeviceImpl.direction((int) m[2])), cpu, m[1], null));
            }
        }
        return out;
    }

    /**
     * {@code dma_free_coherent}: frees what {@link #allocCoherent} returned for {@code size}.
     *
     * @throws BadAddressException when {@code dma} is not the DMA address of {@code cpuAddr}, or
     *         {@code cpuAddr} not such an allocation (wrong size included)
     * @throws io.kmem.error.DoubleFreeException when it was freed already
     * @throws BadAddressException when another device allocated it (DMA-API debugging's "frees DMA
     *         memory with different device"); nothing is freed then
     */
    public void freeCoherent(DeviceImpl dev, long size, long cpuAddr, long dma) {
        if (size <= 0) {
            throw new IllegalArgumentException("dma_free_coherent(" + dev.name() + ", " + size
                    + "): expected the size given to dma_alloc_coherent");
        }
        long pfn = phys.directPfn(cpuAddr);
        if (pfn < 0 || (cpuAddr & ~PhysLayout.PAGE_MASK) != 0) {
            phys.ensureOpen("dma_free_coherent");
            throw new BadAddressException(String.format(Locale.ROOT, "dma_free_coherent(%s, %d, 0x%x, 0x%x): the CPU"
                    + " address is not one dma_alloc_coherent returned (outside the pool's direct map, or not"
                    + " page-aligned)", dev.name(), size, cpuAddr, dma));
        }
        long want = dev.translation() == null ? pfn << PhysLayout.PAGE_SHIFT : dmaAddress(dev, cpuAddr);
        if (want != dma) {
            throw new BadAddressException(String.format(Locale.ROOT, "dma_free_coherent(%s, %d, 0x%x, 0x%x): the DMA"
                    + " handle is not that of the CPU address (0x%x)", dev.name(), size, cpuAddr, dma, want));
        }
        DeviceImpl owner = coherentOwners.get(cpuAddr);
        if (owner != null && owner != dev) {
            throw new BadAddressException(String.format(Locale.ROOT, "dma_free_coherent(%s, %d, 0x%x, 0x%x): DMA-API:"
                    + " device driver frees DMA memory with different device [device address=0x%016x] [size=%d bytes]"
                    + " [mapped by %s] [unmapped by %s]", dev.name(), size, cpuAddr, dma, dma, size, owner.name(),
                    dev.name()));
        }
        DmaTranslation t = dev.translation();
        if (t != null) {
            t.unmap(dma, (size + PhysLayout.PAGE_SIZE - 1) & PhysLayout.PAGE_MASK);
        }
        buddy.freePages("dma_free_coherent", cpuAddr, pfn, BuddyAllocator.getOrder(size));
        coherentOwners.remove(cpuAddr, owner);
        synchronized (live) {
            live.remove(cpuAddr);
        }
    }

    // ------------------------------------------------------------------ streaming mappings

    /**
     * {@code dma_map_single}: the DMA address of {@code size} bytes of pool memory at
     * {@code cpuAddr}, or {@link #DMA_MAPPING_ERROR} (with a rate-limited warning) when they
     * reach above the device's {@code dma_mask}.
     *
     * @throws BadAddressException when the buffer is not pool memory
     * @throws PrivilegeException in a pool without physical addresses
     */
    public long mapSingle(DeviceImpl dev, long cpuAddr, long size, int dir) {
        checkDirection("dma_map_single", dev, dir);
        checkSize("dma_map_single", dev, size);
        DmaTranslation t = dev.translation();
        if (t == null) {
            requirePhysical("dma_map_single");
        } else {
            phys.ensureOpen("dma_map_single");
        }
        long a = cpuAddr;
        try {
            for (; a < cpuAddr + size; a = (a & PhysLayout.PAGE_MASK) + PhysLayout.PAGE_SIZE) {
                phys.virtToPfn("dma_map_single", a);
            }
        } catch (BadAddressException e) {
            if (a == cpuAddr) {
                throw e;
            }
            throw new BadAddressException(String.format(Locale.ROOT, "dma_map_single(%s, 0x%x, %d): the buffer is not"
                    + " all pool memory: %s", dev.name(), cpuAddr, size, e.getMessage()));
        }
        return map("dma_map_single", dev, t == null ? phys.virtToPhys(cpuAddr) : iova("dma_map_single", dev, t, cpuAddr,
                size), size, dir, DeviceImpl.MapKind.SINGLE);
    }

    /**
     * {@code dma_map_page}: as {@link #mapSingle}, for {@code size} bytes at {@code offset} in
     * the pages starting at physical address {@code pagePhys}; the caller checked the page.
     */
    public long mapPage(DeviceImpl dev, long pagePhys, long offset, long size, int dir) {
        return mapPage("dma_map_page", dev, pagePhys, offset, size, dir, DeviceImpl.MapKind.PAGE);
    }

    /**
     * The one path every page mapping takes ({@code dma_map_page}, and each entry of
     * {@code dma_map_sg}): checks, the frames, then {@link #map}.
     */
    private long mapPage(String function, DeviceImpl dev, long pagePhys, long offset, long size, int dir,
            DeviceImpl.MapKind kind) {
        checkDirection(function, dev, dir);
        checkSize(function, dev, size);
        DmaTranslation t = dev.translation();
        if (t == null) {
            requirePhysical(function);
        }
        if (offset < 0) {
            throw new IllegalArgumentException(function + "(" + dev.name() + "): negative offset " + offset);
        }
        long start = pagePhys + offset;
        for (long p = start & PhysLayout.PAGE_MASK; p < start + size; p += PhysLayout.PAGE_SIZE) {
            if (phys.pfnToIdx(p >>> PhysLayout.PAGE_SHIFT) < 0) {
                throw new BadAddressException(String.format(Locale.ROOT, "%s(%s): [0x%x, +%d) reaches frame"
                        + " 0x%x, which pool '%s' does not hold", function, dev.name(), start, size,
                        p >>> PhysLayout.PAGE_SHIFT, phys.name()));
            }
        }
        return map(function, dev, t == null ? start : iova(function, dev, t, phys.physToVirt(start), size), size, dir,
                kind);
    }

    /** The IOVA of a buffer for a device behind an IOMMU, or DMA_MAPPING_ERROR with a warning. */
    private long iova(String function, DeviceImpl dev, DmaTranslation t, long cpuAddr, long size) {
        long dma = t.map(cpuAddr, size);
        if (dma == DMA_MAPPING_ERROR) {
            mapErrors.increment();
            warn(String.format(Locale.ROOT, "%s(%s, 0x%x, %d): no IOVA: %s", function, dev.name(), cpuAddr, size,
                    t.why(cpuAddr, size)));
        }
        return dma;
    }

    private long map(String function, DeviceImpl dev, long dma, long size, int dir, DeviceImpl.MapKind kind) {
        if (dma == DMA_MAPPING_ERROR) {
            return DMA_MAPPING_ERROR;
        }
        long mask = dev.dmaMask();
        if (!fits(dma, size, mask)) {
            DmaTranslation t = dev.translation();
            if (t != null) {
                t.unmap(dma, size);
            }
            mapErrors.increment();
            warn(String.format(Locale.ROOT, "%s(%s): DMA addr 0x%016x+%d overflow (mask %x, bus limit 0): refused with"
                    + " DMA_MAPPING_ERROR; allocate the buffer within the mask (dma_alloc_coherent, a pool built with"
                    + " dmaMask) or raise the mask", function, dev.name(), dma, size, mask));
            return DMA_MAPPING_ERROR;
        }
        VarHandle.releaseFence();
        dev.add(dma, size, dir, kind);
        synchronized (live) {
            mappers.add(dev);
        }
        streamingMaps.increment();
        return dma;
    }

    /** {@code dma_unmap_single} / {@code dma_unmap_page}: checked against the device's live mappings. */
    public void unmap(String function, DeviceImpl dev, long dma, long size, int dir, DeviceImpl.MapKind kind) {
        checkDirection(function, dev, dir);
        if (dev.mappedSize(dma) < 0) {
            List<DeviceImpl> others;
            synchronized (live) {
                others = new ArrayList<>(mappers);
            }
            for (DeviceImpl other : others) {
                long mapped = other == dev ? -1 : other.mappedSize(dma);
                if (mapped >= 0) {
                    throw new BadAddressException(String.format(Locale.ROOT, "%s(%s): DMA-API: device driver frees DMA"
                            + " memory with different device [device address=0x%016x] [map size=%d bytes] [mapped by"
                            + " %s] [unmapped by %s]", function, dev.name(), dma, mapped, other.name(), dev.name()));
                }
            }
        }
        unmapOne(function, dev, dma, size, dir, kind);
        VarHandle.acquireFence();
    }

    /** The one path every unmap takes ({@code dma_unmap_page}, {@code dma_unmap_single}, each sg entry). */
    private void unmapOne(String function, DeviceImpl dev, long dma, long size, int dir, DeviceImpl.MapKind kind) {
        dev.remove(function, dma, size, dir, kind);
        DmaTranslation t = dev.translation();
        if (t != null) {
            t.unmap(dma, size);
        }
        streamingUnmaps.increment();
    }

    // ------------------------------------------------------------------ scatter-gather

    /**
     * {@code dma_map_sg}: maps the first {@code nents} entries of {@code t}, each through the
     * path of {@code dma_map_page}, then merges neighbours whose DMA addresses are contiguous
     * into one segment while it stays within the device's {@code max_seg_size} (what
     * iommu-dma's {@code __finalise_sg} does; dma-direct in Linux maps one segment per entry
     * and leaves merging to {@code sg_alloc_table_from_pages}, which merged physically
     * contiguous pages already). Returns the segments written to the table (1 to
     * {@code nents}), or 0 when an entry reaches above the mask: the entries mapped so far are
     * unmapped and the table is as before, as the kernel returns 0.
     *
     * @throws BadAddressException for a table mapped already, or freed
     * @throws IllegalArgumentException for {@code nents} outside 1 to orig_nents, or an empty entry
     */
    public int mapSg(String function, DeviceImpl dev, SgTableImpl t, int nents, int dir) {
        checkDirection(function, dev, dir);
        requirePhysical(function);
        synchronized (t) {
            t.requireLive(function);
            if (nents <= 0 || nents > t.origNents()) {
                throw new IllegalArgumentException(String.format(Locale.ROOT, "%s(%s, nents %d): expected 1 to the"
                        + " table's %d entries", function, dev.name(), nents, t.origNents()));
            }
            if (t.mappedBy() != null) {
                throw new BadAddressException(String.format(Locale.ROOT, "%s(%s): the sg_table is mapped already (by %s,"
                        + " %d entries); dma_unmap_sg it before mapping it again", function, dev.name(),
                        t.mappedBy().name(), t.mappedNents()));
            }
            for (int i = 0; i < nents; i++) {
                if (t.length(i) <= 0) {
                    throw new IllegalArgumentException(String.format(Locale.ROOT, "%s(%s): entry %d of the sg_table is"
                            + " empty; set it with sg_set_page first", function, dev.name(), i));
                }
            }
            long[] got = t.entryDma();
            int done = 0;
            try {
                for (; done < nents; done++) {
                    long d = mapPage(function, dev, t.entryPhys(done), t.offset(done), t.length(done), dir,
                            DeviceImpl.MapKind.SG);
                    if (d == DMA_MAPPING_ERROR) {
                        break;
                    }
                    got[done] = d;
                }
            } finally {
                if (done < nents) {
                    for (int j = 0; j < done; j++) {
                        unmapOne(function, dev, got[j], t.length(j), dir, DeviceImpl.MapKind.SG);
                    }
                }
            }
            if (done < nents) {
                return 0;
            }
            long max = dev.maxSegSize();
            int count = 0;
            long cur = got[0];
            long curLen = t.length(0);
            for (int i = 1; i < nents; i++) {
                long len = t.length(i);
                if (cur + curLen == got[i] && curLen + len <= max) {
                    curLen += len;
                } else {
                    t.segment(count++, cur, (int) curLen);
                    cur = got[i];
                    curLen = len;
                }
            }
            t.segment(count++, cur, (int) curLen);
            for (int j = count; j < t.origNents(); j++) {
                t.segment(j, 0, 0);
            }
            t.mapped(dev, nents, dir, count);
            synchronized (live) {
                mappers.add(dev);
            }
            return count;
        }
    }

    /**
     * {@code dma_unmap_sg}: undoes {@link #mapSg}; {@code nents} is what was passed to the map
     * (not what it returned), as in the kernel. Checked as DMA-API debugging checks it.
     *
     * @throws io.kmem.error.DoubleFreeException for a table unmapped already
     * @throws BadAddressException for a table never mapped, mapped by another device, or with
     *         another entry count or direction
     */
    public void unmapSg(String function, DeviceImpl dev, SgTableImpl t, int nents, int dir) {
        checkDirection(function, dev, dir);
        synchronized (t) {
            t.requireLive(function);
            checkSgMapped(function, dev, t, nents, "frees", "unmap");
            if (t.mappedDir() != dir) {
                throw new BadAddressException(String.format(Locale.ROOT, "%s(%s): device driver frees DMA sg list with"
                        + " different direction [mapped with %s] [unmapped with %s]", function, dev.name(),
                        DeviceImpl.direction(t.mappedDir()), DeviceImpl.direction(dir)));
            }
            long[] got = t.entryDma();
            for (int i = 0; i < nents; i++) {
                unmapOne(function, dev, got[i], t.length(i), dir, DeviceImpl.MapKind.SG);
            }
            t.unmapped(dev);
        }
        VarHandle.acquireFence();
    }

    /** {@code dma_sync_sg_for_cpu} ({@code forCpu}) or {@code _for_device}: checks, then a fence. */
    public void syncSg(String function, DeviceImpl dev, SgTableImpl t, int nents, int dir, boolean forCpu) {
        checkDirection(function, dev, dir);
        synchronized (t) {
            t.requireLive(function);
            checkSgMapped(function, dev, t, nents, "syncs", "sync");
            if (t.mappedDir() != dir && t.mappedDir() != DeviceImpl.DMA_BIDIRECTIONAL) {
                throw new BadAddressException(String.format(Locale.ROOT, "%s(%s): device driver syncs DMA sg list with"
                        + " different direction [mapped with %s] [synced with %s]", function, dev.name(),
                        DeviceImpl.direction(t.mappedDir()), DeviceImpl.direction(dir)));
            }
        }
        if (forCpu) {
            VarHandle.acquireFence();
        } else {
            VarHandle.releaseFence();
        }
    }

    private static void checkSgMapped(String function, DeviceImpl dev, SgTableImpl t, int nents, String verb,
            String noun) {
        if (t.mappedBy() == null) {
            if (t.lastUnmappedBy() != null && verb.equals("frees")) {
                throw new io.kmem.error.DoubleFreeException(String.format(Locale.ROOT, "%s(%s): device driver unmaps DMA"
                        + " sg list twice (unmapped already by %s)", function, dev.name(), t.lastUnmappedBy().name()));
            }
            throw new BadAddressException(String.format(Locale.ROOT, "%s(%s): device driver tries to %s DMA memory it"
                    + " has not allocated: the sg_table is not mapped (%s)", function, dev.name(),
                    verb.equals("frees") ? "free" : "sync", t.lastUnmappedBy() != null ? "unmapped already"
                    : "never mapped with dma_map_sg"));
        }
        if (t.mappedBy() != dev) {
            throw new BadAddressException(String.format(Locale.ROOT, "%s(%s): device driver %s DMA memory with different"
                    + " device [device address=0x%016x] [mapped by %s] [%sed by %s]", function, dev.name(), verb,
                    t.dmaAddress(0), t.mappedBy().name(), noun.equals("unmap") ? "unmapp" : "sync", dev.name()));
        }
        if (nents != t.mappedNents()) {
            throw new BadAddressException(String.format(Locale.ROOT, "%s(%s): device driver %s DMA sg list with"
                    + " different entry count [map count=%d] [%s count=%d] (pass the nents given to dma_map_sg,"
                    + " not what it returned)", function, dev.name(), verb, t.mappedNents(), noun, nents));
        }
    }

    /** {@code dma_sync_single_for_cpu} ({@code forCpu}) or {@code _for_device}: a check and a fence. */
    public void sync(String function, DeviceImpl dev, long dma, long size, int dir, boolean forCpu) {
        checkDirection(function, dev, dir);
        checkSize(function, dev, size);
        dev.checkSync(function, dma, size, dir);
        if (forCpu) {
            VarHandle.acquireFence();
        } else {
            VarHandle.releaseFence();
        }
    }

    // ------------------------------------------------------------------ reports

    /** Maps refused because the buffer lay above the mask. */
    public long mapErrors() {
        return mapErrors.sum();
    }

    /** Streaming mappings made (dma_map_single, dma_map_page), ever. */
    public long streamingMaps() {
        return streamingMaps.sum();
    }

    /** Streaming mappings undone (dma_unmap_single, dma_unmap_page), ever. */
    public long streamingUnmaps() {
        return streamingUnmaps.sum();
    }

    /** Live coherent buffers (dma_pools' pages included); takes the lock of the live-buffer table. */
    public int coherentCount() {
        synchronized (live) {
            return live.size();
        }
    }

    /** dma_alloc_coherent calls that returned NULL. */
    public long allocFailures() {
        return allocFailures.sum();
    }

    /** Adds a report (dma_pool_destroy of a busy pool) and logs it. */
    void report(String text) {
        synchronized (reports) {
            reports.add(text);
        }
        LOG.log(System.Logger.Level.ERROR, text);
    }

    /** The reports made since the last call; clears them. */
    public List<String> takeReports() {
        synchronized (reports) {
            List<String> out = List.copyOf(reports);
            reports.clear();
            return out;
        }
    }

    // ------------------------------------------------------------------ internals

    /** {@code dma_direct_optimal_gfp_mask}. */
    static int zoneFor(long limit) {
        if (Long.compareUnsigned(limit, ZONE_DMA_LIMIT) <= 0) {
            return __GFP_DMA;
        }
        return Long.compareUnsigned(limit, bitMask(32)) <= 0 ? __GFP_DMA32 : 0;
    }

    /** {@code dma_coherent_ok} / {@code dma_capable}: the last byte is at or below the mask. */
    static boolean fits(long dma, long size, long mask) {
        long end = dma + size - 1;
        return Long.compareUnsigned(end, dma) >= 0 && Long.compareUnsigned(end, mask) <= 0;
    }

    private void warn(String text) {
        long suppressed = warnLimit.admit();
        if (suppressed >= 0) {
            LOG.log(System.Logger.Level.WARNING, text + (suppressed > 0 ? " (" + suppressed
                    + " similar warnings suppressed)" : ""));
        }
    }

    private void requirePhysical(String function) {
        phys.ensureOpen(function);
        if (!phys.physical()) {
            throw new PrivilegeException(function + ": pool '" + phys.name() + "' has no physical addresses (built"
                    + " unprivileged); DMA needs them: build the pool as root");
        }
    }

    private static void checkDirection(String function, DeviceImpl dev, int dir) {
        if (dir < DeviceImpl.DMA_BIDIRECTIONAL || dir > DeviceImpl.DMA_FROM_DEVICE) {
            throw new IllegalArgumentException(function + "(" + dev.name() + "): " + DeviceImpl.direction(dir)
                    + " is not a direction to map with; expected DMA_TO_DEVICE, DMA_FROM_DEVICE or DMA_BIDIRECTIONAL");
        }
    }

    private static void checkSize(String function, DeviceImpl dev, long size) {
        if (size <= 0) {
            throw new IllegalArgumentException(function + "(" + dev.name() + ", size " + size
                    + "): expected a size above 0");
        }
    }

    FramePool phys() {
        return phys;
    }
}
