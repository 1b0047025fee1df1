package io.kmem.internal.vfio;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.bindings.Libc;
import io.kmem.error.KmemException;
import io.kmem.internal.irq.IrqTable;
import io.kmem.internal.sys.Sys;
import io.kmem.testing.Await;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * VFIO interrupt vectors against a stand-in device that records every
 * {@code VFIO_DEVICE_SET_IRQS} and fires vectors by writing to the eventfds it was given (as
 * vfio-pci's interrupt handler does): the kernel's MSI-X, MSI, INTx order, the whole MSI-X block
 * enabled at the first request_irq (vfio-pci refuses a vector beyond the first call's
 * {@code start + count}), later vectors set one by one, N of N per vector on its own line,
 * INTx unmasked after each interrupt, and the last free_irq disabling the block.
 */
class VfioIrqsTest {
    private static final int MSIX = 2;
    private static final int MSI = 1;
    private static final int INTX = 0;

    /** One recorded SET_IRQS. */
    record Call(int flags, int index, int start, int count, int[] fds) {
        @Override
        public String toString() {
            return String.format("flags 0x%x index %d start %d count %d fds %s", flags, index, start, count,
                    fds == null ? "none" : java.util.Arrays.toString(fds));
        }
    }

    static final class FakeDevice implements VfioIrqs.Device {
        final int[] counts;
        final List<Call> calls = Collections.synchronizedList(new ArrayList<>());
        /** The eventfd of each vector, as vfio-pci would hold it. */
        final Map<Integer, Integer> triggers = new ConcurrentHashMap<>();
        /** vfio-pci's num_ctx for MSI/MSI-X: how many vectors the first SET_IRQS enabled (0: disabled). */
        int enabled;

        FakeDevice(int intx, int msi, int msix) {
            counts = new int[] {intx, msi, msix};
        }

        @Override
        public String bdf() {
            return "0000:00:05.0";
        }

        @Override
        public int irqCount(int index) {
            return counts[index];
        }

        @Override
        public synchronized void setIrqs(int flags, int index, int start, int count, int[] fds) {
            calls.add(new Call(flags, index, start, count, fds));
            if ((flags & Libc.VFIO_IRQ_SET_DATA_NONE()) != 0 && (flags & Libc.VFIO_IRQ_SET_ACTION_TRIGGER()) != 0
                    && count == 0) {
                enabled = 0;
                triggers.clear();
                return;
            }
            if ((flags & Libc.VFIO_IRQ_SET_DATA_EVENTFD()) == 0) {
                return;
            }
            if (index != INTX) {
                // vfio_msi_set_block: the first call enables start + count vectors; later ones must fit.
                if (enabled == 0) {
                    enabled = start + count;
                } else if (start + count > enabled) {
                    throw new IllegalStateException("EINVAL: vector " + (start + count - 1) + " beyond the " + enabled
                            + " enabled");
                }
            }
            for (int i = 0; i < count; i++) {
                if (fds[i] >= 0) {
                    triggers.put(start + i, fds[i]);
                } else {
                    triggers.remove(start + i);
                }
            }
        }

        void fire(int vector) {
            int fd = triggers.get(vector);
            try (Arena a = Arena.ofConfined()) {
                MemorySegment one = a.allocate(8, 8);
                one.set(ValueLayout.JAVA_LONG, 0, 1);
                Sys.write(fd, one, 8);
            }
        }
    }

    /** Waits for {@code cond}, up to a minute (generous: a loaded machine may not run the IRQ thread for a while). */
    private static int trigger() {
        return Libc.VFIO_IRQ_SET_DATA_EVENTFD() | Libc.VFIO_IRQ_SET_ACTION_TRIGGER();
    }

    @Test
    void msixBlockEnabledAtTheFirstRequestThenVectorByVector() throws Exception {
        FakeDevice d = new FakeDevice(1, 1, 4);
        IrqTable t = new IrqTable();
        VfioIrqs v = new VfioIrqs(d, t);
        assertEquals(4, v.alloc(1, 8, VfioIrqs.PCI_IRQ_MSIX | VfioIrqs.PCI_IRQ_MSI | VfioIrqs.PCI_IRQ_INTX),
                "MSI-X first, all 4 of its vectors (max 8)");
        int[] irq = new int[4];
        for (int k = 0; k < 4; k++) {
            irq[k] = v.vector(k);
            assertTrue(irq[k] >= IrqTable.FIRST_IRQ);
        }
        assertEquals(-22, v.vector(4), "-EINVAL past the last vector");
        Map<Integer, AtomicInteger> got = new ConcurrentHashMap<>();
        for (int k : new int[] {2, 0, 3}) {
            int line = irq[k];
            assertEquals(0, t.request(line, n -> {
                got.computeIfAbsent(n, x -> new AtomicInteger()).incrementAndGet();
                return IrqTable.IRQ_HANDLED;
            }, "nic-q" + k));
        }
        Call first = d.calls.get(0);
        assertEquals(MSIX, first.index());
        assertEquals(trigger(), first.flags());
        assertEquals(0, first.start());
        assertEquals(4, first.count(), "the first request enables the whole block: " + first);
        assertEquals(-1, first.fds()[0]);
        assertNotEquals(-1, first.fds()[2], "vector 2's eventfd");
        assertEquals(-1, first.fds()[3]);
        Call second = d.calls.get(1);
        assertEquals(0, second.start());
        assertEquals(1, second.count(), "then one vector at a time: " + second);
        assertEquals(3, d.calls.get(2).start());
        for (int round = 1; round <= 10; round++) {
            d.fire(2);
            d.fire(0);
            d.fire(3);
            d.fire(2);
            int want = round;
            Await.until(() -> got.getOrDefault(irq[0], new AtomicInteger()).get() == want
                    && got.getOrDefault(irq[3], new AtomicInteger()).get() == want
                    && t.count(irq[2]) == 2L * want, "round " + round + " delivered");
        }
        assertEquals(10, t.count(irq[0]));
        assertEquals(20, t.count(irq[2]));
        assertEquals(10, t.count(irq[3]));
        assertEquals(0, t.count(irq[1]), "vector 1 has no handler and was never fired");
        assertTrue(t.report().contains("VFIO-MSIX"), t.report());
        t.free(irq[2]);
        Call off = d.calls.get(d.calls.size() - 1);
        assertEquals(2, off.start());
        assertArrayEquals(new int[] {-1}, off.fds(), "freeing one vector of several clears its trigger only");
        t.free(irq[0]);
        t.free(irq[3]);
        Call last = d.calls.get(d.calls.size() - 1);
        assertEquals(Libc.VFIO_IRQ_SET_DATA_NONE() | Libc.VFIO_IRQ_SET_ACTION_TRIGGER(), last.flags());
        assertEquals(0, last.count(), "the last free_irq disables MSI-X: " + last);
        KmemException e = assertThrows(KmemException.class, () -> v.alloc(1, 1, VfioIrqs.PCI_IRQ_MSI));
        assertTrue(e.getMessage().contains("pci_free_irq_vectors first"), e.getMessage());
        v.free();
        assertEquals(-28, v.alloc(2, 2, VfioIrqs.PCI_IRQ_MSI | VfioIrqs.PCI_IRQ_INTX), "-ENOSPC: MSI has 1, INTx 1");
        assertEquals(1, v.alloc(1, 4, VfioIrqs.PCI_IRQ_MSI), "MSI, its one vector");
        v.free();
    }

    @Test
    void intxIsUnmaskedAfterEachInterrupt() throws Exception {
        FakeDevice d = new FakeDevice(1, 0, 0);
        IrqTable t = new IrqTable();
        VfioIrqs v = new VfioIrqs(d, t);
        assertEquals(1, v.alloc(1, 1, VfioIrqs.PCI_IRQ_MSIX | VfioIrqs.PCI_IRQ_MSI | VfioIrqs.PCI_IRQ_INTX),
                "no MSI-X, no MSI: INTx");
        int irq = v.vector(0);
        AtomicInteger calls = new AtomicInteger();
        assertEquals(0, t.request(irq, n -> {
            calls.incrementAndGet();
            return IrqTable.IRQ_HANDLED;
        }, "edu"));
        int n = 20;
        for (int i = 1; i <= n; i++) {
            d.fire(0);
            int want = i;
            Await.until(() -> calls.get() == want, "interrupt " + i);
        }
        Await.until(() -> d.calls.stream().filter(c -> (c.flags() & Libc.VFIO_IRQ_SET_ACTION_UNMASK()) != 0).count() == n,
                "one unmask per interrupt");
        assertTrue(t.report().contains("VFIO-INTx"), t.report());
        t.free(irq);
        v.free();
    }
}
