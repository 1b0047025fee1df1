package io.kmem.internal.vfio;

import io.kmem.bindings.Libc;
import io.kmem.bindings.vfio_irq_info;
import io.kmem.bindings.vfio_irq_set;
import io.kmem.error.KmemException;
import io.kmem.internal.irq.IrqTable;
import io.kmem.internal.sys.Sys;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A VFIO device's interrupt vectors ({@code pci_alloc_irq_vectors}): MSI-X, MSI or INTx as
 * {@code VFIO_DEVICE_GET_IRQ_INFO} offers them and the caller allows, each vector an
 * {@link IrqTable.Source} that {@code VFIO_DEVICE_SET_IRQS} points at an eventfd.
 *
 * <pre>
 *  index   SET_IRQS to attach                       after each interrupt        detach
 *  INTx    DATA_EVENTFD|ACTION_TRIGGER, [fd]        DATA_NONE|ACTION_UNMASK     DATA_NONE|ACTION_TRIGGER, count 0
 *  MSI     DATA_EVENTFD|ACTION_TRIGGER, start k     -                           the same with fd -1 (count 0 when last)
 *  MSI-X   as MSI                                   -                           as MSI
 * </pre>
 * INTx is level-triggered: VFIO masks the line when it fires (the device keeps it asserted until
 * the handler acknowledges it), so the unmask comes after the handler.
 */
public final class VfioIrqs {
    /** {@code PCI_IRQ_LEGACY} (INTx), {@code PCI_IRQ_MSI}, {@code PCI_IRQ_MSIX}: pci_alloc_irq_vectors flags. */
    public static final int PCI_IRQ_INTX = 1;
    public static final int PCI_IRQ_MSI = 2;
    public static final int PCI_IRQ_MSIX = 4;
    private static final String[] TYPES = {"VFIO-INTx", "VFIO-MSI", "VFIO-MSIX"};

    private final VfioDevice device;
    private final IrqTable table;
    private int index = -1;
    private int[] irqs = new int[0];
    private Vector[] vectors = new Vector[0];
    private int attached;

    public VfioIrqs(VfioDevice device, IrqTable table) {
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
                trigger(index, k, eventfd);
                attached++;
            }
            return eventfd;
        }

        @Override
        public void afterEach() {
            if (index == Libc.VFIO_PCI_INTX_IRQ_INDEX()) {
                set(Libc.VFIO_IRQ_SET_DATA_NONE() | Libc.VFIO_IRQ_SET_ACTION_UNMASK(), index, 0, 1, -2);
            }
        }

        @Override
        public void detach() {
            synchronized (VfioIrqs.this) {
                attached--;
                if (index == Libc.VFIO_PCI_INTX_IRQ_INDEX() || attached == 0) {
                    set(Libc.VFIO_IRQ_SET_DATA_NONE() | Libc.VFIO_IRQ_SET_ACTION_TRIGGER(), index, 0, 0, -2);
                } else {
                    trigger(index, k, -1);
                }
            }
        }
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
            int count = count(o[1]);
            if (count >= min) {
                int n = Math.min(count, max);
                index = o[1];
                vectors = new Vector[n];
                irqs = new int[n];
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
        index = -1;
    }

    /** The vectors VFIO offers at {@code index} (0 when it offers none, or no eventfd signalling). */
    public int count(int index) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment info = a.allocate(vfio_irq_info.layout());
            vfio_irq_info.argsz(info, (int) vfio_irq_info.sizeof());
            vfio_irq_info.index(info, index);
            Sys.ioctl(device.fd(), Libc.VFIO_DEVICE_GET_IRQ_INFO(), "VFIO_DEVICE_GET_IRQ_INFO", info);
            return (vfio_irq_info.flags(info) & Libc.VFIO_IRQ_INFO_EVENTFD()) == 0 ? 0 : vfio_irq_info.count(info);
        }
    }

    private void trigger(int index, int start, int eventfd) {
        set(Libc.VFIO_IRQ_SET_DATA_EVENTFD() | Libc.VFIO_IRQ_SET_ACTION_TRIGGER(), index, start, 1, eventfd);
    }

    /** {@code VFIO_DEVICE_SET_IRQS}; {@code eventfd} -2: no data. */
    private void set(int flags, int index, int start, int count, int eventfd) {
        try (Arena a = Arena.ofConfined()) {
            long size = vfio_irq_set.sizeof() + (eventfd == -2 ? 0 : 4);
            MemorySegment s = a.allocate(size, 8);
            vfio_irq_set.argsz(s, (int) size);
            vfio_irq_set.flags(s, flags);
            vfio_irq_set.index(s, index);
            vfio_irq_set.start(s, start);
            vfio_irq_set.count(s, count);
            if (eventfd != -2) {
                s.set(ValueLayout.JAVA_INT_UNALIGNED, vfio_irq_set.data$offset(), eventfd);
            }
            Sys.ioctl(device.fd(), Libc.VFIO_DEVICE_SET_IRQS(), "VFIO_DEVICE_SET_IRQS", s);
        }
    }
}
