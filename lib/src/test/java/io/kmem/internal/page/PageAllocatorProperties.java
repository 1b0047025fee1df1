package io.kmem.internal.page;

import static io.kmem.testing.PropertySupport.actionWhen;
import static io.kmem.testing.PropertySupport.firstFew;
import static io.kmem.testing.PropertySupport.pattern;
import static io.kmem.testing.PropertySupport.require;
import static io.kmem.testing.PropertySupport.runAndClose;
import static io.kmem.gfp.Gfp.GFP_ATOMIC;
import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static io.kmem.gfp.Gfp.GFP_NOWAIT;
import static io.kmem.gfp.Gfp.__GFP_DMA;
import static io.kmem.gfp.Gfp.__GFP_DMA32;
import static io.kmem.gfp.Gfp.__GFP_HIGH;
import static io.kmem.gfp.Gfp.__GFP_NORETRY;
import static io.kmem.gfp.Gfp.__GFP_NOWARN;
import static io.kmem.gfp.Gfp.__GFP_ZERO;

import io.kmem.GfpApi;
import io.kmem.MemoryPool;
import io.kmem.gfp.Gfp;
import io.kmem.stats.FrameVerification;
import io.kmem.stats.MovedFrame;
import io.kmem.stats.PageStats;
import io.kmem.stats.ZoneStats;
import io.kmem.internal.phys.FramePool;
import io.kmem.stats.HostInfo;
import io.kmem.gfp.ZoneType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import io.kmem.testing.PropertySupport.Recent;
import io.kmem.testing.PropertySupport.Tallies;
import net.jqwik.api.AfterFailureMode;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.RandomDistribution;
import net.jqwik.api.Tuple;
import net.jqwik.api.lifecycle.AfterProperty;
import net.jqwik.api.lifecycle.BeforeProperty;
import net.jqwik.api.state.Action;
import net.jqwik.api.state.ActionChain;
import net.jqwik.api.state.Transformer;

/**
 * The page allocator against a model, on real frames (run as root): jqwik {@link ActionChain}s
 * of random allocations and frees of orders 0 to 10 under random GFP flags, checked step by
 * step against a sorted map of the live blocks.
 *
 * <h2>Model</h2>
 * {@link Model#live}: every block the test holds, keyed by its first PFN, with the way it was
 * allocated (so that it is freed with the matching call), its order or exact size and the
 * tag of the pattern written into it. The pool is built per try (bring-up takes a few
 * milliseconds) and closed after it; the chain then frees what is left and checks that
 * everything merged back.
 *
 * <h2>Determinism</h2>
 * Each property has a fixed seed, so the actions of every chain are the same in every run.
 * What the allocator answers still depends on the frames the kernel gives (how many PFN
 * runs are 2^order-aligned), which is why a NULL is checked against the model instead of
 * being expected or forbidden.
 *
 * <h2>Labelled checks</h2>
 * Each failure message starts with the label of the check in brackets.
 * <ul>
 *   <li>On every block handed out: {@value #NO_OVERLAP}, {@value #ALIGNED},
 *       {@value #CONTIGUOUS} (every page, read back from /proc/self/pagemap),
 *       {@value #ZONE_BOUNDS}, {@value #ZEROED}; then a pattern is written at the start and
 *       end of every page.</li>
 *   <li>On every NULL: {@value #NULL_EXPLAINED}: no zone of the request's zonelist had a free
 *       block of the order above the watermark of the GFP flags after the call.</li>
 *   <li>On every free: {@value #PATTERN}.</li>
 *   <li>After every step ({@code withInvariant}): {@value #NO_OVERLAP},
 *       {@value #FREE_PLUS_USED}, {@value #RESERVE}, {@value #BUDDY_LISTS} (the free lists as
 *       {@link MemoryPool#checkPageAllocator()} walks them), {@value #PATTERN} for every live
 *       block.</li>
 *   <li>At rest, after {@code drain_all_pages}: {@value #AT_REST}, {@value #PINNED}
 *       ({@link MemoryPool#verify()}); with nothing live,
 *       {@value #MERGED_BACK}: the free lists are the greedy decomposition of the pool's PFN
 *       runs into aligned blocks, computed here from {@link MemoryPool#pfns()}.</li>
 * </ul>
 */
class PageAllocatorProperties {
    private static final long MIB = 1L << 20;
    private static final int PAGE = 4096;
    private static final int MAX_ORDER = MemoryPool.MAX_ORDER;

    static final String NO_OVERLAP = "no overlap";
    static final String ALIGNED = "pfn % 2^order == 0";
    static final String CONTIGUOUS = "physically contiguous according to pagemap";
    static final String ZONE_BOUNDS = "zone and DMA-mask bounds";
    static final String ZEROED = "__GFP_ZERO memory is zero";
    static final String NULL_EXPLAINED = "NULL only when the model explains it";
    static final String PATTERN = "pattern written at allocation intact";
    static final String FREE_PLUS_USED = "free + used = pool";
    static final String RESERVE = "allocations leave the atomic reserve";
    static final String BUDDY_LISTS = "free lists consistent";
    static final String AT_REST = "no two free buddies of the same order at rest";
    static final String MERGED_BACK = "everything merges back";
    static final String PINNED = "every frame mapped and at its PFN";

    /** A zeroed buffer to compare {@code __GFP_ZERO} blocks against. */
    private static final MemorySegment ZEROS = MemorySegment.ofArray(new byte[PAGE << MAX_ORDER]);

    /** What one property's pool looks like and which requests it gets. */
    record Config(String name, long smallBytes, long maxSmallBytes, long huge2mBytes, boolean growable) {
        MemoryPool build() {
            MemoryPool.Builder b = MemoryPool.builder().name(name).smallPages(smallBytes).maxSmallPages(maxSmallBytes)
                    .allocWait(Duration.ZERO);
            if (huge2mBytes > 0) {
                b.hugePages2m(huge2mBytes);
            }
            return b.build();
        }

        long maxFrames() {
            return (maxSmallBytes + huge2mBytes) / PAGE;
        }
    }

    private static final Config SMALL = new Config("props-4k", 16 * MIB, 16 * MIB, 0, false);
    private static final Config HUGE = new Config("props-2m", 8 * MIB, 8 * MIB, 4 * MIB, false);
    private static final Config GROW = new Config("props-grow", 2 * MIB, 16 * MIB, 0, true);

    // ================================================================== properties

    @Property(tries = 60, seed = "20251125", afterFailure = AfterFailureMode.RANDOM_SEED,
            edgeCases = EdgeCasesMode.NONE)
    void smallFramesMatchTheModel(@ForAll("smallChains") ActionChain<Model> chain) {
        runChecked(chain);
    }

    @Property(tries = 40, seed = "20251126", afterFailure = AfterFailureMode.RANDOM_SEED,
            edgeCases = EdgeCasesMode.NONE)
    void hugetlbAndSmallFramesMatchTheModel(@ForAll("hugeChains") ActionChain<Model> chain) {
        long free = HostInfo.read().freeHugepages2m();
        if (free * 2 * MIB < HUGE.huge2mBytes()) {
            throw new AssertionError("hugetlbAndSmallFramesMatchTheModel needs " + HUGE.huge2mBytes() / (2 * MIB)
                    + " free 2 MiB hugepages, the host has " + free + "; reserve them with `make hugepages`"
                    + " (echo 64 > /proc/sys/vm/nr_hugepages as root)");
        }
        runChecked(chain);
    }

    @Property(tries = 30, seed = "20251127", afterFailure = AfterFailureMode.RANDOM_SEED,
            edgeCases = EdgeCasesMode.NONE)
    void growingPoolMatchesTheModel(@ForAll("growChains") ActionChain<Model> chain) {
        runChecked(chain);
    }

    @Provide
    Arbitrary<ActionChain<Model>> smallChains() {
        return chains(SMALL, orders(30, 14, 10, 10, 5, 5, 4, 4, 4, 6, 5), 60);
    }

    @Provide
    Arbitrary<ActionChain<Model>> hugeChains() {
        return chains(HUGE, orders(24, 10, 8, 8, 4, 4, 4, 4, 6, 16, 10), 60);
    }

    @Provide
    Arbitrary<ActionChain<Model>> growChains() {
        return chains(GROW, orders(30, 14, 10, 10, 5, 5, 4, 4, 4, 6, 5), 50);
    }

    private static void runChecked(ActionChain<Model> chain) {
        chain.withInvariant(NO_OVERLAP, Model::checkNoOverlap)
                .withInvariant(FREE_PLUS_USED, Model::checkFreePlusUsed)
                .withInvariant(RESERVE, Model::checkReserve)
                .withInvariant(BUDDY_LISTS, Model::checkBuddyLists)
                .withInvariant(PATTERN, Model::checkAllPatterns);
        runAndClose(chain, Model::freeEverything, (m, steps) -> m.tally.steps += steps);
    }

    // ================================================================== actions

    private static Arbitrary<ActionChain<Model>> chains(Config config, Arbitrary<Integer> orders, int length) {
        return ActionChain.<Model>startWith(() -> new Model(config))
                .withAction(6, alloc(orders, gfps(config)))
                .withAction(2, allocExact(gfps(config)))
                .withAction(1, fill(gfps(config)))
                .withAction(6, free(false))
                .withAction(1, free(true))
                .withAction(1, allocElsewhere(orders, gfps(config)))
                .withAction(1, Action.just("drain_all_pages, check at rest", Transformer.mutate(
                        "drain_all_pages, check at rest", Model::drainAndCheckAtRest)))
                .withAction(1, Action.<Model>when(m -> !m.live.isEmpty()).describeAs("free everything")
                        .justMutate(Model::freeEverything))
                .withMaxTransformations(length);
    }

    /** Orders 0..10 with the given weights. */
    private static Arbitrary<Integer> orders(int... weights) {
        List<Tuple.Tuple2<Integer, Integer>> f = new ArrayList<>();
        for (int o = 0; o < weights.length; o++) {
            f.add(Tuple.of(weights[o], o));
        }
        return Arbitraries.frequency(f);
    }

    /**
     * GFP_KERNEL (with and without __GFP_NORETRY; the pools never wait, allocWait is 0),
     * GFP_ATOMIC or GFP_NOWAIT; sometimes __GFP_ZERO, sometimes a zone modifier; always
     * __GFP_NOWARN. GFP_KERNEL is more frequent in a growable pool, where it grows.
     */
    private static Arbitrary<Integer> gfps(Config config) {
        int kernel = config.growable() ? 3 : 1;
        Arbitrary<Integer> base = Arbitraries.frequency(Tuple.of(kernel, GFP_KERNEL),
                Tuple.of(1, GFP_KERNEL | __GFP_NORETRY), Tuple.of(1, GFP_ATOMIC), Tuple.of(1, GFP_NOWAIT));
        Arbitrary<Integer> zone = Arbitraries.frequency(Tuple.of(90, 0), Tuple.of(7, __GFP_DMA32),
                Tuple.of(3, __GFP_DMA));
        Arbitrary<Integer> zero = Arbitraries.frequency(Tuple.of(3, 0), Tuple.of(1, __GFP_ZERO));
        return Combinators.combine(base, zone, zero).as((b, z, zr) -> b | z | zr | __GFP_NOWARN);
    }

    /** {@code __get_free_pages}, {@code alloc_pages} or their single-page forms. */
    private static Action.Independent<Model> alloc(Arbitrary<Integer> orders, Arbitrary<Integer> gfps) {
        Arbitrary<Api> apis = Arbitraries.of(Api.ADDRESS, Api.PAGE);
        Arbitrary<Boolean> singles = Arbitraries.of(false, true);
        return () -> Combinators.combine(orders, gfps, apis, singles).as((order, gfp, api, single) -> {
            boolean one = single && order == 0;
            String name = api == Api.ADDRESS ? one ? "__get_free_page" : "__get_free_pages"
                    : one ? "alloc_page" : "alloc_pages";
            String call = name + "(" + Gfp.names(gfp) + (one ? "" : ", " + order) + ")";
            return Transformer.mutate(call, m -> m.alloc(call, api, gfp, order, one));
        });
    }

    /** {@code __get_free_pages} on a short-lived thread: its cache is reaped when it has ended. */
    private static Action.Independent<Model> allocElsewhere(Arbitrary<Integer> orders, Arbitrary<Integer> gfps) {
        return () -> Combinators.combine(orders, gfps).as((order, gfp) -> {
            String call = "__get_free_pages(" + Gfp.names(gfp) + ", " + order + ") on another thread";
            return Transformer.mutate(call, m -> m.maybeElsewhere(true,
                    () -> m.alloc(call, Api.ADDRESS, gfp, order, false)));
        });
    }

    /** {@code alloc_pages_exact} of 1 byte to a little over 4 MiB, most of them small. */
    private static Action.Independent<Model> allocExact(Arbitrary<Integer> gfps) {
        Arbitrary<Long> pages = Arbitraries.longs().between(1, (1L << MAX_ORDER) + 2)
                .withDistribution(RandomDistribution.biased());
        Arbitrary<Long> shortBy = Arbitraries.frequencyOf(Tuple.of(1, Arbitraries.just(0L)),
                Tuple.of(2, Arbitraries.longs().between(1, PAGE - 1)));
        return () -> Combinators.combine(pages, shortBy, gfps).as((p, s, gfp) -> {
            long size = p * PAGE - s;
            String call = "alloc_pages_exact(" + size + ", " + Gfp.names(gfp) + ")";
            return Transformer.mutate(call, m -> m.allocExact(call, size, gfp));
        });
    }

    /** Allocates blocks of one order until NULL (at most 64), to meet the watermarks. */
    private static Action.Independent<Model> fill(Arbitrary<Integer> gfps) {
        return () -> Combinators.combine(Arbitraries.integers().between(0, 4), gfps).as((order, gfp) -> {
            String call = "fill: __get_free_pages(" + Gfp.names(gfp) + ", " + order + ") until NULL";
            return Transformer.mutate(call, m -> m.fill(call, gfp, order));
        });
    }

    /**
     * Frees the live block at position {@code k} (modulo their number) in allocation order,
     * with the call that matches how it was allocated, or with the other form; on this
     * thread, or on a short-lived thread whose page cache keeps the block until it is reaped.
     */
    private static Action.Independent<Model> free(boolean elsewhere) {
        return actionWhen((Model m) -> !m.live.isEmpty(),
                Combinators.combine(Arbitraries.integers().between(0, 999), Arbitraries.of(false, true))
                        .as((k, other) -> {
                            String call = "free(#" + k + (other ? ", other form" : "") + ")"
                                    + (elsewhere ? " on another thread" : "");
                            return Transformer.mutate(call, m -> m.maybeElsewhere(elsewhere, () -> m.free(k, other)));
                        }));
    }

    // ================================================================== model

    /** How a block was allocated, hence how it is freed. */
    enum Api { ADDRESS, PAGE, EXACT }

    /**
     * A live block: {@code pages} frames from {@code pfn}; {@code order} is the block's
     * order (for EXACT, the order of the block it was cut from).
     */
    record Block(Api api, long addr, long page, long pfn, int order, long pages, long size, long tag, int gfp,
                 boolean single, MemorySegment seg) {
        long lastPfn() {
            return pfn + pages - 1;
        }

        @Override
        public String toString() {
            return api + (api == Api.EXACT ? " size " + size : " order " + order) + " at 0x" + Long.toHexString(addr)
                    + " pfn 0x" + Long.toHexString(pfn) + "..0x" + Long.toHexString(lastPfn());
        }
    }

    /** The state of one chain: the pool and the blocks the test holds. */
    static final class Model implements AutoCloseable {
        final Config config;
        final MemoryPool pool;
        final TreeMap<Long, Block> live = new TreeMap<>();
        /** Live blocks in allocation order: {@code free(k)} picks from here, deterministically. */
        final List<Block> byAge = new ArrayList<>();
        private final Recent recent = new Recent();
        /** The property's tally for its tries; a throwaway one for shrinking runs (other threads). */
        final Tally tally = TALLIES.forThisThread();
        /** True while an action runs on another thread: this thread's cache may hold frames. */
        private boolean elsewhere;
        long used;
        private long nextTag = 1;

        Model(Config config) {
            this.config = config;
            this.pool = config.build();
            tally.pools++;
            try {
                long frames = (config.smallBytes() + config.huge2mBytes()) / PAGE;
                require(FREE_PLUS_USED, pool.frames() == frames, () -> "pool " + config.name() + " holds "
                        + pool.frames() + " frames after bring-up, expected " + frames);
                drainAndCheckAtRest();
                checkMergedBack();
            } catch (RuntimeException | AssertionError e) {
                pool.close();
                throw e;
            }
        }

        // -------------------------------------------------------------- actions

        void alloc(String call, Api api, int gfp, int order, boolean single) {
            long addr;
            long page = 0;
            if (api == Api.PAGE) {
                page = single ? pool.alloc_page(gfp) : pool.alloc_pages(gfp, order);
                addr = page == 0 ? 0 : pool.page_address(page);
            } else {
                addr = single ? pool.__get_free_page(gfp) : pool.__get_free_pages(gfp, order);
            }
            tally.allocs++;
            if (addr == 0) {
                explainNull(call, gfp, order);
                return;
            }
            admit(call, gfp, new Block(api, addr, page, pool.virt_to_pfn(addr), order, 1L << order, 0, nextTag++, gfp,
                    single, pool.segment(addr, (long) PAGE << order)));
            tally.served[order]++;
        }

        void allocExact(String call, long size, int gfp) {
            long addr = pool.alloc_pages_exact(size, gfp);
            tally.exact++;
            int order = size > (long) PAGE << MAX_ORDER ? MAX_ORDER + 1 : GfpApi.get_order(size);
            if (addr == 0) {
                explainNull(call, gfp, order);
                return;
            }
            long pages = (size + PAGE - 1) / PAGE;
            admit(call, gfp, new Block(Api.EXACT, addr, 0, pool.virt_to_pfn(addr), order, pages, size, nextTag++, gfp,
                    false, pool.segment(addr, pages * PAGE)));
        }

        void fill(String call, int gfp, int order) {
            for (int i = 0; i < 64; i++) {
                long addr = pool.__get_free_pages(gfp, order);
                tally.allocs++;
                if (addr == 0) {
                    explainNull(call, gfp, order);
                    return;
                }
                admit(call + " #" + i, gfp, new Block(Api.ADDRESS, addr, 0, pool.virt_to_pfn(addr), order, 1L << order,
                        0, nextTag++, gfp, false, pool.segment(addr, (long) PAGE << order)));
                tally.served[order]++;
            }
        }

        void free(int k, boolean otherForm) {
            Block b = byAge.get(k % byAge.size());
            checkPattern(b, "before its free");
            switch (b.api()) {
                case ADDRESS -> {
                    if (otherForm) {
                        pool.__free_pages(pool.virt_to_page(b.addr()), b.order());
                    } else if (b.single()) {
                        pool.free_page(b.addr());
                    } else {
                        pool.free_pages(b.addr(), b.order());
                    }
                }
                case PAGE -> {
                    if (otherForm) {
                        pool.free_pages(pool.page_address(b.page()), b.order());
                    } else if (b.single()) {
                        pool.__free_page(b.page());
                    } else {
                        pool.__free_pages(b.page(), b.order());
                    }
                }
                case EXACT -> pool.free_pages_exact(b.addr(), b.size());
            }
            forget(b);
            tally.frees++;
            recent.note("freed " + b);
        }

        /** Runs {@code action} here, or on a new platform thread and waits for it to end. */
        void maybeElsewhere(boolean onOtherThread, Runnable action) {
            if (!onOtherThread) {
                action.run();
                return;
            }
            Throwable[] failure = new Throwable[1];
            Thread t = Thread.ofPlatform().name("props-elsewhere").start(() -> {
                elsewhere = true;
                try {
                    action.run();
                } catch (Throwable e) {
                    failure[0] = e;
                } finally {
                    elsewhere = false;
                }
            });
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted while waiting for " + t.getName(), e);
            }
            tally.elsewhere++;
            if (failure[0] instanceof AssertionError e) {
                throw e;
            }
            if (failure[0] != null) {
                throw new AssertionError("on another thread: " + failure[0], failure[0]);
            }
        }

        void freeEverything() {
            while (!byAge.isEmpty()) {
                free(byAge.size() - 1, false);
            }
            drainAndCheckAtRest();
            checkMergedBack();
        }

        void drainAndCheckAtRest() {
            pool.drain_all_pages();
            tally.drains++;
            long cached = 0;
            for (ZoneStats z : pool.zoneStats()) {
                cached += z.cached();
            }
            require(AT_REST, cached == 0, () -> "drain_all_pages left frames in this thread's page cache");
            List<String> problems = pool.checkPageAllocator();
            require(AT_REST, problems.isEmpty(), () -> "checkPageAllocator after drain_all_pages: "
                    + firstFew(problems) + "\n" + pool.buddyinfo());
            checkFreePlusUsed();
            checkPinned(pool);
        }

        // -------------------------------------------------------------- checks on a new block

        /** Checks a block just handed out, writes its pattern and adds it to the model. */
        private void admit(String call, int gfp, Block b) {
            String what = call + " = 0x" + Long.toHexString(b.addr()) + " (pfn 0x" + Long.toHexString(b.pfn()) + ")";
            require(ALIGNED, (b.pfn() & (1L << b.order()) - 1) == 0, () -> what + ": the first pfn is not a multiple"
                    + " of 2^" + b.order());
            for (long i = 0; i < b.pages(); i++) {
                long a = b.addr() + i * PAGE;
                long want = b.pfn() + i;
                long got = pool.pagemapPfn(a);
                long index = i;
                require(CONTIGUOUS, got == want, () -> what + ": page " + index + " of " + b.pages() + (got < 0
                        ? " is not present in pagemap (its direct-map page is not mapped)"
                        : " is at pfn 0x" + Long.toHexString(got) + " according to pagemap") + ", expected pfn 0x"
                        + Long.toHexString(want));
                long translated = pool.virt_to_pfn(a);
                require(CONTIGUOUS, translated == want, () -> what + ": virt_to_pfn of page " + index + " is 0x"
                        + Long.toHexString(translated) + ", expected 0x" + Long.toHexString(want));
            }
            require(CONTIGUOUS, pool.virt_to_phys(b.addr()) == b.pfn() * PAGE, () -> what + ": virt_to_phys is 0x"
                    + Long.toHexString(pool.virt_to_phys(b.addr())));
            if (b.api() == Api.PAGE) {
                require(CONTIGUOUS, pool.page_to_pfn(b.page()) == b.pfn() && pool.virt_to_page(b.addr()) == b.page(),
                        () -> what + ": page handle 0x" + Long.toHexString(b.page()) + " and address disagree");
            }
            Map.Entry<Long, Block> below = live.floorEntry(b.lastPfn());
            require(NO_OVERLAP, below == null || below.getValue().lastPfn() < b.pfn(), () -> what + " overlaps the"
                    + " live " + below.getValue());
            checkZone(what, gfp, b);
            if ((gfp & __GFP_ZERO) != 0) {
                long at = b.seg().mismatch(ZEROS.asSlice(0, b.seg().byteSize()));
                require(ZEROED, at < 0, () -> what + ": byte " + at + " is 0x"
                        + Integer.toHexString(b.seg().get(ValueLayout.JAVA_BYTE, at) & 0xff));
            }
            for (long i = 0; i < b.pages(); i++) {
                b.seg().set(ValueLayout.JAVA_LONG, i * PAGE, pattern(b.tag(), 2 * i));
                b.seg().set(ValueLayout.JAVA_LONG, i * PAGE + PAGE - 8, pattern(b.tag(), 2 * i + 1));
            }
            live.put(b.pfn(), b);
            byAge.add(b);
            used += b.pages();
            recent.note("got " + b + " from " + call);
        }

        /**
         * The block lies in one zone, inside that zone's span, in a zone the flags allow, and
         * for __GFP_DMA32 / __GFP_DMA at or below DMA_BIT_MASK(32) / DMA_BIT_MASK(24).
         */
        private void checkZone(String what, int gfp, Block b) {
            ZoneType first = zoneOf(b.pfn());
            ZoneType last = zoneOf(b.lastPfn());
            require(ZONE_BOUNDS, first == last, () -> what + " spans zones " + first + " and " + last);
            require(ZONE_BOUNDS, zonelist(gfp).contains(first), () -> what + " is in zone " + first + ", which "
                    + Gfp.names(gfp) + " does not allow (zonelist " + zonelist(gfp) + ")");
            ZoneStats z = pool.zoneStats().get(first.ordinal());
            require(ZONE_BOUNDS, b.pfn() >= z.spannedFirstPfn() && b.lastPfn() <= z.spannedLastPfn(), () -> what
                    + " lies outside zone " + first + "'s span 0x" + Long.toHexString(z.spannedFirstPfn()) + "..0x"
                    + Long.toHexString(z.spannedLastPfn()));
            long lastByte = (b.lastPfn() + 1) * PAGE - 1;
            long mask = (gfp & __GFP_DMA) != 0 ? (1L << 24) - 1 : (gfp & __GFP_DMA32) != 0 ? (1L << 32) - 1 : -1;
            require(ZONE_BOUNDS, mask < 0 || lastByte <= mask, () -> what + " ends at physical 0x"
                    + Long.toHexString(lastByte) + ", above the DMA mask 0x" + Long.toHexString(mask));
        }

        /**
         * A NULL is explained when, after the call, no zone of the zonelist has a free block of
         * the order whose taking keeps the zone at or above the flags' watermark, no page cache
         * holds frames (the slow path drained the caller's and ended threads'; only when the
         * call ran on another thread may this thread's cache hold some), and a blocking request
         * in a growable pool could not have grown it enough or needed contiguity the kernel may
         * not give.
         */
        private void explainNull(String call, int gfp, int order) {
            tally.nulls++;
            recent.note(call + " = NULL");
            if (order > MAX_ORDER) {
                tally.nullsAboveMaxOrder++;
                return;
            }
            List<ZoneStats> zs = pool.zoneStats();
            long cached = 0;
            for (ZoneStats z : zs) {
                cached += z.cached();
            }
            long c = cached;
            require(NULL_EXPLAINED, cached == 0 || elsewhere, () -> call + " returned NULL with " + c + " frames left"
                    + " in this thread's page cache; the slow path drains it before it gives up");
            for (ZoneType t : zonelist(gfp)) {
                ZoneStats z = zs.get(t.ordinal());
                int largest = -1;
                for (int o = order; o <= MAX_ORDER; o++) {
                    if (z.nrFree()[o] > 0) {
                        largest = o;
                    }
                }
                long mark = mark(gfp, z.min());
                int l = largest;
                require(NULL_EXPLAINED, largest < 0 || z.free() - (1L << order) < mark, () -> call + " returned NULL"
                        + " but zone " + t + " has a free order-" + l + " block and " + z.free() + " free frames"
                        + " (watermark " + mark + " for these flags)\n" + pool.buddyinfo());
            }
            if (config.growable() && Gfp.mayBlock(gfp) && zonelist(gfp).contains(ZoneType.NORMAL) && order == 0) {
                long room = config.maxFrames() - pool.frames();
                require(NULL_EXPLAINED, room < 1, () -> call + " returned NULL while the pool could still grow by "
                        + room + " frames");
            }
            tally.nullsExplained++;
        }

        // -------------------------------------------------------------- invariants

        void checkNoOverlap() {
            long end = Long.MIN_VALUE;
            long frames = 0;
            Block prev = null;
            for (Block b : live.values()) {
                Block p = prev;
                require(NO_OVERLAP, b.pfn() > end, () -> "live " + p + " and " + b + " overlap");
                end = b.lastPfn();
                frames += b.pages();
                prev = b;
            }
            long f = frames;
            require(NO_OVERLAP, frames == used && live.size() == byAge.size(), () -> "the model counts " + used
                    + " used frames, its blocks hold " + f);
        }

        /** Free frames in the buddy and the caches, plus the frames held, are the pool. */
        void checkFreePlusUsed() {
            long free = 0;
            long managed = 0;
            for (ZoneStats z : pool.zoneStats()) {
                free += z.free() + z.cached();
                managed += z.managed();
            }
            long f = free;
            long m = managed;
            require(FREE_PLUS_USED, free + used == managed, () -> "free " + f + " + used " + used + " = "
                    + (f + used) + ", managed " + m + "\n" + pool.buddyinfo());
            require(FREE_PLUS_USED, managed == pool.frames(), () -> "managed " + m + ", but the pool holds "
                    + pool.frames() + " frames");
        }

        /**
         * Every path that takes frames from the buddy first checks the watermark, so in a pool
         * that does not grow, no zone's buddy ever holds fewer free frames than the lowest mark
         * (GFP_ATOMIC's).
         */
        void checkReserve() {
            if (config.growable()) {
                return;
            }
            for (ZoneStats z : pool.zoneStats()) {
                if (z.managed() > 0) {
                    long mark = mark(GFP_ATOMIC, z.min());
                    require(RESERVE, z.free() >= mark, () -> "zone " + z.zone() + " has " + z.free()
                            + " free frames in its buddy, below GFP_ATOMIC's watermark " + mark + " (min " + z.min()
                            + ")");
                }
            }
        }

        void checkBuddyLists() {
            List<String> problems = pool.checkPageAllocator();
            require(BUDDY_LISTS, problems.isEmpty(), () -> "checkPageAllocator: " + firstFew(problems));
        }

        void checkAllPatterns() {
            for (Block b : byAge) {
                checkPattern(b, "while live");
            }
        }

        private void checkPattern(Block b, String when) {
            for (long i = 0; i < b.pages(); i++) {
                for (int end = 0; end < 2; end++) {
                    long off = i * PAGE + end * (PAGE - 8);
                    long want = pattern(b.tag(), 2 * i + end);
                    long got = b.seg().get(ValueLayout.JAVA_LONG, off);
                    require(PATTERN, got == want, () -> "live " + b + " " + when + ": offset 0x" + Long.toHexString(off)
                            + " holds 0x" + Long.toHexString(got) + ", written 0x" + Long.toHexString(want));
                }
            }
        }

        /**
         * With nothing live and the caches drained, every zone's free lists are the greedy
         * decomposition of the pool's PFN runs: at each PFN the largest aligned block (up to
         * MAX_ORDER) that the run holds.
         */
        void checkMergedBack() {
            long[][] want = new long[ZoneType.values().length][MAX_ORDER + 1];
            long[] pfns = pool.pfns();
            int i = 0;
            while (i < pfns.length) {
                int j = i + 1;
                while (j < pfns.length && pfns[j] == pfns[j - 1] + 1) {
                    j++;
                }
                long end = pfns[j - 1] + 1;
                for (long p = pfns[i]; p < end; ) {
                    int o = Math.min(MAX_ORDER, Long.numberOfTrailingZeros(p));
                    while (p + (1L << o) > end) {
                        o--;
                    }
                    want[zoneOf(p).ordinal()][o]++;
                    p += 1L << o;
                }
                i = j;
            }
            for (ZoneStats z : pool.zoneStats()) {
                long[] w = want[z.zone().ordinal()];
                require(MERGED_BACK, Arrays.equals(w, z.nrFree()), () -> "zone " + z.zone() + " free blocks per order "
                        + Arrays.toString(z.nrFree()) + ", the pool's " + pfns.length + " frames decompose into "
                        + Arrays.toString(w) + "\n" + pool.buddyinfo());
            }
        }

        // -------------------------------------------------------------- helpers

        private void forget(Block b) {
            live.remove(b.pfn());
            byAge.remove(b);
            used -= b.pages();
        }


        @Override
        public void close() {
            PageStats s = pool.pageStats();
            tally.slowAllocs += s.slowAllocs();
            tally.growths += s.growths();
            tally.harvests += s.harvests();
            tally.harvestHits += s.harvestHits();
            tally.reapedCaches += s.reapedCaches();
            pool.close();
        }

        @Override
        public String toString() {
            return "Model[pool " + config.name() + ", " + live.size() + " live blocks, " + used + " frames used; last: "
                    + recent + "]";
        }
    }

    /**
     * {@link MemoryPool#verify()}: every frame is still mapped in the pool's frame view at the
     * PFN recorded at intake. A frame that is not present is never right (it is no longer
     * mlocked); one at another PFN is only possible where the host lets compaction move
     * mlocked frames ({@code vm.compact_unevictable_allowed=1}).
     */
    static void checkPinned(MemoryPool pool) {
        FrameVerification v = pool.verify();
        boolean mayMove = pool.host().compactUnevictable() == 1;
        List<String> bad = new ArrayList<>();
        for (MovedFrame f : v.moved()) {
            if (f.currentPfn() < 0 || !mayMove) {
                bad.add(f.toString());
            }
        }
        require(PINNED, bad.isEmpty(), () -> bad.size() + " of " + v.framesChecked() + " frames of pool '"
                + pool.name() + "' left their PFN: " + firstFew(bad));
    }

    // ================================================================== regressions

    /**
     * Found by {@link #growingPoolMatchesTheModel} (a contiguity harvest gives back the frames
     * around the block it keeps): giving back part of a 2 MiB shmem folio must leave the
     * folio's other frames mapped and pinned. Here the lower half of an order-9 block stays
     * in the pool, free in the buddy, and the upper half goes back to the kernel.
     */
    @Example
    void releasingPartOfAFolioLeavesTheRestMappedAndPinned() {
        try (MemoryPool pool = MemoryPool.builder().name("props-release").smallPages(4 * MIB).build()) {
            long a = pool.__get_free_pages(GFP_KERNEL | __GFP_NOWARN, 9);
            require(CONTIGUOUS, a != 0, () -> "a 4 MiB pool has no order-9 block: 4 KiB frames come in 2 MiB folios"
                    + " only with shmem THP on advise (`make hugepages` sets it)\n" + pool.buddyinfo());
            long pfn = pool.virt_to_pfn(a);
            pool.free_pages(a, 9);
            long[] upper = new long[256];
            for (int i = 0; i < upper.length; i++) {
                upper[i] = pfn + 256 + i;
            }
            pool.release(upper);
            checkPinned(pool);
            for (int i = 0; i < 256; i++) {
                long got = pool.pagemapPfn(a + (long) i * PAGE);
                int index = i;
                require(CONTIGUOUS, got == pfn + i, () -> "after release of pfn 0x" + Long.toHexString(pfn + 256)
                        + "..0x" + Long.toHexString(pfn + 511) + ", the kept frame " + index + " at pfn 0x"
                        + Long.toHexString(pfn + index) + " reads " + (got < 0 ? "not present" : "0x"
                        + Long.toHexString(got)) + " in pagemap");
                // A pool pinned long-term holds its kept frames by the pin (LongTermPinTest checks
                // the registrations after a release); the kernel may then leave the partly
                // released folio unsplit, and a large folio mapped in part is not mlocked. An
                // mlock-only pool holds them by mlock alone.
                if (!pool.pinState().longTerm()) {
                    long flags = kpageflags(pfn + i);
                    require(PINNED, (flags & 1L << KPF_MLOCKED) != 0, () -> "the kept frame at pfn 0x"
                            + Long.toHexString(pfn + index) + " is no longer mlocked: /proc/kpageflags 0x"
                            + Long.toHexString(flags));
                }
            }
        }
    }

    /** {@code KPF_MLOCKED} in include/uapi/linux/kernel-page-flags.h. */
    static final int KPF_MLOCKED = 33;

    /** The kernel's flags of one physical page, from /proc/kpageflags (root). */
    static long kpageflags(long pfn) {
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(
                java.nio.file.Path.of("/proc/kpageflags"))) {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            ch.read(b, pfn * 8);
            return b.getLong(0);
        } catch (java.io.IOException e) {
            throw new AssertionError("cannot read /proc/kpageflags (needs root): " + e, e);
        }
    }

    // ================================================================== the rules, as documented

    /** The zone of a frame, from its physical address (DMA below 16 MiB, DMA32 below 4 GiB). */
    static ZoneType zoneOf(long pfn) {
        long phys = pfn * PAGE;
        return phys < 1L << 24 ? ZoneType.DMA : phys < 1L << 32 ? ZoneType.DMA32 : ZoneType.NORMAL;
    }

    /** The zones a request may use, in fallback order (see {@link Gfp}). */
    static List<ZoneType> zonelist(int gfp) {
        if ((gfp & __GFP_DMA) != 0) {
            return List.of(ZoneType.DMA);
        }
        return (gfp & __GFP_DMA32) != 0 ? List.of(ZoneType.DMA32, ZoneType.DMA)
                : List.of(ZoneType.NORMAL, ZoneType.DMA32, ZoneType.DMA);
    }

    /**
     * The watermark of the last attempt: min; with __GFP_HIGH half of it, and 3/8 of it
     * when the caller may not block (GFP_ATOMIC).
     */
    static long mark(int gfp, long min) {
        if ((gfp & __GFP_HIGH) == 0) {
            return min;
        }
        long half = min - min / 2;
        return Gfp.mayBlock(gfp) ? half : half - half / 4;
    }




    // ================================================================== tally

    /** What one property's tries did, printed after it (see {@link Tallies}). */
    static final class Tally {
        long pools;
        long allocs;
        long exact;
        long frees;
        long drains;
        long steps;
        long elsewhere;
        long nulls;
        long nullsExplained;
        long nullsAboveMaxOrder;
        long slowAllocs;
        long growths;
        long harvests;
        long harvestHits;
        long reapedCaches;
        final long[] served = new long[MAX_ORDER + 1];
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
        System.out.println("page allocator properties: " + t.pools + " pools, " + t.steps + " steps, "
                + (t.allocs + t.exact + t.frees) + " calls (" + t.allocs + " alloc_pages, " + t.exact
                + " alloc_pages_exact, " + t.frees + " frees; " + t.elsewhere + " steps on another thread), " + t.nulls
                + " NULL (" + t.nullsExplained + " explained by the model, " + t.nullsAboveMaxOrder
                + " above MAX_ORDER), "
                + t.drains + " drains; blocks served per order " + Arrays.toString(t.served) + "; slow path "
                + t.slowAllocs + ", growths " + t.growths + ", harvests " + t.harvestHits + "/" + t.harvests
                + ", caches reaped " + t.reapedCaches);
    }
}
