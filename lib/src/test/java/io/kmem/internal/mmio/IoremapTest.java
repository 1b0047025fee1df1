package io.kmem.internal.mmio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.FakeHost;
import io.kmem.error.BadAddressException;
import io.kmem.error.KmemException;
import io.kmem.error.PrivilegeException;
import io.kmem.stats.HostInfo;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.HexFormat;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link Ioremap}'s sources over a fake host tree ({@code /dev/mem} as a sparse file with a fake
 * {@code /proc/iomem}, a UIO device as a file with sysfs-like map directories), and the
 * System RAM refusal against the fake and the real {@code /proc/iomem}.
 */
class IoremapTest {
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final String IOMEM = """
            00000000-00000fff : Reserved
            00001000-0009fbff : System RAM
            000a0000-000bffff : PCI Bus 0000:00
            00100000-07ffffff : System RAM
              01000000-01ffffff : Kernel code
            fe000000-febfffff : PCI Bus 0000:00
              febd0000-febdffff : 0000:00:04.0
              febf0000-febf0fff : 0000:00:03.0
                febf0000-febf0fff : e1000
            """;

    private final Ioremap ioremap = new Ioremap();
    private FakeHost host;

    @BeforeEach
    void setUp() {
        host = new FakeHost().iomem(IOMEM);
        roots(host.root().resolve("sys"), host.root().resolve("dev"), host.root().resolve("proc"));
    }

    @AfterEach
    void tearDown() {
        ioremap.close();
        host.close();
    }

    private void roots(Path sys, Path dev, Path proc) {
        ioremap.roots(sys, dev, proc);
    }

    private static int readl(Ioremap.Mapping m, long off) {
        return m.segment().get(LE32, off);
    }

    private static String kind(Ioremap.Mapping m) {
        return m.area().function() + " " + m.area().caching().label();
    }

    @Test
    void ioremapMapsDevMemAtThePhysicalAddressUncached() {
        Path mem = host.devMem(0xfec00000L);
        FakeHost.write(mem, 0xfebd0000L, new byte[] {(byte) 0xed, 0, 0, 1});
        Ioremap.Mapping regs = ioremap.devMem("ioremap", 0xfebd0000L, 0x10000, false);
        assertEquals(0x010000ed, readl(regs, 0), "the identity register of the fake BAR");
        assertEquals(0xfebd0000L, regs.area().phys());
        assertEquals(0x10000, regs.segment().byteSize());
        assertEquals("ioremap uncached-minus", kind(regs));
        assertTrue(regs.area().source().startsWith(mem + "@0xfebd0000"), regs.area().source());
        regs.segment().set(LE32, 4, 0xffffffff);
        assertEquals("ff ff ff ff", HexFormat.ofDelimiter(" ").formatHex(FakeHost.read(mem, 0xfebd0004L, 4)));
        Ioremap.Mapping cached = ioremap.devMem("ioremap_cache", 0xfebd0000L, 4096, true);
        assertEquals("ioremap_cache write-back", kind(cached));
        assertEquals(0x010000ed, readl(cached, 0));
        assertEquals(2, ioremap.areas().size());
        ioremap.unmap("iounmap", regs);
        ioremap.unmap("iounmap", cached);
        assertTrue(ioremap.areas().isEmpty());
    }

    @Test
    void ioremapOfSystemRamIsRefusedLikeTheKernelDoes() {
        host.devMem(0xfec00000L);
        BadAddressException e = assertThrows(BadAddressException.class,
                () -> ioremap.devMem("ioremap", 0x2000, 4096, false));
        assertTrue(e.getMessage().startsWith("ioremap(0x2000, 4096): ioremap on RAM at 0x2000 - 0x2fff: [mem"
                + " 0x00001000-0x0009fbff] is System RAM in "), e.getMessage());
        assertThrows(BadAddressException.class, () -> ioremap.devMem("ioremap", 0x9f000, 0x2000, false),
                "straddling the end of RAM");
        assertThrows(BadAddressException.class, () -> ioremap.devMem("ioremap_cache", 0x1800000, 4096, true),
                "RAM under Kernel code");
        assertThrows(BadAddressException.class, () -> ioremap.devMem("ioremap", 0xff000, 0x2000, false),
                "reaching into RAM");
        assertTrue(ioremap.areas().isEmpty(), "nothing was mapped");
        Ioremap.Mapping ok = ioremap.devMem("ioremap", 0xa0000, 0x1000, false);
        ioremap.unmap("iounmap", ok);
    }

    @Test
    void anIomemReadWithoutPrivilegeIsNotTrusted() {
        host.iomem("00000000-00000000 : System RAM\n00000000-00000000 : PCI Bus 0000:00\n");
        host.devMem(1 << 20);
        PrivilegeException e = assertThrows(PrivilegeException.class,
                () -> ioremap.devMem("ioremap", 0x2000, 4096, false));
        assertTrue(e.getMessage().contains("without CAP_SYS_ADMIN"), e.getMessage());
    }

    @Test
    void theRealProcIomemRefusesRamBeforeDevMemIsTouched() {
        assertTrue(HostInfo.read().capSysAdmin(), "this test reads the real /proc/iomem as root; run the suite as root");
        IomemFile real = IomemFile.read(Path.of("/proc/iomem"));
        IomemFile.Entry ram = real.systemRam(0, -1L);
        assertNotNull(ram, "the host's /proc/iomem lists System RAM");
        roots(Path.of("/sys"), Path.of("/dev"), Path.of("/proc"));
        long page = ram.start() + 0xfff & -4096L;
        BadAddressException e = assertThrows(BadAddressException.class,
                () -> ioremap.devMem("ioremap", page, 4096, false));
        assertTrue(e.getMessage().contains("is System RAM in /proc/iomem"), e.getMessage());
        long last = real.entries().stream().filter(x -> x.name().equals(IomemFile.SYSTEM_RAM))
                .mapToLong(IomemFile.Entry::end).max().orElseThrow();
        assertThrows(BadAddressException.class, () -> ioremap.devMem("ioremap", last & -4096L, 4096, false),
                "the last page of RAM");
        assertNull(real.systemRam(-4096L, -1L), "the last page of the address space is not RAM");
    }

    @Test
    void uioMapsComeFromSysfsAttributesAndMmapOffsets() {
        Path dev = host.uio(0, new long[] {0xfebd0000L, 0xfebf0010L}, new long[] {0x1000, 0x20}, new long[] {0, 0x10});
        FakeHost.write(dev, 0, new byte[] {0x11, 0x22, 0x33, 0x44});
        FakeHost.write(dev, 4096 + 0x10, new byte[] {0x55, 0x66, 0x77, (byte) 0x88});
        Ioremap.Mapping m0 = ioremap.uio("ioremapUio", 0, 0);
        Ioremap.Mapping m1 = ioremap.uio("ioremapUio", 0, 1);
        assertEquals(0x44332211, readl(m0, 0));
        assertEquals(0x1000, m0.segment().byteSize());
        assertEquals(0xfebd0000L, m0.area().phys());
        assertEquals(0x88776655, readl(m1, 0), "map 1 is at mmap offset 1 * page size, plus its in-page offset");
        assertEquals(0x20, m1.segment().byteSize());
        assertEquals(0xfebf0010L, m1.area().phys());
        assertEquals(0x10, m1.area().addr() - m1.area().start());
        assertEquals("ioremapUio uncached-minus", kind(m1));
        KmemException none = assertThrows(KmemException.class, () -> ioremap.uio("ioremapUio", 0, 2));
        assertTrue(none.getMessage().contains("no such map"), none.getMessage());
        assertThrows(KmemException.class, () -> ioremap.uio("ioremapUio", 3, 0));
        ioremap.unmap("iounmap", m0);
        ioremap.unmap("iounmap", m1);
    }

    @Test
    void aUioMapPastTheEndOfTheDeviceFileIsRefused() {
        Path dev = host.uio(1, new long[] {0xfebd0000L}, new long[] {0x1000}, new long[] {0});
        FakeHost.sparse(dev, 100);
        BadAddressException e = assertThrows(BadAddressException.class, () -> ioremap.uio("ioremapUio", 1, 0));
        assertTrue(e.getMessage().contains("lies past the end of"), e.getMessage());
    }

    @Test
    void closeUnmapsEverything() {
        host.devMem(0xfec00000L);
        Ioremap.Mapping a = ioremap.devMem("ioremap", 0xfebd0000L, 4096, false);
        ioremap.devMem("ioremap", 0xfebd1000L, 4096, false);
        ioremap.close();
        assertTrue(ioremap.areas().isEmpty());
        assertTrue(a.unmapped());
        assertThrows(IllegalStateException.class, () -> readl(a, 0), "the segment died with the mapping");
    }

    @Test
    void parsingIomemKeepsDepthAndRefusesOtherFormats() {
        IomemFile f = IomemFile.parse(Path.of("iomem"), IOMEM.lines().toList());
        assertEquals(9, f.entries().size());
        assertEquals(new IomemFile.Entry(0xfebf0000L, 0xfebf0fffL, "e1000", 2), f.entries().get(8));
        assertEquals(0x100000, f.systemRam(0x1000000, 0x1000fff).start(), "Kernel code lies in System RAM");
        assertThrows(KmemException.class, () -> IomemFile.parse(Path.of("x"), java.util.List.of("hello")));
        assertThrows(KmemException.class, () -> IomemFile.parse(Path.of("x"), java.util.List.of("    0-1 : deep")));
    }
}
