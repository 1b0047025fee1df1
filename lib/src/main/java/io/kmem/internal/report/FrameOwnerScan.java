package io.kmem.internal.report;

import io.kmem.internal.phys.FramePool;
import io.kmem.internal.phys.MemMap;
import io.kmem.internal.slub.SlabAllocator;
import io.kmem.stats.FrameOwners;
import io.kmem.stats.FrameOwners.Owner;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Takes a {@link FrameOwners} snapshot from mem_map.
 *
 * <p>How a frame's owner is found: frames are walked in PFN order. mem_map keeps state only
 * in the head record of a block ({@code PG_BUDDY}, {@code PG_PCP} or {@code PG_ALLOCATED},
 * with the order), so a head decides the owner of all 2^order frames of its block:
 * <pre>
 *   head flags                        owner           (order: the block's)
 *   PG_BUDDY                          FREE            free in a zone's free_area[order]
 *   PG_PCP                            PCP             free in a thread's page cache
 *   PG_ALLOCATED | PG_SLAB            SLAB            a slab of {@link FrameOwners#cache}
 *   PG_ALLOCATED | PG_LARGE_KMALLOC   LARGE_KMALLOC   kmalloc above 8 KiB
 *   PG_ALLOCATED | PG_VMALLOC         VMALLOC         a block behind a vmalloc area
 *   PG_ALLOCATED                      PAGES           __get_free_pages, alloc_pages, vmap'ed pages
 *   PG_RESERVED                       RESERVED        held back (DMA mask filter)
 *   no state, in no block             OTHER           taken out of the buddy right now
 * </pre>
 * The records are read without the allocators' locks: take the snapshot at rest (no other
 * thread allocating or freeing), or accept that blocks changing meanwhile may show as OTHER.
 */
public final class FrameOwnerScan {
    private FrameOwnerScan() {
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
            zone[i] = zoneByte(info);
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
                zone[i] = zoneByte(kinfo);
            }
        }
        return new FrameOwners(pfns, owner, order, zone, cache, List.copyOf(caches));
    }

    private static byte zoneByte(long info) {
        return (byte) (MemMap.zone(info) | ((info & MemMap.PG_HUGETLB) != 0 ? FrameOwners.HUGETLB : 0));
    }
}
