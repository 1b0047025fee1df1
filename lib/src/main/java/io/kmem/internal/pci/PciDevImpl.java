package io.kmem.internal.pci;

import io.kmem.error.BadAddressException;
import io.kmem.error.KmemException;
import io.kmem.internal.sys.Sys;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * A PCI function as sysfs shows it ({@code /sys/bus/pci/devices/0000:00:04.0}), and the few
 * things a user-space driver does through those files:
 *
 * <pre>
 *   file            what kmem does with it
 *   vendor, device  "0x1234\n": pci_get_device matches them
 *   class           "0x00ff00\n"
 *   resource        one line per resource, "0x&lt;start&gt; 0x&lt;end&gt; 0x&lt;flags&gt;" (16 hex digits each);
 *                   lines 0..5 are the BARs: pci_resource_start/len/flags
 *   resourceN       BAR N, mmap-able, uncached (UC-); resourceN_wc: write-combining, prefetchable BARs only
 *   enable          write "1": pci_enable_device (the kernel enables decoding); "0": disable
 *   config          configuration space; the command register is the 16-bit little-endian word at 4:
 *                   bit 0 I/O space, bit 1 memory space, bit 2 bus master
 * </pre>
 *
 * @param dir       the function's sysfs directory
 * @param name      its address, "0000:00:04.0"
 * @param vendor    PCI vendor id
 * @param device    PCI device id
 * @param classCode class, subclass and interface (24 bits)
 * @param resources the lines of {@code resource}, in order
 */
public record PciDevImpl(Path dir, String name, int vendor, int device, int classCode, List<Resource> resources)
        implements ConfigSpace {

    /** {@code PCI_COMMAND}: offset of the command register in configuration space. */
    public static final int PCI_COMMAND = 0x04;
    /** {@code PCI_COMMAND_IO}: respond to I/O space accesses. */
    public static final int PCI_COMMAND_IO = 0x1;
    /** {@code PCI_COMMAND_MEMORY}: respond to memory space accesses. */
    public static final int PCI_COMMAND_MEMORY = 0x2;
    /** {@code PCI_COMMAND_MASTER}: the device may master the bus (DMA). */
    public static final int PCI_COMMAND_MASTER = 0x4;
    /** {@code PCI_COMMAND_INTX_DISABLE}: the device does not assert INTx. */
    public static final int PCI_COMMAND_INTX_DISABLE = 0x400;
    /** Resource flag: I/O ports. */
    public static final long IORESOURCE_IO = 0x100;
    /** Resource flag: memory. */
    public static final long IORESOURCE_MEM = 0x200;
    /** Resource flag: prefetchable memory. */
    public static final long IORESOURCE_PREFETCH = 0x2000;
    /** {@code PCI_STD_NUM_BARS}. */
    public static final int NUM_BARS = 6;
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** One line of {@code resource}; a resource the device does not have is all zeros. */
    public record Resource(long start, long end, long flags) {
        /** {@code pci_resource_len}: 0 for an absent resource. */
        public long len() {
            return start == 0 && end == 0 ? 0 : end - start + 1;
        }
    }

    /** The functions under {@code {sys}/bus/pci/devices}, sorted by address (none when it does not exist). */
    public static List<PciDevImpl> scan(Path sys) {
        Path devices = sys.resolve("bus/pci/devices");
        if (!Files.isDirectory(devices)) {
            return List.of();
        }
        List<PciDevImpl> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(devices)) {
            for (Path d : s.sorted().toList()) {
                out.add(read(d));
            }
        } catch (IOException e) {
            throw new KmemException("cannot list " + devices + ": " + e.getMessage(), e);
        }
        return out;
    }

    /** Reads the function at {@code dir}. */
    public static PciDevImpl read(Path dir) {
        List<Resource> res = new ArrayList<>();
        for (String line : text(dir.resolve("resource")).split("\n")) {
            String[] f = line.strip().split("\\s+");
            if (f.length == 3) {
                res.add(new Resource(hex(dir.resolve("resource"), f[0]), hex(dir.resolve("resource"), f[1]),
                        hex(dir.resolve("resource"), f[2])));
            }
        }
        Path cls = dir.resolve("class");
        return new PciDevImpl(dir, dir.getFileName().toString(), (int) number(dir.resolve("vendor")),
                (int) number(dir.resolve("device")), Files.exists(cls) ? (int) number(cls) : 0, List.copyOf(res));
    }

    /**
     * BAR {@code bar} (0 to 5): its line of {@code resource}, all zeros when absent.
     *
     * @throws IllegalArgumentException for a number outside 0..5
     */
    public Resource bar(String function, int bar) {
        if (bar < 0 || bar >= NUM_BARS) {
            throw new IllegalArgumentException(function + "(" + name + ", " + bar + "): BARs are numbered 0 to "
                    + (NUM_BARS - 1));
        }
        return bar < resources.size() ? resources.get(bar) : new Resource(0, 0, 0);
    }

    /** The sysfs file that maps BAR {@code bar}: {@code resourceN}, or {@code resourceN_wc}. */
    public Path resourceFile(int bar, boolean wc) {
        return dir.resolve("resource" + bar + (wc ? "_wc" : ""));
    }

    /**
     * What {@code pci_iomap_range} maps: {@code len} bytes at {@code offset} of BAR {@code bar},
     * whose physical start is {@code barStart}, through {@code file}; {@code wc} when that file
     * is {@code resourceN_wc}.
     */
    public record BarRange(Path file, long barStart, long offset, long len, boolean wc) {
    }

    /**
     * The range {@code pci_iomap_range(dev, bar, offset, maxlen)} maps ({@code maxlen} 0: the rest
     * of the BAR). With {@code wc}, {@code resourceN_wc} where sysfs has it (prefetchable BARs),
     * else {@code resourceN}.
     *
     * @throws BadAddressException for a BAR the function does not have, a port I/O BAR, or an
     *         offset outside the BAR
     */
    public BarRange barRange(String function, int bar, long offset, long maxlen, boolean wc) {
        Resource r = bar(function, bar);
        String what = function + "(" + name + ", BAR " + bar + ")";
        if (r.len() == 0) {
            throw new BadAddressException(what + ": the function has no such BAR");
        }
        if ((r.flags() & IORESOURCE_MEM) == 0) {
            throw new BadAddressException(what + ": a port I/O BAR (flags 0x" + Long.toHexString(r.flags())
                    + "); only memory BARs map");
        }
        if (offset < 0 || offset >= r.len() || maxlen < 0) {
            throw new BadAddressException(what + ": offset " + offset + " and length " + maxlen + " do not fit the BAR"
                    + " of " + r.len() + " bytes");
        }
        long len = r.len() - offset;
        if (maxlen != 0 && maxlen < len) {
            len = maxlen;
        }
        boolean realWc = wc && Files.exists(resourceFile(bar, true));
        return new BarRange(resourceFile(bar, realWc), r.start(), offset, len, realWc);
    }

    /** The kernel driver bound to the function (the name its {@code driver} symlink points at), or null. */
    public String driver() {
        try {
            return Files.readSymbolicLink(dir.resolve("driver")).getFileName().toString();
        } catch (IOException | UnsupportedOperationException e) {
            return null;
        }
    }

    /**
     * Why a BAR of this function may not map, and what to do, when a driver is bound to it (a
     * BAR that a kernel driver requested is exclusive: sysfs refuses its mmap with EINVAL), or
     * null when none is.
     */
    public String boundDriverHint() {
        String d = driver();
        if (d == null) {
            return null;
        }
        if (d.equals("vfio-pci") || d.startsWith("uio")) {
            return "driver '" + d + "' is bound to " + name + "; map the BAR through it (VFIO, or ioremapUio for a"
                    + " UIO device) instead of sysfs";
        }
        return "kernel driver '" + d + "' is bound to " + name + " and holds its BARs: unbind it (echo " + name + " > "
                + dir.resolve("driver/unbind") + "), then map again (or bind vfio-pci or uio_pci_generic)";
    }

    /**
     * {@code pci_enable_device}: writes 1 to {@code enable} (the kernel then enables the
     * function), then makes sure the command register decodes its BARs (memory space for
     * memory BARs, I/O space for port BARs), as {@code pci_enable_resources} does. A function
     * bound to a driver (uio_pci_generic, vfio-pci) was enabled by that driver's probe, and
     * sysfs refuses the write then (EBUSY): only the command register is set.
     */
    public void enable(String function) {
        if (!driverBound()) {
            writeEnable(true);
        }
        int want = 0;
        for (int bar = 0; bar < NUM_BARS; bar++) {
            Resource r = bar(function, bar);
            if (r.len() > 0) {
                want |= (r.flags() & IORESOURCE_IO) != 0 ? PCI_COMMAND_IO
                        : (r.flags() & IORESOURCE_MEM) != 0 ? PCI_COMMAND_MEMORY : 0;
            }
        }
        setCommand(function, want, true);
    }

    /**
     * {@code pci_disable_device}: clears bus mastering, writes 0 to {@code enable}; for a
     * function bound to a driver, whose driver keeps it enabled, only clears bus mastering.
     */
    public void disable(String function) {
        setCommand(function, PCI_COMMAND_MASTER, false);
        if (!driverBound()) {
            writeEnable(false);
        }
    }

    /** True when a kernel driver is bound to the function ({@code driver} link in sysfs). */
    private boolean driverBound() {
        return Files.exists(dir.resolve("driver"), LinkOption.NOFOLLOW_LINKS);
    }

    /** Writes "1" (or "0") to {@code enable}: the kernel's pci_enable_device (pci_disable_device). */
    public void writeEnable(boolean on) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment b = a.allocate(1);
            b.set(ValueLayout.JAVA_BYTE, 0, (byte) (on ? '1' : '0'));
            Sys.pwriteFile(dir.resolve("enable").toString(), b, 1, 0);
        }
    }

    /** The enable count sysfs shows (0 when disabled). */
    public long enableCount() {
        return number(dir.resolve("enable"));
    }

    /**
     * Reads {@code size} (1, 2 or 4) bytes of configuration space at {@code where}, little-endian.
     *
     * @throws KmemException when the config file is shorter (sysfs shows 256 bytes unprivileged)
     */
    @Override
    public int readConfig(String function, int where, int size) {
        checkConfig(function, where, size);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment b = a.allocate(4);
            long n = Sys.preadFile(dir.resolve("config").toString(), b, size, where);
            if (n != size) {
                throw new KmemException(function + "(" + name + ", 0x" + Integer.toHexString(where) + "): "
                        + dir.resolve("config") + " ends before it (" + n + " of " + size + " bytes); configuration"
                        + " space past 64 bytes needs root");
            }
            int v = b.get(LE32, 0);
            return size == 4 ? v : v & ((1 << (size * 8)) - 1);
        }
    }

    /** Writes {@code size} (1, 2 or 4) bytes of {@code value} to configuration space at {@code where}, little-endian. */
    @Override
    public void writeConfig(String function, int where, int size, int value) {
        checkConfig(function, where, size);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment b = a.allocate(4);
            b.set(LE32, 0, value);
            Sys.pwriteFile(dir.resolve("config").toString(), b, size, where);
        }
    }

    /** {@code PCI_STATUS}, {@code PCI_STATUS_CAP_LIST}, {@code PCI_HEADER_TYPE}, the capability pointers. */
    private static final int PCI_STATUS = 0x06;
    private static final int PCI_STATUS_CAP_LIST = 0x10;
    private static final int PCI_HEADER_TYPE = 0x0e;
    private static final int PCI_CAPABILITY_LIST = 0x34;
    private static final int PCI_CB_CAPABILITY_LIST = 0x14;
    private static final int PCI_CFG_SPACE_SIZE = 256;
    private static final int PCI_CFG_SPACE_EXP_SIZE = 4096;
    /** {@code PCI_FIND_CAP_TTL}: at most 48 capabilities in 192 bytes, so a looping list ends. */
    private static final int PCI_FIND_CAP_TTL = 48;

    /**
     * {@code pci_find_next_capability}: the offset of the next capability {@code cap} in the
     * list after the capability at {@code pos} (for {@code pos} the list pointer itself, 0x34 or
     * 0x14, the first), or 0. Walks as {@code __pci_find_next_cap_ttl} does: pointers below
     * 0x40 end the list, an id of 0xff (no device) ends it, at most 48 steps.
     */
    public int findNextCapability(String function, int pos, int cap) {
        int next = readConfig(function, pos + 1, 1);
        return walkCapabilities(function, next, cap);
    }

    /** {@code pci_find_capability}: the offset of capability {@code cap}, or 0 (also when the status says there is no list). */
    public int findCapability(String function, int cap) {
        if ((readConfig(function, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST) == 0) {
            return 0;
        }
        int type = readConfig(function, PCI_HEADER_TYPE, 1) & 0x7f;
        int start = switch (type) {
            case 0, 1 -> PCI_CAPABILITY_LIST;
            case 2 -> PCI_CB_CAPABILITY_LIST;
            default -> 0;
        };
        return start == 0 ? 0 : walkCapabilities(function, readConfig(function, start, 1), cap);
    }

    private int walkCapabilities(String function, int pos, int cap) {
        for (int ttl = PCI_FIND_CAP_TTL; ttl > 0; ttl--) {
            if (pos < 0x40) {
                break;
            }
            pos &= ~3;
            int ent = readConfig(function, pos, 2);
            int id = ent & 0xff;
            if (id == 0xff) {
                break;
            }
            if (id == cap) {
                return pos;
            }
            pos = ent >>> 8;
        }
        return 0;
    }

    /**
     * {@code pci_find_next_ext_capability}: the offset of the next extended capability
     * {@code cap} after {@code start} (0: from the first, at 0x100), or 0. Extended
     * capabilities exist only in a 4 KiB configuration space (PCI Express); a header of 0
     * means none; at most (4096 - 256) / 8 steps.
     */
    public int findNextExtCapability(String function, int start, int cap) {
        if (cfgSize() <= PCI_CFG_SPACE_SIZE) {
            return 0;
        }
        int pos = start != 0 ? start : PCI_CFG_SPACE_SIZE;
        int header = readConfig(function, pos, 4);
        if (header == 0) {
            return 0;
        }
        for (int ttl = (PCI_CFG_SPACE_EXP_SIZE - PCI_CFG_SPACE_SIZE) / 8; ttl > 0; ttl--) {
            if ((header & 0xffff) == cap && pos != start) {
                return pos;
            }
            pos = (header >>> 20) & 0xffc;
            if (pos < PCI_CFG_SPACE_SIZE) {
                break;
            }
            header = readConfig(function, pos, 4);
        }
        return 0;
    }

    /** {@code dev->cfg_size}: 4096 for PCI Express, else 256, as the size of {@code config} says. */
    public int cfgSize() {
        try {
            return Files.size(dir.resolve("config")) >= PCI_CFG_SPACE_EXP_SIZE ? PCI_CFG_SPACE_EXP_SIZE
                    : PCI_CFG_SPACE_SIZE;
        } catch (IOException e) {
            throw new KmemException("cannot stat " + dir.resolve("config") + ": " + e.getMessage(), e);
        }
    }

    private void checkConfig(String function, int where, int size) {
        if (size != 1 && size != 2 && size != 4 || where < 0 || where + size > 4096 || where % size != 0) {
            throw new IllegalArgumentException(function + "(" + name + ", 0x" + Integer.toHexString(where)
                    + "): expected an access of 1, 2 or 4 bytes aligned to its size inside 4 KiB of configuration space");
        }
    }

    @Override
    public String toString() {
        return String.format("%s [%04x:%04x] class %06x", name, vendor, device, classCode);
    }

    private static String text(Path file) {
        try {
            return Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new KmemException("cannot read " + file + ": no such file (not a PCI function's sysfs directory?)");
        } catch (IOException e) {
            throw new KmemException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    private static long number(Path file) {
        String t = text(file).strip();
        try {
            return t.startsWith("0x") ? Long.parseUnsignedLong(t.substring(2), 16) : Long.parseLong(t);
        } catch (NumberFormatException e) {
            throw new KmemException(file + ": expected a number, got \"" + t + "\"");
        }
    }

    private static long hex(Path file, String t) {
        try {
            return Long.parseUnsignedLong(t.startsWith("0x") ? t.substring(2) : t, 16);
        } catch (NumberFormatException e) {
            throw new KmemException(file + ": expected a hex number, got \"" + t + "\"");
        }
    }
}
