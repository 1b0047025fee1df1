package io.kmem.internal.slub;

import static io.kmem.testing.PropertySupport.actionWhen;
import static io.kmem.testing.PropertySupport.firstFew;
import static io.kmem.testing.PropertySupport.pattern;
import static io.kmem.testing.PropertySupport.patternMismatch;
import static io.kmem.testing.PropertySupport.require;
import static io.kmem.testing.PropertySupport.runAndClose;
import static io.kmem.testing.PropertySupport.writePattern;
import static io.kmem.gfp.Gfp.GFP_ATOMIC;
import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static io.kmem.gfp.Gfp.GFP_NOWAIT;
import static io.kmem.gfp.Gfp.__GFP_NOWARN;

import io.kmem.KmemCache;
import io.kmem.GfpApi;
import io.kmem.MemoryPool;
import io.kmem.SlabFlags;
import io.kmem.gfp.Gfp;
import io.kmem.stats.KmemObjInfo;
import io.kmem.stats.SlabCacheStats;
import io.kmem.stats.ZoneStats;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;
import io.kmem.testing.PropertySupport.Recent;
import io.kmem.testing.PropertySupport.Tallies;
import net.jqwik.api.AfterFailureMode;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.lifecycle.AfterProperty;
import net.jqwik.api.lifecycle.BeforeProperty;
import net.jqwik.api.state.Action;
import net.jqwik.api.state.ActionChain;
import net.jqwik.api.state.Transformer;

/**
 * The slab allocator against a model, on real frames (run as root): jqwik {@link ActionChain}s
 * of kmalloc, kzalloc, kcalloc, kmalloc_array, krealloc, kfree and the kmem_cache_* calls
 * (single and bulk) on three caches made at the start of each chain, checked step by step
 * against a sorted map of the live objects.
 *
 * <h2>Model</h2>
 * {@link Model#live}: every object the test holds, keyed by its address, with the size asked
 * for, the usable size ({@code ksize}) the rules below predict, the cache it must come from
 * and the tag of the pattern written over all its usable bytes when it was handed out. The
 * pool (32 MiB of 4 KiB frames) is built per try and closed after it; the chain then frees
 * what is left and checks that the slab layer is back at rest.
 *
 * <h2>The caches</h2>
 * <ul>
 *   <li>{@value #CACHE_HW}: 40-byte objects, {@code SLAB_HWCACHE_ALIGN}: aligned to 64.</li>
 *   <li>{@value #CACHE_CTOR}: 200-byte objects aligned to 32, with a constructor that fills
 *       the object with 0xc7: an object from a fresh slab carries it; one that was allocated
 *       before comes back as it was freed, unless a slab of the cache went back to the buddy
 *       since (then it may be constructed anew).</li>
 *   <li>{@value #CACHE_DEBUG}: 360-byte objects aligned to 128, red zones, poisoning and
 *       consistency checks: the debug paths, with every red zone and poison byte checked by
 *       {@code validateSlabs} after every step.</li>
 * </ul>
 *
 * <h2>Determinism</h2>
 * Each property has a fixed seed, so the actions of every chain are the same in every run;
 * an action that picks a live object picks it by position in allocation order (modulo the
 * number live), not by address. The addresses themselves depend on the frames the kernel
 * gives, which no check relies on.
 *
 * <h2>Labelled checks</h2>
 * Each failure message starts with the label of the check in brackets.
 * <ul>
 *   <li>On every object handed out: {@value #NOT_NULL}, {@value #RIGHT_CACHE},
 *       {@value #ALIGNED}, {@value #NO_OVERLAP}, {@value #CONTIGUOUS}, {@value #ZEROED}
 *       (kzalloc, kcalloc, kmem_cache_zalloc: all {@code ksize} bytes), {@value #CTOR}
 *       ({@value #CACHE_CTOR}), {@value #POISON_NEW} ({@value #CACHE_DEBUG}); then the pattern
 *       is written. {@value #ZERO_SIZE}: kmalloc(0), a count of 0, krealloc to 0 give
 *       ZERO_SIZE_PTR (16), whose ksize is 0 and whose kfree does nothing.</li>
 *   <li>On every free and krealloc, and at the end: {@value #PATTERN} over all usable bytes;
 *       {@value #REALLOC}: same address when the new size fits {@code ksize}, contents kept
 *       up to the smaller size, 0 frees and returns ZERO_SIZE_PTR, above KMALLOC_MAX_SIZE
 *       NULL with the object kept.</li>
 *   <li>After every step ({@code withInvariant}): {@value #NO_OVERLAP}, {@value #RIGHT_CACHE}
 *       ({@code kmem_obj_info} of the first and last byte, {@code ksize}), {@value #ALIGNED},
 *       {@value #CONTIGUOUS} (every page of every live object, read back from
 *       /proc/self/pagemap), {@value #PATTERN} (first and last word of every live object),
 *       {@value #COUNTS} (each cache's {@code activeObjs} is the model's count),
 *       {@value #VALIDATE} ({@code validateSlabs}, {@code takeSlabReports} empty).</li>
 *   <li>On {@code kmem_cache_shrink}: {@value #SHRINK}: the pages it reports are back in
 *       the page allocator and the cache keeps no empty slab.</li>
 *   <li>At the end: {@value #AT_REST}: everything freed, {@code validateSlabs} and
 *       {@code takeSlabReports} empty, after {@code flushSlabs} every cache's
 *       {@code activeObjs} and {@code activeSlabs} 0, the three caches destroyed without a
 *       report, the page allocator consistent.</li>
 * </ul>
 */
class SlabAllocatorProperties {
    private static final long MIB = 1L << 20;
    private static final int PAGE = 4096;
    private static final long ZERO_SIZE_PTR = MemoryPool.ZERO_SIZE_PTR;
    private static final int LARGEST_LARGE = 65536;

    static final String NOT_NULL = "no NULL while the pool has room";
    static final String RIGHT_CACHE = "object of the right cache";
    static final String ALIGNED = "aligned";
    static final String NO_OVERLAP = "no overlap";
    static final String CONTIGUOUS = "physically contiguous according to pagemap";
    static final String ZEROED = "zeroed allocations are zero";
    static final String CTOR = "constructed or as freed";
    static final String POISON_NEW = "new objects of a poisoned cache read 0x5a";
    static final String PATTERN = "contents intact until free";
    static final String REALLOC = "krealloc keeps contents";
    static final String ZERO_SIZE = "size 0 is ZERO_SIZE_PTR";
    static final String COUNTS = "activeObjs equals the live objects";
    static final String VALIDATE = "validateSlabs and reports empty";
    static final String SHRINK = "kmem_cache_shrink gives back empty slabs";
    static final String AT_REST = "at rest after freeing everything";

    static final String CACHE_HW = "props_hw40";
    static final String CACHE_CTOR = "props_ctor200";
    static final String CACHE_DEBUG = "props_debug360";
    static final byte CTOR_BYTE = (byte) 0xc7;
    static final byte POISON_INUSE = 0x5a;

    /** A cache made at the start of every chain, and the alignment its objects must have. */
    record Spec(String name, long size, long align, int flags, boolean ctor, long expectAlign) {
    }

    static final List<Spec> SPECS = List.of(
            new Spec(CACHE_HW, 40, 0, SlabFlags.SLAB_HWCACHE_ALIGN, false, 64),
            new Spec(CACHE_CTOR, 200, 32, 0, true, 32),
            new Spec(CACHE_DEBUG, 360, 128, SlabFlags.SLAB_RED_ZONE | SlabFlags.SLAB_POISON
                    | SlabFlags.SLAB_CONSISTENCY_CHECKS, false, 128));

    private static final MemorySegment ZEROS = MemorySegment.ofArray(new byte[LARGEST_LARGE]);

    // ================================================================== property

    @Property(tries = 12, seed = "20251201", afterFailure = AfterFailureMode.RANDOM_SEED,
            edgeCases = EdgeCasesMode.NONE)
    void slabAllocatorMatchesTheModel(@ForAll("chains") ActionChain<Model> chain) {
        chain.withInvariant(NO_OVERLAP, Model::checkNoOverlap)
                .withInvariant(RIGHT_CACHE, Model::checkRightCache)
                .withInvariant(ALIGNED, Model::checkAligned)
                .withInvariant(CONTIGUOUS, Model::checkContiguous)
                .withInvariant(PATTERN, Model::checkPatternEnds)
                .withInvariant(COUNTS, Model::checkCounts)
                .withInvariant(VALIDATE, Model::checkValidate);
        runAndClose(chain, Model::finish, (m, steps) -> m.tally.steps += steps);
    }

    @Provide
    Arbitrary<ActionChain<Model>> chains() {
        return ActionChain.<Model>startWith(Model::new)
                .withAction(8, kmalloc(false))
                .withAction(2, kmalloc(true))
                .withAction(1, burst())
                .withAction(1, kcalloc())
                .withAction(7, free())
                .withAction(5, cacheAlloc())
                .withAction(3, cacheFree())
                .withAction(1, bulkAlloc())
                .withAction(1, bulkFree())
                .withAction(4, krealloc())
                .withAction(1, shrink())
                .withAction(1, tooLarge())
                .withAction(1, Action.<Model>when(m -> !m.live.isEmpty()).describeAs("free everything")
                        .justMutate(Model::freeEverything))
                .withMaxTransformations(140);
    }

    // ================================================================== actions

    /** kmalloc sizes: small classes, page-sized classes, large (buddy), 0, and powers of two. */
    static Arbitrary<Long> sizes() {
        return Arbitraries.frequencyOf(
                Tuple.of(10, Arbitraries.longs().between(1, 192)),
                Tuple.of(6, Arbitraries.longs().between(193, 8192)),
                Tuple.of(2, Arbitraries.longs().between(8193, LARGEST_LARGE)),
                Tuple.of(1, Arbitraries.just(0L)),
                Tuple.of(3, Arbitraries.integers().between(0, 16).map(e -> 1L << e)));
    }

    static Arbitrary<Integer> gfps() {
        return Arbitraries.frequency(Tuple.of(6, GFP_KERNEL), Tuple.of(1, GFP_ATOMIC), Tuple.of(1, GFP_NOWAIT));
    }

    private static Action.Independent<Model> kmalloc(boolean zero) {
        return () -> Combinators.combine(sizes(), gfps()).as((size, gfp) -> {
            String call = (zero ? "kzalloc(" : "kmalloc(") + size + ", " + Gfp.names(gfp) + ")";
            return Transformer.mutate(call, m -> m.kmalloc(call, size, gfp, zero));
        });
    }

    /** Many kmallocs of one size: several slabs of one class, so that frees meet full, partial and other threads' slabs. */
    private static Action.Independent<Model> burst() {
        return () -> Combinators.combine(Arbitraries.longs().between(1, MemoryPool.KMALLOC_MAX_CACHE_SIZE),
                Arbitraries.integers().between(1, 48)).as((size, n) -> {
                    String call = "kmalloc(" + size + ", GFP_KERNEL) x " + n;
                    return Transformer.mutate(call, m -> {
                        for (int i = 0; i < n; i++) {
                            m.kmalloc(call + " #" + i, size, GFP_KERNEL, false);
                        }
                    });
                });
    }

    /** kcalloc or kmalloc_array of up to 16 elements of up to 512 bytes; sometimes a count that overflows. */
    private static Action.Independent<Model> kcalloc() {
        return () -> Combinators.combine(Arbitraries.frequency(Tuple.of(12, 0L), Tuple.of(1, Long.MAX_VALUE / 3)),
                Arbitraries.longs().between(0, 16), Arbitraries.longs().between(1, 512), Arbitraries.of(false, true))
                .as((huge, n, size, zero) -> {
                    long count = huge != 0 ? huge : n;
                    String call = (zero ? "kcalloc(" : "kmalloc_array(") + count + ", " + size + ", GFP_KERNEL)";
                    return Transformer.mutate(call, m -> m.kcalloc(call, count, size, zero));
                });
    }

    private static Action.Independent<Model> cacheAlloc() {
        return () -> Combinators.combine(Arbitraries.integers().between(0, SPECS.size() - 1),
                Arbitraries.frequency(Tuple.of(3, false), Tuple.of(1, true)), gfps()).as((ci, zero, gfp) -> {
                    String call = (zero ? "kmem_cache_zalloc(" : "kmem_cache_alloc(") + SPECS.get(ci).name() + ", "
                            + Gfp.names(gfp) + ")";
                    return Transformer.mutate(call, m -> m.cacheAlloc(call, ci, gfp, zero));
                });
    }

    private static Action.Independent<Model> bulkAlloc() {
        return () -> Combinators.combine(Arbitraries.integers().between(0, SPECS.size() - 1),
                Arbitraries.integers().between(1, 40)).as((ci, n) -> {
                    String call = "kmem_cache_alloc_bulk(" + SPECS.get(ci).name() + ", GFP_KERNEL, " + n + ")";
                    return Transformer.mutate(call, m -> m.bulkAlloc(call, ci, n));
                });
    }

    /** Frees the live object at position {@code k} (modulo their number): kfree, or kmem_cache_free for cache objects unless {@code viaKfree}. */
    private static Action.Independent<Model> free() {
        return actionWhen((Model m) -> !m.live.isEmpty(),
                Combinators.combine(Arbitraries.integers().between(0, 9999), Arbitraries.of(false, true))
                        .as((k, viaKfree) -> Transformer.mutate("free(#" + k + (viaKfree ? ", kfree" : "") + ")",
                                m -> m.free(m.byAge.get(k % m.byAge.size()), viaKfree))));
    }

    private static Action.Independent<Model> cacheFree() {
        return actionWhen((Model m) -> m.byAge.stream().anyMatch(o -> o.cacheIndex() >= 0),
                Arbitraries.integers().between(0, 9999).map(k -> Transformer.mutate("kmem_cache_free(#" + k + ")",
                        m -> {
                            List<Obj> objs = m.cacheObjects(-1);
                            m.free(objs.get(k % objs.size()), false);
                        })));
    }

    /** kmem_cache_free_bulk of up to n objects of one cache, or (null cache) kfree of kmalloc objects. */
    private static Action.Independent<Model> bulkFree() {
        return actionWhen((Model m) -> !m.live.isEmpty(),
                Combinators.combine(Arbitraries.integers().between(-1, SPECS.size() - 1),
                        Arbitraries.integers().between(1, 30)).as((ci, n) -> Transformer.mutate(
                        "kmem_cache_free_bulk(" + (ci < 0 ? "NULL" : SPECS.get(ci).name()) + ", up to " + n + ")",
                        m -> m.bulkFree(ci, n))));
    }

    /**
     * krealloc of the kmalloc object at position {@code k} (or of NULL / ZERO_SIZE_PTR when
     * {@code fromNothing} or none is live) to a size from {@link #sizes()}.
     */
    private static Action.Independent<Model> krealloc() {
        return () -> Combinators.combine(Arbitraries.integers().between(0, 9999), sizes(),
                Arbitraries.frequency(Tuple.of(10, -1L), Tuple.of(1, 0L), Tuple.of(1, ZERO_SIZE_PTR)))
                .as((k, size, fromNothing) -> Transformer.mutate("krealloc(" + (fromNothing >= 0 ? fromNothing
                        : "#" + k) + ", " + size + ")", m -> m.krealloc(k, size, fromNothing)));
    }

    private static Action.Independent<Model> shrink() {
        return () -> Arbitraries.integers().between(0, SPECS.size() - 1).map(ci -> Transformer.mutate(
                "kmem_cache_shrink(" + SPECS.get(ci).name() + ")", m -> m.shrink(ci)));
    }

    /** kmalloc above KMALLOC_MAX_SIZE, and krealloc of a live object there: NULL, the object kept. */
    private static Action.Independent<Model> tooLarge() {
        return () -> Arbitraries.integers().between(0, 9999).map(k -> Transformer.mutate(
                "kmalloc / krealloc(#" + k + ") above KMALLOC_MAX_SIZE", m -> m.tooLarge(k)));
    }

    // ================================================================== model

    /**
     * A live object: {@code size} bytes asked for, {@code extent} usable ({@code ksize}),
     * from {@code cache} ({@code cacheIndex} into {@link #SPECS}, -1 for kmalloc), large
     * kmalloc when {@code large}; the pattern of {@code tag} covers all {@code extent} bytes.
     */
    record Obj(long addr, long size, long extent, String cache, int cacheIndex, boolean large, long tag,
               MemorySegment seg, String call) {
        long end() {
            return addr + extent;
        }

        @Override
        public String toString() {
            return "object 0x" + Long.toHexString(addr) + " (" + size + " of " + extent + " bytes, " + (large
                    ? "large kmalloc" : cache) + ", from " + call + ")";
        }
    }

    /** The state of one chain: the pool, its three caches and the objects the test holds. */
    static final class Model implements AutoCloseable {
        final MemoryPool pool;
        final List<KmemCache> caches = new ArrayList<>();
        final TreeMap<Long, Obj> live = new TreeMap<>();
        /** Live objects in allocation order: actions pick from here, deterministically. */
        final List<Obj> byAge = new ArrayList<>();
        /**
         * {@value #CACHE_CTOR}: by address, the tag each object was freed with and the cache's
         * {@code slabsFreed} then.
         */
        final Map<Long, long[]> ctorFreed = new HashMap<>();
        private final Recent recent = new Recent();
        /** The last figures of the caches {@link #finish()} destroyed, for the tally. */
        private final List<SlabCacheStats> destroyed = new ArrayList<>();
        final Tally tally = TALLIES.forThisThread();
        private long nextTag = 1;

        Model() {
            this.pool = MemoryPool.builder().name("slab-props").smallPages(32 * MIB).allocWait(Duration.ZERO).build();
            tally.pools++;
            try {
                for (Spec s : SPECS) {
                    Consumer<MemorySegment> ctor = s.ctor() ? seg -> seg.fill(CTOR_BYTE) : null;
                    KmemCache c = pool.kmem_cache_create(s.name(), s.size(), s.align(), s.flags(), ctor);
                    require(RIGHT_CACHE, c != null && c.objectSize() == s.size() && c.align() == s.expectAlign(),
                            () -> "kmem_cache_create(" + s + ") = " + c);
                    caches.add(c);
                }
            } catch (RuntimeException | AssertionError e) {
                pool.close();
                throw e;
            }
        }

        // -------------------------------------------------------------- actions

        void kmalloc(String call, long size, int gfp, boolean zero) {
            long p = zero ? pool.kzalloc(size, gfp) : pool.kmalloc(size, gfp);
            tally.kmallocs++;
            if (size == 0) {
                checkZeroSizePtr(call, p);
                return;
            }
            admitKmalloc(call, p, size, zero);
        }

        void kcalloc(String call, long n, long size, boolean zero) {
            int gfp = GFP_KERNEL | __GFP_NOWARN;
            long p = zero ? pool.kcalloc(n, size, gfp) : pool.kmalloc_array(n, size, gfp);
            tally.kmallocs++;
            if (n > Long.MAX_VALUE / size || n * size > MemoryPool.KMALLOC_MAX_SIZE) {
                require(NOT_NULL, p == 0, () -> call + " = 0x" + Long.toHexString(p) + ": n * size overflows or is"
                        + " above KMALLOC_MAX_SIZE, expected NULL");
                tally.tooLarge++;
                return;
            }
            if (n * size == 0) {
                checkZeroSizePtr(call, p);
                return;
            }
            admitKmalloc(call, p, n * size, zero);
        }

        private void checkZeroSizePtr(String call, long p) {
            require(ZERO_SIZE, p == ZERO_SIZE_PTR, () -> call + " = 0x" + Long.toHexString(p) + ", expected"
                    + " ZERO_SIZE_PTR (16)");
            require(ZERO_SIZE, pool.ksize(p) == 0, () -> "ksize(ZERO_SIZE_PTR) = " + pool.ksize(p));
            pool.kfree(p);
            tally.zeroSize++;
        }

        private void admitKmalloc(String call, long p, long size, boolean zero) {
            boolean large = size > MemoryPool.KMALLOC_MAX_CACHE_SIZE;
            long extent = large ? (long) PAGE << GfpApi.get_order(size) : classSize(size);
            if (p == 0) {
                explainNull(call, large ? GfpApi.get_order(size) : slabOrder(className(size)));
                return;
            }
            admit(new Obj(p, size, extent, large ? null : className(size), -1, large, nextTag++,
                    pool.segment(p, extent), call), zero);
            if (large) {
                tally.large++;
            } else {
                tally.perClass.merge(className(size), 1L, Long::sum);
            }
        }

        void cacheAlloc(String call, int ci, int gfp, boolean zero) {
            KmemCache c = caches.get(ci);
            long p = zero ? pool.kmem_cache_zalloc(c, gfp) : pool.kmem_cache_alloc(c, gfp);
            tally.cacheAllocs++;
            if (p == 0) {
                explainNull(call, c.order());
                return;
            }
            admitCacheObject(call, ci, p, zero);
        }

        private void admitCacheObject(String call, int ci, long p, boolean zero) {
            Spec s = SPECS.get(ci);
            admit(new Obj(p, s.size(), s.size(), s.name(), ci, false, nextTag++, pool.segment(p, s.size()), call), zero);
        }

        void bulkAlloc(String call, int ci, int n) {
            long[] p = new long[n + 2];
            int got = pool.kmem_cache_alloc_bulk(caches.get(ci), GFP_KERNEL, n, p);
            tally.cacheAllocs += n;
            tally.bulk++;
            if (got == 0) {
                for (long x : p) {
                    require(NOT_NULL, x == 0, () -> call + " returned 0 but left 0x" + Long.toHexString(x) + " in the"
                            + " array");
                }
                explainNull(call, caches.get(ci).order());
                return;
            }
            require(NOT_NULL, got == n && p[n] == 0 && p[n + 1] == 0, () -> call + " returned " + got
                    + " or wrote past n");
            for (int i = 0; i < n; i++) {
                admitCacheObject(call + " [" + i + "]", ci, p[i], false);
            }
        }

        void free(Obj o, boolean viaKfree) {
            checkPattern(o, "before its free");
            forget(o);
            if (o.cacheIndex() >= 0 && !viaKfree) {
                pool.kmem_cache_free(caches.get(o.cacheIndex()), o.addr());
            } else {
                pool.kfree(o.addr());
            }
            freed(o);
        }

        void bulkFree(int ci, int n) {
            List<Obj> objs = ci < 0 ? byAge.stream().filter(o -> o.cacheIndex() < 0).toList() : cacheObjects(ci);
            if (objs.isEmpty()) {
                return;
            }
            List<Obj> pick = new ArrayList<>(objs.subList(0, Math.min(n, objs.size())));
            long[] p = new long[pick.size()];
            for (int i = 0; i < p.length; i++) {
                Obj o = pick.get(i);
                checkPattern(o, "before kmem_cache_free_bulk");
                forget(o);
                p[i] = o.addr();
            }
            pool.kmem_cache_free_bulk(ci < 0 ? null : caches.get(ci), p.length, p);
            pick.forEach(this::freed);
            tally.bulk++;
        }

        void krealloc(int k, long newSize, long fromNothing) {
            List<Obj> kmallocs = byAge.stream().filter(o -> o.cacheIndex() < 0).toList();
            tally.reallocs++;
            if (fromNothing >= 0 || kmallocs.isEmpty()) {
                long from = Math.max(fromNothing, 0);
                String call = "krealloc(0x" + Long.toHexString(from) + ", " + newSize + ")";
                long p = pool.krealloc(from, newSize, GFP_KERNEL);
                if (newSize == 0) {
                    checkZeroSizePtr(call, p);
                } else {
                    admitKmalloc(call, p, newSize, false);
                }
                return;
            }
            Obj o = kmallocs.get(k % kmallocs.size());
            String call = "krealloc(" + o + ", " + newSize + ")";
            checkPattern(o, "before " + call);
            long p = pool.krealloc(o.addr(), newSize, GFP_KERNEL);
            if (newSize == 0) {
                require(REALLOC, p == ZERO_SIZE_PTR, () -> call + " = 0x" + Long.toHexString(p) + ", expected"
                        + " ZERO_SIZE_PTR: size 0 frees");
                forget(o);
                freed(o);
                tally.reallocFrees++;
                return;
            }
            if (newSize <= o.extent()) {
                require(REALLOC, p == o.addr(), () -> call + " = 0x" + Long.toHexString(p) + ": the new size fits"
                        + " ksize " + o.extent() + ", expected the same address");
                forget(o);
                Obj n = new Obj(o.addr(), newSize, o.extent(), o.cache(), -1, o.large(), o.tag(), o.seg(), call);
                live.put(n.addr(), n);
                byAge.add(n);
                // As in SLUB, the bytes past the new size are no longer the caller's (debug caches
                // red-zone them): the first newSize are kept; ksize gives the whole object back.
                long bad = patternMismatch(pool.segment(p, newSize), o.tag(), newSize);
                require(REALLOC, bad < 0, () -> call + " in place: byte " + bad + " of the " + newSize
                        + " kept differs from the old contents");
                require(RIGHT_CACHE, pool.ksize(p) == o.extent(), () -> "ksize after " + call + " is not "
                        + o.extent());
                writePattern(o.seg(), o.tag(), o.extent());
                checkPattern(n, "after " + call + " in place");
                tally.reallocsInPlace++;
                return;
            }
            if (p == 0) {
                explainNull(call, newSize > MemoryPool.KMALLOC_MAX_CACHE_SIZE ? GfpApi.get_order(newSize)
                        : slabOrder(className(newSize)));
                return;
            }
            require(REALLOC, p != o.addr(), () -> call + " = the same address, but the new size exceeds ksize "
                    + o.extent());
            long kept = Math.min(o.size(), newSize);
            MemorySegment seg = pool.segment(p, kept);
            long bad = patternMismatch(seg, o.tag(), kept);
            require(REALLOC, bad < 0, () -> call + " = 0x" + Long.toHexString(p) + ": byte " + bad + " of the "
                    + kept + " kept differs from the old contents");
            forget(o);
            freed(o);
            admitKmalloc(call, p, newSize, false);
            tally.reallocsMoved++;
        }

        void shrink(int ci) {
            KmemCache c = caches.get(ci);
            long before = freeFrames();
            long pages = pool.kmem_cache_shrink(c);
            long after = freeFrames();
            tally.shrinks++;
            tally.shrunkPages += pages;
            require(SHRINK, pages >= 0 && after - before == pages, () -> "kmem_cache_shrink(" + c.name() + ") = "
                    + pages + " pages, but the page allocator's free frames went from " + before + " to " + after);
            Set<Long> holding = new HashSet<>();
            for (Obj o : cacheObjects(ci)) {
                holding.add(pool.kmem_obj_info(o.addr()).slabBase());
            }
            SlabCacheStats s = stats(c.name());
            require(SHRINK, s.numSlabs() == holding.size(), () -> "after kmem_cache_shrink(" + c.name() + ") the"
                    + " cache has " + s.numSlabs() + " slabs, but live objects are in only " + holding.size()
                    + ": it kept an empty slab (" + s + ")");
        }

        void tooLarge(int k) {
            long over = MemoryPool.KMALLOC_MAX_SIZE + 1;
            long p = pool.kmalloc(over, GFP_KERNEL | __GFP_NOWARN);
            require(NOT_NULL, p == 0, () -> "kmalloc(" + over + ") = 0x" + Long.toHexString(p) + ", expected NULL"
                    + " above KMALLOC_MAX_SIZE");
            List<Obj> kmallocs = byAge.stream().filter(o -> o.cacheIndex() < 0).toList();
            if (kmallocs.isEmpty()) {
                return;
            }
            Obj o = kmallocs.get(k % kmallocs.size());
            long r = pool.krealloc(o.addr(), over, GFP_KERNEL | __GFP_NOWARN);
            require(REALLOC, r == 0, () -> "krealloc(" + o + ", " + over + ") = 0x" + Long.toHexString(r)
                    + ", expected NULL");
            require(REALLOC, pool.ksize(o.addr()) == o.extent(), () -> "after a failed krealloc, ksize(" + o + ") = "
                    + pool.ksize(o.addr()));
            checkPattern(o, "after a failed krealloc");
            tally.tooLarge++;
        }

        void freeEverything() {
            while (!byAge.isEmpty()) {
                free(byAge.getLast(), false);
            }
        }

        /** Frees what is left and checks that the slab layer is at rest; then destroys the three caches. */
        void finish() {
            for (Obj o : byAge) {
                checkPattern(o, "at the end");
            }
            freeEverything();
            List<String> problems = pool.validateSlabs();
            require(AT_REST, problems.isEmpty(), () -> "validateSlabs with nothing live: " + firstFew(problems));
            List<String> reports = pool.takeSlabReports();
            require(AT_REST, reports.isEmpty(), () -> "SLUB reports: " + firstFew(reports));
            pool.flushSlabs();
            for (SlabCacheStats s : pool.slabStats()) {
                require(AT_REST, s.activeObjs() == 0 && s.activeSlabs() == 0, () -> "with nothing live and every"
                        + " slab flushed, " + s);
            }
            for (KmemCache c : caches) {
                destroyed.add(stats(c.name()));
                pool.kmem_cache_destroy(c);
                List<String> r = pool.takeSlabReports();
                require(AT_REST, r.isEmpty(), () -> "kmem_cache_destroy(" + c.name() + "): " + firstFew(r));
                require(AT_REST, pool.slabStats().stream().noneMatch(s -> s.name().equals(c.name())),
                        () -> c.name() + " still listed after kmem_cache_destroy");
            }
            caches.clear();
            List<String> buddy = pool.checkPageAllocator();
            require(AT_REST, buddy.isEmpty(), () -> "checkPageAllocator: " + firstFew(buddy));
        }

        // -------------------------------------------------------------- checks on a new object

        /** Checks an object just handed out, writes its pattern and adds it to the model. */
        private void admit(Obj o, boolean zero) {
            String what = o.call() + " = 0x" + Long.toHexString(o.addr());
            require(ZERO_SIZE, o.addr() != ZERO_SIZE_PTR, () -> what + ": ZERO_SIZE_PTR for " + o.size() + " bytes");
            checkObject(o, what);
            Map.Entry<Long, Obj> below = live.floorEntry(o.end() - 1);
            require(NO_OVERLAP, below == null || below.getValue().end() <= o.addr(), () -> what + " (" + o.extent()
                    + " bytes) overlaps the live " + below.getValue());
            checkPages(o, what);
            if (zero) {
                long at = o.seg().mismatch(ZEROS.asSlice(0, o.extent()));
                require(ZEROED, at < 0, () -> what + ": byte " + at + " of " + o.extent() + " is 0x"
                        + Integer.toHexString(o.seg().get(ValueLayout.JAVA_BYTE, at) & 0xff));
            } else if (o.cacheIndex() >= 0 && SPECS.get(o.cacheIndex()).ctor()) {
                checkConstructed(o, what);
            } else if (o.cacheIndex() >= 0 && (SPECS.get(o.cacheIndex()).flags() & SlabFlags.SLAB_POISON) != 0) {
                for (long b = 0; b < o.extent(); b++) {
                    long at = b;
                    byte v = o.seg().get(ValueLayout.JAVA_BYTE, b);
                    require(POISON_NEW, v == POISON_INUSE, () -> what + ": byte " + at + " is 0x"
                            + Integer.toHexString(v & 0xff));
                }
            }
            writePattern(o.seg(), o.tag(), o.extent());
            live.put(o.addr(), o);
            byAge.add(o);
            recent.note("got " + o);
        }

        /**
         * {@value #CACHE_CTOR}: the constructor runs when a slab is made, not at each
         * allocation. So an object the cache never handed out carries the constructor's bytes;
         * one it did comes back as it was freed if no slab of the cache went back to the buddy
         * since (its own slab is still there), else as freed or constructed again.
         */
        private void checkConstructed(Obj o, String what) {
            boolean constructed = o.seg().mismatch(CTOR_BYTES.asSlice(0, o.extent())) < 0;
            long[] freed = ctorFreed.get(o.addr());
            if (freed == null) {
                require(CTOR, constructed, () -> what + ": a fresh object does not carry the constructor's 0x"
                        + Integer.toHexString(CTOR_BYTE & 0xff) + " bytes; first word 0x"
                        + Long.toHexString(o.seg().get(ValueLayout.JAVA_LONG_UNALIGNED, 0)));
                tally.constructed++;
                return;
            }
            boolean slabKept = stats(o.cache()).slabsFreed() == freed[1];
            long bad = patternMismatch(o.seg(), freed[0], o.extent());
            if (bad >= 0 && constructed && !slabKept) {
                tally.constructed++;
                return;
            }
            require(CTOR, bad < 0, () -> what + ": " + (constructed ? "constructed again, though its slab never went"
                    + " back to the buddy: it should come back as it was freed" : "neither constructed nor as it was"
                    + " freed (byte " + bad + " differs)"));
            tally.reusedAsFreed++;
        }

        // -------------------------------------------------------------- invariants

        void checkNoOverlap() {
            Obj prev = null;
            for (Obj o : live.values()) {
                Obj p = prev;
                require(NO_OVERLAP, p == null || p.end() <= o.addr(), () -> "live " + p + " and " + o + " overlap");
                prev = o;
            }
            require(NO_OVERLAP, live.size() == byAge.size(), () -> "the model holds " + live.size() + " addresses for "
                    + byAge.size() + " objects");
        }

        void checkRightCache() {
            for (Obj o : byAge) {
                checkObject(o, "live " + o);
            }
        }

        /**
         * kmem_obj_info of the first and last usable byte: the same allocated object of the
         * expected cache, starting at the address; ksize the expected usable size. Large
         * kmalloc: no slab, ksize its pages.
         */
        private void checkObject(Obj o, String what) {
            long ks = pool.ksize(o.addr());
            require(RIGHT_CACHE, ks == o.extent(), () -> what + ": ksize " + ks + ", expected " + o.extent());
            KmemObjInfo first = pool.kmem_obj_info(o.addr());
            if (o.large()) {
                require(RIGHT_CACHE, first == null, () -> what + ": a large kmalloc, but kmem_obj_info says " + first);
                return;
            }
            require(RIGHT_CACHE, first != null, () -> what + ": kmem_obj_info finds no slab");
            require(RIGHT_CACHE, first.cache().equals(o.cache()) && first.offset() == 0 && first.allocated()
                            && first.objectStart() == o.addr() && first.objectSize() == o.extent(),
                    () -> what + ": kmem_obj_info " + first + ", expected an allocated object of " + o.cache()
                            + " starting there");
            KmemObjInfo last = pool.kmem_obj_info(o.end() - 1);
            require(RIGHT_CACHE, last != null && last.objectStart() == o.addr() && last.offset() == o.extent() - 1,
                    () -> what + ": the last byte's kmem_obj_info " + last);
            long slabEnd = first.slabBase() + (long) first.slabPages() * PAGE;
            require(RIGHT_CACHE, o.addr() >= first.slabBase() && o.end() <= slabEnd
                            && pool.virt_to_phys(first.slabBase()) >>> 12 == first.slabPfn(),
                    () -> what + ": not inside its slab " + first);
        }

        void checkAligned() {
            for (Obj o : byAge) {
                long a = o.addr();
                long want = alignment(o);
                require(ALIGNED, (a & (want - 1)) == 0 && (o.large()
                                ? (pool.virt_to_phys(a) & (o.extent() - 1)) == 0 : true),
                        () -> "live " + o + " is not aligned to " + want
                                + (o.large() ? " (or its block not to its size in physical memory)" : ""));
            }
        }

        /**
         * What an object's address must be a multiple of: a cache's objects its alignment; a
         * large kmalloc its block; a kmalloc object 8, and its size in the power-of-two
         * classes (so a power-of-two kmalloc size is aligned to itself; the class, not the
         * size, because krealloc may shrink an object in place).
         */
        static long alignment(Obj o) {
            if (o.cacheIndex() >= 0) {
                return SPECS.get(o.cacheIndex()).expectAlign();
            }
            return Long.bitCount(o.extent()) == 1 ? o.extent() : 8;
        }

        void checkContiguous() {
            Set<Long> seen = new HashSet<>();
            for (Obj o : byAge) {
                checkPages(o, "live " + o, seen);
            }
        }

        private void checkPages(Obj o, String what) {
            checkPages(o, what, new HashSet<>());
        }

        /** Every page the object spans: pagemap agrees with virt_to_phys, and the PFNs are consecutive. */
        private void checkPages(Obj o, String what, Set<Long> seen) {
            long firstPage = o.addr() & -PAGE;
            long firstPfn = -1;
            for (long page = firstPage; page < o.end(); page += PAGE) {
                long translated = pool.virt_to_phys(page) >>> 12;
                if (page == firstPage) {
                    firstPfn = translated;
                }
                long want = firstPfn + (page - firstPage) / PAGE;
                long pg = page;
                require(CONTIGUOUS, translated == want, () -> what + ": page 0x" + Long.toHexString(pg) + " translates"
                        + " to pfn 0x" + Long.toHexString(translated) + ", expected 0x" + Long.toHexString(want));
                if (seen.add(page)) {
                    long got = pool.pagemapPfn(page);
                    require(CONTIGUOUS, got == translated, () -> what + ": page 0x" + Long.toHexString(pg) + (got < 0
                            ? " is not present in pagemap" : " is at pfn 0x" + Long.toHexString(got)
                            + " according to pagemap") + ", virt_to_phys says pfn 0x" + Long.toHexString(translated));
                }
            }
        }

        /** The first and last word of every live object (the whole object is checked at its free). */
        void checkPatternEnds() {
            for (Obj o : byAge) {
                long lastWord = (o.extent() - 8) & -8L;
                for (long off : new long[]{0, lastWord}) {
                    long want = pattern(o.tag(), off >>> 3);
                    long got = o.seg().get(ValueLayout.JAVA_LONG_UNALIGNED, off);
                    require(PATTERN, got == want, () -> "live " + o + ": word at " + off + " is 0x"
                            + Long.toHexString(got) + ", written 0x" + Long.toHexString(want));
                }
            }
        }

        /** Single-threaded, each cache's objects handed out are exactly the model's. */
        void checkCounts() {
            Map<String, Long> want = new HashMap<>();
            for (Obj o : byAge) {
                if (!o.large()) {
                    want.merge(o.cache(), 1L, Long::sum);
                }
            }
            for (SlabCacheStats s : pool.slabStats()) {
                long w = want.getOrDefault(s.name(), 0L);
                require(COUNTS, s.activeObjs() == w, () -> s.name() + ": activeObjs " + s.activeObjs() + ", the model"
                        + " holds " + w + " of its objects");
            }
        }

        void checkValidate() {
            List<String> problems = pool.validateSlabs();
            require(VALIDATE, problems.isEmpty(), () -> "validateSlabs: " + firstFew(problems));
            List<String> reports = pool.takeSlabReports();
            require(VALIDATE, reports.isEmpty(), () -> "SLUB reports: " + firstFew(reports));
        }

        private void checkPattern(Obj o, String when) {
            long bad = patternMismatch(o.seg(), o.tag(), o.extent());
            require(PATTERN, bad < 0, () -> "live " + o + " " + when + ": byte " + bad + " of " + o.extent()
                    + " differs from the pattern written at allocation");
        }

        // -------------------------------------------------------------- helpers

        /** The model forgets {@code o}: called before the object is freed. */
        private void forget(Obj o) {
            live.remove(o.addr());
            byAge.remove(o);
        }

        private void freed(Obj o) {
            if (o.cacheIndex() >= 0 && SPECS.get(o.cacheIndex()).ctor()) {
                ctorFreed.put(o.addr(), new long[]{o.tag(), stats(o.cache()).slabsFreed()});
            }
            tally.frees++;
            recent.note("freed " + o);
        }

        List<Obj> cacheObjects(int ci) {
            return byAge.stream().filter(o -> ci < 0 ? o.cacheIndex() >= 0 : o.cacheIndex() == ci).toList();
        }

        private SlabCacheStats stats(String name) {
            return pool.slabStats().stream().filter(s -> s.name().equals(name)).findFirst()
                    .orElseThrow(() -> new AssertionError("slabStats lists no cache " + name));
        }

        private int slabOrder(String cache) {
            return Integer.numberOfTrailingZeros(stats(cache).pagesPerSlab());
        }

        private long freeFrames() {
            long free = 0;
            for (ZoneStats z : pool.zoneStats()) {
                free += z.free() + z.cached();
            }
            return free;
        }

        /**
         * The pool holds 32 MiB and the chains at most a few: a NULL is a failure unless no
         * zone has a free block of the order the allocation needed.
         */
        private void explainNull(String call, int order) {
            long blocks = 0;
            for (ZoneStats z : pool.zoneStats()) {
                for (int k = order; k < z.nrFree().length; k++) {
                    blocks += z.nrFree()[k];
                }
            }
            long b = blocks;
            require(NOT_NULL, b == 0, () -> call + " = NULL with " + b + " free block(s) of order " + order
                    + " or more\n" + pool.buddyinfo());
            tally.nulls++;
        }


        @Override
        public void close() {
            List<SlabCacheStats> all = new ArrayList<>(pool.slabStats());
            all.addAll(destroyed);
            for (SlabCacheStats s : all) {
                tally.slabsAllocated += s.slabsAllocated();
                tally.slabsFreed += s.slabsFreed();
                tally.slowAllocs += s.slowAllocs();
                tally.slowFrees += s.slowFrees();
            }
            pool.close();
        }

        @Override
        public String toString() {
            return "Model[" + live.size() + " live objects; last: " + recent + "]";
        }
    }

    // ================================================================== the rules, as documented

    private static final MemorySegment CTOR_BYTES = MemorySegment.ofArray(new byte[PAGE]).fill(CTOR_BYTE);

    /** The kmalloc cache for a size up to 8 KiB: 8, 16, 32, 64, 96, 128, 192, then powers of two. */
    static String className(long size) {
        long c = classSize(size);
        return "kmalloc-" + (c >= 1024 ? (c >> 10) + "k" : Long.toString(c));
    }

    static long classSize(long size) {
        if (size <= 8) {
            return 8;
        }
        if (size > 64 && size <= 96) {
            return 96;
        }
        if (size > 128 && size <= 192) {
            return 192;
        }
        return Long.highestOneBit(size - 1) << 1;
    }






    // ================================================================== tally

    /** What the property's tries did, printed after it (see {@link Tallies}). */
    static final class Tally {
        long pools;
        long steps;
        long kmallocs;
        long large;
        long zeroSize;
        long cacheAllocs;
        long bulk;
        long frees;
        long reallocs;
        long reallocsInPlace;
        long reallocsMoved;
        long reallocFrees;
        long tooLarge;
        long constructed;
        long reusedAsFreed;
        long shrinks;
        long shrunkPages;
        long nulls;
        long slabsAllocated;
        long slabsFreed;
        long slowAllocs;
        long slowFrees;
        final Map<String, Long> perClass = new TreeMap<>();
    }

    private static final Tallies<Tally> TALLIES = new Tallies<>(Tally::new);

    @BeforeProperty
    void resetTally() {
        TALLIES.reset();
    }

    @AfterProperty
    void printTally() {
        Tally t = TALLIES.current();
        if (t.pools == 0) {
            return;
        }
        System.out.println("slab allocator properties: " + t.pools + " pools, " + t.steps + " steps; " + t.kmallocs
                + " kmalloc family (" + t.large + " large, " + t.zeroSize + " ZERO_SIZE_PTR; per class " + t.perClass
                + "), " + t.cacheAllocs + " kmem_cache_alloc (" + t.constructed + " constructed, " + t.reusedAsFreed
                + " as freed), " + t.bulk + " bulk calls, " + t.frees + " frees, " + t.reallocs + " krealloc ("
                + t.reallocsInPlace + " in place, " + t.reallocsMoved + " moved, " + t.reallocFrees + " to 0, "
                + t.tooLarge + " too large), " + t.shrinks + " shrinks (" + t.shrunkPages + " pages), " + t.nulls
                + " NULL; slabs made " + t.slabsAllocated + ", freed " + t.slabsFreed + ", slow allocs "
                + t.slowAllocs + ", slow frees " + t.slowFrees);
    }
}
