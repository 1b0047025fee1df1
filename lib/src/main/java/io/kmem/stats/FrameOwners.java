package io.kmem.stats;

import io.kmem.gfp.FrameKind;
import io.kmem.gfp.ZoneType;
import java.util.Arrays;
import java.util.List;

/**
 * Who owns each frame of a pool, read from mem_map at one moment: the data behind
 * {@code kmem map}. Read-only; the snapshot holds no reference to the pool.
 *
 * <p>The owners, taken from the head record of each block in mem_map
 * ({@code io.kmem.internal.report.FrameOwnerScan} says how): FREE in a zone's free lists, PCP in a
 * thread's page cache, SLAB a slab of {@link #cache}, LARGE_KMALLOC kmalloc above 8 KiB,
 * VMALLOC a block behind a vmalloc area, PAGES __get_free_pages, alloc_pages and vmap'ed
 * pages, RESERVED held back by a DMA mask, OTHER taken out of the buddy at that moment.
 */
public final class FrameOwners {
    /** What a frame is used for; see the class comment. */
    public enum Owner {
        /** In a zone's free lists. */
        FREE("free"),
        /** In a thread's page cache: free, but not in the free lists. */
        PCP("per-thread page cache"),
        /** A block {@code alloc_pages} or {@code __get_free_pages} handed out, or vmap'ed pages. */
        PAGES("page allocator block"),
        /** A slab of a cache ({@link FrameOwners#cache(int)} names it). */
        SLAB("slab"),
        /** kmalloc above 8 KiB, straight from the page allocator. */
        LARGE_KMALLOC("large kmalloc"),
        /** Behind a vmalloc area. */
        VMALLOC("vmalloc"),
        /** Held back by the pool's DMA mask. */
        RESERVED("reserved"),
        /** Taken out of the buddy at the moment of the snapshot. */
        OTHER("in transit");

        private final String label;

        Owner(String label) {
            this.label = label;
        }

        /**
         * A short label for legends.
         *
         * @return the label, e.g. "per-thread page cache"
         */
        public String label() {
            return label;
        }
    }

    /** The bit of a {@code zone} byte that marks a frame of a hugetlb source. */
    public static final int HUGETLB = 0x80;
    private static final Owner[] OWNERS = Owner.values();

    private final long[] pfns;
    private final byte[] owner;
    private final byte[] order;
    /** Zone ordinal, plus {@link #HUGETLB}. */
    private final byte[] zone;
    private final short[] cache;
    private final List<String> caches;

    /**
     * A snapshot, as {@code MemoryPool.frameOwners()} takes it; per frame {@code i}, in PFN
     * order: {@code owner[i]} an {@link Owner} ordinal, {@code order[i]} its block's order,
     * {@code zone[i]} a {@link ZoneType} ordinal plus {@link #HUGETLB}, {@code cache[i]} an
     * index into {@code caches} for a SLAB frame (else -1). The arrays are kept, not copied.
     *
     * @param pfns   the frames' PFNs, sorted
     * @param owner  per frame, an {@link Owner} ordinal
     * @param order  per frame, the order of its block
     * @param zone   per frame, a {@link ZoneType} ordinal plus {@link #HUGETLB} for a hugetlb frame
     * @param cache  per frame, an index into {@code caches} for a SLAB frame, else -1
     * @param caches the names of the caches that own slabs
     * @throws IllegalArgumentException when the arrays differ in length
     */
    public FrameOwners(long[] pfns, byte[] owner, byte[] order, byte[] zone, short[] cache, List<String> caches) {
        if (owner.length != pfns.length || order.length != pfns.length || zone.length != pfns.length
                || cache.length != pfns.length) {
            throw new IllegalArgumentException("FrameOwners: one entry per frame expected in every array");
        }
        this.pfns = pfns;
        this.owner = owner;
        this.order = order;
        this.zone = zone;
        this.cache = cache;
        this.caches = caches;
    }

    /**
     * Frames in the snapshot.
     *
     * @return how many frames the pool held at the snapshot
     */
    public int frames() {
        return pfns.length;
    }

    /**
     * PFN of frame {@code i}; frames are in PFN order.
     *
     * @param i the frame's position in the snapshot, 0 to {@code frames() - 1}
     * @return its PFN (frame index in an unprivileged pool)
     */
    public long pfn(int i) {
        return pfns[i];
    }

    /**
     * Who owns frame {@code i}.
     *
     * @param i the frame's position in the snapshot
     * @return its owner
     */
    public Owner owner(int i) {
        return OWNERS[owner[i]];
    }

    /**
     * Order of the block frame {@code i} belongs to (0 for RESERVED and OTHER).
     *
     * @param i the frame's position in the snapshot
     * @return the block's order, 0 to {@code MAX_ORDER}
     */
    public int order(int i) {
        return order[i];
    }

    /**
     * The zone of frame {@code i}.
     *
     * @param i the frame's position in the snapshot
     * @return its zone, from its physical address
     */
    public ZoneType zone(int i) {
        return ZoneType.of(zone[i] & 0x3);
    }

    /**
     * Whether frame {@code i} comes from a hugetlb source (2 MiB or 1 GiB pages).
     *
     * @param i the frame's position in the snapshot
     * @return true for a hugetlb frame, false for a 4 KiB shmem frame
     */
    public boolean hugetlb(int i) {
        return (zone[i] & HUGETLB) != 0;
    }

    /**
     * The slab cache of a SLAB frame, null for any other.
     *
     * @param i the frame's position in the snapshot
     * @return the cache's name, or null when the frame is not a slab's
     */
    public String cache(int i) {
        return cache[i] < 0 || owner[i] != Owner.SLAB.ordinal() ? null : caches.get(cache[i]);
    }

    /**
     * Every cache that owns a slab in the snapshot, in the order first met.
     *
     * @return the caches' names
     */
    public List<String> caches() {
        return caches;
    }

    /**
     * Index of {@code pfn} in the snapshot, or -1 when the pool does not hold it.
     *
     * @param pfn a PFN
     * @return its position in the snapshot, or -1
     */
    public int indexOf(long pfn) {
        int i = Arrays.binarySearch(pfns, pfn);
        return i < 0 ? -1 : i;
    }

    /**
     * Frames owned by {@code o}.
     *
     * @param o an owner
     * @return how many frames it owns in the snapshot
     */
    public long count(Owner o) {
        long c = 0;
        for (byte b : owner) {
            c += b == o.ordinal() ? 1 : 0;
        }
        return c;
    }

    /**
     * Frames of hugetlb sources (the rest are {@link FrameKind#SMALL_4K}).
     *
     * @return how many 4 KiB frames of the snapshot are parts of hugetlb pages
     */
    public long hugetlbFrames() {
        long c = 0;
        for (byte z : zone) {
            c += (z & HUGETLB) != 0 ? 1 : 0;
        }
        return c;
    }
}
