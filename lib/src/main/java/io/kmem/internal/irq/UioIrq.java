package io.kmem.internal.irq;

import io.kmem.bindings.Libc;
import io.kmem.error.KmemException;
import io.kmem.error.SyscallException;
import io.kmem.internal.sys.Sys;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * The INTx line of a PCI function bound to {@code uio_pci_generic}, as an {@link IrqTable.Source}:
 * the physical-address mode's interrupts (no VFIO, no IOMMU).
 *
 * <pre>
 *  attach      open /dev/uioN; the count so far from sysfs uio/uioN/event; unmask
 *  each        read 4 bytes from /dev/uioN: the total count (blocks until it moves)
 *  after each  unmask: the kernel side masked INTx when the line fired
 *  detach      mask; the descriptor is closed once the line's thread has ended
 * </pre>
 * Unmask and mask are a write of the 4-byte 1 or 0 to {@code /dev/uioN} for UIO drivers with an
 * {@code irqcontrol} (igb_uio, uio_pdrv_genirq). {@code uio_pci_generic} has none (the write
 * fails with ENOSYS): its interrupt handler sets the Interrupt Disable bit of the command
 * register ({@code pci_check_and_mask_intx}), and the driver clears it in configuration space
 * (sysfs {@code config}), as the kernel's UIO HOWTO does; with a 2-byte write of the whole
 * register, not the HOWTO's 1-byte write of its high byte (on QEMU 7.2 that write left the
 * line unarmed: the first interrupt came, no later one). The first ENOSYS switches the line to
 * that way for good.
 * The handler must make the device drop the line (acknowledge its interrupt) before it returns:
 * INTx is level-triggered, and the unmask after it would otherwise fire again at once.
 */
public final class UioIrq implements IrqTable.Source {
    private final String bdf;
    private final Path dev;
    private final Path eventFile;
    private final Path config;
    private volatile int fd = -1;
    private int last;
    /** Unmask through configuration space (uio_pci_generic), not a write to /dev/uioN. */
    private volatile boolean viaConfig;

    /** {@code PCI_COMMAND} and its {@code PCI_COMMAND_INTX_DISABLE} bit. */
    private static final long PCI_COMMAND = 4;
    private static final short INTX_DISABLE = 0x400;

    private UioIrq(String bdf, Path dev, Path eventFile, Path config) {
        this.bdf = bdf;
        this.dev = dev;
        this.eventFile = eventFile;
        this.config = config;
    }

    /**
     * The UIO device of the function whose sysfs directory is {@code dir}.
     *
     * @throws KmemException when the function has none (not bound to uio_pci_generic), with the fix
     */
    public static UioIrq find(String function, Path dir, String bdf, Path devRoot) {
        Path uio = dir.resolve("uio");
        String n = null;
        if (Files.isDirectory(uio)) {
            try (Stream<Path> s = Files.list(uio)) {
                n = s.map(p -> p.getFileName().toString()).filter(x -> x.startsWith("uio")).sorted().findFirst()
                        .orElse(null);
            } catch (IOException e) {
                n = null;
            }
        }
        if (n == null) {
            String driver;
            try {
                driver = "bound to " + Files.readSymbolicLink(dir.resolve("driver")).getFileName();
            } catch (IOException | UnsupportedOperationException e) {
                driver = "bound to no driver";
            }
            throw new KmemException(function + "(" + bdf + "): no interrupt source: the function is not open through"
                    + " VFIO and has no UIO device (" + driver + "); open it with vfio_open (IOVA mode), or bind it"
                    + " to uio_pci_generic once, as root: modprobe uio_pci_generic; echo uio_pci_generic > "
                    + dir.resolve("driver_override") + "; echo " + bdf + " > /sys/bus/pci/drivers_probe (unbind"
                    + " the current driver first)");
        }
        return new UioIrq(bdf, devRoot.resolve(n), uio.resolve(n).resolve("event"), dir.resolve("config"));
    }

    @Override
    public String type() {
        return "UIO-INTx";
    }

    @Override
    public String device() {
        return bdf;
    }

    @Override
    public int attach(int eventfd) {
        int f = Sys.open(dev.toString(), Libc.O_RDWR() | Libc.O_CLOEXEC());
        try {
            last = Integer.parseInt(Files.readString(eventFile).trim());
        } catch (IOException | NumberFormatException e) {
            last = 0;
        }
        fd = f;
        enable(1);
        return f;
    }

    @Override
    public long take(int f, MemorySegment buf) {
        Sys.read(f, buf, 4);
        int now = buf.get(ValueLayout.JAVA_INT, 0);
        long n = now - last;
        last = now;
        return n;
    }

    @Override
    public void afterEach() {
        enable(1);
    }

    @Override
    public void detach() {
        enable(0);
    }

    @Override
    public void closed() {
        int f = fd;
        fd = -1;
        if (f >= 0) {
            Sys.close(f);
        }
    }

    /** Unmasks (1) or masks (0) INTx: a write to /dev/uioN, or the command register (see the class doc). */
    private void enable(int on) {
        if (!viaConfig) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment one = a.allocate(4, 4);
                one.set(ValueLayout.JAVA_INT, 0, on);
                Sys.write(fd, one, 4);
                return;
            } catch (SyscallException e) {
                if (e.errno() != Libc.ENOSYS()) {
                    throw e;
                }
                viaConfig = true;
            }
        }
        int cfg = Sys.open(config.toString(), Libc.O_RDWR() | Libc.O_CLOEXEC());
        try (Arena a = Arena.ofConfined()) {
            MemorySegment w = a.allocate(2, 2);
            Sys.pread(cfg, w, 2, PCI_COMMAND);
            short cmd = w.get(ValueLayout.JAVA_SHORT, 0);
            short want = (short) (on != 0 ? cmd & ~INTX_DISABLE : cmd | INTX_DISABLE);
            if (want != cmd) {
                w.set(ValueLayout.JAVA_SHORT, 0, want);
                Sys.pwrite(cfg, w, 2, PCI_COMMAND);
            }
        } finally {
            Sys.close(cfg);
        }
    }

    @Override
    public String toString() {
        return bdf + " " + dev;
    }
}
