package io.kmem.internal.vfio;

import io.kmem.bindings.Libc;
import io.kmem.bindings.vfio_device_info;
import io.kmem.bindings.vfio_irq_info;
import io.kmem.bindings.vfio_irq_set;
import io.kmem.bindings.vfio_region_info;
import io.kmem.error.BadAddressException;
import io.kmem.error.KmemException;
import io.kmem.internal.pci.ConfigSpace;
import io.kmem.internal.sys.Sys;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Locale;

/**
 * A PCI function opened through VFIO ({@code VFIO_GROUP_GET_DEVICE_FD}): its regions and its
 * configuration space through the device descriptor.
 *
 * <pre>
 *  region index          what                      how kmem uses it
 *  0..5 (BAR0..BAR5)     the BARs                  mmap of the device fd at the region's offset: pci_iomap
 *  6 (ROM)               expansion ROM             not used
 *  7 (CONFIG)            configuration space       pread/pwrite at the region's offset: pci_read/write_config_*
 * </pre>
 * vfio-pci enables the function when the device is opened ({@code pci_enable_device} in the
 * kernel), and virtualises parts of config space (the BARs read back as VFIO chooses); the
 * command register's memory and bus-master bits pass through.
 *
 * <p>Thread safety: every method may be called from any thread.
 */
public final class VfioDevice implements ConfigSpace, VfioIrqs.Device, AutoCloseable {
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** One region: {@code VFIO_DEVICE_GET_REGION_INFO}. */
    public record Region(int index, long offset, long size, int flags) {
        public boolean mmappable() {
            return (flags & Libc.VFIO_REGION_INFO_FLAG_MMAP()) != 0;
        }
    }

    private final String bdf;
    private final int fd;
    private final int flags;
    private final int numIrqs;
    private final Region[] regions;
    private volatile boolean closed;

    private VfioDevice(String bdf, int fd, int flags, int numIrqs, Region[] regions) {
        this.bdf = bdf;
        this.fd = fd;
        this.flags = flags;
        this.numIrqs = numIrqs;
        this.regions = regions;
    }

    /** {@code VFIO_GROUP_GET_DEVICE_FD} of {@code container}'s group, then the device's info and regions. */
    public static VfioDevice open(VfioContainer container, String bdf) {
        int fd;
        try (Arena a = Arena.ofConfined()) {
            fd = Sys.ioctl(container.groupFd(), Libc.VFIO_GROUP_GET_DEVICE_FD(), "VFIO_GROUP_GET_DEVICE_FD",
                    a.allocateFrom(bdf));
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment info = a.allocate(vfio_device_info.layout());
            vfio_device_info.argsz(info, (int) vfio_device_info.sizeof());
            Sys.ioctl(fd, Libc.VFIO_DEVICE_GET_INFO(), "VFIO_DEVICE_GET_INFO", info);
            int flags = vfio_device_info.flags(info);
            if ((flags & Libc.VFIO_DEVICE_FLAGS_PCI()) == 0) {
                throw new KmemException("vfio_open(" + bdf + "): VFIO says the device is not a PCI device (flags 0x"
                        + Integer.toHexString(flags) + ")");
            }
            // BAR0..BAR5, ROM, CONFIG; the VGA region (8) answers EINVAL on a device that is not VGA,
            // as does any region the device lacks: such a region is recorded as absent (size 0).
            int n = Math.min(vfio_device_info.num_regions(info), Libc.VFIO_PCI_CONFIG_REGION_INDEX() + 1);
            Region[] regions = new Region[n];
            MemorySegment r = a.allocate(vfio_region_info.layout());
            for (int i = 0; i < n; i++) {
                r.fill((byte) 0);
                vfio_region_info.argsz(r, (int) vfio_region_info.sizeof());
                vfio_region_info.index(r, i);
                try {
                    Sys.ioctl(fd, Libc.VFIO_DEVICE_GET_REGION_INFO(), "VFIO_DEVICE_GET_REGION_INFO", r);
                    regions[i] = new Region(i, vfio_region_info.offset(r), vfio_region_info.size(r),
                            vfio_region_info.flags(r));
                } catch (io.kmem.error.SyscallException e) {
                    if (e.errno() != Libc.EINVAL() || i == Libc.VFIO_PCI_CONFIG_REGION_INDEX()) {
                        throw e;
                    }
                    regions[i] = new Region(i, 0, 0, 0);
                }
            }
            if (n <= Libc.VFIO_PCI_CONFIG_REGION_INDEX()) {
                throw new KmemException("vfio_open(" + bdf + "): VFIO reports " + n + " regions, no config region");
            }
            return new VfioDevice(bdf, fd, flags, vfio_device_info.num_irqs(info), regions);
        } catch (RuntimeException e) {
            Sys.close(fd);
            throw e;
        }
    }

    @Override
    public String bdf() {
        return bdf;
    }

    @Override
    public int irqCount(int index) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment info = a.allocate(vfio_irq_info.layout());
            vfio_irq_info.argsz(info, (int) vfio_irq_info.sizeof());
            vfio_irq_info.index(info, index);
            Sys.ioctl(fd(), Libc.VFIO_DEVICE_GET_IRQ_INFO(), "VFIO_DEVICE_GET_IRQ_INFO", info);
            return (vfio_irq_info.flags(info) & Libc.VFIO_IRQ_INFO_EVENTFD()) == 0 ? 0 : vfio_irq_info.count(info);
        }
    }

    @Override
    public void setIrqs(int flags, int index, int start, int count, int[] fds) {
        try (Arena a = Arena.ofConfined()) {
            long size = vfio_irq_set.sizeof() + (fds == null ? 0 : 4L * fds.length);
            MemorySegment s = a.allocate(size, 8);
            vfio_irq_set.argsz(s, (int) size);
            vfio_irq_set.flags(s, flags);
            vfio_irq_set.index(s, index);
            vfio_irq_set.start(s, start);
            vfio_irq_set.count(s, count);
            if (fds != null) {
                for (int i = 0; i < fds.length; i++) {
                    s.set(ValueLayout.JAVA_INT_UNALIGNED, vfio_irq_set.data$offset() + 4L * i, fds[i]);
                }
            }
            Sys.ioctl(fd(), Libc.VFIO_DEVICE_SET_IRQS(), "VFIO_DEVICE_SET_IRQS", s);
        }
    }

    /** The device descriptor (for mmap of a BAR region). */
    public int fd() {
        ensureOpen("VFIO device fd");
        return fd;
    }

    /** {@code VFIO_DEVICE_FLAGS_*} of the device. */
    public int flags() {
        return flags;
    }

    public int numIrqs() {
        return numIrqs;
    }

    /**
     * BAR {@code bar}'s region.
     *
     * @throws BadAddressException when the device has no such BAR, or VFIO does not let it be
     *         mapped (a port I/O BAR)
     */
    public Region bar(String function, int bar) {
        if (bar < 0 || bar > 5 || bar >= regions.length) {
            throw new IllegalArgumentException(function + "(" + bdf + ", " + bar + "): BARs are numbered 0 to 5");
        }
        Region r = regions[Libc.VFIO_PCI_BAR0_REGION_INDEX() + bar];
        if (r.size() == 0) {
            throw new BadAddressException(function + "(" + bdf + ", BAR " + bar + "): the function has no such BAR");
        }
        if (!r.mmappable()) {
            throw new BadAddressException(function + "(" + bdf + ", BAR " + bar + "): VFIO does not map this region"
                    + " (flags 0x" + Integer.toHexString(r.flags()) + "; a port I/O BAR, or one smaller than a page)");
        }
        return r;
    }

    @Override
    public int readConfig(String function, int where, int size) {
        Region cfg = config(function, where, size);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment b = a.allocate(4);
            long n = Sys.pread(fd, b, size, cfg.offset() + where);
            if (n != size) {
                throw new KmemException(String.format(Locale.ROOT, "%s(%s, 0x%x): the VFIO config region read %d of %d"
                        + " bytes", function, bdf, where, n, size));
            }
            int v = b.get(LE32, 0);
            return size == 4 ? v : v & ((1 << (size * 8)) - 1);
        }
    }

    @Override
    public void writeConfig(String function, int where, int size, int value) {
        Region cfg = config(function, where, size);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment b = a.allocate(4);
            b.set(LE32, 0, value);
            long n = Sys.pwrite(fd, b, size, cfg.offset() + where);
            if (n != size) {
                throw new KmemException(String.format(Locale.ROOT, "%s(%s, 0x%x): the VFIO config region wrote %d of %d"
                        + " bytes", function, bdf, where, n, size));
            }
        }
    }

    private Region config(String function, int where, int size) {
        ensureOpen(function);
        if (size != 1 && size != 2 && size != 4 || where < 0 || where % size != 0) {
            throw new IllegalArgumentException(function + "(" + bdf + ", 0x" + Integer.toHexString(where)
                    + "): expected an access of 1, 2 or 4 bytes aligned to its size");
        }
        Region cfg = regions[Libc.VFIO_PCI_CONFIG_REGION_INDEX()];
        if (where + size > cfg.size()) {
            throw new IllegalArgumentException(function + "(" + bdf + ", 0x" + Integer.toHexString(where)
                    + "): past the end of configuration space (" + cfg.size() + " bytes)");
        }
        return cfg;
    }

    private void ensureOpen(String function) {
        if (closed) {
            throw new KmemException(function + ": the VFIO device " + bdf + " is closed");
        }
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            Sys.close(fd);
        }
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%s via VFIO (%d regions, %d irq indexes)", bdf, regions.length, numIrqs);
    }
}
