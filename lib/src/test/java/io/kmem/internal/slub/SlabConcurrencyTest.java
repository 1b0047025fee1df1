package io.kmem.internal.slub;

import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.kmem.KmemCache;
import io.kmem.MemoryPool;
import io.kmem.SlabFlags;
import io.kmem.stats.SlabCacheStats;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The slab allocator under several threads: each allocates kmalloc objects (slab classes and
 * large) and objects of three kmem_caches (a plain one, an aligned one with a constructor, a
 * debug one), frees some itself and hands a share to the other threads through their inboxes,
 * to be freed there (cross-thread frees: the slow path into another thread's frozen slab,
 * remote frees into partial and full slabs, large kmalloc freed into another thread's page
 * cache).
 *
 * <p>Every object carries a pattern that names its allocator (thread, serial number) and is
 * checked by whoever frees it. A concurrent set holds the live addresses: an address handed
 * out while live fails the test at once, as does a free of an address not live. At the end
 * every allocation has been freed exactly once, the worker threads have ended (their slabs
 * are reaped by the main thread's {@code flushSlabs}; half the workers flush their own first),
 * and every cache is at rest: no active object or slab, {@code validateSlabs} and the SLUB
 * reports empty, the caches destroyed without a report.
 */
class SlabConcurrencyTest {
    private static final long MIB = 1L << 20;
    private static final long[] KMALLOC_SIZES = {1, 8, 24, 40, 64, 96, 100, 192, 200, 256, 500, 1024, 2000, 4096, 5000,
            8192, 8193, 20000};
    /** Steps per worker; raise it for a longer soak: -Dkmem.test.jvmArgs=-Dkmem.slabConcurrencyOps=1000000. */
    private static final int OPS = Integer.getInteger("kmem.slabConcurrencyOps", 40_000);
    private static final int HELD_MAX = 200;
    /**
     * Live objects (held and in inboxes) per worker at most; past it a worker only frees what
     * it was handed. Without it a descheduled worker's inbox grows until the pool is full.
     */
    private static final int LIVE_PER_THREAD = 1000;
    private static final Duration LIMIT = Duration.ofSeconds(Math.max(60, OPS / 5_000));

    /** An object in flight: where, how big, from which allocator, and whose pattern it holds. */
    record Obj(long addr, long size, int cache, int owner, long serial) {
        long tag() {
            return (long) owner << 40 | serial;
        }

        String describe() {
            return "0x" + Long.toHexString(addr) + " (" + size + " bytes, " + (cache < 0 ? "kmalloc" : "cache #"
                    + cache) + ", allocated by worker " + owner + " as its #" + serial + ")";
        }
    }

    @ParameterizedTest(name = "{0} threads, seed {1}")
    @CsvSource({"2, 1", "3, 2", "4, 3"})
    void crossThreadFreesLoseNothingAndDoubleNothing(int threads, long seed) throws Exception {
        try (MemoryPool pool = MemoryPool.builder().name("slab-conc").smallPages(64 * MIB).build()) {
            List<KmemCache> caches = List.of(
                    pool.kmem_cache_create("conc_plain48", 48, 0, 0, null),
                    pool.kmem_cache_create("conc_ctor256", 256, 64, SlabFlags.SLAB_HWCACHE_ALIGN,
                            seg -> seg.fill((byte) 0xc7)),
                    pool.kmem_cache_create("conc_debug100", 100, 0, SlabFlags.SLAB_RED_ZONE | SlabFlags.SLAB_POISON
                            | SlabFlags.SLAB_CONSISTENCY_CHECKS, null));
            Run run = new Run(pool, caches, threads, seed);
            run.go();

            // Every worker has ended: the main thread's flush reaps their slabs.
            pool.flushSlabs();
            assertEquals(run.allocated.get(), run.freed.get(), "every allocation freed exactly once");
            assertTrue(run.live.isEmpty(), () -> run.live.size() + " addresses still live");
            assertTrue(run.crossFrees.get() > 0, "some objects were freed by another thread than their allocator's");
            for (SlabCacheStats s : pool.slabStats()) {
                assertEquals(0, s.activeObjs(), () -> "after every free and flushSlabs: " + s);
                assertEquals(0, s.activeSlabs(), () -> "after every free and flushSlabs: " + s);
            }
            List<String> problems = pool.validateSlabs();
            assertTrue(problems.isEmpty(), () -> "validateSlabs: " + problems);
            List<String> reports = pool.takeSlabReports();
            assertTrue(reports.isEmpty(), () -> "SLUB reports: " + reports);
            for (KmemCache c : caches) {
                pool.kmem_cache_shrink(c);
                pool.kmem_cache_destroy(c);
                assertTrue(pool.slabStats().stream().noneMatch(s -> s.name().equals(c.name())),
                        () -> c.name() + " still listed after kmem_cache_destroy");
            }
            List<String> after = pool.takeSlabReports();
            assertTrue(after.isEmpty(), () -> "kmem_cache_destroy reported: " + after);
            List<String> buddy = pool.checkPageAllocator();
            assertTrue(buddy.isEmpty(), () -> "checkPageAllocator: " + buddy);
            System.out.println("slab concurrency, " + threads + " threads: " + run.allocated.get() + " allocations ("
                    + run.largeAllocs.get() + " large), " + run.crossFrees.get() + " freed by another thread");
        }
    }

    /** One run: the workers, their inboxes and the books. */
    static final class Run {
        final MemoryPool pool;
        final List<KmemCache> caches;
        final int threads;
        final long seed;
        final Set<Long> live = ConcurrentHashMap.newKeySet();
        final List<ConcurrentLinkedQueue<Obj>> inbox = new ArrayList<>();
        final AtomicLong allocated = new AtomicLong();
        final AtomicLong freed = new AtomicLong();
        final AtomicLong crossFrees = new AtomicLong();
        final AtomicLong largeAllocs = new AtomicLong();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        /** Workers still in their loop, handing objects over. */
        final AtomicInteger handing;

        Run(MemoryPool pool, List<KmemCache> caches, int threads, long seed) {
            this.pool = pool;
            this.caches = caches;
            this.threads = threads;
            this.seed = seed;
            for (int t = 0; t < threads; t++) {
                inbox.add(new ConcurrentLinkedQueue<>());
            }
            this.handing = new AtomicInteger(threads);
        }

        void go() throws InterruptedException {
            List<Thread> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int id = t;
                workers.add(Thread.ofPlatform().name("slab-worker-" + t).start(() -> {
                    try {
                        work(id);
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                }));
            }
            long deadline = System.nanoTime() + LIMIT.toNanos();
            for (Thread w : workers) {
                w.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
            }
            for (Thread w : workers) {
                if (w.isAlive()) {
                    String stacks = Arrays.toString(w.getStackTrace()).replace(", ", "\n  ");
                    workers.forEach(Thread::interrupt);
                    fail(w.getName() + " still running after " + LIMIT + "; stack:\n  " + stacks);
                }
            }
            Throwable f = failure.get();
            if (f instanceof AssertionError e) {
                throw e;
            }
            if (f != null) {
                throw new AssertionError("a worker failed: " + f, f);
            }
        }

        /**
         * OPS steps of: allocate (kmalloc of a size from {@link #KMALLOC_SIZES} or a cache
         * object) and fill; free one of the held objects here; hand one to another worker;
         * free what others handed here (also every 16 steps); rarely, free everything held
         * (slabs empty out and go back to the buddy), flushSlabs (others' slabs are asked to
         * flush at their next slow path) or kmem_cache_shrink while the others run. Then, once
         * every worker is done handing over, free what is left; even workers flush their own
         * slabs, odd ones leave theirs to be reaped.
         */
        private void work(int id) throws Exception {
            Random rnd = new Random(seed * 1_000_003 + id);
            List<Obj> held = new ArrayList<>();
            long serial = 0;
            for (int op = 0; op < OPS; op++) {
                int r = rnd.nextInt(100);
                boolean full = live.size() >= LIVE_PER_THREAD * threads;
                if ((op & 15) == 0 || full) {
                    drainInbox(id);
                }
                if (r < 50 && held.size() < HELD_MAX && !full) {
                    held.add(allocate(id, serial++, rnd));
                } else if (r < 72 && !held.isEmpty()) {
                    free(id, held.remove(rnd.nextInt(held.size())));
                } else if (r < 92 && !held.isEmpty()) {
                    int to = (id + 1 + rnd.nextInt(threads - 1)) % threads;
                    inbox.get(to).add(held.remove(rnd.nextInt(held.size())));
                } else if (r < 98) {
                    drainInbox(id);
                } else if (r == 98) {
                    while (!held.isEmpty()) {
                        free(id, held.removeLast());
                    }
                } else if (rnd.nextBoolean()) {
                    pool.flushSlabs();
                } else {
                    pool.kmem_cache_shrink(caches.get(rnd.nextInt(caches.size())));
                }
                if (failure.get() != null) {
                    handing.decrementAndGet();
                    return;
                }
            }
            handing.decrementAndGet();
            while (handing.get() > 0 && failure.get() == null) {
                drainInbox(id);
                LockSupport.parkNanos(20_000);
            }
            drainInbox(id);
            for (Obj o : held) {
                free(id, o);
            }
            if (id % 2 == 0) {
                pool.flushSlabs();
            }
        }

        private Obj allocate(int id, long serial, Random rnd) {
            int kind = rnd.nextInt(KMALLOC_SIZES.length + caches.size());
            Obj o;
            if (kind < KMALLOC_SIZES.length) {
                long size = KMALLOC_SIZES[kind];
                long p = pool.kmalloc(size, GFP_KERNEL);
                if (p == 0) {
                    throw new AssertionError("kmalloc(" + size + ") = NULL in a 64 MiB pool\n" + state());
                }
                assertTrue(pool.ksize(p) >= size, () -> "ksize " + pool.ksize(p) + " < " + size);
                o = new Obj(p, size, -1, id, serial);
                if (size > MemoryPool.KMALLOC_MAX_CACHE_SIZE) {
                    largeAllocs.incrementAndGet();
                }
            } else {
                int ci = kind - KMALLOC_SIZES.length;
                KmemCache c = caches.get(ci);
                long p = pool.kmem_cache_alloc(c, GFP_KERNEL);
                if (p == 0) {
                    throw new AssertionError("kmem_cache_alloc(" + c.name() + ") = NULL in a 64 MiB pool\n" + state());
                }
                assertEquals(0, p % c.align(), () -> c.name() + " object 0x" + Long.toHexString(p) + " misaligned");
                o = new Obj(p, c.objectSize(), ci, id, serial);
            }
            if (!live.add(o.addr())) {
                throw new AssertionError("handed out while live: " + o.describe());
            }
            allocated.incrementAndGet();
            write(segment(o), o.tag());
            return o;
        }

        /** Checks the pattern, takes the address out of the live set, then frees (so no other thread can be handed it first). */
        private void free(int id, Obj o) {
            MemorySegment seg = segment(o);
            long bad = mismatch(seg, o.tag());
            if (bad >= 0) {
                long word0 = seg.get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
                throw new AssertionError("worker " + id + " frees " + o.describe() + ": byte " + bad + " differs from"
                        + " its pattern; the first word names tag 0x" + Long.toHexString(word0 >>> 8));
            }
            if (!live.remove(o.addr())) {
                throw new AssertionError("worker " + id + " frees " + o.describe() + ", which is not live");
            }
            if (o.cache() < 0) {
                pool.kfree(o.addr());
            } else if ((o.serial() & 3) == 0) {
                pool.kfree(o.addr());
            } else {
                pool.kmem_cache_free(caches.get(o.cache()), o.addr());
            }
            freed.incrementAndGet();
            if (o.owner() != id) {
                crossFrees.incrementAndGet();
            }
        }

        /** For a NULL: what is live, and the page allocator's and slab layer's view. */
        private String state() {
            return live.size() + " objects live\n" + pool.buddyinfo() + pool.zoneinfo() + pool.slabinfo();
        }

        private void drainInbox(int id) {
            for (Obj o; (o = inbox.get(id).poll()) != null; ) {
                free(id, o);
            }
        }

        private MemorySegment segment(Obj o) {
            return pool.segment(o.addr(), o.size());
        }
    }

    /** Word 0 is the tag shifted left by 8 with a size byte (it names the allocator); the rest a mix of tag and index. */
    static void write(MemorySegment seg, long tag) {
        long len = seg.byteSize();
        for (long off = 0; off + 8 <= len; off += 8) {
            seg.set(ValueLayout.JAVA_LONG_UNALIGNED, off, word(tag, off >>> 3));
        }
        long last = word(tag, len >>> 3);
        for (long b = len & -8L; b < len; b++) {
            seg.set(ValueLayout.JAVA_BYTE, b, (byte) (last >>> ((b & 7) << 3)));
        }
    }

    static long mismatch(MemorySegment seg, long tag) {
        long len = seg.byteSize();
        for (long off = 0; off + 8 <= len; off += 8) {
            long got = seg.get(ValueLayout.JAVA_LONG_UNALIGNED, off);
            long want = word(tag, off >>> 3);
            if (got != want) {
                return off + Long.numberOfTrailingZeros(got ^ want) / 8;
            }
        }
        long last = word(tag, len >>> 3);
        for (long b = len & -8L; b < len; b++) {
            if (seg.get(ValueLayout.JAVA_BYTE, b) != (byte) (last >>> ((b & 7) << 3))) {
                return b;
            }
        }
        return -1;
    }

    static long word(long tag, long i) {
        if (i == 0) {
            return tag << 8 | 0x5c;
        }
        long x = tag * 0x9E3779B97F4A7C15L + i;
        x ^= x >>> 31;
        return x * 0xBF58476D1CE4E5B9L;
    }
}
