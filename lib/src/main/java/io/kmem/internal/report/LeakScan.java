package io.kmem.internal.report;

import io.kmem.internal.dma.DmaDirect;
import io.kmem.internal.phys.FramePool;
import io.kmem.internal.phys.MemMap;
import io.kmem.internal.phys.PhysLayout;
import io.kmem.internal.slub.SlabAllocator;
import io.kmem.stats.LiveAllocation;
import io.kmem.stats.LiveAllocation.Kind;
import io.kmem.internal.vmalloc.VmArea;
import io.kmem.internal.vmalloc.Vmalloc;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * What a pool still has handed out, family by family: the kernel's kmemleak list and the
 * leak report of pool close.
 *
 * <ol>
 * <li>Slab objects: every cache's slabs, from the objects' state bytes (the slab layer).
 * <li>Blocks of the page allocator: mem_map walked in PFN order as {@link FrameOwnerScan}
 *     does; a block head with {@code PG_ALLOCATED} and {@code PG_LARGE_KMALLOC} is a large
 *     kmalloc, with neither {@code PG_SLAB} nor {@code PG_VMALLOC} a block of alloc_pages
 *     (but for dma_alloc_coherent's buffers, dma_pools' pages included, which the DMA layer
 *     lists). Slab and vmalloc frames are listed by their own families.
 * <li>The vmalloc window's busy areas: vmalloc, vmap, ioremap by their flags.
 * <li>DMA ({@link DmaDirect#liveAllocations}): coherent buffers, dma_pool blocks, streaming
 *     mappings.
 * </ol>
 * Nothing here runs on an allocation path; the records are read without the allocators'
 * locks but the slab layer's, so take the list at rest or accept a racing block's absence.
 */
public final class LeakScan {
    private LeakScan() {
    }

    /** What {@link #scan} found: the allocations listed, and how many of each family there are. */
    public record Result(List<LiveAllocation> listed, Map<Kind, Long> totals) {
    }

    /** Every live allocation, at most {@code cap} of each family listed, all counted. */
    public static Result scan(FramePool phys, SlabAllocator slab, Vmalloc vmalloc, DmaDirect dma, int cap) {
        Map<Kind, Long> totals = new EnumMap<>(Kind.class);
        Set<Long> coherent = dma == null ? Set.of() : dma.coherentBuffers();
        List<LiveAllocation> dmaLive = dma == null ? List.of() : dma.liveAllocations();
        long[] objects = {0};
        List<LiveAllocation> out = new ArrayList<>(slab.liveObjects(cap, objects));
        if (objects[0] > 0) {
            totals.put(Kind.SLAB_OBJECT, objects[0]);
        }
        MemMap memMap = phys.memMap();
        long[] pfns = phys.presentPfns();
        for (int i = 0; i < pfns.length; ) {
            long info = memMap.info(phys.pfnToIdx(pfns[i]));
            if ((info & MemMap.PG_ALLOCATED) == 0) {
                i++;
                continue;
            }
            int order = MemMap.order(info);
            long head = pfns[i];
            long bytes = PhysLayout.PAGE_SIZE << order;
            if ((info & MemMap.PG_LARGE_KMALLOC) != 0) {
                if (totals.merge(Kind.LARGE_KMALLOC, 1L, Long::sum) <= cap) {
                    out.add(new LiveAllocation(Kind.LARGE_KMALLOC, "kmalloc", "page allocator, order " + order,
                            phys.directAddress(head), bytes, null));
                }
            } else if ((info & (MemMap.PG_SLAB | MemMap.PG_VMALLOC)) == 0
                    && !coherent.contains(phys.directAddress(head))) {
                if (totals.merge(Kind.PAGES, 1L, Long::sum) <= cap) {
                    out.add(new LiveAllocation(Kind.PAGES, "alloc_pages", "page allocator, order " + order,
                            phys.directAddress(head), bytes, null));
                }
            }
            for (long k = 0; k < 1L << order && i < pfns.length && pfns[i] == head + k; k++) {
                i++;
            }
        }
        for (VmArea a : vmalloc.busyAreas()) {
            Kind kind = (a.flags() & VmArea.VM_IOREMAP) != 0 ? Kind.IOREMAP
                    : (a.flags() & VmArea.VM_MAP) != 0 ? Kind.VMAP : Kind.VMALLOC;
            if (totals.merge(kind, 1L, Long::sum) <= cap) {
                String owner = kind == Kind.IOREMAP ? String.format(Locale.ROOT, "phys 0x%x", a.physAddr())
                        : a.nrPages() + " pages";
                out.add(new LiveAllocation(kind, kind.name().toLowerCase(Locale.ROOT), owner, a.start(), a.size(),
                        "Allocated in " + a.caller()));
            }
        }
        for (LiveAllocation l : dmaLive) {
            if (totals.merge(l.kind(), 1L, Long::sum) <= cap) {
                out.add(l);
            }
        }
        return new Result(out, totals);
    }

    /**
     * The warning pool close logs: the count per family, each allocation listed, and for a
     * family with more than were listed, how many more.
     */
    public static String report(String pool, Result r) {
        long all = r.totals().values().stream().mapToLong(Long::longValue).sum();
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "kmemleak: pool '%s' closed with %d live"
                + " allocation(s); their memory goes back to the kernel with the pool:", pool, all));
        r.totals().forEach((k, n) -> sb.append(' ').append(k).append('=').append(n));
        for (LiveAllocation l : r.listed()) {
            sb.append('\n').append(l);
        }
        Map<Kind, Long> listed = new EnumMap<>(Kind.class);
        r.listed().forEach(l -> listed.merge(l.kind(), 1L, Long::sum));
        r.totals().forEach((k, n) -> {
            long shown = listed.getOrDefault(k, 0L);
            if (n > shown) {
                sb.append(String.format(Locale.ROOT, "%n... and %d more %s", n - shown, k));
            }
        });
        return sb.toString();
    }
}
