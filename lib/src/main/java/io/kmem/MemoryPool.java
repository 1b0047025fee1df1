package io.kmem;

import io.kmem.bindings.Libc;
import io.kmem.debug.FaultAttr;
import io.kmem.error.BadAddressException;
import io.kmem.error.KmemException;
import io.kmem.error.PoolClosedException;
import io.kmem.error.PrivilegeException;
import io.kmem.error.SyscallException;
import io.kmem.gfp.FrameKind;
import io.kmem.gfp.Gfp;
import io.kmem.internal.dma.DeviceImpl;
import io.kmem.internal.dma.DmaDirect;
import io.kmem.internal.dma.DmaPoolImpl;
import io.kmem.internal.irq.IrqTable;
import io.kmem.internal.irq.UioIrq;
import io.kmem.internal.dma.SgTableImpl;
import io.kmem.internal.lib.LazyLogger;
import io.kmem.internal.mmio.IoResources;
import io.kmem.internal.mmio.Ioremap;
import io.kmem.internal.mmio.ResourceTree;
import io.kmem.internal.page.BuddyAllocator;
import io.kmem.internal.pci.ConfigSpace;
import io.kmem.internal.pci.PciDevImpl;
import io.kmem.internal.phys.FramePool;
import io.kmem.internal.phys.MemMap;
import io.kmem.internal.phys.PhysLayout;
import io.kmem.internal.report.FrameOwnerScan;
import io.kmem.internal.report.LeakScan;
import io.kmem.internal.report.PageReport;
import io.kmem.internal.report.PhysReport;
import io.kmem.internal.slub.KmemCacheImpl;
import io.kmem.internal.slub.SlabAllocator;
import io.kmem.internal.trace.AtomicContext;
import io.kmem.internal.vfio.VfioPci;
import io.kmem.internal.vfio.VfioPreflight;
import io.kmem.internal.vmalloc.VmArea;
import io.kmem.internal.vmalloc.Vmalloc;
import io.kmem.stats.FrameOwners;
import io.kmem.stats.FrameVerification;
import io.kmem.stats.HostInfo;
import io.kmem.stats.KmemObjInfo;
import io.kmem.stats.KmemPoolMXBean;
import io.kmem.stats.LargeKmallocStats;
import io.kmem.stats.LiveAllocation;
import io.kmem.stats.PageStats;
import io.kmem.stats.PinState;
import io.kmem.stats.SlabCacheStats;
import io.kmem.stats.VmallocStats;
import io.kmem.stats.ZoneStats;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * A pool of pinned, physically addressed frames and the kernel allocators over it. Build one
 * with {@link #builder()}.
 *
 * <p>The kernel's API is declared by one contract per kernel header, each on one page with
 * its documentation: {@link GfpApi} ({@code gfp.h}: the page allocator, page handles),
 * {@link SlabApi} ({@code slab.h}: kmalloc, kmem_cache, kvmalloc), {@link VmallocApi}
 * ({@code vmalloc.h}), {@link IoApi} ({@code io.h}: ioremap, resources, address
 * translation, barriers), {@link DmaApi} ({@code dma-mapping.h} and {@code dmapool.h}) and
 * {@link PciApi} ({@code pci.h}), {@link ScatterlistApi} ({@code scatterlist.h}) and
 * {@link RwOnceApi} ({@code rwonce.h} and the acquire/release half of {@code barrier.h}:
 * ring accessors on pool memory). This class is the glue: it builds the layers below
 * (frames, the buddy allocator, slabs, vmalloc, ioremap, DMA) and implements every contract
 * over them; what it adds itself are the pool's life cycle (growth, release, verify,
 * close) and its reports.
 *
 * <p>Naming: the kernel's API keeps the kernel's names verbatim ({@code virt_to_phys},
 * {@code page_to_pfn}), so that a driver author reads them as in C; everything else (building,
 * reports, closing) has ordinary Java names.
 *
 * <p>Addresses are {@code long}s, as in C; 0 is NULL. A page handle ({@code struct page *})
 * is a {@code long} too, tagged so that passing an address or a PFN where a page is expected
 * is caught: see {@link #pfn_to_page}.
 *
 * <h2>Arguments: one rule for every entry point</h2>
 * Every argument is checked at the door, and an error names the function the caller called
 * (not one it delegates to: {@code kcalloc}, not {@code kmalloc_array}) and the value the
 * caller passed (the address as given, not its page):
 * <ul>
 * <li><b>Sizes and counts.</b> Too large for the allocator is a normal failure, as in the
 *     kernel: 0 (NULL), counted, with the allocation-failure warning unless
 *     {@code __GFP_NOWARN} ({@code kmalloc} above {@link #KMALLOC_MAX_SIZE}, {@code vmalloc}
 *     above what the pool can hold, {@code Long.MAX_VALUE} included); an {@code n * size}
 *     that overflows ({@code kmalloc_array}, {@code kcalloc}, {@code vcalloc}) is 0 (NULL) too.
 *     A negative size or count has no C counterpart ({@code size_t} is unsigned): it is the
 *     caller's bug, and throws {@link IllegalArgumentException} ("{@code krealloc(0x…, -1):
 *     new_size -1 is negative}"); nothing is changed, the object passed stays allocated.
 * <li><b>GFP flags.</b> Every call that takes {@code gfp} refuses bits outside
 *     {@link Gfp#VALID_MASK} with {@link IllegalArgumentException} naming the function and
 *     the unknown bits ({@link Gfp#check}), whatever else would happen (a NULL from
 *     {@code __vmalloc} under {@code GFP_ATOMIC}, an overflowing {@code kcalloc}).
 * <li><b>References.</b> A null cache, device, DMA pool, direction, buffer, array, PCI
 *     function or mapping throws {@link NullPointerException} whose message names the
 *     function and the parameter ("{@code kmem_cache_alloc: cache is null}"): the type Java
 *     code expects from {@code Objects.requireNonNull} and got from a null dereference
 *     before, with the words a driver author needs. Where the kernel accepts NULL
 *     ({@code kmem_cache_destroy}, {@code dma_pool_destroy}, {@code kmem_cache_free_bulk}'s
 *     cache, {@code pci_get_device}'s {@code from}), so does kmem.
 * <li><b>Constructors.</b> A {@code kmem_cache} constructor that throws, or that allocates
 *     from its own cache, gets a {@link KmemException} naming the cache (the
 *     constructor's exception as its cause); the slab being built goes back to the page
 *     allocator and no object is handed out.
 * </ul>
 *
 * <p>After {@link #close()} every method, and every method of the handles the pool gave out,
 * throws {@link io.kmem.error.PoolClosedException} naming the function and the pool; only
 * {@link #name()}, {@code close()}, {@code dma_mapping_error}, the static functions and the
 * handles' fixed attributes still answer.
 *
 * <p>Thread safety: every method may be called from any thread.
 */
public final class MemoryPool implements GfpApi, SlabApi, VmallocApi, IoApi, DmaApi, PciApi, IrqApi, RwOnceApi,
        ScatterlistApi, AutoCloseable {

    /**
     * Top 16 bits of every page handle ("pg"): a handle is {@code PAGE_TAG | pfn}, so that, as
     * with the kernel's {@code struct page} pointers, {@code page + i} is page {@code i} of a
     * block (its frames are consecutive PFNs).
     */
    static final long PAGE_TAG = 0x7067L << 48;
    private static final long PAGE_TAG_MASK = 0xFFFFL << 48;

    /** How many allocations of each family pool close lists in its leak warning. */
    public static final int LEAKS_LISTED = 100;
    private static final System.Logger LEAK_LOG = LazyLogger.of("io.kmem.leak");

    final FramePool phys;
    final BuddyAllocator buddy;
    final SlabAllocator slab;
    final Vmalloc vmalloc;
    private final MemMap memMap;
    private final long bringUpNanos;
    private final long bringUpFrames;
    /**
     * The pool's ioremap mappings and their registry ({@code Ioremap.areas()}: what
     * vmallocinfo lists as {@code ioremap}), and the roots device files are found under.
     */
    final Ioremap ioremap = new Ioremap();
    private final IoResources ioResources = new IoResources(ioremap);
    /** One PciDev per function, as the kernel keeps one pci_dev: its Device's masks and mappings are shared. */
    private final ConcurrentHashMap<String, PciDev> pciDevs = new ConcurrentHashMap<>();
    /** Builder.vfioMapPerCall: VFIO functions get per-call IOMMU mappings. */
    private final boolean vfioMapPerCall;
    /** The DMA API over this pool, made at its first use. */
    private volatile DmaDirect dma;
    /** The pool's MXBean and JFR figures, from the end of the bring-up to the start of close. */
    private final PoolTelemetry telemetry;

    private MemoryPool(Builder b) {
        this.vfioMapPerCall = b.vfioMapPerCall;
        long[] max = new long[FrameKind.values().length];
        max[FrameKind.SMALL_4K.ordinal()] = b.maxSmallBytes >= 0 ? b.maxSmallBytes : Math.max(b.smallBytes, 0);
        max[FrameKind.HUGE_2M.ordinal()] = b.maxHuge2mBytes >= 0 ? b.maxHuge2mBytes : b.huge2mBytes;
        max[FrameKind.HUGE_1G.ordinal()] = b.huge1gBytes;
        this.phys = FramePool.create(new FramePool.Config(b.name, max, b.dmaMask, b.unprivileged,
                b.requireLongTermPin, b.pinRefusal));
        this.memMap = phys.memMap();
        long t0 = System.nanoTime();
        // Anything that fails from here on (a grow, a bad slub_debug option or slab table,
        // the vmalloc window) gives the frames back: they are pinned by rings and held by
        // memfds that nothing else would ever close.
        try {
            this.buddy = new BuddyAllocator(phys, b.allocWait.toNanos());
            if (b.smallBytes > 0) {
                buddy.grow(FrameKind.SMALL_4K, b.smallBytes >>> PhysLayout.PAGE_SHIFT);
            }
            if (b.huge2mBytes > 0) {
                buddy.grow(FrameKind.HUGE_2M, b.huge2mBytes >>> PhysLayout.PAGE_SHIFT);
            }
            if (b.huge1gBytes > 0) {
                buddy.grow(FrameKind.HUGE_1G, b.huge1gBytes >>> PhysLayout.PAGE_SHIFT);
            }
            this.slab = new SlabAllocator(phys, buddy, b.slubDebug);
            buddy.setReclaimer(slab::reclaim);
            this.vmalloc = new Vmalloc(phys, buddy, b.vmallocWindow);
        } catch (RuntimeException e) {
            try {
                phys.close();
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        slab.describeOutsideWith(vmalloc::describe);
        ioremap.placeIn(vmalloc);
        this.bringUpNanos = System.nanoTime() - t0;
        this.bringUpFrames = phys.presentFrames();
        try {
            this.telemetry = PoolTelemetry.start(this);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /**
     * A builder for a pool; by default 64 MiB of 4 KiB frames, physical addresses, no DMA mask.
     *
     * @return a new builder with the defaults
     */
    public static Builder builder() {
        return new Builder();
    }

    // Address translation (GfpApi, IoApi) and segments

    @Override
    public long virt_to_phys(long addr) {
        phys.ensureOpen("virt_to_phys");
        return phys.virtToPhys(addr);
    }

    @Override
    public long phys_to_virt(long physAddr) {
        phys.ensureOpen("phys_to_virt");
        return phys.physToVirt(physAddr);
    }

    @Override
    public long virt_to_pfn(long addr) {
        phys.ensureOpen("virt_to_pfn");
        return phys.virtToPfn("virt_to_pfn", addr);
    }

    @Override
    public long virt_to_page(long addr) {
        phys.ensureOpen("virt_to_page");
        return pageOfPfn("virt_to_page", phys.virtToPfn("virt_to_page", addr));
    }

    @Override
    public long pfn_to_page(long pfn) {
        phys.ensureOpen("pfn_to_page");
        return pageOfPfn("pfn_to_page", pfn);
    }

    @Override
    public long page_to_pfn(long page) {
        return pageToPfn("page_to_pfn", page);
    }

    private long pageToPfn(String function, long page) {
        return MemMap.pfn(phys.memMap().info(pageIdx(function, page)));
    }

    @Override
    public long page_address(long page) {
        return phys.directAddress(pageToPfn("page_address", page));
    }

    @Override
    public long page_to_phys(long page) {
        return pageToPhys("page_to_phys", page);
    }

    private long pageToPhys(String function, long page) {
        if (!phys.physical()) {
            return phys.virtToPhys(phys.directAddress(pageToPfn(function, page)));
        }
        return pageToPfn(function, page) << PhysLayout.PAGE_SHIFT;
    }

    /**
     * A segment over {@code bytes} at {@code addr}, for reading and writing through the FFM
     * API: in the direct map (kmalloc, the page allocator), valid until the pool is closed;
     * in a vmalloc or vmap area, valid until the area is freed. After that every access
     * throws instead of touching unmapped memory.
     *
     * @param addr  the first byte: a direct-map address or one inside a vmalloc or vmap area
     * @param bytes the segment's length, 0 or more
     * @return a segment over exactly those bytes
     * @throws BadAddressException if the range is not inside the pool's frames or one area
     */
    public MemorySegment segment(long addr, long bytes) {
        phys.ensureOpen("segment");
        return segment("segment", addr, bytes);
    }

    private MemorySegment segment(String function, long addr, long bytes) {
        if (vmalloc.isVmallocAddr(addr)) {
            MemorySegment seg = vmalloc.segment(addr, bytes);
            if (seg == null) {
                throw new BadAddressException(function + ": 0x" + Long.toHexString(addr) + " is in the vmalloc window of"
                        + " pool '" + phys.name() + "' but in no area, or in a guard page");
            }
            return seg;
        }
        if (bytes < 0 || !phys.inDirectMap(addr) || !phys.inDirectMap(addr + Math.max(bytes, 1) - 1)) {
            throw new BadAddressException(function + ": [0x" + Long.toHexString(addr) + ", +" + bytes
                    + ") is not inside the direct map of pool '" + phys.name() + "'");
        }
        long a = addr;
        try {
            for (; a < addr + bytes; a = (a & PhysLayout.PAGE_MASK) + PhysLayout.PAGE_SIZE) {
                phys.virtToPfn(function, a);
            }
        } catch (BadAddressException e) {
            if (a == addr) {
                throw e;
            }
            throw new BadAddressException(function + ": [0x" + Long.toHexString(addr) + ", +" + bytes + ") is not all"
                    + " pool memory: " + e.getMessage());
        }
        return phys.directMap().asSlice(addr - phys.directBase(), bytes);
    }

    // asm-generic/rwonce.h, asm/barrier.h: RwOnceApi

    /**
     * {@code READ_ONCE}: one load of the whole byte, never merged with another, cached in a register or hoisted
     * out of a loop (an opaque access); no ordering against other addresses.
     *
     * @param addr a direct-map address of pool memory (kmalloc, the page allocator, dma_alloc_coherent,
     *             a dma_pool block)
     * @return 0 to 255
     * @throws BadAddressException for an address outside the pool's frames (a vmalloc address included:
     *         use the segment form) or unaligned
     */
    public int READ_ONCE_u8(long addr) {
        MemorySegment m = direct("READ_ONCE_u8", addr, 1);
        try {
            return (byte) Once.U8.getOpaque(m, addr - phys.directBase()) & 0xff;
        } catch (IllegalStateException e) {
            throw directClosed("READ_ONCE_u8", e);
        }
    }

    /**
     * {@code READ_ONCE}: one load of the whole little-endian 16-bit value, never merged with another, cached in a
     * register or hoisted out of a loop (an opaque access); no ordering against other addresses.
     *
     * @param addr a direct-map address of pool memory (kmalloc, the page allocator, dma_alloc_coherent,
     *             a dma_pool block), a multiple of 2
     * @return 0 to 65535
     * @throws BadAddressException for an address outside the pool's frames (a vmalloc address included:
     *         use the segment form) or unaligned
     */
    public int READ_ONCE_u16(long addr) {
        MemorySegment m = direct("READ_ONCE_u16", addr, 2);
        try {
            return (short) Once.U16.getOpaque(m, addr - phys.directBase()) & 0xffff;
        } catch (IllegalStateException e) {
            throw directClosed("READ_ONCE_u16", e);
        }
    }

    /**
     * {@code READ_ONCE}: one load of the whole little-endian 32-bit value, never merged with another, cached in a
     * register or hoisted out of a loop (an opaque access); no ordering against other addresses.
     *
     * @param addr a direct-map address of pool memory (kmalloc, the page allocator, dma_alloc_coherent,
     *             a dma_pool block), a multiple of 4
     * @return the 32 bits, as a signed {@code int}
     * @throws BadAddressException for an address outside the pool's frames (a vmalloc address included:
     *         use the segment form) or unaligned
     */
    public int READ_ONCE_u32(long addr) {
        MemorySegment m = direct("READ_ONCE_u32", addr, 4);
        try {
            return (int) Once.U32.getOpaque(m, addr - phys.directBase());
        } catch (IllegalStateException e) {
            throw directClosed("READ_ONCE_u32", e);
        }
    }

    /**
     * {@code READ_ONCE}: one load of the whole little-endian 64-bit value, never merged with another, cached in a
     * register or hoisted out of a loop (an opaque access); no ordering against other addresses.
     *
     * @param addr a direct-map address of pool memory (kmalloc, the page allocator, dma_alloc_coherent,
     *             a dma_pool block), a multiple of 8
     * @return the 64 bits
     * @throws BadAddressException for an address outside the pool's frames (a vmalloc address included:
     *         use the segment form) or unaligned
     */
    public long READ_ONCE_u64(long addr) {
        MemorySegment m = direct("READ_ONCE_u64", addr, 8);
        try {
            return (long) Once.U64.getOpaque(m, addr - phys.directBase());
        } catch (IllegalStateException e) {
            throw directClosed("READ_ONCE_u64", e);
        }
    }

    /**
     * {@code WRITE_ONCE}: one store of the whole byte, never torn, merged or left out (an opaque access); no
     * ordering against other addresses.
     *
     * @param addr a direct-map address of pool memory (kmalloc, the page allocator, dma_alloc_coherent,
     *             a dma_pool block)
     * @param value the value; its low 8 bits are written
     * @throws BadAddressException for an address outside the pool's frames (a vmalloc address included:
     *         use the segment form) or unaligned
     */
    public void WRITE_ONCE_u8(long addr, int value) {
        MemorySegment m = direct("WRITE_ONCE_u8", addr, 1);
        try {
            Once.U8.setOpaque(m, addr - phys.directBase(), (byte) value);
        } catch (IllegalStateException e) {
            throw directClosed("WRITE_ONCE_u8", e);
        }
    }

    /**
     * {@code WRITE_ONCE}: one store of the whole little-endian 16-bit value, never torn, merged or left out (an
     * opaque access); no ordering against other addresses.
     *
     * @param addr a direct-map address of pool memory (kmalloc, the page allocator, dma_alloc_coherent,
     *             a dma_pool block), a multiple of 2
     * @param value the value; its low 16 bits are written
     * @throws BadAddressException for an address outside the pool's frames (a vmalloc address included:
     *         use the segment form) or unaligned
     */
    public void WRITE_ONCE_u16(long addr, int value) {
        MemorySegment m = direct("WRITE_ONCE_u16", addr, 2);
        try {
            Once.U16.setOpaque(m, addr - phys.directBase(), (short) value);
        } catch (IllegalStateException e) {
            throw directClosed("WRITE_ONCE_u16", e);
        }
    }

    /**
     * {@code WRITE_ONCE}: one store of the whole little-endian 32-bit value, never torn, merged or left out (an
     * opaque access); no ordering against other addresses.
     *
     * @param addr a direct-map address of pool memory (kmalloc, the page allocator, dma_alloc_coherent,
     *             a dma_pool block), a multiple of 4
     * @param value the value; all 32 bits are written
     * @throws BadAddressException for an address outside the pool's frames (a vmalloc address included:
     *         use the segment form) or unaligned
     */
    public void WRITE_ONCE_u32(long addr, int value) {
        MemorySegment m = direct("WRITE_ONCE_u32", addr, 4);
        try {
            Once.U32.setOpaque(m, addr - phys.directBase(), value);
        } catch (IllegalStateException e) {
            throw directClosed("WRITE_ONCE_u32", e);
        }
    }

    /**
     * {@code WRITE_ONCE}: one store of the whole little-endian 64-bit value, never torn, merged or left out (an
     * opaque access); no ordering against other addresses.
     *
     * @param addr a direct-map address of pool memory (kmalloc, the page allocator, dma_alloc_coherent,
     *             a dma_pool block), a multiple of 8
     * @param value the value; all 64 bits are written
     * @throws BadAddressException for an address outside the pool's frames (a vmalloc address included:
     *         use the segment form) or unaligned
     */
    public void WRITE_ONCE_u64(long addr, long value) {
        MemorySegment m = direct("WRITE_ONCE_u64", addr, 8);
        try {
            Once.U64.setOpaque(m, addr - phys.directBase(), value);
        } catch (IllegalStateException e) {
            throw directClosed("WRITE_ONCE_u64", e);
        }
    }

    /**
     * {@code smp_load_acquire}: a {@code READ_ONCE} of the byte that later loads and stores do not pass: read a
     * producer index with it, then the entries it covers.
     *
     * @param addr a direct-map address of pool memory (kmalloc, the page allocator, dma_alloc_coherent,
     *             a dma_pool block)
     * @return 0 to 255
     * @throws BadAddressException for an address outside the pool's frames (a vmalloc address included:
     *         use the segment form) or unaligned
     */
    public int smp_load_acquire_u8(long addr) {
        MemorySegment m = direct("smp_load_acquire_u8", addr, 1);
        try {
            return (byte) Once.U8.getAcquire(m, addr - phys.directBase()) & 0xff;
        } catch (IllegalStateException e) {
            throw directClosed("smp_load_acquire_u8", e);
        }
    }

    /**
     * {@code smp_load_acquire}: a {@code READ_ONCE} of the little-endian 16-bit value that later loads and stores
     * do not pass: read a producer index with it, then the entries it covers.
     *
     * @param addr a direct-map address of pool memory (kmalloc, the page allocator, dma_alloc_coherent,
     *             a dma_pool block), a multiple of 2
     * @return 0 to 65535
     * @throws BadAddressException for an address outside the pool's frames (a vmalloc address included:
     *         use the segment form) or unaligned
     */
    public int smp_load_acquire_u16(long addr) {
        MemorySegment m = direct("smp_load_acquire_u16", addr, 2);
        try {
            return (short) Once.U16.getAcquire(m, addr - phys.directBase()) & 0xffff;
        } catch (IllegalStateException e) {
            throw directClosed("smp_load_acquire_u16", e);
        }
    }

    /**
     * {@code smp_load_acquire}: a {@code READ_ONCE} of the little-endian 32-bit value that later loads and stores
     * do not pass: read a producer index with it, then the entries it covers.
     *
     * @param addr a direct-map address of pool memory (kmalloc, the page allocator, dma_alloc_coherent,
     *             a dma_pool block), a multiple of 4
     * @return the 32 bits, as a signed {@code int}
     * @throws BadAddressException for an address outside the pool's frames (a vmalloc address included:
     *         use the segment form) or unaligned
     */
    public int smp_load_acquire_u32(long addr) {
        MemorySegment m = direct("smp_load_acquire_u32", addr, 4);
        try {
            return (int) Once.U32.getAcquire(m, addr - phys.directBase());
        } catch (IllegalStateException e) {
            throw directClosed("smp_load_acquire_u32", e);
        }
    }

    /**
     * {@code smp_load_acquire}: a {@code READ_ONCE} of the little-endian 64-bit value that later loads and stores
     * do not pass: read a producer index with it, then the entries it covers.
     *
     * @param addr a direct-map address of pool memory (kmalloc, the page allocator, dma_alloc_coherent,
     *             a dma_pool block), a multiple of 8
     * @return the 64 bits
     * @throws BadAddressException for an address outside the pool's frames (a vmalloc address included:
     *         use the segment form) or unaligned
     */
    public long smp_load_acquire_u64(long addr) {
        MemorySegment m = direct("smp_load_acquire_u64", addr, 8);
        try {
            return (long) Once.U64.getAcquire(m, addr - phys.directBase());
        } catch (IllegalStateException e) {
            throw directClosed("smp_load_acquire_u64", e);
        }
    }

    /**
     * {@code smp_store_release}: a {@code WRITE_ONCE} of the byte that earlier loads and stores do not pass: fill
     * the entries, then publish the index with it.
     *
     * @param addr a direct-map address of pool memory (kmalloc, the page allocator, dma_alloc_coherent,
     *             a dma_pool block)
     * @param value the value; its low 8 bits are written
     * @throws BadAddressException for an address outside the pool's frames (a vmalloc address included:
     *         use the segment form) or unaligned
     */
    public void smp_store_release_u8(long addr, int value) {
        MemorySegment m = direct("smp_store_release_u8", addr, 1);
        try {
            Once.U8.setRelease(m, addr - phys.directBase(), (byte) value);
        } catch (IllegalStateException e) {
            throw directClosed("smp_store_release_u8", e);
        }
    }

    /**
     * {@code smp_store_release}: a {@code WRITE_ONCE} of the little-endian 16-bit value that earlier loads and
     * stores do not pass: fill the entries, then publish the index with it.
     *
     * @param addr a direct-map address of pool memory (kmalloc, the page allocator, dma_alloc_coherent,
     *             a dma_pool block), a multiple of 2
     * @param value the value; its low 16 bits are written
     * @throws BadAddressException for an address outside the pool's frames (a vmalloc address included:
     *         use the segment form) or unaligned
     */
    public void smp_store_release_u16(long addr, int value) {
        MemorySegment m = direct("smp_store_release_u16", addr, 2);
        try {
            Once.U16.setRelease(m, addr - phys.directBase(), (short) value);
        } catch (IllegalStateException e) {
            throw directClosed("smp_store_release_u16", e);
        }
    }

    /**
     * {@code smp_store_release}: a {@code WRITE_ONCE} of the little-endian 32-bit value that earlier loads and
     * stores do not pass: fill the entries, then publish the index with it.
     *
     * @param addr a direct-map address of pool memory (kmalloc, the page allocator, dma_alloc_coherent,
     *             a dma_pool block), a multiple of 4
     * @param value the value; all 32 bits are written
     * @throws BadAddressException for an address outside the pool's frames (a vmalloc address included:
     *         use the segment form) or unaligned
     */
    public void smp_store_release_u32(long addr, int value) {
        MemorySegment m = direct("smp_store_release_u32", addr, 4);
        try {
            Once.U32.setRelease(m, addr - phys.directBase(), value);
        } catch (IllegalStateException e) {
            throw directClosed("smp_store_release_u32", e);
        }
    }

    /**
     * {@code smp_store_release}: a {@code WRITE_ONCE} of the little-endian 64-bit value that earlier loads and
     * stores do not pass: fill the entries, then publish the index with it.
     *
     * @param addr a direct-map address of pool memory (kmalloc, the page allocator, dma_alloc_coherent,
     *             a dma_pool block), a multiple of 8
     * @param value the value; all 64 bits are written
     * @throws BadAddressException for an address outside the pool's frames (a vmalloc address included:
     *         use the segment form) or unaligned
     */
    public void smp_store_release_u64(long addr, long value) {
        MemorySegment m = direct("smp_store_release_u64", addr, 8);
        try {
            Once.U64.setRelease(m, addr - phys.directBase(), value);
        } catch (IllegalStateException e) {
            throw directClosed("smp_store_release_u64", e);
        }
    }

    /**
     * The direct map, after checking that {@code bytes} at {@code addr} are one aligned access
     * to a frame of the pool: one comparison, one frame lookup, no allocation.
     */
    private MemorySegment direct(String function, long addr, int bytes) {
        phys.ensureOpen(function);
        long pfn = phys.directPfn(addr);
        if (pfn < 0 || (addr & (bytes - 1)) != 0 || phys.pfnToIdx(pfn) < 0) {
            throw new BadAddressException(String.format("%s(0x%x): %s", function, addr, pfn >= 0 && (addr & (bytes - 1))
                    != 0 ? "not " + bytes + "-byte aligned" : vmalloc.isVmallocAddr(addr) ? "a vmalloc address; the"
                    + " address forms take direct-map memory only: use RwOnceApi's segment forms on pool.segment(addr,"
                    + " size)" : "not a frame of pool '" + phys.name() + "' (expected kmalloc, page allocator or DMA"
                    + " memory of this pool)"));
        }
        return phys.directMap();
    }

    private RuntimeException directClosed(String function, IllegalStateException e) {
        if (!phys.closed()) {
            return e;
        }
        PoolClosedException c = new PoolClosedException(function + ": pool '" + phys.name() + "' is closed");
        c.initCause(e);
        return c;
    }

    // gfp.h: GfpApi

    @Override
    public long alloc_pages(int gfp, int order) {
        long pfn = buddy.allocPages("alloc_pages", gfp, order);
        return pfn < 0 ? 0 : PAGE_TAG | pfn;
    }

    @Override
    public long alloc_page(int gfp) {
        long pfn = buddy.allocPages("alloc_page", gfp, 0);
        return pfn < 0 ? 0 : PAGE_TAG | pfn;
    }

    @Override
    public long __get_free_pages(int gfp, int order) {
        return getFreePages("__get_free_pages", gfp, order);
    }

    @Override
    public long __get_free_page(int gfp) {
        return getFreePages("__get_free_page", gfp, 0);
    }

    @Override
    public long get_zeroed_page(int gfp) {
        return getFreePages("get_zeroed_page", gfp | Gfp.__GFP_ZERO, 0);
    }

    @Override
    public long __get_dma_pages(int gfp, int order) {
        return getFreePages("__get_dma_pages", gfp | Gfp.GFP_DMA, order);
    }

    private long getFreePages(String function, int gfp, int order) {
        long pfn = buddy.allocPages(function, gfp, order);
        return pfn < 0 ? 0 : phys.directAddress(pfn);
    }

    @Override
    public void free_pages(long addr, int order) {
        if (addr != 0) {
            buddy.freePages("free_pages", addr, directPfn("free_pages", addr), order);
        } else {
            phys.ensureOpen("free_pages");
        }
    }

    @Override
    public void free_page(long addr) {
        if (addr != 0) {
            buddy.freePages("free_page", addr, directPfn("free_page", addr), 0);
        } else {
            phys.ensureOpen("free_page");
        }
    }

    @Override
    public void __free_pages(long page, int order) {
        long idx = pageIdx("__free_pages", page);
        buddy.freePages("__free_pages", 0, MemMap.pfn(memMap.info(idx)), order);
    }

    @Override
    public void __free_page(long page) {
        long idx = pageIdx("__free_page", page);
        buddy.freePages("__free_page", 0, MemMap.pfn(memMap.info(idx)), 0);
    }

    @Override
    public long alloc_pages_exact(long size, int gfp) {
        phys.ensureOpen("alloc_pages_exact");
        long pfn = buddy.allocPagesExact(gfp, size);
        return pfn < 0 ? 0 : phys.directAddress(pfn);
    }

    @Override
    public void free_pages_exact(long addr, long size) {
        phys.ensureOpen("free_pages_exact");
        buddy.freePagesExact("free_pages_exact", addr, directPfn("free_pages_exact", addr), size);
    }

    @Override
    public void drain_all_pages() {
        phys.ensureOpen("drain_all_pages");
        buddy.drainAllPages();
    }

    /**
     * Checks the buddy allocator's invariants (free lists, alignment, merged buddies, counts)
     * and returns every violation; empty when consistent. Call it when no other thread is
     * allocating.
     *
     * @return one line per violation; empty when the allocator is consistent
     */
    public List<String> checkPageAllocator() {
        phys.ensureOpen("checkPageAllocator");
        return buddy.check();
    }

    /**
     * Per-zone figures of the page allocator: free, cached, watermarks, managed.
     *
     * @return one record per zone, DMA first
     */
    public List<ZoneStats> zoneStats() {
        phys.ensureOpen("zoneStats");
        return buddy.zoneStats();
    }

    /**
     * The page allocator's event counters (failures, growths, harvests, waits).
     *
     * @return the counters since the pool was built
     */
    public PageStats pageStats() {
        phys.ensureOpen("pageStats");
        return buddy.stats();
    }

    /**
     * {@code /proc/buddyinfo}: free blocks per order, per zone.
     *
     * @return the text, one line per zone, in the kernel's format
     */
    public String buddyinfo() {
        phys.ensureOpen("buddyinfo");
        return PageReport.buddyinfo(buddy);
    }

    /**
     * A {@code /proc/zoneinfo}-style view: free, watermarks, managed, and the per-thread caches.
     *
     * @return the text, a section per zone
     */
    public String zoneinfo() {
        phys.ensureOpen("zoneinfo");
        return PageReport.zoneinfo(buddy);
    }

    private long directPfn(String function, long addr) {
        long pfn = phys.directPfn(addr);
        if (pfn < 0 || (addr & (PhysLayout.PAGE_SIZE - 1)) != 0) {
            phys.ensureOpen(function);
            throw new BadAddressException(function + "(0x" + Long.toHexString(addr) + "): " + (pfn < 0
                    ? "not an address of pool '" + phys.name() + "' (outside its direct map)"
                    : "not page-aligned; expected an address the page allocator returned"));
        }
        return pfn;
    }

    // Growth, release, verify

    /**
     * Takes more frames from the kernel: {@code bytes} of {@code kind} (rounded up to whole
     * pages of that kind). Returns the PFNs that came in, sorted.
     *
     * @param kind  where the frames come from: 4 KiB shmem or hugetlb pages
     * @param bytes how much to add, in bytes; rounded up to whole pages of {@code kind}
     * @return the PFNs (frame indices in an unprivileged pool) of the new 4 KiB frames, sorted
     * @throws KmemException past the pool's maximum or when the kernel refuses
     */
    public long[] grow(FrameKind kind, long bytes) {
        phys.ensureOpen("grow");
        return buddy.grow(kind, (bytes + PhysLayout.PAGE_SIZE - 1) >>> PhysLayout.PAGE_SHIFT);
    }

    /**
     * Gives frames back to the kernel ({@code fallocate(PUNCH_HOLE)}); they must be free in
     * the page allocator (the calling thread's page cache is drained first).
     *
     * @param pfns the PFNs of the frames to give back (as {@link #pfns()} and {@link #grow} list them)
     * @throws BadAddressException for a frame the pool does not hold or that is in use; nothing
     *         is released then
     */
    public void release(long[] pfns) {
        phys.ensureOpen("release");
        buddy.release(pfns);
    }

    /**
     * Re-reads pagemap for every frame and lists any frame whose PFN changed since intake.
     *
     * @return the frames checked and those that moved (the kernel migrated them)
     */
    public FrameVerification verify() {
        phys.ensureOpen("verify");
        return phys.verify();
    }

    /**
     * How the pool's frames are held in place: pinned long-term (the kernel cannot migrate
     * them, their physical addresses stay valid) or mlocked only, and why.
     *
     * @return the pinning state, with the pinned bytes and the reason for a fallback
     */
    public PinState pinState() {
        phys.ensureOpen("pinState");
        return phys.pinState();
    }

    // Reports and facts

    /**
     * A /proc/meminfo-style summary of the pool, with where every figure came from.
     *
     * @return the text, one figure a line
     */
    public String meminfo() {
        phys.ensureOpen("meminfo");
        return PhysReport.meminfo(phys, buddy, bringUpNanos, bringUpFrames, vmalloc.stats());
    }

    /**
     * Every PFN the pool holds, sorted (frame indices in an unprivileged pool).
     *
     * @return a new array, one PFN per 4 KiB frame
     */
    public long[] pfns() {
        phys.ensureOpen("pfns");
        return phys.presentPfns();
    }

    /**
     * The PFN {@code /proc/self/pagemap} reports right now for any mapped virtual address of
     * this process, or -1 when the page is not present: the ground truth the pool's own
     * translations are checked against.
     *
     * @param addr any virtual address of this process
     * @return the PFN pagemap reports (0 without CAP_SYS_ADMIN, as the kernel hides it), or -1 when not present
     * @throws SyscallException when pagemap cannot be read
     */
    public long pagemapPfn(long addr) {
        phys.ensureOpen("pagemapPfn");
        return phys.pagemapPfn(addr);
    }

    /**
     * The host's facts as read at pool creation (zones, hugepages, pinning sysctls).
     *
     * @return the facts, each with the file it came from
     */
    public HostInfo host() {
        phys.ensureOpen("host");
        return phys.host();
    }

    /**
     * The pool's figures as its platform MXBean shows them to JMX clients
     * ({@code io.kmem:type=MemoryPool,name=<pool>}, registered while the pool is open when
     * module {@code java.management} is in the runtime): the same view, in this process.
     *
     * @return the pool's MXBean view
     */
    public KmemPoolMXBean mxBean() {
        phys.ensureOpen("mxBean");
        return telemetry;
    }

    /**
     * Waits until the pool's MXBean is registered, when {@code build()} left that to a thread
     * (the platform MBean server was not up); open or closed.
     */
    void awaitMxBeanRegistration() throws InterruptedException {
        telemetry.awaitRegistration();
    }

    /** The DMA layer when a DMA call has made it, else null (telemetry does not make it). */
    DmaDirect dmaIfMade() {
        return dma;
    }

    /**
     * The pool's name, as given to the builder. Works after {@link #close()} too.
     *
     * @return the name ("kmem" unless the builder set one)
     */
    public String name() {
        return phys.name();
    }

    /**
     * Whether the pool has real physical addresses.
     *
     * @return true when built as root and not {@link Builder#unprivileged()}; false when PFNs are frame indices
     */
    public boolean physical() {
        phys.ensureOpen("physical");
        return phys.physical();
    }

    /**
     * Frames (4 KiB) the pool holds now.
     *
     * @return the count of 4 KiB frames, hugetlb pages counted as the frames they hold
     */
    public long frames() {
        phys.ensureOpen("frames");
        return phys.presentFrames();
    }

    /**
     * Resident bytes of mem_map (16-byte records), measured with mincore.
     *
     * @return bytes of mem_map in memory now
     */
    public long memMapBytes() {
        phys.ensureOpen("memMapBytes");
        return phys.metadataBytes()[0];
    }

    /**
     * Bytes of the PFN-to-frame index.
     *
     * @return the index's size in bytes
     */
    public long pfnIndexBytes() {
        phys.ensureOpen("pfnIndexBytes");
        return phys.metadataBytes()[1];
    }

    /**
     * Heap bytes of the slab layer's frame-to-slab table (4 per reference, as with compressed
     * references): a flat table costs 4 per frame of the direct map, which spans the host's
     * PFNs, whatever the pool's size.
     *
     * @return the table's heap bytes
     */
    public long slabTableBytes() {
        phys.ensureOpen("slabTableBytes");
        return slab.frameTableBytes();
    }

    /**
     * Time to bring up the initial frames, in nanoseconds.
     *
     * @return nanoseconds the builder spent taking, pinning and mapping the initial frames
     */
    public long bringUpNanos() {
        phys.ensureOpen("bringUpNanos");
        return bringUpNanos;
    }

    /**
     * The kernel's kmemleak list, on demand: every allocation the pool has handed out and not
     * had back, family by family (slab objects, large kmallocs, blocks of the page allocator,
     * vmalloc areas, vmaps, ioremaps, coherent DMA buffers, dma_pool blocks, streaming DMA
     * mappings), with the allocating stack where one is recorded (slab
     * caches with {@code SLAB_STORE_USER}, e.g. under {@code slub_debug=U}). Walks every slab
     * and mem_map: for a driver at rest, not for a hot path.
     *
     * @return every live allocation, family by family; empty when nothing is allocated
     */
    public List<LiveAllocation> kmemleak() {
        phys.ensureOpen("kmemleak");
        return LeakScan.scan(phys, slab, vmalloc, dma, Integer.MAX_VALUE).listed();
    }

    /**
     * Closes the pool: every frame goes back to the kernel; segments from it stop working.
     * Allocations still live are logged first as a warning (logger {@code io.kmem.leak}), as
     * {@link #kmemleak()} lists them, the first {@value #LEAKS_LISTED} of each family.
     */
    @Override
    public void close() {
        if (!phys.closed()) {
            if (telemetry != null) {
                telemetry.close();
            }
            LeakScan.Result leaks = LeakScan.scan(phys, slab, vmalloc, dma, LEAKS_LISTED);
            if (!leaks.totals().isEmpty()) {
                LEAK_LOG.log(System.Logger.Level.WARNING, LeakScan.report(phys.name(), leaks));
            }
            closeVfio();
            ioremap.close();
            vmalloc.close();
            slab.close();
            buddy.close();
        }
        phys.close();
    }

    // slab.h: SlabApi

    @Override
    public KmemCache kmem_cache_create(String name, long size, long align, int flags, Consumer<MemorySegment> ctor) {
        phys.ensureOpen("kmem_cache_create");
        KmemCacheImpl c = slab.create(name, size, align, flags, ctor);
        return c == null ? null : new KmemCache(c, this);
    }

    @Override
    public long kmem_cache_alloc(KmemCache cache, int gfp) {
        return own(cache, "kmem_cache_alloc").alloc("kmem_cache_alloc", gfp);
    }

    @Override
    public long kmem_cache_zalloc(KmemCache cache, int gfp) {
        return own(cache, "kmem_cache_zalloc").alloc("kmem_cache_zalloc", gfp | Gfp.__GFP_ZERO);
    }

    @Override
    public void kmem_cache_free(KmemCache cache, long objp) {
        slab.cacheFree("kmem_cache_free", own(cache, "kmem_cache_free"), objp);
    }

    @Override
    public int kmem_cache_alloc_bulk(KmemCache cache, int gfp, int size, long[] p) {
        phys.ensureOpen("kmem_cache_alloc_bulk");
        KmemCacheImpl c = own(cache, "kmem_cache_alloc_bulk");
        Gfp.check("kmem_cache_alloc_bulk", gfp);
        if (p == null) {
            throw new NullPointerException("kmem_cache_alloc_bulk: p is null");
        }
        if (size < 0 || size > p.length) {
            throw new IllegalArgumentException("kmem_cache_alloc_bulk(" + cache.name() + "): size " + size
                    + " does not fit the array of " + p.length);
        }
        for (int i = c.allocBulk(gfp, size, p); i < size; i++) {
            p[i] = c.alloc("kmem_cache_alloc_bulk", gfp);
            if (p[i] == 0) {
                for (int k = 0; k < i; k++) {
                    slab.cacheFree("kmem_cache_alloc_bulk", c, p[k]);
                    p[k] = 0;
                }
                return 0;
            }
        }
        return size;
    }

    @Override
    public void kmem_cache_free_bulk(KmemCache cache, int size, long[] p) {
        phys.ensureOpen("kmem_cache_free_bulk");
        if (p == null) {
            throw new NullPointerException("kmem_cache_free_bulk: p is null");
        }
        if (size < 0 || size > p.length) {
            throw new IllegalArgumentException("kmem_cache_free_bulk: size " + size + " does not fit the array of "
                    + p.length);
        }
        KmemCacheImpl c = cache == null ? null : own(cache, "kmem_cache_free_bulk");
        if (c == null) {
            for (int i = 0; i < size; i++) {
                slab.kfree("kmem_cache_free_bulk", p[i]);
            }
            return;
        }
        // Runs of the thread's current slab in one pass; any other object, one by one.
        for (int i = c.freeBulk(p, 0, size); i < size; i = c.freeBulk(p, i + 1, size)) {
            slab.cacheFree("kmem_cache_free_bulk", c, p[i]);
        }
    }

    @Override
    public long kmem_cache_shrink(KmemCache cache) {
        phys.ensureOpen("kmem_cache_shrink");
        return own(cache, "kmem_cache_shrink").shrink();
    }

    @Override
    public void kmem_cache_destroy(KmemCache cache) {
        phys.ensureOpen("kmem_cache_destroy");
        if (cache != null) {
            slab.destroy(own(cache, "kmem_cache_destroy"));
        }
    }

    private KmemCacheImpl own(KmemCache cache, String function) {
        if (cache == null) {
            throw new NullPointerException(function + ": cache is null");
        }
        if (cache.pool != this) {
            throw new IllegalArgumentException(function + "(" + cache.name() + "): the cache belongs to pool '"
                    + cache.pool.name() + "', not '" + phys.name() + "'");
        }
        return cache.impl;
    }

    @Override
    public long kmalloc(long size, int gfp) {
        return slab.kmalloc(size, gfp);
    }

    @Override
    public long kzalloc(long size, int gfp) {
        return slab.kmalloc("kzalloc", size, gfp | Gfp.__GFP_ZERO);
    }

    @Override
    public long kmalloc_array(long n, long size, int gfp) {
        return kmallocArray("kmalloc_array", n, size, gfp);
    }

    @Override
    public long kcalloc(long n, long size, int gfp) {
        return kmallocArray("kcalloc", n, size, gfp | Gfp.__GFP_ZERO);
    }

    private long kmallocArray(String function, long n, long size, int gfp) {
        if (n < 0 || size < 0) {
            phys.ensureOpen(function);
            throw new IllegalArgumentException(function + "(" + n + ", " + size + "): " + (n < 0 ? "n " + n
                    : "size " + size) + " is negative");
        }
        if (size != 0 && n > Long.MAX_VALUE / size) {
            phys.ensureOpen(function);
            Gfp.check(function, gfp);
            return 0;
        }
        return slab.kmalloc(function, n * size, gfp);
    }

    @Override
    public long krealloc(long p, long newSize, int gfp) {
        phys.ensureOpen("krealloc");
        return slab.krealloc(p, newSize, gfp);
    }

    @Override
    public long ksize(long p) {
        phys.ensureOpen("ksize");
        return slab.ksize(p);
    }

    @Override
    public void kfree(long p) {
        slab.kfree(p);
    }

    @Override
    public void kfree_sensitive(long p) {
        phys.ensureOpen("kfree_sensitive");
        slab.kfreeSensitive(p);
    }

    @Override
    public long kmemdup(long src, long len, int gfp) {
        phys.ensureOpen("kmemdup");
        Gfp.check("kmemdup", gfp);
        if (len < 0) {
            throw new IllegalArgumentException("kmemdup(0x" + Long.toHexString(src) + ", " + len + "): len " + len
                    + " is negative");
        }
        return kmemdup(segment("kmemdup", src, len), gfp);
    }

    @Override
    public long kmemdup(MemorySegment src, int gfp) {
        phys.ensureOpen("kmemdup");
        if (src == null) {
            throw new NullPointerException("kmemdup: src is null");
        }
        long p = slab.kmalloc("kmemdup", src.byteSize(), gfp & ~Gfp.__GFP_ZERO);
        if (p != 0 && p != ZERO_SIZE_PTR) {
            MemorySegment.copy(src, 0, phys.directMap(), p - phys.directBase(), src.byteSize());
        }
        return p;
    }

    @Override
    public KmemObjInfo kmem_obj_info(long addr) {
        phys.ensureOpen("kmem_obj_info");
        return slab.objInfo(addr);
    }

    /**
     * {@code /proc/slabinfo}, version 2.1.
     *
     * @return the text: a header, then one line per cache, newest first
     */
    public String slabinfo() {
        phys.ensureOpen("slabinfo");
        return slab.slabinfo();
    }

    /**
     * Per-cache figures: objects, slabs, slow paths, failures.
     *
     * @return one record per cache (kmalloc caches and kmem_cache_create's)
     */
    public List<SlabCacheStats> slabStats() {
        phys.ensureOpen("slabStats");
        return slab.stats();
    }

    /**
     * SLUB's {@code validate} over every cache: free lists, counts, and in debug caches every
     * object's red zones and poison. Returns the problems (each is also reported and fixed up).
     *
     * @return one line per problem; empty when every cache is consistent
     */
    public List<String> validateSlabs() {
        phys.ensureOpen("validateSlabs");
        return slab.validate();
    }

    /**
     * The SLUB reports ("BUG cache (Not tainted): ...") made since the last call; clears them.
     *
     * @return the reports, oldest first; empty when there were none
     */
    public List<String> takeSlabReports() {
        phys.ensureOpen("takeSlabReports");
        return slab.takeReports();
    }

    /**
     * Gives per-thread slabs back to their caches: the calling thread's and ended threads'
     * now, every other thread's at its next slow path.
     */
    public void flushSlabs() {
        phys.ensureOpen("flushSlabs");
        slab.flushAll();
    }

    /**
     * The pool's {@code failslab} fault injection (kmalloc and kmem_cache allocations).
     *
     * @return the pool's one {@code failslab} attribute set, to configure in place
     */
    public FaultAttr failslab() {
        phys.ensureOpen("failslab");
        return slab.failslab();
    }

    /**
     * The pool's {@code fail_page_alloc} fault injection (the page allocator, so also slabs and large kmalloc).
     *
     * @return the pool's one {@code fail_page_alloc} attribute set, to configure in place
     */
    public FaultAttr fail_page_alloc() {
        phys.ensureOpen("fail_page_alloc");
        return buddy.failPageAlloc();
    }

    // vmalloc.h: VmallocApi

    @Override
    public long vmalloc(long size) {
        phys.ensureOpen("vmalloc");
        return vmalloc.vmalloc("vmalloc", size, Gfp.GFP_KERNEL, VmArea.VM_ALLOC);
    }

    @Override
    public long vzalloc(long size) {
        phys.ensureOpen("vzalloc");
        return vmalloc.vmalloc("vzalloc", size, Gfp.GFP_KERNEL | Gfp.__GFP_ZERO, VmArea.VM_ALLOC);
    }

    @Override
    public long __vmalloc(long size, int gfp) {
        phys.ensureOpen("__vmalloc");
        Gfp.check("__vmalloc", gfp);
        if (size < 0) {
            throw new IllegalArgumentException("__vmalloc: size " + size + " is negative");
        }
        if (!Gfp.mayBlock(gfp)) {
            vmalloc.refuse("__vmalloc", size, gfp, "vmalloc may block (it maps memory); this gfp must not");
            return 0;
        }
        return vmalloc.vmalloc("__vmalloc", size, gfp, VmArea.VM_ALLOC);
    }

    @Override
    public long vmalloc_32(long size) {
        phys.ensureOpen("vmalloc_32");
        return vmalloc.vmalloc("vmalloc_32", size, Gfp.GFP_KERNEL | Gfp.GFP_DMA32, VmArea.VM_ALLOC);
    }

    @Override
    public long vmalloc_user(long size) {
        phys.ensureOpen("vmalloc_user");
        return vmalloc.vmalloc("vmalloc_user", size, Gfp.GFP_KERNEL | Gfp.__GFP_ZERO,
                VmArea.VM_ALLOC | VmArea.VM_USERMAP);
    }

    @Override
    public long vcalloc(long n, long size) {
        phys.ensureOpen("vcalloc");
        if (n < 0 || size < 0) {
            throw new IllegalArgumentException("vcalloc(" + n + ", " + size + "): " + (n < 0 ? "n " + n
                    : "size " + size) + " is negative");
        }
        if (size != 0 && n > Long.MAX_VALUE / size) {
            vmalloc.refuse("vcalloc", Long.MAX_VALUE, Gfp.GFP_KERNEL, n + " * " + size + " overflows");
            return 0;
        }
        return vmalloc.vmalloc("vcalloc", n * size, Gfp.GFP_KERNEL | Gfp.__GFP_ZERO, VmArea.VM_ALLOC);
    }

    @Override
    public void vfree(long addr) {
        phys.ensureOpen("vfree");
        vmalloc.vfree("vfree", addr);
    }

    @Override
    public long vmap(long[] pages, int count) {
        phys.ensureOpen("vmap");
        if (pages == null) {
            throw new NullPointerException("vmap: pages is null");
        }
        if (count < 0 || count > pages.length) {
            throw new IllegalArgumentException("vmap: count " + count + " for an array of " + pages.length + " pages");
        }
        int[] idx = new int[count];
        for (int i = 0; i < count; i++) {
            idx[i] = (int) pageIdx("vmap", pages[i]);
        }
        return vmalloc.vmap("vmap", idx);
    }

    @Override
    public void vunmap(long addr) {
        phys.ensureOpen("vunmap");
        vmalloc.vunmap("vunmap", addr);
    }

    @Override
    public boolean is_vmalloc_addr(long addr) {
        phys.ensureOpen("is_vmalloc_addr");
        return vmalloc.isVmallocAddr(addr);
    }

    @Override
    public long vmalloc_to_page(long addr) {
        phys.ensureOpen("vmalloc_to_page");
        long idx = vmalloc.frameAt("vmalloc_to_page", addr);
        return idx < 0 ? 0 : PAGE_TAG | MemMap.pfn(phys.memMap().info(idx));
    }

    @Override
    public long vmalloc_to_pfn(long addr) {
        phys.ensureOpen("vmalloc_to_pfn");
        long idx = vmalloc.frameAt("vmalloc_to_pfn", addr);
        if (idx < 0) {
            throw new BadAddressException("vmalloc_to_pfn(0x" + Long.toHexString(addr) + ") on pool '" + phys.name()
                    + "': no frame is mapped there (a guard page, a freed area or a device mapping)");
        }
        return MemMap.pfn(memMap.info(idx));
    }

    @Override
    public VmStruct find_vm_area(long addr) {
        phys.ensureOpen("find_vm_area");
        VmArea a = vmalloc.find(addr);
        return a == null ? null : new VmStruct(a.start(), a.size() + PhysLayout.PAGE_SIZE, a.flags(), a.nrPages(),
                a.physAddr(), a.caller());
    }

    @Override
    public long kvmalloc(long size, int gfp) {
        phys.ensureOpen("kvmalloc");
        return kvmalloc("kvmalloc", size, gfp);
    }

    private long kvmalloc(String function, long size, int gfp) {
        Gfp.check(function, gfp);
        if (size <= SlabAllocator.KMALLOC_MAX_SIZE) {
            int kgfp = size > PhysLayout.PAGE_SIZE ? (gfp | Gfp.__GFP_NOWARN | Gfp.__GFP_NORETRY) & ~Gfp.__GFP_NOFAIL
                    : gfp;
            long p = slab.kmalloc(function, size, kgfp);
            if (p != 0 || size <= PhysLayout.PAGE_SIZE || !Gfp.mayBlock(gfp)) {
                return p;
            }
        } else if (!Gfp.mayBlock(gfp)) {
            return 0;
        }
        return vmalloc.vmalloc(function, size, gfp, VmArea.VM_ALLOC);
    }

    @Override
    public long kvzalloc(long size, int gfp) {
        phys.ensureOpen("kvzalloc");
        return kvmalloc("kvzalloc", size, gfp | Gfp.__GFP_ZERO);
    }

    @Override
    public void kvfree(long addr) {
        phys.ensureOpen("kvfree");
        if (vmalloc.isVmallocAddr(addr)) {
            vmalloc.vfree("kvfree", addr);
        } else {
            slab.kfree("kvfree", addr);
        }
    }

    /**
     * {@code /proc/vmallocinfo}: one line per area, in address order: {@code start-end size
     * caller pages=N phys=ADDR} and the kind ({@code vmalloc}, {@code vmap}, {@code ioremap},
     * {@code user}); the range and size count the guard page, as the kernel's do.
     *
     * @return the text, one line per area
     */
    public String vmallocinfo() {
        phys.ensureOpen("vmallocinfo");
        return vmalloc.vmallocinfo();
    }

    /**
     * Counters of the vmalloc layer.
     *
     * @return the window's use and the counters since the pool was built
     */
    public VmallocStats vmallocStats() {
        phys.ensureOpen("vmallocStats");
        return vmalloc.stats();
    }

    /**
     * Consistency of the vmalloc window and of every area's frames. Call at rest.
     *
     * @return one line per problem; empty when all is well
     */
    public List<String> checkVmalloc() {
        phys.ensureOpen("checkVmalloc");
        return vmalloc.check();
    }

    // io.h and pci.h: IoApi, PciApi

    /**
     * Where this pool finds sysfs, /dev and procfs ({@link IoRoots#HOST} by default); a test
     * points it at a fake tree. Set it before the first use: mappings already made are not
     * affected, the resource trees keep the host files they were seeded from at their first
     * use, and PCI functions already found stay as found. Returns this pool.
     *
     * @param roots where sysfs, /dev and procfs are
     * @return this pool
     */
    public MemoryPool ioRoots(IoRoots roots) {
        phys.ensureOpen("ioRoots");
        ioremap.roots(roots.sys(), roots.dev(), roots.proc());
        return this;
    }

    /**
     * The roots set with {@link #ioRoots(IoRoots)}.
     *
     * @return the roots in use ({@link IoRoots#HOST} unless set)
     */
    public IoRoots ioRoots() {
        phys.ensureOpen("ioRoots");
        return new IoRoots(ioremap.sysRoot(), ioremap.devRoot(), ioremap.procRoot());
    }

    @Override
    public IoMem ioremap(long phys, long size) {
        this.phys.ensureOpen("ioremap");
        return new IoMem(ioremap.devMem("ioremap", phys, size, false), this);
    }

    @Override
    public IoMem ioremap_uc(long phys, long size) {
        this.phys.ensureOpen("ioremap_uc");
        return new IoMem(ioremap.devMem("ioremap_uc", phys, size, false), this);
    }

    @Override
    public IoMem ioremap_wc(long phys, long size) {
        this.phys.ensureOpen("ioremap_wc");
        return new IoMem(ioremap.devMem("ioremap_wc", phys, size, false), this);
    }

    @Override
    public IoMem ioremap_cache(long phys, long size) {
        this.phys.ensureOpen("ioremap_cache");
        return new IoMem(ioremap.devMem("ioremap_cache", phys, size, true), this);
    }

    @Override
    public IoMem ioremapFile(Path file, long offset, long size) {
        phys.ensureOpen("ioremapFile");
        return new IoMem(ioremap.file("ioremapFile", file, offset, size), this);
    }

    @Override
    public IoMem ioremapUio(int uio, int map) {
        phys.ensureOpen("ioremapUio");
        return new IoMem(ioremap.uio("ioremapUio", uio, map), this);
    }

    @Override
    public void iounmap(IoMem io) {
        iounmap("iounmap", io);
    }

    private void iounmap(String function, IoMem io) {
        if (io == null) {
            throw new NullPointerException(function + ": io is null");
        }
        if (io.pool != this) {
            throw new IllegalArgumentException(function + "(0x" + Long.toHexString(io.address()) + "): the mapping"
                    + " belongs to pool '" + io.pool.name() + "', not '" + phys.name() + "'");
        }
        phys.ensureOpen(function);
        ioremap.unmap(function, io.mapping);
    }

    @Override
    public void iounmap(long addr) {
        phys.ensureOpen("iounmap");
        ioremap.unmap("iounmap", ioremap.lookup("iounmap", addr));
    }

    @Override
    public PciDev pci_get_device(int vendor, int device, PciDev from) {
        phys.ensureOpen("pci_get_device");
        boolean past = from == null;
        for (PciDevImpl d : PciDevImpl.scan(ioremap.sysRoot())) {
            if (!past) {
                past = d.name().equals(from.name());
                continue;
            }
            if ((vendor == PCI_ANY_ID || d.vendor() == vendor) && (device == PCI_ANY_ID || d.device() == device)) {
                return pciDevs.computeIfAbsent(d.name(), n -> new PciDev(d));
            }
        }
        return null;
    }

    @Override
    public PciDev vfio_open(String bdf) {
        phys.ensureOpen("vfio_open");
        if (bdf == null) {
            throw new NullPointerException("vfio_open: bdf is null");
        }
        VfioPreflight.check(ioremap.sysRoot(), ioremap.devRoot(), bdf);
        java.nio.file.Path dir = ioremap.sysRoot().resolve("bus/pci/devices").resolve(bdf);
        PciDev p = pciDevs.computeIfAbsent(bdf, n -> new PciDev(PciDevImpl.read(dir)));
        synchronized (p) {
            if (p.vfio != null) {
                throw new KmemException("vfio_open(" + bdf + "): open already in pool '" + phys.name() + "'");
            }
            p.vfio = VfioPci.open(ioremap.sysRoot(), ioremap.devRoot(), bdf, phys, p.dev().impl, irqs, vfioMapPerCall);
        }
        return p;
    }

    /** At close: every function still open through VFIO is closed (its IOMMU mappings torn down). */
    private void closeVfio() {
        for (PciDev p : pciDevs.values()) {
            synchronized (p) {
                VfioPci v = p.vfio;
                if (v != null) {
                    p.vfio = null;
                    p.dev().impl.translation(null);
                    v.close();
                }
                UioIrq u = p.uio;
                if (u != null) {
                    p.uio = null;
                    irqs.release(u);
                }
            }
        }
    }

    @Override
    public void vfio_close(PciDev dev) {
        phys.ensureOpen("vfio_close");
        PciDevImpl d = pci(dev, "vfio_close");
        synchronized (dev) {
            VfioPci v = dev.vfio;
            if (v == null) {
                throw new KmemException("vfio_close(" + d.name() + "): not open through VFIO (vfio_open opens it)");
            }
            dev.vfio = null;
            dev.dev().impl.translation(null);
            v.close();
        }
    }

    // interrupt.h and the PCI vectors

    /** The pool's interrupt lines: irq numbers, their threads and counts. */
    private final IrqTable irqs = new IrqTable();

    @Override
    public int pci_alloc_irq_vectors(PciDev dev, int min, int max, int flags) {
        phys.ensureOpen("pci_alloc_irq_vectors");
        PciDevImpl d = pci(dev, "pci_alloc_irq_vectors");
        if (min < 1 || max < min) {
            throw new IllegalArgumentException("pci_alloc_irq_vectors(" + d.name() + ", min=" + min + ", max=" + max
                    + "): expected 1 <= min <= max");
        }
        if ((flags & ~PCI_IRQ_ALL_TYPES) != 0 || (flags & PCI_IRQ_ALL_TYPES) == 0) {
            throw new IllegalArgumentException("pci_alloc_irq_vectors(" + d.name() + ", flags=0x"
                    + Integer.toHexString(flags) + "): expected PCI_IRQ_MSIX, PCI_IRQ_MSI and/or PCI_IRQ_INTX");
        }
        synchronized (dev) {
            VfioPci v = dev.vfio;
            if (v != null) {
                return v.irqs().alloc(min, max, flags);
            }
            if (dev.uio != null) {
                throw new KmemException("pci_alloc_irq_vectors(" + d.name() + "): vectors are allocated already;"
                        + " pci_free_irq_vectors first");
            }
            UioIrq u = UioIrq.find("pci_alloc_irq_vectors", d.dir(), d.name(), ioremap.devRoot());
            if ((flags & PCI_IRQ_INTX) == 0 || min > 1) {
                return -Libc.ENOSPC();
            }
            irqs.allocate(u);
            dev.uio = u;
            return 1;
        }
    }

    @Override
    public int pci_irq_vector(PciDev dev, int nr) {
        phys.ensureOpen("pci_irq_vector");
        pci(dev, "pci_irq_vector");
        VfioPci v = dev.vfio;
        if (v != null) {
            return v.irqs().vector(nr);
        }
        UioIrq u = dev.uio;
        return u != null && nr == 0 ? irqs.irqOf(u) : -Libc.EINVAL();
    }

    @Override
    public void pci_free_irq_vectors(PciDev dev) {
        phys.ensureOpen("pci_free_irq_vectors");
        pci(dev, "pci_free_irq_vectors");
        synchronized (dev) {
            VfioPci v = dev.vfio;
            if (v != null) {
                v.irqs().free();
                return;
            }
            UioIrq u = dev.uio;
            if (u != null) {
                irqs.release(u);
                dev.uio = null;
            }
        }
    }

    @Override
    public int request_irq(int irq, IrqHandler handler, String name) {
        phys.ensureOpen("request_irq");
        if (handler == null) {
            throw new NullPointerException("request_irq(" + irq + "): handler is null");
        }
        if (name == null) {
            throw new NullPointerException("request_irq(" + irq + "): name is null");
        }
        if (name.isEmpty()) {
            throw new IllegalArgumentException("request_irq(" + irq + "): name is empty; expected the device's name");
        }
        return irqs.request(irq, handler::handle, name);
    }

    @Override
    public void free_irq(int irq) {
        phys.ensureOpen("free_irq");
        irqs.free(irq);
    }

    @Override
    public long kstat_irqs(int irq) {
        phys.ensureOpen("kstat_irqs");
        return irqs.count(irq);
    }

    @Override
    public String interrupts() {
        phys.ensureOpen("interrupts");
        return irqs.report() + "BUG: sleeping function called from invalid context: " + AtomicContext.reported()
                + " reports\n";
    }

    @Override
    public void pci_enable_device(PciDev dev) {
        phys.ensureOpen("pci_enable_device");
        VfioPci v = dev == null ? null : dev.vfio;
        if (v != null) {
            v.device().setCommand("pci_enable_device", PciDevImpl.PCI_COMMAND_MEMORY, true);
            return;
        }
        pci(dev, "pci_enable_device").enable("pci_enable_device");
    }

    @Override
    public void pci_disable_device(PciDev dev) {
        phys.ensureOpen("pci_disable_device");
        VfioPci v = dev == null ? null : dev.vfio;
        if (v != null) {
            // vfio-pci keeps the function enabled while it is open; bus mastering stops here.
            v.device().setCommand("pci_disable_device", PciDevImpl.PCI_COMMAND_MASTER, false);
            return;
        }
        pci(dev, "pci_disable_device").disable("pci_disable_device");
    }

    @Override
    public void pci_set_master(PciDev dev) {
        phys.ensureOpen("pci_set_master");
        phys.warnIfMovable("pci_set_master");
        cfg(dev, "pci_set_master").setCommand("pci_set_master", PciDevImpl.PCI_COMMAND_MASTER, true);
    }

    @Override
    public void pci_clear_master(PciDev dev) {
        phys.ensureOpen("pci_clear_master");
        cfg(dev, "pci_clear_master").setCommand("pci_clear_master", PciDevImpl.PCI_COMMAND_MASTER, false);
    }

    @Override
    public long pci_resource_start(PciDev dev, int bar) {
        phys.ensureOpen("pci_resource_start");
        return pci(dev, "pci_resource_start").bar("pci_resource_start", bar).start();
    }

    @Override
    public long pci_resource_end(PciDev dev, int bar) {
        phys.ensureOpen("pci_resource_end");
        return pci(dev, "pci_resource_end").bar("pci_resource_end", bar).end();
    }

    @Override
    public long pci_resource_len(PciDev dev, int bar) {
        phys.ensureOpen("pci_resource_len");
        return pci(dev, "pci_resource_len").bar("pci_resource_len", bar).len();
    }

    @Override
    public long pci_resource_flags(PciDev dev, int bar) {
        phys.ensureOpen("pci_resource_flags");
        return pci(dev, "pci_resource_flags").bar("pci_resource_flags", bar).flags();
    }

    @Override
    public int pci_read_config_byte(PciDev dev, int where) {
        phys.ensureOpen("pci_read_config_byte");
        return cfg(dev, "pci_read_config_byte").readConfig("pci_read_config_byte", where, 1);
    }

    @Override
    public int pci_read_config_word(PciDev dev, int where) {
        phys.ensureOpen("pci_read_config_word");
        return cfg(dev, "pci_read_config_word").readConfig("pci_read_config_word", where, 2);
    }

    @Override
    public int pci_read_config_dword(PciDev dev, int where) {
        phys.ensureOpen("pci_read_config_dword");
        return cfg(dev, "pci_read_config_dword").readConfig("pci_read_config_dword", where, 4);
    }

    @Override
    public void pci_write_config_byte(PciDev dev, int where, int val) {
        phys.ensureOpen("pci_write_config_byte");
        cfg(dev, "pci_write_config_byte").writeConfig("pci_write_config_byte", where, 1, val);
    }

    @Override
    public void pci_write_config_word(PciDev dev, int where, int val) {
        phys.ensureOpen("pci_write_config_word");
        cfg(dev, "pci_write_config_word").writeConfig("pci_write_config_word", where, 2, val);
    }

    @Override
    public void pci_write_config_dword(PciDev dev, int where, int val) {
        phys.ensureOpen("pci_write_config_dword");
        cfg(dev, "pci_write_config_dword").writeConfig("pci_write_config_dword", where, 4, val);
    }

    @Override
    public IoMem pci_iomap(PciDev dev, int bar, long maxlen) {
        return pciIomap("pci_iomap", dev, bar, 0, maxlen, false);
    }

    @Override
    public IoMem pci_iomap_wc(PciDev dev, int bar, long maxlen) {
        return pciIomap("pci_iomap_wc", dev, bar, 0, maxlen, true);
    }

    @Override
    public IoMem pci_iomap_range(PciDev dev, int bar, long offset, long maxlen) {
        return pciIomap("pci_iomap_range", dev, bar, offset, maxlen, false);
    }

    @Override
    public void pci_iounmap(PciDev dev, IoMem io) {
        phys.ensureOpen("pci_iounmap");
        iounmap("pci_iounmap", io);
    }

    @Override
    public PciDev pci_get_class(int cls, PciDev from) {
        phys.ensureOpen("pci_get_class");
        if ((cls & ~0xffffff) != 0) {
            throw new IllegalArgumentException("pci_get_class(0x" + Integer.toHexString(cls) + "): expected a 24-bit"
                    + " class code (class, subclass, programming interface)");
        }
        boolean past = from == null;
        for (PciDevImpl d : PciDevImpl.scan(ioremap.sysRoot())) {
            if (!past) {
                past = d.name().equals(from.name());
                continue;
            }
            if (d.classCode() == cls) {
                return pciDevs.computeIfAbsent(d.name(), n -> new PciDev(d));
            }
        }
        return null;
    }

    @Override
    public int pci_find_capability(PciDev dev, int cap) {
        phys.ensureOpen("pci_find_capability");
        PciDevImpl d = pci(dev, "pci_find_capability");
        checkCapId("pci_find_capability", d, cap, 0xff);
        return d.findCapability("pci_find_capability", cap);
    }

    @Override
    public int pci_find_next_capability(PciDev dev, int pos, int cap) {
        phys.ensureOpen("pci_find_next_capability");
        PciDevImpl d = pci(dev, "pci_find_next_capability");
        checkCapId("pci_find_next_capability", d, cap, 0xff);
        if (pos < 0x40 || pos > 0xfc) {
            throw new IllegalArgumentException("pci_find_next_capability(" + d.name() + ", 0x" + Integer.toHexString(pos)
                    + "): expected the offset of a capability, 0x40 to 0xfc");
        }
        return d.findNextCapability("pci_find_next_capability", pos, cap);
    }

    @Override
    public int pci_find_ext_capability(PciDev dev, int cap) {
        phys.ensureOpen("pci_find_ext_capability");
        PciDevImpl d = pci(dev, "pci_find_ext_capability");
        checkCapId("pci_find_ext_capability", d, cap, 0xffff);
        return d.findNextExtCapability("pci_find_ext_capability", 0, cap);
    }

    @Override
    public int pci_find_next_ext_capability(PciDev dev, int start, int cap) {
        phys.ensureOpen("pci_find_next_ext_capability");
        PciDevImpl d = pci(dev, "pci_find_next_ext_capability");
        checkCapId("pci_find_next_ext_capability", d, cap, 0xffff);
        if (start != 0 && (start < 0x100 || start > 0xffc)) {
            throw new IllegalArgumentException("pci_find_next_ext_capability(" + d.name() + ", 0x"
                    + Integer.toHexString(start) + "): expected 0 or the offset of an extended capability, 0x100 to"
                    + " 0xffc");
        }
        return d.findNextExtCapability("pci_find_next_ext_capability", start, cap);
    }

    private static void checkCapId(String function, PciDevImpl d, int cap, int max) {
        if (cap < 0 || cap > max) {
            throw new IllegalArgumentException(function + "(" + d.name() + ", cap 0x" + Integer.toHexString(cap)
                    + "): expected a capability id from 0 to 0x" + Integer.toHexString(max));
        }
    }

    @Override
    public void pci_intx(PciDev dev, boolean enable) {
        phys.ensureOpen("pci_intx");
        pci(dev, "pci_intx").setCommand("pci_intx", PciDevImpl.PCI_COMMAND_INTX_DISABLE, !enable);
    }

    private IoMem pciIomap(String function, PciDev dev, int bar, long offset, long maxlen, boolean wc) {
        phys.ensureOpen(function);
        PciDevImpl d = pci(dev, function);
                VfioPci v = dev.vfio;
        if (v != null) {
            var region = v.device().bar(function, bar);
            if (offset < 0 || offset >= region.size() || maxlen < 0) {
                throw new BadAddressException(function + "(" + d.name() + ", BAR " + bar + "): offset " + offset
                        + " and length " + maxlen + " do not fit the BAR of " + region.size() + " bytes");
            }
            long len = maxlen == 0 ? region.size() - offset : Math.min(maxlen, region.size() - offset);
            return new IoMem(ioremap.vfioRegion(function, v.device().fd(), "vfio " + d.name() + " BAR" + bar,
                    region.offset(), offset, len, d.bar(function, bar).start()), this);
        }
        var r = d.barRange(function, bar, offset, maxlen, wc);
        try {
            return new IoMem(ioremap.pciResource(function, r.file(), r.barStart(), r.offset(), r.len(), r.wc()), this);
        } catch (SyscallException e) {
            String hint = d.boundDriverHint();
            if (hint == null) {
                throw e;
            }
            var x = new SyscallException(e.call(), e.errno(), e.errnoName(), function + "(" + d.name()
                    + ", BAR " + bar + "): " + e.getMessage() + "; " + hint);
            x.initCause(e);
            throw x;
        }
    }

    @Override
    public Resource request_mem_region(long start, long n, String name) {
        phys.ensureOpen("request_mem_region");
        return resource(ioResources.requestMemRegion(start, n, name));
    }

    @Override
    public void release_mem_region(long start, long n) {
        phys.ensureOpen("release_mem_region");
        ioResources.releaseMemRegion(start, n);
    }

    @Override
    public Resource request_region(long start, long n, String name) {
        phys.ensureOpen("request_region");
        return resource(ioResources.requestRegion(start, n, name));
    }

    @Override
    public void release_region(long start, long n) {
        phys.ensureOpen("release_region");
        ioResources.releaseRegion(start, n);
    }

    /**
     * {@code /proc/iomem}: the host's resources (as root) with this pool's requests nested in them.
     *
     * @return the text in the kernel's format
     */
    public String iomem() {
        phys.ensureOpen("iomem");
        return ioResources.iomem();
    }

    /**
     * {@code /proc/ioports}: the same for I/O ports.
     *
     * @return the text in the kernel's format
     */
    public String ioports() {
        phys.ensureOpen("ioports");
        return ioResources.ioports();
    }

    private static Resource resource(ResourceTree.Region r) {
        return new Resource(r.name(), r.start(), r.end(), r.owner());
    }

    // dma-mapping.h and dmapool.h: DmaApi

    private DmaDirect dma() {
        DmaDirect d = dma;
        if (d == null) {
            synchronized (this) {
                d = dma;
                if (d == null) {
                    dma = d = new DmaDirect(phys, buddy);
                }
            }
        }
        return d;
    }

    @Override
    public int dma_set_mask(Device dev, long mask) {
        phys.ensureOpen("dma_set_mask");
        return dma().setMask(dev(dev, "dma_set_mask"), mask);
    }

    @Override
    public int dma_set_coherent_mask(Device dev, long mask) {
        phys.ensureOpen("dma_set_coherent_mask");
        return dma().setCoherentMask(dev(dev, "dma_set_coherent_mask"), mask);
    }

    @Override
    public int dma_set_mask_and_coherent(Device dev, long mask) {
        phys.ensureOpen("dma_set_mask_and_coherent");
        int rc = dma().setMask(dev(dev, "dma_set_mask_and_coherent"), mask);
        return rc != 0 ? rc : dma().setCoherentMask(dev(dev, "dma_set_mask_and_coherent"), mask);
    }

    @Override
    public long dma_get_mask(Device dev) {
        phys.ensureOpen("dma_get_mask");
        return dev(dev, "dma_get_mask").dmaMask();
    }

    @Override
    public boolean dma_supported(Device dev, long mask) {
        phys.ensureOpen("dma_supported");
        return dma().supported(mask);
    }

    @Override
    public DmaBuffer dma_alloc_coherent(Device dev, long size, int gfp) {
        phys.ensureOpen("dma_alloc_coherent");
        phys.warnIfMovable("dma_alloc_coherent");
        long cpu = dma().allocCoherent(dev(dev, "dma_alloc_coherent"), size, gfp);
        return cpu == 0 ? null : new DmaBuffer(cpu, dma().dmaAddress(dev(dev, "dma_alloc_coherent"), cpu), size,
                phys.directMap().asSlice(cpu - phys.directBase(), size), this);
    }

    @Override
    public void dma_free_coherent(Device dev, long size, long cpuAddr, long dmaHandle) {
        phys.ensureOpen("dma_free_coherent");
        dma().freeCoherent(dev(dev, "dma_free_coherent"), size, cpuAddr, dmaHandle);
    }

    @Override
    public void dma_free_coherent(Device dev, DmaBuffer buf) {
        phys.ensureOpen("dma_free_coherent");
        if (buf == null) {
            throw new NullPointerException("dma_free_coherent: buf is null");
        }
        dma().freeCoherent(dev(dev, "dma_free_coherent"), buf.size(), buf.cpuAddr(), buf.dmaHandle());
    }

    @Override
    public long dma_map_single(Device dev, long cpuAddr, long size, DmaDirection dir) {
        phys.ensureOpen("dma_map_single");
        phys.warnIfMovable("dma_map_single");
        return dma().mapSingle(dev(dev, "dma_map_single"), cpuAddr, size, dir(dir, "dma_map_single"));
    }

    @Override
    public void dma_unmap_single(Device dev, long dmaAddr, long size, DmaDirection dir) {
        phys.ensureOpen("dma_unmap_single");
        dma().unmap("dma_unmap_single", dev(dev, "dma_unmap_single"), dmaAddr, size, dir(dir, "dma_unmap_single"),
                DeviceImpl.MapKind.SINGLE);
    }

    @Override
    public long dma_map_page(Device dev, long page, long offset, long size, DmaDirection dir) {
        phys.ensureOpen("dma_map_page");
        phys.warnIfMovable("dma_map_page");
        return dma().mapPage(dev(dev, "dma_map_page"), pageToPhys("dma_map_page", page), offset, size,
                dir(dir, "dma_map_page"));
    }

    @Override
    public void dma_unmap_page(Device dev, long dmaAddr, long size, DmaDirection dir) {
        phys.ensureOpen("dma_unmap_page");
        dma().unmap("dma_unmap_page", dev(dev, "dma_unmap_page"), dmaAddr, size, dir(dir, "dma_unmap_page"),
                DeviceImpl.MapKind.PAGE);
    }

    @Override
    public boolean dma_mapping_error(Device dev, long dmaAddr) {
        return dmaAddr == DMA_MAPPING_ERROR;
    }

    @Override
    public void dma_sync_single_for_cpu(Device dev, long dmaAddr, long size, DmaDirection dir) {
        phys.ensureOpen("dma_sync_single_for_cpu");
        dma().sync("dma_sync_single_for_cpu", dev(dev, "dma_sync_single_for_cpu"), dmaAddr, size,
                dir(dir, "dma_sync_single_for_cpu"), true);
    }

    @Override
    public void dma_sync_single_for_device(Device dev, long dmaAddr, long size, DmaDirection dir) {
        phys.ensureOpen("dma_sync_single_for_device");
        dma().sync("dma_sync_single_for_device", dev(dev, "dma_sync_single_for_device"), dmaAddr, size,
                dir(dir, "dma_sync_single_for_device"), false);
    }

    @Override
    public int dma_map_sg(Device dev, SgTable sgt, int nents, DmaDirection dir) {
        phys.ensureOpen("dma_map_sg");
        phys.warnIfMovable("dma_map_sg");
        return dma().mapSg("dma_map_sg", dev(dev, "dma_map_sg"), sgt(sgt, "dma_map_sg"), nents, dir(dir, "dma_map_sg"));
    }

    @Override
    public void dma_unmap_sg(Device dev, SgTable sgt, int nents, DmaDirection dir) {
        phys.ensureOpen("dma_unmap_sg");
        dma().unmapSg("dma_unmap_sg", dev(dev, "dma_unmap_sg"), sgt(sgt, "dma_unmap_sg"), nents,
                dir(dir, "dma_unmap_sg"));
    }

    @Override
    public int dma_map_sgtable(Device dev, SgTable sgt, DmaDirection dir) {
        phys.ensureOpen("dma_map_sgtable");
        phys.warnIfMovable("dma_map_sgtable");
        SgTableImpl t = sgt(sgt, "dma_map_sgtable");
        int n = dma().mapSg("dma_map_sgtable", dev(dev, "dma_map_sgtable"), t, t.origNents(),
                dir(dir, "dma_map_sgtable"));
        if (n == 0) {
            return -io.kmem.bindings.Libc.EIO();
        }
        t.nents(n);
        return 0;
    }

    @Override
    public void dma_unmap_sgtable(Device dev, SgTable sgt, DmaDirection dir) {
        phys.ensureOpen("dma_unmap_sgtable");
        SgTableImpl t = sgt(sgt, "dma_unmap_sgtable");
        dma().unmapSg("dma_unmap_sgtable", dev(dev, "dma_unmap_sgtable"), t, t.origNents(),
                dir(dir, "dma_unmap_sgtable"));
        t.nents(t.origNents());
    }

    @Override
    public void dma_sync_sg_for_cpu(Device dev, SgTable sgt, int nents, DmaDirection dir) {
        phys.ensureOpen("dma_sync_sg_for_cpu");
        dma().syncSg("dma_sync_sg_for_cpu", dev(dev, "dma_sync_sg_for_cpu"), sgt(sgt, "dma_sync_sg_for_cpu"), nents,
                dir(dir, "dma_sync_sg_for_cpu"), true);
    }

    @Override
    public void dma_sync_sg_for_device(Device dev, SgTable sgt, int nents, DmaDirection dir) {
        phys.ensureOpen("dma_sync_sg_for_device");
        dma().syncSg("dma_sync_sg_for_device", dev(dev, "dma_sync_sg_for_device"), sgt(sgt, "dma_sync_sg_for_device"),
                nents, dir(dir, "dma_sync_sg_for_device"), false);
    }

    @Override
    public int dma_set_max_seg_size(Device dev, long size) {
        phys.ensureOpen("dma_set_max_seg_size");
        DeviceImpl d = dev(dev, "dma_set_max_seg_size");
        if (size < 1 || size > 0xffffffffL) {
            throw new IllegalArgumentException("dma_set_max_seg_size(" + d.name() + ", " + size + "): expected 1 to"
                    + " UINT_MAX bytes");
        }
        d.maxSegSize(size);
        return 0;
    }

    @Override
    public long dma_get_max_seg_size(Device dev) {
        phys.ensureOpen("dma_get_max_seg_size");
        return dev(dev, "dma_get_max_seg_size").maxSegSize();
    }

    // scatterlist.h: ScatterlistApi

    @Override
    public SgTable sg_alloc_table(int nents, int gfp) {
        phys.ensureOpen("sg_alloc_table");
        Gfp.check("sg_alloc_table", gfp);
        if (nents < 1) {
            throw new IllegalArgumentException("sg_alloc_table(" + nents + "): expected 1 or more entries");
        }
        return new SgTable(this, new SgTableImpl(nents));
    }

    @Override
    public SgTable sg_alloc_table_from_pages(long[] pages, int n_pages, long offset, long size, int gfp) {
        phys.ensureOpen("sg_alloc_table_from_pages");
        Gfp.check("sg_alloc_table_from_pages", gfp);
        if (pages == null) {
            throw new NullPointerException("sg_alloc_table_from_pages: pages is null");
        }
        if (n_pages < 1 || n_pages > pages.length || offset < 0 || offset >= PhysLayout.PAGE_SIZE || size < 1
                || size > ((long) n_pages << PhysLayout.PAGE_SHIFT) - offset) {
            throw new IllegalArgumentException(String.format("sg_alloc_table_from_pages(%d pages given, n_pages %d,"
                    + " offset %d, size %d): expected 1 to %d pages, an offset below 4096 and 1 to n_pages * 4096 -"
                    + " offset bytes", pages.length, n_pages, offset, size, pages.length));
        }
        long[] pfns = new long[n_pages];
        for (int i = 0; i < n_pages; i++) {
            pfns[i] = pageToPfn("sg_alloc_table_from_pages", pages[i]);
        }
        return fromPfns(pfns, offset, size);
    }

    @Override
    public SgTable sg_alloc_table_from_vmalloc(long addr, long size, int gfp) {
        phys.ensureOpen("sg_alloc_table_from_vmalloc");
        Gfp.check("sg_alloc_table_from_vmalloc", gfp);
        if (size < 1) {
            throw new IllegalArgumentException("sg_alloc_table_from_vmalloc(0x" + Long.toHexString(addr) + ", " + size
                    + "): expected a size of 1 or more");
        }
        VmArea a = vmalloc.find(addr);
        if (a == null || !vmalloc.isVmallocAddr(addr) || addr + size > a.start() + a.size() || addr + size < addr) {
            throw new BadAddressException(String.format("sg_alloc_table_from_vmalloc(0x%x, %d): not inside one vmalloc"
                    + " area of pool '%s'%s", addr, size, phys.name(), a == null ? "" : " (" + a.start() + " +"
                    + a.size() + ")"));
        }
        long first = addr & PhysLayout.PAGE_MASK;
        int n = (int) ((addr + size - first + PhysLayout.PAGE_SIZE - 1) >>> PhysLayout.PAGE_SHIFT);
        long[] pfns = new long[n];
        for (int i = 0; i < n; i++) {
            long idx = vmalloc.frameAt("sg_alloc_table_from_vmalloc", first + ((long) i << PhysLayout.PAGE_SHIFT));
            if (idx < 0) {
                throw new BadAddressException(String.format("sg_alloc_table_from_vmalloc(0x%x, %d): page %d of the"
                        + " range has no frame (a device mapping?)", addr, size, i));
            }
            pfns[i] = MemMap.pfn(memMap.info(idx));
        }
        return fromPfns(pfns, addr - first, size);
    }

    /** Runs of consecutive PFNs become entries, as {@code sg_alloc_append_table_from_pages} merges them. */
    private SgTable fromPfns(long[] pfns, long offset, long size) {
        long maxSegment = 0xffffffffL & PhysLayout.PAGE_MASK;
        int chunks = 0;
        long[] start = new long[pfns.length];
        int[] pagesIn = new int[pfns.length];
        for (int i = 0; i < pfns.length; i++) {
            if (chunks > 0 && pfns[i] == start[chunks - 1] + pagesIn[chunks - 1]
                    && ((long) pagesIn[chunks - 1] + 1 << PhysLayout.PAGE_SHIFT) <= maxSegment) {
                pagesIn[chunks - 1]++;
            } else {
                start[chunks] = pfns[i];
                pagesIn[chunks++] = 1;
            }
        }
        SgTableImpl t = new SgTableImpl(chunks);
        long left = size;
        long off = offset;
        for (int c = 0; c < chunks; c++) {
            long len = Math.min(((long) pagesIn[c] << PhysLayout.PAGE_SHIFT) - off, left);
            t.set(c, start[c], (int) off, (int) len);
            left -= len;
            off = 0;
        }
        return new SgTable(this, t);
    }

    @Override
    public void sg_set_page(Scatterlist sg, long page, int len, int offset) {
        SgTableImpl t = sgEntry(sg, "sg_set_page");
        long pfn = pageToPfn("sg_set_page", page);
        if (len < 1 || offset < 0) {
            throw new IllegalArgumentException("sg_set_page(entry " + sg.index + ", 0x" + Long.toHexString(page) + ", "
                    + len + ", " + offset + "): expected a length of 1 or more and an offset of 0 or more");
        }
        long last = pfn + ((offset + (long) len - 1) >>> PhysLayout.PAGE_SHIFT);
        for (long p = pfn + (offset >>> PhysLayout.PAGE_SHIFT); p <= last; p++) {
            if (phys.pfnToIdx(p) < 0) {
                throw new BadAddressException(String.format("sg_set_page(entry %d, 0x%x, %d, %d): the range reaches"
                        + " frame 0x%x, which pool '%s' does not hold", sg.index, page, len, offset, p, phys.name()));
            }
        }
        t.set(sg.index, pfn, offset, len);
    }

    @Override
    public void sg_free_table(SgTable sgt) {
        phys.ensureOpen("sg_free_table");
        if (sgt == null) {
            throw new NullPointerException("sg_free_table: sgt is null");
        }
        if (sgt.pool != this) {
            throw new IllegalArgumentException("sg_free_table: the sg_table belongs to pool '" + sgt.pool.name()
                    + "', not '" + phys.name() + "'");
        }
        sgt.impl.free("sg_free_table");
    }

    @Override
    public long sg_page(Scatterlist sg) {
        SgTableImpl t = sgEntry(sg, "sg_page");
        return t.length(sg.index) == 0 ? 0 : PAGE_TAG | t.pfn(sg.index);
    }

    @Override
    public long sg_virt(Scatterlist sg) {
        SgTableImpl t = setEntry(sg, "sg_virt");
        return phys.directAddress(t.pfn(sg.index)) + t.offset(sg.index);
    }

    @Override
    public long sg_phys(Scatterlist sg) {
        SgTableImpl t = setEntry(sg, "sg_phys");
        return pageToPhys("sg_phys", PAGE_TAG | t.pfn(sg.index)) + t.offset(sg.index);
    }

    @Override
    public long sg_dma_address(Scatterlist sg) {
        return sgEntry(sg, "sg_dma_address").dmaAddress(sg.index);
    }

    @Override
    public int sg_dma_len(Scatterlist sg) {
        return sgEntry(sg, "sg_dma_len").dmaLength(sg.index);
    }

    private SgTableImpl sgt(SgTable sgt, String function) {
        if (sgt == null) {
            throw new NullPointerException(function + ": sgt is null");
        }
        if (sgt.pool != this) {
            throw new IllegalArgumentException(function + ": the sg_table belongs to pool '" + sgt.pool.name()
                    + "', not '" + phys.name() + "'");
        }
        return sgt.impl;
    }

    private SgTableImpl sgEntry(Scatterlist sg, String function) {
        phys.ensureOpen(function);
        if (sg == null) {
            throw new NullPointerException(function + ": sg is null");
        }
        SgTableImpl t = sgt(sg.table, function);
        if (t.freed()) {
            throw new BadAddressException(function + "(entry " + sg.index + "): the sg_table was freed by sg_free_table");
        }
        return t;
    }

    private SgTableImpl setEntry(Scatterlist sg, String function) {
        SgTableImpl t = sgEntry(sg, function);
        if (t.length(sg.index) == 0) {
            throw new BadAddressException(function + "(entry " + sg.index + "): the entry is not set (sg_set_page)");
        }
        return t;
    }

    @Override
    public DmaPool dma_pool_create(String name, Device dev, long size, long align, long boundary) {
        phys.ensureOpen("dma_pool_create");
        return new DmaPool(DmaPoolImpl.create(dma(), name, dev(dev, "dma_pool_create"), size, align, boundary),
                this);
    }

    @Override
    public long dma_pool_alloc(DmaPool pool, int gfp, long[] handle) {
        DmaPoolImpl p = own(pool, "dma_pool_alloc");
        if (handle == null) {
            throw new NullPointerException("dma_pool_alloc: handle is null");
        }
        return p.alloc(Gfp.check("dma_pool_alloc", gfp), handle, (gfp & Gfp.__GFP_ZERO) != 0);
    }

    @Override
    public long dma_pool_zalloc(DmaPool pool, int gfp, long[] handle) {
        DmaPoolImpl p = own(pool, "dma_pool_zalloc");
        if (handle == null) {
            throw new NullPointerException("dma_pool_zalloc: handle is null");
        }
        return p.alloc(Gfp.check("dma_pool_zalloc", gfp), handle, true);
    }

    @Override
    public void dma_pool_free(DmaPool pool, long vaddr, long dmaAddr) {
        own(pool, "dma_pool_free").free(vaddr, dmaAddr);
    }

    @Override
    public void dma_pool_destroy(DmaPool pool) {
        if (pool != null) {
            own(pool, "dma_pool_destroy").destroy();
        } else {
            phys.ensureOpen("dma_pool_destroy");
        }
    }

    /**
     * The DMA reports (busy dma_pool_destroy) made since the last call; clears them.
     *
     * @return the reports, oldest first; empty when there were none
     */
    public List<String> takeDmaReports() {
        phys.ensureOpen("takeDmaReports");
        return dma().takeReports();
    }

    private DmaPoolImpl own(DmaPool pool, String function) {
        phys.ensureOpen(function);
        if (pool == null) {
            throw new NullPointerException(function + ": pool is null");
        }
        if (pool.pool != this) {
            throw new IllegalArgumentException(function + "(" + pool.name() + "): the DMA pool belongs to pool '"
                    + pool.pool.name() + "', not '" + phys.name() + "'");
        }
        return pool.impl;
    }

    /** The DMA side of {@code dev}; a null device throws naming {@code function}. */
    private static DeviceImpl dev(Device dev, String function) {
        if (dev == null) {
            throw new NullPointerException(function + ": dev is null");
        }
        return dev.impl;
    }

    /** The kernel's value of {@code dir}; a null direction throws naming {@code function}. */
    private static int dir(DmaDirection dir, String function) {
        if (dir == null) {
            throw new NullPointerException(function + ": dir is null");
        }
        return dir.ordinal();
    }

    /** Configuration space of {@code dev}: through VFIO while it is open so, else sysfs. */
    private static ConfigSpace cfg(PciDev dev, String function) {
        PciDevImpl d = pci(dev, function);
        VfioPci v = dev.vfio;
        return v != null ? v.device() : d;
    }

    /** The sysfs side of {@code dev}; a null function throws naming {@code function}. */
    private static PciDevImpl pci(PciDev dev, String function) {
        if (dev == null) {
            throw new NullPointerException(function + ": dev is null");
        }
        return dev.impl;
    }

    // Reports the kmem tool draws

    /**
     * Who owns each frame right now: free (by block order), a per-thread page cache, a page
     * allocator block, a slab (and its cache), a large kmalloc, vmalloc, reserved. What
     * {@code kmem map} draws. Read from mem_map without the allocators' locks: take it when no
     * other thread allocates or frees.
     *
     * @return the snapshot, one entry per frame in PFN order
     */
    public FrameOwners frameOwners() {
        phys.ensureOpen("frameOwners");
        return FrameOwnerScan.snapshot(phys, slab);
    }

    /**
     * {@code kmem_cache_shrink} of every cache, the kmalloc caches included: their empty slabs
     * go back to the page allocator (other threads' current slabs at their next slow path).
     * Returns the pages released.
     *
     * @return the 4 KiB pages given back to the page allocator
     */
    public long shrinkSlabs() {
        phys.ensureOpen("shrinkSlabs");
        return slab.shrinkAll();
    }

    /**
     * The slab layer's large kmalloc counters (allocations, frees, failures) and misuse count.
     *
     * @return the counters since the pool was built
     */
    public LargeKmallocStats slabLargeStats() {
        phys.ensureOpen("slabLargeStats");
        return slab.largeStats();
    }

    // Page handles

    private long pageOfPfn(String function, long pfn) {
        if (pfn < 0 || pfn > ~PAGE_TAG_MASK || phys.pfnToIdx(pfn) < 0) {
            throw new BadAddressException(function + ": pfn 0x" + Long.toHexString(pfn) + " is not a frame of pool '"
                    + phys.name() + "'");
        }
        return PAGE_TAG | pfn;
    }

    /** The frame index of a page handle ({@code PAGE_TAG | pfn}), checked. */
    private long pageIdx(String function, long page) {
        phys.ensureOpen(function);
        long idx = (page & PAGE_TAG_MASK) == PAGE_TAG ? phys.pfnToIdx(page & ~PAGE_TAG_MASK) : -1;
        if (idx < 0 || (phys.memMap().info(idx) & MemMap.PG_PRESENT) == 0) {
            throw new BadAddressException(function + ": 0x" + Long.toHexString(page) + " is not a page handle of pool '"
                    + phys.name() + "' (expected a value from alloc_pages, virt_to_page or pfn_to_page, not an address"
                    + " or a PFN)");
        }
        return idx;
    }

    /** Builds a {@link MemoryPool}. */
    public static final class Builder {
        private String name = "kmem";
        private long smallBytes = 64L << 20;
        private long huge2mBytes;
        private long huge1gBytes;
        private long maxSmallBytes = -1;
        private long maxHuge2mBytes = -1;
        private long dmaMask = -1;
        private boolean unprivileged;
        private Duration allocWait = Duration.ofSeconds(1);
        private String slubDebug = System.getProperty("kmem.slub_debug");
        private long vmallocWindow = Vmalloc.DEFAULT_WINDOW;
        private boolean requireLongTermPin;
        private boolean vfioMapPerCall;
        private String pinRefusal = System.getProperty("kmem.pin.refuse");

        private Builder() {
        }

        /**
         * How long a blocking allocation ({@code GFP_KERNEL}) waits for frees once growing
         * the pool could not serve it, before it returns NULL (default 1 s).
         * {@code __GFP_NOFAIL} waits without limit.
         *
         * @param wait the wait, zero or more (zero: no wait)
         * @return this builder
         */
        public Builder allocWait(Duration wait) {
            if (wait.isNegative()) {
                throw new IllegalArgumentException("allocWait: expected a non-negative duration, got " + wait);
            }
            this.allocWait = wait;
            return this;
        }

        /**
         * The size of the vmalloc window in bytes: virtual address space reserved for vmalloc,
         * vmap and ioremap areas (default 64 GiB).
         *
         * @param bytes the window's size
         * @return this builder
         */
        public Builder vmallocWindow(long bytes) {
            this.vmallocWindow = bytes;
            return this;
        }

        /**
         * The kernel's {@code slub_debug} for this pool: debug flag letters (F, Z, P, U; empty
         * for all; "-" for none), optionally {@code ,cache,cache...}. Default: the
         * {@code kmem.slub_debug} system property.
         *
         * @param option the {@code slub_debug} string, or null for none
         * @return this builder
         */
        public Builder slubDebug(String option) {
            this.slubDebug = option;
            return this;
        }

        /**
         * The pool's name, shown in reports, errors and the memfd names (default "kmem").
         *
         * @param name the name
         * @return this builder
         */
        public Builder name(String name) {
            this.name = name;
            return this;
        }

        /**
         * Initial 4 KiB frames, in bytes (default 64 MiB; 0 for none).
         *
         * @param bytes a multiple of 4 KiB, 0 or more
         * @return this builder
         */
        public Builder smallPages(long bytes) {
            this.smallBytes = checkMultiple("smallPages", bytes, PhysLayout.PAGE_SIZE);
            return this;
        }

        /**
         * Initial 2 MiB hugetlb frames, in bytes (default none); needs reserved hugepages.
         *
         * @param bytes a multiple of 2 MiB, 0 or more
         * @return this builder
         */
        public Builder hugePages2m(long bytes) {
            this.huge2mBytes = checkMultiple("hugePages2m", bytes, FrameKind.HUGE_2M.pageSize());
            return this;
        }

        /**
         * Initial 1 GiB hugetlb frames, in bytes (default none); needs reserved gigantic pages.
         * The pool does not grow beyond them.
         *
         * @param bytes a multiple of 1 GiB, 0 or more
         * @return this builder
         */
        public Builder hugePages1g(long bytes) {
            this.huge1gBytes = checkMultiple("hugePages1g", bytes, FrameKind.HUGE_1G.pageSize());
            return this;
        }

        /**
         * The most 4 KiB frames the pool may grow to, in bytes (default: the initial size).
         *
         * @param bytes a multiple of 4 KiB, at least {@link #smallPages} when {@link #build()} runs
         * @return this builder
         */
        public Builder maxSmallPages(long bytes) {
            this.maxSmallBytes = checkMultiple("maxSmallPages", bytes, PhysLayout.PAGE_SIZE);
            return this;
        }

        /**
         * The most 2 MiB frames the pool may grow to, in bytes (default: the initial size).
         *
         * @param bytes a multiple of 2 MiB, at least {@link #hugePages2m} when {@link #build()} runs
         * @return this builder
         */
        public Builder maxHugePages2m(long bytes) {
            this.maxHuge2mBytes = checkMultiple("maxHugePages2m", bytes, FrameKind.HUGE_2M.pageSize());
            return this;
        }

        /**
         * Builds the pool for a device's DMA mask: only frames whose last byte is at or below
         * {@code mask} are kept (e.g. {@code DMA_BIT_MASK(32)} = 0xffffffff).
         *
         * @param mask the highest physical address the device reaches, above 0
         * @return this builder
         */
        public Builder dmaMask(long mask) {
            if (mask <= 0) {
                throw new IllegalArgumentException("dmaMask: expected a positive mask such as 0xffffffff, got " + mask);
            }
            this.dmaMask = mask;
            return this;
        }

        /**
         * No physical addresses: the frame index stands in for the PFN and
         * {@code virt_to_phys} throws. The allocators work as usual, without root.
         *
         * @return this builder
         */
        public Builder unprivileged() {
            this.unprivileged = true;
            return this;
        }

        /**
         * Fails {@link #build} (and growth) with a clear error when the frames cannot be pinned
         * long-term, instead of falling back to {@code mlock} only with a warning. Without the
         * pin the kernel may migrate a frame (compaction, NUMA balancing, memory offlining,
         * {@code move_pages}) and a device would DMA to a stale physical address.
         *
         * @return this builder
         */
        public Builder requireLongTermPin() {
            this.requireLongTermPin = true;
            return this;
        }

        /**
         * Functions opened with {@link PciApi#vfio_open} get per-call IOMMU mappings: each
         * {@code dma_map_*} and {@code dma_alloc_coherent} maps its buffer's pages at a fresh IOVA
         * ({@code VFIO_IOMMU_MAP_DMA}), each {@code dma_unmap_*} and {@code dma_free_coherent}
         * unmaps them, so the device reaches only what is mapped for it now (the kernel's IOMMU
         * DMA ops), at two system calls a pair. Default: the pool is mapped once, DPDK's way, and
         * a mapping is a lookup (README, "IOVA mode: VFIO and interrupts", says why).
         *
         * @return this builder
         */
        public Builder vfioMapPerCall() {
            this.vfioMapPerCall = true;
            return this;
        }

        /**
         * Fails every long-term pin with {@code errnoName} as the kernel would (EPERM: io_uring
         * forbidden; ENOSYS, ENOMEM, EFAULT, EOPNOTSUPP): for tests of the fallback. Default:
         * the {@code kmem.pin.refuse} system property, else none.
         */
        Builder pinRefusal(String errnoName) {
            this.pinRefusal = errnoName;
            return this;
        }

        /**
         * Brings the pool up: takes, pins and maps the initial frames.
         *
         * @return the pool, open; close it to give every frame back
         * @throws IllegalArgumentException when a maximum is below its initial size
         * @throws PrivilegeException without CAP_SYS_ADMIN (unless unprivileged)
         *         or without reserved hugepages when hugetlb frames were asked for
         * @throws KmemException when a system call fails
         * @throws IllegalCallerException when the JVM denies kmem native access
         *         ({@code --illegal-native-access=deny} without {@code --enable-native-access}),
         *         saying which flag to add
         */
        public MemoryPool build() {
            if (maxSmallBytes >= 0 && maxSmallBytes < smallBytes) {
                throw new IllegalArgumentException("maxSmallPages " + maxSmallBytes + " is below smallPages " + smallBytes);
            }
            if (maxHuge2mBytes >= 0 && maxHuge2mBytes < huge2mBytes) {
                throw new IllegalArgumentException("maxHugePages2m " + maxHuge2mBytes + " is below hugePages2m "
                        + huge2mBytes);
            }
            try {
                return new MemoryPool(this);
            } catch (IllegalCallerException | ExceptionInInitializerError | NoClassDefFoundError e) {
                if (!MemoryPool.class.getModule().isNativeAccessEnabled()) {
                    throw new IllegalCallerException(NO_NATIVE_ACCESS, e);
                }
                throw e;
            }
        }

        private static final String NO_NATIVE_ACCESS = "kmem reaches the kernel through the FFM API and needs"
                + " native access, which this JVM denies to it: start the JVM with"
                + " --enable-native-access=io.kmem (kmem on the module path) or --enable-native-access=ALL-UNNAMED"
                + " (on the class path), or give an executable jar the manifest line"
                + " 'Enable-Native-Access: ALL-UNNAMED'";

        private static long checkMultiple(String what, long bytes, long unit) {
            if (bytes < 0 || bytes % unit != 0) {
                throw new IllegalArgumentException(what + ": expected a non-negative multiple of " + unit
                        + " bytes, got " + bytes);
            }
            return bytes;
        }
    }
}
