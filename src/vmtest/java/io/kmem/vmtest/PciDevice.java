package io.kmem.vmtest;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.stream.Stream;

/**
 * A PCI device seen through sysfs ({@code /sys/bus/pci/devices/DDDD:BB:DD.F}): found by
 * vendor and device id, enabled through its {@code enable} file, its command register set
 * through its {@code config} file, its BARs read from its {@code resource} file. What a kernel
 * driver gets from {@code pci_get_device}, {@code pci_enable_device}, {@code pci_set_master}
 * and {@code pci_resource_start}/{@code _len}.
 */
final class PciDevice {

    static final Path DEVICES = Path.of("/sys/bus/pci/devices");

    /** Command register (config space offset 4, 16 bits) bits. */
    static final int PCI_COMMAND = 0x04;
    static final int PCI_COMMAND_MEMORY = 0x2;
    static final int PCI_COMMAND_MASTER = 0x4;
    /** {@code IORESOURCE_MEM} in the flags column of the sysfs resource file. */
    private static final long IORESOURCE_MEM = 0x200;

    /** One BAR: its physical start, size in bytes and resource flags. */
    record Bar(int index, long start, long size, long flags) {
        boolean memory() {
            return (flags & IORESOURCE_MEM) != 0;
        }
    }

    final Path dir;

    private PciDevice(Path dir) {
        this.dir = dir;
    }

    /** The first device with this vendor and device id; throws, naming both, when there is none. */
    static PciDevice find(int vendor, int device) {
        try (Stream<Path> devices = Files.list(DEVICES)) {
            for (Path d : devices.sorted().toList()) {
                if (hex(d.resolve("vendor")) == vendor && hex(d.resolve("device")) == device) {
                    return new PciDevice(d);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + DEVICES + " (is sysfs mounted?)", e);
        }
        throw new IllegalStateException(String.format(
                "no PCI device %04x:%04x in %s (is QEMU started with -device edu?)", vendor, device, DEVICES));
    }

    /** The device's address, e.g. {@code 0000:00:04.0}. */
    String bdf() {
        return dir.getFileName().toString();
    }

    /** BAR {@code n} from the {@code resource} file ({@code start end flags} per line). */
    Bar bar(int n) {
        List<String> lines = lines(dir.resolve("resource"));
        String[] f = lines.get(n).trim().split("\\s+");
        long start = Long.decode(f[0]);
        long end = Long.decode(f[1]);
        return new Bar(n, start, start == 0 && end == 0 ? 0 : end - start + 1, Long.decode(f[2]));
    }

    /** The sysfs file that maps BAR {@code n} ({@code resourceN}). */
    String resourceFile(int n) {
        return dir.resolve("resource" + n).toString();
    }

    /** {@code pci_enable_device}: writes 1 to {@code enable}; returns what {@code enable} reads after. */
    String enable() {
        write(dir.resolve("enable"), "1");
        return lines(dir.resolve("enable")).getFirst().strip();
    }

    /** The 16-bit command register. */
    int command() {
        ByteBuffer b = ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN);
        try (FileChannel c = FileChannel.open(dir.resolve("config"), StandardOpenOption.READ)) {
            if (c.read(b, PCI_COMMAND) != 2) {
                throw new IllegalStateException("short read of the command register from " + dir.resolve("config"));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + dir.resolve("config"), e);
        }
        return b.getShort(0) & 0xffff;
    }

    /** Sets {@code bits} in the command register (read, or, write back); returns the new value read back. */
    int setCommandBits(int bits) {
        int value = command() | bits;
        ByteBuffer b = ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN).putShort(0, (short) value);
        try (FileChannel c = FileChannel.open(dir.resolve("config"), StandardOpenOption.WRITE)) {
            if (c.write(b, PCI_COMMAND) != 2) {
                throw new IllegalStateException("short write of the command register to " + dir.resolve("config"));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + dir.resolve("config") + " (root needed)", e);
        }
        return command();
    }

    private static long hex(Path file) {
        return Long.decode(lines(file).getFirst().strip());
    }

    private static List<String> lines(Path file) {
        try {
            return Files.readAllLines(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    private static void write(Path file, String text) {
        try {
            Files.writeString(file, text);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write '" + text + "' to " + file + " (root needed)", e);
        }
    }
}
