package io.kmem.internal.mmio;

import io.kmem.bindings.Libc;
import io.kmem.error.BadAddressException;
import io.kmem.error.DoubleFreeException;
import io.kmem.error.KmemException;
import io.kmem.internal.sys.Sys;
import io.kmem.internal.vmalloc.Vmalloc;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code ioremap} for one pool: maps device memory into the process, and keeps the registry
 * of live mappings ({@code /proc/vmallocinfo} lists them as {@code ioremap}).
 *
 * <h2>Sources</h2>
 * A mapping is {@code mmap(MAP_SHARED)} of a file that stands for physical addresses:
 * <pre>
 *   source        file                                   file offset             memory type
 *   /dev/mem      {dev}/mem                              the physical address    UC- (O_SYNC); WB for ioremap_cache
 *   PCI BAR       {sys}/bus/pci/devices/D/resourceN[_wc] offset in the BAR       UC- (resourceN), WC (resourceN_wc)
 *   UIO map M     {dev}/uioN                             M * page size           UC- (uio_mmap_physical)
 *   stand-in      any file or /proc/self/fd/N of a memfd the "physical address"  WB (page cache)
 * </pre>
 * The roots {@code {sys}}, {@code {dev}} and {@code {proc}} are configurable so that tests run
 * against a fake tree of regular files. What user space cannot ask for is said, not faked:
 * {@code /dev/mem} has no write-combining (ioremap_wc through it is UC-, as the kernel's
 * ioremap_wc is without PAT) and no strong UC (ioremap_uc is UC-, which differs only where an
 * MTRR says WC). Each mapping records the memory type it really got.
 *
 * <h2>Steps of a mapping</h2>
 * <ol>
 *   <li>Check the range: size above 0, no wrap; for {@code /dev/mem}, no overlap with
 *       "System RAM" in {@code {proc}/iomem} (the kernel's ioremap refuses RAM the same way);
 *       for a regular file (a fake device or stand-in), the range lies inside it, since a
 *       mapping past the end of a file faults on access.</li>
 *   <li>Open the file, map the page-aligned range around it ({@link #mapArea}: the one
 *       place that picks the virtual address), close the file.</li>
 *   <li>Wrap the mapping in a segment of its own shared arena, sliced to the bytes asked for
 *       (the physical address need not be page-aligned), and register it.</li>
 * </ol>
 * {@code iounmap} removes it from the registry, closes its arena (any thread still using the
 * segment gets an exception, never a fault) and unmaps it. The last {@link #HISTORY}
 * unmapped areas are remembered so that a second iounmap of one is named as such.
 *
 * <p>Thread safety: the registry is guarded by this object's monitor; mapping and unmapping
 * system calls run outside it.
 */
public final class Ioremap {
    /** Unmapped areas remembered for the double-iounmap message. */
    static final int HISTORY = 64;

    /** The memory type a mapping got, with the name {@code pat_memtype_list} uses. */
    public enum Caching {
        UC("uncached"), UC_MINUS("uncached-minus"), WC("write-combining"), WB("write-back");

        private final String label;

        Caching(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }
    }

    /**
     * One ioremap mapping, as the registry and vmallocinfo show it.
     *
     * @param start    first address of the mapping (page-aligned)
     * @param length   bytes mapped (whole pages)
     * @param addr     the address handed out: {@code start} plus the physical address's offset
     *                 in its page
     * @param size     the bytes asked for, from {@code addr}
     * @param phys     the physical address of {@code addr}
     * @param function the call that made it: "ioremap", "ioremap_wc", "pci_iomap", ...
     * @param caching  the memory type the mapping really has
     * @param source   the file mapped, and the offset in it
     * @param caller   who called (a stack frame of the driver)
     */
    public record Area(long start, long length, long addr, long size, long phys, String function, Caching caching,
                       String source, String caller) {
    }

    /** A live mapping: its area, and the segment accesses go through. */
    public static final class Mapping {
        private final Area area;
        private final MemorySegment segment;
        private final Arena arena;
        private volatile boolean unmapped;
        private volatile Runnable onUnmap;

        Mapping(Area area, MemorySegment segment, Arena arena) {
            this.area = area;
            this.segment = segment;
            this.arena = arena;
        }

        public Area area() {
            return area;
        }

        /** The mapped bytes ({@link Area#size()} of them at {@link Area#addr()}); dead after iounmap. */
        public MemorySegment segment() {
            return segment;
        }

        public boolean unmapped() {
            return unmapped;
        }

        /** Runs {@code action} once the mapping is gone (a handle marks itself dead). */
        public void onUnmap(Runnable action) {
            this.onUnmap = action;
        }
    }

    private final TreeMap<Long, Mapping> live = new TreeMap<>();
    private final Map<Long, Area> history = new LinkedHashMap<>();
    private volatile Vmalloc window;
    private volatile Path sys = Path.of("/sys");
    private volatile Path dev = Path.of("/dev");
    private volatile Path proc = Path.of("/proc");

    /**
     * Sets the roots under which sysfs, device files and procfs are found (default /sys, /dev,
     * /proc). Mappings already made stay as they are.
     */
    public void roots(Path sys, Path dev, Path proc) {
        this.sys = sys;
        this.dev = dev;
        this.proc = proc;
    }

    public Path sysRoot() {
        return sys;
    }

    public Path devRoot() {
        return dev;
    }

    public Path procRoot() {
        return proc;
    }

    // ------------------------------------------------------------------ sources

    /**
     * {@code ioremap} and its variants through {@code {dev}/mem}: {@code size} bytes at physical
     * address {@code phys}. {@code wb} asks for write-back (ioremap_cache), otherwise UC-.
     *
     * @throws BadAddressException for a range that overlaps System RAM in {@code {proc}/iomem}
     *         ("ioremap on RAM"), or lies past the end of a regular file standing for /dev/mem
     * @throws io.kmem.error.PrivilegeException when {@code {proc}/iomem} hides its addresses
     * @throws io.kmem.error.SyscallException when /dev/mem does not open or map
     */
    public Mapping devMem(String function, long phys, long size, boolean wb) {
        long end = checkRange(function, phys, size);
        Path iomem = proc.resolve("iomem");
        IomemFile.Entry ram = IomemFile.read(iomem).systemRam(phys, end);
        if (ram != null) {
            throw new BadAddressException(String.format(Locale.ROOT, "%s(0x%x, %d): ioremap on RAM at 0x%x - 0x%x:"
                    + " [mem 0x%08x-0x%08x] is System RAM in %s; ioremap maps device memory only (RAM of the pool is"
                    + " reached with phys_to_virt)", function, phys, size, phys, end, ram.start(), ram.end(), iomem));
        }
        int flags = Libc.O_RDWR() | Libc.O_CLOEXEC() | (wb ? 0 : Libc.O_SYNC());
        return map(function, dev.resolve("mem"), flags, phys, size, phys, wb ? Caching.WB : Caching.UC_MINUS);
    }

    /**
     * {@code pci_iomap_range} through a BAR's sysfs file: {@code size} bytes at {@code offset} in
     * the BAR, whose physical start is {@code barStart}.
     *
     * @param file {@code resourceN} (UC-) or {@code resourceN_wc} (WC)
     */
    public Mapping pciResource(String function, Path file, long barStart, long offset, long size, boolean wc) {
        checkRange(function, offset, size);
        return map(function, file, Libc.O_RDWR() | Libc.O_CLOEXEC(), offset, size, barStart + offset,
                wc ? Caching.WC : Caching.UC_MINUS);
    }

    /**
     * Map {@code map} of UIO device {@code uio}: its physical address, size and in-page offset
     * from {@code {sys}/class/uio/uioN/maps/mapM/{addr,size,offset}}, its bytes through
     * {@code {dev}/uioN} at mmap offset {@code map * page size}.
     *
     * @throws KmemException when the device or the map does not exist, naming the path
     */
    public Mapping uio(String function, int uio, int map) {
        if (uio < 0 || map < 0) {
            throw new IllegalArgumentException(function + "(uio" + uio + ", map" + map + "): negative number");
        }
        Path dir = sys.resolve("class/uio/uio" + uio + "/maps/map" + map);
        if (!Files.isDirectory(dir)) {
            throw new KmemException(function + "(uio" + uio + ", map" + map + "): no " + dir + " (the device has no"
                    + " such map, or no UIO driver is bound: modprobe uio_pci_generic and bind the device)");
        }
        long phys = attribute(dir.resolve("addr"));
        long size = attribute(dir.resolve("size"));
        long offset = Files.exists(dir.resolve("offset")) ? attribute(dir.resolve("offset")) : 0;
        long page = Sys.pageSize();
        if (size <= 0 || offset < 0 || offset >= page) {
            throw new KmemException(function + "(uio" + uio + ", map" + map + "): " + dir + " says size " + size
                    + ", offset " + offset + "; expected a size above 0 and an offset inside the first page");
        }
        return mapAt(function, dev.resolve("uio" + uio), Libc.O_RDWR() | Libc.O_CLOEXEC(), (long) map * page, offset,
                size, phys, Caching.UC_MINUS);
    }

    /**
     * A regular file or memfd ({@code /proc/self/fd/N}) standing in for a device: {@code size}
     * bytes at {@code offset}, which is also the "physical address" the registry shows.
     */
    public Mapping file(String function, Path file, long offset, long size) {
        checkRange(function, offset, size);
        return map(function, file, Libc.O_RDWR() | Libc.O_CLOEXEC(), offset, size, offset, Caching.WB);
    }

    // ------------------------------------------------------------------ unmapping and the registry

    /**
     * {@code iounmap} of a mapping.
     *
     * @throws DoubleFreeException when it was unmapped already
     */
    public Area unmap(String function, Mapping m) {
        synchronized (this) {
            if (m.unmapped) {
                throw new DoubleFreeException(function + "(0x" + Long.toHexString(m.area.addr) + "): already unmapped ("
                        + describe(m.area) + ")");
            }
            if (live.get(m.area.start) != m) {
                throw new IllegalArgumentException(function + "(0x" + Long.toHexString(m.area.addr)
                        + "): the mapping belongs to another pool");
            }
            m.unmapped = true;
            live.remove(m.area.start);
        }
        try {
            m.arena.close();
        } catch (IllegalStateException inUse) {
            synchronized (this) {
                m.unmapped = false;
                live.put(m.area.start, m);
            }
            throw new KmemException(function + "(0x" + Long.toHexString(m.area.addr) + "): another thread is accessing"
                    + " the mapping; iounmap it when no access is in flight", inUse);
        }
        Runnable action = m.onUnmap;
        if (action != null) {
            action.run();
        }
        unmapArea(m.area.start, m.area.length);
        synchronized (this) {
            history.put(m.area.start, m.area);
            Iterator<Long> oldest = history.keySet().iterator();
            while (history.size() > HISTORY) {
                oldest.next();
                oldest.remove();
            }
        }
        return m.area;
    }

    /**
     * {@code iounmap} by address: the address a mapping was handed out at (or the start of its
     * page, as the kernel accepts).
     *
     * @throws DoubleFreeException when the address is that of a mapping already unmapped
     * @throws BadAddressException for an address inside a mapping but not its start, or no
     *         mapping's at all
     */
    public Area unmap(String function, long addr) {
        return unmap(function, lookup(function, addr));
    }

    /** The live mapping handed out at {@code addr}; throws as {@link #unmap(String, long)}. */
    public synchronized Mapping lookup(String function, long addr) {
        Map.Entry<Long, Mapping> e = live.floorEntry(addr);
        if (e != null && addr < e.getKey() + e.getValue().area.length) {
            Mapping m = e.getValue();
            if (addr == m.area.addr || addr == m.area.start) {
                return m;
            }
            throw new BadAddressException(function + "(0x" + Long.toHexString(addr) + "): inside the mapping at 0x"
                    + Long.toHexString(m.area.addr) + " (offset 0x" + Long.toHexString(addr - m.area.addr)
                    + "); expected the address ioremap returned");
        }
        Area gone = history.get(addr & -Sys.pageSize());
        if (gone != null) {
            throw new DoubleFreeException(function + "(0x" + Long.toHexString(addr) + "): already unmapped ("
                    + describe(gone) + ")");
        }
        throw new BadAddressException(function + "(0x" + Long.toHexString(addr) + "): not an address ioremap returned ("
                + live.size() + " live mappings)");
    }

    /** The live mappings in address order: what vmallocinfo lists as {@code ioremap}. */
    public synchronized List<Area> areas() {
        List<Area> out = new ArrayList<>(live.size());
        for (Mapping m : live.values()) {
            out.add(m.area);
        }
        return out;
    }

    /** Unmaps every live mapping (closing the pool). */
    public void close() {
        List<Mapping> all;
        synchronized (this) {
            all = new ArrayList<>(live.values());
        }
        for (Mapping m : all) {
            if (!m.unmapped) {
                unmap("iounmap", m);
            }
        }
    }

    // ------------------------------------------------------------------ mapping

    /**
     * Where mappings go: the pool's vmalloc window, as the kernel's ioremap takes its areas
     * from vmalloc's allocator (each with a guard page after it, listed in vmallocinfo as
     * {@code ioremap}). Set once by the pool; without it (a bare {@code Ioremap}), mappings go
     * where the kernel's {@code mmap} puts them.
     */
    public void placeIn(Vmalloc window) {
        this.window = window;
    }

    /**
     * Chooses the virtual address of a mapping and maps {@code length} bytes of {@code fd} at
     * {@code offset} there: the one place that decides where ioremap mappings go.
     */
    private long mapArea(String function, int fd, long offset, long length) {
        Vmalloc w = window;
        if (w == null) {
            return Sys.mmap(0, length, Libc.PROT_READ() | Libc.PROT_WRITE(), Libc.MAP_SHARED(), fd, offset);
        }
        long start = w.reserveIoremap(length);
        if (start < 0) {
            throw new KmemException(function + ": no free range of " + length + " bytes in the vmalloc window for"
                    + " the mapping; build the pool with a larger window (builder().vmallocWindow)");
        }
        try {
            Sys.mmap(start, length, Libc.PROT_READ() | Libc.PROT_WRITE(), Libc.MAP_SHARED() | Libc.MAP_FIXED(), fd,
                    offset);
        } catch (RuntimeException e) {
            w.releaseIoremap(start, length);
            throw e;
        }
        return start;
    }

    /** Undoes {@link #mapArea}. */
    private void unmapArea(long start, long length) {
        Vmalloc w = window;
        if (w == null) {
            Sys.munmap(start, length);
        } else {
            w.releaseIoremap(start, length);
        }
    }

    /** Maps {@code size} bytes at {@code offset} of {@code file}: the page-aligned range around them. */
    private Mapping map(String function, Path file, int flags, long offset, long size, long phys, Caching caching) {
        long page = Sys.pageSize();
        return mapAt(function, file, flags, offset & -page, offset & (page - 1), size, phys, caching);
    }

    private Mapping mapAt(String function, Path file, int flags, long fileOffset, long inPage, long size, long phys,
                          Caching caching) {
        long page = Sys.pageSize();
        long length = (inPage + size + page - 1) & -page;
        if (Files.isRegularFile(file)) {
            long fileSize = fileSize(file);
            if (fileOffset + inPage + size > fileSize) {
                throw new BadAddressException(String.format(Locale.ROOT, "%s: [0x%x, +%d) lies past the end of %s (%d"
                        + " bytes); a device file or stand-in must hold every byte mapped", function,
                        fileOffset + inPage, size, file, fileSize));
            }
        }
        int fd = Sys.open(file.toString(), flags);
        try {
            return mapFd(function, fd, file.toString(), fileOffset, inPage, size, phys, caching);
        } finally {
            Sys.close(fd);
        }
    }

    /**
     * A region of a VFIO device ({@code pci_iomap} of a device opened through VFIO): {@code size}
     * bytes at {@code offset} in the region that starts at {@code regionOffset} of the device
     * descriptor {@code deviceFd} (the descriptor stays the caller's); {@code barStart} is shown as
     * the physical address.
     */
    public Mapping vfioRegion(String function, int deviceFd, String label, long regionOffset, long offset, long size,
                              long barStart) {
        checkRange(function, offset, size);
        long page = Sys.pageSize();
        long at = regionOffset + offset;
        return mapFd(function, deviceFd, label, at & -page, at & (page - 1), size, barStart + offset,
                Caching.UC_MINUS);
    }

    private Mapping mapFd(String function, int fd, String label, long fileOffset, long inPage, long size, long phys,
                          Caching caching) {
        long page = Sys.pageSize();
        long length = (inPage + size + page - 1) & -page;
        String caller = Caller.get();
        long start = mapArea(function, fd, fileOffset, length);
        Arena arena = Arena.ofShared();
        MemorySegment segment = MemorySegment.ofAddress(start).reinterpret(length, arena, null).asSlice(inPage, size);
        Area area = new Area(start, length, start + inPage, size, phys, function, caching,
                label + "@0x" + Long.toHexString(fileOffset + inPage), caller);
        Mapping m = new Mapping(area, segment, arena);
        synchronized (this) {
            live.put(start, m);
            history.remove(start);
        }
        Vmalloc w = window;
        if (w != null) {
            w.publishIoremap(start, length, phys - inPage, caller);
        }
        return m;
    }

    private static long checkRange(String function, long start, long size) {
        long end = start + size - 1;
        if (size <= 0 || start < 0 || end < start) {
            throw new IllegalArgumentException(function + "(0x" + Long.toHexString(start) + ", " + size
                    + "): expected a size above 0 and a range that does not wrap");
        }
        return end;
    }

    private static long fileSize(Path file) {
        try {
            return Files.size(file);
        } catch (IOException e) {
            throw new KmemException("cannot stat " + file + ": " + e.getMessage(), e);
        }
    }

    /** A sysfs number attribute: "0x..." (hex) or decimal. */
    static long attribute(Path file) {
        String text;
        try {
            text = Files.readString(file).strip();
        } catch (IOException e) {
            throw new KmemException("cannot read " + file + ": " + e.getMessage(), e);
        }
        try {
            return text.startsWith("0x") ? Long.parseUnsignedLong(text.substring(2), 16) : Long.parseLong(text);
        } catch (NumberFormatException e) {
            throw new KmemException(file + ": expected a number, got \"" + text + "\"");
        }
    }

    private static String describe(Area a) {
        return String.format(Locale.ROOT, "%s of %d bytes at phys 0x%x from %s, by %s", a.function, a.size, a.phys,
                a.source, a.caller);
    }
}
