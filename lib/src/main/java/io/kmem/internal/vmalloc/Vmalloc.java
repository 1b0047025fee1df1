package io.kmem.internal.vmalloc;

import static io.kmem.gfp.Gfp.__GFP_DIRECT_RECLAIM;
import static io.kmem.gfp.Gfp.__GFP_NOFAIL;
import static io.kmem.gfp.Gfp.__GFP_NOWARN;

import io.kmem.error.BadAddressException;
import io.kmem.error.DoubleFreeException;
import io.kmem.error.SyscallException;
import io.kmem.gfp.Gfp;
import io.kmem.internal.lib.LazyLogger;
import io.kmem.internal.page.BuddyAllocator;
import io.kmem.internal.lib.Ratelimit;
import io.kmem.gfp.FrameKind;
import io.kmem.internal.phys.FramePool;
import io.kmem.internal.phys.MemMap;
import io.kmem.internal.phys.PhysLayout;
import io.kmem.internal.trace.AtomicContext;
import io.kmem.stats.VmallocStats;
import io.kmem.internal.trace.RecentFrees;
import io.kmem.internal.trace.Trace;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * vmalloc of one pool ({@code mm/vmalloc.c}): areas that are contiguous in virtual space,
 * built from frames that need not be, in a window of their own.
 *
 * <h2>Address space</h2>
 * <pre>
 *  direct map   | .. f7 f8 f9 .. | .. f40 f41 .. | .. f3 ..        (frames at their PFN)
 *                    \  \  \          \   \           \
 *  vmalloc      | area: f7 f8 f9 f40 f41 f3 |guard| area ... |guard|   free ...
 *  window        ^ start                     ^ guard: faults on access
 * </pre>
 * A frame of an area is mapped twice, {@code MAP_SHARED} from the pool's memfd: once in the
 * direct map, once in the area, as the kernel maps a vmalloc page in both its linear map and
 * the vmalloc range. A write through one is read through the other.
 *
 * <h2>vmalloc, step by step</h2>
 * <ol>
 *   <li>Round the size up to pages. Areas of 2 MiB or more start at a 2 MiB boundary, so
 *       that 2 MiB hugetlb pages (and 2 MiB shmem folios) can be mapped whole.</li>
 *   <li>Reserve the range and its guard page ({@link VmapAreas#reserve}).</li>
 *   <li>Take frames from the buddy, largest blocks first: at page offset {@code off} with
 *       {@code left} pages to go, ask for order {@code min(9, log2(left), ctz(off))}, so that
 *       each block lands at an address aligned to its size. Orders above 0 are asked for
 *       without waiting, growing or a warning ({@code gfp} minus {@code __GFP_DIRECT_RECLAIM},
 *       plus {@code __GFP_NOWARN}): opportunistic, as the kernel's high-order attempt is. A
 *       failed order lowers the ceiling for the rest of the area; order 0 is asked for with
 *       the caller's {@code gfp}. A block of a hugetlb page can only be mapped whole: one
 *       smaller than the hugepage is set aside and given back at the end (a whole one is
 *       always at a 2 MiB boundary: order 9 only comes at an offset that is a multiple of
 *       512 pages, in an area of 2 MiB or more, which starts on such a boundary).</li>
 *   <li>Charge the area's mappings to the process's budget ({@link MapBudget}): its runs
 *       and two. Map runs of frames that are consecutive in one memfd with one {@code mmap}
 *       each ({@link FramePool#mapFrames}): a buddy block of shmem frames is usually one run.
 *       The guard page becomes a guard region at the end of the last run's mapping
 *       ({@link FramePool#mapGuard}), so a one-page area costs one mapping, not two.</li>
 *   <li>Mark each block's head {@code PG_VMALLOC} in mem_map (so {@code free_pages} of such a
 *       frame is caught) and publish the area.</li>
 * </ol>
 * Any failure gives back what was taken and returns NULL with the kernel's warning.
 *
 * <h2>vfree</h2>
 * Take the area out of the busy map (a second vfree of it then finds nothing), invalidate
 * its segment, map the range and its guard page back to {@code PROT_NONE} (one call), give
 * each block back to the buddy, return the range. The kernel defers the unmap and TLB flush
 * (lazy purge); here one {@code mmap} does both at once.
 *
 * <h2>ioremap's areas</h2>
 * The mmio layer takes its device mappings from this window too ({@link #reserveIoremap}),
 * as the kernel's ioremap takes them from vmalloc's allocator: each with a guard page,
 * listed as {@code ioremap}; vfree and vunmap refuse them.
 *
 * <h2>Locking</h2>
 * {@link VmapAreas}'s lock, a leaf taken for map operations; frames are taken and mapped
 * outside it, and the buddy's locks are never held while taking it. The ring of recently
 * freed starts (for the double-free message, {@link RecentFrees}) has its own monitor, taken
 * before {@link VmapAreas}'s lock when a free takes its area out of the busy map: so a second
 * free racing the first finds the area busy or its start in the ring, and throws
 * {@link DoubleFreeException} either way.
 */
public final class Vmalloc implements AutoCloseable {
    /** Default size of the window: virtual space only, nothing is committed. */
    public static final long DEFAULT_WINDOW = 64L << 30;
    /** Areas of at least this size start on this boundary (2 MiB). */
    static final long HUGE_ALIGN = 2L << 20;
    private static final int HUGE_ORDER = 9;
    private static final int RECENT_FREES = 64;
    private static final System.Logger LOG = LazyLogger.of("io.kmem.internal.vmalloc");
    /** Frames of the call stack that belong to kmem's own API and are skipped for the caller. */
    private static final Set<String> INTERNAL = Set.of("io.kmem.MemoryPool",
            "io.kmem.internal.vmalloc.Vmalloc");
    /** Frames are walked in small batches: the caller is a few frames up. */
    private static final StackWalker WALKER = StackWalker.getInstance(Set.of(), 4);

    private final FramePool phys;
    private final BuddyAllocator buddy;
    private final MemMap memMap;
    private final VmapAreas areas;
    private final MapBudget maps;
    private final Ratelimit warnLimit = new Ratelimit(TimeUnit.SECONDS.toNanos(5), 10);
    private final RecentFrees recentFrees = new RecentFrees(RECENT_FREES);

    private final LongAdder misuses = new LongAdder();
    private final LongAdder allocs = new LongAdder();
    private final LongAdder frees = new LongAdder();
    private final LongAdder failures = new LongAdder();
    private final LongAdder mmaps = new LongAdder();
    private final LongAdder setAside = new LongAdder();
    private final LongAdder pagesMapped = new LongAdder();

    public Vmalloc(FramePool phys, BuddyAllocator buddy, long windowBytes) {
        this(phys, buddy, windowBytes, MapBudget.host());
    }

    /** A vmalloc whose areas are charged to {@code maps} (tests pass their own). */
    Vmalloc(FramePool phys, BuddyAllocator buddy, long windowBytes, MapBudget maps) {
        if (windowBytes < 16 * PhysLayout.PAGE_SIZE || (windowBytes & PhysLayout.PAGE_SIZE - 1) != 0) {
            throw new IllegalArgumentException("pool '" + phys.name() + "': a vmalloc window of " + windowBytes
                    + " bytes; expected a multiple of 4096 of at least 64 KiB");
        }
        this.phys = phys;
        this.buddy = buddy;
        this.memMap = phys.memMap();
        this.areas = new VmapAreas(phys.reserveWindow(windowBytes, HUGE_ALIGN), windowBytes);
        this.maps = maps;
    }

    // ================================================================== vmalloc, vfree

    /**
     * {@code __vmalloc_node_range}: an area of {@code size} bytes (rounded up to pages) with
     * {@code vmFlags} ({@link VmArea#VM_ALLOC}, and {@link VmArea#VM_USERMAP} for
     * vmalloc_user). Returns its start, or 0 (NULL) with a warning (unless
     * {@code __GFP_NOWARN}) when the size is 0, larger than the pool can ever hold or the
     * window can place, the frames cannot be had under {@code gfp}, or mapping it would
     * take the process too close to {@code vm.max_map_count} ({@link MapBudget}).
     */
    public long vmalloc(String function, long size, int gfp, int vmFlags) {
        Gfp.check(function, gfp);
        AtomicContext.mightSleep(function, gfp);
        if (size < 0) {
            throw new IllegalArgumentException(function + ": size " + size + " is negative");
        }
        ensureOpen(function);
        if (size == 0) {
            return fail(function, size, gfp, "size 0 (the kernel also returns NULL for it)");
        }
        long maxBytes = maxFrames() << PhysLayout.PAGE_SHIFT;
        if (size > maxBytes || size > areas.size) {
            return fail(function, size, gfp, "larger than the pool can hold (" + maxBytes + " bytes at most) or the"
                    + " vmalloc window (" + areas.size + " bytes)");
        }
        long bytes = size + PhysLayout.PAGE_SIZE - 1 & PhysLayout.PAGE_MASK;
        int pages = (int) (bytes >>> PhysLayout.PAGE_SHIFT);
        long align = bytes >= HUGE_ALIGN ? HUGE_ALIGN : PhysLayout.PAGE_SIZE;
        StackWalker.StackFrame caller = caller();
        long start = areas.reserve(bytes, align);
        if (start < 0) {
            return fail(function, size, gfp, "vmap allocation failed: no free range of " + bytes + " bytes in the"
                    + " vmalloc window (largest " + areas.largestFree() + "); build the pool with a larger window");
        }
        int[] idx = new int[pages];
        byte[] orders = new byte[pages];
        int got = 0;
        try {
            got = takeFrames(gfp, idx, orders);
            if (got < pages) {
                freeFrames("vfree", idx, orders, got);
                areas.release(start, bytes);
                return fail(function, size, gfp, "failed to allocate pages (" + got + " of " + pages + " taken)");
            }
            String noMaps = maps.charge(phys.name(), runs(idx) + 2);
            if (noMaps != null) {
                freeFrames("vfree", idx, orders, got);
                areas.release(start, bytes);
                return fail(function, size, gfp, "out of process mappings: " + noMaps);
            }
            mapAll(start, idx);
        } catch (SyscallException e) {
            phys.unmapWindow(start, bytes + VmapAreas.GUARD);
            freeFrames("vfree", idx, orders, got);
            areas.release(start, bytes);
            return fail(function, size, gfp, "mapping the frames failed: " + e.getMessage());
        } catch (RuntimeException e) {
            freeFrames("vfree", idx, orders, got);
            areas.release(start, bytes);
            throw e;
        }
        for (int i = 0; i < pages; i += 1 << orders[i]) {
            memMap.setInfo(idx[i], memMap.info(idx[i]) | MemMap.PG_VMALLOC);
        }
        areas.publish(new VmArea(start, bytes, vmFlags, idx, orders, 0, caller));
        allocs.increment();
        pagesMapped.add(pages);
        return start;
    }

    /**
     * Fills {@code idx} with frames from the buddy (step 3 of the class comment) and returns
     * how many pages it got: all of them, or fewer when the buddy failed.
     */
    private int takeFrames(int gfp, int[] idx, byte[] orders) {
        int pages = idx.length;
        int ceiling = HUGE_ORDER;
        int highGfp = gfp & ~(__GFP_DIRECT_RECLAIM | __GFP_NOFAIL) | __GFP_NOWARN;
        long[] aside = null;
        int asideCount = 0;
        int off = 0;
        try {
            while (off < pages) {
                int order = Math.min(ceiling, 31 - Integer.numberOfLeadingZeros(pages - off));
                if (off != 0) {
                    order = Math.min(order, Integer.numberOfTrailingZeros(off));
                }
                long pfn = -1;
                while (order > 0 && (pfn = buddy.allocPages(highGfp, order)) < 0) {
                    ceiling = --order;
                }
                if (order == 0) {
                    pfn = buddy.allocPages(gfp, 0);
                    if (pfn < 0) {
                        return off;
                    }
                }
                long first = phys.pfnToIdx(pfn);
                FrameKind kind = phys.kindOf(first);
                if (kind.hugetlb() && order < kind.pageOrder()) {
                    if (aside == null || asideCount == aside.length) {
                        aside = Arrays.copyOf(aside == null ? new long[16] : aside,
                                aside == null ? 16 : aside.length * 2);
                    }
                    aside[asideCount++] = pfn << 8 | order;
                    setAside.increment();
                    continue;
                }
                for (int i = 0; i < 1 << order; i++) {
                    idx[off + i] = (int) phys.pfnToIdx(pfn + i);
                }
                orders[off] = (byte) order;
                off += 1 << order;
            }
            return off;
        } finally {
            for (int i = 0; i < asideCount; i++) {
                long pfn = aside[i] >>> 8;
                buddy.freePages("vmalloc", phys.directAddress(pfn), pfn, (int) (aside[i] & 0xFF));
            }
        }
    }

    /**
     * Maps every run of memfd-consecutive frames of {@code idx} at {@code start} onwards, and
     * makes the guard page after them a guard region of the last run's mapping where it can.
     */
    private void mapAll(long start, int[] idx) {
        int runStart = 0;
        for (int i = 1; i <= idx.length; i++) {
            if (i == idx.length || !phys.memfdNext(idx[i - 1], idx[i])) {
                phys.mapFrames(start + ((long) runStart << PhysLayout.PAGE_SHIFT), idx[runStart], i - runStart);
                mmaps.increment();
                runStart = i;
            }
        }
        phys.mapGuard(start + ((long) idx.length << PhysLayout.PAGE_SHIFT), idx[idx.length - 1]);
    }

    /** Runs of memfd-consecutive frames in {@code idx}: the mappings {@link #mapAll} makes. */
    private int runs(int[] idx) {
        int runs = 1;
        for (int i = 1; i < idx.length; i++) {
            if (!phys.memfdNext(idx[i - 1], idx[i])) {
                runs++;
            }
        }
        return runs;
    }

    /** Gives the blocks among the first {@code pages} entries back to the buddy. */
    private void freeFrames(String function, int[] idx, byte[] orders, int pages) {
        for (int i = 0; i < pages; i += 1 << orders[i]) {
            long info = memMap.info(idx[i]);
            memMap.setInfo(idx[i], info & ~MemMap.PG_VMALLOC);
            long pfn = MemMap.pfn(info);
            buddy.freePages(function, phys.directAddress(pfn), pfn, orders[i]);
        }
    }

    /**
     * {@code vfree}: frees the area {@link #vmalloc} returned at {@code addr}. 0 is ignored.
     *
     * @throws DoubleFreeException when the area was freed already
     * @throws BadAddressException for any address that is not the start of a vmalloc area,
     *         with what it is instead
     */
    public void vfree(String function, long addr) {
        if (addr == 0) {
            return;
        }
        ensureOpen(function);
        VmArea a = take(function, addr, VmArea.VM_ALLOC);
        a.close();
        phys.unmapWindow(a.start, a.size + VmapAreas.GUARD);
        maps.freed();
        freeFrames(function, a.idx, a.orders, a.idx.length);
        areas.release(a.start, a.size);
        frees.increment();
        pagesMapped.add(-a.idx.length);
    }

    /**
     * Takes the area of kind {@code kind} that starts at {@code addr} out of the busy map, or
     * throws the specific error for whatever {@code addr} is instead.
     */
    private VmArea take(String function, long addr, int kind) {
        VmArea a = areas.at(addr);
        if (a != null && (a.flags & kind) == 0) {
            throw misused(phys.name(), function, addr, new BadAddressException(where(function, addr)
                    + "the area was made by " + madeBy(a) + ", not " + (kind == VmArea.VM_MAP ? "vmap" : "vmalloc")
                    + "; release it with " + releaseFor(a) + (kind == VmArea.VM_MAP && (a.flags & VmArea.VM_ALLOC) != 0
                            ? " (vunmap would leave its frames allocated)" : "")));
        }
        if (a == null) {
            throw misused(phys.name(), function, addr, notAnArea(function, addr));
        }
        if (!recentFrees.recordWhile(addr, 0, () -> areas.unpublish(addr, a))) {
            throw misused(phys.name(), function, addr, new DoubleFreeException(where(function, addr)
                    + "double free: the area was freed by another thread at the same time"));
        }
        return a;
    }

    private RuntimeException notAnArea(String function, long addr) {
        String where = where(function, addr);
        if (!areas.inWindow(addr)) {
            return new BadAddressException(where + "not a vmalloc address (the window is [0x"
                    + Long.toHexString(areas.base) + ", 0x" + Long.toHexString(areas.base + areas.size) + "))"
                    + directMapNote(addr));
        }
        VmArea in = areas.containing(addr);
        if (in != null) {
            long off = addr - in.start;
            return new BadAddressException(where + (off >= in.size ? "the guard page" : "offset 0x"
                    + Long.toHexString(off)) + " of the " + madeBy(in) + " area [0x" + Long.toHexString(in.start)
                    + ", 0x" + Long.toHexString(in.start + in.size) + "); " + function + " takes the start address");
        }
        if (recentFrees.contains(addr, 0)) {
            return new DoubleFreeException(where + "double free: the area at this address was already freed");
        }
        return new BadAddressException(where + "no area starts here (never allocated, or freed long ago)");
    }

    private String directMapNote(long addr) {
        if (!phys.inDirectMap(addr)) {
            return "";
        }
        long pfn = phys.directPfn(addr);
        long idx = phys.pfnToIdx(pfn);
        long info = idx < 0 ? 0 : memMap.info(idx);
        if ((info & MemMap.PG_SLAB) != 0) {
            return ": it is a slab object of the direct map; free it with kfree or kmem_cache_free";
        }
        if ((info & MemMap.PG_LARGE_KMALLOC) != 0) {
            return ": it is a kmalloc block of the direct map; free it with kfree";
        }
        if ((info & MemMap.PG_ALLOCATED) != 0) {
            return ": it is a page allocator block of the direct map; free it with free_pages";
        }
        return ": it is in the pool's direct map (kmalloc and the page allocator), not the vmalloc window";
    }

    private String where(String function, long addr) {
        return function + "(0x" + Long.toHexString(addr) + ") on pool '" + phys.name() + "': ";
    }

    private static String madeBy(VmArea a) {
        if ((a.flags & VmArea.VM_IOREMAP) != 0) {
            return "ioremap";
        }
        return (a.flags & VmArea.VM_MAP) != 0 ? "vmap" : "vmalloc";
    }

    private static String releaseFor(VmArea a) {
        if ((a.flags & VmArea.VM_IOREMAP) != 0) {
            return "iounmap";
        }
        return (a.flags & VmArea.VM_MAP) != 0 ? "vunmap" : "vfree";
    }

    // ================================================================== vmap, vunmap

    /**
     * {@code vmap}: maps the frames {@code idx} (frame indices the caller holds) one after the
     * other in a new area. Returns its start, or 0 (NULL) when {@code idx} is empty or no
     * range fits or the process is out of mappings ({@link MapBudget}).
     *
     * @throws IllegalArgumentException when a frame is free, or is part of a hugetlb page
     *         that is not given whole and in order (a hugepage can only be mapped whole)
     */
    public long vmap(String function, int[] idx) {
        ensureOpen(function);
        if (idx.length == 0) {
            return 0;
        }
        boolean huge = false;
        for (int i = 0; i < idx.length; i++) {
            long info = memMap.info(idx[i]);
            if ((info & MemMap.PG_PRESENT) == 0) {
                throw new BadAddressException(function + ": page " + i + " (frame " + idx[i] + ") is not a frame of"
                        + " pool '" + phys.name() + "'");
            }
            if ((info & (MemMap.PG_BUDDY | MemMap.PG_PCP)) != 0) {
                throw new IllegalArgumentException(function + ": page " + i + " (pfn 0x"
                        + Long.toHexString(MemMap.pfn(info)) + ") is free in the page allocator; vmap maps pages"
                        + " the caller holds");
            }
            FrameKind kind = phys.kindOf(idx[i]);
            if (kind.hugetlb()) {
                huge = true;
                int n = kind.framesPerPage();
                boolean whole = i % n == 0 && i + n <= idx.length && idx[i] % n == 0;
                for (int k = 1; whole && k < n; k++) {
                    whole = idx[i + k] == idx[i] + k;
                }
                if (!whole) {
                    throw new IllegalArgumentException(function + ": page " + i + " (pfn 0x"
                            + Long.toHexString(MemMap.pfn(info)) + ") is part of a " + kind.label() + " page, which"
                            + " can only be mapped whole: give its " + n + " pages in order, starting at a multiple"
                            + " of " + n + " in the array");
                }
                i += n - 1;
            }
        }
        long bytes = (long) idx.length << PhysLayout.PAGE_SHIFT;
        long start = areas.reserve(bytes, huge || bytes >= HUGE_ALIGN ? HUGE_ALIGN : PhysLayout.PAGE_SIZE);
        if (start < 0) {
            return fail(function, bytes, 0, "vmap allocation failed: no free range of " + bytes + " bytes in the"
                    + " vmalloc window");
        }
        String noMaps = maps.charge(phys.name(), runs(idx) + 2);
        if (noMaps != null) {
            areas.release(start, bytes);
            return fail(function, bytes, 0, "out of process mappings: " + noMaps);
        }
        try {
            mapAll(start, idx);
        } catch (RuntimeException e) {
            phys.unmapWindow(start, bytes + VmapAreas.GUARD);
            areas.release(start, bytes);
            throw e;
        }
        areas.publish(new VmArea(start, bytes, VmArea.VM_MAP, idx.clone(), null, 0, caller()));
        allocs.increment();
        pagesMapped.add(idx.length);
        return start;
    }

    /**
     * {@code vunmap}: removes the mapping {@link #vmap} made at {@code addr}; the frames stay
     * the caller's.
     *
     * @throws BadAddressException for anything but the start of a vmap area (a vmalloc area
     *         is refused: vunmap would leave its frames allocated)
     */
    public void vunmap(String function, long addr) {
        ensureOpen(function);
        VmArea a = take(function, addr, VmArea.VM_MAP);
        a.close();
        phys.unmapWindow(a.start, a.size + VmapAreas.GUARD);
        maps.freed();
        areas.release(a.start, a.size);
        frees.increment();
        pagesMapped.add(-a.idx.length);
    }

    // ================================================================== ioremap's areas

    /**
     * Reserves a range of the window for a device mapping of {@code bytes} (a multiple of the
     * page size) and its guard page, as the kernel's ioremap takes its area from vmalloc's
     * allocator. Returns the start (still {@code PROT_NONE}; the caller maps the device there
     * with {@code MAP_FIXED}), or -1 when the window has no room.
     */
    public long reserveIoremap(long bytes) {
        return areas.reserve(bytes, bytes >= HUGE_ALIGN ? HUGE_ALIGN : PhysLayout.PAGE_SIZE);
    }

    /** Lists a mapped device range in the window ({@code find_vm_area}, vmallocinfo's {@code ioremap}). */
    public void publishIoremap(long start, long bytes, long physAddr, String caller) {
        areas.publish(new VmArea(start, bytes, VmArea.VM_IOREMAP, null, null, physAddr, caller));
    }

    /**
     * Removes a device mapping from the window: unlisted, mapped back to {@code PROT_NONE}, the
     * range free again. Also undoes a {@link #reserveIoremap} that was never published.
     */
    public void releaseIoremap(long start, long bytes) {
        VmArea a = areas.at(start);
        if (a != null && (a.flags & VmArea.VM_IOREMAP) != 0) {
            areas.unpublish(start, a);
        }
        phys.unmapWindow(start, bytes);
        areas.release(start, bytes);
    }

    // ================================================================== lookups

    /** {@code is_vmalloc_addr}: true when {@code addr} lies in the vmalloc window. */
    public boolean isVmallocAddr(long addr) {
        return areas.inWindow(addr);
    }

    /**
     * The frame index behind {@code addr} ({@code vmalloc_to_page}), or -1 when nothing is
     * mapped there (a free range, a guard page, a device mapping).
     *
     * @throws BadAddressException when {@code addr} is outside the window
     */
    public long frameAt(String function, long addr) {
        if (!areas.inWindow(addr)) {
            throw new BadAddressException(where(function, addr) + "not a vmalloc address (the window is [0x"
                    + Long.toHexString(areas.base) + ", 0x" + Long.toHexString(areas.base + areas.size) + "))");
        }
        VmArea a = areas.containing(addr);
        if (a == null || a.idx == null || addr - a.start >= a.size) {
            return -1;
        }
        return a.idx[(int) ((addr - a.start) >>> PhysLayout.PAGE_SHIFT)];
    }

    /** {@code find_vm_area}: the area containing {@code addr} (guard page included), or null. */
    public VmArea find(long addr) {
        return areas.containing(addr);
    }

    /**
     * A segment over {@code bytes} at {@code addr}, inside one area; it stops working when the
     * area is freed. Null when {@code addr} is not in an area.
     *
     * @throws BadAddressException when the range runs past the area's end
     */
    public MemorySegment segment(long addr, long bytes) {
        VmArea a = areas.containing(addr);
        if (a == null) {
            return null;
        }
        if (bytes < 0 || addr - a.start + bytes > a.size) {
            throw new BadAddressException("segment: [0x" + Long.toHexString(addr) + ", +" + bytes + ") runs past the"
                    + " end of the " + madeBy(a) + " area [0x" + Long.toHexString(a.start) + ", 0x"
                    + Long.toHexString(a.start + a.size) + ") into its guard page");
        }
        return a.segment().asSlice(addr - a.start, bytes);
    }

    /**
     * What {@code addr} is, when it is in the window, for another allocator's error message
     * ("a vmalloc area ...; free it with vfree"); null outside the window.
     */
    public String describe(long addr) {
        if (!areas.inWindow(addr)) {
            return null;
        }
        VmArea a = areas.containing(addr);
        if (a == null) {
            return "the address is in the vmalloc window but in no area (freed, or never allocated)";
        }
        return "the address is in the " + madeBy(a) + " area [0x" + Long.toHexString(a.start) + ", 0x"
                + Long.toHexString(a.start + a.size) + ") from " + a.caller() + "; release it with " + releaseFor(a);
    }

    // ================================================================== reports

    /**
     * {@code /proc/vmallocinfo}: one line per area in address order, {@code start-end size
     * caller pages=N phys=ADDR kind}, the range and size counting the guard page, as the
     * kernel prints them.
     */
    public String vmallocinfo() {
        StringBuilder sb = new StringBuilder();
        for (VmArea a : areas.areas()) {
            long end = a.start + a.size + VmapAreas.GUARD;
            sb.append(String.format(Locale.ROOT, "0x%016x-0x%016x %7d %s", a.start, end, end - a.start, a.caller()));
            if (a.nrPages() > 0) {
                sb.append(" pages=").append(a.nrPages());
            }
            if (a.physAddr != 0) {
                sb.append(String.format(Locale.ROOT, " phys=0x%016x", a.physAddr));
            }
            if ((a.flags & VmArea.VM_IOREMAP) != 0) {
                sb.append(" ioremap");
            }
            if ((a.flags & VmArea.VM_ALLOC) != 0) {
                sb.append(" vmalloc");
            }
            if ((a.flags & VmArea.VM_MAP) != 0) {
                sb.append(" vmap");
            }
            if ((a.flags & VmArea.VM_USERMAP) != 0) {
                sb.append(" user");
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    /** Busy areas of the window in address order (vmalloc, vmap, ioremap), a snapshot: for leak reports. */
    public List<VmArea> busyAreas() {
        return areas.areas();
    }

    /** Misuses detected and thrown (bad or double frees, wrong orders), ever. */
    public long misuses() {
        return misuses.sum();
    }

    private <E extends RuntimeException> E misused(String pool, String function, long addr, E e) {
        misuses.increment();
        return Trace.misuse(pool, function, addr, e);
    }

    /** Pages mapped into vmalloc areas now; no lock taken. */
    public long pagesMapped() {
        return pagesMapped.sum();
    }

    /** The window's figures and the counters, now. */
    public VmallocStats stats() {
        return new VmallocStats(areas.size, areas.size - areas.freeBytes(), areas.largestFree(), areas.areas().size(),
                pagesMapped.sum(), allocs.sum(), frees.sum(), failures.sum(), mmaps.sum(), setAside.sum(),
                maps.headroom(), maps.limit());
    }

    /**
     * Consistency: the window's free ranges and areas tile it; every page of a vmalloc area
     * is a frame the page allocator has handed out with its block head marked
     * {@code PG_VMALLOC}. Empty when all is well; call at rest.
     */
    public List<String> check() {
        List<String> errors = new ArrayList<>(areas.check());
        for (VmArea a : areas.areas()) {
            if ((a.flags & VmArea.VM_ALLOC) == 0) {
                continue;
            }
            for (int i = 0; i < a.idx.length; i += 1 << a.orders[i]) {
                long info = memMap.info(a.idx[i]);
                long want = MemMap.PG_ALLOCATED | MemMap.PG_VMALLOC | (long) a.orders[i] << MemMap.ORDER_SHIFT;
                if ((info & MemMap.STATE_MASK) != want) {
                    errors.add("vmalloc area 0x" + Long.toHexString(a.start) + " page " + i + " (frame " + a.idx[i]
                            + "): mem_map says " + MemMap.flagNames(info) + " order " + MemMap.order(info)
                            + ", expected an allocated order-" + a.orders[i] + " block marked vmalloc");
                }
            }
        }
        return errors;
    }

    public long windowBase() {
        return areas.base;
    }

    public long windowSize() {
        return areas.size;
    }

    /** Invalidates every area's segment; the window itself goes with the pool's frames. */
    @Override
    public void close() {
        for (VmArea a : areas.areas()) {
            a.close();
        }
    }

    // ================================================================== helpers

    private void ensureOpen(String function) {
        phys.ensureOpen(function);
    }

    private long maxFrames() {
        long n = 0;
        for (FrameKind k : FrameKind.values()) {
            if (phys.hasSource(k)) {
                n += phys.maxFrames(k);
            }
        }
        return n;
    }

    /** Counts and warns about a request the facade refuses before it reaches vmalloc. */
    public void refuse(String function, long size, int gfp, String why) {
        fail(function, size, gfp, why);
    }

    private long fail(String function, long size, int gfp, String why) {
        failures.increment();
        Trace.allocFailure(phys.name(), function, null, size, -1, gfp, why);
        if ((gfp & __GFP_NOWARN) == 0 && warnLimit.admit() >= 0) {
            LOG.log(System.Logger.Level.WARNING, Thread.currentThread().getName() + ": vmalloc error: " + function
                    + ": size " + size + ", mode:0x" + Integer.toHexString(gfp) + "(" + Gfp.names(gfp) + "), pool '"
                    + phys.name() + "': " + why);
        }
        return 0;
    }

    /** The first frame of the stack outside kmem's API (null if there is none). */
    static StackWalker.StackFrame caller() {
        return WALKER.walk(s -> s.filter(f -> !INTERNAL.contains(f.getClassName())).findFirst().orElse(null));
    }
}
