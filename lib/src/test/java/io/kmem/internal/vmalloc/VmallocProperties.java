package io.kmem.internal.vmalloc;

import static io.kmem.testing.PropertySupport.actionWhen;
import static io.kmem.testing.PropertySupport.require;
import static io.kmem.testing.PropertySupport.runAndClose;
import static io.kmem.gfp.Gfp.GFP_KERNEL;

import io.kmem.MemoryPool;
import io.kmem.VmStruct;
import io.kmem.stats.VmallocStats;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import net.jqwik.api.AfterFailureMode;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.state.Action;
import net.jqwik.api.state.ActionChain;
import net.jqwik.api.state.Transformer;

/**
 * vmalloc, vzalloc, vfree, vmap and vunmap against a model, on real frames (run as root):
 * jqwik {@link ActionChain}s checked step by step.
 *
 * <h2>Model</h2>
 * {@link Model#live}: every area the test holds, by address: its kind (vmalloc, vzalloc or
 * vmap), its size in pages, the tag written into it, and for a vmap the page handles it
 * maps (allocated from the page allocator for it, freed after its vunmap). The pool (64 MiB
 * of 4 KiB frames, growing up to 640 MiB) is built per try and closed after it. Sizes run
 * from one page to 256 MiB; at most one area of 64 MiB or more is live at a time.
 *
 * <h2>Labelled checks</h2>
 * Each failure message starts with the label of the check in brackets.
 * <ul>
 *   <li>On every area made: {@value #NOT_NULL}; {@value #PAGEMAP}, for every page:
 *       {@code vmalloc_to_pfn} equals the PFN pagemap reads for the area's address, and for
 *       a vmap the PFN of the page it was given; {@value #DIRECT_MAP}: a word written through
 *       the area is read through {@code phys_to_virt} of that PFN; {@value #ZEROED} for
 *       vzalloc (every byte); then the tag is written into every page.</li>
 *   <li>After every step ({@code withInvariant}): {@value #NO_OVERLAP} (areas and their guard
 *       pages, by the model's addresses and by {@code find_vm_area}'s sizes);
 *       {@value #GUARD}: the page after each area is not present in pagemap, without
 *       touching it; {@value #PATTERN} and {@value #PAGEMAP} on sampled pages of each area
 *       (all of an area of at most 64 pages; first, last and 62 spread between otherwise);
 *       {@value #CONSISTENT}: {@code checkVmalloc} empty, the report lists exactly the live
 *       areas.</li>
 *   <li>On every vfree and vunmap: {@value #PATTERN} over every page; after it, the area's
 *       pages are not present in pagemap; a vmap's pages keep the tag.</li>
 *   <li>At the end: {@value #AT_REST}: nothing listed, the window one free range, the page
 *       allocator consistent with every frame free.</li>
 * </ul>
 */
class VmallocProperties {
    private static final long MIB = 1L << 20;
    private static final int PAGE = 4096;
    private static final int BIG_PAGES = 16384;

    static final String NOT_NULL = "no NULL while the pool has room";
    static final String PAGEMAP = "vmalloc_to_pfn equals pagemap";
    static final String DIRECT_MAP = "a write through the area is read through phys_to_virt";
    static final String ZEROED = "vzalloc memory is zero";
    static final String NO_OVERLAP = "no two areas or guard pages overlap";
    static final String GUARD = "guard page not present";
    static final String PATTERN = "contents intact until vfree";
    static final String CONSISTENT = "checkVmalloc and vmallocinfo agree with the model";
    static final String AT_REST = "at rest after freeing everything";

    @Property(tries = 10, seed = "20251125", afterFailure = AfterFailureMode.RANDOM_SEED,
            edgeCases = EdgeCasesMode.NONE)
    void vmallocMatchesTheModel(@ForAll("chains") ActionChain<Model> chain) {
        chain.withInvariant(NO_OVERLAP, Model::checkNoOverlap)
                .withInvariant(GUARD, Model::checkGuards)
                .withInvariant(PATTERN, Model::checkSampled)
                .withInvariant(CONSISTENT, Model::checkConsistent);
        runAndClose(chain, Model::finish);
    }

    @Provide
    Arbitrary<ActionChain<Model>> chains() {
        return ActionChain.<Model>startWith(Model::new)
                .withAction(8, alloc(false))
                .withAction(3, alloc(true))
                .withAction(1, big())
                .withAction(6, Action.<Model>when(m -> m.count(Kind.VMAP) < m.live.size())
                        .describeAs("vfree").justMutate(m -> m.vfree(m.pick(false))))
                .withAction(3, vmap())
                .withAction(2, Action.<Model>when(m -> m.count(Kind.VMAP) > 0)
                        .describeAs("vunmap").justMutate(m -> m.vunmap(m.pick(true))))
                .withAction(1, Action.<Model>when(m -> !m.live.isEmpty()).describeAs("free everything")
                        .justMutate(Model::freeEverything))
                .withMaxTransformations(50);
    }

    /** Sizes in bytes: a few pages, up to 2 MiB, up to 8 MiB; not always a whole page. */
    static Arbitrary<Long> sizes() {
        return Arbitraries.frequencyOf(
                Tuple.of(8, Arbitraries.longs().between(1, 16L * PAGE)),
                Tuple.of(4, Arbitraries.longs().between(16L * PAGE + 1, 2 * MIB)),
                Tuple.of(2, Arbitraries.longs().between(2 * MIB, 8 * MIB)));
    }

    private static Action.Independent<Model> alloc(boolean zero) {
        return () -> sizes().map(size -> {
            String call = (zero ? "vzalloc(" : "vmalloc(") + size + ")";
            return Transformer.mutate(call, m -> m.alloc(size, zero ? Kind.VZALLOC : Kind.VMALLOC));
        });
    }

    /** 64 MiB or 256 MiB, when no such area is live. */
    private static Action.Independent<Model> big() {
        return actionWhen((Model m) -> !m.bigLive(),
                Arbitraries.of(64 * MIB, 256 * MIB).map(size -> Transformer.mutate("vmalloc(" + (size >> 20)
                        + " MiB)", m -> m.alloc(size, Kind.VMALLOC))));
    }

    /** vmap of 1..24 pages allocated for it, of orders 0..2, in a shuffled order. */
    private static Action.Independent<Model> vmap() {
        return () -> Arbitraries.integers().between(0, 2).list().ofMinSize(1).ofMaxSize(8)
                .map(orders -> Transformer.mutate("vmap(blocks of orders " + orders + ")", m -> m.vmap(orders)));
    }

    enum Kind { VMALLOC, VZALLOC, VMAP }

    record Area(long addr, int pages, Kind kind, long tag, long[] handles, long[] blocks, List<Integer> orders) {
        long end() {
            return addr + (long) pages * PAGE;
        }
    }

    static final class Model implements AutoCloseable {
        final MemoryPool pool = MemoryPool.builder().name("vmalloc-props").smallPages(64 * MIB)
                .maxSmallPages(640 * MIB).build();
        final TreeMap<Long, Area> live = new TreeMap<>();
        private long nextTag = 1;
        private int picks;


        long count(Kind kind) {
            return live.values().stream().filter(a -> a.kind == kind).count();
        }

        boolean bigLive() {
            return live.values().stream().anyMatch(a -> a.pages >= BIG_PAGES);
        }

        /** A live area picked by position (deterministic across runs), a vmap one or not. */
        Area pick(boolean vmap) {
            List<Area> of = live.values().stream().filter(a -> (a.kind == Kind.VMAP) == vmap).toList();
            return of.get(picks++ % of.size());
        }

        void alloc(long size, Kind kind) {
            long p = kind == Kind.VZALLOC ? pool.vzalloc(size) : pool.vmalloc(size);
            int pages = (int) ((size + PAGE - 1) / PAGE);
            require(NOT_NULL, p != 0, (kind == Kind.VZALLOC ? "vzalloc(" : "vmalloc(") + size + ") returned NULL; "
                    + pool.meminfo());
            require(NOT_NULL, p % PAGE == 0, "0x" + Long.toHexString(p) + " is not page-aligned");
            adopt(new Area(p, pages, kind, nextTag++, null, null, null));
        }

        void vmap(List<Integer> orders) {
            List<Long> handles = new ArrayList<>();
            long[] blocks = new long[orders.size()];
            for (int b = 0; b < blocks.length; b++) {
                int o = orders.get(b);
                long page = pool.alloc_pages(GFP_KERNEL, o);
                require(NOT_NULL, page != 0, "alloc_pages(GFP_KERNEL, " + o + ") for vmap returned NULL");
                blocks[b] = page;
                long pfn = pool.page_to_pfn(page);
                for (int i = 0; i < 1 << o; i++) {
                    handles.add(pool.pfn_to_page(pfn + i));
                }
            }
            long[] h = handles.stream().mapToLong(Long::longValue).toArray();
            for (int i = h.length - 1; i > 0; i -= 2) {
                long t = h[i];
                h[i] = h[i / 2];
                h[i / 2] = t;
            }
            long p = pool.vmap(h, h.length);
            require(NOT_NULL, p != 0, "vmap of " + h.length + " pages returned NULL");
            for (int i = 0; i < h.length; i++) {
                require(PAGEMAP, pool.vmalloc_to_page(p + (long) i * PAGE) == h[i], "vmalloc_to_page of page " + i
                        + " of the vmap at 0x" + Long.toHexString(p) + " is not the page given");
            }
            adopt(new Area(p, h.length, Kind.VMAP, nextTag++, h, blocks, orders));
        }

        /** Checks a new area page by page, then writes its tag into every page. */
        private void adopt(Area a) {
            Map.Entry<Long, Area> below = live.floorEntry(a.addr);
            require(NO_OVERLAP, below == null || below.getValue().end() + PAGE <= a.addr, "new area 0x"
                    + Long.toHexString(a.addr) + " overlaps the area or guard page of 0x"
                    + (below == null ? "" : Long.toHexString(below.getKey())));
            MemorySegment seg = pool.segment(a.addr, (long) a.pages * PAGE);
            for (int i = 0; i < a.pages; i++) {
                long off = (long) i * PAGE;
                long pfn = pool.vmalloc_to_pfn(a.addr + off);
                require(PAGEMAP, pfn == pool.pagemapPfn(a.addr + off), "page " + i + " of 0x" + Long.toHexString(a.addr)
                        + ": vmalloc_to_pfn 0x" + Long.toHexString(pfn) + ", pagemap 0x"
                        + Long.toHexString(pool.pagemapPfn(a.addr + off)));
                if (a.kind == Kind.VZALLOC) {
                    for (long w = 0; w < PAGE; w += 8) {
                        require(ZEROED, seg.get(ValueLayout.JAVA_LONG, off + w) == 0, "vzalloc 0x"
                                + Long.toHexString(a.addr) + " byte " + (off + w) + " is not zero");
                    }
                }
                seg.set(ValueLayout.JAVA_LONG, off, word(a, i));
                seg.set(ValueLayout.JAVA_LONG, off + PAGE - 8, ~word(a, i));
                if (i % 61 == 0 || i == a.pages - 1) {
                    MemorySegment direct = pool.segment(pool.phys_to_virt(pfn << 12), PAGE);
                    require(DIRECT_MAP, direct.get(ValueLayout.JAVA_LONG, 0) == word(a, i), "page " + i + " of 0x"
                            + Long.toHexString(a.addr) + " (pfn 0x" + Long.toHexString(pfn) + ")");
                }
            }
            live.put(a.addr, a);
        }

        static long word(Area a, int page) {
            return a.tag << 32 | page;
        }

        void vfree(Area a) {
            checkPages(a, allPages(a));
            pool.vfree(a.addr);
            gone(a);
        }

        void vunmap(Area a) {
            checkPages(a, allPages(a));
            pool.vunmap(a.addr);
            gone(a);
            for (int i = 0; i < a.pages; i++) {
                MemorySegment page = pool.segment(pool.page_address(a.handles[i]), PAGE);
                require(PATTERN, page.get(ValueLayout.JAVA_LONG, 0) == word(a, i), "page " + i + " of the vmap at 0x"
                        + Long.toHexString(a.addr) + " lost its contents at vunmap");
            }
            for (int b = 0; b < a.blocks.length; b++) {
                pool.__free_pages(a.blocks[b], a.orders.get(b));
            }
        }

        private void gone(Area a) {
            live.remove(a.addr);
            for (int i = 0; i < a.pages; i += Math.max(1, a.pages / 16)) {
                require(GUARD, pool.pagemapPfn(a.addr + (long) i * PAGE) == -1, "page " + i + " of the freed area 0x"
                        + Long.toHexString(a.addr) + " is still present");
            }
        }

        void freeEverything() {
            for (Area a : new ArrayList<>(live.values())) {
                if (a.kind == Kind.VMAP) {
                    vunmap(a);
                } else {
                    vfree(a);
                }
            }
        }

        static int[] allPages(Area a) {
            int[] p = new int[a.pages];
            for (int i = 0; i < p.length; i++) {
                p[i] = i;
            }
            return p;
        }

        static int[] sampled(Area a) {
            if (a.pages <= 64) {
                return allPages(a);
            }
            int[] p = new int[64];
            for (int i = 0; i < 64; i++) {
                p[i] = (int) ((long) i * (a.pages - 1) / 63);
            }
            return p;
        }

        /** Tag intact and vmalloc_to_pfn equal to pagemap on the given pages of {@code a}. */
        private void checkPages(Area a, int[] pages) {
            MemorySegment seg = pool.segment(a.addr, (long) a.pages * PAGE);
            for (int i : pages) {
                long off = (long) i * PAGE;
                long first = seg.get(ValueLayout.JAVA_LONG, off);
                long last = seg.get(ValueLayout.JAVA_LONG, off + PAGE - 8);
                if (first != word(a, i) || last != ~word(a, i)) {
                    require(PATTERN, false, "page " + i + " of 0x" + Long.toHexString(a.addr) + " (" + a.kind + ", "
                            + a.pages + " pages, pfn 0x" + Long.toHexString(pool.vmalloc_to_pfn(a.addr + off))
                            + ", pagemap 0x" + Long.toHexString(pool.pagemapPfn(a.addr + off)) + ", page handle 0x"
                            + Long.toHexString(pool.vmalloc_to_page(a.addr + off)) + "): first word 0x"
                            + Long.toHexString(first) + ", last 0x" + Long.toHexString(last) + ", expected 0x"
                            + Long.toHexString(word(a, i)) + whose(first));
                }
                require(PAGEMAP, pool.vmalloc_to_pfn(a.addr + off) == pool.pagemapPfn(a.addr + off), "page " + i
                        + " of 0x" + Long.toHexString(a.addr) + " (" + a.kind + ", " + a.pages
                        + " pages): vmalloc_to_pfn 0x" + Long.toHexString(pool.vmalloc_to_pfn(a.addr + off))
                        + ", pagemap 0x" + Long.toHexString(pool.pagemapPfn(a.addr + off)) + "; " + pool.pageStats());
            }
        }

        /** Which live area's tag {@code w} is, if any: for the failure message. */
        private String whose(long w) {
            for (Area b : live.values()) {
                if (b.tag == w >>> 32) {
                    long at = b.addr + (long) (int) w * PAGE;
                    return " (the tag of page " + (int) w + " of the " + b.kind + " at 0x" + Long.toHexString(b.addr)
                            + ", pfn 0x" + Long.toHexString(pool.vmalloc_to_pfn(at)) + ", page handle 0x"
                            + Long.toHexString(pool.vmalloc_to_page(at)) + "); " + pool.pageStats();
                }
            }
            return w >>> 32 != 0 && w >>> 32 < nextTag ? " (the tag of area #" + (w >>> 32) + ", freed)" : "";
        }

        void checkSampled() {
            for (Area a : live.values()) {
                checkPages(a, sampled(a));
            }
        }

        void checkNoOverlap() {
            long end = 0;
            for (Area a : live.values()) {
                VmStruct vm = pool.find_vm_area(a.addr);
                require(NO_OVERLAP, vm != null && vm.addr() == a.addr && vm.size() == (long) (a.pages + 1) * PAGE,
                        "find_vm_area(0x" + Long.toHexString(a.addr) + ") = " + vm + ", expected " + (a.pages + 1)
                                + " pages with the guard");
                require(NO_OVERLAP, a.addr >= end, "area 0x" + Long.toHexString(a.addr) + " starts inside the one"
                        + " before it or its guard page (which ends at 0x" + Long.toHexString(end) + ")");
                end = a.end() + PAGE;
            }
        }

        void checkGuards() {
            for (Area a : live.values()) {
                require(GUARD, pool.pagemapPfn(a.end()) == -1, "the page after 0x" + Long.toHexString(a.addr)
                        + " is present");
                require(GUARD, pool.vmalloc_to_page(a.end()) == 0, "vmalloc_to_page of the guard page after 0x"
                        + Long.toHexString(a.addr) + " is not NULL");
            }
        }

        void checkConsistent() {
            List<String> errors = pool.checkVmalloc();
            require(CONSISTENT, errors.isEmpty(), errors.toString());
            String[] lines = pool.vmallocinfo().lines().toArray(String[]::new);
            require(CONSISTENT, lines.length == live.size(), lines.length + " lines in vmallocinfo for " + live.size()
                    + " areas");
            int i = 0;
            for (Area a : live.values()) {
                String l = lines[i++];
                require(CONSISTENT, Long.parseUnsignedLong(l.substring(2, 18), 16) == a.addr
                        && l.endsWith(" pages=" + a.pages + (a.kind == Kind.VMAP ? " vmap" : " vmalloc")),
                        "vmallocinfo line '" + l + "' for the " + a.kind + " of " + a.pages + " pages at 0x"
                                + Long.toHexString(a.addr));
            }
        }

        void finish() {
            checkSampled();
            freeEverything();
            require(AT_REST, pool.vmallocinfo().isEmpty(), pool.vmallocinfo());
            require(AT_REST, pool.checkVmalloc().isEmpty(), pool.checkVmalloc().toString());
            VmallocStats st = pool.vmallocStats();
            require(AT_REST, st.usedBytes() == 0 && st.largestFreeBytes() == st.windowBytes() && st.pagesMapped() == 0,
                    st.toString());
            require(AT_REST, pool.checkPageAllocator().isEmpty(), pool.checkPageAllocator().toString());
            long free = 0;
            long managed = 0;
            for (var z : pool.zoneStats()) {
                free += z.free() + z.cached();
                managed += z.managed();
            }
            require(AT_REST, free == managed, free + " frames free of " + managed);
        }

        @Override
        public void close() {
            pool.close();
        }

        @Override
        public String toString() {
            return live.size() + " areas";
        }
    }
}
