package io.kmem.internal.vfio;

import io.kmem.bindings.Libc;
import io.kmem.error.KmemException;
import io.kmem.internal.irq.IrqTable;
import java.util.Arrays;

/**
 * A VFIO device's interrupt vectors ({@code pci_alloc_irq_vectors}): MSI-X, MSI or INTx as
 * {@code VFIO_DEVICE_GET_IRQ_INFO} offers them and the caller allows, each vector an
 * {@link IrqTable.Source} that {@code VFIO_DEVICE_SET_IRQS} points at an eventfd.
 *
 * <pre>
 *  index   first request_irq of the block                 each later one / free_irq of one
 *  INTx    DATA_EVENTFD|ACTION_TRIGGER, start 0, [fd]      after each interrupt: DATA_NONE|ACTION_UNMASK
 *  MSI     DATA_EVENTFD|ACTION_TRIGGER, start 0, count n,  DATA_EVENTFD|ACTION_TRIGGER, start k, [fd]
 *  MSI-X     fds [-1 .. fd at k .. -1]                     (fd -1 on free_irq)
 *  all     the last free_irq: DATA_NONE|ACTION_TRIGGER, count 0 (the kernel disables MSI/MSI-X)
 * </pre>
 * MSI and MSI-X are enabled for the whole block of {@code n} vectors at the first request:
 * vfio-pci enables as many vectors as the first SET_IRQS names ({@code start + count}) and
 * refuses a later vector beyond them (EINVAL), so enabling vector 0 alone would leave vectors
 * 1..n-1 out of reach. An fd of -1 leaves a vector enabled with no trigger.
 * INTx is level-triggered: VFIO masks the line when it fires (the device keeps it asserted until
 * the handler acknowledges it), so the unmask comes after the handler.
 */
public final class VfioIrqs {
    /** {@code PCI_IRQ_INTX}, {@code PCI_IRQ_MSI}, {@code PCI_IRQ_MSIX}: pci_alloc_irq_vectors flags (PciApi's values). */
    public static final int PCI_IRQ_INTX = 1;
    public static final int PCI_IRQ_MSI = 2;
    public static final int PCI_IRQ_MSIX = 4;
    private static final String[] TYPES = {"VFIO-INTx", "VFIO-MSI", "VFIO-MSIX"};
    /** {@link Device#setIrqs} without data. */
    private static final int[] NO_DATA = null;

    /** The two device calls vectors need: {@link VfioDevice} makes them; tests fake them. */
    public interface Device {
        /** The function's address, for messages and the report. */
        String bdf();

        /** {@code VFIO_DEVICE_GET_IRQ_INFO}'s count at {@code index}; 0 when it has no eventfd signalling. */
        int irqCount(int index);

        /** {@code VFIO_DEVICE_SET_IRQS}: {@code fds} null for DATA_NONE, else one eventfd (or -1) per vector. */
        void setIrqs(int flags, int index, int start, int count, int[] fds);
    }

    private final Device device;
    private final IrqTable table;
    private int index = -1;
    private int[] irqs = new int[0];
    private Vector[] vectors = new Vector[0];
    /** The eventfd of each vector with a handler, -1 for the others. */
    private int[] fds = new int[0];
    private int attached;

    public VfioIrqs(Device device, IrqTable table) {
        this.device = device;
        this.table = table;
    }

    private final class Vector implements IrqTable.Source {
        final int k;

        Vector(int k) {
            this.k = k;
        }

        @Override
        public String type() {
            return TYPES[index];
        }

        @Override
        public String device() {
            return device.bdf();
        }

        @Override
        public int attach(int eventfd) {
            synchronized (VfioIrqs.this) {
                fds[k] = eventfd;
                if (attached == 0 && index != Libc.VFIO_PCI_INTX_IRQ_INDEX()) {
                    device.setIrqs(eventfdTrigger(), index, 0, fds.length, fds.clone());
                } else {
                    device.setIrqs(eventfdTrigger(), index, k, 1, new int[] {eventfd});
                }
                attached++;
            }
            return eventfd;
        }

        @Override
        public void afterEach() {
            if (index == Libc.VFIO_PCI_INTX_IRQ_INDEX()) {
                device.setIrqs(Libc.VFIO_IRQ_SET_DATA_NONE() | Libc.VFIO_IRQ_SET_ACTION_UNMASK(), index, 0, 1, NO_DATA);
            }
        }

        @Override
        public void detach() {
            synchronized (VfioIrqs.this) {
                attached--;
                fds[k] = -1;
                if (attached == 0) {
                    device.setIrqs(Libc.VFIO_IRQ_SET_DATA_NONE() | Libc.VFIO_IRQ_SET_ACTION_TRIGGER(), index, 0, 0,
                            NO_DATA);
                } else {
                    device.setIrqs(eventfdTrigger(), index, k, 1, new int[] {-1});
                }
            }
        }
    }

    private static int eventfdTrigger() {
        return Libc.VFIO_IRQ_SET_DATA_EVENTFD() | Libc.VFIO_IRQ_SET_ACTION_TRIGGER();
    }

    /**
     * {@code pci_alloc_irq_vectors}: between {@code min} and {@code max} vectors of the first
     * kind {@code flags} allow that the device has (MSI-X, then MSI, then INTx, which has one);
     * returns how many, or {@code -ENOSPC} when no allowed kind has {@code min}.
     */
    public synchronized int alloc(int min, int max, int flags) {
        if (vectors.length > 0) {
            throw new KmemException("pci_alloc_irq_vectors(" + device.bdf() + "): vectors are allocated already;"
                    + " pci_free_irq_vectors first");
        }
        if (min < 1 || max < min) {
            throw new IllegalArgumentException("pci_alloc_irq_vectors(" + device.bdf() + ", " + min + ", " + max
                    + "): expected 1 <= min <= max");
        }
        int[][] order = {{PCI_IRQ_MSIX, Libc.VFIO_PCI_MSIX_IRQ_INDEX()}, {PCI_IRQ_MSI, Libc.VFIO_PCI_MSI_IRQ_INDEX()},
            {PCI_IRQ_INTX, Libc.VFIO_PCI_INTX_IRQ_INDEX()}};
        for (int[] o : order) {
            if ((flags & o[0]) == 0) {
                continue;
            }
            int count = device.irqCount(o[1]);
            if (count >= min) {
                int n = Math.min(count, max);
                index = o[1];
                vectors = new Vector[n];
                irqs = new int[n];
                fds = new int[n];
                Arrays.fill(fds, -1);
                for (int k = 0; k < n; k++) {
                    vectors[k] = new Vector(k);
                    irqs[k] = table.allocate(vectors[k]);
                }
                return n;
            }
        }
        return -Libc.ENOSPC();
    }

    /** {@code pci_irq_vector}: the irq number of vector {@code nr}, or {@code -EINVAL}. */
    public synchronized int vector(int nr) {
        return nr >= 0 && nr < irqs.length ? irqs[nr] : -Libc.EINVAL();
    }

    /** {@code pci_free_irq_vectors}. */
    public synchronized void free() {
        for (Vector v : vectors) {
            table.release(v);
        }
        vectors = new Vector[0];
        irqs = new int[0];
        fds = new int[0];
        index = -1;
    }
}
