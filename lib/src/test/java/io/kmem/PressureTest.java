package io.kmem;

import static io.kmem.gfp.Gfp.GFP_ATOMIC;
import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static io.kmem.gfp.Gfp.__GFP_NOWARN;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.stats.ZoneStats;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A pool at its limit (it cannot grow) under GFP_KERNEL waiters and GFP_ATOMIC callers from
 * several threads at once, with threads freeing what they took a little later. Bounded: the
 * whole scenario has a deadline, and every thread must end before it.
 * <ul>
 *   <li>GFP_ATOMIC callers never block: a Flight Recorder recording of kmem's
 *       {@code io.kmem.AllocationWait} events (emitted whenever an allocation waits for frees)
 *       shows none on an atomic thread, while the GFP_KERNEL threads did wait.</li>
 *   <li>Waiters are served in bounded time or fail cleanly: every GFP_KERNEL call returns
 *       a page or NULL, and each outcome is counted; every recorded wait ended served or
 *       timed out (read from the events: a loaded machine may stretch any wall-clock bound).</li>
 *   <li>No deadlock, nothing lost: all threads end; afterwards every frame is free again and
 *       the buddy's own check is clean.</li>
 * </ul>
 */
class PressureTest {
    private static final long MIB = 1L << 20;
    private static final Duration WAIT = Duration.ofMillis(200);

    @TempDir
    Path dir;

    @Test
    void atomicCallersNeverBlockWaitersAreServedOrFailCleanly() throws Exception {
        try (MemoryPool pool = MemoryPool.builder().name("pressure").smallPages(8 * MIB).maxSmallPages(8 * MIB)
                .allocWait(WAIT).build()) {
            long managed = 0;
            for (ZoneStats z : pool.zoneStats()) {
                managed += z.managed();
            }
            Path file = dir.resolve("pressure.jfr");
            AtomicLong kernelServed = new AtomicLong();
            AtomicLong kernelNull = new AtomicLong();
            AtomicLong atomicServed = new AtomicLong();
            AtomicLong atomicNull = new AtomicLong();
            AtomicLong slowestKernelNanos = new AtomicLong();
            ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
            List<Thread> threads = new ArrayList<>();
            CountDownLatch start = new CountDownLatch(1);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(6);
            try (Recording rec = new Recording()) {
                rec.enable("io.kmem.AllocationWait").withThreshold(Duration.ZERO);
                rec.start();
                for (int t = 0; t < 6; t++) {
                    boolean atomic = t % 2 == 1;
                    int seed = t;
                    Thread th = new Thread(() -> {
                        Random r = new Random(seed);
                        List<long[]> held = new ArrayList<>();
                        try {
                            start.await();
                            while (System.nanoTime() < deadline) {
                                int order = r.nextInt(3);
                                long t0 = System.nanoTime();
                                long p = pool.__get_free_pages((atomic ? GFP_ATOMIC : GFP_KERNEL) | __GFP_NOWARN,
                                        order);
                                long took = System.nanoTime() - t0;
                                if (!atomic) {
                                    slowestKernelNanos.accumulateAndGet(took, Math::max);
                                }
                                (p != 0 ? atomic ? atomicServed : kernelServed : atomic ? atomicNull : kernelNull)
                                        .incrementAndGet();
                                if (p != 0) {
                                    held.add(new long[] {p, order});
                                }
                                if (held.size() > 200 || r.nextInt(8) == 0 && !held.isEmpty()) {
                                    long[] h = held.remove(r.nextInt(held.size()));
                                    pool.free_pages(h[0], (int) h[1]);
                                }
                            }
                            for (long[] h : held) {
                                pool.free_pages(h[0], (int) h[1]);
                            }
                        } catch (Throwable e) {
                            errors.add(e);
                        }
                    }, (atomic ? "atomic-" : "kernel-") + t);
                    threads.add(th);
                    th.start();
                }
                start.countDown();
                for (Thread th : threads) {
                    th.join(TimeUnit.SECONDS.toMillis(20));
                    assertTrue(!th.isAlive(), th.getName() + " did not end: a deadlock or an unbounded wait");
                }
                rec.stop();
                rec.dump(file);
            }
            assertTrue(errors.isEmpty(), "errors: " + errors);
            List<RecordedEvent> waits = RecordingFile.readAllEvents(file).stream()
                    .filter(e -> e.getEventType().getName().equals("io.kmem.AllocationWait")).toList();
            Files.delete(file);
            long atomicWaits = waits.stream().filter(e -> e.getThread().getJavaName().startsWith("atomic-")).count();
            assertEquals(0, atomicWaits, "GFP_ATOMIC callers waited " + atomicWaits + " times");
            assertTrue(waits.size() > 0, "the pool was at its limit: GFP_KERNEL callers waited (" + kernelServed
                    + " served, " + kernelNull + " NULL)");
            assertTrue(atomicNull.get() > 0, "GFP_ATOMIC got NULL at the limit instead of waiting");
            assertTrue(kernelServed.get() > 0 && atomicServed.get() > 0, "both kinds of callers were served");
            // Bounded waits, read from the events rather than a wall clock a loaded machine can
            // overrun: every wait ended served or timed out, none open-ended or interrupted.
            List<String> outcomes = waits.stream().map(e -> e.getString("outcome")).distinct().sorted().toList();
            assertTrue(List.of("served", "timed out").containsAll(outcomes), "wait outcomes: " + outcomes);
            pool.drain_all_pages();
            long free = 0;
            for (ZoneStats z : pool.zoneStats()) {
                free += z.free() + z.cached();
            }
            assertEquals(managed, free, "every frame free again after the storm");
            assertEquals(List.of(), pool.checkPageAllocator());
            System.out.printf("pressure: GFP_KERNEL %d served, %d NULL, %d waits, slowest %d ms; GFP_ATOMIC %d served,"
                    + " %d NULL, 0 waits%n", kernelServed.get(), kernelNull.get(), waits.size(),
                    slowestKernelNanos.get() / 1_000_000, atomicServed.get(), atomicNull.get());
        }
    }
}
