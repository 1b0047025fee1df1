package io.kmem.internal.page;

import io.kmem.internal.phys.FramePool;
import io.kmem.internal.phys.MemMap;
import io.kmem.gfp.ZoneType;
import io.kmem.stats.ZoneStats;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One zone of a pool: its buddy free lists, counters and watermarks.
 *
 * <h2>Notation</h2>
 * <ul>
 *   <li><b>block of order n</b>: 2^n frames with consecutive PFNs, the first PFN a multiple
 *       of 2^n. Represented by its head frame; the other frames' records carry no state.</li>
 *   <li><b>buddy</b> of the block at pfn P and order n: the block at {@code P ^ 2^n}. The two
 *       together form the block of order n+1 at {@code P & ~2^n}.</li>
 *   <li><b>free_area[n]</b>: the free blocks of order n, a doubly linked list threaded through
 *       the heads' mem_map records (private word: prev index in the high 32 bits, next index
 *       in the low 32 bits, -1 for none).</li>
 * </ul>
 *
 * <pre>
 *  pfn  0x1000 ........................................ 0x1007   (an order-3 block)
 *       [ 0x1000 order 1 ][0x1002][0x1003][   0x1004 order 2   ]
 *        free_area[1]      alloc   free    free_area[2]
 *  free of 0x1002 (order 0): its buddy 0x1003 is free with order 0: merge to order 1 at
 *  0x1002; its buddy 0x1000 is free with order 1: merge to order 2 at 0x1000; its buddy
 *  0x1004 is free with order 2: merge to order 3 at 0x1000.
 * </pre>
 *
 * <h2>Records</h2>
 * A free block's head: {@code PG_BUDDY} and the order. Every other frame of a free block:
 * no state. A buddy's record is trusted only when it says {@code PG_BUDDY}, the same order
 * and this zone, and the PFN index finds it: a block only forms where the pool holds every
 * frame, because its two halves were blocks the pool held.
 *
 * <h2>Watermarks</h2>
 * {@code min} is 1/128 of the managed frames; {@code low} = min + min/4; {@code high} = min +
 * min/2. An allocation succeeds when {@code free - 2^order >= mark}, where the mark is low
 * for the first attempt and min, or a fraction of min for {@code __GFP_HIGH}, after that.
 *
 * <h2>Locking</h2>
 * {@link #lock} guards every field and every record of a free block. Methods named
 * {@code ...Locked} expect it held. It is held for short, bounded work only (no system
 * call, no wait), so that {@code GFP_ATOMIC} callers never sleep on it for long.
 * {@link #statsUnlocked} is the one reader that does without it: telemetry reads each
 * counter once, opaquely, so that watching a pool never contends with allocating from it.
 */
final class Zone {
    static final int MAX_ORDER = 10;
    static final int NR_ORDERS = MAX_ORDER + 1;
    private static final int NONE = -1;

    final ZoneType type;
    final ReentrantLock lock = new ReentrantLock();
    private final FramePool phys;
    private final MemMap memMap;
    private final int[] head = new int[NR_ORDERS];
    private final long[] nrFree = new long[NR_ORDERS];

    /** Frames in free_area lists (not counting per-thread caches). */
    private long freeFrames;
    /** Frames given to this zone's buddy, ever, minus those released. */
    private long managed;
    private long min;
    private long low;
    private long high;
    private long lowestPfn = Long.MAX_VALUE;
    private long highestPfn = -1;

    private static final VarHandle FREE_FRAMES;
    private static final VarHandle MANAGED;
    private static final VarHandle MIN;
    private static final VarHandle LOW;
    private static final VarHandle HIGH;
    private static final VarHandle LOWEST_PFN;
    private static final VarHandle HIGHEST_PFN;
    private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);

    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            FREE_FRAMES = l.findVarHandle(Zone.class, "freeFrames", long.class);
            MANAGED = l.findVarHandle(Zone.class, "managed", long.class);
            MIN = l.findVarHandle(Zone.class, "min", long.class);
            LOW = l.findVarHandle(Zone.class, "low", long.class);
            HIGH = l.findVarHandle(Zone.class, "high", long.class);
            LOWEST_PFN = l.findVarHandle(Zone.class, "lowestPfn", long.class);
            HIGHEST_PFN = l.findVarHandle(Zone.class, "highestPfn", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    Zone(ZoneType type, FramePool phys) {
        this.type = type;
        this.phys = phys;
        this.memMap = phys.memMap();
        Arrays.fill(head, NONE);
    }

    // ------------------------------------------------------------------ free lists

    private void addFreeLocked(long idx, long info, int order) {
        int first = head[order];
        memMap.setInfo(idx, MemMap.withOrder(MemMap.identity(info), order) | MemMap.PG_BUDDY);
        memMap.setPriv(idx, link(NONE, first));
        if (first != NONE) {
            memMap.setPriv(first, link((int) idx, next(memMap.priv(first))));
        }
        head[order] = (int) idx;
        nrFree[order]++;
    }

    private void removeFreeLocked(long idx, int order) {
        long l = memMap.priv(idx);
        int prev = prev(l);
        int next = next(l);
        if (prev == NONE) {
            head[order] = next;
        } else {
            memMap.setPriv(prev, link(prev(memMap.priv(prev)), next));
        }
        if (next != NONE) {
            memMap.setPriv(next, link(prev, next(memMap.priv(next))));
        }
        memMap.setPriv(idx, 0);
        memMap.setInfo(idx, MemMap.identity(memMap.info(idx)));
        nrFree[order]--;
    }

    private static long link(int prev, int next) {
        return (long) prev << 32 | next & 0xFFFFFFFFL;
    }

    private static int prev(long link) {
        return (int) (link >> 32);
    }

    private static int next(long link) {
        return (int) link;
    }

    // ------------------------------------------------------------------ the buddy algorithm

    /**
     * {@code __free_one_page}: puts the block of {@code order} at {@code pfn} (frame
     * {@code idx}, its record holding no owner state) into free_area, merging it with its
     * buddy as long as the buddy is free, of the same order and in this zone.
     */
    void freeBlockLocked(long pfn, long idx, int order) {
        freeFrames += 1L << order;
        while (order < MAX_ORDER) {
            long buddyPfn = pfn ^ (1L << order);
            long buddyIdx = phys.pfnToIdx(buddyPfn);
            if (buddyIdx < 0) {
                break;
            }
            long b = memMap.info(buddyIdx);
            if ((b & MemMap.PG_BUDDY) == 0 || MemMap.order(b) != order || MemMap.zone(b) != type.ordinal()) {
                break;
            }
            removeFreeLocked(buddyIdx, order);
            if (buddyPfn < pfn) {
                memMap.setInfo(idx, MemMap.identity(memMap.info(idx)));
                pfn = buddyPfn;
                idx = buddyIdx;
            }
            order++;
        }
        addFreeLocked(idx, memMap.info(idx), order);
    }

    /**
     * {@code __rmqueue_smallest}: takes a block of {@code order} from the smallest free_area
     * that has one, splitting larger blocks and putting the upper halves back. Returns the
     * head's frame index, its record holding only the order, or -1.
     */
    long takeBlockLocked(int order) {
        int o = order;
        while (o < NR_ORDERS && head[o] == NONE) {
            o++;
        }
        if (o == NR_ORDERS) {
            return -1;
        }
        return splitLocked(head[o], o, order);
    }

    /**
     * A block of {@code order} whose frames all lie at or below {@code maxPfn}: the lowest part
     * of the first free block (smallest order first, then list order) that has one. Walks the
     * free lists, so it is for slow paths (DMA masks between zone limits). Returns the head's
     * frame index, its record holding only the order, or -1.
     */
    long takeBlockBelowLocked(int order, long maxPfn) {
        for (int o = order; o < NR_ORDERS; o++) {
            for (int i = head[o]; i != NONE; i = next(memMap.priv(i))) {
                if (MemMap.pfn(memMap.info(i)) + (1L << order) - 1 <= maxPfn) {
                    return splitLocked(i, o, order);
                }
            }
        }
        return -1;
    }

    /**
     * Takes the free block of order {@code o} at {@code idx} off its list and keeps its lowest
     * block of {@code order}, putting the upper halves back ({@code expand}).
     */
    private long splitLocked(long idx, int o, int order) {
        removeFreeLocked(idx, o);
        long pfn = MemMap.pfn(memMap.info(idx));
        while (o > order) {
            o--;
            long upper = pfn + (1L << o);
            long upperIdx = phys.pfnToIdx(upper);
            if (upperIdx < 0) {
                throw new IllegalStateException("buddy: free block at pfn 0x" + Long.toHexString(pfn)
                        + " lost frame 0x" + Long.toHexString(upper));
            }
            addFreeLocked(upperIdx, memMap.info(upperIdx), o);
        }
        memMap.setInfo(idx, MemMap.withOrder(memMap.info(idx), order));
        freeFrames -= 1L << order;
        return idx;
    }

    /**
     * The free block that contains {@code pfn}, as {@code headIdx << 4 | order}, or -1 when the
     * frame is not free in this zone's buddy.
     */
    long findFreeBlockLocked(long pfn) {
        for (int o = 0; o <= MAX_ORDER; o++) {
            long h = pfn & -(1L << o);
            long hidx = phys.pfnToIdx(h);
            if (hidx >= 0) {
                long info = memMap.info(hidx);
                if ((info & MemMap.PG_BUDDY) != 0 && MemMap.order(info) >= o
                        && MemMap.zone(info) == type.ordinal()) {
                    return hidx << 4 | MemMap.order(info);
                }
            }
        }
        return -1;
    }

    /**
     * {@code take_page_off_buddy}: takes the single free frame {@code pfn} out of the buddy,
     * splitting the free block around it and putting the rest back. Returns its index, or -1
     * when it is not free here.
     */
    long takeFrameLocked(long pfn) {
        long found = findFreeBlockLocked(pfn);
        if (found < 0) {
            return -1;
        }
        long idx = found >>> 4;
        int o = (int) (found & 0xF);
        removeFreeLocked(idx, o);
        long start = MemMap.pfn(memMap.info(idx));
        while (o > 0) {
            o--;
            long half = 1L << o;
            long other = pfn < start + half ? start + half : start;
            if (pfn >= start + half) {
                start += half;
            }
            long otherIdx = phys.pfnToIdx(other);
            addFreeLocked(otherIdx, memMap.info(otherIdx), o);
        }
        long frameIdx = phys.pfnToIdx(pfn);
        memMap.setInfo(frameIdx, MemMap.identity(memMap.info(frameIdx)));
        freeFrames--;
        return frameIdx;
    }

    // ------------------------------------------------------------------ watermarks and counts

    /** {@code zone_watermark_ok}: may a block of {@code order} be taken with {@code mark}? */
    boolean watermarkOkLocked(int order, long mark) {
        return freeFrames - (1L << order) >= mark;
    }

    /** Frames came in (or went): counts, span and watermarks follow. */
    void addManagedLocked(long frames, long firstPfn, long lastPfn) {
        managed += frames;
        lowestPfn = Math.min(lowestPfn, firstPfn);
        highestPfn = Math.max(highestPfn, lastPfn);
        min = managed / 128;
        low = min + min / 4;
        high = min + min / 2;
    }

    void removeManagedLocked(long frames) {
        managed -= frames;
        min = managed / 128;
        low = min + min / 4;
        high = min + min / 2;
    }

    long freeFramesLocked() {
        return freeFrames;
    }

    long managedLocked() {
        return managed;
    }

    long minLocked() {
        return min;
    }

    long lowLocked() {
        return low;
    }

    long highLocked() {
        return high;
    }

    long[] spanLocked() {
        return new long[] {lowestPfn, highestPfn};
    }

    /**
     * The zone's figures without its lock: each counter read once, opaquely (whole, never
     * torn, possibly a moment old), the set not taken at one instant. The writers pay
     * nothing for it: they keep their plain stores under the lock.
     */
    ZoneStats statsUnlocked(long cached, long present) {
        long[] free = new long[NR_ORDERS];
        for (int o = 0; o < NR_ORDERS; o++) {
            free[o] = (long) LONGS.getOpaque(nrFree, o);
        }
        return new ZoneStats(type, (long) FREE_FRAMES.getOpaque(this), cached, (long) MIN.getOpaque(this),
                (long) LOW.getOpaque(this), (long) HIGH.getOpaque(this), (long) MANAGED.getOpaque(this), present,
                (long) LOWEST_PFN.getOpaque(this), (long) HIGHEST_PFN.getOpaque(this), free);
    }

    /** Free blocks per order, as /proc/buddyinfo shows them. */
    long[] nrFreeLocked() {
        return nrFree.clone();
    }

    /** Heads of the free blocks of {@code order}, in list order (for checks and reports). */
    long[] freeHeadsLocked(int order) {
        long[] out = new long[(int) nrFree[order]];
        int n = 0;
        for (int i = head[order]; i != NONE; i = next(memMap.priv(i))) {
            out[n++] = i;
        }
        return out;
    }
}
