package io.kmem;

import io.kmem.error.BadAddressException;
import io.kmem.gfp.Gfp;
import io.kmem.page.BuddyAllocator;
import io.kmem.gfp.FrameKind;
import io.kmem.phys.FramePool;
import io.kmem.stats.HostInfo;
import io.kmem.phys.MemMap;
import io.kmem.phys.PhysLayout;
import io.kmem.report.FrameOwnerScan;
import io.kmem.report.PageReport;
import io.kmem.report.PhysReport;
import io.kmem.debug.FaultAttr;
import io.kmem.slub.SlabAllocator;
import io.kmem.slub.SlabCache;
import io.kmem.stats.FrameOwners;
import io.kmem.stats.FrameVerification;
import io.kmem.stats.KmemObjInfo;
import io.kmem.stats.LargeKmallocStats;
import io.kmem.stats.PageStats;
import io.kmem.stats.SlabCacheStats;
import io.kmem.stats.VmallocStats;
import io.kmem.stats.ZoneStats;
import io.kmem.vmalloc.VmArea;
import io.kmem.vmalloc.Vmalloc;
import java.util.function.Consumer;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.List;

/**
 * A pool of pinned, physically addressed frames and the kernel allocators over it. Build one
 * with {@link #builder()}, or use {@link Kernel}'s static kernel names over the default pool.
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
 *     from its own cache, gets a {@link io.kmem.error.KmemException} naming the cache (the
 *     constructor's exception as its cause); the slab being built goes back to the page
 *     allocator and no object is handed out.
 * </ul>
 *
 * <p>Thread safety: every method may be called from any thread.
 */
public final class MemoryPool implements AutoCloseable {

    /**
     * Top 16 bits of every page handle ("pg"): a handle is {@code PAGE_TAG | pfn}, so that, as
     * with the kernel's {@code struct page} pointers, {@code page + i} is page {@code i} of a
     * block (its frames are consecutive PFNs).
     */
    static final long PAGE_TAG = 0x7067L << 48;
    private static final long PAGE_TAG_MASK = 0xFFFFL << 48;

    /** The largest order the page allocator serves: 2^10 pages, 4 MiB. */
    public static final int MAX_ORDER = BuddyAllocator.MAX_ORDER;

    final FramePool phys;
    final BuddyAllocator buddy;
    final SlabAllocator slab;
    final Vmalloc vmalloc;
    private final MemMap memMap;
    private final long bringUpNanos;
    private final long bringUpFrames;

    private MemoryPool(Builder b) {
        long[] max = new long[FrameKind.values().length];
        max[FrameKind.SMALL_4K.ordinal()] = b.maxSmallBytes >= 0 ? b.maxSmallBytes : Math.max(b.smallBytes, 0);
        max[FrameKind.HUGE_2M.ordinal()] = b.maxHuge2mBytes >= 0 ? b.maxHuge2mBytes : b.huge2mBytes;
        max[FrameKind.HUGE_1G.ordinal()] = b.huge1gBytes;
        this.phys = FramePool.create(new FramePool.Config(b.name, max, b.dmaMask, b.unprivileged,
                b.requireLongTermPin, b.pinRefusal));
        this.memMap = phys.memMap();
        this.buddy = new BuddyAllocator(phys, b.allocWait.toNanos());
        long t0 = System.nanoTime();
        try {
            if (b.smallBytes > 0) {
                buddy.grow(FrameKind.SMALL_4K, b.smallBytes >>> PhysLayout.PAGE_SHIFT);
            }
            if (b.huge2mBytes > 0) {
                buddy.grow(FrameKind.HUGE_2M, b.huge2mBytes >>> PhysLayout.PAGE_SHIFT);
            }
            if (b.huge1gBytes > 0) {
                buddy.grow(FrameKind.HUGE_1G, b.huge1gBytes >>> PhysLayout.PAGE_SHIFT);
            }
        } catch (RuntimeException e) {
            phys.close();
            throw e;
        }
        this.slab = new SlabAllocator(phys, buddy, b.slubDebug);
        try {
            this.vmalloc = new Vmalloc(phys, buddy, b.vmallocWindow);
        } catch (RuntimeException e) {
            phys.close();
            throw e;
        }
        slab.describeOutsideWith(vmalloc::describe);
        ioremap.placeIn(vmalloc);
        this.bringUpNanos = System.nanoTime() - t0;
        this.bringUpFrames = phys.presentFrames();
    }

    /** A builder for a pool; by default 64 MiB of 4 KiB frames, physical addresses, no DMA mask. */
    public static Builder builder() {
        return new Builder();
    }

    // ------------------------------------------------------------------ address translation

    /**
     * {@code virt_to_phys}: the physical address of a direct-map address (anything kmalloc or
     * the page allocator returned).
     *
     * @throws BadAddressException outside the direct map, or on a frame the pool does not hold
     * @throws io.kmem.error.PrivilegeException in an unprivileged pool
     */
    public long virt_to_phys(long addr) {
        phys.ensureOpen("virt_to_phys");
        return phys.virtToPhys(addr);
    }

    /**
     * {@code phys_to_virt}: the direct-map address of a physical address the pool holds.
     *
     * @throws BadAddressException for a physical address the pool does not hold
     */
    public long phys_to_virt(long physAddr) {
        phys.ensureOpen("phys_to_virt");
        return phys.physToVirt(physAddr);
    }

    /** {@code virt_to_pfn}: the PFN of the frame behind a direct-map address. */
    public long virt_to_pfn(long addr) {
        phys.ensureOpen("virt_to_pfn");
        return phys.virtToPfn("virt_to_pfn", addr);
    }

    /**
     * {@code virt_to_page}: the page handle of the frame behind a direct-map address.
     *
     * @throws BadAddressException outside the direct map or on a frame the pool does not hold
     */
    public long virt_to_page(long addr) {
        phys.ensureOpen("virt_to_page");
        return pageOfPfn("virt_to_page", phys.virtToPfn("virt_to_page", addr));
    }

    /**
     * {@code pfn_to_page}: the page handle of a frame by PFN.
     *
     * @throws BadAddressException for a PFN the pool does not hold
     */
    public long pfn_to_page(long pfn) {
        phys.ensureOpen("pfn_to_page");
        return pageOfPfn("pfn_to_page", pfn);
    }

    /**
     * {@code page_to_pfn}: the PFN of a page handle.
     *
     * @throws BadAddressException for anything but a page handle of this pool
     */
    public long page_to_pfn(long page) {
        return pageToPfn("page_to_pfn", page);
    }

    private long pageToPfn(String function, long page) {
        return MemMap.pfn(phys.memMap().info(pageIdx(function, page)));
    }

    /**
     * {@code page_address}: the direct-map address of a page handle.
     *
     * @throws BadAddressException for anything but a page handle of this pool
     */
    public long page_address(long page) {
        return phys.directAddress(pageToPfn("page_address", page));
    }

    /** {@code page_to_phys}: the physical address of a page handle. */
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

    // ------------------------------------------------------------------ page allocator

    /**
     * {@code alloc_pages}: a block of 2^{@code order} physically contiguous pages, aligned to
     * its size in physical memory. Returns its page handle, or 0 (NULL) when it cannot be
     * served under {@code gfp} or {@code order} is above {@link #MAX_ORDER} (with a warning,
     * unless {@code __GFP_NOWARN}). See {@link Gfp} for what each flag allows.
     *
     * @throws IllegalArgumentException for a negative order or unknown GFP bits
     */
    public long alloc_pages(int gfp, int order) {
        long pfn = buddy.allocPages("alloc_pages", gfp, order);
        return pfn < 0 ? 0 : PAGE_TAG | pfn;
    }

    /** {@code alloc_page}: {@code alloc_pages(gfp, 0)}. */
    public long alloc_page(int gfp) {
        long pfn = buddy.allocPages("alloc_page", gfp, 0);
        return pfn < 0 ? 0 : PAGE_TAG | pfn;
    }

    /**
     * {@code __get_free_pages}: as {@link #alloc_pages}, returning the block's direct-map
     * address, or 0 (NULL).
     */
    public long __get_free_pages(int gfp, int order) {
        return getFreePages("__get_free_pages", gfp, order);
    }

    /** {@code __get_free_page}: one page's address, or 0 (NULL). */
    public long __get_free_page(int gfp) {
        return getFreePages("__get_free_page", gfp, 0);
    }

    /** {@code get_zeroed_page}: one zeroed page's address, or 0 (NULL). */
    public long get_zeroed_page(int gfp) {
        return getFreePages("get_zeroed_page", gfp | Gfp.__GFP_ZERO, 0);
    }

    /** {@code __get_dma_pages}: {@code __get_free_pages(gfp | GFP_DMA, order)}, from the DMA zone. */
    public long __get_dma_pages(int gfp, int order) {
        return getFreePages("__get_dma_pages", gfp | Gfp.GFP_DMA, order);
    }

    private long getFreePages(String function, int gfp, int order) {
        long pfn = buddy.allocPages(function, gfp, order);
        return pfn < 0 ? 0 : phys.directAddress(pfn);
    }

    /**
     * {@code free_pages}: frees the block of {@code order} at {@code addr}, an address
     * {@link #__get_free_pages} returned with that order. 0 is ignored, as in the kernel.
     *
     * @throws io.kmem.error.DoubleFreeException when the block is already free
     * @throws BadAddressException for any other address, or the wrong order; the allocator
     *         is unchanged
     */
    public void free_pages(long addr, int order) {
        if (addr != 0) {
            buddy.freePages("free_pages", addr, directPfn("free_pages", addr), order);
        } else {
            phys.ensureOpen("free_pages");
        }
    }

    /** {@code free_page}: {@code free_pages(addr, 0)}. */
    public void free_page(long addr) {
        if (addr != 0) {
            buddy.freePages("free_page", addr, directPfn("free_page", addr), 0);
        } else {
            phys.ensureOpen("free_page");
        }
    }

    /**
     * {@code __free_pages}: frees the block of {@code order} whose page handle
     * {@link #alloc_pages} returned.
     *
     * @throws io.kmem.error.DoubleFreeException when the block is already free
     * @throws BadAddressException for anything but the head of such a block, or the wrong order
     */
    public void __free_pages(long page, int order) {
        long idx = pageIdx("__free_pages", page);
        buddy.freePages("__free_pages", 0, MemMap.pfn(memMap.info(idx)), order);
    }

    /** {@code __free_page}: {@code __free_pages(page, 0)}. */
    public void __free_page(long page) {
        long idx = pageIdx("__free_page", page);
        buddy.freePages("__free_page", 0, MemMap.pfn(memMap.info(idx)), 0);
    }

    /**
     * {@code alloc_pages_exact}: {@code size} bytes (rounded up to pages) physically
     * contiguous; the pages of the underlying block past the size go back to the allocator.
     * Returns the address, or 0 (NULL). Free with {@link #free_pages_exact}.
     *
     * @throws IllegalArgumentException for a size of 0 or less
     */
    public long alloc_pages_exact(long size, int gfp) {
        phys.ensureOpen("alloc_pages_exact");
        long pfn = buddy.allocPagesExact(gfp, size);
        return pfn < 0 ? 0 : phys.directAddress(pfn);
    }

    /**
     * {@code free_pages_exact}: frees what {@link #alloc_pages_exact} returned for {@code size}.
     *
     * @throws BadAddressException or {@link io.kmem.error.DoubleFreeException} when a page is
     *         not allocated; nothing is freed then
     */
    public void free_pages_exact(long addr, long size) {
        phys.ensureOpen("free_pages_exact");
        buddy.freePagesExact("free_pages_exact", addr, directPfn("free_pages_exact", addr), size);
    }

    /** {@code get_order}: the smallest order whose block holds {@code size} bytes. */
    public static int get_order(long size) {
        if (size <= 0) {
            throw new IllegalArgumentException("get_order: size " + size + " must be positive");
        }
        return BuddyAllocator.getOrder(size);
    }

    /**
     * {@code drain_all_pages}: gives the frames in per-thread page caches back to the buddy:
     * the calling thread's and every ended thread's now, every other thread's at its next
     * allocation or free.
     */
    public void drain_all_pages() {
        phys.ensureOpen("drain_all_pages");
        buddy.drainAllPages();
    }

    /**
     * Checks the buddy allocator's invariants (free lists, alignment, merged buddies, counts)
     * and returns every violation; empty when consistent. Call it when no other thread is
     * allocating.
     */
    public List<String> checkPageAllocator() {
        phys.ensureOpen("checkPageAllocator");
        return buddy.check();
    }

    /** Per-zone figures of the page allocator: free, cached, watermarks, managed. */
    public List<ZoneStats> zoneStats() {
        phys.ensureOpen("zoneStats");
        return buddy.zoneStats();
    }

    /** The page allocator's event counters (failures, growths, harvests, waits). */
    public PageStats pageStats() {
        phys.ensureOpen("pageStats");
        return buddy.stats();
    }

    /** {@code /proc/buddyinfo}: free blocks per order, per zone. */
    public String buddyinfo() {
        phys.ensureOpen("buddyinfo");
        return PageReport.buddyinfo(buddy);
    }

    /** A {@code /proc/zoneinfo}-style view: free, watermarks, managed, and the per-thread caches. */
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

    // ------------------------------------------------------------------ growth, release, verify

    /**
     * Takes more frames from the kernel: {@code bytes} of {@code kind} (rounded up to whole
     * pages of that kind). Returns the PFNs that came in, sorted.
     *
     * @throws io.kmem.error.KmemException past the pool's maximum or when the kernel refuses
     */
    public long[] grow(FrameKind kind, long bytes) {
        phys.ensureOpen("grow");
        return buddy.grow(kind, (bytes + PhysLayout.PAGE_SIZE - 1) >>> PhysLayout.PAGE_SHIFT);
    }

    /**
     * Gives frames back to the kernel ({@code fallocate(PUNCH_HOLE)}); they must be free in
     * the page allocator (the calling thread's page cache is drained first).
     *
     * @throws BadAddressException for a frame the pool does not hold or that is in use; nothing
     *         is released then
     */
    public void release(long[] pfns) {
        phys.ensureOpen("release");
        buddy.release(pfns);
    }

    /** Re-reads pagemap for every frame and lists any frame whose PFN changed since intake. */
    public FrameVerification verify() {
        phys.ensureOpen("verify");
        return phys.verify();
    }

    /**
     * How the pool's frames are held in place: pinned long-term (the kernel cannot migrate
     * them, their physical addresses stay valid) or mlocked only, and why.
     */
    public io.kmem.stats.PinState pinState() {
        phys.ensureOpen("pinState");
        return phys.pinState();
    }

    // ------------------------------------------------------------------ reports and facts

    /** A /proc/meminfo-style summary of the pool, with where every figure came from. */
    public String meminfo() {
        phys.ensureOpen("meminfo");
        return PhysReport.meminfo(phys, buddy, bringUpNanos, bringUpFrames, vmalloc.stats());
    }

    /** Every PFN the pool holds, sorted (frame indices in an unprivileged pool). */
    public long[] pfns() {
        phys.ensureOpen("pfns");
        return phys.presentPfns();
    }

    /**
     * The PFN {@code /proc/self/pagemap} reports right now for any mapped virtual address of
     * this process, or -1 when the page is not present: the ground truth the pool's own
     * translations are checked against.
     */
    public long pagemapPfn(long addr) {
        phys.ensureOpen("pagemapPfn");
        return phys.pagemapPfn(addr);
    }

    /** The host's facts as read at pool creation (zones, hugepages, pinning sysctls). */
    public HostInfo host() {
        phys.ensureOpen("host");
        return phys.host();
    }

    /** The pool's name, as given to the builder. */
    public String name() {
        return phys.name();
    }

    /** True when the pool has real physical addresses (built as root, not unprivileged). */
    public boolean physical() {
        phys.ensureOpen("physical");
        return phys.physical();
    }

    /** Frames (4 KiB) the pool holds now. */
    public long frames() {
        phys.ensureOpen("frames");
        return phys.presentFrames();
    }

    /** Resident bytes of mem_map (16-byte records), measured with mincore. */
    public long memMapBytes() {
        phys.ensureOpen("memMapBytes");
        return phys.metadataBytes()[0];
    }

    /** Bytes of the PFN-to-frame index. */
    public long pfnIndexBytes() {
        phys.ensureOpen("pfnIndexBytes");
        return phys.metadataBytes()[1];
    }

    /**
     * Heap bytes of the slab layer's frame-to-slab table (4 per reference, as with compressed
     * references): a flat table costs 4 per frame of the direct map, which spans the host's
     * PFNs, whatever the pool's size.
     */
    public long slabTableBytes() {
        phys.ensureOpen("slabTableBytes");
        return slab.frameTableBytes();
    }

    /** Time to bring up the initial frames, in nanoseconds. */
    public long bringUpNanos() {
        phys.ensureOpen("bringUpNanos");
        return bringUpNanos;
    }

    /** Closes the pool: every frame goes back to the kernel; segments from it stop working. */
    @Override
    public void close() {
        if (!phys.closed()) {
            ioremap.close();
            vmalloc.close();
            slab.close();
            buddy.close();
        }
        phys.close();
    }

    // ------------------------------------------------------------------ slab allocator

    /** What {@code kmalloc(0)} returns: not NULL, but no byte may be touched. */
    public static final long ZERO_SIZE_PTR = SlabAllocator.ZERO_SIZE_PTR;
    /** The largest kmalloc: 4 MiB; larger sizes return NULL with a warning. */
    public static final long KMALLOC_MAX_SIZE = SlabAllocator.KMALLOC_MAX_SIZE;
    /** The largest kmalloc served from a slab cache (8 KiB); above, whole pages from the buddy. */
    public static final int KMALLOC_MAX_CACHE_SIZE = SlabAllocator.KMALLOC_MAX_CACHE_SIZE;

    /**
     * {@code kmem_cache_create}: a cache of {@code size}-byte objects aligned to {@code align}
     * (0: 8 bytes), with {@link SlabFlags} and an optional constructor that runs on every
     * object when its slab is made (not at each allocation: objects come back in the state
     * they were freed in). Returns null when a cache of that name exists (with a warning), or
     * throws with {@code SLAB_PANIC}.
     *
     * @throws IllegalArgumentException for a bad name, size (1 to 4 MiB), alignment or flag
     */
    public KmemCache kmem_cache_create(String name, long size, long align, int flags, Consumer<MemorySegment> ctor) {
        phys.ensureOpen("kmem_cache_create");
        SlabCache c = slab.create(name, size, align, flags, ctor);
        return c == null ? null : new KmemCache(c, this);
    }

    /** {@code kmem_cache_alloc}: an object's address, or 0 (NULL) when out of memory. */
    public long kmem_cache_alloc(KmemCache cache, int gfp) {
        return own(cache, "kmem_cache_alloc").alloc("kmem_cache_alloc", gfp);
    }

    /** {@code kmem_cache_zalloc}: a zeroed object's address, or 0 (NULL). */
    public long kmem_cache_zalloc(KmemCache cache, int gfp) {
        return own(cache, "kmem_cache_zalloc").alloc("kmem_cache_zalloc", gfp | Gfp.__GFP_ZERO);
    }

    /**
     * {@code kmem_cache_free}.
     *
     * @throws io.kmem.error.DoubleFreeException when the object is already free
     * @throws BadAddressException when {@code objp} is not an object of {@code cache}
     */
    public void kmem_cache_free(KmemCache cache, long objp) {
        slab.cacheFree("kmem_cache_free", own(cache, "kmem_cache_free"), objp);
    }

    /**
     * {@code kmem_cache_alloc_bulk}: fills {@code p[0..size)} with objects. Returns
     * {@code size}, or 0 when not all could be had (then none are kept).
     */
    public int kmem_cache_alloc_bulk(KmemCache cache, int gfp, int size, long[] p) {
        phys.ensureOpen("kmem_cache_alloc_bulk");
        SlabCache c = own(cache, "kmem_cache_alloc_bulk");
        Gfp.check("kmem_cache_alloc_bulk", gfp);
        if (p == null) {
            throw new NullPointerException("kmem_cache_alloc_bulk: p is null");
        }
        if (size < 0 || size > p.length) {
            throw new IllegalArgumentException("kmem_cache_alloc_bulk(" + cache.name() + "): size " + size
                    + " does not fit the array of " + p.length);
        }
        for (int i = 0; i < size; i++) {
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

    /** {@code kmem_cache_free_bulk}: frees {@code p[0..size)}; a null cache means kfree each. */
    public void kmem_cache_free_bulk(KmemCache cache, int size, long[] p) {
        phys.ensureOpen("kmem_cache_free_bulk");
        if (p == null) {
            throw new NullPointerException("kmem_cache_free_bulk: p is null");
        }
        if (size < 0 || size > p.length) {
            throw new IllegalArgumentException("kmem_cache_free_bulk: size " + size + " does not fit the array of "
                    + p.length);
        }
        SlabCache c = cache == null ? null : own(cache, "kmem_cache_free_bulk");
        for (int i = 0; i < size; i++) {
            if (c == null) {
                slab.kfree("kmem_cache_free_bulk", p[i]);
            } else {
                slab.cacheFree("kmem_cache_free_bulk", c, p[i]);
            }
        }
    }

    /**
     * {@code kmem_cache_shrink}: gives the cache's empty slabs back to the page allocator.
     * Returns the pages released. Other threads' current slabs come back at their next slow
     * path.
     */
    public long kmem_cache_shrink(KmemCache cache) {
        phys.ensureOpen("kmem_cache_shrink");
        return own(cache, "kmem_cache_shrink").shrink();
    }

    /**
     * {@code kmem_cache_destroy}: frees the cache and all its slabs. With objects still
     * allocated, reports each (see {@link #takeSlabReports()}) and leaves the cache and its
     * memory as they are, as the kernel does. Destroying a cache that another thread still
     * uses is a bug, as in the kernel.
     */
    public void kmem_cache_destroy(KmemCache cache) {
        phys.ensureOpen("kmem_cache_destroy");
        if (cache != null) {
            slab.destroy(own(cache, "kmem_cache_destroy"));
        }
    }

    private SlabCache own(KmemCache cache, String function) {
        if (cache == null) {
            throw new NullPointerException(function + ": cache is null");
        }
        if (cache.pool != this) {
            throw new IllegalArgumentException(function + "(" + cache.name() + "): the cache belongs to pool '"
                    + cache.pool.name() + "', not '" + phys.name() + "'");
        }
        return cache.impl;
    }

    /**
     * {@code kmalloc}: {@code size} bytes, physically contiguous, not cleared. Returns the
     * address, ZERO_SIZE_PTR for size 0, or 0 (NULL) when out of memory or above
     * {@link #KMALLOC_MAX_SIZE} (with a warning unless {@code __GFP_NOWARN}).
     */
    public long kmalloc(long size, int gfp) {
        return slab.kmalloc(size, gfp);
    }

    /** {@code kzalloc}: {@link #kmalloc} with the bytes zeroed. */
    public long kzalloc(long size, int gfp) {
        return slab.kmalloc("kzalloc", size, gfp | Gfp.__GFP_ZERO);
    }

    /** {@code kmalloc_array}: {@code n * size} bytes; 0 (NULL) when the product overflows. */
    public long kmalloc_array(long n, long size, int gfp) {
        return kmallocArray("kmalloc_array", n, size, gfp);
    }

    /** {@code kcalloc}: {@link #kmalloc_array} zeroed. */
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

    /**
     * {@code krealloc}: the object resized, contents kept up to the smaller size. Returns the
     * new address (the same when it fits), 0 (NULL) when out of memory (the old object is
     * kept), or ZERO_SIZE_PTR for size 0 (the object is freed).
     */
    public long krealloc(long p, long newSize, int gfp) {
        phys.ensureOpen("krealloc");
        return slab.krealloc(p, newSize, gfp);
    }

    /** {@code ksize}: the bytes usable at {@code p} (its cache's object size, or its pages). */
    public long ksize(long p) {
        phys.ensureOpen("ksize");
        return slab.ksize(p);
    }

    /**
     * {@code kfree}. NULL and ZERO_SIZE_PTR are no-ops.
     *
     * @throws io.kmem.error.DoubleFreeException when the object is already free
     * @throws BadAddressException for an address kmalloc did not return (the message says whose it is)
     */
    public void kfree(long p) {
        slab.kfree(p);
    }

    /** {@code kfree_sensitive}: zeroes all {@code ksize(p)} bytes, then frees. */
    public void kfree_sensitive(long p) {
        phys.ensureOpen("kfree_sensitive");
        slab.kfreeSensitive(p);
    }

    /**
     * {@code kmemdup}: a kmalloc'd copy of {@code len} bytes at {@code src} (an address in this pool).
     *
     * @throws BadAddressException when the bytes are not pool memory
     */
    public long kmemdup(long src, long len, int gfp) {
        phys.ensureOpen("kmemdup");
        Gfp.check("kmemdup", gfp);
        if (len < 0) {
            throw new IllegalArgumentException("kmemdup(0x" + Long.toHexString(src) + ", " + len + "): len " + len
                    + " is negative");
        }
        return kmemdup(segment("kmemdup", src, len), gfp);
    }

    /** {@code kmemdup}: a kmalloc'd copy of {@code src}'s bytes; 0 (NULL) when out of memory. */
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

    /**
     * The slab object holding {@code addr} (the kernel's {@code kmem_obj_info}): cache, slab,
     * object index and start, and whether it is allocated; null when no slab holds it.
     */
    public KmemObjInfo kmem_obj_info(long addr) {
        phys.ensureOpen("kmem_obj_info");
        return slab.objInfo(addr);
    }

    /** {@code /proc/slabinfo}, version 2.1. */
    public String slabinfo() {
        phys.ensureOpen("slabinfo");
        return slab.slabinfo();
    }

    /** Per-cache figures: objects, slabs, slow paths, failures. */
    public List<SlabCacheStats> slabStats() {
        phys.ensureOpen("slabStats");
        return slab.stats();
    }

    /**
     * SLUB's {@code validate} over every cache: free lists, counts, and in debug caches every
     * object's red zones and poison. Returns the problems (each is also reported and fixed up).
     */
    public List<String> validateSlabs() {
        phys.ensureOpen("validateSlabs");
        return slab.validate();
    }

    /** The SLUB reports ("BUG cache (Not tainted): ...") made since the last call; clears them. */
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

    /** The pool's {@code failslab} fault injection (kmalloc and kmem_cache allocations). */
    public FaultAttr failslab() {
        phys.ensureOpen("failslab");
        return slab.failslab();
    }

    /** The pool's {@code fail_page_alloc} fault injection (the page allocator, so also slabs and large kmalloc). */
    public FaultAttr fail_page_alloc() {
        phys.ensureOpen("fail_page_alloc");
        return buddy.failPageAlloc();
    }

    // ------------------------------------------------------------------ vmalloc

    /**
     * {@code vmalloc}: {@code size} bytes (rounded up to pages), contiguous in virtual space,
     * from frames that need not be physically contiguous; not cleared. An unmapped guard page
     * follows the area. Returns its address, or 0 (NULL) with a warning when the size is 0,
     * larger than the pool can hold, or the frames cannot be had.
     *
     * @throws IllegalArgumentException for a negative size
     */
    public long vmalloc(long size) {
        phys.ensureOpen("vmalloc");
        return vmalloc.vmalloc("vmalloc", size, Gfp.GFP_KERNEL, VmArea.VM_ALLOC);
    }

    /** {@code vzalloc}: {@link #vmalloc}, zeroed. */
    public long vzalloc(long size) {
        phys.ensureOpen("vzalloc");
        return vmalloc.vmalloc("vzalloc", size, Gfp.GFP_KERNEL | Gfp.__GFP_ZERO, VmArea.VM_ALLOC);
    }

    /**
     * {@code __vmalloc}: {@link #vmalloc} under {@code gfp} ({@code __GFP_ZERO}, the zone
     * modifiers, {@code __GFP_NOWARN} ...). vmalloc maps memory, and mapping takes the
     * process's mmap lock, which may block: a {@code gfp} that must not block
     * ({@code GFP_ATOMIC}, {@code GFP_NOWAIT}) gets NULL with a warning.
     */
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

    /** {@code vmalloc_32}: {@link #vmalloc} from frames below 4 GiB ({@code GFP_DMA32}), or 0 (NULL). */
    public long vmalloc_32(long size) {
        phys.ensureOpen("vmalloc_32");
        return vmalloc.vmalloc("vmalloc_32", size, Gfp.GFP_KERNEL | Gfp.GFP_DMA32, VmArea.VM_ALLOC);
    }

    /** {@code vmalloc_user}: zeroed, for mapping elsewhere (reported as {@code user}); or 0 (NULL). */
    public long vmalloc_user(long size) {
        phys.ensureOpen("vmalloc_user");
        return vmalloc.vmalloc("vmalloc_user", size, Gfp.GFP_KERNEL | Gfp.__GFP_ZERO,
                VmArea.VM_ALLOC | VmArea.VM_USERMAP);
    }

    /** {@code vcalloc}: {@code n * size} zeroed bytes; 0 (NULL) when the product overflows. */
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

    /**
     * {@code vfree}: frees the area at {@code addr}, an address vmalloc returned; its frames go
     * back to the page allocator and the range to {@code PROT_NONE}. 0 is ignored.
     *
     * @throws io.kmem.error.DoubleFreeException for an area freed already
     * @throws BadAddressException for any other address (a kmalloc address, a vmap area, the
     *         middle of an area ...), naming what it is
     */
    public void vfree(long addr) {
        phys.ensureOpen("vfree");
        vmalloc.vfree("vfree", addr);
    }

    /**
     * {@code vmap}: maps the first {@code count} page handles of {@code pages} one after the
     * other in a new area of the vmalloc window; the pages stay the caller's. Returns the
     * area's address, or 0 (NULL) for a count of 0 or when the window is full.
     *
     * @throws BadAddressException for a value that is not a page handle of this pool
     * @throws IllegalArgumentException for a free page, a count beyond the array, or part of a
     *         hugetlb page
     */
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

    /**
     * {@code vunmap}: removes the mapping vmap made at {@code addr}.
     *
     * @throws BadAddressException for anything else, a vmalloc area included
     */
    public void vunmap(long addr) {
        phys.ensureOpen("vunmap");
        vmalloc.vunmap("vunmap", addr);
    }

    /** {@code is_vmalloc_addr}: true when {@code addr} is in the pool's vmalloc window. */
    public boolean is_vmalloc_addr(long addr) {
        phys.ensureOpen("is_vmalloc_addr");
        return vmalloc.isVmallocAddr(addr);
    }

    /**
     * {@code vmalloc_to_page}: the page handle of the frame mapped at {@code addr}, or 0 (NULL)
     * when nothing is (a guard page, a free range).
     *
     * @throws BadAddressException when {@code addr} is outside the vmalloc window
     */
    public long vmalloc_to_page(long addr) {
        phys.ensureOpen("vmalloc_to_page");
        long idx = vmalloc.frameAt("vmalloc_to_page", addr);
        return idx < 0 ? 0 : PAGE_TAG | MemMap.pfn(phys.memMap().info(idx));
    }

    /**
     * {@code vmalloc_to_pfn}: the PFN of the frame mapped at {@code addr} (the frame index in
     * an unprivileged pool).
     *
     * @throws BadAddressException when nothing is mapped there or {@code addr} is outside the
     *         window
     */
    public long vmalloc_to_pfn(long addr) {
        phys.ensureOpen("vmalloc_to_pfn");
        long idx = vmalloc.frameAt("vmalloc_to_pfn", addr);
        if (idx < 0) {
            throw new BadAddressException("vmalloc_to_pfn(0x" + Long.toHexString(addr) + ") on pool '" + phys.name()
                    + "': no frame is mapped there (a guard page, a freed area or a device mapping)");
        }
        return MemMap.pfn(memMap.info(idx));
    }

    /** {@code find_vm_area}: the area containing {@code addr} (guard page included), or null. */
    public VmStruct find_vm_area(long addr) {
        phys.ensureOpen("find_vm_area");
        VmArea a = vmalloc.find(addr);
        return a == null ? null : new VmStruct(a.start(), a.size() + PhysLayout.PAGE_SIZE, a.flags(), a.nrPages(),
                a.physAddr(), a.caller());
    }

    /**
     * {@code kvmalloc}: kmalloc first (without a warning, and without retrying above one
     * page), vmalloc when that fails or the size is beyond kmalloc; free with {@link #kvfree}.
     * Returns 0 (NULL) on failure; a {@code gfp} that must not block gets no vmalloc.
     */
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

    /** {@code kvzalloc}: {@link #kvmalloc}, zeroed. */
    public long kvzalloc(long size, int gfp) {
        phys.ensureOpen("kvzalloc");
        return kvmalloc("kvzalloc", size, gfp | Gfp.__GFP_ZERO);
    }

    /** {@code kvfree}: vfree for a vmalloc address, kfree for anything else. */
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
     */
    public String vmallocinfo() {
        phys.ensureOpen("vmallocinfo");
        return vmalloc.vmallocinfo();
    }

    /** Counters of the vmalloc layer. */
    public VmallocStats vmallocStats() {
        phys.ensureOpen("vmallocStats");
        return vmalloc.stats();
    }

    /** Consistency of the vmalloc window and of every area's frames; empty when all is well. Call at rest. */
    public List<String> checkVmalloc() {
        phys.ensureOpen("checkVmalloc");
        return vmalloc.check();
    }

    // ------------------------------------------------------------------ ioremap and MMIO

    /**
     * The pool's ioremap mappings and their registry ({@code Ioremap.areas()}: what
     * vmallocinfo lists as {@code ioremap}), and the roots device files are found under.
     */
    final io.kmem.mmio.Ioremap ioremap = new io.kmem.mmio.Ioremap();
    private final io.kmem.mmio.IoResources ioResources = new io.kmem.mmio.IoResources(ioremap);
    /** One PciDev per function, as the kernel keeps one pci_dev: its Device's masks and mappings are shared. */
    private final java.util.concurrent.ConcurrentHashMap<String, PciDev> pciDevs =
            new java.util.concurrent.ConcurrentHashMap<>();

    /** {@code PCI_ANY_ID}: matches any vendor or device id in {@link #pci_get_device}. */
    public static final int PCI_ANY_ID = -1;

    /**
     * Where this pool finds sysfs, /dev and procfs ({@link IoRoots#HOST} by default); a test
     * points it at a fake tree. Set it before the first use: mappings already made are not
     * affected, the resource trees keep the host files they were seeded from at their first
     * use, and PCI functions already found stay as found. Returns this pool.
     */
    public MemoryPool ioRoots(IoRoots roots) {
        phys.ensureOpen("ioRoots");
        ioremap.roots(roots.sys(), roots.dev(), roots.proc());
        return this;
    }

    /** The roots set with {@link #ioRoots(IoRoots)}. */
    public IoRoots ioRoots() {
        phys.ensureOpen("ioRoots");
        return new IoRoots(ioremap.sysRoot(), ioremap.devRoot(), ioremap.procRoot());
    }

    /**
     * {@code ioremap}: maps {@code size} bytes of device memory at physical address {@code phys}
     * through {@code /dev/mem}, uncached (UC-), in an area of the pool's vmalloc window (listed
     * by vmallocinfo as {@code ioremap}). The address need not be page-aligned. Mappings do
     * not use the pool's frames; {@code close()} of the pool unmaps them (accesses through
     * their {@link IoMem} throw afterwards), and a closed pool makes no new ones.
     *
     * @throws BadAddressException when the range overlaps System RAM in {@code /proc/iomem}
     *         ("ioremap on RAM"; the kernel refuses it too)
     * @throws io.kmem.error.PrivilegeException when {@code /proc/iomem} hides its addresses
     *         (not root)
     * @throws io.kmem.error.SyscallException when {@code /dev/mem} does not open or map (the
     *         message says why: no /dev/mem in this kernel, STRICT_DEVMEM, not root)
     */
    public IoMem ioremap(long phys, long size) {
        this.phys.ensureOpen("ioremap");
        return new IoMem(ioremap.devMem("ioremap", phys, size, false), this);
    }

    /**
     * {@code ioremap_uc}: as {@link #ioremap}. User space cannot ask for strong UC; the mapping is
     * UC-, which differs from UC only where an MTRR says write-combining.
     */
    public IoMem ioremap_uc(long phys, long size) {
        this.phys.ensureOpen("ioremap_uc");
        return new IoMem(ioremap.devMem("ioremap_uc", phys, size, false), this);
    }

    /**
     * {@code ioremap_wc}: as {@link #ioremap}; {@code /dev/mem} offers no write-combining, so the
     * mapping is UC- (as the kernel's ioremap_wc is without PAT). For a prefetchable BAR,
     * {@link #pci_iomap_wc} gives real write-combining.
     */
    public IoMem ioremap_wc(long phys, long size) {
        this.phys.ensureOpen("ioremap_wc");
        return new IoMem(ioremap.devMem("ioremap_wc", phys, size, false), this);
    }

    /** {@code ioremap_cache}: as {@link #ioremap}, write-back cached (for device memory that allows it). */
    public IoMem ioremap_cache(long phys, long size) {
        this.phys.ensureOpen("ioremap_cache");
        return new IoMem(ioremap.devMem("ioremap_cache", phys, size, true), this);
    }

    /**
     * A regular file, or a memfd as {@code /proc/self/fd/N}, standing in for a device: maps
     * {@code size} bytes at {@code offset} of it, which is also the "physical address" shown
     * for the mapping. For tests and demonstrations; accessors behave exactly as on device
     * memory.
     *
     * @throws BadAddressException when the range is not inside the file
     */
    public IoMem ioremapFile(java.nio.file.Path file, long offset, long size) {
        phys.ensureOpen("ioremapFile");
        return new IoMem(ioremap.file("ioremapFile", file, offset, size), this);
    }

    /**
     * Map {@code map} of the UIO device {@code uioN}: address, size and offset from
     * {@code sys/class/uio/uioN/maps/mapM}, the bytes through {@code /dev/uioN} at mmap offset
     * {@code map * page size} (uncached, as the UIO core maps physical memory).
     *
     * @throws io.kmem.error.KmemException when there is no such device or map
     */
    public IoMem ioremapUio(int uio, int map) {
        phys.ensureOpen("ioremapUio");
        return new IoMem(ioremap.uio("ioremapUio", uio, map), this);
    }

    /**
     * {@code iounmap}: unmaps a mapping; later accesses through it throw.
     *
     * @throws io.kmem.error.DoubleFreeException when it is unmapped already
     * @throws IllegalArgumentException when it belongs to another pool
     */
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

    /**
     * {@code iounmap} by address: the address a mapping was returned at ({@link IoMem#address()}).
     * Accesses through its {@link IoMem} throw afterwards.
     *
     * @throws io.kmem.error.DoubleFreeException when that mapping is unmapped already
     * @throws BadAddressException for an address that is not a mapping's (inside one, or none)
     */
    public void iounmap(long addr) {
        phys.ensureOpen("iounmap");
        ioremap.unmap("iounmap", ioremap.lookup("iounmap", addr));
    }

    /**
     * {@code pci_get_device}: the next PCI function after {@code from} (null: the first) with
     * this vendor and device id ({@link #PCI_ANY_ID} matches any), in address order, or null.
     */
    public PciDev pci_get_device(int vendor, int device, PciDev from) {
        phys.ensureOpen("pci_get_device");
        boolean past = from == null;
        for (io.kmem.pci.PciDevice d : io.kmem.pci.PciDevice.scan(ioremap.sysRoot())) {
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

    /**
     * {@code pci_enable_device}: writes 1 to the function's sysfs {@code enable} (the kernel
     * then enables it), then makes sure the command register decodes its BARs (memory space,
     * bit 1, for memory BARs; I/O space, bit 0, for port BARs), as {@code pci_enable_resources}
     * does.
     *
     * @throws io.kmem.error.SyscallException when a file does not take the write (EBUSY: a
     *         kernel driver is bound to the device)
     */
    public void pci_enable_device(PciDev dev) {
        phys.ensureOpen("pci_enable_device");
        pci(dev, "pci_enable_device").enable("pci_enable_device");
    }

    /** {@code pci_disable_device}: clears bus mastering and writes 0 to {@code enable}. */
    public void pci_disable_device(PciDev dev) {
        phys.ensureOpen("pci_disable_device");
        pci(dev, "pci_disable_device").disable("pci_disable_device");
    }

    /** {@code pci_set_master}: sets bus mastering (bit 2 of the command register) so the device can DMA. */
    public void pci_set_master(PciDev dev) {
        phys.ensureOpen("pci_set_master");
        phys.warnIfMovable("pci_set_master");
        pci(dev, "pci_set_master").setCommand("pci_set_master", io.kmem.pci.PciDevice.PCI_COMMAND_MASTER, true);
    }

    /** {@code pci_clear_master}: clears bus mastering. */
    public void pci_clear_master(PciDev dev) {
        phys.ensureOpen("pci_clear_master");
        pci(dev, "pci_clear_master").setCommand("pci_clear_master", io.kmem.pci.PciDevice.PCI_COMMAND_MASTER, false);
    }

    /** {@code pci_resource_start}: the physical address of BAR {@code bar} (0 when absent). */
    public long pci_resource_start(PciDev dev, int bar) {
        phys.ensureOpen("pci_resource_start");
        return pci(dev, "pci_resource_start").bar("pci_resource_start", bar).start();
    }

    /** {@code pci_resource_end}: the last address of BAR {@code bar}. */
    public long pci_resource_end(PciDev dev, int bar) {
        phys.ensureOpen("pci_resource_end");
        return pci(dev, "pci_resource_end").bar("pci_resource_end", bar).end();
    }

    /** {@code pci_resource_len}: the size of BAR {@code bar} in bytes (0 when absent). */
    public long pci_resource_len(PciDev dev, int bar) {
        phys.ensureOpen("pci_resource_len");
        return pci(dev, "pci_resource_len").bar("pci_resource_len", bar).len();
    }

    /** {@code pci_resource_flags}: {@code IORESOURCE_*} bits of BAR {@code bar} (0x200 memory, 0x100 I/O, 0x2000 prefetchable). */
    public long pci_resource_flags(PciDev dev, int bar) {
        phys.ensureOpen("pci_resource_flags");
        return pci(dev, "pci_resource_flags").bar("pci_resource_flags", bar).flags();
    }

    /** {@code pci_read_config_byte}: a byte of configuration space. */
    public int pci_read_config_byte(PciDev dev, int where) {
        phys.ensureOpen("pci_read_config_byte");
        return pci(dev, "pci_read_config_byte").readConfig("pci_read_config_byte", where, 1);
    }

    /** {@code pci_read_config_word}: a little-endian 16-bit word of configuration space. */
    public int pci_read_config_word(PciDev dev, int where) {
        phys.ensureOpen("pci_read_config_word");
        return pci(dev, "pci_read_config_word").readConfig("pci_read_config_word", where, 2);
    }

    /** {@code pci_read_config_dword}: a little-endian 32-bit word of configuration space. */
    public int pci_read_config_dword(PciDev dev, int where) {
        phys.ensureOpen("pci_read_config_dword");
        return pci(dev, "pci_read_config_dword").readConfig("pci_read_config_dword", where, 4);
    }

    /** {@code pci_write_config_byte}. */
    public void pci_write_config_byte(PciDev dev, int where, int val) {
        phys.ensureOpen("pci_write_config_byte");
        pci(dev, "pci_write_config_byte").writeConfig("pci_write_config_byte", where, 1, val);
    }

    /** {@code pci_write_config_word}. */
    public void pci_write_config_word(PciDev dev, int where, int val) {
        phys.ensureOpen("pci_write_config_word");
        pci(dev, "pci_write_config_word").writeConfig("pci_write_config_word", where, 2, val);
    }

    /** {@code pci_write_config_dword}. */
    public void pci_write_config_dword(PciDev dev, int where, int val) {
        phys.ensureOpen("pci_write_config_dword");
        pci(dev, "pci_write_config_dword").writeConfig("pci_write_config_dword", where, 4, val);
    }

    /**
     * {@code pci_iomap}: maps memory BAR {@code bar} through its sysfs {@code resourceN}
     * (uncached), at most {@code maxlen} bytes of it (0: all).
     *
     * @throws BadAddressException for a BAR the function does not have, or a port I/O BAR
     */
    public IoMem pci_iomap(PciDev dev, int bar, long maxlen) {
        return pciIomap("pci_iomap", dev, bar, 0, maxlen, false);
    }

    /**
     * {@code pci_iomap_wc}: as {@link #pci_iomap}, write-combining through {@code resourceN_wc}
     * (sysfs offers it for prefetchable BARs; for others the mapping is uncached, and says so).
     */
    public IoMem pci_iomap_wc(PciDev dev, int bar, long maxlen) {
        return pciIomap("pci_iomap_wc", dev, bar, 0, maxlen, true);
    }

    /** {@code pci_iomap_range}: {@code maxlen} bytes (0: the rest) from {@code offset} in BAR {@code bar}. */
    public IoMem pci_iomap_range(PciDev dev, int bar, long offset, long maxlen) {
        return pciIomap("pci_iomap_range", dev, bar, offset, maxlen, false);
    }

    /** {@code pci_iounmap}: {@link #iounmap(IoMem)}. */
    public void pci_iounmap(PciDev dev, IoMem io) {
        phys.ensureOpen("pci_iounmap");
        iounmap("pci_iounmap", io);
    }

    private IoMem pciIomap(String function, PciDev dev, int bar, long offset, long maxlen, boolean wc) {
        phys.ensureOpen(function);
        io.kmem.pci.PciDevice d = pci(dev, function);
        var r = d.barRange(function, bar, offset, maxlen, wc);
        try {
            return new IoMem(ioremap.pciResource(function, r.file(), r.barStart(), r.offset(), r.len(), r.wc()), this);
        } catch (io.kmem.error.SyscallException e) {
            String hint = d.boundDriverHint();
            if (hint == null) {
                throw e;
            }
            var x = new io.kmem.error.SyscallException(e.call(), e.errno(), e.errnoName(), function + "(" + d.name()
                    + ", BAR " + bar + "): " + e.getMessage() + "; " + hint);
            x.initCause(e);
            throw x;
        }
    }

    /**
     * {@code request_mem_region}: claims {@code n} bytes of physical address space at
     * {@code start} for {@code name}, nested in the host's resource that holds them (a PCI
     * BAR, a bus window). Returns the region.
     *
     * @throws io.kmem.error.ResourceBusyException when the range overlaps a claimed region (an
     *         earlier request, System RAM, a kernel driver's): the message names both ranges
     *         and owners
     */
    public Resource request_mem_region(long start, long n, String name) {
        phys.ensureOpen("request_mem_region");
        return resource(ioResources.requestMemRegion(start, n, name));
    }

    /**
     * {@code release_mem_region}: releases the region requested with exactly this start and length.
     *
     * @throws BadAddressException when no requested region has them
     */
    public void release_mem_region(long start, long n) {
        phys.ensureOpen("release_mem_region");
        ioResources.releaseMemRegion(start, n);
    }

    /** {@code request_region}: as {@link #request_mem_region}, for I/O ports (0 to 0xffff). */
    public Resource request_region(long start, long n, String name) {
        phys.ensureOpen("request_region");
        return resource(ioResources.requestRegion(start, n, name));
    }

    /** {@code release_region}. */
    public void release_region(long start, long n) {
        phys.ensureOpen("release_region");
        ioResources.releaseRegion(start, n);
    }

    /** {@code /proc/iomem}: the host's resources (as root) with this pool's requests nested in them. */
    public String iomem() {
        phys.ensureOpen("iomem");
        return ioResources.iomem();
    }

    /** {@code /proc/ioports}: the same for I/O ports. */
    public String ioports() {
        phys.ensureOpen("ioports");
        return ioResources.ioports();
    }

    private static Resource resource(io.kmem.mmio.ResourceTree.Region r) {
        return new Resource(r.name(), r.start(), r.end(), r.owner());
    }

    // ------------------------------------------------------------------ DMA API

    /** {@code DMA_MAPPING_ERROR}: what a refused {@code dma_map_*} returns; test with {@link #dma_mapping_error}. */
    public static final long DMA_MAPPING_ERROR = io.kmem.dma.DmaDirect.DMA_MAPPING_ERROR;

    private volatile io.kmem.dma.DmaDirect dma;

    private io.kmem.dma.DmaDirect dma() {
        io.kmem.dma.DmaDirect d = dma;
        if (d == null) {
            synchronized (this) {
                d = dma;
                if (d == null) {
                    dma = d = new io.kmem.dma.DmaDirect(phys, buddy);
                }
            }
        }
        return d;
    }

    /** {@code DMA_BIT_MASK(n)}: the mask of an n-bit device, 2^n - 1 (all ones for 64). */
    public static long DMA_BIT_MASK(int n) {
        return io.kmem.dma.DmaDirect.bitMask(n);
    }

    /**
     * {@code dma_set_mask}: the highest address the device reaches in streaming DMA. Returns 0,
     * or -EIO (-5) for a mask this machine cannot serve ({@code dma_supported}: below 32 bits,
     * a mask must reach the DMA zone's 16 MiB), leaving the mask as it was.
     */
    public int dma_set_mask(Device dev, long mask) {
        phys.ensureOpen("dma_set_mask");
        return dma().setMask(dev(dev, "dma_set_mask"), mask);
    }

    /** {@code dma_set_coherent_mask}: the same for {@link #dma_alloc_coherent}; 0 or -EIO. */
    public int dma_set_coherent_mask(Device dev, long mask) {
        phys.ensureOpen("dma_set_coherent_mask");
        return dma().setCoherentMask(dev(dev, "dma_set_coherent_mask"), mask);
    }

    /** {@code dma_set_mask_and_coherent}: both masks; 0, or -EIO with neither changed. */
    public int dma_set_mask_and_coherent(Device dev, long mask) {
        phys.ensureOpen("dma_set_mask_and_coherent");
        int rc = dma().setMask(dev(dev, "dma_set_mask_and_coherent"), mask);
        return rc != 0 ? rc : dma().setCoherentMask(dev(dev, "dma_set_mask_and_coherent"), mask);
    }

    /** {@code dma_get_mask}: the device's streaming DMA mask. */
    public long dma_get_mask(Device dev) {
        phys.ensureOpen("dma_get_mask");
        return dev(dev, "dma_get_mask").dmaMask();
    }

    /** {@code dma_supported}: whether {@link #dma_set_mask} would accept {@code mask}. */
    public boolean dma_supported(Device dev, long mask) {
        phys.ensureOpen("dma_supported");
        return dma().supported(mask);
    }

    /**
     * {@code dma_alloc_coherent}: {@code size} bytes of zeroed, physically contiguous memory
     * that the CPU and the device share, every byte of it within the device's coherent mask
     * (the zone is chosen from the mask, as the kernel's dma-direct does, and a block below a
     * mask between zone limits is searched for). Zone modifiers in {@code gfp} are ignored.
     * Returns the CPU and DMA addresses, or null (NULL) when nothing in the pool fits, with a
     * warning unless {@code __GFP_NOWARN}.
     *
     * @throws io.kmem.error.PrivilegeException in a pool without physical addresses
     */
    public DmaBuffer dma_alloc_coherent(Device dev, long size, int gfp) {
        phys.ensureOpen("dma_alloc_coherent");
        phys.warnIfMovable("dma_alloc_coherent");
        long cpu = dma().allocCoherent(dev(dev, "dma_alloc_coherent"), size, gfp);
        return cpu == 0 ? null : new DmaBuffer(cpu, phys.virtToPhys(cpu), size);
    }

    /**
     * {@code dma_free_coherent}: frees what {@link #dma_alloc_coherent} returned, given as in C.
     *
     * @throws BadAddressException when {@code dmaHandle} is not {@code cpuAddr}'s, or the size or
     *         address is not that of an allocation
     * @throws io.kmem.error.DoubleFreeException when it is freed already
     */
    public void dma_free_coherent(Device dev, long size, long cpuAddr, long dmaHandle) {
        phys.ensureOpen("dma_free_coherent");
        dma().freeCoherent(dev(dev, "dma_free_coherent"), size, cpuAddr, dmaHandle);
    }

    /** {@code dma_free_coherent} of a {@link DmaBuffer}. */
    public void dma_free_coherent(Device dev, DmaBuffer buf) {
        phys.ensureOpen("dma_free_coherent");
        if (buf == null) {
            throw new NullPointerException("dma_free_coherent: buf is null");
        }
        dma().freeCoherent(dev(dev, "dma_free_coherent"), buf.size(), buf.cpuAddr(), buf.dmaHandle());
    }

    /**
     * {@code dma_map_single}: hands {@code size} bytes of pool memory at {@code cpuAddr}
     * (kmalloc, the page allocator) to the device. Returns the DMA address, or
     * {@link #DMA_MAPPING_ERROR} with a rate-limited warning when the buffer reaches above the
     * device's DMA mask: such an address is never handed out.
     *
     * @throws BadAddressException when the buffer is not pool memory
     * @throws IllegalArgumentException for {@code DMA_NONE} or a size of 0
     */
    public long dma_map_single(Device dev, long cpuAddr, long size, DmaDirection dir) {
        phys.ensureOpen("dma_map_single");
        phys.warnIfMovable("dma_map_single");
        return dma().mapSingle(dev(dev, "dma_map_single"), cpuAddr, size, dir(dir, "dma_map_single"));
    }

    /**
     * {@code dma_unmap_single}: gives the buffer back to the CPU; address, size and direction
     * must be those of the map.
     *
     * @throws BadAddressException for a mapping the device does not hold, or one mapped with
     *         another size, direction or function (the kernel's DMA-API debugging messages)
     */
    public void dma_unmap_single(Device dev, long dmaAddr, long size, DmaDirection dir) {
        phys.ensureOpen("dma_unmap_single");
        dma().unmap("dma_unmap_single", dev(dev, "dma_unmap_single"), dmaAddr, size, dir(dir, "dma_unmap_single"),
                io.kmem.dma.DmaDevice.MapKind.SINGLE);
    }

    /** {@code dma_map_page}: as {@link #dma_map_single}, for {@code size} bytes at {@code offset} in a page handle's block. */
    public long dma_map_page(Device dev, long page, long offset, long size, DmaDirection dir) {
        phys.ensureOpen("dma_map_page");
        phys.warnIfMovable("dma_map_page");
        return dma().mapPage(dev(dev, "dma_map_page"), pageToPhys("dma_map_page", page), offset, size,
                dir(dir, "dma_map_page"));
    }

    /** {@code dma_unmap_page}: undoes {@link #dma_map_page}; checked as {@link #dma_unmap_single}. */
    public void dma_unmap_page(Device dev, long dmaAddr, long size, DmaDirection dir) {
        phys.ensureOpen("dma_unmap_page");
        dma().unmap("dma_unmap_page", dev(dev, "dma_unmap_page"), dmaAddr, size, dir(dir, "dma_unmap_page"),
                io.kmem.dma.DmaDevice.MapKind.PAGE);
    }

    /** {@code dma_mapping_error}: true when a map returned {@link #DMA_MAPPING_ERROR} (C returns -ENOMEM then). */
    public boolean dma_mapping_error(Device dev, long dmaAddr) {
        return dmaAddr == DMA_MAPPING_ERROR;
    }

    /**
     * {@code dma_sync_single_for_cpu}: the CPU takes the mapped bytes back to read what the
     * device wrote (x86 is coherent: an acquire fence, so later reads stay after it).
     *
     * @throws BadAddressException when the range is not inside a mapping of the device
     */
    public void dma_sync_single_for_cpu(Device dev, long dmaAddr, long size, DmaDirection dir) {
        phys.ensureOpen("dma_sync_single_for_cpu");
        dma().sync("dma_sync_single_for_cpu", dev(dev, "dma_sync_single_for_cpu"), dmaAddr, size,
                dir(dir, "dma_sync_single_for_cpu"), true);
    }

    /**
     * {@code dma_sync_single_for_device}: hands the bytes back to the device after the CPU
     * wrote them (a release fence, so earlier writes stay before it).
     *
     * @throws BadAddressException when the range is not inside a mapping of the device
     */
    public void dma_sync_single_for_device(Device dev, long dmaAddr, long size, DmaDirection dir) {
        phys.ensureOpen("dma_sync_single_for_device");
        dma().sync("dma_sync_single_for_device", dev(dev, "dma_sync_single_for_device"), dmaAddr, size,
                dir(dir, "dma_sync_single_for_device"), false);
    }

    /**
     * {@code dma_pool_create}: a pool of {@code size}-byte blocks of coherent memory for
     * {@code dev}, each aligned to {@code align} (0: 1) and never crossing a multiple of
     * {@code boundary} (0: none within a page), carved from {@code dma_alloc_coherent} pages.
     *
     * @throws IllegalArgumentException where the kernel returns NULL: no device, a size of 0,
     *         an alignment or boundary that is not a power of two, a boundary below the size
     */
    public DmaPool dma_pool_create(String name, Device dev, long size, long align, long boundary) {
        phys.ensureOpen("dma_pool_create");
        return new DmaPool(io.kmem.dma.DmaPoolAllocator.create(dma(), name, dev(dev, "dma_pool_create"), size, align, boundary),
                this);
    }

    /**
     * {@code dma_pool_alloc}: a block's CPU address, its DMA address stored in {@code handle[0]}
     * (C's {@code dma_addr_t *handle}); 0 (NULL) when no page can be had. Not zeroed.
     */
    public long dma_pool_alloc(DmaPool pool, int gfp, long[] handle) {
        io.kmem.dma.DmaPoolAllocator p = own(pool, "dma_pool_alloc");
        if (handle == null) {
            throw new NullPointerException("dma_pool_alloc: handle is null");
        }
        return p.alloc(Gfp.check("dma_pool_alloc", gfp), handle, (gfp & Gfp.__GFP_ZERO) != 0);
    }

    /** {@code dma_pool_zalloc}: {@link #dma_pool_alloc}, zeroed. */
    public long dma_pool_zalloc(DmaPool pool, int gfp, long[] handle) {
        io.kmem.dma.DmaPoolAllocator p = own(pool, "dma_pool_zalloc");
        if (handle == null) {
            throw new NullPointerException("dma_pool_zalloc: handle is null");
        }
        return p.alloc(Gfp.check("dma_pool_zalloc", gfp), handle, true);
    }

    /**
     * {@code dma_pool_free}: frees the block at {@code vaddr} whose DMA address is {@code dmaAddr}.
     *
     * @throws io.kmem.error.DoubleFreeException when the block is free already
     * @throws BadAddressException when {@code vaddr} is not a block of the pool or {@code dmaAddr}
     *         not its DMA address
     */
    public void dma_pool_free(DmaPool pool, long vaddr, long dmaAddr) {
        own(pool, "dma_pool_free").free(vaddr, dmaAddr);
    }

    /**
     * {@code dma_pool_destroy}: frees the pool and its pages. With blocks still allocated it
     * reports each ("dma_pool_destroy ... busy"; see {@link #takeDmaReports()}) and leaks the
     * pages, as the kernel does. Null is ignored.
     *
     * @throws io.kmem.error.KmemException when it was destroyed already
     */
    public void dma_pool_destroy(DmaPool pool) {
        if (pool != null) {
            own(pool, "dma_pool_destroy").destroy();
        } else {
            phys.ensureOpen("dma_pool_destroy");
        }
    }

    /** The DMA reports (busy dma_pool_destroy) made since the last call; clears them. */
    public List<String> takeDmaReports() {
        phys.ensureOpen("takeDmaReports");
        return dma().takeReports();
    }

    private io.kmem.dma.DmaPoolAllocator own(DmaPool pool, String function) {
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
    private static io.kmem.dma.DmaDevice dev(Device dev, String function) {
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

    /** The sysfs side of {@code dev}; a null function throws naming {@code function}. */
    private static io.kmem.pci.PciDevice pci(PciDev dev, String function) {
        if (dev == null) {
            throw new NullPointerException(function + ": dev is null");
        }
        return dev.impl;
    }

    /** {@code mb}: a full fence; loads and stores on neither side cross it. */
    public static void mb() {
        java.lang.invoke.VarHandle.fullFence();
    }

    /** {@code rmb}: loads before it are not moved after later loads and stores (an acquire fence). */
    public static void rmb() {
        java.lang.invoke.VarHandle.acquireFence();
    }

    /** {@code wmb}: stores after it are not moved before earlier loads and stores (a release fence). */
    public static void wmb() {
        java.lang.invoke.VarHandle.releaseFence();
    }

    /** {@code dma_rmb}: orders reads of coherent DMA memory (a descriptor's status, then its data). */
    public static void dma_rmb() {
        java.lang.invoke.VarHandle.acquireFence();
    }

    /** {@code dma_wmb}: orders writes to coherent DMA memory (a descriptor's data, then its ready bit). */
    public static void dma_wmb() {
        java.lang.invoke.VarHandle.releaseFence();
    }

    // ------------------------------------------------------------------ the kmem tool's reports

    /**
     * Who owns each frame right now: free (by block order), a per-thread page cache, a page
     * allocator block, a slab (and its cache), a large kmalloc, vmalloc, reserved. What
     * {@code kmem map} draws. Read from mem_map without the allocators' locks: take it when no
     * other thread allocates or frees.
     */
    public FrameOwners frameOwners() {
        phys.ensureOpen("frameOwners");
        return FrameOwnerScan.snapshot(phys, slab);
    }

    /**
     * {@code kmem_cache_shrink} of every cache, the kmalloc caches included: their empty slabs
     * go back to the page allocator (other threads' current slabs at their next slow path).
     * Returns the pages released.
     */
    public long shrinkSlabs() {
        phys.ensureOpen("shrinkSlabs");
        return slab.shrinkAll();
    }

    /** The slab layer's large kmalloc counters (allocations, frees, failures) and misuse count. */
    public LargeKmallocStats slabLargeStats() {
        phys.ensureOpen("slabLargeStats");
        return slab.largeStats();
    }

    // ------------------------------------------------------------------ page handles

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
        private String pinRefusal = System.getProperty("kmem.pin.refuse");

        private Builder() {
        }

        /**
         * How long a blocking allocation ({@code GFP_KERNEL}) waits for frees once growing
         * the pool could not serve it, before it returns NULL (default 1 s).
         * {@code __GFP_NOFAIL} waits without limit.
         */
        public Builder allocWait(Duration wait) {
            if (wait.isNegative()) {
                throw new IllegalArgumentException("allocWait: expected a non-negative duration, got " + wait);
            }
            this.allocWait = wait;
            return this;
        }

        /** Name shown in reports, errors and the memfd names. */
        /**
         * The kernel's {@code slub_debug} for this pool: debug flag letters (F, Z, P, U; empty
         * for all; "-" for none), optionally {@code ,cache,cache...}. Default: the
         * {@code kmem.slub_debug} system property.
         */
        public Builder vmallocWindow(long bytes) {
            this.vmallocWindow = bytes;
            return this;
        }

        public Builder slubDebug(String option) {
            this.slubDebug = option;
            return this;
        }

        public Builder name(String name) {
            this.name = name;
            return this;
        }

        /** Initial 4 KiB frames, in bytes (default 64 MiB; 0 for none). */
        public Builder smallPages(long bytes) {
            this.smallBytes = checkMultiple("smallPages", bytes, PhysLayout.PAGE_SIZE);
            return this;
        }

        /** Initial 2 MiB hugetlb frames, in bytes (default none); needs reserved hugepages. */
        public Builder hugePages2m(long bytes) {
            this.huge2mBytes = checkMultiple("hugePages2m", bytes, FrameKind.HUGE_2M.pageSize());
            return this;
        }

        /** Initial 1 GiB hugetlb frames, in bytes (default none); needs reserved gigantic pages. */
        public Builder hugePages1g(long bytes) {
            this.huge1gBytes = checkMultiple("hugePages1g", bytes, FrameKind.HUGE_1G.pageSize());
            return this;
        }

        /** The most 4 KiB frames the pool may grow to, in bytes (default: the initial size). */
        public Builder maxSmallPages(long bytes) {
            this.maxSmallBytes = checkMultiple("maxSmallPages", bytes, PhysLayout.PAGE_SIZE);
            return this;
        }

        /** The most 2 MiB frames the pool may grow to, in bytes (default: the initial size). */
        public Builder maxHugePages2m(long bytes) {
            this.maxHuge2mBytes = checkMultiple("maxHugePages2m", bytes, FrameKind.HUGE_2M.pageSize());
            return this;
        }

        /**
         * Builds the pool for a device's DMA mask: only frames whose last byte is at or below
         * {@code mask} are kept (e.g. {@code DMA_BIT_MASK(32)} = 0xffffffff).
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
         */
        public Builder requireLongTermPin() {
            this.requireLongTermPin = true;
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
         * @throws io.kmem.error.PrivilegeException without CAP_SYS_ADMIN (unless unprivileged)
         *         or without reserved hugepages when hugetlb frames were asked for
         * @throws io.kmem.error.KmemException when a system call fails
         */
        public MemoryPool build() {
            if (maxSmallBytes >= 0 && maxSmallBytes < smallBytes) {
                throw new IllegalArgumentException("maxSmallPages " + maxSmallBytes + " is below smallPages " + smallBytes);
            }
            if (maxHuge2mBytes >= 0 && maxHuge2mBytes < huge2mBytes) {
                throw new IllegalArgumentException("maxHugePages2m " + maxHuge2mBytes + " is below hugePages2m "
                        + huge2mBytes);
            }
            return new MemoryPool(this);
        }

        private static long checkMultiple(String what, long bytes, long unit) {
            if (bytes < 0 || bytes % unit != 0) {
                throw new IllegalArgumentException(what + ": expected a non-negative multiple of " + unit
                        + " bytes, got " + bytes);
            }
            return bytes;
        }
    }
}
