package io.kmem.internal.page;

import io.kmem.internal.lib.LazyLogger;
import io.kmem.internal.lib.Ratelimit;
import static io.kmem.gfp.Gfp.__GFP_DMA;
import static io.kmem.gfp.Gfp.__GFP_DMA32;
import static io.kmem.gfp.Gfp.__GFP_HIGH;
import static io.kmem.gfp.Gfp.__GFP_NOFAIL;
import static io.kmem.gfp.Gfp.__GFP_NORETRY;
import static io.kmem.gfp.Gfp.__GFP_NOWARN;
import static io.kmem.gfp.Gfp.__GFP_ZERO;

import io.kmem.debug.FaultAttr;
import io.kmem.error.BadAddressException;
import io.kmem.error.DoubleFreeException;
import io.kmem.error.KmemException;
import io.kmem.gfp.Gfp;
import io.kmem.gfp.FrameKind;
import io.kmem.internal.phys.FramePool;
import io.kmem.internal.phys.MemMap;
import io.kmem.internal.phys.PhysLayout;
import io.kmem.gfp.ZoneType;
import io.kmem.internal.trace.AtomicContext;
import io.kmem.stats.PageStats;
import io.kmem.stats.ZoneStats;
import io.kmem.internal.trace.AllocationWaitEvent;
import io.kmem.internal.trace.ContiguityHarvestEvent;
import io.kmem.internal.trace.PoolGrowthEvent;
import io.kmem.internal.trace.Trace;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The page allocator of one pool ({@code mm/page_alloc.c}): zones of buddy free lists, GFP
 * semantics, per-thread page caches. Works on frame indices; the facade turns them into
 * addresses and page handles.
 *
 * <h2>Allocation, {@link #allocPages}</h2>
 * <ol>
 *   <li>Fast path, orders 0..3: pop the calling thread's {@link PageCache} for the first zone
 *       of the zonelist. No lock, no Java object. An interrupt thread's cache holds nothing
 *       between calls (what a refill brings is drained, its frees go to the buddy), so its
 *       every allocation comes to the next step, where a sleeping allocation in a handler is
 *       reported.</li>
 *   <li>{@code get_page_from_freelist}: for each zone of the zonelist (NORMAL, DMA32, DMA;
 *       {@code __GFP_DMA32} starts at DMA32, {@code __GFP_DMA} takes DMA only), if the
 *       watermark allows, refill the cache in a batch (orders 0..3) or take the block
 *       (orders 4..10). The first pass uses the low watermark, the second the min watermark
 *       ({@code __GFP_HIGH}, and {@code __GFP_NOFAIL} when blocking: half of it;
 *       {@code __GFP_HIGH} without blocking: 3/8 of it).</li>
 *   <li>Drain the calling thread's cache and every dead thread's cache into the buddy (the
 *       frames may coalesce into the block asked for), try again.</li>
 *   <li>Without {@code __GFP_DIRECT_RECLAIM} ({@code GFP_ATOMIC}, {@code GFP_NOWAIT}): fail.
 *       Nothing above blocks: the zone lock is only held for bounded list work.</li>
 *   <li>Blocking, when a zone of the zonelist holds frames or growth can bring some (a
 *       {@code __GFP_DMA32} request to a pool without DMA32 frames fails here at once, as
 *       the kernel's zonelists hold only populated zones): ask every live thread to drain
 *       its cache; grow the pool
 *       ({@link #growFor}); for order &gt; 0, harvest contiguity ({@link #harvest}); with
 *       {@code __GFP_NORETRY} stop here; otherwise wait for frees, at most
 *       {@code allocWaitNanos} ({@code __GFP_NOFAIL}: without limit), retrying.</li>
 *   <li>Failure: return -1, count it, warn (rate-limited) unless {@code __GFP_NOWARN}.</li>
 * </ol>
 *
 * <h2>Free, {@link #freePages}</h2>
 * The block's head record must say {@code PG_ALLOCATED} with the order given; anything else
 * is a misuse, diagnosed and thrown before any change. The free claims the block with one
 * compare-and-set of that record (to {@code PG_PCP}, or to no state under the zone lock on
 * the way to the buddy), so that of two frees of one block racing on two threads exactly one
 * wins and the other throws {@link DoubleFreeException}. Orders 0..3 go to the caller's cache
 * (a full cache drains a batch, its oldest blocks, into the buddy, unless the thread is giving
 * back a burst it took from the buddy: then its high doubles, up to 1/{@value #HIGH_MAX_DIVISOR}
 * of the pool per order, and comes back to the base when the cache drains for memory or for
 * another thread); larger orders, and every
 * free while a thread waits for memory, go to the buddy at once, which coalesces
 * ({@link Zone#freeBlockLocked}).
 *
 * <h2>Record states of a block's head</h2>
 * <pre>
 *   PG_BUDDY | order      free, in a zone's free_area
 *   PG_PCP | order        free, in some thread's cache
 *   PG_ALLOCATED | order  handed out
 *   (none)                not a head: inside a block, or taken out of the buddy
 * </pre>
 *
 * <h2>Locking</h2>
 * Lock order: {@code growLock} (one thread grows or harvests at a time), then the physical
 * layer's growth lock, then one zone lock at a time; {@code cachesLock} and {@code waitLock}
 * are leaves, never held while taking another lock. The fast paths take none.
 */
public final class BuddyAllocator implements AutoCloseable {
    public static final int MAX_ORDER = Zone.MAX_ORDER;
    /** A harvest takes at most this many times the frames of the block it looks for. */
    public static final int HARVEST_FACTOR = 16;
    /** Per-thread cache capacity per zone and order, in 4 KiB frames, at most. */
    static final int PCP_HIGH_MAX_FRAMES = 256;
    /** A cache's high may grow to 1/this of the pool's frames per order (the kernel's pcp high_max). */
    static final int HIGH_MAX_DIVISOR = 32;
    /** Slots of the thread-id table in front of the caches' {@code ThreadLocal}. */
    private static final int THREAD_SLOTS = 256;

    private static final int NORMAL = ZoneType.NORMAL.ordinal();
    private static final int DMA32 = ZoneType.DMA32.ordinal();
    private static final int DMA = ZoneType.DMA.ordinal();
    private static final int[] ZONELIST_NORMAL = {NORMAL, DMA32, DMA};
    private static final int[] ZONELIST_DMA32 = {DMA32, DMA};
    private static final int[] ZONELIST_DMA = {DMA};
    /** GFP bits the fast path serves itself; any other bit takes the slow path. */
    private static final int FAST_GFP = Gfp.VALID_MASK & ~(__GFP_DMA | __GFP_DMA32);
    private static final long PCP_TO_ALLOCATED = MemMap.PG_PCP ^ MemMap.PG_ALLOCATED;
    private static final long WAIT_SLICE_NANOS = TimeUnit.MILLISECONDS.toNanos(20);
    private static final System.Logger LOG = LazyLogger.of("io.kmem.internal.page");

    private final FramePool phys;
    private final MemMap memMap;
    private final Zone[] zones = new Zone[ZoneType.values().length];
    private final long allocWaitNanos;
    private final int[] pcpHigh = new int[PageCache.ORDERS];
    private final int[] pcpBatch = new int[PageCache.ORDERS];
    /** How far a cache's high may grow, per order ({@link PageCache#high}): at least the base. */
    private final int[] pcpHighMax = new int[PageCache.ORDERS];
    private final ThreadLocal<PageCache> caches = ThreadLocal.withInitial(this::newCache);
    private final PageCache[] bySlot = new PageCache[THREAD_SLOTS];
    private final ReentrantLock cachesLock = new ReentrantLock();
    private final List<PageCache> allCaches = new ArrayList<>();
    private final ReentrantLock growLock = new ReentrantLock();
    private final ReentrantLock waitLock = new ReentrantLock();
    private final Condition freed = waitLock.newCondition();
    private final AtomicInteger waitersCount = new AtomicInteger();
    private final Ratelimit warnLimit = new Ratelimit(TimeUnit.SECONDS.toNanos(5), 10);
    /**
     * Non-zero when frees must take the slow path: bit 0, the pool is closed; bits 1 and up,
     * the threads waiting for frees (frees then bypass the caches and wake them). One
     * volatile read on the fast free path covers both.
     */
    private volatile int slowFrees;
    private volatile boolean closed;
    private long freeEpoch;
    /** Gives back memory that caches above keep (the slab allocator's empty slabs); null for none. */
    private volatile java.util.function.LongSupplier reclaimer;

    private final LongAdder misuses = new LongAdder();
    private final LongAdder failures = new LongAdder();
    /** The kernel's {@code fail_page_alloc}: disarmed unless a test arms it. */
    private final FaultAttr failPageAlloc = new FaultAttr("fail_page_alloc");
    private final LongAdder growths = new LongAdder();
    private final LongAdder grownFrames = new LongAdder();
    private final LongAdder harvests = new LongAdder();
    private final LongAdder harvestHits = new LongAdder();
    private final LongAdder harvestTaken = new LongAdder();
    private final LongAdder harvestReturned = new LongAdder();
    private final LongAdder waits = new LongAdder();
    private final LongAdder waitNanos = new LongAdder();
    private final LongAdder reapedCaches = new LongAdder();
    private final LongAdder slowAllocs = new LongAdder();

    /**
     * @param allocWaitNanos how long a blocking allocation waits for frees before it fails
     */
    public BuddyAllocator(FramePool phys, long allocWaitNanos) {
        this.phys = phys;
        this.memMap = phys.memMap();
        this.allocWaitNanos = allocWaitNanos;
        for (ZoneType t : ZoneType.values()) {
            zones[t.ordinal()] = new Zone(t, phys);
        }
        sizeCaches();
    }

    /**
     * Sets what the slow path calls when the low watermark refuses an allocation, before it
     * dips below it (the kernel's shrinkers): a supplier that gives memory back to this
     * allocator and returns how many frames. It must not allocate from this allocator.
     */
    public void setReclaimer(java.util.function.LongSupplier reclaimer) {
        this.reclaimer = reclaimer;
    }

    // ================================================================== allocation

    /**
     * {@code alloc_pages}: a block of 2^order frames. Returns the PFN of its first frame (the
     * frame index in an unprivileged pool), or -1 when it cannot be served under {@code gfp}
     * (and for an order above {@link #MAX_ORDER}, with a warning).
     *
     * @throws IllegalArgumentException for a negative order or unknown GFP bits
     */
    public long allocPages(int gfp, int order) {
        return allocPages("alloc_pages", gfp, order);
    }

    /** {@link #allocPages(int, int)} for {@code function}, the kernel call the caller made (for messages). */
    public long allocPages(String function, int gfp, int order) {
        if ((gfp & ~FAST_GFP) == 0 && order >= 0 && order <= PageCache.MAX_ORDER && !failPageAlloc.armed()) {
            PageCache c = cache();
            int s = NORMAL * PageCache.ORDERS + order;
            int n = c.count[s] - 1;
            if (n >= 0 && !c.drainRequested && !closed) {
                int idx = c.stacks[s][n];
                c.count[s] = n;
                long info = memMap.info(idx);
                memMap.setInfo(idx, info ^ PCP_TO_ALLOCATED);
                long pfn = MemMap.pfn(info);
                if ((gfp & __GFP_ZERO) != 0) {
                    zero(pfn, order);
                }
                return pfn;
            }
        }
        long idx = allocSlow(function, gfp, order);
        return idx < 0 ? -1 : MemMap.pfn(memMap.info(idx));
    }

    private long allocSlow(String function, int gfp, int order) {
        ensureOpen(function);
        Gfp.check(function, gfp);
        AtomicContext.mightSleep(function, gfp);
        if (order < 0) {
            throw new IllegalArgumentException(function + ": order " + order + " is negative; expected 0.." + MAX_ORDER);
        }
        slowAllocs.increment();
        if (order > MAX_ORDER) {
            fail(gfp, order, "order " + order + " is above MAX_ORDER " + MAX_ORDER + " (" + (1 << MAX_ORDER)
                    + " pages)");
            return -1;
        }
        if ((gfp & __GFP_NOFAIL) == 0 && failPageAlloc.shouldFail(Gfp.mayBlock(gfp), order, PhysLayout.PAGE_SIZE << order)) {
            fail(gfp, order, "fail_page_alloc injected this failure");
            return -1;
        }
        PageCache c = cache();
        if (c.drainRequested) {
            drainCache(c);
        }
        int[] zonelist = zonelist(gfp);
        long idx = fromFreelists(c, gfp, order, zonelist, Mark.LOW);
        java.util.function.LongSupplier r = reclaimer;
        if (idx < 0 && r != null && r.getAsLong() > 0) {
            idx = fromFreelists(c, gfp, order, zonelist, Mark.LOW);
        }
        if (idx < 0) {
            idx = fromFreelists(c, gfp, order, zonelist, Mark.MIN);
        }
        if (idx < 0) {
            drainCache(c);
            reapDeadCaches();
            idx = fromFreelists(c, gfp, order, zonelist, Mark.MIN);
        }
        if (idx < 0 && Gfp.mayBlock(gfp) && (populated(zonelist) || growthReaches(zonelist))) {
            idx = allocBlocking(c, gfp, order, zonelist);
        }
        if (c.irqThread) {
            drainCache(c); // what a refill left: the next allocation must come here again
        }
        if (idx < 0) {
            fail(gfp, order, null);
            return -1;
        }
        if ((gfp & __GFP_ZERO) != 0) {
            zero(MemMap.pfn(memMap.info(idx)), order);
        }
        return idx;
    }

    /** Step 5 of the class comment: drains, growth, harvest, bounded wait. */
    private long allocBlocking(PageCache c, int gfp, int order, int[] zonelist) {
        long deadline = System.nanoTime() + allocWaitNanos;
        boolean harvested = false;
        boolean grew = false;
        while (true) {
            requestDrains();
            long idx = fromFreelists(c, gfp, order, zonelist, Mark.MIN);
            if (idx >= 0) {
                return idx;
            }
            growLock.lock();
            try {
                idx = fromFreelists(c, gfp, order, zonelist, Mark.MIN);
                if (idx >= 0) {
                    return idx;
                }
                if (!grew || (gfp & __GFP_NORETRY) == 0) {
                    grew = true;
                    if (growFor(gfp, order) > 0) {
                        idx = fromFreelists(c, gfp, order, zonelist, Mark.MIN);
                        if (idx >= 0) {
                            return idx;
                        }
                    }
                }
                if (!harvested && order > 0 && (gfp & __GFP_NORETRY) == 0) {
                    harvested = true;
                    idx = harvest(gfp, order, zonelist);
                    if (idx >= 0) {
                        return idx;
                    }
                }
            } finally {
                growLock.unlock();
            }
            if ((gfp & __GFP_NORETRY) != 0) {
                return -1;
            }
            long now = System.nanoTime();
            if (now - deadline >= 0) {
                if ((gfp & __GFP_NOFAIL) == 0) {
                    return -1;
                }
                deadline = now + allocWaitNanos;
            }
            idx = waitForFrees(c, gfp, order, zonelist, deadline);
            if (idx >= 0) {
                return idx;
            }
        }
    }

    /**
     * Waits until a free reaches the buddy or {@code deadline} passes, retrying after each
     * wake-up. Frees go straight to the buddy while a thread waits.
     */
    private long waitForFrees(PageCache c, int gfp, int order, int[] zonelist, long deadline) {
        waits.increment();
        long start = System.nanoTime();
        AllocationWaitEvent event = Trace.waitStart();
        String outcome = "closed";
        waitersCount.incrementAndGet();
        updateSlowFrees();
        try {
            requestDrains();
            while (true) {
                long epoch;
                waitLock.lock();
                try {
                    epoch = freeEpoch;
                } finally {
                    waitLock.unlock();
                }
                long idx = fromFreelists(c, gfp, order, zonelist, Mark.MIN);
                if (idx >= 0) {
                    outcome = "served";
                    return idx;
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    outcome = "timed out";
                    return -1;
                }
                waitLock.lock();
                try {
                    if (freeEpoch == epoch) {
                        freed.awaitNanos(Math.min(left, WAIT_SLICE_NANOS));
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    outcome = "interrupted";
                    return -1;
                } finally {
                    waitLock.unlock();
                }
                ensureOpen("alloc_pages");
                reapDeadCaches();
            }
        } finally {
            waitersCount.decrementAndGet();
            updateSlowFrees();
            waitNanos.add(System.nanoTime() - start);
            Trace.waitEnd(event, phys.name(), order, gfp, outcome);
        }
    }

    private void updateSlowFrees() {
        synchronized (waitersCount) {
            slowFrees = (closed ? 1 : 0) | waitersCount.get() << 1;
        }
    }

    private void wakeWaiters() {
        if (slowFrees > 1) {
            waitLock.lock();
            try {
                freeEpoch++;
                freed.signalAll();
            } finally {
                waitLock.unlock();
            }
        }
    }

    private enum Mark { LOW, MIN }

    /** {@code get_page_from_freelist}: the first zone of the zonelist that can serve. */
    private long fromFreelists(PageCache c, int gfp, int order, int[] zonelist, Mark mark) {
        for (int z : zonelist) {
            Zone zone = zones[z];
            if (order <= PageCache.MAX_ORDER) {
                int s = PageCache.slot(z, order);
                if (c.count[s] > 0 || refill(c, zone, order, gfp, mark)) {
                    int n = --c.count[s];
                    int idx = c.stacks[s][n];
                    memMap.setInfo(idx, memMap.info(idx) ^ PCP_TO_ALLOCATED);
                    c.allocs++;
                    return idx;
                }
                continue;
            }
            zone.lock.lock();
            try {
                if (zone.watermarkOkLocked(order, markOf(zone, gfp, mark))) {
                    long idx = zone.takeBlockLocked(order);
                    if (idx >= 0) {
                        memMap.setInfo(idx, memMap.info(idx) | MemMap.PG_ALLOCATED);
                        return idx;
                    }
                }
            } finally {
                zone.lock.unlock();
            }
        }
        return -1;
    }

    private static long markOf(Zone zone, int gfp, Mark mark) {
        if (mark == Mark.LOW) {
            return zone.lowLocked();
        }
        long min = zone.minLocked();
        if ((gfp & __GFP_HIGH) != 0 || (gfp & __GFP_NOFAIL) != 0 && Gfp.mayBlock(gfp)) {
            min -= min / 2;
            if (!Gfp.mayBlock(gfp)) {
                min -= min / 4;
            }
        }
        return min;
    }

    /** {@code rmqueue_bulk}: fills the cache's stack for (zone, order) with up to a batch. */
    private boolean refill(PageCache c, Zone zone, int order, int gfp, Mark mark) {
        int s = PageCache.slot(zone.type.ordinal(), order);
        int[] stack = stack(c, s, order);
        int got = 0;
        zone.lock.lock();
        try {
            if (!zone.watermarkOkLocked(order, markOf(zone, gfp, mark))) {
                return false;
            }
            int batch = Math.min(pcpBatch[order], stack.length - c.count[s]);
            while (got < batch && (got == 0 || zone.watermarkOkLocked(order, zone.lowLocked()))) {
                long idx = zone.takeBlockLocked(order);
                if (idx < 0) {
                    break;
                }
                memMap.setInfo(idx, memMap.info(idx) | MemMap.PG_PCP);
                stack[c.count[s]++] = (int) idx;
                got++;
            }
        } finally {
            zone.lock.unlock();
        }
        if (got > 0) {
            c.refills++;
            c.refilled[s] = true;
        }
        return got > 0;
    }

    private int[] stack(PageCache c, int s, int order) {
        int[] st = c.stacks[s];
        if (st == null) {
            st = c.stacks[s] = new int[(PCP_HIGH_MAX_FRAMES >> order) + 1];
        }
        return st;
    }

    private static int[] zonelist(int gfp) {
        if ((gfp & __GFP_DMA) != 0) {
            return ZONELIST_DMA;
        }
        return (gfp & __GFP_DMA32) != 0 ? ZONELIST_DMA32 : ZONELIST_NORMAL;
    }

    private void zero(long pfn, int order) {
        phys.directMap().asSlice(phys.directAddress(pfn) - phys.directBase(), PhysLayout.PAGE_SIZE << order)
                .fill((byte) 0);
    }

    private void fail(int gfp, int order, String why) {
        failures.increment();
        Trace.allocFailure(phys.name(), "alloc_pages", null, PhysLayout.PAGE_SIZE << Math.min(order, 40), order, gfp,
                why);
        if ((gfp & __GFP_NOWARN) != 0) {
            return;
        }
        long suppressed = warnLimit.admit();
        if (suppressed < 0) {
            return;
        }
        StringBuilder sb = new StringBuilder();
        sb.append(Thread.currentThread().getName()).append(": page allocation failure: order:").append(order)
                .append(", mode:0x").append(Integer.toHexString(gfp)).append('(').append(Gfp.names(gfp))
                .append("), pool '").append(phys.name()).append('\'');
        if (why != null) {
            sb.append(": ").append(why);
        }
        for (Zone z : zones) {
            z.lock.lock();
            try {
                if (z.managedLocked() > 0) {
                    sb.append("; ").append(z.type.procName()).append(" free:").append(z.freeFramesLocked())
                            .append(" min:").append(z.minLocked()).append(" managed:").append(z.managedLocked());
                }
            } finally {
                z.lock.unlock();
            }
        }
        if (suppressed > 0) {
            sb.append(" (").append(suppressed).append(" similar warnings suppressed)");
        }
        LOG.log(System.Logger.Level.WARNING, sb.toString());
    }

    // ================================================================== growth and harvest

    /**
     * Takes frames from the kernel for a request that found no block: 2 MiB hugetlb frames
     * for order 9 and 10 when the pool has room for them (each is an aligned order-9 block),
     * else 4 KiB frames: at least the block, at least 512 frames and at least 1/8 of the
     * pool. A zone-restricted request grows only a pool whose DMA mask guarantees frames in
     * its zones. Returns the frames taken (0 when the pool is at its maximum or the kernel
     * refused; the refusal is logged).
     */
    private long growFor(int gfp, int order) {
        if (!growthReaches(zonelist(gfp))) {
            return 0;
        }
        long need = 1L << order;
        FrameKind[] kinds = order >= 9 ? new FrameKind[] {FrameKind.HUGE_2M, FrameKind.SMALL_4K}
                : new FrameKind[] {FrameKind.SMALL_4K, FrameKind.HUGE_2M};
        for (FrameKind kind : kinds) {
            long room = room(kind);
            long frames = Math.max(need, Math.max(512, phys.presentFrames() / 8));
            frames = Math.min(room, frames + kind.framesPerPage() - 1 & -(long) kind.framesPerPage());
            if (frames < need) {
                continue;
            }
            PoolGrowthEvent event = Trace.growthStart();
            try {
                long[] pfns = phys.grow(kind, frames).pfns();
                intake(pfns);
                growths.increment();
                grownFrames.add(pfns.length);
                Trace.growthEnd(event, phys.name(), kind.label(), pfns.length, order, null);
                return pfns.length;
            } catch (KmemException e) {
                Trace.growthEnd(event, phys.name(), kind.label(), 0, order, e.getMessage());
                if (warnLimit.admit() >= 0) {
                    LOG.log(System.Logger.Level.WARNING, "pool '" + phys.name() + "': growth by " + frames + " "
                            + kind.label() + " frames for an order-" + order + " allocation failed: " + e.getMessage());
                }
            }
        }
        return 0;
    }

    private long room(FrameKind kind) {
        return phys.hasSource(kind) ? phys.maxFrames(kind) - phys.presentFrames(kind) : 0;
    }

    /** Does a zone of the zonelist hold frames? (The kernel's zonelists list populated zones only.) */
    private boolean populated(int[] zonelist) {
        for (int z : zonelist) {
            Zone zone = zones[z];
            zone.lock.lock();
            try {
                if (zone.managedLocked() > 0) {
                    return true;
                }
            } finally {
                zone.lock.unlock();
            }
        }
        return false;
    }

    private boolean growthReaches(int[] zonelist) {
        if (zonelist == ZONELIST_NORMAL) {
            return true;
        }
        long limit = ZoneType.of(zonelist[0]).limit();
        return phys.physical() && phys.dmaMask() >= 0 && phys.dmaMask() < limit;
    }

    /**
     * Harvests contiguity for an order-{@code order} block over 4 KiB frames: takes frames
     * from the kernel in chunks, at most {@link #HARVEST_FACTOR} × 2^order in all, until the
     * frames taken hold an aligned run of 2^order PFNs in an allowed zone. That run becomes
     * the block; every other frame taken is given back to the kernel. Returns the block's
     * head index or -1 (everything given back).
     */
    private long harvest(int gfp, int order, int[] zonelist) {
        long room = room(FrameKind.SMALL_4K);
        long bound = Math.min((long) HARVEST_FACTOR << order, room);
        if (bound < 1L << order) {
            return -1;
        }
        harvests.increment();
        ContiguityHarvestEvent event = Trace.harvestStart();
        long takenTotal = 0;
        long returnedTotal = 0;
        boolean hit = false;
        long[] taken = new long[0];
        try {
            while (taken.length < bound) {
                long chunk = Math.min(bound - taken.length, Math.max(2L << order, 512));
                long[] pfns = phys.grow(FrameKind.SMALL_4K, chunk).pfns();
                harvestTaken.add(pfns.length);
                takenTotal += pfns.length;
                taken = mergeSorted(taken, pfns);
                long start = alignedRun(taken, order, zonelist);
                if (start >= 0) {
                    harvestHits.increment();
                    hit = true;
                    long[] rest = new long[taken.length - (1 << order)];
                    int n = 0;
                    for (long p : taken) {
                        if (p < start || p >= start + (1L << order)) {
                            rest[n++] = p;
                        }
                    }
                    taken = new long[0];
                    if (rest.length > 0) {
                        phys.release(rest);
                        harvestReturned.add(rest.length);
                        returnedTotal += rest.length;
                    }
                    long idx = phys.pfnToIdx(start);
                    Zone zone = zones[MemMap.zone(memMap.info(idx))];
                    zone.lock.lock();
                    try {
                        zone.addManagedLocked(1L << order, start, start + (1L << order) - 1);
                    } finally {
                        zone.lock.unlock();
                    }
                    memMap.setInfo(idx, MemMap.withOrder(memMap.info(idx), order) | MemMap.PG_ALLOCATED);
                    sizeCaches();
                    return idx;
                }
            }
        } catch (KmemException e) {
            if (warnLimit.admit() >= 0) {
                LOG.log(System.Logger.Level.WARNING, "pool '" + phys.name() + "': contiguity harvest for order "
                        + order + " stopped: " + e.getMessage());
            }
        } finally {
            if (taken.length > 0) {
                phys.release(taken);
                harvestReturned.add(taken.length);
                returnedTotal += taken.length;
            }
            Trace.harvestEnd(event, phys.name(), order, takenTotal, returnedTotal, hit);
        }
        return -1;
    }

    private long alignedRun(long[] sorted, int order, int[] zonelist) {
        long size = 1L << order;
        int i = 0;
        while (i < sorted.length) {
            int j = i + 1;
            while (j < sorted.length && sorted[j] == sorted[j - 1] + 1) {
                j++;
            }
            long first = sorted[i] + size - 1 & -size;
            if (first + size <= sorted[j - 1] + 1) {
                int zone = phys.physical() ? ZoneType.of(first).ordinal() : NORMAL;
                for (int z : zonelist) {
                    if (z == zone) {
                        return first;
                    }
                }
            }
            i = j;
        }
        return -1;
    }

    private static long[] mergeSorted(long[] a, long[] b) {
        long[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        Arrays.sort(out);
        return out;
    }

    /** The order of the largest aligned block that starts at {@code pfn} and ends by {@code end}. */
    private static int largestBlock(long pfn, long end) {
        int order = Math.min(MAX_ORDER, Long.numberOfTrailingZeros(pfn));
        while (pfn + (1L << order) > end) {
            order--;
        }
        return order;
    }

    /**
     * Gives newly taken frames (sorted PFNs, records holding no state) to the buddy, as the
     * largest aligned blocks their runs hold; they merge with free neighbours. Works in
     * chunks so that no zone lock is held for long.
     */
    public void intake(long[] pfns) {
        int i = 0;
        while (i < pfns.length) {
            int j = i + 1;
            while (j < pfns.length && pfns[j] == pfns[j - 1] + 1) {
                j++;
            }
            long pfn = pfns[i];
            long end = pfns[j - 1] + 1;
            while (pfn < end) {
                Zone zone = zones[MemMap.zone(memMap.info(phys.pfnToIdx(pfn)))];
                int chunk = 0;
                zone.lock.lock();
                try {
                    while (pfn < end && chunk < 4096) {
                        int order = largestBlock(pfn, end);
                        long idx = phys.pfnToIdx(pfn);
                        if (MemMap.zone(memMap.info(idx)) != zone.type.ordinal()) {
                            break;
                        }
                        zone.addManagedLocked(1L << order, pfn, pfn + (1L << order) - 1);
                        zone.freeBlockLocked(pfn, idx, order);
                        pfn += 1L << order;
                        chunk += 1 << order;
                    }
                } finally {
                    zone.lock.unlock();
                }
            }
            i = j;
        }
        sizeCaches();
        wakeWaiters();
    }

    /** Grows the pool by {@code frames} of {@code kind} and gives them to the buddy. */
    public long[] grow(FrameKind kind, long frames) {
        growLock.lock();
        PoolGrowthEvent event = Trace.growthStart();
        try {
            long[] pfns = phys.grow(kind, frames).pfns();
            intake(pfns);
            Trace.growthEnd(event, phys.name(), kind.label(), pfns.length, -1, null);
            return pfns;
        } catch (KmemException e) {
            Trace.growthEnd(event, phys.name(), kind.label(), 0, -1, e.getMessage());
            throw e;
        } finally {
            growLock.unlock();
        }
    }

    /**
     * Takes free frames out of the buddy and gives them back to the kernel. Every frame must
     * be free (caches of this thread and of dead threads are drained first).
     *
     * @throws BadAddressException naming the first frame that is not free; nothing changes
     */
    public void release(long[] pfns) {
        ensureOpen("release");
        growLock.lock();
        try {
            drainCache(cache());
            reapDeadCaches();
            long[] idxs = new long[pfns.length];
            int n = 0;
            try {
                for (long pfn : pfns) {
                    long idx = phys.pfnToIdx(pfn);
                    if (idx < 0) {
                        throw new BadAddressException("release: pfn 0x" + Long.toHexString(pfn)
                                + " is not a frame of pool '" + phys.name() + "'");
                    }
                    Zone zone = zones[MemMap.zone(memMap.info(idx))];
                    zone.lock.lock();
                    try {
                        if (zone.takeFrameLocked(pfn) < 0) {
                            throw new BadAddressException("release: pfn 0x" + Long.toHexString(pfn) + " of pool '"
                                    + phys.name() + "' is not free (" + MemMap.flagNames(memMap.info(idx))
                                    + "); expected a frame in the buddy's free lists");
                        }
                        zone.removeManagedLocked(1);
                    } finally {
                        zone.lock.unlock();
                    }
                    idxs[n++] = pfn;
                }
                phys.release(pfns);
                n = 0;
            } finally {
                if (n > 0) {
                    intake(sortedCopy(idxs, n));
                }
            }
            sizeCaches();
        } finally {
            growLock.unlock();
        }
    }

    private static long[] sortedCopy(long[] a, int n) {
        long[] out = Arrays.copyOf(a, n);
        Arrays.sort(out);
        return out;
    }

    /** {@code get_order}: the smallest order whose block holds {@code size} bytes (size &gt; 0). */
    public static int getOrder(long size) {
        long pages = (size + PhysLayout.PAGE_SIZE - 1) >>> PhysLayout.PAGE_SHIFT;
        return pages <= 1 ? 0 : 64 - Long.numberOfLeadingZeros(pages - 1);
    }

    /**
     * {@code alloc_pages_exact}: {@code size} bytes rounded up to whole pages, physically
     * contiguous. Takes a block of {@code get_order(size)}, gives the pages past the size
     * back to the buddy, and leaves each kept page an allocated order-0 page (as
     * {@code split_page} does). Returns the first page's PFN or -1.
     *
     * @throws IllegalArgumentException for a size of 0 or less
     */
    public long allocPagesExact(int gfp, long size) {
        if (size <= 0) {
            throw new IllegalArgumentException("alloc_pages_exact: size " + size + " must be positive");
        }
        int order = size > PhysLayout.PAGE_SIZE << MAX_ORDER ? MAX_ORDER + 1 : getOrder(size);
        long pfn = allocPages("alloc_pages_exact", gfp, order);
        if (pfn < 0 || order == 0) {
            return pfn;
        }
        long idx = phys.pfnToIdx(pfn);
        long pages = (size + PhysLayout.PAGE_SIZE - 1) >>> PhysLayout.PAGE_SHIFT;
        for (long p = pfn; p < pfn + pages; p++) {
            long i = phys.pfnToIdx(p);
            memMap.setInfo(i, MemMap.identity(memMap.info(i)) | MemMap.PG_ALLOCATED);
        }
        Zone zone = zones[MemMap.zone(memMap.info(idx))];
        zone.lock.lock();
        try {
            long p = pfn + pages;
            long end = pfn + (1L << order);
            while (p < end) {
                int o = largestBlock(p, end);
                long i = phys.pfnToIdx(p);
                memMap.setInfo(i, MemMap.identity(memMap.info(i)));
                zone.freeBlockLocked(p, i, o);
                p += 1L << o;
            }
        } finally {
            zone.lock.unlock();
        }
        wakeWaiters();
        return pfn;
    }

    /**
     * A block of 2^order frames whose every byte lies at or below physical address
     * {@code maxPhys} (unsigned), for a DMA mask between zone limits (a 28-bit device: DMA32
     * may hand out frames above it, DMA may hold none). Drains the calling thread's page cache and dead threads' caches, then
     * searches each zone's free lists for the first free block with a low enough part
     * ({@link Zone#takeBlockBelowLocked}), above the min watermark. Never grows the pool and
     * never waits. Returns the PFN, or -1 (counted; no warning: the caller warns).
     *
     * @throws IllegalArgumentException for a negative order or unknown GFP bits
     */
    public long allocPagesBelow(int gfp, int order, long maxPhys) {
        Gfp.check("alloc_pages", gfp);
        AtomicContext.mightSleep("alloc_pages", gfp);
        if (order < 0) {
            throw new IllegalArgumentException("alloc_pages: order " + order + " is negative; expected 0.." + MAX_ORDER);
        }
        ensureOpen("alloc_pages");
        if (order > MAX_ORDER || !phys.physical()) {
            failures.increment();
            return -1;
        }
        // The last frame whose every byte is at or below maxPhys (an unsigned address).
        long maxPfn = (maxPhys >>> PhysLayout.PAGE_SHIFT) - ((~maxPhys & (PhysLayout.PAGE_SIZE - 1)) == 0 ? 0 : 1);
        drainCache(cache());
        reapDeadCaches();
        for (int z : ZONELIST_NORMAL) {
            Zone zone = zones[z];
            zone.lock.lock();
            try {
                if (zone.spanLocked()[0] <= maxPfn && zone.watermarkOkLocked(order, markOf(zone, gfp, Mark.MIN))) {
                    long idx = zone.takeBlockBelowLocked(order, maxPfn);
                    if (idx >= 0) {
                        memMap.setInfo(idx, memMap.info(idx) | MemMap.PG_ALLOCATED);
                        long pfn = MemMap.pfn(memMap.info(idx));
                        if ((gfp & __GFP_ZERO) != 0) {
                            zero(pfn, order);
                        }
                        return pfn;
                    }
                }
            } finally {
                zone.lock.unlock();
            }
        }
        failures.increment();
        return -1;
    }

    /**
     * {@code free_pages_exact}: frees the pages of an {@link #allocPagesExact} area. Every
     * page is checked before any is freed.
     *
     * @throws BadAddressException or {@link DoubleFreeException} naming the first page that is
     *         not an allocated order-0 page; nothing is freed then
     */
    public void freePagesExact(String function, long addr, long pfn, long size) {
        if (size <= 0) {
            throw new IllegalArgumentException(function + "(0x" + Long.toHexString(addr) + ", " + size
                    + "): size must be positive");
        }
        long pages = (size + PhysLayout.PAGE_SIZE - 1) >>> PhysLayout.PAGE_SHIFT;
        for (long p = pfn; p < pfn + pages; p++) {
            long i = phys.pfnToIdx(p);
            if (i < 0 || (memMap.info(i) & MemMap.STATE_MASK) != MemMap.PG_ALLOCATED) {
                long at = addr + ((p - pfn) << PhysLayout.PAGE_SHIFT);
                throw misused(phys.name(), function, at, misuse(function, at, p, i, 0));
            }
        }
        for (long p = pfn; p < pfn + pages; p++) {
            freePages(function, addr + ((p - pfn) << PhysLayout.PAGE_SHIFT), p, 0);
        }
    }

    // ================================================================== free

    /**
     * {@code __free_pages}: frees the block of {@code order} whose head is at {@code pfn}.
     * {@code addr} is the address the caller passed (0 if it passed a page), for messages.
     *
     * @throws DoubleFreeException when the block is already free
     * @throws BadAddressException when {@code pfn} is not the head of a block of this order
     *         that the page allocator handed out
     */
    public void freePages(String function, long addr, long pfn, int order) {
        if (slowFrees != 0) {
            ensureOpen(function);
            freeSlow(function, addr, pfn, phys.pfnToIdx(pfn), order, 0);
            return;
        }
        long idx = phys.pfnToIdx(pfn);
        if (idx >= 0 && order >= 0 && order <= PageCache.MAX_ORDER) {
            long info = memMap.info(idx);
            if ((info & MemMap.STATE_MASK) == (MemMap.PG_ALLOCATED | (long) order << MemMap.ORDER_SHIFT)) {
                PageCache c = cache();
                int s = PageCache.slot(MemMap.zone(info), order);
                int n = c.count[s];
                int[] st = c.stacks[s];
                if (st != null && n < c.high[s] && !c.drainRequested
                        && memMap.casInfo(idx, info, info ^ PCP_TO_ALLOCATED)) {
                    st[n] = (int) idx;
                    c.count[s] = n + 1;
                    return;
                }
            }
        }
        freeSlow(function, addr, pfn, idx, order, 0);
    }

    /**
     * kfree of a large kmalloc block: frees the block of {@code order} at {@code pfn}, whose
     * head must say {@code PG_LARGE_KMALLOC} too; the claim clears both in one step, so that a
     * second kfree racing this one finds the block free, never a page-allocator block.
     */
    public void freeLargeKmalloc(String function, long addr, long pfn, int order) {
        freeSlow(function, addr, pfn, phys.pfnToIdx(pfn), order, MemMap.PG_LARGE_KMALLOC);
    }

    /** The free's slow path; {@code owner}: the flags the head carries besides {@code PG_ALLOCATED}. */
    private void freeSlow(String function, long addr, long pfn, long idx, int order, long owner) {
        ensureOpen(function);
        long info = idx >= 0 ? memMap.info(idx) : 0;
        if (idx < 0 || order < 0 || order > MAX_ORDER
                || (info & MemMap.STATE_MASK) != (MemMap.PG_ALLOCATED | owner | (long) order << MemMap.ORDER_SHIFT)) {
            throw misused(phys.name(), function, addr, misuse(function, addr, pfn, idx, order));
        }
        PageCache c = cache();
        if (c.drainRequested) {
            drainCache(c);
        }
        if (order <= PageCache.MAX_ORDER && slowFrees == 0 && !c.irqThread) {
            int s = PageCache.slot(MemMap.zone(info), order);
            int[] st = stack(c, s, order);
            int high = Math.max(c.high[s], pcpHigh[order]);
            if (c.count[s] >= high && c.refilled[s] && high < pcpHighMax[order]) {
                // The owner gives back a burst it took from the buddy: hold more instead of
                // draining what it will take again.
                high = Math.min(2 * high, pcpHighMax[order]);
                if (st.length <= high) {
                    st = c.stacks[s] = Arrays.copyOf(st, high + 1);
                }
            }
            c.high[s] = high;
            if (c.count[s] >= high) {
                drainOldest(c, s, order, pcpBatch[order]);
            }
            if (!memMap.casInfo(idx, info, (info & ~owner) ^ PCP_TO_ALLOCATED)) {
                throw lostClaim(function, addr, pfn, idx, order);
            }
            st[c.count[s]++] = (int) idx;
            c.frees++;
            return;
        }
        Zone zone = zones[MemMap.zone(info)];
        boolean claimed;
        zone.lock.lock();
        try {
            claimed = memMap.casInfo(idx, info, MemMap.identity(info));
            if (claimed) {
                zone.freeBlockLocked(pfn, idx, order);
            }
        } finally {
            zone.lock.unlock();
        }
        if (!claimed) {
            throw lostClaim(function, addr, pfn, idx, order);
        }
        wakeWaiters();
    }

    /**
     * The error for a free whose claim on the block failed: another free changed the head's
     * record between the check and the claim. Diagnosed like any misuse once that free is done
     * (the zone lock orders the two); a racing free of the same block is a double free.
     */
    private KmemException lostClaim(String function, long addr, long pfn, long idx, int order) {
        KmemException e = misuse(function, addr, pfn, idx, order);
        if (!(e instanceof DoubleFreeException)) {
            e = new DoubleFreeException(e.getMessage() + " (the block was freed by another thread at the same time)");
        }
        return misused(phys.name(), function, addr, e);
    }

    /** The specific error for a free that does not match an allocated block. */
    private KmemException misuse(String function, long addr, long pfn, long idx, int order) {
        String where = function + "(" + (addr != 0 ? "0x" + Long.toHexString(addr) + ", " : "pfn 0x"
                + Long.toHexString(pfn) + ", ") + order + ")" + (addr != 0 ? " (pfn 0x" + Long.toHexString(pfn) + ")" : "")
                + " on pool '" + phys.name() + "': ";
        if (order < 0 || order > MAX_ORDER) {
            return new BadAddressException(where + "order " + order + " is outside 0.." + MAX_ORDER);
        }
        if (idx < 0) {
            return new BadAddressException(where + "not a frame of this pool; expected an address the page allocator"
                    + " returned");
        }
        long info = memMap.info(idx);
        int recorded = MemMap.order(info);
        if ((info & MemMap.PG_SLAB) != 0) {
            return new BadAddressException(where + "the frame belongs to a slab of the slab allocator; free the object"
                    + " with kfree or kmem_cache_free");
        }
        if ((info & MemMap.PG_LARGE_KMALLOC) != 0) {
            return new BadAddressException(where + "the block was allocated by kmalloc; free it with kfree");
        }
        if ((info & MemMap.PG_VMALLOC) != 0) {
            return new BadAddressException(where + "the frame backs a vmalloc area; free it with vfree");
        }
        if ((info & MemMap.PG_ALLOCATED) != 0) {
            return new BadAddressException(where + "wrong order: the block was allocated with order " + recorded
                    + " (" + (1 << recorded) + " pages), freed with order " + order);
        }
        if ((info & MemMap.PG_BUDDY) != 0) {
            return new DoubleFreeException(where + "double free: the block is already free (in the buddy's"
                    + " free_area[" + recorded + "])");
        }
        if ((info & MemMap.PG_PCP) != 0) {
            return new DoubleFreeException(where + "double free: the block is already free (in a per-thread page"
                    + " cache, order " + recorded + ")");
        }
        Zone zone = zones[MemMap.zone(info)];
        zone.lock.lock();
        try {
            long found = zone.findFreeBlockLocked(pfn);
            if (found >= 0) {
                long head = MemMap.pfn(memMap.info(found >>> 4));
                return new DoubleFreeException(where + "double free: the frame is already free, inside the free order-"
                        + (found & 0xF) + " block at pfn 0x" + Long.toHexString(head) + " (freed twice, or never handed"
                        + " out)");
            }
        } finally {
            zone.lock.unlock();
        }
        for (int o = 1; o <= MAX_ORDER; o++) {
            long h = pfn & -(1L << o);
            long hidx = phys.pfnToIdx(h);
            if (hidx >= 0 && h != pfn) {
                long hinfo = memMap.info(hidx);
                if ((hinfo & (MemMap.PG_ALLOCATED | MemMap.PG_PCP)) != 0 && MemMap.order(hinfo) >= o) {
                    return new BadAddressException(where + "not the start of a block: the frame is page " + (pfn - h)
                            + " of the order-" + MemMap.order(hinfo) + " block at pfn 0x" + Long.toHexString(h)
                            + "; free that block by its first address with order " + MemMap.order(hinfo));
                }
            }
        }
        if ((pfn & (1L << order) - 1) != 0) {
            return new BadAddressException(where + "misaligned: an order-" + order + " block starts at a pfn that is a"
                    + " multiple of " + (1 << order));
        }
        return new BadAddressException(where + "the page allocator never handed out this block ("
                + MemMap.flagNames(info) + ")");
    }

    /**
     * Whether the frame lies in a free block, in the buddy's free lists or a per-thread cache.
     * Reads the records without a lock: for error messages, whose callers order themselves
     * against the free that made the block free.
     */
    public boolean inFreeBlock(long pfn) {
        for (int o = 0; o <= MAX_ORDER; o++) {
            long idx = phys.pfnToIdx(pfn & -(1L << o));
            if (idx >= 0) {
                long info = memMap.info(idx);
                if ((info & (MemMap.PG_BUDDY | MemMap.PG_PCP)) != 0 && MemMap.order(info) >= o) {
                    return true;
                }
            }
        }
        return false;
    }

    /** The pool's {@code fail_page_alloc} settings. */
    public FaultAttr failPageAlloc() {
        return failPageAlloc;
    }

    // ================================================================== per-thread caches

    /**
     * The calling thread's cache. A direct-mapped table by thread id answers without a
     * {@code ThreadLocal} lookup; a thread whose slot another live thread holds falls back
     * to the {@code ThreadLocal}. The owner check makes a stale or racing slot harmless
     * ({@code owner} is final, so a slot read through a race still shows the right owner).
     */
    private PageCache cache() {
        Thread t = Thread.currentThread();
        PageCache c = bySlot[(int) t.threadId() & THREAD_SLOTS - 1];
        return c != null && c.owner == t ? c : cacheSlow(t);
    }

    private PageCache cacheSlow(Thread t) {
        PageCache c = caches.get();
        int s = (int) t.threadId() & THREAD_SLOTS - 1;
        PageCache held = bySlot[s];
        if (held == null || !held.owner.isAlive()) {
            bySlot[s] = c;
        }
        return c;
    }

    private PageCache newCache() {
        PageCache c = new PageCache(Thread.currentThread(), AtomicContext.onIrqThread());
        for (int s = 0; s < PageCache.SLOTS; s++) {
            c.high[s] = c.irqThread ? 0 : pcpHigh[s % PageCache.ORDERS];
        }
        cachesLock.lock();
        try {
            allCaches.add(c);
        } finally {
            cachesLock.unlock();
        }
        return c;
    }

    /** Moves every block of {@code c} into the buddy. Caller is the owner, or the owner is gone. */
    private void drainCache(PageCache c) {
        c.drainRequested = false;
        for (int s = 0; s < PageCache.SLOTS; s++) {
            c.high[s] = c.irqThread ? 0 : pcpHigh[s % PageCache.ORDERS];
        }
        for (int s = 0; s < PageCache.SLOTS; s++) {
            if (c.count[s] > 0) {
                drainOldest(c, s, s % PageCache.ORDERS, c.count[s]);
            }
        }
    }

    /** {@code free_pcppages_bulk}: the {@code n} oldest blocks of one stack go to the buddy. */
    private void drainOldest(PageCache c, int s, int order, int n) {
        int[] st = c.stacks[s];
        Zone zone = zones[s / PageCache.ORDERS];
        zone.lock.lock();
        try {
            for (int i = 0; i < n; i++) {
                int idx = st[i];
                long info = memMap.info(idx);
                memMap.setInfo(idx, MemMap.identity(info));
                zone.freeBlockLocked(MemMap.pfn(info), idx, order);
            }
        } finally {
            zone.lock.unlock();
        }
        System.arraycopy(st, n, st, 0, c.count[s] - n);
        c.count[s] -= n;
        c.drains++;
        c.refilled[s] = false;
        wakeWaiters();
    }

    /** Drains the caches of threads that have ended; returns how many frames came back. */
    private long reapDeadCaches() {
        List<PageCache> dead = new ArrayList<>();
        cachesLock.lock();
        try {
            for (int i = allCaches.size() - 1; i >= 0; i--) {
                PageCache c = allCaches.get(i);
                if (!c.owner.isAlive()) {
                    dead.add(c);
                    allCaches.remove(i);
                }
            }
        } finally {
            cachesLock.unlock();
        }
        long frames = 0;
        for (PageCache c : dead) {
            int s = (int) c.owner.threadId() & THREAD_SLOTS - 1;
            if (bySlot[s] == c) {
                bySlot[s] = null;
            }
            frames += c.frames();
            drainCache(c);
            reapedCaches.increment();
        }
        return frames;
    }

    private void requestDrains() {
        cachesLock.lock();
        try {
            for (PageCache c : allCaches) {
                if (c.owner != Thread.currentThread() && c.frames() > 0) {
                    c.drainRequested = true;
                }
            }
        } finally {
            cachesLock.unlock();
        }
    }

    /**
     * {@code drain_all_pages}: drains the calling thread's cache and every dead thread's now;
     * asks every other live thread to drain at its next call into the allocator.
     */
    public void drainAllPages() {
        ensureOpen("drain_all_pages");
        drainCache(cache());
        reapDeadCaches();
        requestDrains();
    }

    /**
     * Recomputes the caches' high and batch from the pool's size: a base high of at most
     * 1 MiB per order, which bursts may raise to 1/{@value #HIGH_MAX_DIVISOR} of the pool
     * per order ({@link PageCache#high}).
     */
    private void sizeCaches() {
        long managed = 0;
        for (Zone z : zones) {
            z.lock.lock();
            try {
                managed += z.managedLocked();
            } finally {
                z.lock.unlock();
            }
        }
        long budget = Math.clamp(managed / 256, 8, PCP_HIGH_MAX_FRAMES);
        for (int o = 0; o < PageCache.ORDERS; o++) {
            int high = (int) Math.max(1, budget >> o);
            pcpHigh[o] = high;
            pcpBatch[o] = Math.max(1, high / 4);
            pcpHighMax[o] = (int) Math.max(high, Math.min(managed / HIGH_MAX_DIVISOR, 1 << 16) >> o);
        }
    }

    // ================================================================== reports and checks

    /** One thread's cache, as the pagesets of /proc/zoneinfo. */
    public record CacheStats(String thread, boolean alive, long frames, int[] count, int[] high, int[] batch,
                             long allocs, long frees, long refills, long drains) {
    }

    public List<ZoneStats> zoneStats() {
        reapDeadCaches();
        long[] cached = new long[zones.length];
        for (PageCache c : cachesSnapshot()) {
            for (int s = 0; s < PageCache.SLOTS; s++) {
                cached[s / PageCache.ORDERS] += (long) c.count[s] << (s % PageCache.ORDERS);
            }
        }
        List<ZoneStats> out = new ArrayList<>();
        for (Zone z : zones) {
            z.lock.lock();
            try {
                long[] span = z.spanLocked();
                out.add(new ZoneStats(z.type, z.freeFramesLocked(), cached[z.type.ordinal()], z.minLocked(),
                        z.lowLocked(), z.highLocked(), z.managedLocked(), phys.presentFrames(z.type), span[0], span[1],
                        z.nrFreeLocked()));
            } finally {
                z.lock.unlock();
            }
        }
        return out;
    }

    /**
     * {@link #zoneStats()} without the zone locks, for telemetry: each figure read once
     * (opaquely), the set not from one instant. Takes only the lock of the list of per-thread
     * caches (held while a thread's cache is added or reaped, never by an allocation).
     */
    public List<ZoneStats> zoneStatsUnlocked() {
        long[] cached = new long[zones.length];
        for (PageCache c : cachesSnapshot()) {
            for (int s = 0; s < PageCache.SLOTS; s++) {
                cached[s / PageCache.ORDERS] += (long) c.count[s] << (s % PageCache.ORDERS);
            }
        }
        List<ZoneStats> out = new ArrayList<>(zones.length);
        for (Zone z : zones) {
            out.add(z.statsUnlocked(cached[z.type.ordinal()], phys.presentFrames(z.type)));
        }
        return out;
    }

    public List<CacheStats> cacheStats() {
        List<CacheStats> out = new ArrayList<>();
        for (PageCache c : cachesSnapshot()) {
            int[] count = new int[PageCache.ORDERS];
            for (int s = 0; s < PageCache.SLOTS; s++) {
                count[s % PageCache.ORDERS] += c.count[s];
            }
            int[] high = new int[PageCache.ORDERS];
            for (int o = 0; o < PageCache.ORDERS; o++) {
                high[o] = Math.max(pcpHigh[o], c.high[PageCache.slot(NORMAL, o)]);
            }
            out.add(new CacheStats(c.owner.getName(), c.owner.isAlive(), c.frames(), count, high,
                    pcpBatch.clone(), c.allocs, c.frees, c.refills, c.drains));
        }
        return out;
    }

    /** The event counters, now. */
    /** Misuses detected and thrown (bad or double frees, wrong orders), ever. */
    public long misuses() {
        return misuses.sum();
    }

    private <E extends RuntimeException> E misused(String pool, String function, long addr, E e) {
        misuses.increment();
        return Trace.misuse(pool, function, addr, e);
    }

    public PageStats stats() {
        return new PageStats(failures.sum(), slowAllocs.sum(), growths.sum(), grownFrames.sum(), harvests.sum(),
                harvestHits.sum(), harvestTaken.sum(), harvestReturned.sum(), waits.sum(), waitNanos.sum(),
                reapedCaches.sum());
    }

    private List<PageCache> cachesSnapshot() {
        cachesLock.lock();
        try {
            return new ArrayList<>(allCaches);
        } finally {
            cachesLock.unlock();
        }
    }

    /**
     * Walks every free list and checks the buddy's invariants: each head is marked free with
     * its order and zone, aligned, every frame of the block is held by the pool, the lists'
     * counts match the free counters, and no two free buddies of the same order coexist (they
     * would have merged). Returns the violations found, empty when consistent. Call it at a
     * quiescent point; it takes each zone lock in turn.
     */
    public List<String> check() {
        List<String> problems = new ArrayList<>();
        for (Zone z : zones) {
            z.lock.lock();
            try {
                long free = 0;
                for (int o = 0; o <= MAX_ORDER; o++) {
                    for (long idx : z.freeHeadsLocked(o)) {
                        long info = memMap.info(idx);
                        long pfn = MemMap.pfn(info);
                        free += 1L << o;
                        if ((info & MemMap.PG_BUDDY) == 0 || MemMap.order(info) != o
                                || MemMap.zone(info) != z.type.ordinal()) {
                            problems.add(z.type.procName() + " free_area[" + o + "]: head pfn 0x" + Long.toHexString(pfn)
                                    + " has record " + MemMap.flagNames(info) + " order " + MemMap.order(info));
                        }
                        if ((pfn & (1L << o) - 1) != 0) {
                            problems.add(z.type.procName() + " free_area[" + o + "]: pfn 0x" + Long.toHexString(pfn)
                                    + " is not aligned to " + (1 << o));
                        }
                        for (long p = pfn + 1; p < pfn + (1L << o); p++) {
                            long pidx = phys.pfnToIdx(p);
                            if (pidx < 0 || (memMap.info(pidx) & MemMap.STATE_MASK) != 0) {
                                problems.add(z.type.procName() + " free_area[" + o + "]: block at pfn 0x"
                                        + Long.toHexString(pfn) + " covers pfn 0x" + Long.toHexString(p)
                                        + (pidx < 0 ? ", which the pool does not hold" : ", which has state "
                                        + MemMap.flagNames(memMap.info(pidx))));
                                break;
                            }
                        }
                        if (o < MAX_ORDER) {
                            long bidx = phys.pfnToIdx(pfn ^ (1L << o));
                            if (bidx >= 0) {
                                long b = memMap.info(bidx);
                                if ((b & MemMap.PG_BUDDY) != 0 && MemMap.order(b) == o
                                        && MemMap.zone(b) == z.type.ordinal()) {
                                    problems.add(z.type.procName() + " free_area[" + o + "]: blocks at pfn 0x"
                                            + Long.toHexString(pfn) + " and its buddy are both free: not merged");
                                }
                            }
                        }
                    }
                }
                if (free != z.freeFramesLocked()) {
                    problems.add(z.type.procName() + ": free lists hold " + free + " frames, counter says "
                            + z.freeFramesLocked());
                }
            } finally {
                z.lock.unlock();
            }
        }
        return problems;
    }

    // ================================================================== lifecycle

    private void ensureOpen(String function) {
        phys.ensureOpen(function);
    }

    /**
     * Drains every cache into the buddy (so that every frame is accounted for) and stops
     * serving; the caller then closes the physical layer.
     */
    @Override
    public void close() {
        closed = true;
        updateSlowFrees();
        for (PageCache c : cachesSnapshot()) {
            drainCache(c);
        }
        cachesLock.lock();
        try {
            allCaches.clear();
        } finally {
            cachesLock.unlock();
        }
        Arrays.fill(bySlot, null);
        wakeWaiters();
    }

    /** True once {@link #close} has run. */
    public boolean closed() {
        return closed;
    }

    /** The page allocator's physical layer. */
    public FramePool phys() {
        return phys;
    }
}
