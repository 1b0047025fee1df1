package io.kmem;

import static io.kmem.DmaApi.DMA_BIT_MASK;
import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.error.DoubleFreeException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two frees of one object at the same moment, for every family that frees: exactly one returns,
 * the other throws {@link DoubleFreeException} (or, for the families where a second free in
 * sequence is not a double free in the kernel's words, the same error a second free in
 * sequence gets), nothing is handed out twice afterwards, and the pool's accounting balances.
 * The window is opened on purpose by {@link Race}; {@link #ROUNDS} rounds a family catch a race
 * that one round in several hundred would show (see the README's reliability section for the
 * catch rate measured with the page allocator's claim reverted).
 *
 * <p>Then frees racing allocations that reuse the same frames on other threads, and threads
 * that exit with blocks in their page caches while others free and allocate: every block
 * handed out is owned by one caller at a time ({@link Owners}), and every frame comes back.
 */
class FreeRaceTest {
    /** Rounds per family: enough to catch a race that one round in 150 shows, many times over. */
    static final int ROUNDS = 20_000;
    private static final int BATCH = 256;

    private MemoryPool pool;

    @BeforeEach
    void open() {
        pool = MemoryPool.builder().name("race").smallPages(64L << 20).maxSmallPages(256L << 20).build();
    }

    @AfterEach
    void close() {
        pool.close();
    }

    /** Races {@code free} on {@code ROUNDS} objects; asserts the outcome and that the pool balances. */
    private <T> void raceFrees(String family, int rounds, Supplier<T> alloc, Consumer<T> free,
            Class<? extends Throwable> loser) {
        raceFrees(family, rounds, alloc, free, loser, () -> { });
    }

    /** As above; {@code after} frees what the objects raced over rest on (buffers, a dma_pool) before the checks. */
    private <T> void raceFrees(String family, int rounds, Supplier<T> alloc, Consumer<T> free,
            Class<? extends Throwable> loser, Runnable after) {
        Race.Tally t = Race.freeTwice(rounds, BATCH, alloc, free);
        after.run();
        System.out.println("race | " + family + " | " + t);
        assertEquals(0, t.bothFreed(), family + ": both racing frees returned normally in " + t.bothFreed() + " of "
                + rounds + " rounds (the object went on two free lists)");
        assertEquals(0, t.noneFreed(), family + ": both racing frees threw in " + t.noneFreed() + " rounds");
        assertEquals(rounds, t.losers().size(), family + ": one free in every round loses");
        List<Throwable> odd = t.unexpected(loser);
        assertTrue(odd.isEmpty(), family + ": a losing free threw something else than " + loser.getSimpleName()
                + ": " + (odd.isEmpty() ? "" : odd.getFirst()));
        pool.takeSlabReports();
        pool.takeDmaReports();
        assertEquals(List.of(), pool.checkPageAllocator(), family + ": the buddy's own check");
        assertEquals(List.of(), pool.validateSlabs(), family + ": validateSlabs");
        assertEquals(List.of(), pool.checkVmalloc(), family + ": checkVmalloc");
        assertNothingHandedOutTwice(family);
        FrameAccounting a = FrameAccounting.of(pool);
        assertEquals(0, a.unaccounted(), family + ": " + a);
        assertEquals(0, a.activeObjs(), family + ": " + a);
    }

    /**
     * Allocates every order-0 page and small object the pool can give without growing, on two
     * threads, and checks that no address comes back twice: a block that sat in two free
     * lists would.
     */
    private void assertNothingHandedOutTwice(String family) {
        Owners owners = new Owners();
        List<Long> pages = new ArrayList<>();
        List<Long> objects = new ArrayList<>();
        for (int i = 0; i < 4096; i++) {
            long p = pool.__get_free_page(GFP_KERNEL);
            owners.take(family + ": __get_free_page", p, 4096);
            pages.add(p);
            long k = pool.kmalloc(64, GFP_KERNEL);
            owners.take(family + ": kmalloc(64)", k, 64);
            objects.add(k);
        }
        pages.forEach(pool::free_page);
        objects.forEach(pool::kfree);
    }

    @Test
    void freePageOrder0() {
        raceFrees("free_page", ROUNDS, () -> pool.__get_free_page(GFP_KERNEL), pool::free_page,
                DoubleFreeException.class);
    }

    @Test
    void freePagesOrder2ThroughTheCaches() {
        raceFrees("free_pages(order 2)", ROUNDS, () -> pool.__get_free_pages(GFP_KERNEL, 2),
                p -> pool.free_pages(p, 2), DoubleFreeException.class);
    }

    @Test
    void freePagesOrder5ThroughTheBuddy() {
        raceFrees("free_pages(order 5)", ROUNDS / 4, () -> pool.__get_free_pages(GFP_KERNEL, 5),
                p -> pool.free_pages(p, 5), DoubleFreeException.class);
    }

    @Test
    void freePagesByHandle() {
        raceFrees("__free_pages", ROUNDS, () -> pool.alloc_pages(GFP_KERNEL, 1), p -> pool.__free_pages(p, 1),
                DoubleFreeException.class);
    }

    @Test
    void freePagesExact() {
        raceFrees("free_pages_exact", ROUNDS / 2, () -> pool.alloc_pages_exact(3 * 4096, GFP_KERNEL),
                p -> pool.free_pages_exact(p, 3 * 4096), DoubleFreeException.class);
    }

    @Test
    void kfreeOfSlabObjects() {
        raceFrees("kfree(kmalloc-64)", ROUNDS, () -> pool.kmalloc(64, GFP_KERNEL), pool::kfree,
                DoubleFreeException.class);
    }

    @Test
    void kmemCacheFree() {
        KmemCache c = pool.kmem_cache_create("race-cache", 200, 8, 0, null);
        raceFrees("kmem_cache_free", ROUNDS, () -> pool.kmem_cache_alloc(c, GFP_KERNEL),
                p -> pool.kmem_cache_free(c, p), DoubleFreeException.class, () -> pool.kmem_cache_destroy(c));
    }

    @Test
    void kfreeOfLargeKmalloc() {
        raceFrees("kfree(large kmalloc)", ROUNDS / 2, () -> pool.kmalloc(16 * 1024, GFP_KERNEL), pool::kfree,
                DoubleFreeException.class);
    }

    @Test
    void vfree() {
        raceFrees("vfree", ROUNDS / 10, () -> pool.vmalloc(2 * 4096), pool::vfree, DoubleFreeException.class);
    }

    @Test
    void vunmap() {
        List<Long> lent = new ArrayList<>();
        raceFrees("vunmap", ROUNDS / 10, () -> {
            long[] pages = {pool.alloc_page(GFP_KERNEL), pool.alloc_page(GFP_KERNEL)};
            lent.add(pages[0]);
            lent.add(pages[1]);
            return pool.vmap(pages, 2);
        }, pool::vunmap, DoubleFreeException.class, () -> lent.forEach(p -> pool.__free_pages(p, 0)));
    }

    @Test
    void dmaPoolFree() {
        Device dev = device();
        DmaPool dp = pool.dma_pool_create("race-pool", dev, 128, 64, 0);
        raceFrees("dma_pool_free", ROUNDS, () -> {
            long[] h = new long[1];
            long v = pool.dma_pool_alloc(dp, GFP_KERNEL, h);
            return new long[] {v, h[0]};
        }, b -> pool.dma_pool_free(dp, b[0], b[1]), DoubleFreeException.class, () -> pool.dma_pool_destroy(dp));
    }

    @Test
    void dmaFreeCoherent() {
        Device dev = device();
        raceFrees("dma_free_coherent", ROUNDS / 4, () -> pool.dma_alloc_coherent(dev, 4096, GFP_KERNEL),
                b -> pool.dma_free_coherent(dev, b), DoubleFreeException.class);
    }

    @Test
    void dmaUnmapSingle() {
        Device dev = device();
        List<Long> buffers = new ArrayList<>();
        raceFrees("dma_unmap_single", ROUNDS, () -> {
            long k = pool.kmalloc(512, GFP_KERNEL);
            buffers.add(k);
            return pool.dma_map_single(dev, k, 512, DmaDirection.DMA_TO_DEVICE);
        }, d -> pool.dma_unmap_single(dev, d, 512, DmaDirection.DMA_TO_DEVICE), DoubleFreeException.class,
                () -> buffers.forEach(pool::kfree));
    }

    @Test
    void dmaUnmapPage() {
        Device dev = device();
        List<Long> pages = new ArrayList<>();
        raceFrees("dma_unmap_page", ROUNDS, () -> {
            long page = pool.alloc_page(GFP_KERNEL);
            pages.add(page);
            return pool.dma_map_page(dev, page, 0, 4096, DmaDirection.DMA_FROM_DEVICE);
        }, d -> pool.dma_unmap_page(dev, d, 4096, DmaDirection.DMA_FROM_DEVICE), DoubleFreeException.class,
                () -> pages.forEach(p -> pool.__free_pages(p, 0)));
    }

    @Test
    void iounmap(@TempDir Path dir) throws IOException {
        Path regs = dir.resolve("bar0");
        Files.write(regs, new byte[4096]);
        raceFrees("iounmap", ROUNDS / 10, () -> pool.ioremapFile(regs, 0, 4096), io -> pool.iounmap(io),
                DoubleFreeException.class);
    }

    @Test
    void releaseMemRegion() {
        AtomicLong next = new AtomicLong(0x7f00_0000_0000L);
        raceFrees("release_mem_region", ROUNDS / 10, () -> {
            long start = next.getAndAdd(0x1000);
            pool.request_mem_region(start, 0x1000, "race");
            return start;
        }, start -> pool.release_mem_region(start, 0x1000), DoubleFreeException.class);
    }

    private Device device() {
        Device dev = new Device("race-dev");
        pool.dma_set_mask_and_coherent(dev, DMA_BIT_MASK(64));
        return dev;
    }

    /**
     * Frees racing allocations of the same frames: three threads allocate pages of orders 0 to
     * 3 and kmalloc objects, hand half of them to a queue that the other threads free (so that
     * frees land in other threads' caches and slabs than the allocating one's), and free the
     * rest themselves; short-lived threads join in, allocate, leave blocks in their page caches
     * and exit, so that their caches are drained by others while those free. Every block handed
     * out must be free in the {@link Owners} map when it is handed out.
     */
    @Test
    void freesRaceAllocationsAndExitingThreads() throws InterruptedException {
        Owners owners = new Owners();
        ConcurrentLinkedQueue<long[]> handOff = new ConcurrentLinkedQueue<>();
        List<Thread> threads = new ArrayList<>();
        List<Throwable> failures = new CopyOnWriteArrayList<>();
        Thread.Builder churners = Thread.ofPlatform().name("churn-", 0).uncaughtExceptionHandler((th, e) -> failures.add(e));
        for (int t = 0; t < 3; t++) {
            threads.add(churners.start(() -> churn(owners, handOff, 200_000)));
        }
        Thread.Builder exiting = Thread.ofPlatform().name("exiting-", 0).uncaughtExceptionHandler((th, e) -> failures.add(e));
        for (int t = 0; t < 40; t++) {
            exiting.start(() -> churn(owners, handOff, 2_000)).join();
        }
        for (Thread t : threads) {
            t.join();
        }
        assertEquals(List.of(), failures);
        for (long[] b; (b = handOff.poll()) != null; ) {
            owners.give(b[0]);
            free(b);
        }
        assertEquals(List.of(), pool.checkPageAllocator());
        assertEquals(List.of(), pool.validateSlabs());
        assertNothingHandedOutTwice("churn");
        FrameAccounting a = FrameAccounting.of(pool);
        assertEquals(0, a.unaccounted(), a.toString());
        assertNotEquals(0, owners.taken.get(), "the churn allocated");
    }

    /** {order, address}: order -1 for a kmalloc(64). */
    private void churn(Owners owners, ConcurrentLinkedQueue<long[]> handOff, int steps) {
        ThreadLocalRandom rnd = ThreadLocalRandom.current();
        List<long[]> mine = new ArrayList<>();
        for (int i = 0; i < steps; i++) {
            int what = rnd.nextInt(10);
            if (what < 4) {
                int order = rnd.nextInt(-1, 4);
                long addr = order < 0 ? pool.kmalloc(64, GFP_KERNEL) : pool.__get_free_pages(GFP_KERNEL, order);
                assertNotEquals(0, addr, "GFP_KERNEL allocation");
                owners.take("churn", addr, order < 0 ? 64 : 4096L << order);
                long[] b = {addr, order};
                if (rnd.nextBoolean()) {
                    handOff.add(b);
                } else {
                    mine.add(b);
                }
            } else if (what < 7 && !mine.isEmpty()) {
                long[] b = mine.remove(rnd.nextInt(mine.size()));
                owners.give(b[0]);
                free(b);
            } else {
                long[] b = handOff.poll();
                if (b != null) {
                    owners.give(b[0]);
                    free(b);
                }
            }
        }
        for (long[] b : mine) {
            owners.give(b[0]);
            free(b);
        }
    }

    private void free(long[] b) {
        if (b[1] < 0) {
            pool.kfree(b[0]);
        } else {
            pool.free_pages(b[0], (int) b[1]);
        }
    }

    /**
     * Who holds what: page blocks by each of their pages, small objects by address and page.
     * A block handed out while a caller holds any page of it, or an object whose page a caller
     * holds as a page, was handed out twice.
     */
    static final class Owners {
        final ConcurrentHashMap<Long, Long> live = new ConcurrentHashMap<>();
        final ConcurrentHashMap<Long, Long> pages = new ConcurrentHashMap<>();
        final AtomicLong taken = new AtomicLong();

        /** Records {@code [addr, addr + size)} as held (whole pages when size is a page multiple). */
        void take(String what, long addr, long size) {
            if (live.putIfAbsent(addr, size) != null) {
                throw twice(what, addr);
            }
            if (size % 4096 == 0) {
                for (long p = addr; p < addr + size; p += 4096) {
                    if (pages.putIfAbsent(p, addr) != null) {
                        throw twice(what, p);
                    }
                }
            } else if (pages.containsKey(addr & -4096L)) {
                throw twice(what, addr);
            }
            taken.incrementAndGet();
        }

        private static AssertionError twice(String what, long addr) {
            return new AssertionError(what + " handed out 0x" + Long.toHexString(addr) + " while a caller still"
                    + " holds it: the memory sat in two free lists");
        }

        void give(long addr) {
            Long size = live.remove(addr);
            if (size == null) {
                throw new AssertionError("0x" + Long.toHexString(addr) + " freed but not held");
            }
            if (size % 4096 == 0) {
                for (long p = addr; p < addr + size; p += 4096) {
                    pages.remove(p);
                }
            }
        }
    }
}
