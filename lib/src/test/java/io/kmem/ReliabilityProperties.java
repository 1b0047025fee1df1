package io.kmem;

import static io.kmem.PropertySupport.require;
import static io.kmem.PropertySupport.runAndClose;
import static io.kmem.gfp.Gfp.GFP_ATOMIC;
import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static io.kmem.gfp.Gfp.GFP_NOWAIT;
import static io.kmem.gfp.Gfp.__GFP_NORETRY;
import static io.kmem.gfp.Gfp.__GFP_NOWARN;
import static io.kmem.gfp.Gfp.__GFP_ZERO;

import io.kmem.stats.SlabCacheStats;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import net.jqwik.api.AfterFailureMode;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.state.Action;
import net.jqwik.api.state.ActionChain;
import net.jqwik.api.state.Transformer;

/**
 * Every allocator at once on one pool, against one model: jqwik {@link ActionChain}s whose
 * actions are bursts of allocator calls (kmalloc, kzalloc, kmem_cache_alloc on two caches,
 * pages of every order 0..10 under GFP_KERNEL (with {@code __GFP_NORETRY} above order 3, as
 * drivers ask for costly orders), GFP_ATOMIC and GFP_NOWAIT, vmalloc, vzalloc,
 * vmap, dma_pool blocks, coherent buffers and streaming mappings on a device, and the matching
 * frees in random order), each burst driven by a seed the action
 * carries, so that a failing chain replays exactly. A CI run makes more than a million
 * allocator calls ({@link #CALLS} counts them and the run prints the total); {@code make soak}
 * runs the same model for a given time ({@link Soak}).
 *
 * <h2>Model</h2>
 * {@link Model#direct}: every live object of the direct map (kmalloc, cache objects, page
 * blocks, the pages lent to vmap areas), by address, with the bytes it covers and a tag;
 * {@link Model#areas}: every live vmalloc or vmap area. Each object carries its tag in its
 * first and last word (whole pages: in every page's first word).
 *
 * <h2>Labelled checks</h2>
 * <ul>
 *   <li>On every object handed out: {@value #NOT_NULL} (GFP_KERNEL never fails up to order 3,
 *       the kernel's costly order: the pool may grow to 512 MiB and the model keeps well under
 *       it; above it, contiguity is not promised, as in the kernel); {@value #NO_OVERLAP} with its
 *       neighbours in the direct map (or the window); {@value #ALIGNED} (page blocks to their
 *       size in PFN space, power-of-two kmallocs to their size, caches to their alignment);
 *       {@value #ZEROED} for kzalloc and {@code __GFP_ZERO}; {@value #PHYSICAL} on one
 *       allocation in 8: every page of the object is where pagemap says.</li>
 *   <li>On every free: {@value #INTACT}, the tags where they were written.</li>
 *   <li>After every burst: {@value #CONSISTENT} (the buddy's own check, validateSlabs and
 *       no SLUB report, checkVmalloc), {@value #COUNTS} (each test cache's active objects
 *       equal the model's), {@value #INTACT} on 64 live objects.</li>
 *   <li>At the end: {@value #AT_REST}: everything freed, every frame accounted for (free in
 *       the buddy or the per-thread caches, or held by a slab: no frame lost), the window
 *       empty.</li>
 * </ul>
 */
public class ReliabilityProperties {
    static final long MIB = 1L << 20;
    static final int PAGE = 4096;
    /** Allocator calls made by every chain of this JVM (allocations and frees). */
    public static final long[] CALLS = new long[1];
    /** The kernel's PAGE_ALLOC_COSTLY_ORDER: above it, GFP_KERNEL may fail (contiguity is not promised). */
    static final int COSTLY_ORDER = 3;

    static final String NOT_NULL = "GFP_KERNEL does not fail while the pool can grow";
    static final String NO_OVERLAP = "no two live objects overlap";
    static final String ALIGNED = "aligned";
    static final String ZEROED = "zeroed allocations are zero";
    static final String PHYSICAL = "physically where pagemap says";
    static final String INTACT = "contents intact until free";
    static final String CONSISTENT = "allocators consistent";
    static final String COUNTS = "cache counters equal the model";
    static final String AT_REST = "at rest: every frame accounted for";

    @Property(tries = 18, seed = "20251126", afterFailure = AfterFailureMode.RANDOM_SEED,
            edgeCases = EdgeCasesMode.NONE)
    void everyAllocatorAtOnceMatchesTheModel(@ForAll("chains") ActionChain<Model> chain) {
        chain.withInvariant(CONSISTENT, Model::checkConsistent)
                .withInvariant(COUNTS, Model::checkCounts)
                .withInvariant(INTACT, Model::checkSample);
        runAndClose(chain, Model::finish);
    }

    @AfterContainer
    static void report() {
        System.out.println("ReliabilityProperties: " + CALLS[0] + " allocator calls in all chains");
    }

    @Provide
    Arbitrary<ActionChain<Model>> chains() {
        return ActionChain.<Model>startWith(Model::new)
                .withAction(6, burst("kmalloc burst", Model::kmallocBurst))
                .withAction(4, burst("kmem_cache burst", Model::cacheBurst))
                .withAction(4, burst("page burst", Model::pageBurst))
                .withAction(2, burst("vmalloc burst", Model::vmallocBurst))
                .withAction(1, burst("vmap burst", Model::vmapBurst))
                .withAction(2, burst("dma burst", Model::dmaBurst))
                .withAction(8, burst("free burst", Model::freeBurst))
                .withAction(1, burst("mixed churn", Model::churn))
                .withMaxTransformations(100);
    }

    interface Burst {
        void run(Model m, Random r, int n);
    }

    private static Action.Independent<Model> burst(String name, Burst b) {
        return () -> Combinators.combine(Arbitraries.longs(), Arbitraries.integers().between(50, 6000))
                .as((seed, n) -> Transformer.mutate(name + "(seed " + seed + ", " + n + ")",
                        m -> b.run(m, new Random(seed), n)));
    }

    enum Kind { KMALLOC, CACHE, PAGES, VMAP_PAGE, DMA_POOL, COHERENT }

    /** A live object of the direct map: {@code bytes} covered from {@code addr}. */
    record Obj(long addr, long bytes, Kind kind, int order, int cache, long tag, long dma) {
        long end() {
            return addr + bytes;
        }
    }

    /** A live area of the vmalloc window; a vmap's pages are its lent objects. */
    record Area(long addr, int pages, boolean vmap, long tag, List<Obj> lent) {
    }

    public static final class Model implements AutoCloseable {
        final MemoryPool pool = MemoryPool.builder().name("reliability").smallPages(32 * MIB)
                .maxSmallPages(512 * MIB).build();
        final KmemCache[] caches = {
            pool.kmem_cache_create("rel_hw40", 40, 0, SlabFlags.SLAB_HWCACHE_ALIGN, null),
            pool.kmem_cache_create("rel_a32_200", 200, 32, 0, null)};
        final long[] cacheSize = {40, 200};
        final long[] cacheAlign = {64, 32};
        final long[] cacheLive = new long[2];
        /** A device that reaches all memory, its dma_pools (blocks of 64 and 500 bytes, 4 KiB boundary). */
        final Device dev = new Device("rel_dev");
        final DmaPool[] dmaPools;
        final long[] dmaPoolSize = {64, 500};
        final long[] dmaPoolLive = new long[2];
        final TreeMap<Long, Obj> direct = new TreeMap<>();
        final List<Obj> byAge = new ArrayList<>();
        final TreeMap<Long, Area> areas = new TreeMap<>();
        {
            pool.dma_set_mask_and_coherent(dev, DmaApi.DMA_BIT_MASK(64));
            dmaPools = new DmaPool[] {pool.dma_pool_create("rel_desc64", dev, 64, 64, 4096),
                pool.dma_pool_create("rel_buf500", dev, 500, 8, 4096)};
        }

        long livePages;
        /** Bytes of live kmalloc and cache objects (their extents). */
        long liveBytes;
        long costlyFailures;
        long nextTag = 1;


        private void count() {
            CALLS[0]++;
        }

        /**
         * The model stops allocating at 160 MiB of live objects (48k pages, 40k objects at most),
         * so that a GFP_KERNEL NULL is never explained by the pool's 512 MiB limit, even with
         * SLUB debugging doubling the size of small objects.
         */
        private boolean full() {
            return livePages > 48 * 1024 || byAge.size() > 40_000 || livePages * PAGE + liveBytes > 160 * MIB;
        }

        // ------------------------------------------------------------ bursts

        void kmallocBurst(Random r, int n) {
            for (int i = 0; i < n && !full(); i++) {
                long size = switch (r.nextInt(10)) {
                    case 0 -> 1L << r.nextInt(14);
                    case 1 -> 8193 + r.nextInt(120_000);
                    case 2, 3 -> 193 + r.nextInt(8000);
                    default -> 1 + r.nextInt(192);
                };
                boolean zero = r.nextInt(4) == 0;
                int gfp = gfp(r);
                if (size > PAGE << COSTLY_ORDER && gfp == GFP_KERNEL) {
                    gfp |= __GFP_NORETRY | __GFP_NOWARN;
                }
                long p = zero ? pool.kzalloc(size, gfp) : pool.kmalloc(size, gfp);
                count();
                if (p == 0) {
                    require(NOT_NULL, (gfp & GFP_KERNEL) != GFP_KERNEL || size > PAGE << COSTLY_ORDER, "kmalloc(" + size
                            + ", GFP_KERNEL) returned NULL");
                    continue;
                }
                long extent = pool.ksize(p);
                require(ALIGNED, extent >= size, "ksize " + extent + " < " + size);
                if (Long.bitCount(size) == 1 && size <= 8192) {
                    require(ALIGNED, p % size == 0, "kmalloc(" + size + ") at 0x" + Long.toHexString(p));
                }
                liveBytes += extent;
                adopt(new Obj(p, extent, Kind.KMALLOC, -1, -1, nextTag++, 0), zero, r.nextInt(8) == 0);
            }
        }

        void cacheBurst(Random r, int n) {
            for (int i = 0; i < n && !full(); i++) {
                int c = r.nextInt(2);
                boolean zero = r.nextInt(4) == 0;
                int gfp = gfp(r);
                long p = zero ? pool.kmem_cache_zalloc(caches[c], gfp) : pool.kmem_cache_alloc(caches[c], gfp);
                count();
                if (p == 0) {
                    require(NOT_NULL, gfp != GFP_KERNEL, "kmem_cache_alloc(" + caches[c]
                            + ", GFP_KERNEL) returned NULL");
                    continue;
                }
                require(ALIGNED, p % cacheAlign[c] == 0, caches[c] + " object at 0x" + Long.toHexString(p));
                cacheLive[c]++;
                liveBytes += cacheSize[c];
                adopt(new Obj(p, cacheSize[c], Kind.CACHE, -1, c, nextTag++, 0), zero, false);
            }
        }

        void pageBurst(Random r, int n) {
            for (int i = 0; i < n && !full(); i++) {
                int order = r.nextInt(16) == 0 ? 4 + r.nextInt(7) : r.nextInt(4);
                boolean zero = r.nextInt(4) == 0;
                int gfp = gfp(r) | (zero ? __GFP_ZERO : 0);
                if (order > COSTLY_ORDER && (gfp & GFP_KERNEL) == GFP_KERNEL) {
                    gfp |= __GFP_NORETRY | __GFP_NOWARN;
                }
                long p = pool.__get_free_pages(gfp, order);
                count();
                if (p == 0) {
                    require(NOT_NULL, (gfp & GFP_KERNEL) != GFP_KERNEL || order > COSTLY_ORDER,
                            "__get_free_pages(GFP_KERNEL, " + order + ") returned NULL");
                    costlyFailures++;
                    continue;
                }
                long pfn = pool.virt_to_pfn(p);
                require(ALIGNED, pfn % (1L << order) == 0, "order-" + order + " block at pfn 0x"
                        + Long.toHexString(pfn));
                livePages += 1L << order;
                adopt(new Obj(p, (long) PAGE << order, Kind.PAGES, order, -1, nextTag++, 0), zero, r.nextInt(8) == 0);
            }
        }

        /**
         * dma_pool blocks (aligned, never across the 4 KiB boundary, DMA address = physical),
         * coherent buffers, and streaming mappings of kmalloc objects (mapped, checked,
         * unmapped at once).
         */
        void dmaBurst(Random r, int n) {
            long[] handle = new long[1];
            for (int i = 0; i < n && !full(); i++) {
                int what = r.nextInt(10);
                if (what < 7) {
                    int c = what % 2;
                    boolean zero = r.nextInt(4) == 0;
                    long p = zero ? pool.dma_pool_zalloc(dmaPools[c], GFP_KERNEL, handle)
                            : pool.dma_pool_alloc(dmaPools[c], GFP_KERNEL, handle);
                    count();
                    require(NOT_NULL, p != 0, "dma_pool_alloc(" + dmaPools[c] + ") returned NULL");
                    require(PHYSICAL, handle[0] == pool.virt_to_phys(p), "dma_pool block 0x" + Long.toHexString(p)
                            + ": DMA address 0x" + Long.toHexString(handle[0]) + ", virt_to_phys 0x"
                            + Long.toHexString(pool.virt_to_phys(p)));
                    long bytes = dmaPoolSize[c];
                    require(ALIGNED, p / 4096 == (p + bytes - 1) / 4096, "dma_pool block 0x" + Long.toHexString(p)
                            + " of " + bytes + " bytes crosses a 4 KiB boundary");
                    dmaPoolLive[c]++;
                    liveBytes += bytes;
                    adopt(new Obj(p, bytes, Kind.DMA_POOL, -1, c, nextTag++, handle[0]), zero, false);
                } else if (what < 8) {
                    long size = 1 + r.nextInt(3 * PAGE);
                    DmaBuffer b = pool.dma_alloc_coherent(dev, size, GFP_KERNEL);
                    count();
                    require(NOT_NULL, b != null, "dma_alloc_coherent(" + size + ") returned NULL");
                    require(PHYSICAL, b.dmaHandle() == pool.virt_to_phys(b.cpuAddr()), "coherent buffer " + b);
                    long bytes = (size + PAGE - 1) & -PAGE;
                    livePages += bytes / PAGE;
                    adopt(new Obj(b.cpuAddr(), bytes, Kind.COHERENT, -1, -1, nextTag++, b.dmaHandle()), true, true);
                } else {
                    long size = 1 + r.nextInt(2000);
                    long k = pool.kmalloc(size, GFP_KERNEL);
                    count();
                    require(NOT_NULL, k != 0, "kmalloc(" + size + ") for dma_map_single returned NULL");
                    long dma = pool.dma_map_single(dev, k, size, DmaDirection.DMA_TO_DEVICE);
                    count();
                    require(PHYSICAL, !pool.dma_mapping_error(dev, dma) && dma == pool.virt_to_phys(k),
                            "dma_map_single of kmalloc 0x" + Long.toHexString(k) + " gave 0x" + Long.toHexString(dma));
                    pool.dma_unmap_single(dev, dma, size, DmaDirection.DMA_TO_DEVICE);
                    pool.kfree(k);
                    count();
                }
            }
        }

        void vmallocBurst(Random r, int n) {
            for (int i = 0; i < Math.max(1, n / 100) && !full(); i++) {
                long size = r.nextInt(10) == 0 ? (1 + r.nextInt(4)) * MIB : 1 + r.nextInt(64 * PAGE);
                boolean zero = r.nextBoolean();
                long p = zero ? pool.vzalloc(size) : pool.vmalloc(size);
                count();
                require(NOT_NULL, p != 0, "vmalloc(" + size + ") returned NULL");
                int pages = (int) ((size + PAGE - 1) / PAGE);
                Area a = new Area(p, pages, false, nextTag++, List.of());
                newArea(a, zero);
                livePages += pages;
            }
        }

        void vmapBurst(Random r, int n) {
            for (int i = 0; i < Math.max(1, n / 300) && !full(); i++) {
                int pages = 1 + r.nextInt(16);
                List<Obj> lent = new ArrayList<>();
                long[] handles = new long[pages];
                for (int k = 0; k < pages; k++) {
                    long page = pool.alloc_page(GFP_KERNEL);
                    count();
                    require(NOT_NULL, page != 0, "alloc_page(GFP_KERNEL) for vmap returned NULL");
                    handles[k] = page;
                    Obj o = new Obj(pool.page_address(page), PAGE, Kind.VMAP_PAGE, 0, -1, 0, 0);
                    insertDirect(o);
                    lent.add(o);
                }
                long p = pool.vmap(handles, pages);
                count();
                require(NOT_NULL, p != 0, "vmap of " + pages + " pages returned NULL");
                for (int k = 0; k < pages; k++) {
                    require(PHYSICAL, pool.vmalloc_to_page(p + (long) k * PAGE) == handles[k],
                            "vmalloc_to_page of page " + k + " of the vmap at 0x" + Long.toHexString(p));
                }
                newArea(new Area(p, pages, true, nextTag++, lent), false);
                livePages += pages;
            }
        }

        void freeBurst(Random r, int n) {
            for (int i = 0; i < n && !byAge.isEmpty(); i++) {
                int k = r.nextInt(byAge.size());
                free(byAge.get(k), k);
            }
            if (!areas.isEmpty() && r.nextInt(3) == 0) {
                List<Area> all = new ArrayList<>(areas.values());
                for (int i = 0; i < 1 + all.size() / 2; i++) {
                    Area a = all.get(r.nextInt(all.size()));
                    if (areas.containsKey(a.addr)) {
                        release(a);
                    }
                }
            }
        }

        /** Allocations and frees interleaved: what a driver's steady state looks like. */
        void churn(Random r, int n) {
            for (int i = 0; i < n; i++) {
                switch (r.nextInt(4)) {
                    case 0 -> kmallocBurst(r, 1);
                    case 1 -> cacheBurst(r, 1);
                    case 2 -> pageBurst(r, 1);
                    default -> {
                        if (!byAge.isEmpty()) {
                            int k = r.nextInt(byAge.size());
                            free(byAge.get(k), k);
                        }
                    }
                }
            }
        }

        private int gfp(Random r) {
            return switch (r.nextInt(12)) {
                case 0 -> GFP_ATOMIC | __GFP_NOWARN;
                case 1 -> GFP_NOWAIT | __GFP_NOWARN;
                default -> GFP_KERNEL;
            };
        }

        // ------------------------------------------------------------ objects

        private void insertDirect(Obj o) {
            Map.Entry<Long, Obj> below = direct.floorEntry(o.addr);
            Map.Entry<Long, Obj> above = direct.ceilingEntry(o.addr);
            require(NO_OVERLAP, below == null || below.getValue().end() <= o.addr, o + " overlaps " + (below == null
                    ? "" : below.getValue()));
            require(NO_OVERLAP, above == null || o.end() <= above.getKey(), o + " overlaps " + (above == null ? ""
                    : above.getValue()));
            direct.put(o.addr, o);
        }

        private void adopt(Obj o, boolean zero, boolean physical) {
            insertDirect(o);
            MemorySegment s = pool.segment(o.addr, o.bytes);
            if (zero) {
                for (long w = 0; w + 8 <= o.bytes; w += Math.max(8, o.bytes / 64 & -8)) {
                    require(ZEROED, s.get(ValueLayout.JAVA_LONG_UNALIGNED, w) == 0, o + " word " + w);
                }
            }
            if (physical) {
                long pfn = pool.virt_to_pfn(o.addr);
                for (long a = o.addr & -PAGE, k = 0; a < o.end(); a += PAGE, k++) {
                    require(PHYSICAL, pool.pagemapPfn(a) == pfn + k, o + ": page " + k + " at pfn 0x"
                            + Long.toHexString(pool.pagemapPfn(a)) + ", expected 0x" + Long.toHexString(pfn + k));
                }
            }
            stamp(s, o.bytes, o.tag);
            byAge.add(o);
        }

        private static void stamp(MemorySegment s, long bytes, long tag) {
            s.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, tag);
            if (bytes >= 16) {
                s.set(ValueLayout.JAVA_LONG_UNALIGNED, bytes - 8, ~tag);
            }
            for (long off = PAGE; off + 8 <= bytes; off += PAGE) {
                s.set(ValueLayout.JAVA_LONG_UNALIGNED, off, tag ^ off);
            }
        }

        private static String unstamped(MemorySegment s, long bytes, long tag) {
            if (s.get(ValueLayout.JAVA_LONG_UNALIGNED, 0) != tag) {
                return "first word 0x" + Long.toHexString(s.get(ValueLayout.JAVA_LONG_UNALIGNED, 0));
            }
            if (bytes >= 16 && s.get(ValueLayout.JAVA_LONG_UNALIGNED, bytes - 8) != ~tag) {
                return "last word";
            }
            for (long off = PAGE; off + 8 <= bytes; off += PAGE) {
                if (s.get(ValueLayout.JAVA_LONG_UNALIGNED, off) != (tag ^ off)) {
                    return "word at " + off;
                }
            }
            return null;
        }

        private void verify(Obj o) {
            String bad = unstamped(pool.segment(o.addr, o.bytes), o.bytes, o.tag);
            require(INTACT, bad == null, o + ": " + bad);
        }

        private void free(Obj o, int ageIndex) {
            verify(o);
            direct.remove(o.addr);
            Obj last = byAge.removeLast();
            if (ageIndex < byAge.size()) {
                byAge.set(ageIndex, last);
            }
            switch (o.kind) {
                case KMALLOC -> {
                    pool.kfree(o.addr);
                    liveBytes -= o.bytes;
                }
                case CACHE -> {
                    liveBytes -= o.bytes;
                    pool.kmem_cache_free(caches[o.cache], o.addr);
                    cacheLive[o.cache]--;
                }
                case PAGES -> {
                    pool.free_pages(o.addr, o.order);
                    livePages -= 1L << o.order;
                }
                case DMA_POOL -> {
                    pool.dma_pool_free(dmaPools[o.cache], o.addr, o.dma);
                    dmaPoolLive[o.cache]--;
                    liveBytes -= o.bytes;
                }
                case COHERENT -> {
                    pool.dma_free_coherent(dev, o.bytes, o.addr, o.dma);
                    livePages -= o.bytes / PAGE;
                }
                default -> throw new IllegalStateException("lent pages are freed with their vmap");
            }
            count();
        }

        private void newArea(Area a, boolean zero) {
            Map.Entry<Long, Area> below = areas.floorEntry(a.addr);
            require(NO_OVERLAP, below == null || below.getKey() + (below.getValue().pages + 1L) * PAGE <= a.addr,
                    "area 0x" + Long.toHexString(a.addr) + " overlaps the area or guard page of 0x"
                            + (below == null ? "" : Long.toHexString(below.getKey())));
            Map.Entry<Long, Area> above = areas.ceilingEntry(a.addr);
            require(NO_OVERLAP, above == null || a.addr + (a.pages + 1L) * PAGE <= above.getKey(), "area 0x"
                    + Long.toHexString(a.addr) + " and its guard page overlap the area at 0x"
                    + (above == null ? "" : Long.toHexString(above.getKey())));
            MemorySegment s = pool.segment(a.addr, (long) a.pages * PAGE);
            for (int k = 0; k < a.pages; k += Math.max(1, a.pages / 8)) {
                long va = a.addr + (long) k * PAGE;
                require(PHYSICAL, pool.vmalloc_to_pfn(va) == pool.pagemapPfn(va), "page " + k + " of area 0x"
                        + Long.toHexString(a.addr));
                if (zero) {
                    require(ZEROED, s.get(ValueLayout.JAVA_LONG, (long) k * PAGE) == 0, "vzalloc page " + k);
                }
            }
            stamp(s, (long) a.pages * PAGE, a.tag);
            areas.put(a.addr, a);
        }

        private void release(Area a) {
            String bad = unstamped(pool.segment(a.addr, (long) a.pages * PAGE), (long) a.pages * PAGE, a.tag);
            require(INTACT, bad == null, "area 0x" + Long.toHexString(a.addr) + " of " + a.pages + " pages: " + bad);
            areas.remove(a.addr);
            livePages -= a.pages;
            if (a.vmap) {
                pool.vunmap(a.addr);
                count();
                for (Obj o : a.lent) {
                    direct.remove(o.addr);
                    pool.free_page(o.addr);
                    count();
                }
            } else {
                pool.vfree(a.addr);
                count();
            }
        }

        // ------------------------------------------------------------ invariants

        void checkConsistent() {
            List<String> buddy = pool.checkPageAllocator();
            require(CONSISTENT, buddy.isEmpty(), "checkPageAllocator: " + buddy);
            List<String> slabs = pool.validateSlabs();
            require(CONSISTENT, slabs.isEmpty(), "validateSlabs: " + slabs);
            List<String> reports = pool.takeSlabReports();
            require(CONSISTENT, reports.isEmpty(), "SLUB reports: " + reports);
            List<String> vm = pool.checkVmalloc();
            require(CONSISTENT, vm.isEmpty(), "checkVmalloc: " + vm);
        }

        void checkCounts() {
            for (int c = 0; c < dmaPools.length; c++) {
                require(COUNTS, dmaPools[c].active() == dmaPoolLive[c], dmaPools[c] + ": " + dmaPools[c].active()
                        + " active blocks, the model holds " + dmaPoolLive[c]);
            }
            for (int c = 0; c < caches.length; c++) {
                String name = caches[c].name();
                long active = pool.slabStats().stream().filter(s -> s.name().equals(name)).mapToLong(
                        SlabCacheStats::activeObjs).sum();
                require(COUNTS, active == cacheLive[c], name + ": " + active + " active, the model holds "
                        + cacheLive[c]);
            }
        }

        void checkSample() {
            for (int i = 0; i < Math.min(64, byAge.size()); i++) {
                verify(byAge.get((int) ((long) i * 7919 % byAge.size())));
            }
        }

        void finish() {
            checkSample();
            for (Area a : new ArrayList<>(areas.values())) {
                release(a);
            }
            while (!byAge.isEmpty()) {
                free(byAge.getLast(), byAge.size() - 1);
            }
            require(AT_REST, direct.isEmpty(), direct.size() + " objects left in the model");
            checkConsistent();
            checkCounts();
            for (DmaPool d : dmaPools) {
                require(AT_REST, d.active() == 0, d + " still has active blocks");
                pool.dma_pool_destroy(d);
            }
            require(AT_REST, dev.liveMappings() == 0, dev.liveMappings() + " streaming DMA mappings left");
            FrameAccounting at = FrameAccounting.of(pool);
            require(AT_REST, at.activeObjs() == 0 && at.unaccounted() == 0, at.toString());
            require(AT_REST, pool.vmallocinfo().isEmpty(), pool.vmallocinfo());
            for (KmemCache c : caches) {
                pool.kmem_cache_destroy(c);
            }

            require(AT_REST, pool.takeSlabReports().isEmpty(), "kmem_cache_destroy reported leaks");
        }

        @Override
        public void close() {
            pool.close();
        }

        @Override
        public String toString() {
            return byAge.size() + " objects, " + areas.size() + " areas";
        }
    }
}
