package io.kmem.tool;

import static io.kmem.gfp.Gfp.GFP_ATOMIC;
import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static io.kmem.gfp.Gfp.GFP_NOWAIT;
import static io.kmem.gfp.Gfp.__GFP_NORETRY;
import static io.kmem.gfp.Gfp.__GFP_NOWARN;
import static io.kmem.gfp.Gfp.__GFP_ZERO;

import io.kmem.KmemCache;
import io.kmem.MemoryPool;
import io.kmem.SlabFlags;
import io.kmem.gfp.Gfp;
import io.kmem.stats.SlabCacheStats;
import io.kmem.stats.ZoneStats;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code kmem stress}: threads doing random operations over every allocator of one pool,
 * checking every result, then a final verification.
 *
 * <h2>What each thread does</h2>
 * <ol>
 *   <li>Picks an operation: an allocation (weights in {@link #pickAlloc}) while its live
 *       memory is under its share of the budget (half the pool), else a free; the free takes a
 *       random object of its own and, one time in four, hands it to another thread through
 *       that thread's queue instead: the receiver verifies it and frees it or keeps it, so
 *       objects are freed by threads that did not allocate them.</li>
 *   <li>Checks each allocation: alignment (page blocks aligned to their order in PFN space,
 *       kmalloc to its size class), {@code ksize}, zeroed memory when asked for; then writes
 *       the object's pattern (below). A NULL is counted, not a fault: out of memory is a
 *       result.</li>
 *   <li>Checks the pattern before every free; a vmap area is also read through the direct
 *       map of each of its pages.</li>
 * </ol>
 * Any exception from the allocators (a double free they see where there is none, a foreign
 * pointer ...) and any wrong byte is a fault: it is recorded with the object, the operation
 * and what differed, and the run stops.
 *
 * <h2>Pattern</h2>
 * The word at offset {@code w} of object {@code id} is {@code mix(id, w)}, so every object's
 * bytes differ from every other's and from their neighbours': an overlap, a stray write or a
 * page mapped at the wrong place shows as a wrong word. Objects up to 64 KiB are written
 * whole; larger ones get their first and last page whole and two words at the start and end
 * of every page between (that catches a wrong page and keeps a 4 MiB object at 2 x 1024
 * writes).
 *
 * <h2>Final verification, once every thread has stopped</h2>
 * The pattern of every live object; {@code /proc/self/pagemap} against {@code virt_to_pfn} /
 * {@code vmalloc_to_pfn} for a sample of objects (page by page: a direct-map object must be
 * physically contiguous); then everything is freed, the caches destroyed and drained, and
 * the counters must balance: {@code checkPageAllocator}, {@code validateSlabs} and
 * {@code checkVmalloc} find nothing, no SLUB report was made, no vmalloc area and no large
 * kmalloc is left, and the pool's free frames equal its managed frames.
 */
final class Stress {
    /** Objects up to this size have every word written and checked. */
    static final long FULL = 64 << 10;
    private static final long PAGE = 4096;
    private static final ValueLayout.OfLong WORD = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final MemorySegment ZEROS = MemorySegment.ofArray(new byte[64 << 10]);
    private static final int SAMPLES = 256;

    /**
     * @param inject "corrupt" flips a byte of a live object halfway through, "leak" allocates
     *               two objects nobody frees; null for neither. Both must make the run fail.
     */
    record Config(int threads, long ops, long millis, long seed, String inject, boolean tty) {
    }

    /** Allocation kinds, each with its allocating and freeing call. */
    enum Kind {
        PAGES("__get_free_pages", "free_pages"), PAGE("alloc_pages", "__free_pages"),
        EXACT("alloc_pages_exact", "free_pages_exact"), KMALLOC("kmalloc", "kfree"),
        KREALLOC("krealloc", "kfree"), CACHE("kmem_cache_alloc", "kmem_cache_free"), VMALLOC("vmalloc", "vfree"),
        VMAP("vmap", "vunmap"), KVMALLOC("kvmalloc", "kvfree");

        final String alloc;
        final String free;

        Kind(String alloc, String free) {
            this.alloc = alloc;
            this.free = free;
        }
    }

    private static final int ALLOCS = 0;
    private static final int NULLS = 1;
    private static final int FREES = 2;
    private static final int CROSS = 3;

    /** One live allocation. */
    static final class Obj {
        final Kind kind;
        final long id;
        final int order;
        final int gfp;
        final KmemCache cache;
        final long[] pages;
        long addr;
        long size;

        Obj(Kind kind, long id, long addr, long size, int order, int gfp, KmemCache cache, long[] pages) {
            this.kind = kind;
            this.id = id;
            this.addr = addr;
            this.size = size;
            this.order = order;
            this.gfp = gfp;
            this.cache = cache;
            this.pages = pages;
        }

        @Override
        public String toString() {
            String what = switch (kind) {
                case PAGES, PAGE -> kind.alloc + "(" + Gfp.names(gfp) + ", order " + order + ")";
                case CACHE -> "kmem_cache_alloc(" + cache.name() + ", " + Gfp.names(gfp) + ")";
                case VMAP -> "vmap of " + pages.length + " pages";
                default -> kind.alloc + "(" + size + ", " + Gfp.names(gfp) + ")";
            };
            return String.format(Locale.ROOT, "%s object #%d at 0x%x, %d bytes", what, id, addr, size);
        }
    }

    private final MemoryPool pool;
    private final Config cfg;
    private final PrintStream out;
    private final KmemCache[] caches;
    private final Worker[] workers;
    private final ConcurrentLinkedQueue<String> faults = new ConcurrentLinkedQueue<>();
    private final long budgetBytes;
    /** PFNs of hugetlb frames, sorted: read once, the pool grows only in 4 KiB frames here. */
    private final long[] hugetlbPfns;
    private volatile boolean stop;
    private long deadline;

    private Stress(MemoryPool pool, Config cfg, PrintStream out) {
        this.pool = pool;
        this.cfg = cfg;
        this.out = out;
        this.caches = new KmemCache[] {
            pool.kmem_cache_create("stress_obj", 40, 0, 0, null),
            pool.kmem_cache_create("stress_buf", 700, 0, SlabFlags.SLAB_HWCACHE_ALIGN, null),
            pool.kmem_cache_create("stress_debug", 120, 0, SlabFlags.SLAB_RED_ZONE | SlabFlags.SLAB_POISON
                    | SlabFlags.SLAB_CONSISTENCY_CHECKS, null)};
        this.hugetlbPfns = Workloads.hugetlbPfns(pool);
        this.workers = new Worker[cfg.threads()];
        this.budgetBytes = pool.frames() * PAGE / 2 / cfg.threads();
        for (int i = 0; i < workers.length; i++) {
            long quota = cfg.ops() / cfg.threads() + (i < cfg.ops() % cfg.threads() ? 1 : 0);
            workers[i] = new Worker(i, quota, new SplittableRandom(cfg.seed() * 0x9E3779B97F4A7C15L + i));
        }
    }

    /** Runs the stress on a pool built from {@code builder}; returns the exit status (0: no fault). */
    static int run(MemoryPool.Builder builder, Config cfg, PrintStream out) {
        try (MemoryPool pool = builder.name("stress").build()) {
            return new Stress(pool, cfg, out).run();
        }
    }

    private int run() {
        out.printf(Locale.ROOT, "kmem stress: %d threads, up to %d ops or %.1f s, pool '%s' of %d frames (%d MiB)%s,"
                        + " seed %d%n", cfg.threads(), cfg.ops(), cfg.millis() / 1e3, pool.name(), pool.frames(),
                pool.frames() >> 8, pool.physical() ? "" : " (unprivileged)", cfg.seed());
        long t0 = System.nanoTime();
        deadline = t0 + cfg.millis() * 1_000_000L;
        List<Thread> threads = new ArrayList<>();
        for (Worker w : workers) {
            Thread t = new Thread(w, "stress-" + w.index);
            threads.add(t);
            t.start();
        }
        Progress progress = new Progress(t0);
        for (Thread t : threads) {
            while (t.isAlive()) {
                try {
                    t.join(cfg.tty() ? 100 : 1000);
                } catch (InterruptedException e) {
                    stop = true;
                    Thread.currentThread().interrupt();
                }
                progress.show(false);
            }
        }
        progress.show(true);
        long nanos = System.nanoTime() - t0;
        long ops = 0;
        for (Worker w : workers) {
            ops += w.ops.get();
        }
        out.printf(Locale.ROOT, "stopped: %d ops in %.2f s (%s ops/s)%s%n", ops, nanos / 1e9,
                human(ops / Math.max(1e-9, nanos / 1e9)), !faults.isEmpty() ? ", at the first fault"
                        : ops >= cfg.ops() ? ", the --ops limit" : ", the --seconds limit");
        printCounts();
        verifyAtRest();
        if (faults.isEmpty()) {
            out.println("PASS: no fault");
            return 0;
        }
        out.println("FAIL: " + faults.size() + " fault" + (faults.size() == 1 ? "" : "s"));
        int n = 0;
        for (String f : faults) {
            if (++n > 20) {
                out.println("  ... " + (faults.size() - 20) + " more");
                break;
            }
            out.println("  " + n + ". " + f);
        }
        return 1;
    }

    private boolean hugetlb(long pfn) {
        return Arrays.binarySearch(hugetlbPfns, pfn) >= 0;
    }

    private void fault(String what) {
        faults.add(what);
        stop = true;
    }

    // ================================================================== the threads

    private final class Worker implements Runnable {
        final int index;
        final long quota;
        final SplittableRandom rnd;
        final List<Obj> live = new ArrayList<>();
        final ConcurrentLinkedQueue<Obj> inbox = new ConcurrentLinkedQueue<>();
        final long[][] counts = new long[Kind.values().length][4];
        final AtomicLong ops = new AtomicLong();
        final AtomicLong liveCount = new AtomicLong();
        long liveBytes;
        long nextId;
        boolean injected;

        Worker(int index, long quota, SplittableRandom rnd) {
            this.index = index;
            this.quota = quota;
            this.rnd = rnd;
            this.nextId = (long) index << 40;
        }

        @Override
        public void run() {
            long done = 0;
            while (!stop && done < quota) {
                if ((done & 63) == 0 && System.nanoTime() - deadline >= 0) {
                    break;
                }
                String op = "?";
                try {
                    op = "receiving handed-over objects";
                    receive();
                    if (cfg.inject() != null && index == 0 && !injected
                            && (done >= quota / 2 || System.nanoTime() - deadline >= -cfg.millis() * 500_000L)) {
                        injected = inject();
                    }
                    boolean mustFree = liveBytes > budgetBytes;
                    if (!live.isEmpty() && (mustFree || rnd.nextInt(100) < 45)) {
                        op = "free";
                        freeOne();
                    } else {
                        op = "allocation";
                        allocOne();
                    }
                } catch (RuntimeException | Error e) {
                    fault(Thread.currentThread().getName() + ", " + op + ": unexpected " + e.getClass().getSimpleName()
                            + ": " + e.getMessage());
                }
                done++;
                ops.setRelease(done);
                liveCount.setRelease(live.size());
            }
        }

        private long id() {
            return ++nextId;
        }

        private void count(Kind k, boolean ok) {
            counts[k.ordinal()][ok ? ALLOCS : NULLS]++;
        }

        private void keep(Obj o) {
            live.add(o);
            liveBytes += Math.max(o.size, 64);
        }

        private void receive() {
            for (int i = 0; i < 4; i++) {
                Obj o = inbox.poll();
                if (o == null) {
                    return;
                }
                if (rnd.nextBoolean()) {
                    free(o, true);
                } else {
                    check(o, "when handed over");
                    keep(o);
                }
            }
        }

        private void freeOne() {
            int i = rnd.nextInt(live.size());
            Obj o = live.get(i);
            live.set(i, live.getLast());
            live.removeLast();
            liveBytes -= Math.max(o.size, 64);
            if (workers.length > 1 && rnd.nextInt(4) == 0) {
                int to = rnd.nextInt(workers.length - 1);
                workers[to >= index ? to + 1 : to].inbox.add(o);
                return;
            }
            free(o, false);
        }

        private void free(Obj o, boolean crossThread) {
            check(o, "before " + o.kind.free);
            Stress.this.free(o);
            counts[o.kind.ordinal()][crossThread ? CROSS : FREES]++;
        }

        private boolean check(Obj o, String when) {
            String bad = verify(o);
            if (bad != null) {
                fault(Thread.currentThread().getName() + ", " + when + ": " + o + ": " + bad);
                return false;
            }
            return true;
        }

        /** One allocation; the weights are the percentages of allocations of each kind. */
        private void allocOne() {
            int r = rnd.nextInt(100);
            if (r < 14) {
                pages(Kind.PAGES);
            } else if (r < 19) {
                pages(Kind.PAGE);
            } else if (r < 22) {
                exact();
            } else if (r < 42) {
                kmalloc(1 + rnd.nextInt(192));
            } else if (r < 54) {
                kmalloc(193 + rnd.nextInt(8192 - 192));
            } else if (r < 57) {
                kmalloc(logUniform(8193, 1 << 20));
            } else if (r < 60) {
                krealloc();
            } else if (r < 75) {
                cache();
            } else if (r < 82) {
                vmalloc();
            } else if (r < 86) {
                vmap();
            } else {
                kvmalloc();
            }
        }

        private long logUniform(long lo, long hi) {
            double x = Math.exp(Math.log(lo) + rnd.nextDouble() * (Math.log(hi) - Math.log(lo)));
            return Math.clamp((long) x, lo, hi);
        }

        private int pickOrder() {
            int r = rnd.nextInt(100);
            int[] upTo = {40, 55, 67, 77, 83, 88, 92, 95, 97, 99, 100};
            for (int o = 0; o < upTo.length; o++) {
                if (r < upTo[o]) {
                    return o;
                }
            }
            return 0;
        }

        private int pickPageGfp(int order) {
            int r = rnd.nextInt(100);
            if (order >= 4 && r < 80) {
                return GFP_KERNEL | __GFP_NORETRY | __GFP_NOWARN;
            }
            return r < 40 ? GFP_KERNEL : r < 55 ? GFP_KERNEL | __GFP_ZERO : r < 75 ? GFP_ATOMIC | __GFP_NOWARN
                    : r < 85 ? GFP_NOWAIT | __GFP_NOWARN : GFP_KERNEL | __GFP_NORETRY | __GFP_NOWARN;
        }

        private void pages(Kind kind) {
            int order = pickOrder();
            int gfp = pickPageGfp(order);
            long page = 0;
            long a;
            if (kind == Kind.PAGE) {
                page = pool.alloc_pages(gfp, order);
                a = page == 0 ? 0 : pool.page_address(page);
            } else {
                a = pool.__get_free_pages(gfp, order);
            }
            count(kind, a != 0);
            if (a == 0) {
                return;
            }
            Obj o = new Obj(kind, id(), a, PAGE << order, order, gfp, null, kind == Kind.PAGE ? new long[] {page} : null);
            long pfn = pool.virt_to_pfn(a);
            if ((a & PAGE - 1) != 0 || (pfn & (1L << order) - 1) != 0) {
                fault("__get_free_pages returned " + o + " at pfn 0x" + Long.toHexString(pfn) + ": not aligned to"
                        + " its order");
            }
            adopt(o, (gfp & __GFP_ZERO) != 0);
        }

        private void exact() {
            long size = 1 + rnd.nextInt(16 * 4096);
            int gfp = rnd.nextBoolean() ? GFP_KERNEL : GFP_KERNEL | __GFP_ZERO;
            long a = pool.alloc_pages_exact(size, gfp);
            count(Kind.EXACT, a != 0);
            if (a != 0) {
                adopt(new Obj(Kind.EXACT, id(), a, size + PAGE - 1 & -PAGE, 0, gfp, null, null), (gfp & __GFP_ZERO) != 0);
            }
        }

        private int pickSlabGfp() {
            int r = rnd.nextInt(100);
            return r < 50 ? GFP_KERNEL : r < 70 ? GFP_ATOMIC | __GFP_NOWARN : r < 90 ? GFP_KERNEL | __GFP_ZERO
                    : GFP_NOWAIT | __GFP_NOWARN;
        }

        private void kmalloc(long size) {
            int gfp = pickSlabGfp();
            long p = pool.kmalloc(size, gfp);
            count(Kind.KMALLOC, p != 0);
            if (p == 0) {
                return;
            }
            Obj o = new Obj(Kind.KMALLOC, id(), p, size, 0, gfp, null, null);
            checkKmalloc(o);
            adopt(o, (gfp & __GFP_ZERO) != 0);
        }

        /**
         * kmalloc's guarantees: ksize at least the size; 8-byte alignment, power-of-two sizes
         * aligned to their size, whole pages above 8 KiB. krealloc keeps an object that is big
         * enough where it is, so only 8 bytes hold for it.
         */
        private void checkKmalloc(Obj o) {
            long align = o.kind == Kind.KREALLOC ? 8 : o.size > MemoryPool.KMALLOC_MAX_CACHE_SIZE ? PAGE
                    : Long.bitCount(o.size) == 1 ? Math.max(8, o.size) : 8;
            long ks = pool.ksize(o.addr);
            if ((o.addr & align - 1) != 0 || ks < o.size) {
                fault(o + ": expected alignment " + align + " and ksize >= " + o.size + ", got address 0x"
                        + Long.toHexString(o.addr) + " and ksize " + ks);
            }
        }

        private void krealloc() {
            Obj o = null;
            int at = -1;
            for (int tries = 0; tries < 4 && !live.isEmpty(); tries++) {
                int i = rnd.nextInt(live.size());
                if (live.get(i).kind == Kind.KMALLOC || live.get(i).kind == Kind.KREALLOC) {
                    o = live.get(i);
                    at = i;
                    break;
                }
            }
            if (o == null) {
                kmalloc(1 + rnd.nextInt(192));
                return;
            }
            if (!check(o, "before krealloc")) {
                return;
            }
            long newSize = rnd.nextBoolean() ? 1 + rnd.nextInt(4096) : logUniform(1, 64 << 10);
            int gfp = rnd.nextBoolean() ? GFP_KERNEL : GFP_ATOMIC | __GFP_NOWARN;
            long p = pool.krealloc(o.addr, newSize, gfp);
            count(Kind.KREALLOC, p != 0);
            if (p == 0) {
                return;
            }
            String bad = verify(pool.segment(p, Math.min(o.size, newSize)), o.id, o.size);
            Obj n = new Obj(Kind.KREALLOC, o.id, p, newSize, 0, gfp, null, null);
            if (bad != null) {
                fault(Thread.currentThread().getName() + ", krealloc of " + o + " to " + newSize + " bytes at 0x"
                        + Long.toHexString(p) + ": contents not kept: " + bad);
            }
            checkKmalloc(n);
            live.set(at, n);
            liveBytes += Math.max(newSize, 64) - Math.max(o.size, 64);
            write(n);
        }

        private void cache() {
            KmemCache c = caches[rnd.nextInt(10) < 7 ? rnd.nextInt(2) : 2];
            int gfp = pickSlabGfp();
            long p = (gfp & __GFP_ZERO) != 0 ? pool.kmem_cache_zalloc(c, gfp & ~__GFP_ZERO)
                    : pool.kmem_cache_alloc(c, gfp);
            count(Kind.CACHE, p != 0);
            if (p == 0) {
                return;
            }
            Obj o = new Obj(Kind.CACHE, id(), p, c.objectSize(), 0, gfp, c, null);
            if ((p & c.align() - 1) != 0) {
                fault(o + ": not aligned to the cache's " + c.align() + " bytes");
            }
            adopt(o, (gfp & __GFP_ZERO) != 0);
        }

        private void vmalloc() {
            long size = logUniform(1, 4 << 20);
            int r = rnd.nextInt(10);
            long a = r < 4 ? pool.vmalloc(size) : r < 8 ? pool.vzalloc(size) : pool.vmalloc_user(size);
            count(Kind.VMALLOC, a != 0);
            if (a != 0) {
                adopt(new Obj(Kind.VMALLOC, id(), a, size, 0, r < 4 ? GFP_KERNEL : GFP_KERNEL | __GFP_ZERO, null,
                        null), r >= 4);
            }
        }

        /**
         * vmap of 1 to 16 pages from alloc_page. Pages of hugetlb frames are set aside: vmap
         * maps a hugetlb page only whole, and a stray frame of one is refused (a caller's bug).
         */
        private void vmap() {
            int n = 1 + rnd.nextInt(16);
            long[] pages = new long[n];
            List<Long> aside = new ArrayList<>();
            int got = 0;
            while (got < n && aside.size() < 4 * n) {
                long p = pool.alloc_page(GFP_KERNEL | __GFP_NOWARN);
                if (p == 0) {
                    break;
                }
                if (hugetlb(pool.page_to_pfn(p))) {
                    aside.add(p);
                } else {
                    pages[got++] = p;
                }
            }
            for (long p : aside) {
                pool.__free_page(p);
            }
            if (got < n) {
                for (int k = 0; k < got; k++) {
                    pool.__free_page(pages[k]);
                }
                if (aside.size() < 4 * n) {
                    count(Kind.VMAP, false);
                }
                return;
            }
            long a = pool.vmap(pages, n);
            count(Kind.VMAP, a != 0);
            if (a == 0) {
                for (long p : pages) {
                    pool.__free_page(p);
                }
                return;
            }
            Obj o = new Obj(Kind.VMAP, id(), a, n * PAGE, 0, GFP_KERNEL, null, pages);
            adopt(o, false);
            String bad = verifyVmapAlias(o);
            if (bad != null) {
                fault(o + ": " + bad);
            }
        }

        private void kvmalloc() {
            long size = logUniform(1024, 2 << 20);
            int gfp = rnd.nextBoolean() ? GFP_KERNEL : GFP_KERNEL | __GFP_ZERO;
            long a = pool.kvmalloc(size, gfp);
            count(Kind.KVMALLOC, a != 0);
            if (a != 0) {
                adopt(new Obj(Kind.KVMALLOC, id(), a, size, 0, gfp, null, null), (gfp & __GFP_ZERO) != 0);
            }
        }

        /** Checks zeroed memory when asked for, writes the pattern, keeps the object. */
        private void adopt(Obj o, boolean zeroed) {
            if (zeroed) {
                long at = zeroMismatch(pool.segment(o.addr, o.size));
                if (at >= 0) {
                    fault(o + ": asked zeroed, byte " + at + " is not zero");
                }
            }
            write(o);
            keep(o);
        }

        /**
         * Test hook (--inject): a stray write into a live object (one krealloc never resizes,
         * so that the byte stays checked), or two allocations nobody frees. Returns true once
         * done.
         */
        private boolean inject() {
            if (cfg.inject().equals("leak")) {
                long p = pool.kmalloc(64, GFP_KERNEL);
                long a = pool.__get_free_page(GFP_KERNEL);
                out.printf(Locale.ROOT, "injected: leaked kmalloc(64) at 0x%x and a page at 0x%x: never freed%n", p, a);
                return true;
            }
            for (Obj o : live) {
                if (o.size >= 16 && o.size <= FULL && (o.kind == Kind.CACHE || o.kind == Kind.PAGES
                        || o.kind == Kind.PAGE || o.kind == Kind.EXACT)) {
                    long off = o.size / 2 & -8L;
                    MemorySegment b = pool.segment(o.addr + off, 1);
                    b.set(ValueLayout.JAVA_BYTE, 0, (byte) ~b.get(ValueLayout.JAVA_BYTE, 0));
                    out.printf(Locale.ROOT, "injected: flipped the byte at offset %d of %s%n", off, o);
                    return true;
                }
            }
            return false;
        }
    }

    // ================================================================== patterns

    static long mix(long id, long off) {
        long x = id * 0x9E3779B97F4A7C15L ^ off * 0xC2B2AE3D27D4EB4FL;
        x ^= x >>> 31;
        x *= 0xBF58476D1CE4E5B9L;
        return x ^ x >>> 29;
    }

    /** The offsets of an object of {@code size} bytes that hold pattern words (see the class comment). */
    private static boolean patterned(long size, long off) {
        if (size <= FULL || off < PAGE || off >= (size - 1 & -PAGE)) {
            return true;
        }
        long inPage = off & PAGE - 1;
        return inPage == 0 || inPage == PAGE - 8;
    }

    private void write(Obj o) {
        MemorySegment s = pool.segment(o.addr, o.size);
        long n = o.size;
        for (long off = 0; off + 8 <= n; off += 8) {
            if (patterned(n, off)) {
                s.set(WORD, off, mix(o.id, off));
            } else {
                off = (off | PAGE - 1) - 15;
            }
        }
        for (long off = n & -8L; off < n; off++) {
            s.set(ValueLayout.JAVA_BYTE, off, (byte) mix(o.id, off));
        }
    }

    /** Null when {@code o} holds its pattern, else what differs. */
    private String verify(Obj o) {
        return verify(pool.segment(o.addr, o.size), o.id, o.size);
    }

    /** Checks the pattern of an object of {@code size} bytes over the first {@code s.byteSize()} bytes. */
    private static String verify(MemorySegment s, long id, long size) {
        long n = s.byteSize();
        for (long off = 0; off + 8 <= Math.min(n, size & -8L); off += 8) {
            if (patterned(size, off)) {
                long got = s.get(WORD, off);
                if (got != mix(id, off)) {
                    return String.format(Locale.ROOT, "contents differ at offset %d: expected 0x%016x, found 0x%016x",
                            off, mix(id, off), got);
                }
            } else {
                off = (off | PAGE - 1) - 15;
            }
        }
        for (long off = size & -8L; off < Math.min(n, size); off++) {
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

    private void free(Obj o) {
        switch (o.kind) {
            case PAGES -> pool.free_pages(o.addr, o.order);
            case PAGE -> pool.__free_pages(o.pages[0], o.order);
            case EXACT -> pool.free_pages_exact(o.addr, o.size);
            case KMALLOC, KREALLOC -> pool.kfree(o.addr);
            case CACHE -> pool.kmem_cache_free(o.cache, o.addr);
            case VMALLOC -> pool.vfree(o.addr);
            case VMAP -> {
                String bad = verifyVmapAlias(o);
                if (bad != null) {
                    fault(Thread.currentThread().getName() + ", before vunmap: " + o + ": " + bad);
                }
                pool.vunmap(o.addr);
                for (long p : o.pages) {
                    pool.__free_page(p);
                }
            }
            case KVMALLOC -> pool.kvfree(o.addr);
        }
    }

    // ================================================================== final verification

    private void verifyAtRest() {
        List<Obj> all = new ArrayList<>();
        for (Worker w : workers) {
            all.addAll(w.live);
            for (Obj o; (o = w.inbox.poll()) != null; ) {
                all.add(o);
            }
        }
        out.println("final verification:");
        int bad = 0;
        for (Obj o : all) {
            String b = verify(o);
            if (b != null && bad++ < 20) {
                fault("at rest: " + o + ": " + b);
            }
        }
        line("contents of " + all.size() + " live objects", bad == 0 ? "ok" : bad + " differ");
        pagemapSamples(all);
        int freed = 0;
        int thrown = 0;
        for (Obj o : all) {
            try {
                free(o);
                freed++;
            } catch (RuntimeException e) {
                if (thrown++ < 20) {
                    fault("freeing " + o + " at rest: unexpected " + e.getClass().getSimpleName() + ": "
                            + e.getMessage());
                }
            }
        }
        line("freed every live object from one thread (" + freed + ")", thrown == 0 ? "ok" : thrown + " threw");
        List<String> leaks = new ArrayList<>();
        for (KmemCache c : caches) {
            pool.kmem_cache_destroy(c);
        }
        pool.drain_all_pages();
        pool.flushSlabs();
        pool.shrinkSlabs();
        pool.drain_all_pages();
        for (SlabCacheStats s : pool.slabStats()) {
            if (s.activeObjs() > 0) {
                leaks.add(s.name() + ": " + s.activeObjs() + " objects");
            }
        }
        expect("kmem_cache_destroy of the stress caches; no slab object left", leaks.isEmpty() && isDestroyed(),
                "still allocated: " + leaks + (isDestroyed() ? "" : "; a stress cache was not destroyed"));
        expectEmpty("checkPageAllocator", pool.checkPageAllocator());
        expectEmpty("validateSlabs", pool.validateSlabs());
        expectEmpty("checkVmalloc", pool.checkVmalloc());
        expectEmpty("SLUB reports (takeSlabReports)", pool.takeSlabReports());
        var v = pool.vmallocStats();
        expect("vmalloc areas left", v.areas() == 0 && v.pagesMapped() == 0,
                v.areas() + " areas, " + v.pagesMapped() + " pages still mapped");
        var large = pool.slabLargeStats();
        expect("large kmalloc: allocations == frees", large.largeAllocs() == large.largeFrees(),
                large.largeAllocs() + " allocations, " + large.largeFrees() + " frees");
        long free = 0;
        long managed = 0;
        for (ZoneStats z : pool.zoneStats()) {
            free += z.free() + z.cached();
            managed += z.managed();
        }
        expect("free frames == managed frames (" + free + " == " + managed + ")", free == managed,
                (managed - free) + " frames unaccounted for: leaked by an allocator or never freed");
    }

    private boolean isDestroyed() {
        for (SlabCacheStats s : pool.slabStats()) {
            if (s.name().startsWith("stress_")) {
                return false;
            }
        }
        return true;
    }

    /** pagemap, page by page, for up to {@link #SAMPLES} objects spread over the live ones. */
    private void pagemapSamples(List<Obj> all) {
        if (!pool.physical()) {
            line("pagemap samples", "skipped: an unprivileged pool has no physical addresses");
            return;
        }
        int objects = 0;
        long pages = 0;
        int wrong = 0;
        int step = Math.max(1, all.size() / SAMPLES);
        for (int i = 0; i < all.size(); i += step) {
            Obj o = all.get(i);
            objects++;
            for (long a = o.addr & -PAGE; a < o.addr + o.size; a += PAGE) {
                long want = switch (o.kind) {
                    case VMALLOC -> pool.vmalloc_to_pfn(a);
                    case VMAP -> pool.page_to_pfn(o.pages[(int) ((a - o.addr) / PAGE)]);
                    case KVMALLOC -> pool.is_vmalloc_addr(a) ? pool.vmalloc_to_pfn(a)
                            : pool.virt_to_pfn(o.addr) + ((a - (o.addr & -PAGE)) >>> 12);
                    default -> pool.virt_to_pfn(o.addr) + ((a - (o.addr & -PAGE)) >>> 12);
                };
                long seen = pool.pagemapPfn(a);
                pages++;
                if (seen != want && wrong++ < 5) {
                    fault(String.format(Locale.ROOT, "pagemap: page at 0x%x of %s is at pfn 0x%x, the allocator says"
                            + " 0x%x%s", a, o, seen, want, o.kind == Kind.VMALLOC || o.kind == Kind.VMAP ? ""
                            : " (a direct-map object must be physically contiguous)"));
                }
            }
        }
        line("pagemap of " + objects + " sampled objects (" + pages + " pages)", wrong == 0 ? "ok"
                : wrong + " pages differ");
    }

    private void expectEmpty(String what, List<String> problems) {
        expect(what, problems.isEmpty(), problems.size() + " problems: " + String.join("; ",
                problems.subList(0, Math.min(5, problems.size()))));
    }

    private void expect(String what, boolean ok, String otherwise) {
        line(what, ok ? "ok" : "FAULT");
        if (!ok) {
            faults.add(what + ": " + otherwise);
        }
    }

    private void line(String what, String result) {
        out.printf(Locale.ROOT, "  %-62s %s%n", what, result);
    }

    private void printCounts() {
        long[][] sum = new long[Kind.values().length][4];
        for (Worker w : workers) {
            for (int k = 0; k < sum.length; k++) {
                for (int j = 0; j < 4; j++) {
                    sum[k][j] += w.counts[k][j];
                }
            }
        }
        out.printf(Locale.ROOT, "  %-34s %10s %8s %10s %12s%n", "operation (alloc / free)", "allocs", "NULL", "frees",
                "cross-thread");
        for (Kind k : Kind.values()) {
            long[] c = sum[k.ordinal()];
            out.printf(Locale.ROOT, "  %-34s %10d %8d %10d %12d%n", k.alloc + " / " + k.free, c[ALLOCS], c[NULLS],
                    c[FREES], c[CROSS]);
        }
        var s = pool.pageStats();
        out.printf(Locale.ROOT, "  page allocator slow paths: %d growths (%d frames), %d harvests (%d hit), %d waits"
                + " (%.1f ms); %d NULL in all (vmalloc's opportunistic high-order tries included)%n", s.growths(),
                s.grownFrames(), s.harvests(), s.harvestHits(), s.waits(), s.waitNanos() / 1e6, s.failures());
    }

    static String human(double x) {
        return x >= 1e6 ? String.format(Locale.ROOT, "%.2fM", x / 1e6) : x >= 1e3
                ? String.format(Locale.ROOT, "%.0fk", x / 1e3) : String.format(Locale.ROOT, "%.0f", x);
    }

    // ================================================================== progress

    /** A bar redrawn in place on a terminal; a plain line a second otherwise. */
    private final class Progress {
        private final long t0;
        private long lastOps;
        private long lastNanos;

        Progress(long t0) {
            this.t0 = t0;
            this.lastNanos = t0;
        }

        void show(boolean last) {
            long now = System.nanoTime();
            if (!last && now - lastNanos < (cfg.tty() ? 90_000_000L : 990_000_000L)) {
                return;
            }
            long ops = 0;
            long live = 0;
            for (Worker w : workers) {
                ops += w.ops.getAcquire();
                live += w.liveCount.getAcquire();
            }
            long free = 0;
            long managed = 0;
            for (ZoneStats z : pool.zoneStats()) {
                free += z.free() + z.cached();
                managed += z.managed();
            }
            double elapsed = (now - t0) / 1e9;
            double rate = (ops - lastOps) / Math.max(1e-9, (now - lastNanos) / 1e9);
            if (last) {
                rate = ops / Math.max(1e-9, elapsed);
            }
            lastOps = ops;
            lastNanos = now;
            double frac = Math.min(1, Math.max((double) ops / Math.max(1, cfg.ops()), elapsed * 1e3 / cfg.millis()));
            String figures = String.format(Locale.ROOT, "%3.0f%%  %7s ops/s  live %6d  frames %d/%d  %.1fs", frac * 100,
                    human(rate), live, managed - free, managed, elapsed);
            if (cfg.tty()) {
                int width = 30;
                int fill = (int) Math.round(frac * width);
                out.print("\r[" + "#".repeat(fill) + "-".repeat(width - fill) + "] " + figures + "\033[K"
                        + (last ? "\n" : ""));
                out.flush();
            } else if (!last) {
                out.println("progress: " + figures);
            }
        }
    }
}
