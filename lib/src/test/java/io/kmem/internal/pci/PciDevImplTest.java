package io.kmem.internal.pci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.FakeHost;
import io.kmem.IoMem;
import io.kmem.MemoryPool;
import io.kmem.PciDev;
import io.kmem.error.BadAddressException;
import io.kmem.error.KmemException;
import io.kmem.error.SyscallException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The PCI helpers over a fake sysfs tree: finding functions by id, enable and bus mastering
 * as bits really written to the config file, BARs from the resource file, pci_iomap through
 * resourceN; and finding the host's real functions read-only.
 */
class PciDevImplTest {
    private static final int EDU_VENDOR = 0x1234;
    private static final int EDU_DEVICE = 0x11e8;
    private static final long BAR0 = 0xfea00000L;

    private MemoryPool pool;
    private FakeHost host;
    private Path edu;

    @BeforeEach
    void setUp() {
        pool = MemoryPool.builder().name("pci").smallPages(4L << 20).build();
        host = new FakeHost();
        host.pci("0000:00:02.0", 0x8086, 0x100e, new long[][] {{0xfeb00000L, 0x20000, 0x40200}, {0xc000, 0x40, 0x40101}});
        edu = host.pci("0000:00:04.0", EDU_VENDOR, EDU_DEVICE, new long[][] {{BAR0, 1 << 20, 0x40200}});
        host.pci("0000:00:05.0", EDU_VENDOR, EDU_DEVICE, new long[][] {{0xfe900000L, 1 << 20, 0x42208}});
        pool.ioRoots(host.roots());
    }

    @AfterEach
    void tearDown() {
        pool.close();
        host.close();
    }

    private int command() {
        return ByteBuffer.wrap(FakeHost.read(edu.resolve("config"), 4, 2)).order(ByteOrder.LITTLE_ENDIAN).getShort()
                & 0xffff;
    }

    @Test
    void pciGetDeviceFindsFunctionsByIdInAddressOrder() {
        PciDev first = pool.pci_get_device(EDU_VENDOR, EDU_DEVICE, null);
        assertNotNull(first);
        assertEquals("0000:00:04.0", first.name());
        assertEquals(0x11e8, first.device());
        assertEquals(0x00ff00, first.classCode());
        assertEquals("0000:00:04.0", first.dev().name(), "its DMA device carries its name");
        assertSame(first, pool.pci_get_device(EDU_VENDOR, EDU_DEVICE, null), "one PciDev (and Device) per function");
        PciDev second = pool.pci_get_device(EDU_VENDOR, EDU_DEVICE, first);
        assertEquals("0000:00:05.0", second.name());
        assertNull(pool.pci_get_device(EDU_VENDOR, EDU_DEVICE, second));
        assertEquals("0000:00:02.0", pool.pci_get_device(0x8086, MemoryPool.PCI_ANY_ID, null).name());
        assertEquals("0000:00:02.0", pool.pci_get_device(MemoryPool.PCI_ANY_ID, MemoryPool.PCI_ANY_ID, null).name());
        assertNull(pool.pci_get_device(0x10ec, 0x8139, null));
    }

    @Test
    void barsComeFromTheResourceFile() {
        PciDev nic = pool.pci_get_device(0x8086, 0x100e, null);
        assertEquals(0xfeb00000L, pool.pci_resource_start(nic, 0));
        assertEquals(0x20000, pool.pci_resource_len(nic, 0));
        assertEquals(0xfeb1ffffL, pool.pci_resource_end(nic, 0));
        assertEquals(0x40200, pool.pci_resource_flags(nic, 0));
        assertEquals(0xc000, pool.pci_resource_start(nic, 1));
        assertEquals(0x40, pool.pci_resource_len(nic, 1));
        assertEquals(0, pool.pci_resource_len(nic, 2), "an absent BAR has length 0");
        assertThrows(IllegalArgumentException.class, () -> pool.pci_resource_start(nic, 6));
        BadAddressException io = assertThrows(BadAddressException.class, () -> pool.pci_iomap(nic, 1, 0));
        assertTrue(io.getMessage().contains("a port I/O BAR"), io.getMessage());
        BadAddressException none = assertThrows(BadAddressException.class, () -> pool.pci_iomap(nic, 3, 0));
        assertTrue(none.getMessage().contains("has no such BAR"), none.getMessage());
    }

    @Test
    void enableWritesOneToEnableAndSetsMemorySpaceThenSetMasterSetsBitTwo() {
        PciDev dev = pool.pci_get_device(EDU_VENDOR, EDU_DEVICE, null);
        assertEquals(0, command());
        pool.pci_enable_device(dev);
        assertEquals("1", FakeHost.text(edu.resolve("enable")).strip(), "1 was written to enable");
        assertEquals(0x2, command(), "memory space (bit 1) on for a memory BAR, nothing else");
        pool.pci_set_master(dev);
        assertEquals(0x6, command(), "bus master (bit 2) added");
        assertEquals(0x6, pool.pci_read_config_word(dev, 4));
        assertEquals(EDU_VENDOR | EDU_DEVICE << 16, pool.pci_read_config_dword(dev, 0));
        assertEquals(0x34, pool.pci_read_config_byte(dev, 0));
        pool.pci_write_config_word(dev, 4, 0x0406);
        pool.pci_clear_master(dev);
        assertEquals(0x0402, command(), "clear_master clears bit 2 only");
        pool.pci_set_master(dev);
        pool.pci_disable_device(dev);
        assertEquals(0x0402, command());
        assertEquals("0", FakeHost.text(edu.resolve("enable")).strip());
        assertThrows(IllegalArgumentException.class, () -> pool.pci_read_config_word(dev, 3), "unaligned");
        PciDev nic = pool.pci_get_device(0x8086, 0x100e, null);
        pool.pci_enable_device(nic);
        assertEquals(0x3, pool.pci_read_config_word(nic, 4), "a function with memory and port BARs decodes both");
    }

    /**
     * A function bound to a driver (uio_pci_generic, vfio-pci) was enabled by that driver, and
     * sysfs refuses writes to {@code enable} then (EBUSY): enable and disable leave it alone
     * and only set and clear command bits. The fake's {@code enable} is made unwritable (a
     * directory), so a write would throw, as the kernel's EBUSY does.
     */
    @Test
    void aFunctionBoundToADriverIsEnabledThroughItsCommandRegisterOnly() throws Exception {
        PciDev dev = pool.pci_get_device(EDU_VENDOR, EDU_DEVICE, null);
        Path driver = host.root().resolve("drivers").resolve("uio_pci_generic");
        Files.createDirectories(driver);
        Files.createSymbolicLink(edu.resolve("driver"), driver);
        Files.delete(edu.resolve("enable"));
        Files.createDirectory(edu.resolve("enable"));
        pool.pci_enable_device(dev);
        pool.pci_set_master(dev);
        assertEquals(0x6, command(), "memory space and bus master set through config");
        pool.pci_disable_device(dev);
        assertEquals(0x2, command(), "bus master cleared; the bound driver keeps the function enabled");
        Files.delete(edu.resolve("driver"));
        SyscallException e = assertThrows(SyscallException.class, () -> pool.pci_enable_device(dev),
                "with no driver bound, enable is written again");
        assertTrue(e.getMessage().contains("enable"), e.getMessage());
    }

    @Test
    void aConfigFileThatRefusesTheWriteThrowsWithErrno() throws Exception {
        PciDev dev = pool.pci_get_device(EDU_VENDOR, EDU_DEVICE, null);
        Files.delete(edu.resolve("config"));
        Files.createDirectory(edu.resolve("config"));
        SyscallException e = assertThrows(SyscallException.class, () -> pool.pci_set_master(dev));
        assertEquals("EISDIR", e.errnoName(), e.getMessage());
        assertTrue(e.getMessage().contains(edu.resolve("config").toString()), e.getMessage());
    }

    @Test
    void pciIomapMapsResourceN() {
        PciDev dev = pool.pci_get_device(EDU_VENDOR, EDU_DEVICE, null);
        FakeHost.write(edu.resolve("resource0"), 0, new byte[] {(byte) 0xed, 0, 0, 1});
        IoMem bar = pool.pci_iomap(dev, 0, 0);
        assertEquals(1 << 20, bar.size());
        assertEquals(BAR0, bar.phys());
        assertEquals("pci_iomap uncached-minus", bar.kind());
        assertEquals(0x010000ed, bar.readl(0));
        bar.writel(0x12345678, 0x80);
        assertEquals(0x78, FakeHost.read(edu.resolve("resource0"), 0x80, 1)[0]);
        IoMem part = pool.pci_iomap_range(dev, 0, 0x80, 0x100);
        assertEquals(BAR0 + 0x80, part.phys());
        assertEquals(0x12345678, part.readl(0));
        assertEquals(0x100, part.size());
        IoMem small = pool.pci_iomap(dev, 0, 4096);
        assertEquals(4096, small.size(), "maxlen bounds the mapping");
        IoMem wc = pool.pci_iomap_wc(dev, 0, 4096);
        assertEquals("pci_iomap_wc uncached-minus", wc.kind(), "no resource0_wc: the mapping says uncached");
        for (IoMem io : List.of(bar, part, small, wc)) {
            pool.pci_iounmap(dev, io);
        }
        assertThrows(BadAddressException.class, () -> pool.pci_iomap_range(dev, 0, 1 << 20, 0));
    }

    @Test
    void pciIomapWcUsesResourceNWcWhereSysfsHasIt() {
        Path pref = host.root().resolve("sys/bus/pci/devices/0000:00:05.0");
        FakeHost.sparse(pref.resolve("resource0_wc"), 1 << 20);
        FakeHost.write(pref.resolve("resource0_wc"), 8, new byte[] {1, 2});
        PciDev dev = pool.pci_get_device(EDU_VENDOR, EDU_DEVICE, pool.pci_get_device(EDU_VENDOR, EDU_DEVICE, null));
        IoMem wc = pool.pci_iomap_wc(dev, 0, 0);
        assertEquals("pci_iomap_wc write-combining", wc.kind());
        assertEquals(0x0201, wc.readw(8));
        pool.iounmap(wc);
    }

    @Test
    void aMissingResourceFileIsNamed() {
        KmemException e = assertThrows(KmemException.class, () -> PciDevImpl.read(host.root().resolve("sys/nothing")));
        assertTrue(e.getMessage().contains("sys/nothing/resource"), e.getMessage());
    }

    @Test
    void theHostsRealFunctionsAreFoundReadOnly() throws Exception {
        Path devices = Path.of("/sys/bus/pci/devices");
        List<Path> real;
        try (var s = Files.list(devices)) {
            real = s.sorted().toList();
        }
        assertTrue(!real.isEmpty(), "this host shows PCI functions in " + devices);
        pool.ioRoots(io.kmem.IoRoots.HOST);
        for (Path d : real) {
            int vendor = Integer.decode(Files.readString(d.resolve("vendor")).strip());
            int device = Integer.decode(Files.readString(d.resolve("device")).strip());
            PciDev found = pool.pci_get_device(vendor, device, null);
            assertNotNull(found, d.toString());
            assertEquals(vendor, found.vendor());
            String first = Files.readString(d.resolve("resource")).lines().findFirst().orElseThrow();
            PciDev self = found;
            while (!self.name().equals(d.getFileName().toString())) {
                self = pool.pci_get_device(vendor, device, self);
                assertNotNull(self, "iterating with from reaches " + d);
            }
            assertEquals(Long.decode(first.split(" ")[0]), pool.pci_resource_start(self, 0));
        }
    }
}
