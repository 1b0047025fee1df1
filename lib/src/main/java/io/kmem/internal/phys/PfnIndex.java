package io.kmem.internal.phys;

/**
 * PFN to frame index: the pool's frames are scattered over the host's physical memory, so
 * mem_map is indexed by frame index and this table finds a frame by PFN. It is the
 * kernel's SPARSEMEM idea: the host's PFN span cut into sections of 512 frames (2 MiB of
 * physical memory: a shmem folio or a hugepage), and a section array exists only where the
 * pool holds a frame.
 *
 * <pre>
 *  pfn - basePfn:  | section: (pfn - basePfn) >>> 9 | slot: low 9 bits |
 *  sections[]:     [ null | int[512] | null | null | int[512] | ... ]   one per host section
 *  int[512]:       index + 1 of the frame at each PFN of the section, 0 for none
 * </pre>
 *
 * A lookup is two array loads and no hashing, so a free finds its frame in a few
 * nanoseconds whatever the PFN. Cost: 4 bytes per host section (the top array: 50 KiB for
 * 24 GiB of host memory) plus 2064 bytes per populated section. A pool of 4 KiB frames that
 * arrive in 2 MiB folios, or of hugepages, pays about 4 bytes per frame; frames scattered one
 * per section pay up to 2 KiB each, bounded in all by 1/1024 of the host's memory.
 *
 * <p>Concurrency: writers (pool growth and release) hold the pool's growth lock. Readers
 * take no lock: a thread only looks up a frame it learned of through the allocator, which
 * published it (zone lock or growth lock) after the entry was written.
 */
final class PfnIndex {
    static final int SECTION_SHIFT = 9;
    static final int SECTION_FRAMES = 1 << SECTION_SHIFT;
    private static final int SECTION_BYTES = 16 + 4 * SECTION_FRAMES;

    private final long basePfn;
    private final long span;
    private final int[][] sections;
    private int populated;
    private int live;

    PfnIndex(long basePfn, long limitPfn) {
        this.basePfn = basePfn;
        this.span = limitPfn - basePfn;
        long n = (span + SECTION_FRAMES - 1) >>> SECTION_SHIFT;
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("PFN span of " + span + " frames is too large for the index");
        }
        this.sections = new int[(int) n][];
    }

    /** Frame index of {@code pfn}, or -1 when the pool holds no such frame. */
    long find(long pfn) {
        long off = pfn - basePfn;
        if (Long.compareUnsigned(off, span) >= 0) {
            return -1;
        }
        int[] sec = sections[(int) (off >>> SECTION_SHIFT)];
        return sec == null ? -1 : sec[(int) off & SECTION_FRAMES - 1] - 1L;
    }

    /** Adds the frame {@code idx} at {@code pfn}. Caller holds the growth lock. */
    void insert(long pfn, long idx) {
        long off = pfn - basePfn;
        if (Long.compareUnsigned(off, span) >= 0) {
            throw new IllegalArgumentException("pfn 0x" + Long.toHexString(pfn) + " is outside the index's span");
        }
        int s = (int) (off >>> SECTION_SHIFT);
        int[] sec = sections[s];
        if (sec == null) {
            sec = new int[SECTION_FRAMES];
            sections[s] = sec;
            populated++;
        }
        int slot = (int) off & SECTION_FRAMES - 1;
        if (sec[slot] == 0) {
            live++;
        }
        sec[slot] = (int) idx + 1;
    }

    /** Removes the frame at {@code pfn}; an emptied section is dropped. Caller holds the growth lock. */
    void remove(long pfn) {
        long off = pfn - basePfn;
        if (Long.compareUnsigned(off, span) >= 0) {
            return;
        }
        int s = (int) (off >>> SECTION_SHIFT);
        int[] sec = sections[s];
        if (sec == null || sec[(int) off & SECTION_FRAMES - 1] == 0) {
            return;
        }
        sec[(int) off & SECTION_FRAMES - 1] = 0;
        live--;
        for (int v : sec) {
            if (v != 0) {
                return;
            }
        }
        sections[s] = null;
        populated--;
    }

    /** Bytes the index occupies, for the metadata report. */
    long bytes() {
        return 16L + 4L * sections.length + (long) SECTION_BYTES * populated;
    }

    int size() {
        return live;
    }
}
