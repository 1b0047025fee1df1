package io.kmem.internal.trace;

import static io.kmem.gfp.Gfp.GFP_ATOMIC;
import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static io.kmem.gfp.Gfp.__GFP_NOWARN;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.KmemCache;
import io.kmem.MemoryPool;
import io.kmem.error.BadAddressException;
import io.kmem.error.DoubleFreeException;
import io.kmem.internal.page.BuddyAllocator;
import io.kmem.stats.PageStats;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each of kmem's JFR events, triggered for real on a pool, recorded with
 * {@link jdk.jfr.Recording} and read back from the file with {@link RecordingFile}.
 */
class JfrEventsTest {
    private static final long MIB = 1L << 20;
    private static final String[] EVENTS = {"io.kmem.AllocationFailure", "io.kmem.PoolGrowth",
                                            "io.kmem.ContiguityHarvest", "io.kmem.AllocationWait", "io.kmem.Misuse"};

    @TempDir
    Path dir;

    /** Records what {@code work} does and returns kmem's events from the dumped file. */
    private List<RecordedEvent> record(Runnable work) throws IOException {
        Path file = dir.resolve("kmem.jfr");
        try (Recording r = new Recording()) {
            for (String e : EVENTS) {
                r.enable(e).withThreshold(Duration.ZERO).withStackTrace();
            }
            r.start();
            work.run();
            r.stop();
            r.dump(file);
        }
        List<RecordedEvent> out = new ArrayList<>();
        for (RecordedEvent e : RecordingFile.readAllEvents(file)) {
            if (e.getEventType().getName().startsWith("io.kmem.")) {
                out.add(e);
            }
        }
        Files.delete(file);
        return out;
    }

    private static List<RecordedEvent> named(List<RecordedEvent> events, String name) {
        return events.stream().filter(e -> e.getEventType().getName().equals(name)).toList();
    }

    @Test
    void allocationFailuresOfThePageAllocatorSlabAndVmalloc() throws IOException {
        try (MemoryPool pool = MemoryPool.builder().name("jfr-fail").smallPages(MIB).build()) {
            KmemCache cache = pool.kmem_cache_create("jfr_obj", 100, 0, 0, null);
            List<RecordedEvent> events = record(() -> {
                assertEquals(0, pool.alloc_pages(GFP_KERNEL | __GFP_NOWARN, 11));
                assertEquals(0, pool.kmalloc(5 * MIB, GFP_KERNEL | __GFP_NOWARN));
                assertEquals(0, pool.vmalloc(0));
                List<Long> pages = new ArrayList<>();
                for (long p; (p = pool.__get_free_page(GFP_ATOMIC | __GFP_NOWARN)) != 0; ) {
                    pages.add(p);
                }
                assertEquals(0, pool.kmem_cache_alloc(cache, GFP_ATOMIC | __GFP_NOWARN), "no frame left for a slab");
                pages.forEach(pool::free_page);
            });
            List<RecordedEvent> failures = named(events, "io.kmem.AllocationFailure");
            RecordedEvent order11 = failures.stream().filter(e -> e.getInt("order") == 11).findFirst().orElseThrow();
            assertEquals("jfr-fail", order11.getString("pool"));
            assertEquals("alloc_pages", order11.getString("function"));
            assertEquals(4096L << 11, order11.getLong("size"));
            assertTrue(order11.getString("gfp").startsWith("0x") && order11.getString("gfp").contains("GFP_KERNEL")
                    && order11.getString("gfp").contains("__GFP_NOWARN"), order11.getString("gfp"));
            assertTrue(order11.getString("reason").contains("above MAX_ORDER"), order11.getString("reason"));
            assertNull(order11.getString("cache"));
            assertFalse(order11.getStackTrace().getFrames().isEmpty(), "a stack trace shows who asked");

            RecordedEvent big = failures.stream().filter(e -> e.getString("function").equals("kmalloc")).findFirst()
                    .orElseThrow();
            assertEquals(5 * MIB, big.getLong("size"));
            assertEquals(-1, big.getInt("order"));
            assertEquals("above KMALLOC_MAX_SIZE", big.getString("reason"));

            RecordedEvent vm = failures.stream().filter(e -> e.getString("function").equals("vmalloc")).findFirst()
                    .orElseThrow();
            assertEquals(0, vm.getLong("size"));
            assertTrue(vm.getString("reason").contains("size 0"), vm.getString("reason"));

            RecordedEvent slab = failures.stream().filter(e -> e.getString("function").equals("kmem_cache_alloc"))
                    .findFirst().orElseThrow();
            assertEquals("jfr_obj", slab.getString("cache"));
            assertEquals(100, slab.getLong("size"));
            assertTrue(slab.getString("gfp").contains("GFP_ATOMIC"), slab.getString("gfp"));
            assertTrue(failures.stream().anyMatch(e -> e.getString("function").equals("alloc_pages")
                    && e.getInt("order") == 0), "the page allocator's failure that ended the loop");
        }
    }

    @Test
    void poolGrowthAtBringUpAndForAnAllocation() throws IOException {
        MemoryPool[] pool = new MemoryPool[1];
        List<RecordedEvent> events = record(() -> {
            pool[0] = MemoryPool.builder().name("jfr-grow").smallPages(MIB).maxSmallPages(16 * MIB).build();
            List<Long> pages = new ArrayList<>();
            for (int i = 0; i < 300; i++) {
                pages.add(pool[0].__get_free_page(GFP_KERNEL));
            }
            pages.forEach(pool[0]::free_page);
        });
        try (MemoryPool p = pool[0]) {
            List<RecordedEvent> growths = named(events, "io.kmem.PoolGrowth");
            RecordedEvent bringUp = growths.getFirst();
            assertEquals("jfr-grow", bringUp.getString("pool"));
            assertEquals(256, bringUp.getLong("frames"));
            assertEquals(-1, bringUp.getInt("order"));
            assertEquals("4 KiB shmem", bringUp.getString("kind"));
            assertNull(bringUp.getString("error"));
            assertTrue(growths.size() >= 2, "the allocation past 1 MiB grew the pool: " + growths);
            RecordedEvent grown = growths.get(1);
            assertEquals(0, grown.getInt("order"));
            assertEquals(p.pageStats().grownFrames(), growths.stream().skip(1).mapToLong(e -> e.getLong("frames")).sum());
            assertTrue(grown.getDuration().toNanos() > 0, "the duration is the growth's time");
        }
    }

    @Test
    void contiguityHarvestsMatchTheCounters() throws IOException {
        try (MemoryPool pool = MemoryPool.builder().name("jfr-harvest").smallPages(MIB).maxSmallPages(512 * MIB)
                .allocWait(Duration.ZERO).build()) {
            List<RecordedEvent> events = record(() -> {
                for (int i = 0; i < 40 && pool.pageStats().harvests() == 0; i++) {
                    pool.__get_free_pages(GFP_KERNEL | __GFP_NOWARN, MemoryPool.MAX_ORDER);
                }
            });
            PageStats s = pool.pageStats();
            List<RecordedEvent> harvests = named(events, "io.kmem.ContiguityHarvest");
            assertTrue(s.harvests() > 0, "40 order-10 requests over 2 MiB folios needed a harvest: " + s);
            assertEquals(s.harvests(), harvests.size());
            assertEquals(s.harvestTaken(), harvests.stream().mapToLong(e -> e.getLong("taken")).sum());
            assertEquals(s.harvestReturned(), harvests.stream().mapToLong(e -> e.getLong("returned")).sum());
            assertEquals(s.harvestHits(), harvests.stream().filter(e -> e.getBoolean("hit")).count());
            for (RecordedEvent e : harvests) {
                assertEquals(MemoryPool.MAX_ORDER, e.getInt("order"));
                assertEquals("jfr-harvest", e.getString("pool"));
                assertEquals(e.getLong("taken") - (e.getBoolean("hit") ? 1024 : 0), e.getLong("returned"),
                        "a harvest keeps only its block");
            }
        }
    }

    @Test
    void waitsTimeOutOrAreServed() throws Exception {
        try (MemoryPool pool = MemoryPool.builder().name("jfr-wait").smallPages(MIB).allocWait(Duration.ofMillis(50))
                .build()) {
            List<Long> pages = new ArrayList<>();
            for (long p; (p = pool.__get_free_page(GFP_ATOMIC | __GFP_NOWARN)) != 0; ) {
                pages.add(p);
            }
            long waits = pool.pageStats().waits();
            List<RecordedEvent> timedOut = named(record(() ->
                    assertEquals(0, pool.__get_free_page(GFP_KERNEL | __GFP_NOWARN))), "io.kmem.AllocationWait");
            // No wall-clock bound: the 50 ms budget starts before the pool tries to grow, so the
            // recorded wait may be shorter, and a loaded machine makes it longer. What is checked
            // is that the wait ended by its timeout (nobody freed) and the event says so.
            assertEquals(1, timedOut.size());
            RecordedEvent e = timedOut.getFirst();
            assertEquals("timed out", e.getString("outcome"), e.toString());
            assertEquals(0, e.getInt("order"));
            assertEquals("jfr-wait", e.getString("pool"));
            assertTrue(e.getString("gfp").contains("GFP_KERNEL"), e.toString());
            assertFalse(e.getDuration().isNegative(), e.toString());
            assertEquals(waits + 1, pool.pageStats().waits(), "one wait, counted");
        }
        try (MemoryPool pool = MemoryPool.builder().name("jfr-wait").smallPages(MIB).allocWait(Duration.ofSeconds(10))
                .build()) {
            List<Long> pages = new ArrayList<>();
            for (long p; (p = pool.__get_free_page(GFP_ATOMIC | __GFP_NOWARN)) != 0; ) {
                pages.add(p);
            }
            // The freer gives back 8 pages: more than the min watermark (2 of 256 frames), which a
            // GFP_KERNEL allocation may not dip below.
            CountDownLatch started = new CountDownLatch(1);
            Thread freer = new Thread(() -> {
                try {
                    started.await();
                    Thread.sleep(100);
                } catch (InterruptedException e) {
                    return;
                }
                for (int i = 0; i < 8; i++) {
                    pool.free_page(pages.get(i));
                }
            });
            freer.start();
            List<RecordedEvent> served = named(record(() -> {
                started.countDown();
                assertTrue(pool.__get_free_page(GFP_KERNEL) != 0);
            }), "io.kmem.AllocationWait");
            freer.join();
            assertEquals(1, served.size());
            assertEquals("served", served.getFirst().getString("outcome"));
            assertTrue(served.getFirst().getString("gfp").contains("GFP_KERNEL"));
        }
    }

    @Test
    void misuseNamesTheFunctionAddressAndException() throws IOException {
        try (MemoryPool pool = MemoryPool.builder().name("jfr-misuse").smallPages(MIB).build()) {
            long page = pool.__get_free_page(GFP_KERNEL);
            long obj = pool.kmalloc(64, GFP_KERNEL);
            List<RecordedEvent> events = named(record(() -> {
                pool.free_page(page);
                assertThrows(DoubleFreeException.class, () -> pool.free_page(page));
                pool.kfree(obj);
                assertThrows(DoubleFreeException.class, () -> pool.kfree(obj));
                long other = pool.kmalloc(64, GFP_KERNEL);
                assertThrows(BadAddressException.class, () -> pool.vfree(other));
                pool.kfree(other);
            }), "io.kmem.Misuse");
            assertEquals(3, events.size(), events.toString());
            RecordedEvent pageFree = events.get(0);
            assertEquals("free_page", pageFree.getString("function"));
            assertEquals(page, pageFree.getLong("address"));
            assertEquals("jfr-misuse", pageFree.getString("pool"));
            assertEquals(DoubleFreeException.class.getName(), pageFree.getClass("exceptionClass").getName());
            assertTrue(pageFree.getString("message").contains("double free"), pageFree.getString("message"));
            RecordedEvent kfree = events.get(1);
            assertEquals("kfree", kfree.getString("function"));
            assertEquals(obj, kfree.getLong("address"));
            assertEquals(DoubleFreeException.class.getName(), kfree.getClass("exceptionClass").getName());
            RecordedEvent vfree = events.get(2);
            assertEquals("vfree", vfree.getString("function"));
            assertEquals(BadAddressException.class.getName(), vfree.getClass("exceptionClass").getName());
        }
    }
}
