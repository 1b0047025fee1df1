package io.kmem.tool;

import static io.kmem.gfp.Gfp.GFP_ATOMIC;
import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static io.kmem.gfp.Gfp.GFP_NOWAIT;
import static io.kmem.gfp.Gfp.__GFP_NORETRY;
import static io.kmem.gfp.Gfp.__GFP_NOWARN;
import static io.kmem.gfp.Gfp.__GFP_ZERO;

import io.kmem.Device;
import io.kmem.DmaApi;
import io.kmem.DmaBuffer;
import io.kmem.DmaDirection;
import io.kmem.DmaPool;
import io.kmem.GfpApi;
import io.kmem.KmemCache;
import io.kmem.MemoryPool;
import io.kmem.SlabFlags;
import io.kmem.gfp.Gfp;
import io.kmem.stats.SlabCacheStats;
import io.kmem.stats.ZoneStats;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.Supplier;

/**
 * The one "random operations against a model, then verify" harness: every allocator of one
 * pool driven in random bursts by one or more threads, against a model of the live
 * allocations, checked after every burst and accounted for at the end. Three callers:
 * {@code kmem stress} ({@link Stress}: threads, a time or call limit, a report),
 * {@code make soak} (which runs {@code kmem stress}), and the jqwik property
 * {@code ReliabilityProperties} in the tool's tests (one thread, each action one burst from a
 * seed it carries, so that a failing chain replays).
 *
 * <h2>Where it lives, and why</h2>
 * In the tool's main sources, on the exported API only, because that is where all three
 * callers can reach it with the dependency arrows as they are: the tool depends on the
 * library; tests may depend on anything. The library cannot hold it (no test code there,
 * and it would need the tool's view of the API anyway); the library's test sources cannot
 * (the tool's main code cannot depend on test code). So {@code ReliabilityProperties} is a
 * test of the tool module, which may also use the library's test support (its test jar).
 *
 * <h2>Model</h2>
 * Each thread is a <em>lane</em> with its own {@link Random}, its own list of live objects
 * and an inbox: a free hands the object, one time in four when there are several lanes, to
 * another lane, which verifies it and frees it or keeps it (objects freed by a thread that
 * did not allocate them). Shared by the lanes: {@link #direct}, every live object of the
 * direct map by address with the bytes it covers (kmalloc, cache objects, page blocks,
 * dma_pool blocks, coherent buffers, the pages lent to vmap areas), and {@link #window}, every
 * live area of the vmalloc window (vmalloc, vzalloc, vmalloc_user, vmap, kvmalloc's vmalloc
 * half). Each object carries the pattern of its id: the word at offset {@code off} is
 * {@code mix(id, off)}. Objects up to {@link Config#full} bytes are written whole; larger ones
 * get the first and last word of every page and their last word, and when {@code full} is at
 * least two pages their first and last page whole.
 *
 * <h2>Bursts and rounds</h2>
 * A burst is up to {@code n} calls of one family ({@link Burst}); a round is one burst per
 * lane, all lanes at once, then the checks below on a quiet pool. Allocating bursts stop at
 * the live budget ({@link Config#budgetBytes}, {@link Config#maxObjects}).
 *
 * <h2>Threads</h2>
 * A lane's list and counters are touched only by its own thread during a round, and by the
 * caller between rounds (each round ends when every lane's burst has, a happens-before
 * edge). The direct map and the window are concurrent maps: an object is put in before its
 * neighbours are checked and taken out before it is freed, so of two overlapping objects
 * the later check sees the other. Hand-overs go through the receiver's concurrent inbox. No
 * lock is taken.
 *
 * <h2>Labelled checks</h2>
 * A failed check throws an {@link AssertionError} whose message starts with its label in
 * brackets.
 * <ul>
 *   <li>On every object handed out: {@value #NOT_NULL} under {@link Config#strict} (GFP_KERNEL
 *       without {@code __GFP_NORETRY} does not fail up to the kernel's costly order 3 while the
 *       pool can grow far beyond the budget; NULLs are otherwise counted, not faults);
 *       {@value #NO_OVERLAP} with its neighbours in the direct map or the window (with its
 *       guard page); {@value #ALIGNED} (page blocks to their order in PFN space, kmalloc to
 *       its size class, ksize at least the size, caches and dma_pool blocks to their
 *       alignment, dma_pool blocks within their boundary); {@value #ZEROED} for every zeroing
 *       call (every byte); {@value #PHYSICAL} (one direct-map object in 8 page by page
 *       against pagemap, sampled pages of every area, vmalloc_to_page of a vmap, DMA handles
 *       equal to physical addresses).</li>
 *   <li>On every free, krealloc and hand-over: {@value #INTACT}, the pattern where it was
 *       written (krealloc: kept up to the smaller size); a vmap also read through the direct
 *       map of each of its pages.</li>
 *   <li>After every round: {@value #CONSISTENT} (the buddy's own check, validateSlabs, no
 *       SLUB report, checkVmalloc), {@value #COUNTS} (each cache's and dma_pool's active
 *       objects equal the model's), {@value #INTACT} on 64 live objects.</li>
 *   <li>At the end ({@link #finish}): every live object's pattern, pagemap page by page for
 *       256 sampled objects, everything freed from one thread, then {@value #AT_REST}: the
 *       model empty, every frame free or held by a slab, no area, no large kmalloc, no DMA
 *       mapping left; after the caches are destroyed and drained, free frames equal managed
 *       frames.</li>
 * </ul>
 */
final class Harness implements AutoCloseable {
    static final String NOT_NULL = "GFP_KERNEL does not fail while the pool can grow";
    static final String NO_OVERLAP = "no two live objects overlap";
    static final String ALIGNED = "aligned";
    static final String ZEROED = "zeroed allocations are zero";
    static final String PHYSICAL = "physically where pagemap says";
    static final String INTACT = "contents intact until free";
    static final String CONSISTENT = "allocators consistent";
    static final String COUNTS = "cache counters equal the model";
    static final String AT_REST = "at rest: every frame accounted for";

    static final long PAGE = 4096;
    /** The kernel's PAGE_ALLOC_COSTLY_ORDER: above it, GFP_KERNEL may fail (contiguity is not promised). */
    static final int COSTLY_ORDER = 3;
    private static final long MIB = 1L << 20;
    private static final ValueLayout.OfLong WORD = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final MemorySegment ZEROS = MemorySegment.ofArray(new byte[64 << 10]);
    private static final int SAMPLES = 256;

    /**
     * @param seed        seeds the bursts of {@link #round}
     * @param threads     lanes, each on a thread of its own when more than one
     * @param budgetBytes allocating bursts stop when live objects cover this many bytes
     * @param maxObjects  ... or when this many objects are live
     * @param strict      a GFP_KERNEL NULL up to the costly order is a fault ({@value #NOT_NULL})
     * @param full        objects up to this size carry their pattern in every word
     * @param burst         the longest burst of {@link #round} (calls; the shortest is 50)
     */
    record Config(long seed, int threads, long budgetBytes, int maxObjects, boolean strict, long full, int burst) {
    }

    /** The families of calls a burst makes, with the weight a random round gives each. */
    enum Burst {
        KMALLOC("kmalloc burst", 6), CACHE("kmem_cache burst", 4), PAGES("page burst", 4),
        VMALLOC("vmalloc burst", 2), VMAP("vmap burst", 1), DMA("dma burst", 2), FREE("free burst", 8),
        CHURN("mixed churn", 1);

        final String label;
        final int weight;

        Burst(String label, int weight) {
            this.label = label;
            this.weight = weight;
        }

        static Burst pick(Random r) {
            int x = r.nextInt(28);
            for (Burst b : values()) {
                if ((x -= b.weight) < 0) {
                    return b;
                }
            }
            throw new AssertionError();
        }
    }

    /** Allocation kinds, each with its allocating and freeing call; null for the pages lent to a vmap. */
    enum Kind {
        PAGES("__get_free_pages", "free_pages"), PAGE("alloc_pages", "__free_pages"),
        EXACT("alloc_pages_exact", "free_pages_exact"), KMALLOC("kmalloc", "kfree"), KREALLOC("krealloc", "kfree"),
        CACHE("kmem_cache_alloc", "kmem_cache_free"), VMALLOC("vmalloc", "vfree"), VMAP("vmap", "vunmap"),
        KVMALLOC("kvmalloc", "kvfree"), DMA_POOL("dma_pool_alloc", "dma_pool_free"),
        COHERENT("dma_alloc_coherent", "dma_free_coherent"), STREAMING("dma_map_single", "dma_unmap_single"),
        LENT(null, null);

        final String alloc;
        final String free;

        Kind(String alloc, String free) {
            this.alloc = alloc;
            this.free = free;
        }
    }

    static final int ALLOCS = 0;
    static final int NULLS = 1;
    static final int FREES = 2;
    static final int CROSS = 3;

    /**
     * A live object: {@code size} bytes asked for (the pattern covers them), {@code extent}
     * bytes it covers (ksize, whole pages); {@code index} its cache or dma_pool;
     * {@code pages} the page handles of alloc_pages and vmap, {@code lent} a vmap's pages in
     * the direct map.
     */
    record Obj(Kind kind, long id, long addr, long size, long extent, int order, int gfp, int index, long dma,
               long[] pages, List<Obj> lent) {
        boolean inWindow() {
            return kind == Kind.VMALLOC || kind == Kind.VMAP || kind == Kind.KVMALLOC && extent < 0;
        }

        @Override
        public String toString() {
            String what = switch (kind) {
                case PAGES, PAGE -> kind.alloc + "(" + Gfp.names(gfp) + ", order " + order + ")";
                case CACHE, DMA_POOL -> kind.alloc + "(#" + index + ", " + Gfp.names(gfp) + ")";
                case VMAP -> "vmap of " + pages.length + " pages";
                case LENT -> "page lent to a vmap";
                default -> kind.alloc + "(" + size + ", " + Gfp.names(gfp) + ")";
            };
            return String.format(Locale.ROOT, "%s object #%d at 0x%x, %d bytes", what, id, addr, size);
        }
    }

    /** What {@link #finish} says of each check at rest. */
    interface Report {
        Report NONE = (what, ok) -> { };

        void line(String what, String result);
    }

    final MemoryPool pool;
    final Config cfg;
    final KmemCache[] caches;
    private final long[] cacheAlign = {64, 32, 8};
    final Device dev = new Device("harness_dev");
    final DmaPool[] dmaPools;
    private final long[] dmaPoolSize = {64, 500};
    private final AtomicLongArray cacheLive;
    private final AtomicLongArray dmaPoolLive = new AtomicLongArray(2);
    /** Live objects of the direct map, by address. */
    final ConcurrentSkipListMap<Long, Obj> direct = new ConcurrentSkipListMap<>();
    /** Live areas of the vmalloc window, by address. */
    final ConcurrentSkipListMap<Long, Obj> window = new ConcurrentSkipListMap<>();
    private final AtomicLong liveBytes = new AtomicLong();
    private final AtomicLong liveObjects = new AtomicLong();
    final Lane[] lanes;
    /** PFNs of hugetlb frames, sorted: vmap maps a hugetlb page only whole, so they are set aside. */
    private final long[] hugetlbPfns;
    private long rounds;

    /** Takes {@code pool} over: {@link #close} closes it. */
    Harness(MemoryPool pool, Config cfg) {
        this.pool = pool;
        this.cfg = cfg;
        try {
            this.caches = new KmemCache[] {
                pool.kmem_cache_create("harness_hw40", 40, 0, SlabFlags.SLAB_HWCACHE_ALIGN, null),
                pool.kmem_cache_create("harness_a32_200", 200, 32, 0, null),
                pool.kmem_cache_create("harness_debug120", 120, 0, SlabFlags.SLAB_RED_ZONE | SlabFlags.SLAB_POISON
                        | SlabFlags.SLAB_CONSISTENCY_CHECKS, null)};
            this.cacheLive = new AtomicLongArray(caches.length);
            if (pool.physical()) {
                pool.dma_set_mask_and_coherent(dev, DmaApi.DMA_BIT_MASK(64));
                this.dmaPools = new DmaPool[] {pool.dma_pool_create("harness_desc64", dev, 64, 64, 4096),
                    pool.dma_pool_create("harness_buf500", dev, 500, 8, 4096)};
            } else {
                this.dmaPools = new DmaPool[0];
            }
            this.hugetlbPfns = Workloads.hugetlbPfns(pool);
        } catch (RuntimeException | Error e) {
            pool.close();
            throw e;
        }
        this.lanes = new Lane[cfg.threads()];
        for (int i = 0; i < lanes.length; i++) {
            lanes[i] = new Lane(i, cfg.threads() > 1);
        }
    }

    /** Live objects in every lane. */
    long live() {
        long n = 0;
        for (Lane l : lanes) {
            n += l.liveCount;
        }
        return n;
    }

    /** Allocator calls made so far, in every lane. */
    long calls() {
        long n = 0;
        for (Lane l : lanes) {
            n += l.calls;
        }
        return n;
    }

    /** Calls per kind: {@code [kind][ALLOCS, NULLS, FREES, CROSS]}, summed over the lanes. */
    long[][] counts() {
        long[][] sum = new long[Kind.values().length][4];
        for (Lane l : lanes) {
            for (int k = 0; k < sum.length; k++) {
                for (int j = 0; j < 4; j++) {
                    sum[k][j] += l.counts[k][j];
                }
            }
        }
        return sum;
    }

    // ================================================================== driving

    /** One burst of {@code n} calls of {@code b} on lane 0, on this thread (one lane only). */
    void burst(Burst b, long seed, int n) {
        lanes[0].burst(b, new Random(seed), n);
    }

    /**
     * One round: every lane a burst of a family and a length drawn from the seed and the
     * round's number, on its own thread when there are several; then
     * {@link #checkConsistent}, {@link #checkCounts} and {@link #checkSample} on the quiet
     * pool. The first failure of a lane is rethrown.
     */
    void round() {
        long r = cfg.seed() ^ rounds++ * 0x9E3779B97F4A7C15L;
        if (lanes.length == 1) {
            lanes[0].randomBurst(new Random(r));
        } else {
            List<Future<?>> done = new ArrayList<>();
            for (Lane l : lanes) {
                Random lr = new Random(r + l.index * 0xC2B2AE3D27D4EB4FL);
                done.add(l.thread.submit(() -> l.randomBurst(lr)));
            }
            Throwable first = null;
            for (Future<?> f : done) {
                try {
                    f.get();
                } catch (ExecutionException e) {
                    first = first == null ? e.getCause() : first;
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while a round ran", e);
                }
            }
            if (first instanceof RuntimeException re) {
                throw re;
            } else if (first instanceof Error err) {
                throw err;
            }
        }
        checkConsistent();
        checkCounts();
        checkSample();
    }

    // ================================================================== a lane

    /** One thread's share: its random source, its live objects, its inbox and its counters. */
    final class Lane {
        final int index;
        final String name;
        final ExecutorService thread;
        final List<Obj> live = new ArrayList<>();
        final ConcurrentLinkedQueue<Obj> inbox = new ConcurrentLinkedQueue<>();
        final long[][] counts = new long[Kind.values().length][4];
        volatile long calls;
        volatile long liveCount;
        private long nextId;
        private Random r;

        Lane(int index, boolean ownThread) {
            this.index = index;
            this.name = "harness-" + index;
            this.nextId = (long) index << 40;
            this.thread = ownThread ? Executors.newSingleThreadExecutor(t -> new Thread(t, name)) : null;
        }

        /** A burst drawn from {@code rnd}; at the budget, an allocating one becomes a free burst. */
        void randomBurst(Random rnd) {
            Burst b = Burst.pick(rnd);
            int n = 50 + rnd.nextInt(Math.max(1, cfg.burst() - 50));
            burst(full() && b != Burst.CHURN ? Burst.FREE : b, rnd, n);
        }

        void burst(Burst b, Random rnd, int n) {
            this.r = rnd;
            receive();
            switch (b) {
                case KMALLOC -> kmallocBurst(n);
                case CACHE -> cacheBurst(n);
                case PAGES -> pageBurst(n);
                case VMALLOC -> vmallocBurst(n);
                case VMAP -> vmapBurst(n);
                case DMA -> dmaBurst(n);
                case FREE -> freeBurst(n);
                case CHURN -> churn(n);
            }
            liveCount = live.size();
        }

        private long id() {
            return ++nextId;
        }

        private void called(Kind k, int what) {
            counts[k.ordinal()][what]++;
            calls++;
        }

        private boolean full() {
            return liveBytes.get() > cfg.budgetBytes() || liveObjects.get() > cfg.maxObjects();
        }

        /** Objects handed over by other lanes: each verified, then freed or kept. */
        private void receive() {
            for (Obj o; (o = inbox.poll()) != null; ) {
                live.add(o);
                if (r.nextBoolean()) {
                    free(o, CROSS);
                    live.removeLast();
                } else {
                    verify(o, "when handed over");
                }
            }
        }

        /**
         * GFP_KERNEL mostly; GFP_ATOMIC, GFP_NOWAIT (both {@code __GFP_NOWARN}) and
         * GFP_KERNEL with {@code __GFP_NORETRY} one time in twelve each.
         */
        private int gfp() {
            return switch (r.nextInt(12)) {
                case 0 -> GFP_ATOMIC | __GFP_NOWARN;
                case 1 -> GFP_NOWAIT | __GFP_NOWARN;
                case 2 -> GFP_KERNEL | __GFP_NORETRY | __GFP_NOWARN;
                default -> GFP_KERNEL;
            };
        }

        /** A NULL from {@code call}: a fault when {@link Config#strict} and the call may not fail, else counted. */
        private void nulled(Kind k, String call, int gfp, int order) {
            called(k, NULLS);
            require(NOT_NULL, !cfg.strict() || (gfp & GFP_KERNEL) != GFP_KERNEL || (gfp & __GFP_NORETRY) != 0
                    || order > COSTLY_ORDER, call + " returned NULL");
        }

        private long logUniform(long lo, long hi) {
            double x = Math.exp(Math.log(lo) + r.nextDouble() * (Math.log(hi) - Math.log(lo)));
            return Math.clamp((long) x, lo, hi);
        }

        // -------------------------------------------------------------- bursts

        /** kmalloc and kzalloc of 1 byte to 1 MiB; one call in ten a krealloc of a live one. */
        void kmallocBurst(int n) {
            for (int i = 0; i < n && !full(); i++) {
                if (r.nextInt(10) == 0 && krealloc()) {
                    continue;
                }
                long size = switch (r.nextInt(10)) {
                    case 0 -> 1L << r.nextInt(14);
                    case 1 -> logUniform(8193, MIB);
                    case 2, 3 -> 193 + r.nextInt(8000);
                    default -> 1 + r.nextInt(192);
                };
                boolean zero = r.nextInt(4) == 0;
                int gfp = gfp();
                if (size > PAGE << COSTLY_ORDER && gfp == GFP_KERNEL) {
                    gfp |= __GFP_NORETRY | __GFP_NOWARN;
                }
                long p = zero ? pool.kzalloc(size, gfp) : pool.kmalloc(size, gfp);
                if (p == 0) {
                    nulled(Kind.KMALLOC, (zero ? "kzalloc(" : "kmalloc(") + size + ", " + Gfp.names(gfp) + ")", gfp,
                            GfpApi.get_order(size));
                    continue;
                }
                called(Kind.KMALLOC, ALLOCS);
                Obj o = new Obj(Kind.KMALLOC, id(), p, size, pool.ksize(p), 0, gfp | (zero ? __GFP_ZERO : 0), -1, 0,
                        null, null);
                checkKmalloc(o);
                adopt(o, zero, r.nextInt(8) == 0);
            }
        }

        /**
         * kmalloc's guarantees: ksize at least the size; 8-byte alignment, power-of-two sizes
         * aligned to their size, whole pages above the largest kmalloc cache. krealloc keeps an
         * object that is big enough where it is, so only 8 bytes hold for it.
         */
        private void checkKmalloc(Obj o) {
            long align = o.kind == Kind.KREALLOC ? 8 : o.size > MemoryPool.KMALLOC_MAX_CACHE_SIZE ? PAGE
                    : Long.bitCount(o.size) == 1 ? Math.max(8, o.size) : 8;
            require(ALIGNED, (o.addr & align - 1) == 0 && o.extent >= o.size, () -> o + ": expected alignment " + align
                    + " and ksize >= " + o.size + ", got ksize " + o.extent);
        }

        /** krealloc of a live kmalloc object of this lane; false when none was found. */
        private boolean krealloc() {
            int at = -1;
            for (int tries = 0; tries < 4 && !live.isEmpty() && at < 0; tries++) {
                int i = r.nextInt(live.size());
                at = live.get(i).kind == Kind.KMALLOC || live.get(i).kind == Kind.KREALLOC ? i : -1;
            }
            if (at < 0) {
                return false;
            }
            Obj o = live.get(at);
            verify(o, "before krealloc");
            long newSize = r.nextBoolean() ? 1 + r.nextInt(4096) : logUniform(1, 64 << 10);
            int gfp = r.nextBoolean() ? GFP_KERNEL : GFP_ATOMIC | __GFP_NOWARN;
            forget(o);
            long p = pool.krealloc(o.addr, newSize, gfp);
            if (p == 0) {
                insert(direct, o, 0);
                nulled(Kind.KREALLOC, "krealloc(" + o + ", " + newSize + ")", gfp, GfpApi.get_order(newSize));
                return true;
            }
            called(Kind.KREALLOC, ALLOCS);
            String bad = Harness.this.verify(pool.segment(p, Math.min(o.size, newSize)), o.id, o.size);
            require(INTACT, bad == null, () -> "krealloc of " + o + " to " + newSize + " bytes at 0x"
                    + Long.toHexString(p) + ": contents not kept: " + bad);
            Obj n = new Obj(Kind.KREALLOC, o.id, p, newSize, pool.ksize(p), 0, gfp, -1, 0, null, null);
            checkKmalloc(n);
            insert(direct, n, 0);
            live.set(at, n);
            write(n);
            return true;
        }

        /** kmem_cache_alloc and kmem_cache_zalloc on the three caches (the debug one one time in five). */
        void cacheBurst(int n) {
            for (int i = 0; i < n && !full(); i++) {
                int c = r.nextInt(5) == 0 ? 2 : r.nextInt(2);
                boolean zero = r.nextInt(4) == 0;
                int gfp = gfp();
                long p = zero ? pool.kmem_cache_zalloc(caches[c], gfp) : pool.kmem_cache_alloc(caches[c], gfp);
                if (p == 0) {
                    nulled(Kind.CACHE, "kmem_cache_alloc(" + caches[c].name() + ", " + Gfp.names(gfp) + ")", gfp, 0);
                    continue;
                }
                called(Kind.CACHE, ALLOCS);
                KmemCache cache = caches[c];
                require(ALIGNED, p % cache.align() == 0 && cache.align() >= cacheAlign[c], () -> cache.name()
                        + " object at 0x" + Long.toHexString(p) + ", the cache's alignment " + cache.align());
                cacheLive.incrementAndGet(c);
                adopt(new Obj(Kind.CACHE, id(), p, cache.objectSize(), cache.objectSize(), 0, gfp, c, 0, null, null),
                        zero, false);
            }
        }

        /**
         * __get_free_pages and alloc_pages of orders 0..3, one in sixteen of orders 4..10
         * (costly: {@code __GFP_NORETRY}, as drivers ask for them), alloc_pages_exact of up to
         * 16 pages; a quarter of them {@code __GFP_ZERO}.
         */
        void pageBurst(int n) {
            for (int i = 0; i < n && !full(); i++) {
                int pick = r.nextInt(20);
                if (pick < 3) {
                    exact();
                    continue;
                }
                Kind kind = pick < 8 ? Kind.PAGE : Kind.PAGES;
                int order = r.nextInt(16) == 0 ? 4 + r.nextInt(7) : r.nextInt(4);
                boolean zero = r.nextInt(4) == 0;
                int gfp = gfp() | (zero ? __GFP_ZERO : 0);
                if (order > COSTLY_ORDER && (gfp & GFP_KERNEL) == GFP_KERNEL) {
                    gfp |= __GFP_NORETRY | __GFP_NOWARN;
                }
                long page = kind == Kind.PAGE ? pool.alloc_pages(gfp, order) : 0;
                long a = kind == Kind.PAGE ? page == 0 ? 0 : pool.page_address(page) : pool.__get_free_pages(gfp, order);
                if (a == 0) {
                    nulled(kind, kind.alloc + "(" + Gfp.names(gfp) + ", " + order + ")", gfp, order);
                    continue;
                }
                called(kind, ALLOCS);
                Obj o = new Obj(kind, id(), a, PAGE << order, PAGE << order, order, gfp, -1, 0,
                        kind == Kind.PAGE ? new long[] {page} : null, null);
                long pfn = pool.virt_to_pfn(a);
                require(ALIGNED, (a & PAGE - 1) == 0 && (pfn & (1L << order) - 1) == 0, () -> o + " at pfn 0x"
                        + Long.toHexString(pfn) + ": not aligned to its order");
                adopt(o, zero, r.nextInt(8) == 0);
            }
        }

        private void exact() {
            long size = 1 + r.nextInt(16 * 4096);
            int gfp = r.nextBoolean() ? GFP_KERNEL : GFP_KERNEL | __GFP_ZERO;
            long a = pool.alloc_pages_exact(size, gfp);
            if (a == 0) {
                nulled(Kind.EXACT, "alloc_pages_exact(" + size + ")", gfp, GfpApi.get_order(size));
                return;
            }
            called(Kind.EXACT, ALLOCS);
            Obj o = new Obj(Kind.EXACT, id(), a, size, size + PAGE - 1 & -PAGE, 0, gfp, -1, 0, null, null);
            require(ALIGNED, (a & PAGE - 1) == 0, () -> o + ": not page-aligned");
            adopt(o, (gfp & __GFP_ZERO) != 0, r.nextInt(8) == 0);
        }

        /**
         * n/100 areas (at least one): vmalloc, vzalloc, vmalloc_user of a page to 64 pages or
         * of 1 to 4 MiB; kvmalloc and kvzalloc of 1 KiB to 2 MiB.
         */
        void vmallocBurst(int n) {
            for (int i = 0; i < Math.max(1, n / 100) && !full(); i++) {
                int what = r.nextInt(10);
                if (what >= 8) {
                    kvmalloc();
                    continue;
                }
                long size = r.nextInt(10) == 0 ? (1 + r.nextInt(4)) * MIB : 1 + r.nextInt(64 * (int) PAGE);
                long p = what < 4 ? pool.vmalloc(size) : what < 7 ? pool.vzalloc(size) : pool.vmalloc_user(size);
                String call = (what < 4 ? "vmalloc(" : what < 7 ? "vzalloc(" : "vmalloc_user(") + size + ")";
                if (p == 0) {
                    nulled(Kind.VMALLOC, call, GFP_KERNEL, 0);
                    continue;
                }
                called(Kind.VMALLOC, ALLOCS);
                adopt(new Obj(Kind.VMALLOC, id(), p, size, size + PAGE - 1 & -PAGE, 0,
                        what < 4 ? GFP_KERNEL : GFP_KERNEL | __GFP_ZERO, -1, 0, null, null), what >= 4, false);
            }
        }

        private void kvmalloc() {
            long size = logUniform(1024, 2 * MIB);
            int gfp = r.nextBoolean() ? GFP_KERNEL : GFP_KERNEL | __GFP_ZERO;
            long a = pool.kvmalloc(size, gfp);
            if (a == 0) {
                nulled(Kind.KVMALLOC, "kvmalloc(" + size + ", " + Gfp.names(gfp) + ")", gfp, 0);
                return;
            }
            called(Kind.KVMALLOC, ALLOCS);
            // A negative extent marks the vmalloc half: the window, whole pages.
            long extent = pool.is_vmalloc_addr(a) ? -(size + PAGE - 1 & -PAGE) : pool.ksize(a);
            adopt(new Obj(Kind.KVMALLOC, id(), a, size, extent, 0, gfp, -1, 0, null, null), (gfp & __GFP_ZERO) != 0,
                    r.nextInt(8) == 0);
        }

        /**
         * n/300 vmaps (at least one) of 1 to 16 pages from alloc_page, hugetlb frames set
         * aside (vmap maps a hugetlb page only whole; a stray frame of one is refused).
         */
        void vmapBurst(int n) {
            for (int i = 0; i < Math.max(1, n / 300) && !full(); i++) {
                int count = 1 + r.nextInt(16);
                long[] pages = new long[count];
                List<Long> aside = new ArrayList<>();
                int got = 0;
                while (got < count && aside.size() < 4 * count) {
                    int gfp = GFP_KERNEL | (cfg.strict() ? 0 : __GFP_NOWARN);
                    long p = pool.alloc_page(gfp);
                    if (p == 0) {
                        nulled(Kind.PAGE, "alloc_page(GFP_KERNEL) for vmap", gfp, 0);
                        break;
                    }
                    calls++;
                    if (Arrays.binarySearch(hugetlbPfns, pool.page_to_pfn(p)) >= 0) {
                        aside.add(p);
                    } else {
                        pages[got++] = p;
                    }
                }
                for (long p : aside) {
                    pool.__free_page(p);
                }
                long a = got < count ? 0 : pool.vmap(pages, count);
                if (a == 0) {
                    for (int k = 0; k < got; k++) {
                        pool.__free_page(pages[k]);
                    }
                    if (got == count) {
                        nulled(Kind.VMAP, "vmap of " + count + " pages", GFP_KERNEL, 0);
                    }
                    continue;
                }
                called(Kind.VMAP, ALLOCS);
                List<Obj> lent = new ArrayList<>();
                for (int k = 0; k < count; k++) {
                    long va = a + k * PAGE;
                    long handle = pages[k];
                    require(PHYSICAL, pool.vmalloc_to_page(va) == handle, () -> "vmalloc_to_page of 0x"
                            + Long.toHexString(va) + " in the vmap at 0x" + Long.toHexString(a));
                    Obj page = new Obj(Kind.LENT, 0, pool.page_address(handle), PAGE, PAGE, 0, 0, -1, 0, null, null);
                    insert(direct, page, 0);
                    lent.add(page);
                }
                Obj o = new Obj(Kind.VMAP, id(), a, count * PAGE, count * PAGE, 0, GFP_KERNEL, -1, 0, pages, lent);
                adopt(o, false, false);
                String bad = verifyVmapAlias(o);
                require(INTACT, bad == null, () -> o + ": " + bad);
            }
        }

        /**
         * dma_pool blocks (aligned, never across the 4 KiB boundary, DMA address = physical),
         * coherent buffers, and streaming mappings of kmalloc objects (mapped, checked,
         * unmapped at once). None on an unprivileged pool: DMA needs physical addresses.
         */
        void dmaBurst(int n) {
            long[] handle = new long[1];
            for (int i = 0; i < n && !full() && dmaPools.length > 0; i++) {
                int what = r.nextInt(10);
                if (what < 7) {
                    int c = what % 2;
                    boolean zero = r.nextInt(4) == 0;
                    long p = zero ? pool.dma_pool_zalloc(dmaPools[c], GFP_KERNEL, handle)
                            : pool.dma_pool_alloc(dmaPools[c], GFP_KERNEL, handle);
                    if (p == 0) {
                        nulled(Kind.DMA_POOL, "dma_pool_alloc(" + dmaPools[c] + ")", GFP_KERNEL, 0);
                        continue;
                    }
                    called(Kind.DMA_POOL, ALLOCS);
                    long dma = handle[0];
                    require(PHYSICAL, dma == pool.virt_to_phys(p), () -> "dma_pool block 0x" + Long.toHexString(p)
                            + ": DMA address 0x" + Long.toHexString(dma) + ", virt_to_phys 0x"
                            + Long.toHexString(pool.virt_to_phys(p)));
                    long bytes = dmaPoolSize[c];
                    require(ALIGNED, p / 4096 == (p + bytes - 1) / 4096 && p % (c == 0 ? 64 : 8) == 0, () ->
                            "dma_pool block 0x" + Long.toHexString(p) + " of " + bytes + " bytes: misaligned or"
                                    + " across a 4 KiB boundary");
                    dmaPoolLive.incrementAndGet(c);
                    adopt(new Obj(Kind.DMA_POOL, id(), p, bytes, bytes, 0, GFP_KERNEL, c, dma, null, null), zero,
                            false);
                } else if (what < 8) {
                    long size = 1 + r.nextInt(3 * (int) PAGE);
                    DmaBuffer b = pool.dma_alloc_coherent(dev, size, GFP_KERNEL);
                    if (b == null) {
                        nulled(Kind.COHERENT, "dma_alloc_coherent(" + size + ")", GFP_KERNEL, 0);
                        continue;
                    }
                    called(Kind.COHERENT, ALLOCS);
                    require(PHYSICAL, b.dmaHandle() == pool.virt_to_phys(b.cpuAddr()), () -> "coherent buffer " + b);
                    adopt(new Obj(Kind.COHERENT, id(), b.cpuAddr(), size, size + PAGE - 1 & -PAGE, 0, GFP_KERNEL, -1,
                            b.dmaHandle(), null, null), true, true);
                } else {
                    long size = 1 + r.nextInt(2000);
                    long k = pool.kmalloc(size, GFP_KERNEL);
                    if (k == 0) {
                        nulled(Kind.KMALLOC, "kmalloc(" + size + ") for dma_map_single", GFP_KERNEL, 0);
                        continue;
                    }
                    called(Kind.KMALLOC, ALLOCS);
                    long dma = pool.dma_map_single(dev, k, size, DmaDirection.DMA_TO_DEVICE);
                    called(Kind.STREAMING, ALLOCS);
                    require(PHYSICAL, !pool.dma_mapping_error(dev, dma) && dma == pool.virt_to_phys(k), () ->
                            "dma_map_single of kmalloc 0x" + Long.toHexString(k) + " gave 0x" + Long.toHexString(dma));
                    pool.dma_unmap_single(dev, dma, size, DmaDirection.DMA_TO_DEVICE);
                    called(Kind.STREAMING, FREES);
                    pool.kfree(k);
                    called(Kind.KMALLOC, FREES);
                }
            }
        }

        /** Up to n frees of random live objects of this lane; with several lanes a quarter go to another lane. */
        void freeBurst(int n) {
            for (int i = 0; i < n && !live.isEmpty(); i++) {
                freeOne();
            }
        }

        /** Allocations and frees interleaved: what a driver's steady state looks like. */
        void churn(int n) {
            for (int i = 0; i < n; i++) {
                switch (r.nextInt(4)) {
                    case 0 -> kmallocBurst(1);
                    case 1 -> cacheBurst(1);
                    case 2 -> pageBurst(1);
                    default -> {
                        if (!live.isEmpty()) {
                            freeOne();
                        }
                    }
                }
            }
        }

        /** Frees a random live object of this lane, or hands it to another lane (one time in four). */
        private void freeOne() {
            int i = r.nextInt(live.size());
            Obj o = live.get(i);
            if (lanes.length > 1 && r.nextInt(4) == 0) {
                int to = r.nextInt(lanes.length - 1);
                lanes[to >= index ? to + 1 : to].inbox.add(o);
            } else {
                free(o, FREES);
            }
            live.set(i, live.getLast());
            live.removeLast();
        }

        /** Verifies {@code o} and frees it; it stays in the lane's list if the check fails. */
        private void free(Obj o, int how) {
            verify(o, "before " + o.kind.free);
            calls += Harness.this.free(o) - 1;
            called(o.kind, how);
        }

        /** Checks the zeroing asked for and the pages against pagemap, writes the pattern, keeps the object. */
        private void adopt(Obj o, boolean zeroed, boolean physical) {
            insert(o.inWindow() ? window : direct, o, o.inWindow() ? PAGE : 0);
            if (zeroed) {
                long at = zeroMismatch(pool.segment(o.addr, o.size));
                require(ZEROED, at < 0, () -> o + ": byte " + at + " is not zero");
            }
            if (physical && !o.inWindow()) {
                checkPagemap(o, 0);
            } else if (o.inWindow()) {
                checkPagemap(o, 8);
            }
            write(o);
            live.add(o);
        }

        private void verify(Obj o, String when) {
            String bad = Harness.this.verify(o);
            require(INTACT, bad == null, () -> name + ", " + when + ": " + o + ": " + bad);
        }
    }

    // ================================================================== the model

    /** Puts {@code o} in {@code map}: it must not overlap its neighbours (nor their {@code guard} bytes). */
    private void insert(ConcurrentSkipListMap<Long, Obj> map, Obj o, long guard) {
        map.put(o.addr, o);
        long end = o.addr + Math.abs(o.extent);
        Map.Entry<Long, Obj> below = map.lowerEntry(o.addr);
        Map.Entry<Long, Obj> above = map.higherEntry(o.addr);
        require(NO_OVERLAP, below == null || below.getKey() + Math.abs(below.getValue().extent) + guard <= o.addr,
                () -> o + " overlaps " + below.getValue() + (guard > 0 ? " or its guard page" : ""));
        require(NO_OVERLAP, above == null || end + guard <= above.getKey(), () -> o + (guard > 0 ? " or its guard page"
                : "") + " overlaps " + above.getValue());
        if (o.kind != Kind.LENT) {
            liveBytes.addAndGet(Math.abs(o.extent));
            liveObjects.incrementAndGet();
        }
    }

    private void forget(Obj o) {
        (o.inWindow() ? window : direct).remove(o.addr);
        liveBytes.addAndGet(-Math.abs(o.extent));
        liveObjects.decrementAndGet();
    }

    /** pagemap against the allocator's PFN for every page of {@code o}, or {@code sample} spread over it (0: all). */
    private void checkPagemap(Obj o, int sample) {
        String bad = pagemapMismatch(o, sample);
        require(PHYSICAL, bad == null, () -> bad);
    }

    private String pagemapMismatch(Obj o, int sample) {
        if (!pool.physical()) {
            return null;
        }
        long first = o.addr & -PAGE;
        long pages = (o.addr + o.size - first + PAGE - 1) / PAGE;
        long step = sample == 0 ? 1 : Math.max(1, pages / sample);
        for (long k = 0; k < pages; k += step) {
            long a = first + k * PAGE;
            long want = switch (o.kind) {
                case VMALLOC -> pool.vmalloc_to_pfn(a);
                case VMAP -> pool.page_to_pfn(o.pages[(int) k]);
                case KVMALLOC -> pool.is_vmalloc_addr(a) ? pool.vmalloc_to_pfn(a) : pool.virt_to_pfn(o.addr) + k;
                default -> pool.virt_to_pfn(o.addr) + k;
            };
            long seen = pool.pagemapPfn(a);
            if (seen != want) {
                return String.format(Locale.ROOT, "pagemap: page at 0x%x of %s is at pfn 0x%x, the allocator says 0x%x%s",
                        a, o, seen, want, o.inWindow() ? "" : " (a direct-map object must be physically contiguous)");
            }
        }
        return null;
    }

    /** Frees {@code o} with the call that matches its allocation; returns the calls made (a vmap's: 1 + its pages). */
    private int free(Obj o) {
        forget(o);
        switch (o.kind) {
            case PAGES -> pool.free_pages(o.addr, o.order);
            case PAGE -> pool.__free_pages(o.pages[0], o.order);
            case EXACT -> pool.free_pages_exact(o.addr, o.size);
            case KMALLOC, KREALLOC -> pool.kfree(o.addr);
            case CACHE -> {
                pool.kmem_cache_free(caches[o.index], o.addr);
                cacheLive.decrementAndGet(o.index);
            }
            case VMALLOC -> pool.vfree(o.addr);
            case VMAP -> {
                String bad = verifyVmapAlias(o);
                require(INTACT, bad == null, () -> "before vunmap: " + o + ": " + bad);
                pool.vunmap(o.addr);
                for (Obj page : o.lent) {
                    direct.remove(page.addr);
                }
                for (long p : o.pages) {
                    pool.__free_page(p);
                }
                return 1 + o.pages.length;
            }
            case KVMALLOC -> pool.kvfree(o.addr);
            case DMA_POOL -> {
                pool.dma_pool_free(dmaPools[o.index], o.addr, o.dma);
                dmaPoolLive.decrementAndGet(o.index);
            }
            case COHERENT -> pool.dma_free_coherent(dev, o.size, o.addr, o.dma);
            case STREAMING, LENT -> throw new IllegalStateException(o + " is not freed alone");
        }
        return 1;
    }

    // ================================================================== patterns

    static long mix(long id, long off) {
        long x = id * 0x9E3779B97F4A7C15L ^ off * 0xC2B2AE3D27D4EB4FL;
        x ^= x >>> 31;
        x *= 0xBF58476D1CE4E5B9L;
        return x ^ x >>> 29;
    }

    /** The offset of the pattern word after the one at {@code off} in an object of {@code size} bytes (see the class comment). */
    private long nextWord(long size, long off) {
        long n = off + 8;
        if (size <= cfg.full()) {
            return n;
        }
        boolean wholeEnds = cfg.full() >= 2 * PAGE;
        long last = wholeEnds ? size - 1 & -PAGE : (size & -8L) - 8;
        if ((wholeEnds && n < PAGE) || n >= last) {
            return n;
        }
        long inPage = n & PAGE - 1;
        return inPage == 0 || inPage == PAGE - 8 ? n : Math.min((n & -PAGE) + PAGE - 8, last);
    }

    private void write(Obj o) {
        MemorySegment s = pool.segment(o.addr, o.size);
        long n = o.size;
        for (long off = 0; off + 8 <= n; off = nextWord(n, off)) {
            s.set(WORD, off, mix(o.id, off));
        }
        for (long off = n & -8L; off < n; off++) {
            s.set(ValueLayout.JAVA_BYTE, off, (byte) mix(o.id, off));
        }
    }

    /** Null when {@code o} holds its pattern, else what differs. */
    String verify(Obj o) {
        return verify(pool.segment(o.addr, o.size), o.id, o.size);
    }

    /** Checks the pattern of an object of {@code size} bytes over the first {@code s.byteSize()} bytes. */
    private String verify(MemorySegment s, long id, long size) {
        long n = Math.min(s.byteSize(), size);
        for (long off = 0; off + 8 <= n && off + 8 <= size; off = nextWord(size, off)) {
            long got = s.get(WORD, off);
            if (got != mix(id, off)) {
                return String.format(Locale.ROOT, "contents differ at offset %d: expected 0x%016x, found 0x%016x",
                        off, mix(id, off), got);
            }
        }
        for (long off = size & -8L; off < n; off++) {
            byte got = s.get(ValueLayout.JAVA_BYTE, off);
            if (got != (byte) mix(id, off)) {
                return String.format(Locale.ROOT, "contents differ at offset %d: expected 0x%02x, found 0x%02x", off,
                        (byte) mix(id, off), got);
            }
        }
        return null;
    }

    /** A vmap area and the direct map of its pages are the same memory: null when they agree. */
    private String verifyVmapAlias(Obj o) {
        for (int k = 0; k < o.pages.length; k++) {
            MemorySegment direct = pool.segment(pool.page_address(o.pages[k]), PAGE);
            MemorySegment mapped = pool.segment(o.addr + k * PAGE, PAGE);
            long at = direct.mismatch(mapped);
            if (at >= 0) {
                return "page " + k + " (pfn 0x" + Long.toHexString(pool.page_to_pfn(o.pages[k])) + ") reads differently"
                        + " through the direct map at byte " + at;
            }
        }
        return null;
    }

    private static long zeroMismatch(MemorySegment s) {
        for (long off = 0; off < s.byteSize(); off += ZEROS.byteSize()) {
            long len = Math.min(ZEROS.byteSize(), s.byteSize() - off);
            long at = s.asSlice(off, len).mismatch(ZEROS.asSlice(0, len));
            if (at >= 0) {
                return off + at;
            }
        }
        return -1;
    }

    static void require(String label, boolean ok, String what) {
        if (!ok) {
            throw new AssertionError("[" + label + "] " + what);
        }
    }

    static void require(String label, boolean ok, Supplier<String> what) {
        if (!ok) {
            throw new AssertionError("[" + label + "] " + what.get());
        }
    }

    // ================================================================== after every round

    /** The allocators' own checks: the buddy's, validateSlabs, no SLUB report, checkVmalloc. */
    void checkConsistent() {
        List<String> buddy = pool.checkPageAllocator();
        require(CONSISTENT, buddy.isEmpty(), () -> "checkPageAllocator: " + buddy);
        List<String> slabs = pool.validateSlabs();
        require(CONSISTENT, slabs.isEmpty(), () -> "validateSlabs: " + slabs);
        List<String> reports = pool.takeSlabReports();
        require(CONSISTENT, reports.isEmpty(), () -> "SLUB reports: " + reports);
        List<String> vm = pool.checkVmalloc();
        require(CONSISTENT, vm.isEmpty(), () -> "checkVmalloc: " + vm);
    }

    /** Each cache's and dma_pool's active objects equal the model's. */
    void checkCounts() {
        for (int c = 0; c < dmaPools.length; c++) {
            DmaPool d = dmaPools[c];
            long want = dmaPoolLive.get(c);
            require(COUNTS, d.active() == want, () -> d + ": " + d.active() + " active blocks, the model holds " + want);
        }
        List<SlabCacheStats> stats = pool.slabStats();
        for (int c = 0; c < caches.length; c++) {
            String name = caches[c].name();
            long active = stats.stream().filter(s -> s.name().equals(name)).mapToLong(SlabCacheStats::activeObjs).sum();
            long want = cacheLive.get(c);
            require(COUNTS, active == want, () -> name + ": " + active + " active, the model holds " + want);
        }
    }

    /** The pattern of 64 live objects spread over the lanes. */
    void checkSample() {
        for (Lane l : lanes) {
            int n = Math.min(64 / lanes.length + 1, l.live.size());
            for (int i = 0; i < n; i++) {
                l.verify(l.live.get((int) ((long) i * 7919 % l.live.size())), "in a sample");
            }
        }
    }

    // ================================================================== testing the tester

    /**
     * {@code kmem stress --inject}: "corrupt" flips a byte of a live object (one whose pattern
     * is whole and that krealloc never resizes), "leak" allocates two objects nobody frees.
     * Returns what was done, or null when no object fits yet. Call between rounds.
     */
    String inject(String what) {
        if (what.equals("leak")) {
            long p = pool.kmalloc(64, GFP_KERNEL);
            long a = pool.__get_free_page(GFP_KERNEL);
            return String.format(Locale.ROOT, "leaked kmalloc(64) at 0x%x and a page at 0x%x: never freed", p, a);
        }
        for (Obj o : Arrays.stream(lanes).flatMap(l -> l.live.stream()).toList()) {
            if (o.size >= 16 && o.size <= Math.min(cfg.full(), 64 << 10) && (o.kind == Kind.CACHE
                    || o.kind == Kind.PAGES || o.kind == Kind.PAGE || o.kind == Kind.EXACT)) {
                long off = o.size / 2 & -8L;
                MemorySegment b = pool.segment(o.addr + off, 1);
                b.set(ValueLayout.JAVA_BYTE, 0, (byte) ~b.get(ValueLayout.JAVA_BYTE, 0));
                return String.format(Locale.ROOT, "flipped the byte at offset %d of %s", off, o);
            }
        }
        return null;
    }

    // ================================================================== at rest

    /**
     * Verifies and frees everything from this thread, then checks the pool at rest (see the
     * class comment): each check is reported to {@code report} as a line, and every failure
     * is returned, labelled; empty when the pool is at rest with every frame accounted for.
     */
    List<String> finish(Report report) {
        stopLanes();
        List<String> faults = new ArrayList<>();
        List<Obj> all = new ArrayList<>();
        for (Lane l : lanes) {
            all.addAll(l.live);
            l.live.clear();
            for (Obj o; (o = l.inbox.poll()) != null; ) {
                all.add(o);
            }
            l.liveCount = 0;
        }
        int bad = 0;
        for (Obj o : all) {
            String b = verify(o);
            if (b != null && bad++ < 20) {
                faults.add("[" + INTACT + "] at rest: " + o + ": " + b);
            }
        }
        report.line("contents of " + all.size() + " live objects", bad == 0 ? "ok" : bad + " differ");
        pagemapSamples(all, report, faults);
        int thrown = 0;
        for (Obj o : all) {
            try {
                free(o);
            } catch (RuntimeException | AssertionError e) {
                if (thrown++ < 20) {
                    faults.add("freeing " + o + " at rest: " + e.getClass().getSimpleName() + ": " + e.getMessage());
                }
            }
        }
        report.line("freed every live object from one thread (" + all.size() + ")", thrown == 0 ? "ok"
                : thrown + " threw");
        Expect expect = new Expect(report, faults);
        expect.that(AT_REST, "no object left in the model", direct.isEmpty() && window.isEmpty(),
                () -> direct.size() + " objects, " + window.size() + " areas");
        expect.empty(CONSISTENT, "checkPageAllocator", pool.checkPageAllocator());
        expect.empty(CONSISTENT, "validateSlabs", pool.validateSlabs());
        expect.empty(CONSISTENT, "checkVmalloc", pool.checkVmalloc());
        expect.empty(CONSISTENT, "SLUB reports (takeSlabReports)", pool.takeSlabReports());
        for (int c = 0; c < dmaPools.length; c++) {
            DmaPool d = dmaPools[c];
            expect.that(COUNTS, "dma_pool " + c + " has no active block", d.active() == 0,
                    () -> d + " still has " + d.active() + " active blocks");
            pool.dma_pool_destroy(d);
        }
        expect.that(AT_REST, "no streaming DMA mapping left", dev.liveMappings() == 0,
                () -> dev.liveMappings() + " streaming DMA mappings left");
        pool.flushSlabs();
        long managed = 0;
        long free = 0;
        for (ZoneStats z : pool.zoneStats()) {
            free += z.free() + z.cached();
            managed += z.managed();
        }
        long slabPages = 0;
        long active = 0;
        List<String> leaks = new ArrayList<>();
        for (SlabCacheStats s : pool.slabStats()) {
            active += s.activeObjs();
            slabPages += s.numSlabs() * s.pagesPerSlab();
            if (s.activeObjs() > 0) {
                leaks.add(s.name() + ": " + s.activeObjs() + " objects");
            }
        }
        long unaccounted = managed - free - slabPages;
        long frees = free;
        long slabs = slabPages;
        long m = managed;
        expect.that(AT_REST, "every frame free or in a slab, no slab object active", unaccounted == 0 && active == 0,
                () -> frees + " frames free + " + slabs + " in slabs of " + m + " managed: " + unaccounted
                        + " unaccounted for; still allocated: " + leaks);
        expect.that(AT_REST, "vmallocinfo empty, no page mapped", pool.vmallocinfo().isEmpty()
                && pool.vmallocStats().pagesMapped() == 0, () -> pool.vmallocinfo());
        var large = pool.slabLargeStats();
        expect.that(AT_REST, "large kmalloc: allocations == frees", large.largeAllocs() == large.largeFrees(),
                () -> large.largeAllocs() + " allocations, " + large.largeFrees() + " frees");
        for (KmemCache c : caches) {
            pool.kmem_cache_destroy(c);
        }
        pool.drain_all_pages();
        pool.flushSlabs();
        pool.shrinkSlabs();
        pool.drain_all_pages();
        boolean destroyed = pool.slabStats().stream().noneMatch(s -> s.name().startsWith("harness_"));
        expect.that(AT_REST, "kmem_cache_destroy of the harness caches, no report", destroyed
                && pool.takeSlabReports().isEmpty(), () -> "a harness cache was not destroyed or reported leaks");
        free = 0;
        managed = 0;
        for (ZoneStats z : pool.zoneStats()) {
            free += z.free() + z.cached();
            managed += z.managed();
        }
        long f = free;
        long mm = managed;
        expect.that(AT_REST, "free frames == managed frames (" + free + " == " + managed + ")", free == managed,
                () -> (mm - f) + " frames unaccounted for: leaked by an allocator or never freed");
        return faults;
    }

    /** pagemap, page by page, for up to {@link #SAMPLES} objects spread over the live ones. */
    private void pagemapSamples(List<Obj> all, Report report, List<String> faults) {
        if (!pool.physical()) {
            report.line("pagemap samples", "skipped: an unprivileged pool has no physical addresses");
            return;
        }
        int objects = 0;
        int wrong = 0;
        int step = Math.max(1, all.size() / SAMPLES);
        for (int i = 0; i < all.size(); i += step) {
            objects++;
            String bad = pagemapMismatch(all.get(i), 0);
            if (bad != null && wrong++ < 5) {
                faults.add("[" + PHYSICAL + "] at rest: " + bad);
            }
        }
        report.line("pagemap of " + objects + " sampled objects, page by page", wrong == 0 ? "ok"
                : wrong + " objects differ");
    }

    /** The checks at rest: each a line of the report, each failure a labelled fault. */
    private record Expect(Report report, List<String> faults) {
        void that(String label, String what, boolean ok, Supplier<String> otherwise) {
            report.line(what, ok ? "ok" : "FAULT");
            if (!ok) {
                faults.add("[" + label + "] " + what + ": " + otherwise.get());
            }
        }

        void empty(String label, String what, List<String> problems) {
            that(label, what, problems.isEmpty(), () -> problems.size() + " problems: " + String.join("; ",
                    problems.subList(0, Math.min(5, problems.size()))));
        }
    }

    /** Ends the lanes' threads, so that the per-thread caches they held go back (reaped). */
    private void stopLanes() {
        for (Lane l : lanes) {
            if (l.thread != null) {
                l.thread.shutdownNow();
                try {
                    l.thread.awaitTermination(1, java.util.concurrent.TimeUnit.MINUTES);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    @Override
    public void close() {
        stopLanes();
        pool.close();
    }

    @Override
    public String toString() {
        return live() + " objects, " + window.size() + " areas";
    }
}
