package io.kmem.internal.vmalloc;

import io.kmem.internal.phys.PhysLayout;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The vmap-area allocator of one window ({@code alloc_vmap_area} and friends in
 * {@code mm/vmalloc.c}): hands out page-aligned ranges of the window, each followed by one
 * guard page that never maps a frame, and takes them back, merging free neighbours.
 *
 * <h2>Notation</h2>
 * <ul>
 *   <li><b>window</b>: {@code [base, base + size)}, one {@code PROT_NONE} reservation.</li>
 *   <li><b>free range</b>: {@code [start, end)} of the window that no area holds.</li>
 *   <li><b>area</b>: a busy range {@code [start, start + size + guard)}; its first
 *       {@code size} bytes may be mapped, the guard page after them never maps a frame
 *       ({@code PROT_NONE}, or a guard region at the end of the area's mapping: see
 *       {@link Vmalloc}).</li>
 * </ul>
 *
 * <pre>
 *  base                                                                     base + size
 *  | area A (3 pages) |g| area B (1) |g|   free range   | area C (512, 2 MiB-aligned) |g| free
 *                      ^ guard: in A's range, faults on access
 * </pre>
 *
 * <h2>Steps</h2>
 * <ol>
 *   <li>Allocate {@code n} bytes aligned to {@code a}: look for the smallest free range of at
 *       least {@code n + guard + (a - page)} bytes ({@link #bySize}, a sorted set: O(log n)),
 *       which always holds an aligned start; carve the area out of it, giving back the head
 *       (before the aligned start) and the tail. The kernel takes the lowest address that
 *       fits; best fit keeps large ranges whole just as well and needs no augmented tree.</li>
 *   <li>Free: the range goes back and merges with the free ranges that end at its start and
 *       begin at its end ({@link #byStart}).</li>
 * </ol>
 *
 * <h2>Locking</h2>
 * {@link #lock} guards the free ranges and every insert or remove of {@link #busy}; it is a
 * leaf, held for map operations only. {@link #busy} is a concurrent map, so lookups
 * ({@code find_vm_area}, {@code vmalloc_to_page}) take no lock.
 */
final class VmapAreas {
    /** The guard page after every area. */
    static final long GUARD = PhysLayout.PAGE_SIZE;

    private record Range(long start, long end) {
        long size() {
            return end - start;
        }
    }

    private static final Comparator<Range> BY_SIZE = Comparator.comparingLong(Range::size)
            .thenComparingLong(Range::start);

    final long base;
    final long size;
    private final ReentrantLock lock = new ReentrantLock();
    private final TreeMap<Long, Range> byStart = new TreeMap<>();
    private final TreeSet<Range> bySize = new TreeSet<>(BY_SIZE);
    private final ConcurrentSkipListMap<Long, VmArea> busy = new ConcurrentSkipListMap<>();
    private long freeBytes;

    VmapAreas(long base, long size) {
        this.base = base;
        this.size = size;
        addFreeLocked(new Range(base, base + size));
    }

    /**
     * Reserves {@code bytes} (a multiple of the page size) plus the guard page, the start
     * aligned to {@code align}; returns the start, or -1 when no free range fits.
     */
    long reserve(long bytes, long align) {
        long need = bytes + GUARD + align - PhysLayout.PAGE_SIZE;
        lock.lock();
        try {
            Range r = bySize.ceiling(new Range(0, need));
            if (r == null) {
                return -1;
            }
            removeFreeLocked(r);
            long start = r.start + align - 1 & -align;
            long end = start + bytes + GUARD;
            if (start > r.start) {
                addFreeLocked(new Range(r.start, start));
            }
            if (r.end > end) {
                addFreeLocked(new Range(end, r.end));
            }
            return start;
        } finally {
            lock.unlock();
        }
    }

    /** Makes a reserved range findable: {@code find_vm_area} and the report see it from now. */
    void publish(VmArea area) {
        lock.lock();
        try {
            busy.put(area.start, area);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Removes {@code area} from the busy areas; false when it is not there (another thread
     * took it first). Its range stays reserved until {@link #release}.
     */
    boolean unpublish(long start, VmArea area) {
        lock.lock();
        try {
            return busy.remove(start, area);
        } finally {
            lock.unlock();
        }
    }

    /** Gives a reserved range back ({@code bytes} as reserved, without the guard page). */
    void release(long start, long bytes) {
        lock.lock();
        try {
            long s = start;
            long e = start + bytes + GUARD;
            Map.Entry<Long, Range> before = byStart.lowerEntry(s);
            if (before != null && before.getValue().end == s) {
                s = before.getValue().start;
                removeFreeLocked(before.getValue());
            }
            Range after = byStart.get(e);
            if (after != null) {
                e = after.end;
                removeFreeLocked(after);
            }
            addFreeLocked(new Range(s, e));
        } finally {
            lock.unlock();
        }
    }

    /** The busy area containing {@code addr} (its guard page included), or null. */
    VmArea containing(long addr) {
        Map.Entry<Long, VmArea> e = busy.floorEntry(addr);
        if (e == null) {
            return null;
        }
        VmArea a = e.getValue();
        return addr < a.start + a.size + GUARD ? a : null;
    }

    /** The busy area starting at {@code addr}, or null. */
    VmArea at(long addr) {
        return busy.get(addr);
    }

    /** Busy areas in address order (a snapshot). */
    List<VmArea> areas() {
        return new ArrayList<>(busy.values());
    }

    boolean inWindow(long addr) {
        return addr - base >= 0 && addr - base < size;
    }

    /** Free ranges in address order as {start, end} pairs (for checks and tests). */
    List<long[]> freeRanges() {
        lock.lock();
        try {
            List<long[]> out = new ArrayList<>();
            for (Range r : byStart.values()) {
                out.add(new long[] {r.start, r.end});
            }
            return out;
        } finally {
            lock.unlock();
        }
    }

    long freeBytes() {
        lock.lock();
        try {
            return freeBytes;
        } finally {
            lock.unlock();
        }
    }

    /** The largest free range, in bytes. */
    long largestFree() {
        lock.lock();
        try {
            return bySize.isEmpty() ? 0 : bySize.last().size();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Consistency of the two free-range indexes and the busy areas: every byte of the window
     * is in exactly one free range or one busy or reserved range, free ranges never touch.
     * Returns what is wrong, empty when all is well. Reserved-but-unpublished ranges (an
     * allocation in progress) show as gaps, so call this at rest.
     */
    List<String> check() {
        lock.lock();
        try {
            List<String> errors = new ArrayList<>();
            if (byStart.size() != bySize.size()) {
                errors.add("free ranges: " + byStart.size() + " by start but " + bySize.size() + " by size");
            }
            NavigableMap<Long, long[]> all = new TreeMap<>();
            long free = 0;
            for (Range r : byStart.values()) {
                all.put(r.start, new long[] {r.end, 0});
                free += r.size();
            }
            if (free != freeBytes) {
                errors.add("free bytes: counted " + free + " but the counter says " + freeBytes);
            }
            for (VmArea a : busy.values()) {
                if (all.put(a.start, new long[] {a.start + a.size + GUARD, 1}) != null) {
                    errors.add("area at 0x" + Long.toHexString(a.start) + " starts a free range too");
                }
            }
            long at = base;
            long prevEnd = -1;
            boolean prevFree = false;
            for (Map.Entry<Long, long[]> e : all.entrySet()) {
                long s = e.getKey();
                boolean isFree = e.getValue()[1] == 0;
                if (s < at) {
                    errors.add("range at 0x" + Long.toHexString(s) + " overlaps the one before, which ends at 0x"
                            + Long.toHexString(at));
                }
                if (s == prevEnd && isFree && prevFree) {
                    errors.add("free ranges at 0x" + Long.toHexString(s) + " and before it were not merged");
                }
                if (s > at) {
                    errors.add("window bytes [0x" + Long.toHexString(at) + ", 0x" + Long.toHexString(s)
                            + ") are neither free nor in an area");
                }
                at = Math.max(at, e.getValue()[0]);
                prevEnd = e.getValue()[0];
                prevFree = isFree;
            }
            if (at != base + size) {
                errors.add("window bytes from 0x" + Long.toHexString(at) + " to its end are neither free nor in an area");
            }
            return errors;
        } finally {
            lock.unlock();
        }
    }

    private void addFreeLocked(Range r) {
        byStart.put(r.start, r);
        bySize.add(r);
        freeBytes += r.size();
    }

    private void removeFreeLocked(Range r) {
        byStart.remove(r.start);
        bySize.remove(r);
        freeBytes -= r.size();
    }
}
