package io.kmem.internal.irq;

import static io.kmem.gfp.Gfp.GFP_ATOMIC;
import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.MemoryPool;
import io.kmem.error.KmemException;
import io.kmem.internal.sys.Sys;
import io.kmem.internal.trace.AtomicContext;
import io.kmem.testing.Await;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Interrupt lines over eventfds, with a stand-in source the test raises by writing to the
 * eventfd (as VFIO or UIO would): N of N delivered to the handler on the line's own thread,
 * the after-each action (INTx unmask) after every call, request and free errors, the
 * /proc/interrupts report, and the atomic-context rule: GFP_KERNEL inside a handler reported as
 * "BUG: sleeping function called from invalid context" naming the handler, GFP_ATOMIC not.
 */
class IrqTableTest {
    private static final long MIB = 1L << 20;

    /** A source whose interrupts the test raises. */
    static final class Fake implements IrqTable.Source {
        volatile int eventfd = -1;
        final AtomicInteger unmasks = new AtomicInteger();
        volatile boolean detached;

        @Override
        public String type() {
            return "TEST-INTx";
        }

        @Override
        public String device() {
            return "0000:00:01.0";
        }

        @Override
        public int attach(int fd) {
            eventfd = fd;
            return fd;
        }

        @Override
        public void afterEach() {
            unmasks.incrementAndGet();
        }

        @Override
        public void detach() {
            detached = true;
        }

        void raise() {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment one = a.allocate(8, 8);
                one.set(ValueLayout.JAVA_LONG, 0, 1);
                Sys.write(eventfd, one, 8);
            }
        }
    }

    /** Waits for {@code cond}, up to a minute (generous: a loaded machine may not run the IRQ thread for a while). */
    @Test
    void nOfNOnTheLinesOwnThread() throws Exception {
        IrqTable t = new IrqTable();
        Fake src = new Fake();
        int irq = t.allocate(src);
        assertEquals(IrqTable.FIRST_IRQ, irq);
        List<String> threads = new CopyOnWriteArrayList<>();
        AtomicInteger calls = new AtomicInteger();
        assertEquals(0, t.request(irq, n -> {
            threads.add(Thread.currentThread().getName());
            assertTrue(AtomicContext.inAtomic());
            calls.incrementAndGet();
            return IrqTable.IRQ_HANDLED;
        }, "edu"));
        assertEquals(-16, t.request(irq, n -> 1, "again"), "-EBUSY");
        assertEquals(-22, t.request(99, n -> 1, "none"), "-EINVAL");
        int n = 50;
        for (int i = 1; i <= n; i++) {
            src.raise();
            int want = i;
            Await.until(() -> calls.get() == want && src.unmasks.get() == want, "interrupt " + i + " handled and unmasked");
        }
        assertEquals(n, t.count(irq));
        assertTrue(threads.stream().allMatch(s -> s.equals("irq/32-edu")), threads.toString());
        assertFalse(threads.contains(Thread.currentThread().getName()));
        assertFalse(AtomicContext.inAtomic(), "the caller is not in atomic context");
        String report = t.report();
        assertTrue(report.matches("(?s).*32: +50 +0 +TEST-INTx +0000:00:01.0 +edu\\n.*"), report);
        t.free(irq);
        assertTrue(src.detached);
        assertTrue(t.report().contains("(free)"));
        KmemException e = assertThrows(KmemException.class, () -> t.free(irq));
        assertTrue(e.getMessage().contains("Trying to free already-free IRQ 32"), e.getMessage());
        assertEquals(0, t.request(irq, x -> 1, "edu"), "a freed line can be requested again");
        t.free(irq);
    }

    @Test
    void aHandlersPageAllocationsAreEachChecked() throws Exception {
        // The page allocator keeps a per-thread cache: a handler that frees a page and takes
        // another must not be served from its thread's cache past the check.
        try (MemoryPool pool = MemoryPool.builder().name("irq-pages").smallPages(8 * MIB).build()) {
            IrqTable t = new IrqTable();
            Fake src = new Fake();
            int irq = t.allocate(src);
            AtomicInteger gfp = new AtomicInteger(GFP_ATOMIC);
            AtomicInteger rounds = new AtomicInteger();
            t.request(irq, n -> {
                for (int order = 0; order <= 1; order++) {
                    long a = pool.__get_free_pages(gfp.get(), order);
                    pool.free_pages(a, order);
                    long b = pool.__get_free_pages(gfp.get(), order);
                    pool.free_pages(b, order);
                }
                rounds.incrementAndGet();
                return IrqTable.IRQ_HANDLED;
            }, "edu-pages");
            long before = AtomicContext.reported();
            src.raise();
            Await.until(() -> rounds.get() == 1, "GFP_ATOMIC round");
            assertEquals(before, AtomicContext.reported(), "GFP_ATOMIC in a handler is fine");
            gfp.set(GFP_KERNEL);
            for (int i = 1; i <= 3; i++) {
                src.raise();
                int want = i + 1;
                Await.until(() -> rounds.get() == want, "GFP_KERNEL round " + i);
                assertEquals(before + 4L * i, AtomicContext.reported(), "round " + i + ": each of the handler's four"
                        + " GFP_KERNEL page allocations reported, those its thread's page cache could serve too");
            }
            t.free(irq);
            assertTrue(pool.verify().ok());
        }
    }

    @Test
    void gfpKernelInAHandlerIsReportedGfpAtomicIsNot() throws Exception {
        try (MemoryPool pool = MemoryPool.builder().name("irq").smallPages(8 * MIB).build()) {
            IrqTable t = new IrqTable();
            Fake src = new Fake();
            int irq = t.allocate(src);
            AtomicInteger gfp = new AtomicInteger(GFP_ATOMIC);
            List<Long> got = new CopyOnWriteArrayList<>();
            t.request(irq, n -> {
                got.add(pool.kmalloc(256, gfp.get()));
                got.add(pool.__get_free_pages(gfp.get(), 1));
                return IrqTable.IRQ_HANDLED;
            }, "edu-dma");
            long before = AtomicContext.reported();
            src.raise();
            Await.until(() -> got.size() == 2, "atomic allocations made");
            assertEquals(before, AtomicContext.reported(), "GFP_ATOMIC in a handler is fine");
            gfp.set(GFP_KERNEL);
            src.raise();
            Await.until(() -> got.size() == 4, "GFP_KERNEL allocations made");
            assertEquals(before + 2, AtomicContext.reported(), "kmalloc and __get_free_pages both reported");
            List<String> r = AtomicContext.reports();
            String last = r.get(r.size() - 1);
            assertTrue(last.startsWith("BUG: sleeping function called from invalid context at __get_free_pages")
                    && last.contains("name: irq/" + irq + "-edu-dma") && last.contains("handler: edu-dma (irq " + irq
                    + ")") && last.contains("GFP_KERNEL"), last);
            assertTrue(r.get(r.size() - 2).contains("kmalloc"), r.get(r.size() - 2));
            src.raise();
            Await.until(() -> got.size() == 6, "GFP_KERNEL allocations again");
            assertEquals(before + 4, AtomicContext.reported(), "reported again although the thread's kmalloc-256"
                    + " slab has free objects now (the fast path does not serve GFP_KERNEL on an IRQ thread)");
            got.forEach(a -> assertNotEquals(0L, a, "reported, then allowed"));
            long k = pool.kmalloc(256, GFP_KERNEL);
            assertEquals(before + 4, AtomicContext.reported(), "GFP_KERNEL outside a handler is fine");
            pool.kfree(k);
            t.free(irq);
            pool.kfree(got.get(0));
            pool.free_pages(got.get(1), 1);
            pool.kfree(got.get(2));
            pool.free_pages(got.get(3), 1);
            pool.kfree(got.get(4));
            pool.free_pages(got.get(5), 1);
        }
    }
}
