package io.kmem.report;

import io.kmem.gfp.FrameKind;
import io.kmem.phys.FramePool;
import io.kmem.phys.MemMap;
import io.kmem.gfp.ZoneType;
import io.kmem.slub.SlabAllocator;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Who owns each frame of a pool, read from mem_map at one moment: the data behind
 * {@code kmem map}. Read-only; the snapshot holds no reference to the pool.
 *
 * <p>How a frame's owner is found: frames are walked in PFN order. mem_map keeps state only
 * in the head record of a block ({@code PG_BUDDY}, {@code PG_PCP} or {@code PG_ALLOCATED},
 * with the order), so a head decides the owner of all 2^order frames of its block:
 * <pre>
 *   head flags                        owner           (order: the block's)
 *   PG_BUDDY                          FREE            free in a zone's free_area[order]
 *   PG_PCP                            PCP             free in a thread's page cache
 *   PG_ALLOCATED | PG_SLAB            SLAB            a slab of {@link #cache}
 *   PG_ALLOCATED | PG_LARGE_KMALLOC   LARGE_KMALLOC   kmalloc above 8 KiB
 *   PG_ALLOCATED | PG_VMALLOC         VMALLOC         a block behind a vmalloc area
 *   PG_ALLOCATED                      PAGES           __get_free_pages, alloc_pages, vmap'ed pages
 *   PG_RESERVED                       RESERVED        held back (DMA mask filter)
 *   no state, in no block             OTHER           taken out of the buddy right now
 * </pre>
 * The records are read without the allocators' locks: take the snapshot at rest (no other
 * thread allocating or freeing), or accept that blocks changing meanwhile may show as OTHER.
 */
public final class FrameOwners {
    /** What a frame is used for; see the class comment for how each is recognised. */
    public enum Owner {
        FREE("free"), PCP("per-thread page cache"), PAGES("page allocator block"), SLAB("slab"),
        LARGE_KMALLOC("large kmalloc"), VMALLOC("vmalloc"), RESERVED("reserved"), OTHER("in transit");

        private final String label;

        Owner(String label) {
            this.label = label;
        }

        /** A short label for legends. */
        public String label() {
            return label;
        }
    }

    private static final Owner[] OWNERS = Owner.values();
    private static final int HUGETLB = 0x80;

    private final long[] pfns;
    private final byte[] owner;
    private final byte[] order;
    /** Zone ordinal, plus {@link #HUGETLB}. */
    private final byte[] zone;
    private final short[] cache;
    private final List<String> caches;

    private FrameOwners(long[] pfns, byte[] owner, byte[] order, byte[] zone, short[] cache, List<String> caches) {
        this.pfns = pfns;
        this.owner = owner;
        this.order = order;
        this.zone = zone;
        this.cache = cache;
        this.caches = caches;
    }

    /** Reads every frame's owner from mem_map (and, for slabs, the cache from the slab layer). */
    public static FrameOwners snapshot(FramePool phys, SlabAllocator slab) {
        MemMap memMap = phys.memMap();
        long[] pfns = phys.presentPfns();
        int n = pfns.length;
        byte[] owner = new byte[n];
        byte[] order = new byte[n];
        byte[] zone = new byte[n];
        short[] cache = new short[n];
        List<String> caches = new ArrayList<>();
        Map<String, Short> cacheIds = new HashMap<>();
        Arrays.fill(owner, (byte) Owner.OTHER.ordinal());
        for (int i = 0; i < n; ) {
            long idx = phys.pfnToIdx(pfns[i]);
            long info = memMap.info(idx);
            zone[i] = (byte) (MemMap.zone(info) | ((info & MemMap.PG_HUGETLB) != 0 ? HUGETLB : 0));
            Owner o;
            String slabCache = null;
            if ((info & MemMap.PG_BUDDY) != 0) {
                o = Owner.FREE;
            } else if ((info & MemMap.PG_PCP) != 0) {
                o = Owner.PCP;
            } else if ((info & MemMap.PG_ALLOCATED) != 0) {
                if ((info & MemMap.PG_SLAB) != 0) {
                    o = Owner.SLAB;
                    slabCache = slab.cacheOf(phys.directAddress(pfns[i]));
                } else if ((info & MemMap.PG_LARGE_KMALLOC) != 0) {
                    o = Owner.LARGE_KMALLOC;
                } else if ((info & MemMap.PG_VMALLOC) != 0) {
                    o = Owner.VMALLOC;
                } else {
                    o = Owner.PAGES;
                }
            } else {
                owner[i] = (byte) ((info & MemMap.PG_RESERVED) != 0 ? Owner.RESERVED : Owner.OTHER).ordinal();
                i++;
                continue;
            }
            short c = -1;
            if (slabCache != null) {
                c = cacheIds.computeIfAbsent(slabCache, k -> {
                    caches.add(k);
                    return (short) (caches.size() - 1);
                });
            }
            int blockOrder = MemMap.order(info);
            long head = pfns[i];
            for (long k = 0; k < 1L << blockOrder && i < n && pfns[i] == head + k; k++, i++) {
                long kinfo = k == 0 ? info : memMap.info(phys.pfnToIdx(pfns[i]));
                owner[i] = (byte) o.ordinal();
                order[i] = (byte) blockOrder;
                cache[i] = c;
                zone[i] = (byte) (MemMap.zone(kinfo) | ((kinfo & MemMap.PG_HUGETLB) != 0 ? HUGETLB : 0));
            }
        }
        return new FrameOwners(pfns, owner, order, zone, cache, List.copyOf(caches));
    }

    /** Frames in the snapshot. */
    public int frames() {
        return pfns.length;
    }

    /** PFN of frame {@code i}; frames are in PFN order. */
    public long pfn(int i) {
        return pfns[i];
    }

    public Owner owner(int i) {
        return OWNERS[owner[i]];
    }

    /** Order of the block frame {@code i} belongs to (0 for RESERVED and OTHER). */
    public int order(int i) {
        return order[i];
    }

    public ZoneType zone(int i) {
        return ZoneType.of(zone[i] & 0x3);
    }

    /** True when the frame comes from a hugetlb source (2 MiB or 1 GiB pages). */
    public boolean hugetlb(int i) {
        return (zone[i] & HUGETLB) != 0;
    }

    /** The slab cache of a SLAB frame, null for any other. */
    public String cache(int i) {
        return cache[i] < 0 || owner[i] != Owner.SLAB.ordinal() ? null : caches.get(cache[i]);
    }

    /** Every cache that owns a slab in the snapshot, in the order first met. */
    public List<String> caches() {
        return caches;
    }

    /** Index of {@code pfn} in the snapshot, or -1 when the pool does not hold it. */
    public int indexOf(long pfn) {
        int i = Arrays.binarySearch(pfns, pfn);
        return i < 0 ? -1 : i;
    }

    /** Frames owned by {@code o}. */
    public long count(Owner o) {
        long c = 0;
        for (byte b : owner) {
            c += b == o.ordinal() ? 1 : 0;
        }
        return c;
    }

    /** Frames of hugetlb sources (the rest are {@link FrameKind#SMALL_4K}). */
    public long hugetlbFrames() {
        long c = 0;
        for (byte z : zone) {
            c += (z & HUGETLB) != 0 ? 1 : 0;
        }
        return c;
    }
}
