package io.kmem.phys;

/**
 * PFN to frame index: the pool's frames are scattered over the host's physical memory, so
 * mem_map is indexed by frame index and this table finds a frame by PFN in O(1) expected.
 *
 * <p>Open addressing with linear probing over an {@code int[]} whose slots hold
 * {@code index + 1} (0: empty, -1: a removed entry, still probed past). The key is not
 * stored: a probe compares the PFN in the candidate's mem_map record. The table is sized
 * for a load of at most 0.8 by fast range reduction (no power-of-two rounding), so it costs
 * at most about 5 bytes per frame.
 *
 * <p>Concurrency: writers (pool growth and release) hold the pool's growth lock. Readers
 * take no lock: an insert writes the record before its slot, a resize publishes a complete
 * new table through a volatile field, and a removal leaves a tombstone, so a reader sees
 * either the frame or no frame, never another frame's index.
 */
final class PfnIndex {
    private static final int EMPTY = 0;
    private static final int REMOVED = -1;
    private static final long GOLDEN = 0x9E3779B97F4A7C15L;

    private final MemMap memMap;
    private volatile int[] table;
    private int used;
    private int live;

    PfnIndex(MemMap memMap, int expected) {
        this.memMap = memMap;
        this.table = new int[capacityFor(expected)];
    }

    /** Frame index of {@code pfn}, or -1 when the pool holds no such frame. */
    long find(long pfn) {
        int[] t = table;
        int n = t.length;
        int i = slot(pfn, n);
        for (int probes = 0; probes < n; probes++) {
            int v = t[i];
            if (v == EMPTY) {
                return -1;
            }
            if (v != REMOVED) {
                long info = memMap.info(v - 1);
                if (MemMap.pfn(info) == pfn && (info & MemMap.PG_PRESENT) != 0) {
                    return v - 1;
                }
            }
            if (++i == n) {
                i = 0;
            }
        }
        return -1;
    }

    /** Makes room for {@code frames} more inserts with one rebuild. Caller holds the growth lock. */
    void reserve(int frames) {
        if ((used + (long) frames) * 5 > table.length * 4L) {
            rebuild(capacityFor(live + frames));
        }
    }

    /** Adds a frame whose mem_map record already holds {@code pfn}. Caller holds the growth lock. */
    void insert(long pfn, long idx) {
        if ((used + 1L) * 5 > table.length * 4L) {
            rebuild(capacityFor(live + 1 + live / 2));
        }
        int[] t = table;
        int i = slot(pfn, t.length);
        while (t[i] != EMPTY) {
            if (++i == t.length) {
                i = 0;
            }
        }
        t[i] = (int) idx + 1;
        used++;
        live++;
    }

    /** Removes the frame at {@code pfn}. Caller holds the growth lock. */
    void remove(long pfn) {
        int[] t = table;
        int i = slot(pfn, t.length);
        for (int probes = 0; probes < t.length; probes++) {
            int v = t[i];
            if (v == EMPTY) {
                return;
            }
            if (v != REMOVED && MemMap.pfn(memMap.info(v - 1)) == pfn) {
                t[i] = REMOVED;
                live--;
                return;
            }
            if (++i == t.length) {
                i = 0;
            }
        }
    }

    /** Bytes the table occupies, for the metadata report. */
    long bytes() {
        return 16L + 4L * table.length;
    }

    int size() {
        return live;
    }

    private void rebuild(int capacity) {
        int[] old = table;
        int[] t = new int[capacity];
        for (int v : old) {
            if (v > 0) {
                int i = slot(MemMap.pfn(memMap.info(v - 1)), capacity);
                while (t[i] != EMPTY) {
                    if (++i == capacity) {
                        i = 0;
                    }
                }
                t[i] = v;
            }
        }
        used = live;
        table = t;
    }

    private static int capacityFor(int frames) {
        return Math.max(64, (int) Math.min(Integer.MAX_VALUE - 8, frames * 5L / 4 + 1));
    }

    private static int slot(long pfn, int n) {
        return (int) Math.unsignedMultiplyHigh(pfn * GOLDEN, n);
    }
}
