package io.kmem.internal.trace;

import io.kmem.gfp.Gfp;
import io.kmem.internal.lib.LazyLogger;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * The kernel's atomic context for interrupt handlers, and its {@code might_sleep} check.
 *
 * <p>A handler runs on its vector's IRQ thread between {@link #enter} and {@link #exit}. While
 * it does, an allocation whose GFP flags allow blocking ({@code __GFP_DIRECT_RECLAIM}: GFP_KERNEL,
 * GFP_NOFS, GFP_NOIO, a GFP_KERNEL-backed vmalloc) made on that thread is reported as the
 * kernel's {@code __might_sleep} reports it:
 *
 * <pre>
 *  BUG: sleeping function called from invalid context at kmalloc
 *  in_atomic(): 1, irqs_disabled(): 1, non_block: 0, pid: 412, name: irq/32-edu
 *  handler: edu (irq 32), gfp_mask: 0xcc0(GFP_KERNEL); only GFP_ATOMIC may allocate here
 * </pre>
 *
 * <h2>The rule: reported, then allowed</h2>
 * As in the kernel, whose {@code __might_sleep} warns and carries on, the allocation then runs
 * as asked: the report (an ERROR log line, a {@code io.kmem.SleepInAtomic} JFR event, the
 * count in {@link #reports()}) is how the bug shows, not a changed result. GFP_ATOMIC and
 * GFP_NOWAIT allocations never report. Allocations on other threads are not affected.
 *
 * <p>Cost outside handlers: one volatile read of the count of handlers running, on every
 * allocation entry that is not a slab fast path; the thread-local is read only while some
 * handler runs. The slab fast path does not check: an IRQ thread's per-thread slabs are made
 * so that blocking GFP flags miss them ({@code CpuSlab.slowGfp}).
 */
public final class AtomicContext {
    private static final System.Logger LOG = LazyLogger.of("io.kmem.irq");
    private static final AtomicInteger RUNNING = new AtomicInteger();
    private static final ThreadLocal<String> HANDLER = new ThreadLocal<>();
    private static final ThreadLocal<Boolean> IRQ_THREAD = new ThreadLocal<>();
    private static final LongAdder REPORTED = new LongAdder();
    private static final List<String> REPORTS = new ArrayList<>();
    private static final int KEPT = 64;

    private AtomicContext() {
    }

    /** Marks the calling thread as an IRQ thread (before its first allocation). */
    public static void markIrqThread() {
        IRQ_THREAD.set(Boolean.TRUE);
    }

    /**
     * True on an IRQ thread: the slab allocator then sends its blocking allocations to the slow
     * path, where {@link #mightSleep} sees them.
     */
    public static boolean onIrqThread() {
        return IRQ_THREAD.get() != null;
    }

    /** The calling thread starts running handler {@code name} (of irq {@code irq}). */
    public static void enter(String name, int irq) {
        HANDLER.set(name + " (irq " + irq + ")");
        RUNNING.incrementAndGet();
    }

    /** The calling thread's handler returned. */
    public static void exit() {
        RUNNING.decrementAndGet();
        HANDLER.remove();
    }

    /** {@code in_atomic()}: true inside an interrupt handler. */
    public static boolean inAtomic() {
        return RUNNING.get() != 0 && HANDLER.get() != null;
    }

    /**
     * {@code might_sleep} for an allocation: reports {@code function} with {@code gfp} when it may
     * block and the calling thread runs an interrupt handler. Every allocation entry calls it.
     */
    public static void mightSleep(String function, int gfp) {
        if (RUNNING.get() == 0 || !Gfp.mayBlock(gfp)) {
            return;
        }
        String h = HANDLER.get();
        if (h != null) {
            report(function, gfp, h);
        }
    }

    private static void report(String function, int gfp, String handler) {
        Thread t = Thread.currentThread();
        String text = String.format(Locale.ROOT, "BUG: sleeping function called from invalid context at %s%nin_atomic():"
                + " 1, irqs_disabled(): 1, non_block: 0, pid: %d, name: %s%nhandler: %s, gfp_mask: 0x%x(%s); only"
                + " GFP_ATOMIC may allocate here (reported, then allowed, as the kernel does)", function, t.threadId(),
                t.getName(), handler, gfp, Gfp.names(gfp));
        REPORTED.increment();
        synchronized (REPORTS) {
            if (REPORTS.size() == KEPT) {
                REPORTS.remove(0);
            }
            REPORTS.add(text);
        }
        LOG.log(System.Logger.Level.ERROR, text);
        SleepInAtomicEvent e = new SleepInAtomicEvent();
        if (e.shouldCommit()) {
            e.function = function;
            e.gfp = Gfp.names(gfp);
            e.handler = handler;
            e.commit();
        }
    }

    /** Reports made so far (all processes' pools: atomic context is per thread, not per pool). */
    public static long reported() {
        return REPORTED.sum();
    }

    /** The last reports (at most 64), oldest first. */
    public static List<String> reports() {
        synchronized (REPORTS) {
            return List.copyOf(REPORTS);
        }
    }
}
