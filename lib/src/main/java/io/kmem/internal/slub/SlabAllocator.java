package io.kmem.internal.slub;

import static io.kmem.gfp.Gfp.__GFP_DMA;
import static io.kmem.gfp.Gfp.__GFP_DMA32;
import static io.kmem.gfp.Gfp.__GFP_NOWARN;
import static io.kmem.gfp.Gfp.__GFP_ZERO;

import io.kmem.debug.FaultAttr;
import io.kmem.error.BadAddressException;
import io.kmem.error.DoubleFreeException;
import io.kmem.error.KmemException;
import io.kmem.error.PoolClosedException;
import io.kmem.gfp.Gfp;
import io.kmem.internal.lib.LazyLogger;
import io.kmem.internal.page.BuddyAllocator;
import io.kmem.internal.lib.Ratelimit;
import io.kmem.internal.phys.FramePool;
import io.kmem.internal.phys.MemMap;
import io.kmem.internal.phys.PhysLayout;
import io.kmem.stats.KmemObjInfo;
import io.kmem.stats.LargeKmallocStats;
import io.kmem.stats.LiveAllocation;
import io.kmem.stats.SlabCacheStats;
import io.kmem.internal.trace.Trace;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.function.LongFunction;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;

/**
 * The slab layer of one pool: the kmalloc caches, {@code kmem_cache_create}'d caches, large
 * kmalloc straight from the buddy, and the frame-to-slab table that lets {@code kfree} find
 * an object's slab and cache in O(1).
 *
 * <h2>kmalloc size classes</h2>
 * <pre>
 *  size      1..8  ..16  ..32  ..64  ..96  ..128  ..192  ..256  ..512  ..1k  ..2k  ..4k  ..8k  ..4M
 *  cache     8     16    32    64    96    128    192    256    512    1k    2k    4k    8k    buddy
 *  index     3     4     5     6     1     7      2      8      9      10    11    12    13    (order)
 * </pre>
 * Sizes up to 192 find their index in {@link #SIZE_INDEX} by (size - 1) / 8; above, by
 * ceil(log2(size)). Power-of-two caches align objects to their size. {@code __GFP_DMA}
 * and {@code __GFP_DMA32} use separate caches (dma-kmalloc-N, dma32-kmalloc-N) whose slabs
 * come from those zones, made on first use. Above 8 KiB kmalloc takes a block of
 * {@code get_order(size)} pages from the buddy and marks its head frame
 * {@link MemMap#PG_LARGE_KMALLOC}; above 4 MiB it returns NULL with a warning.
 *
 * <h2>Frame to slab</h2>
 * <pre>
 *  addr - directBase:  | frame: >>> 12                                  | byte in frame |
 *  frameSlabs[]:       [ null | slab | slab | null | ... ]   one per frame of the direct map
 *
 *  or, for a direct map above 32 GiB:
 *  addr - directBase:  | section: >>> 21 | frame in section: bits 12..20 | byte in frame |
 *  sections[]:         [ null | Slab[512] | null | ... ]     one per 2 MiB of the direct map
 *  Slab[512]:          the slab holding each frame, null for frames no slab holds
 * </pre>
 * The kernel finds a slab from {@code virt_to_page}, because {@code struct slab} overlays
 * {@code struct page}; here a table maps a frame straight to its {@link Slab}. The direct
 * map spans the host's PFNs, not only the pool's frames (a pool's frames lie anywhere in
 * RAM), so the flat table costs 4 bytes of heap per frame of the host's RAM (1 MiB per
 * GiB of RAM), whatever the pool's size. It saves kfree a dependent load; above 32 GiB
 * the two-level table, which costs 2 KiB per 2 MiB section holding slabs, takes its place.
 * mem_map says the same thing for the frame ({@link MemMap#PG_SLAB}), for reports and for
 * the page allocator's misuse messages.
 *
 * <h2>Locks</h2>
 * {@link #cachesLock} guards the cache list and the lazily made kmalloc caches; the section
 * table's arrays are made under {@code sections}' monitor. Each cache has its own lock
 * ({@link KmemCacheImpl}); no two are held at once.
 */
public final class SlabAllocator {
    public static final long ZERO_SIZE_PTR = 16;
    /** GFP bits kmalloc's fast path serves itself; any other bit (unknown ones too) takes the slow path. */
    private static final int FAST_GFP = Gfp.VALID_MASK & ~(__GFP_DMA | __GFP_DMA32);
    public static final int KMALLOC_SHIFT_HIGH = 13;
    /** The largest kmalloc served from a cache: 8 KiB. */
    public static final int KMALLOC_MAX_CACHE_SIZE = 1 << KMALLOC_SHIFT_HIGH;
    /** The largest kmalloc: 4 MiB (an order-10 block). */
    public static final long KMALLOC_MAX_SIZE = PhysLayout.PAGE_SIZE << BuddyAllocator.MAX_ORDER;

    private static final byte[] SIZE_INDEX = {3, 4, 5, 5, 6, 6, 6, 6, 1, 1, 1, 1, 7, 7, 7, 7, 2, 2, 2, 2, 2, 2, 2, 2};
    private static final int SECTION_SHIFT = 21;
    private static final int SECTION_FRAMES = 1 << (SECTION_SHIFT - PhysLayout.PAGE_SHIFT);
    /**
     * The largest direct map (in frames) given a flat frame-to-slab table: 8 Mi frames, a
     * direct map of 32 GiB, a table of 32 MiB of heap (compressed references).
     * {@code -Dkmem.slab_table=sections} takes the two-level table whatever the size.
     */
    public static final long FLAT_TABLE_MAX_FRAMES = 8L << 20;
    private static final int REPORTS_KEPT = 256;
    private static final System.Logger LOG = LazyLogger.of("io.kmem.slab");

    final FramePool phys;
    final BuddyAllocator buddy;
    final FaultAttr failslab = new FaultAttr("failslab");
    private final MemMap memMap;
    /**
     * Held while a slab goes back to the buddy ({@link #discardSlab}) and while a free that
     * found no slab is diagnosed ({@link #notSlab}): a free racing the one that emptied the
     * slab then finds its object's frame free (a double free), never half given back.
     */
    private final Object discards = new Object();
    private volatile LongFunction<String> outsideDescriber;
    private final long dbase;
    private final long span;
    /** The frame-to-slab table when the direct map spans at most {@link #FLAT_TABLE_MAX_FRAMES}; else null. */
    private final Slab[] frameSlabs;
    /** The two-level table otherwise: one array of 512 per 2 MiB section that holds a slab. */
    private final Slab[][] sections;
    private final int debugAll;
    private final List<String> debugNames;
    private final KmemCacheImpl[] kmalloc = new KmemCacheImpl[KMALLOC_SHIFT_HIGH + 1];
    /** The Normal-zone cache for sizes 1..192 by (size - 1) / 8: SIZE_INDEX resolved once. */
    private final KmemCacheImpl[] small = new KmemCacheImpl[SIZE_INDEX.length];
    private final KmemCacheImpl[][] kmallocDma = new KmemCacheImpl[2][KMALLOC_SHIFT_HIGH + 1];
    private final Object cachesLock = new Object();
    private final List<KmemCacheImpl> caches = new ArrayList<>();
    /** Caches kmem_cache_destroy found objects in: off {@link #caches}, kept for leak reports and close. */
    private final List<KmemCacheImpl> orphans = new ArrayList<>();
    private final Deque<String> reports = new ArrayDeque<>();
    private final Ratelimit warnLimit = new Ratelimit(TimeUnit.SECONDS.toNanos(5), 10);
    /** SLUB reports are kept whole for {@link #takeReports}; only their logging is rate-limited. */
    private final Ratelimit reportLimit = new Ratelimit(TimeUnit.SECONDS.toNanos(5), 10);
    private final LongAdder largeAllocs = new LongAdder();
    private final LongAdder largeFrees = new LongAdder();
    private final LongAdder largeFailures = new LongAdder();
    private final LongAdder misuses = new LongAdder();
    private long reportCount;

    /**
     * @param slubDebug the kernel's {@code slub_debug} option: flag letters (F consistency
     *                  checks, Z red zones, P poisoning, U store user; empty: all four; "-":
     *                  none), optionally followed by {@code ,name,name...} to limit them to
     *                  those caches; null for none
     */
    public SlabAllocator(FramePool phys, BuddyAllocator buddy, String slubDebug) {
        this.phys = phys;
        this.buddy = buddy;
        this.memMap = phys.memMap();
        this.dbase = phys.directBase();
        this.span = (phys.limitPfn() - phys.basePfn()) << PhysLayout.PAGE_SHIFT;
        long frames = span >>> PhysLayout.PAGE_SHIFT;
        String table = System.getProperty("kmem.slab_table", "auto");
        if (!table.equals("auto") && !table.equals("sections")) {
            throw new IllegalArgumentException("-Dkmem.slab_table=" + table + ": expected auto (a flat frame-to-slab"
                    + " table up to a 32 GiB direct map) or sections (always the two-level table)");
        }
        this.frameSlabs = frames <= FLAT_TABLE_MAX_FRAMES && table.equals("auto") ? new Slab[(int) frames] : null;
        this.sections = frameSlabs != null ? null
                : new Slab[Math.toIntExact((span + (1L << SECTION_SHIFT) - 1) >>> SECTION_SHIFT)][];
        this.debugNames = new ArrayList<>();
        this.debugAll = parseSlubDebug(slubDebug, debugNames);
        failslab.onArmChange(this::armChanged);
        for (int i = 1; i <= KMALLOC_SHIFT_HIGH; i++) {
            kmalloc[i] = kmallocCache(0, i);
        }
        for (int k = 0; k < SIZE_INDEX.length; k++) {
            small[k] = kmalloc[SIZE_INDEX[k]];
        }
    }

    /** Parses {@code slub_debug}: returns the flags, fills {@code names} with the caches they are limited to. */
    static int parseSlubDebug(String option, List<String> names) {
        if (option == null) {
            return 0;
        }
        String[] parts = option.split(",");
        String letters = parts.length == 0 ? "" : parts[0].trim();
        for (int k = 1; k < parts.length; k++) {
            if (!parts[k].isBlank()) {
                names.add(parts[k].trim());
            }
        }
        if (letters.isEmpty()) {
            return KmemCacheImpl.DEBUG_FLAGS;
        }
        int f = 0;
        for (char ch : letters.toCharArray()) {
            f |= switch (Character.toUpperCase(ch)) {
                case 'F' -> KmemCacheImpl.SLAB_CONSISTENCY_CHECKS;
                case 'Z' -> KmemCacheImpl.SLAB_RED_ZONE;
                case 'P' -> KmemCacheImpl.SLAB_POISON;
                case 'U' -> KmemCacheImpl.SLAB_STORE_USER;
                case '-' -> 0;
                default -> throw new IllegalArgumentException("kmem.slub_debug=" + option + ": unknown flag '" + ch
                        + "'; expected letters of FZPU (consistency checks, red zones, poisoning, store user) or -");
            };
        }
        return f;
    }

    private int debugFlagsFor(String name) {
        return debugNames.isEmpty() || debugNames.contains(name) ? debugAll : 0;
    }

    private static int classSize(int index) {
        return index == 1 ? 96 : index == 2 ? 192 : 1 << index;
    }

    private KmemCacheImpl kmallocCache(int dma, int index) {
        int size = classSize(index);
        String prefix = dma == 0 ? "kmalloc-" : dma == 1 ? "dma-kmalloc-" : "dma32-kmalloc-";
        String name = prefix + (size >= 1024 ? (size >> 10) + "k" : Integer.toString(size));
        int zone = dma == 1 ? KmemCacheImpl.SLAB_CACHE_DMA : dma == 2 ? KmemCacheImpl.SLAB_CACHE_DMA32 : 0;
        KmemCacheImpl c = new KmemCacheImpl(this, name, size, Integer.bitCount(size) == 1 ? size : 8,
                zone | debugFlagsFor(name), null);
        c.slowOnly = failslab.armed();
        synchronized (cachesLock) {
            caches.add(c);
        }
        return c;
    }

    /** failslab was armed or disarmed: the fast paths must (or need no longer) offer allocations to it. */
    private void armChanged() {
        boolean armed = failslab.armed();
        for (KmemCacheImpl c : caches()) {
            c.slowOnly = armed || c.dead;
        }
    }

    // ================================================================== kmem_cache_*

    /**
     * {@code kmem_cache_create}. Returns null when the cache cannot be made (a cache of that
     * name exists), with a warning; with {@code SLAB_PANIC} that throws instead.
     *
     * @throws IllegalArgumentException for a bad name, size, alignment or flag
     */
    public KmemCacheImpl create(String name, long size, long align, int flags, Consumer<MemorySegment> ctor) {
        String fn = "kmem_cache_create(" + name + ", " + size + ", " + align + ", 0x" + Integer.toHexString(flags) + ")";
        phys.ensureOpen(fn);
        if (name == null || name.isBlank() || name.chars().anyMatch(Character::isWhitespace)) {
            throw new IllegalArgumentException(fn + ": the name must be a non-empty word (it names the cache in"
                    + " slabinfo and reports)");
        }
        if (size < 1 || size > KMALLOC_MAX_SIZE) {
            throw new IllegalArgumentException(fn + ": object size " + size + " is outside 1.." + KMALLOC_MAX_SIZE);
        }
        if (align < 0 || align > PhysLayout.PAGE_SIZE || (align & (align - 1)) != 0) {
            throw new IllegalArgumentException(fn + ": align " + align + " must be 0 or a power of two up to "
                    + PhysLayout.PAGE_SIZE);
        }
        if ((flags & ~KmemCacheImpl.VALID_FLAGS) != 0) {
            throw new IllegalArgumentException(fn + ": unknown flag bits 0x" + Integer.toHexString(flags
                    & ~KmemCacheImpl.VALID_FLAGS) + "; use the SLAB_* constants");
        }
        if ((flags & KmemCacheImpl.SLAB_CACHE_DMA) != 0 && (flags & KmemCacheImpl.SLAB_CACHE_DMA32) != 0) {
            throw new IllegalArgumentException(fn + ": SLAB_CACHE_DMA and SLAB_CACHE_DMA32 exclude each other");
        }
        synchronized (cachesLock) {
            for (KmemCacheImpl c : caches) {
                if (c.name.equals(name) && !c.destroyed()) {
                    String why = fn + ": pool '" + phys.name() + "' already has a cache named " + name;
                    if ((flags & KmemCacheImpl.SLAB_PANIC) != 0) {
                        throw new KmemException(why + " (SLAB_PANIC: creation must not fail)");
                    }
                    if (warnLimit.admit() >= 0) {
                        LOG.log(System.Logger.Level.WARNING, why);
                    }
                    return null;
                }
            }
            KmemCacheImpl c = new KmemCacheImpl(this, name, (int) size, (int) align, flags | debugFlagsFor(name), ctor);
            c.slowOnly = failslab.armed();
            caches.add(c);
            return c;
        }
    }

    /** {@code kmem_cache_free} with the cache the caller names: it must be the object's. */
    public void cacheFree(KmemCacheImpl cache, long addr) {
        cacheFree("kmem_cache_free", cache, addr);
    }

    /** {@link #cacheFree(KmemCacheImpl, long)} for {@code function}, the call the caller made (for messages). */
    public void cacheFree(String function, KmemCacheImpl cache, long addr) {
        Slab s = slabOf(addr);
        if (s != null && s.cache == cache) {
            cache.free(s, addr, function);
            return;
        }
        phys.ensureOpen(function);
        if (s != null) {
            throw misuse(function, addr,
                    new BadAddressException(function + "(" + cache.name + ", 0x" + Long.toHexString(addr)
                    + ") on pool '" + phys.name() + "': wrong slab cache: the object is from " + s.cache.name
                    + ", not " + cache.name), null);
        }
        Slab late;
        synchronized (discards) {
            late = slabOf(addr);
            if (late == null || late.cache != cache) {
                throw notSlab(function + "(" + cache.name + ", 0x" + Long.toHexString(addr) + ")", addr);
            }
        }
        cache.free(late, addr, function);
    }

    /**
     * {@code kmem_cache_destroy}; the leak reports when objects are still allocated. Then, as
     * in the kernel, the cache leaves the list (its name may be used again) and its memory
     * stays; it refuses allocations, its objects may still be freed, and destroying it again
     * once they are releases it.
     */
    public List<String> destroy(KmemCacheImpl cache) {
        phys.ensureOpen("kmem_cache_destroy");
        if (cache.destroyed()) {
            throw new KmemException("kmem_cache_destroy(" + cache.name + "): already destroyed");
        }
        List<String> leaks = cache.destroy();
        if (!leaks.isEmpty()) {
            StringBuilder sb = new StringBuilder(SlubDebug.bug(cache, "Objects remaining on __kmem_cache_shutdown()",
                    cache.slabs().getFirst(), -1, leaks.size() + " object(s) still allocated; the cache and its slabs"
                            + " stay", null));
            for (String l : leaks) {
                sb.append(l).append('\n');
            }
            sb.append("kmem_cache_destroy ").append(cache.name).append(": Slab cache still has objects");
            report(sb.toString());
        }
        synchronized (cachesLock) {
            caches.remove(cache);
            orphans.remove(cache);
            if (!leaks.isEmpty()) {
                orphans.add(cache);
            }
        }
        return leaks;
    }

    // ================================================================== kmalloc

    /** {@code kmalloc}: see the class comment. Returns 0 (NULL) when out of memory or too large. */
    public long kmalloc(long size, int gfp) {
        return kmalloc("kmalloc", size, gfp);
    }

    /**
     * {@link #kmalloc(long, int)} for {@code function}, the call the caller made (kzalloc,
     * kcalloc, krealloc ...): its errors name it. Unknown GFP bits and a negative size throw
     * {@link IllegalArgumentException}.
     */
    public long kmalloc(String function, long size, int gfp) {
        if (Long.compareUnsigned(size - 1, 192) < 0 && (gfp & ~FAST_GFP) == 0) {
            return small[(int) (size - 1) >>> 3].alloc(function, gfp, (int) size);
        }
        return kmallocSlow(function, size, gfp);
    }

    private long kmallocSlow(String function, long size, int gfp) {
        if ((gfp & ~Gfp.VALID_MASK) != 0) {
            phys.ensureOpen(function);
            Gfp.check(function, gfp);
        }
        if (size == 0) {
            phys.ensureOpen(function);
            return ZERO_SIZE_PTR;
        }
        if (size < 0) {
            phys.ensureOpen(function);
            throw new IllegalArgumentException(function + ": size " + size + " is negative");
        }
        if (size > KMALLOC_MAX_CACHE_SIZE) {
            return kmallocLarge(function, size, gfp);
        }
        int index = size <= 192 ? SIZE_INDEX[(int) (size - 1) >>> 3] : 64 - Long.numberOfLeadingZeros(size - 1);
        int dma = (gfp & __GFP_DMA) != 0 ? 1 : (gfp & __GFP_DMA32) != 0 ? 2 : 0;
        if (dma == 0) {
            return kmalloc[index].alloc(function, gfp, (int) size);
        }
        KmemCacheImpl c;
        synchronized (cachesLock) {
            c = kmallocDma[dma - 1][index];
            if (c == null) {
                c = kmallocCache(dma, index);
                kmallocDma[dma - 1][index] = c;
            }
        }
        return c.alloc(function, gfp & ~(__GFP_DMA | __GFP_DMA32), (int) size);
    }

    private long kmallocLarge(String function, long size, int gfp) {
        if (size > KMALLOC_MAX_SIZE) {
            phys.ensureOpen(function);
            largeFailures.increment();
            Trace.allocFailure(phys.name(), function, null, size, -1, gfp, "above KMALLOC_MAX_SIZE");
            if ((gfp & __GFP_NOWARN) == 0 && warnLimit.admit() >= 0) {
                LOG.log(System.Logger.Level.WARNING, Thread.currentThread().getName() + ": " + function + "(" + size
                        + ") on pool '" + phys.name() + "': above KMALLOC_MAX_SIZE (" + KMALLOC_MAX_SIZE
                        + " bytes); use vmalloc for large buffers");
            }
            return 0;
        }
        int order = BuddyAllocator.getOrder(size);
        long pfn = buddy.allocPages(function, gfp, order);
        if (pfn < 0) {
            largeFailures.increment();
            Trace.allocFailure(phys.name(), function, null, size, order, gfp, "the page allocator failed");
            return 0;
        }
        long idx = phys.pfnToIdx(pfn);
        memMap.setInfo(idx, memMap.info(idx) | MemMap.PG_LARGE_KMALLOC);
        largeAllocs.increment();
        return phys.directAddress(pfn);
    }

    /**
     * {@code kfree}. NULL and ZERO_SIZE_PTR are no-ops.
     *
     * @throws DoubleFreeException   when the object is already free
     * @throws BadAddressException   for anything kmalloc did not return
     */
    public void kfree(long addr) {
        kfree("kfree", addr);
    }

    /** {@link #kfree(long)} for {@code function}, the call the caller made (kvfree, krealloc ...). */
    public void kfree(String function, long addr) {
        Slab s = slabOf(addr);
        if (s != null) {
            s.cache.free(s, addr, function);
            return;
        }
        kfreeSlow(function, addr);
    }

    private void kfreeSlow(String function, long addr) {
        phys.ensureOpen(function);
        if (addr >= 0 && addr <= ZERO_SIZE_PTR) {
            return;
        }
        long pfn = phys.directPfn(addr);
        long idx = pfn < 0 ? -1 : phys.pfnToIdx(pfn);
        if (idx >= 0 && (addr & PhysLayout.PAGE_SIZE - 1) == 0) {
            long info = memMap.info(idx);
            if ((info & (MemMap.PG_LARGE_KMALLOC | MemMap.PG_ALLOCATED)) == (MemMap.PG_LARGE_KMALLOC
                    | MemMap.PG_ALLOCATED)) {
                buddy.freeLargeKmalloc(function, addr, pfn, MemMap.order(info));
                largeFrees.increment();
                return;
            }
        }
        Slab late;
        synchronized (discards) {
            late = slabOf(addr);
            if (late == null) {
                throw notSlab(function + "(0x" + Long.toHexString(addr) + ")", addr);
            }
        }
        late.cache.free(late, addr, function);
    }

    /**
     * Gives the error messages of kfree, ksize and kmem_cache_free words for addresses outside
     * the direct map (the vmalloc window says "a vmalloc area ...; free it with vfree"):
     * {@code describer} returns null for an address it does not know.
     */
    public void describeOutsideWith(LongFunction<String> describer) {
        this.outsideDescriber = describer;
    }

    /**
     * The error for a free of an address that is neither a slab object nor a large kmalloc.
     * The frees call it holding {@link #discards}, so that a slab on its way back to the buddy
     * is seen either whole or with its frames free, never in between; ksize, which changes
     * nothing, calls it without.
     */
    private KmemException notSlab(String call, long addr) {
        String where = call + " on pool '" + phys.name() + "': ";
        long pfn = phys.directPfn(addr);
        long idx = pfn < 0 ? -1 : phys.pfnToIdx(pfn);
        KmemException e;
        String outside = idx < 0 && outsideDescriber != null ? outsideDescriber.apply(addr) : null;
        if (outside != null) {
            e = new BadAddressException(where + "not an address kmalloc returned: " + outside);
        } else if (idx < 0) {
            e = new BadAddressException(where + "not an address kmalloc returned (it is outside the pool's direct map"
                    + " of frames)");
        } else {
            long info = memMap.info(idx);
            if ((info & (MemMap.PG_BUDDY | MemMap.PG_PCP)) != 0 || buddy.inFreeBlock(pfn)) {
                e = new DoubleFreeException(where + "double free: the page " + ((addr & PhysLayout.PAGE_SIZE - 1) == 0
                        ? "is" : "holding the address is") + " already free (in the page allocator: an object freed"
                        + " twice after its slab went back, or a page freed twice)");
            } else if ((info & MemMap.PG_VMALLOC) != 0) {
                e = new BadAddressException(where + "the address is in a vmalloc area; free it with vfree");
            } else if ((info & MemMap.PG_LARGE_KMALLOC) != 0) {
                e = new BadAddressException(where + "not the start of the kmalloc block at 0x"
                        + Long.toHexString(addr & -PhysLayout.PAGE_SIZE));
            } else if ((info & MemMap.PG_ALLOCATED) != 0) {
                e = new BadAddressException(where + "the page was allocated by the page allocator (__get_free_pages,"
                        + " alloc_pages), not kmalloc; free it with free_pages");
            } else {
                e = new BadAddressException(where + "not an object kmalloc handed out (frame state: "
                        + MemMap.flagNames(info) + ")");
            }
        }
        return misuse(call.substring(0, call.indexOf('(')), addr, e, null);
    }

    /** Whether kfree finds slabs through the flat frame-to-slab table (else the two-level one). */
    public boolean flatFrameTable() {
        return frameSlabs != null;
    }

    /** Bytes of the frame-to-slab table, at 4 per reference (array headers of 16). */
    public long frameTableBytes() {
        if (frameSlabs != null) {
            return 16 + 4L * frameSlabs.length;
        }
        long bytes = 16 + 4L * sections.length;
        synchronized (sections) {
            for (Slab[] sec : sections) {
                bytes += sec == null ? 0 : 16 + 4L * sec.length;
            }
        }
        return bytes;
    }

    /** The slab holding {@code addr}, or null. */
    Slab slabOf(long addr) {
        long off = addr - dbase;
        if (Long.compareUnsigned(off, span) >= 0) {
            return null;
        }
        Slab[] flat = frameSlabs;
        if (flat != null) {
            return flat[(int) (off >>> PhysLayout.PAGE_SHIFT)];
        }
        Slab[] sec = sections[(int) (off >>> SECTION_SHIFT)];
        return sec == null ? null : sec[(int) (off >>> PhysLayout.PAGE_SHIFT) & SECTION_FRAMES - 1];
    }

    /** {@code kmem_obj_info}: the cache, slab and object holding {@code addr}; null when no slab holds it. */
    public KmemObjInfo objInfo(long addr) {
        Slab s = slabOf(addr);
        if (s == null || addr < s.objBase || addr >= s.objBase + (long) s.cache.objects * s.cache.size) {
            return null;
        }
        int i = (int) ((addr - s.objBase) / s.cache.size);
        long start = s.object(i);
        return new KmemObjInfo(s.cache.name, s.base, s.pfn, 1 << s.cache.order, i, start, addr - start,
                s.cache.objectSize, s.state(i) == Slab.ALLOCATED);
    }

    /** The name of the cache whose slab holds {@code addr}, or null when no slab does: for reports. */
    public String cacheOf(long addr) {
        Slab s = slabOf(addr);
        return s == null ? null : s.cache.name;
    }

    /** {@code ksize}: the usable bytes of the object at {@code addr}. */
    public long ksize(long addr) {
        return ksize("ksize", addr);
    }

    /** {@link #ksize(long)} for {@code function}, the call the caller made (krealloc, kfree_sensitive). */
    private long ksize(String function, long addr) {
        if (addr >= 0 && addr <= ZERO_SIZE_PTR) {
            return 0;
        }
        Slab s = slabOf(addr);
        if (s != null) {
            int i = s.indexOf(addr);
            if (i >= 0 && s.state(i) == Slab.ALLOCATED) {
                if (s.requested != null) {
                    // The caller may now use the whole object: no kmalloc red zone (SLUB's skip_orig_size_check).
                    s.cache.lock.lock();
                    try {
                        SlubDebug.wholeObject(s.cache, s, i);
                    } finally {
                        s.cache.lock.unlock();
                    }
                }
                return s.cache.objectSize;
            }
            throw misuse(function, addr,
                    new BadAddressException(function + "(0x" + Long.toHexString(addr) + ") on pool '" + phys.name()
                    + "', cache " + s.cache.name + ": " + (i < 0 ? "not the start of an object" : "the object is free")),
                    null);
        }
        long pfn = phys.directPfn(addr);
        long idx = pfn < 0 ? -1 : phys.pfnToIdx(pfn);
        if (idx >= 0 && (addr & PhysLayout.PAGE_SIZE - 1) == 0) {
            long info = memMap.info(idx);
            if ((info & MemMap.PG_LARGE_KMALLOC) != 0) {
                return PhysLayout.PAGE_SIZE << MemMap.order(info);
            }
        }
        throw notSlab(function + "(0x" + Long.toHexString(addr) + ")", addr);
    }

    /**
     * {@code krealloc}: the object grown or shrunk to {@code newSize} with its contents kept
     * (up to the smaller size). Returns the same address when it already fits, 0 (NULL) when
     * out of memory (the old object is then untouched), ZERO_SIZE_PTR for size 0 (freed).
     * With {@code __GFP_ZERO}, as SLUB's {@code __do_krealloc}: in place, the bytes past the
     * new size (or, growing in a debug cache, past the old requested size) are zeroed; a new
     * object is zeroed, then gets the old one's requested bytes (debug caches record them;
     * otherwise the whole old object). Debug caches with red zones red-zone the bytes past
     * the new size.
     *
     * @throws IllegalArgumentException for a negative size or unknown GFP bits; the object is unchanged
     */
    public long krealloc(long addr, long newSize, int gfp) {
        Gfp.check("krealloc", gfp);
        if (newSize < 0) {
            throw new IllegalArgumentException("krealloc(0x" + Long.toHexString(addr) + ", " + newSize + "): new_size "
                    + newSize + " is negative; the object is unchanged");
        }
        if (addr >= 0 && addr <= ZERO_SIZE_PTR) {
            return kmalloc("krealloc", newSize, gfp);
        }
        if (newSize == 0) {
            kfree("krealloc", addr);
            return ZERO_SIZE_PTR;
        }
        Slab s = slabOf(addr);
        int i = s == null ? -1 : s.indexOf(addr);
        long ks;
        long orig;
        if (i >= 0 && s.state(i) == Slab.ALLOCATED) {
            ks = s.cache.objectSize;
            orig = s.requested != null ? SlubDebug.requested(s, i) : ks;
        } else {
            ks = ksize("krealloc", addr);
            orig = ks;
        }
        MemorySegment dm = phys.directMap();
        if (newSize <= ks) {
            if ((gfp & __GFP_ZERO) != 0) {
                if (orig < newSize) {
                    dm.asSlice(addr - dbase + orig, newSize - orig).fill((byte) 0);
                } else {
                    dm.asSlice(addr - dbase + newSize, ks - newSize).fill((byte) 0);
                }
            }
            if (i >= 0 && s.requested != null) {
                s.cache.lock.lock();
                try {
                    SlubDebug.setRequested(s.cache, s, i, (int) newSize, (gfp & __GFP_ZERO) != 0);
                } finally {
                    s.cache.lock.unlock();
                }
            }
            return addr;
        }
        long n = kmalloc("krealloc", newSize, gfp);
        if (n == 0) {
            return 0;
        }
        MemorySegment.copy(dm, addr - dbase, dm, n - dbase, orig);
        kfree("krealloc", addr);
        return n;
    }

    /** {@code kfree_sensitive}: zeroes the whole object ({@code ksize} bytes), then frees it. */
    public void kfreeSensitive(long addr) {
        if (addr >= 0 && addr <= ZERO_SIZE_PTR) {
            return;
        }
        long ks = ksize("kfree_sensitive", addr);
        phys.directMap().asSlice(addr - dbase, ks).fill((byte) 0);
        kfree("kfree_sensitive", addr);
    }

    // ================================================================== slabs and frames

    /** A slab of {@code cache}'s order from the buddy, its frames marked; null when out of memory. */
    Slab allocSlab(KmemCacheImpl cache, int gfp) {
        long pfn = buddy.allocPages(gfp, cache.order);
        if (pfn < 0) {
            return null;
        }
        Slab s = new Slab(cache, phys.directAddress(pfn), pfn);
        for (long k = 0; k < 1L << cache.order; k++) {
            long idx = phys.pfnToIdx(pfn + k);
            memMap.setInfo(idx, memMap.info(idx) | MemMap.PG_SLAB);
        }
        setSlab(s, s);
        return s;
    }

    /** Gives back a slab whose constructor threw before it was finished: never used, never counted. */
    void freeUnfinishedSlab(Slab s) {
        KmemCacheImpl c = s.cache;
        setSlab(s, null);
        for (long k = 0; k < 1L << c.order; k++) {
            long idx = phys.pfnToIdx(s.pfn + k);
            memMap.setInfo(idx, memMap.info(idx) & ~MemMap.PG_SLAB);
        }
        buddy.freePages("kmem_cache_alloc", 0, s.pfn, c.order);
    }

    /** Gives an empty slab back to the buddy (checking its padding in poisoned caches). */
    void discardSlab(Slab s) {
        KmemCacheImpl c = s.cache;
        if (c.debug) {
            for (String r : SlubDebug.validate(c, s)) {
                report(r);
            }
        }
        synchronized (discards) {
            setSlab(s, null);
            for (long k = 0; k < 1L << c.order; k++) {
                long idx = phys.pfnToIdx(s.pfn + k);
                memMap.setInfo(idx, memMap.info(idx) & ~MemMap.PG_SLAB);
            }
            c.slabFreed();
            if (!phys.closed()) {
                buddy.freePages("kmem_cache_free", 0, s.pfn, c.order);
            }
        }
    }

    private void setSlab(Slab s, Slab value) {
        long first = (s.base - dbase) >>> PhysLayout.PAGE_SHIFT;
        for (long f = first; f < first + (1L << s.cache.order); f++) {
            if (frameSlabs != null) {
                frameSlabs[(int) f] = value;
                continue;
            }
            int sec = (int) (f >>> (SECTION_SHIFT - PhysLayout.PAGE_SHIFT));
            Slab[] arr = sections[sec];
            if (arr == null) {
                synchronized (sections) {
                    arr = sections[sec];
                    if (arr == null) {
                        arr = new Slab[SECTION_FRAMES];
                        sections[sec] = arr;
                    }
                }
            }
            arr[(int) f & SECTION_FRAMES - 1] = value;
        }
    }

    // ================================================================== reports

    void allocFailed(KmemCacheImpl c, int gfp) {
        Trace.allocFailure(phys.name(), "kmem_cache_alloc", c.name, c.objectSize, c.order, gfp, null);
        if ((gfp & __GFP_NOWARN) != 0 || warnLimit.admit() < 0) {
            return;
        }
        LOG.log(System.Logger.Level.WARNING, String.format(Locale.ROOT, "%s: SLUB: Unable to allocate memory on pool"
                        + " '%s', (gfp=0x%x(%s))%n  cache: %s, object size: %d, buffer size: %d, default order: %d",
                Thread.currentThread().getName(), phys.name(), gfp, Gfp.names(gfp), c.name, c.objectSize, c.size,
                c.order));
    }

    /** Records and logs a SLUB report ("BUG cache (Not tainted): ..."). */
    void report(String text) {
        long suppressed = reportLimit.admit();
        if (suppressed >= 0) {
            LOG.log(System.Logger.Level.ERROR, suppressed == 0 ? text
                    : text + "\n(" + suppressed + " SLUB reports suppressed by the rate limit; takeSlabReports() has"
                    + " them)");
        }
        synchronized (reports) {
            reportCount++;
            reports.addLast(text);
            if (reports.size() > REPORTS_KEPT) {
                reports.removeFirst();
            }
        }
    }

    KmemException misuse(String function, long addr, KmemException e, String report) {
        misuses.increment();
        if (report != null) {
            report(report);
        }
        return Trace.misuse(phys.name(), function, addr, e);
    }

    /** The reports since the last call (at most the last 256), oldest first; clears them. */
    public List<String> takeReports() {
        synchronized (reports) {
            List<String> out = new ArrayList<>(reports);
            reports.clear();
            return out;
        }
    }

    /** Reports made since the pool was built. */
    public long reportCount() {
        synchronized (reports) {
            return reportCount;
        }
    }

    public FaultAttr failslab() {
        return failslab;
    }

    /** Every live cache, oldest first. */
    public List<KmemCacheImpl> caches() {
        synchronized (cachesLock) {
            return new ArrayList<>(caches);
        }
    }

    /** The kmalloc cache serving {@code size} bytes from the Normal zone, or null above 8 KiB. */
    public KmemCacheImpl kmallocCacheFor(long size) {
        if (size < 1 || size > KMALLOC_MAX_CACHE_SIZE) {
            return null;
        }
        return kmalloc[size <= 192 ? SIZE_INDEX[(int) (size - 1) >>> 3] : 64 - Long.numberOfLeadingZeros(size - 1)];
    }

    /** Flushes per-thread slabs (this thread's and ended threads' now, others' at their next slow path). */
    public void flushAll() {
        for (KmemCacheImpl c : caches()) {
            c.flushAll(false);
        }
    }

    /**
     * The page allocator's reclaim under memory pressure (the kernel's slab shrinkers): the
     * empty slabs every cache keeps go back to the buddy. Returns how many frames. Takes each
     * cache's lock in turn, holding no other.
     */
    public long reclaim() {
        long frames = 0;
        for (KmemCacheImpl c : caches()) {
            frames += c.reclaimEmpty();
        }
        return frames;
    }

    /** {@code kmem_cache_shrink} of every cache; frames given back to the buddy. */
    public long shrinkAll() {
        long frames = 0;
        for (KmemCacheImpl c : caches()) {
            frames += c.shrink();
        }
        return frames;
    }

    /** SLUB's validate over every cache: the problems found (also reported). */
    public List<String> validate() {
        List<String> out = new ArrayList<>();
        for (KmemCacheImpl c : caches()) {
            out.addAll(c.validate());
        }
        return out;
    }

    /**
     * Every slab object allocated now, in every cache (caches kmem_cache_destroy left with
     * objects included), at most {@code cap} of them; {@code total[0]} gets how many there are.
     * Walks each cache's slabs under its lock: for leak reports, off every fast path.
     */
    public List<LiveAllocation> liveObjects(int cap, long[] total) {
        List<KmemCacheImpl> all = caches();
        synchronized (cachesLock) {
            all.addAll(orphans);
        }
        List<LiveAllocation> out = new ArrayList<>();
        for (KmemCacheImpl c : all) {
            String function = c.name.contains("kmalloc-") ? "kmalloc" : "kmem_cache_alloc";
            c.lock.lock();
            try {
                for (Slab s : c.slabs()) {
                    for (int i = 0; i < c.objects; i++) {
                        if (s.state(i) == Slab.ALLOCATED && total[0]++ < cap) {
                            out.add(new LiveAllocation(LiveAllocation.Kind.SLAB_OBJECT, function, c.name, s.object(i),
                                    s.requested != null ? SlubDebug.requested(s, i) : c.objectSize, SlubDebug.allocatedAt(s, i)));
                        }
                    }
                }
            } finally {
                c.lock.unlock();
            }
        }
        return out;
    }

    public List<SlabCacheStats> stats() {
        List<SlabCacheStats> out = new ArrayList<>();
        for (KmemCacheImpl c : caches()) {
            out.add(c.stats());
        }
        return out;
    }

    public LargeKmallocStats largeStats() {
        return new LargeKmallocStats(largeAllocs.sum(), largeFrees.sum(), largeFailures.sum(), misuses.sum());
    }

    /** {@code /proc/slabinfo}, version 2.1; newest cache first, as the kernel lists them. */
    public String slabinfo() {
        StringBuilder sb = new StringBuilder("slabinfo - version: 2.1\n");
        sb.append("# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit>"
                + " <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\n");
        List<SlabCacheStats> all = stats();
        for (int k = all.size() - 1; k >= 0; k--) {
            SlabCacheStats s = all.get(k);
            sb.append(String.format(Locale.ROOT, "%-17s %6d %6d %6d %4d %4d : tunables %4d %4d %4d : slabdata %6d %6d %6d%n",
                    s.name(), s.activeObjs(), s.numObjs(), s.size(), s.objectsPerSlab(), s.pagesPerSlab(), 0, 0, 0,
                    s.activeSlabs(), s.numSlabs(), 0));
        }
        return sb.toString();
    }

    /** Pool close: every cache refuses further calls. */
    public void close() {
        List<KmemCacheImpl> all = caches();
        synchronized (cachesLock) {
            all.addAll(orphans);
        }
        for (KmemCacheImpl c : all) {
            c.dead = true;
            c.slowOnly = true;
            c.flushAll(true);
        }
    }
}
