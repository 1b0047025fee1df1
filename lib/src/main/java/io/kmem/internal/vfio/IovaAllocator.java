package io.kmem.internal.vfio;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * I/O virtual addresses for one IOMMU domain: which device addresses are free, as the kernel's
 * {@code drivers/iommu/iova.c} keeps them for its IOMMU DMA ops. kmem, not the kernel, chooses
 * the IOVAs a VFIO device sees; this class says which.
 *
 * <h2>Notation</h2>
 * An IOVA is a device address; the allocator works in granules of 4 KiB ({@link #GRANULE}),
 * "pfn" below is an IOVA divided by the granule. A range is {@code [start, end]} inclusive, as
 * VFIO reports IOVA ranges. A request of {@code n} granules is size-aligned: rounded up to a
 * power of two when it is at most {@link #CACHED_MAX} granules, and aligned to that power of two
 * (at most {@link #MAX_ALIGN} granules, 2 MiB, so a large mapping may use IOMMU superpages).
 *
 * <pre>
 *  usable (VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE)   [------------------------------------------]
 *  reserved (MSI window 0xfee00000-0xfeefffff)                       [xx]
 *  free tree (start pfn -> end pfn)               [-----][used][----]    [----][used][used]--]
 *                                                                                    ^ top-down:
 *  per-thread magazines, one stack per order 0..5: freed pfns kept for the next alloc
 * </pre>
 *
 * <h2>Allocate ({@link #alloc})</h2>
 * <ol>
 *   <li>Round the size to its order; for orders up to 5, pop from the calling thread's magazine
 *       the newest cached IOVA whose last byte is within the limit (the device's DMA mask).
 *       No lock but the magazine's own monitor, which only a drain (step 4) contends.</li>
 *   <li>Otherwise, under the allocator's lock, walk the free tree downwards from the limit
 *       and take the highest aligned block that fits (the kernel allocates top-down too, so
 *       low IOVAs stay free for devices with small masks).</li>
 *   <li>Split the free range around the block.</li>
 *   <li>Nothing fits: drain every thread's magazine into the tree (as the kernel flushes its
 *       per-CPU caches) and try once more; then return 0 ({@link #IOVA_NONE}) and count it.</li>
 * </ol>
 *
 * <h2>Free ({@link #free})</h2>
 * Orders up to 5 go to the calling thread's magazine; when it holds {@link #MAGAZINE} of that
 * order, the older half goes back to the tree. Larger ones go back to the tree at once, merged
 * with their free neighbours. The allocator trusts its caller to free only what it allocated,
 * once, with the size it asked for: kmem's DMA layer checks every unmap before it frees.
 *
 * <p>IOVA 0 is never handed out (it is {@link #IOVA_NONE}), as the kernel's domains start at
 * pfn 1.
 *
 * <p>Lock order: a magazine's monitor, then the allocator's ({@code this}). The fast path
 * allocates no Java objects.
 */
public final class IovaAllocator {
    /** The allocation granule: 4 KiB, the smallest IOMMU page on x86. */
    public static final long GRANULE = 4096;
    public static final int GRANULE_SHIFT = 12;
    /** What {@link #alloc} returns when nothing fits. */
    public static final long IOVA_NONE = 0;
    /** The x86 interrupt (MSI) window, which the IOMMU reserves in every domain: {@code [start, end]}. */
    public static final long MSI_START = 0xfee0_0000L;
    public static final long MSI_END = 0xfeef_ffffL;
    /** Requests up to this many granules (2^5) are size-rounded and cached per thread. */
    public static final int CACHED_MAX = 32;
    static final int CACHED_ORDERS = 6;
    /** The largest alignment given: 512 granules (2 MiB). */
    public static final long MAX_ALIGN = 512;
    /** Cached IOVAs per order per thread. */
    static final int MAGAZINE = 128;

    /** An inclusive range of IOVAs. */
    public record Range(long start, long end) {
        public Range {
            if (Long.compareUnsigned(start, end) > 0) {
                throw new IllegalArgumentException(String.format(Locale.ROOT, "IOVA range [0x%x, 0x%x]: start above end",
                        start, end));
            }
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "[0x%x-0x%x]", start, end);
        }
    }

    /** One thread's cached IOVAs: a stack of pfns per order. */
    private static final class Magazine {
        final long[][] pfns = new long[CACHED_ORDERS][MAGAZINE];
        final int[] count = new int[CACHED_ORDERS];
    }

    private final String name;
    private final List<Range> usable;
    /** Free granules: start pfn to end pfn (inclusive). Guarded by {@code this}. */
    private final TreeMap<Long, Long> free = new TreeMap<>();
    private final List<Magazine> magazines = new ArrayList<>();
    private final ThreadLocal<Magazine> magazine = ThreadLocal.withInitial(this::newMagazine);
    private final LongAdder failures = new LongAdder();
    private long freeGranules;

    /**
     * A domain whose usable IOVAs are {@code usable} (the IOMMU's apertures) less
     * {@code reserved} (the MSI window, other reserved regions); every bound is rounded inwards
     * to whole granules, and IOVA 0 is left out.
     *
     * @param name names the domain in messages (the device, the group)
     */
    public IovaAllocator(String name, List<Range> usable, List<Range> reserved) {
        this.name = name;
        this.usable = List.copyOf(usable);
        for (Range r : usable) {
            long s = Math.max(1, Long.divideUnsigned(r.start(), GRANULE) + ((r.start() & (GRANULE - 1)) != 0 ? 1 : 0));
            long e = r.end() == -1L ? -1L >>> GRANULE_SHIFT : Long.divideUnsigned(r.end() + 1, GRANULE) - 1;
            if (Long.compareUnsigned(s, e) <= 0) {
                addFree(s, e);
            }
        }
        for (Range r : reserved) {
            reserve(r.start() >>> GRANULE_SHIFT, r.end() >>> GRANULE_SHIFT);
        }
    }

    /** The usual domain: {@code usable} less the MSI window. */
    public static IovaAllocator withMsiWindow(String name, List<Range> usable) {
        return new IovaAllocator(name, usable, List.of(new Range(MSI_START, MSI_END)));
    }

    /**
     * An IOVA for {@code size} bytes whose last byte is at or below {@code limit} (a DMA mask),
     * aligned as the class comment says, or {@link #IOVA_NONE} when nothing fits (counted in
     * {@link #failures()}).
     */
    public long alloc(long size, long limit) {
        long n = granules(size);
        int order = order(n);
        if (order < CACHED_ORDERS) {
            long pfn = pop(magazine.get(), order, limit);
            if (pfn != 0) {
                return pfn << GRANULE_SHIFT;
            }
            n = 1L << order;
        }
        long pfn = allocSlow(n, limit);
        if (pfn == 0) {
            drainMagazines();
            pfn = allocSlow(n, limit);
        }
        if (pfn == 0) {
            failures.increment();
            return IOVA_NONE;
        }
        return pfn << GRANULE_SHIFT;
    }

    /** Frees what {@link #alloc} returned for {@code size} bytes. */
    public void free(long iova, long size) {
        long n = granules(size);
        int order = order(n);
        long pfn = iova >>> GRANULE_SHIFT;
        if (order < CACHED_ORDERS) {
            Magazine m = magazine.get();
            synchronized (m) {
                if (m.count[order] < MAGAZINE) {
                    m.pfns[order][m.count[order]++] = pfn;
                    return;
                }
                int half = MAGAZINE / 2;
                synchronized (this) {
                    for (int i = 0; i < half; i++) {
                        freeLocked(m.pfns[order][i], 1L << order);
                    }
                }
                System.arraycopy(m.pfns[order], half, m.pfns[order], 0, MAGAZINE - half);
                m.count[order] = MAGAZINE - half;
                m.pfns[order][m.count[order]++] = pfn;
            }
            return;
        }
        synchronized (this) {
            freeLocked(pfn, n);
        }
    }

    /** Allocations that found nothing. */
    public long failures() {
        return failures.sum();
    }

    /** Free bytes in the tree (IOVAs cached in magazines not counted). */
    public synchronized long freeBytes() {
        return freeGranules << GRANULE_SHIFT;
    }

    /** The largest free block in the tree at or below {@code limit}, in bytes: for error messages. */
    public synchronized long largestFreeBelow(long limit) {
        long lim = limit >>> GRANULE_SHIFT;
        long best = 0;
        for (Map.Entry<Long, Long> e : free.entrySet()) {
            if (Long.compareUnsigned(e.getKey(), lim) > 0) {
                break;
            }
            long end = Long.compareUnsigned(e.getValue(), lim) > 0 ? lim : e.getValue();
            best = Math.max(best, end - e.getKey() + 1);
        }
        return best << GRANULE_SHIFT;
    }

    /** The usable ranges the domain was built from. */
    public List<Range> usable() {
        return usable;
    }

    /** A line for error messages: what is usable, what is free, what failed. */
    public String describe() {
        return String.format(Locale.ROOT, "IOVA domain of %s: usable %s less the MSI window, %d KiB free, %d"
                + " allocations failed", name, usable, freeBytes() >> 10, failures());
    }

    // ------------------------------------------------------------------ internals

    static long granules(long size) {
        if (size <= 0) {
            throw new IllegalArgumentException("IOVA size " + size + ": expected above 0");
        }
        return (size + GRANULE - 1) >>> GRANULE_SHIFT;
    }

    /** The order of a size in granules: ceil(log2 n). */
    static int order(long n) {
        return 64 - Long.numberOfLeadingZeros(n - 1);
    }

    private Magazine newMagazine() {
        Magazine m = new Magazine();
        synchronized (this) {
            magazines.add(m);
        }
        return m;
    }

    private static long pop(Magazine m, int order, long limit) {
        long limPfn = limit >>> GRANULE_SHIFT;
        long last = (1L << order) - 1;
        synchronized (m) {
            long[] p = m.pfns[order];
            for (int i = m.count[order] - 1; i >= 0; i--) {
                long pfn = p[i];
                if (Long.compareUnsigned(pfn + last, limPfn) <= 0) {
                    p[i] = p[--m.count[order]];
                    return pfn;
                }
            }
        }
        return 0;
    }

    private void drainMagazines() {
        List<Magazine> all;
        synchronized (this) {
            all = new ArrayList<>(magazines);
        }
        for (Magazine m : all) {
            synchronized (m) {
                synchronized (this) {
                    for (int o = 0; o < CACHED_ORDERS; o++) {
                        for (int i = 0; i < m.count[o]; i++) {
                            freeLocked(m.pfns[o][i], 1L << o);
                        }
                        m.count[o] = 0;
                    }
                }
            }
        }
    }

    /** Top-down search of the free tree; returns the pfn, or 0. */
    private synchronized long allocSlow(long n, long limit) {
        long align = Math.min(Long.highestOneBit(n) == n ? n : Long.highestOneBit(n) << 1, MAX_ALIGN);
        long limPfn = limit >>> GRANULE_SHIFT;
        Map.Entry<Long, Long> e = free.floorEntry(limPfn);
        while (e != null) {
            long s = e.getKey();
            long top = Long.compareUnsigned(e.getValue(), limPfn) > 0 ? limPfn : e.getValue();
            long start = (top - n + 1) & -align;
            if (top - s + 1 >= n && Long.compareUnsigned(start, s) >= 0 && start + n - 1 <= top) {
                take(s, e.getValue(), start, start + n - 1);
                return start;
            }
            e = free.lowerEntry(s);
        }
        return 0;
    }

    /** Removes {@code [a, b]} from the free range {@code [s, e]}. */
    private void take(long s, long e, long a, long b) {
        free.remove(s);
        if (a > s) {
            free.put(s, a - 1);
        }
        if (b < e) {
            free.put(b + 1, e);
        }
        freeGranules -= b - a + 1;
    }

    private void freeLocked(long pfn, long n) {
        long end = pfn + n - 1;
        Map.Entry<Long, Long> below = free.floorEntry(end);
        if (below != null && below.getValue() >= pfn) {
            throw new IllegalStateException(String.format(Locale.ROOT, "%s: IOVA 0x%x (%d granules) freed while"
                    + " [0x%x, 0x%x] is free already: a double free or a wrong size", name, pfn << GRANULE_SHIFT, n,
                    below.getKey() << GRANULE_SHIFT, (below.getValue() << GRANULE_SHIFT) + GRANULE - 1));
        }
        addFree(pfn, end);
    }

    private void addFree(long s, long e) {
        freeGranules += e - s + 1;
        Map.Entry<Long, Long> lo = free.floorEntry(s - 1);
        if (lo != null && lo.getValue() == s - 1) {
            free.remove(lo.getKey());
            s = lo.getKey();
        }
        Long hi = free.get(e + 1);
        if (hi != null) {
            free.remove(e + 1);
            e = hi;
        }
        free.put(s, e);
    }

    private void reserve(long s, long e) {
        Map.Entry<Long, Long> r = free.floorEntry(e);
        while (r != null && r.getValue() >= s) {
            long a = Math.max(s, r.getKey());
            long b = Math.min(e, r.getValue());
            take(r.getKey(), r.getValue(), a, b);
            r = free.floorEntry(e);
        }
    }
}
