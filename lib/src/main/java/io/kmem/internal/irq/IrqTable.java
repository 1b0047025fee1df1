package io.kmem.internal.irq;

import io.kmem.error.KmemException;
import io.kmem.internal.lib.LazyLogger;
import io.kmem.internal.sys.Sys;
import io.kmem.internal.trace.AtomicContext;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.function.IntUnaryOperator;

/**
 * kmem's interrupt lines ({@code request_irq}, {@code free_irq}) and their report
 * ({@code /proc/interrupts}).
 *
 * <h2>A line, step by step</h2>
 * <ol>
 *   <li>An irq number is handed out ({@link #allocate}) for a vector of a source: a VFIO
 *       device's INTx, MSI or MSI-X vector, or a UIO device; numbers start at 32, as the
 *       first vectors above the x86 exceptions.</li>
 *   <li>{@link #request}: an eventfd is made; the source is told to signal it (VFIO:
 *       {@code VFIO_DEVICE_SET_IRQS} with {@code ACTION_TRIGGER}); a platform thread
 *       {@code irq/N-name} (the kernel's name for a threaded handler) starts.</li>
 *   <li>The thread blocks in {@code read} of the eventfd (8 bytes: the number of signals since
 *       the last read, added to the count), runs the handler in {@link AtomicContext}, then the
 *       source's after-each action (VFIO INTx: {@code ACTION_UNMASK}, the line was masked when
 *       it fired; UIO: write 1 to re-enable). A UIO line's thread instead polls
 *       {@code /dev/uioN} and the eventfd, and reads the 4-byte event count from the first.
 *       A handler never runs on the caller's thread.</li>
 *   <li>{@link #free}: the source stops signalling; the thread is woken by a write of its own
 *       to the eventfd, sees the line freed, and ends; the eventfd is closed.</li>
 * </ol>
 *
 * <p>Thread safety: every method may be called from any thread; the table is guarded by its
 * monitor, a line's count is read without it.
 */
public final class IrqTable {
    /** The first irq number handed out. */
    public static final int FIRST_IRQ = 32;
    /** {@code IRQ_NONE}, {@code IRQ_HANDLED}: what a handler returns. */
    public static final int IRQ_NONE = 0;
    public static final int IRQ_HANDLED = 1;

    /** Where a line's interrupts come from. */
    public interface Source {
        /** "VFIO-MSI", "VFIO-INTx", "UIO", ...: the type column of the report. */
        String type();

        /** The device's name: the report's last column but one. */
        String device();

        /**
         * Starts delivery. Returns the descriptor the line's thread reads: {@code eventfd},
         * once the device signals it (VFIO), or one of the source's own (UIO's
         * {@code /dev/uioN}); then the thread also polls {@code eventfd}, which free_irq signals.
         */
        int attach(int eventfd);

        /**
         * Reads one wake-up from {@code fd} (what attach returned, not the eventfd) into
         * {@code buf} (8 bytes) and returns the interrupts it stands for.
         */
        default long take(int fd, MemorySegment buf) {
            throw new UnsupportedOperationException("a source that signals the eventfd has nothing else to read");
        }

        /** Runs after each handler call (INTx unmask, UIO re-enable); may do nothing. */
        void afterEach();

        /** Stops signalling. */
        void detach();

        /** After detach, once the line's thread has ended: closes what attach opened. */
        default void closed() {
        }
    }

    private static final class Line {
        final int irq;
        final Source source;
        String name;
        IntUnaryOperator handler;
        int eventfd = -1;
        int waitFd = -1;
        Thread thread;
        volatile boolean freeing;
        volatile long count;
        volatile long unhandled;

        Line(int irq, Source source) {
            this.irq = irq;
            this.source = source;
        }
    }

    private static final System.Logger LOG = LazyLogger.of("io.kmem.irq");
    private final Map<Integer, Line> lines = new TreeMap<>();
    private int next = FIRST_IRQ;

    /** Hands out an irq number for a vector of {@code source}. */
    public synchronized int allocate(Source source) {
        int irq = next++;
        lines.put(irq, new Line(irq, source));
        return irq;
    }

    /** The irq number handed out for {@code source}, or {@code -EINVAL} (-22). */
    public synchronized int irqOf(Source source) {
        for (Line l : lines.values()) {
            if (l.source == source) {
                return l.irq;
            }
        }
        return -22;
    }

    /** Forgets irq numbers of {@code source} (pci_free_irq_vectors); they must be free. */
    public synchronized void release(Source source) {
        lines.values().removeIf(l -> {
            if (l.source == source && l.handler != null) {
                throw new KmemException("pci_free_irq_vectors: irq " + l.irq + " (" + l.name + ") is still requested;"
                        + " free_irq it first");
            }
            return l.source == source;
        });
    }

    /**
     * {@code request_irq}: 0, or {@code -EINVAL} for an irq number not handed out, {@code -EBUSY}
     * for one that has a handler.
     */
    public int request(int irq, IntUnaryOperator handler, String name) {
        if (handler == null || name == null || name.isEmpty()) {
            throw new IllegalArgumentException("request_irq(" + irq + "): expected a handler and a name");
        }
        Line l;
        synchronized (this) {
            l = lines.get(irq);
            if (l == null) {
                return -22;
            }
            if (l.handler != null) {
                return -16;
            }
            l.handler = handler;
            l.name = name;
            l.freeing = false;
        }
        int fd = Sys.eventfd(0);
        try {
            l.waitFd = l.source.attach(fd);
        } catch (RuntimeException e) {
            Sys.close(fd);
            synchronized (this) {
                l.handler = null;
            }
            throw e;
        }
        l.eventfd = fd;
        CountDownLatch started = new CountDownLatch(1);
        l.thread = Thread.ofPlatform().daemon().name("irq/" + irq + "-" + name).start(() -> loop(l, started));
        started.countDown();
        return 0;
    }

    private void loop(Line l, CountDownLatch started) {
        AtomicContext.markIrqThread();
        try {
            started.await();
        } catch (InterruptedException e) {
            return;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(8, 8);
            while (true) {
                long n;
                if (l.waitFd == l.eventfd) {
                    Sys.read(l.eventfd, buf, 8);
                    n = buf.get(ValueLayout.JAVA_LONG, 0);
                } else {
                    int ready = Sys.pollIn(l.waitFd, l.eventfd);
                    n = (ready & 2) != 0 || l.freeing ? 0 : l.source.take(l.waitFd, buf);
                }
                if (l.freeing) {
                    return;
                }
                l.count += n;
                int ret;
                AtomicContext.enter(l.name, l.irq);
                try {
                    ret = l.handler.applyAsInt(l.irq);
                } catch (RuntimeException | Error e) {
                    ret = IRQ_HANDLED;
                    LOG.log(System.Logger.Level.ERROR, "irq " + l.irq + " (" + l.name + "): the handler threw", e);
                } finally {
                    AtomicContext.exit();
                }
                if (ret == IRQ_NONE) {
                    l.unhandled++;
                }
                l.source.afterEach();
            }
        } catch (RuntimeException e) {
            if (!l.freeing) {
                LOG.log(System.Logger.Level.ERROR, "irq " + l.irq + " (" + l.name + "): the IRQ thread stopped", e);
            }
        }
    }

    /**
     * {@code free_irq}: stops the line and waits for its thread; a handler running now finishes
     * first (as the kernel's free_irq waits for it).
     *
     * @throws KmemException for an irq without a handler ("Trying to free already-free IRQ")
     */
    public void free(int irq) {
        Line l;
        synchronized (this) {
            l = lines.get(irq);
            if (l == null || l.handler == null) {
                throw new KmemException("free_irq(" + irq + "): Trying to free already-free IRQ " + irq);
            }
        }
        if (Thread.currentThread() == l.thread) {
            throw new KmemException("free_irq(" + irq + "): called from the line's own handler; it would wait for"
                    + " itself");
        }
        l.freeing = true;
        l.source.detach();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment one = a.allocate(8, 8);
            one.set(ValueLayout.JAVA_LONG, 0, 1);
            Sys.write(l.eventfd, one, 8);
        }
        try {
            l.thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Sys.close(l.eventfd);
        l.source.closed();
        synchronized (this) {
            l.eventfd = -1;
            l.handler = null;
            l.thread = null;
        }
    }

    /** Interrupts delivered to {@code irq} so far (0 for an unknown number). */
    public synchronized long count(int irq) {
        Line l = lines.get(irq);
        return l == null ? 0 : l.count;
    }

    /** The {@code /proc/interrupts}-style report: one line per irq number handed out. */
    public synchronized String report() {
        StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "%5s %12s %10s  %-10s %-14s %s%n", "IRQ",
                "count", "unhandled", "type", "device", "name"));
        for (Line l : lines.values()) {
            b.append(String.format(Locale.ROOT, "%4d: %12d %10d  %-10s %-14s %s%n", l.irq, l.count, l.unhandled,
                    l.source.type(), l.source.device(), l.handler == null ? "(free)" : l.name));
        }
        return b.toString();
    }
}
