package io.kmem.internal.irq;

import io.kmem.bindings.Libc;
import io.kmem.error.KmemException;
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
 *  attach      open /dev/uioN; the count so far from /sys/class/uio/uioN/event; write 1 (unmask)
 *  each        read 4 bytes from /dev/uioN: the total count (blocks until it moves)
 *  after each  write 1: uio_pci_generic masked INTx when the line fired, this unmasks it
 *  detach      write 0 (mask); the descriptor is closed once the line's thread has ended
 * </pre>
 * The handler must make the device drop the line (acknowledge its interrupt) before it returns:
 * INTx is level-triggered, and the unmask after it would otherwise fire again at once.
 */
public final class UioIrq implements IrqTable.Source {
    private final String bdf;
    private final Path dev;
    private final Path eventFile;
    private volatile int fd = -1;
    private int last;

    private UioIrq(String bdf, Path dev, Path eventFile) {
        this.bdf = bdf;
        this.dev = dev;
        this.eventFile = eventFile;
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
        return new UioIrq(bdf, devRoot.resolve(n), uio.resolve(n).resolve("event"));
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

    /** Writes the 4-byte {@code on} to /dev/uioN: uio_pci_generic's irqcontrol unmasks (1) or masks (0) INTx. */
    private void enable(int on) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment one = a.allocate(4, 4);
            one.set(ValueLayout.JAVA_INT, 0, on);
            Sys.write(fd, one, 4);
        }
    }

    @Override
    public String toString() {
        return bdf + " " + dev;
    }
}
