package io.kmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * pci_get_class, the capability walks and pci_intx over a fake sysfs whose {@code config}
 * files hold capability lists as a device lays them out: through the same config accessors
 * as pci_read_config_*, so any backend of those serves them.
 */
class PciCapabilityTest {
    private FakeHost host;
    private MemoryPool pool;
    private Path nic;
    private Path edu;

    @BeforeEach
    void setUp() {
        host = new FakeHost();
        nic = host.pci("0000:00:02.0", 0x1af4, 0x1041, new long[][] {{0xfe000000L, 0x4000, 0x40200}});
        edu = host.pci("0000:00:04.0", 0x1234, 0x11e8, new long[][] {{0xfea00000L, 1 << 20, 0x40200}});
        host.pci("0000:00:05.0", 0x8086, 0x100e, new long[][] {{0xfeb00000L, 0x20000, 0x40200}});
        FakeHost.write(nic.resolve("class"), 0, "0x020000\n".getBytes());
        FakeHost.write(host.root().resolve("sys/bus/pci/devices/0000:00:05.0/class"), 0, "0x020000\n".getBytes());
        pool = MemoryPool.builder().name("pcicap").smallPages(4L << 20).build().ioRoots(host.roots());
    }

    @AfterEach
    void tearDown() {
        pool.close();
        host.close();
    }

    /** A 4 KiB config space: MSI at 0x40, two vendor capabilities, PCI Express; AER, two vendor extended ones. */
    private static void pcieConfig(Path dev) {
        ByteBuffer c = ByteBuffer.allocate(4096).order(ByteOrder.LITTLE_ENDIAN);
        c.putShort(0, (short) 0x1af4).putShort(2, (short) 0x1041);
        c.putShort(PciApi.PCI_STATUS, (short) PciApi.PCI_STATUS_CAP_LIST);
        c.put(PciApi.PCI_CAPABILITY_LIST, (byte) 0x42); // the low two bits are reserved: masked off
        cap(c, 0x40, PciApi.PCI_CAP_ID_MSI, 0x50);
        cap(c, 0x50, PciApi.PCI_CAP_ID_VNDR, 0x64);
        cap(c, 0x64, PciApi.PCI_CAP_ID_VNDR, 0x70);
        cap(c, 0x70, PciApi.PCI_CAP_ID_EXP, 0);
        c.putInt(0x100, PciApi.PCI_EXT_CAP_ID_ERR | 1 << 16 | 0x140 << 20);
        c.putInt(0x140, PciApi.PCI_EXT_CAP_ID_VNDR | 1 << 16 | 0x180 << 20);
        c.putInt(0x180, PciApi.PCI_EXT_CAP_ID_VNDR | 1 << 16);
        FakeHost.write(dev.resolve("config"), 0, c.array());
    }

    private static void cap(ByteBuffer c, int at, int id, int next) {
        c.put(at, (byte) id).put(at + 1, (byte) next);
    }

    @Test
    void pciGetClassWalksTheFunctionsOfOneClassInAddressOrder() {
        PciDev first = pool.pci_get_class(0x020000, null);
        assertEquals("0000:00:02.0", first.name());
        PciDev second = pool.pci_get_class(0x020000, first);
        assertEquals("0000:00:05.0", second.name());
        assertNull(pool.pci_get_class(0x020000, second));
        assertSame(first, pool.pci_get_device(0x1af4, 0x1041, null), "one PciDev per function");
        assertEquals("0000:00:04.0", pool.pci_get_class(0x00ff00, null).name());
        assertNull(pool.pci_get_class(0x010802, null));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> pool.pci_get_class(0x1000000, null));
        assertTrue(e.getMessage().startsWith("pci_get_class(0x1000000)"), e.getMessage());
    }

    @Test
    void capabilitiesAreFoundByWalkingTheList() {
        pcieConfig(nic);
        PciDev d = pool.pci_get_device(0x1af4, 0x1041, null);
        assertEquals(0x40, pool.pci_find_capability(d, PciApi.PCI_CAP_ID_MSI));
        assertEquals(0x70, pool.pci_find_capability(d, PciApi.PCI_CAP_ID_EXP));
        int v = pool.pci_find_capability(d, PciApi.PCI_CAP_ID_VNDR);
        assertEquals(0x50, v);
        assertEquals(0x64, pool.pci_find_next_capability(d, v, PciApi.PCI_CAP_ID_VNDR), "virtio's second structure");
        assertEquals(0, pool.pci_find_next_capability(d, 0x64, PciApi.PCI_CAP_ID_VNDR));
        assertEquals(0, pool.pci_find_capability(d, PciApi.PCI_CAP_ID_MSIX));
        assertEquals(0x100, pool.pci_find_ext_capability(d, PciApi.PCI_EXT_CAP_ID_ERR));
        int e = pool.pci_find_ext_capability(d, PciApi.PCI_EXT_CAP_ID_VNDR);
        assertEquals(0x140, e);
        assertEquals(0x180, pool.pci_find_next_ext_capability(d, e, PciApi.PCI_EXT_CAP_ID_VNDR));
        assertEquals(0, pool.pci_find_next_ext_capability(d, 0x180, PciApi.PCI_EXT_CAP_ID_VNDR));
        assertEquals(0, pool.pci_find_ext_capability(d, PciApi.PCI_EXT_CAP_ID_SRIOV));
    }

    @Test
    void noListNoCapabilityAndALoopingListEnds() {
        PciDev d = pool.pci_get_device(0x1234, 0x11e8, null);
        FakeHost.write(edu.resolve("config"), PciApi.PCI_CAPABILITY_LIST, new byte[] {0x40});
        FakeHost.write(edu.resolve("config"), 0x40, new byte[] {PciApi.PCI_CAP_ID_MSI, 0x40});
        assertEquals(0, pool.pci_find_capability(d, PciApi.PCI_CAP_ID_MSI), "PCI_STATUS_CAP_LIST clear: no list");
        FakeHost.write(edu.resolve("config"), PciApi.PCI_STATUS, new byte[] {PciApi.PCI_STATUS_CAP_LIST, 0});
        assertEquals(0x40, pool.pci_find_capability(d, PciApi.PCI_CAP_ID_MSI));
        assertEquals(0, pool.pci_find_capability(d, PciApi.PCI_CAP_ID_EXP), "a list that points at itself ends");
        assertEquals(0, pool.pci_find_ext_capability(d, PciApi.PCI_EXT_CAP_ID_ERR), "256-byte config: not PCIe");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> pool.pci_find_capability(d, 0x100));
        assertTrue(e.getMessage().startsWith("pci_find_capability(0000:00:04.0, cap 0x100)"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> pool.pci_find_next_capability(d, 0x20, 5));
        assertTrue(e.getMessage().startsWith("pci_find_next_capability(0000:00:04.0, 0x20)"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> pool.pci_find_next_ext_capability(d, 0x80, 1));
        assertTrue(e.getMessage().startsWith("pci_find_next_ext_capability(0000:00:04.0, 0x80)"), e.getMessage());
        assertThrows(NullPointerException.class, () -> pool.pci_find_capability(null, 5));
    }

    @Test
    void pciIntxTogglesTheDisableBitAndLeavesTheOthers() {
        PciDev d = pool.pci_get_device(0x1234, 0x11e8, null);
        FakeHost.write(edu.resolve("config"), PciApi.PCI_COMMAND, new byte[] {PciApi.PCI_COMMAND_MEMORY
                | PciApi.PCI_COMMAND_MASTER, 0});
        pool.pci_intx(d, false);
        assertEquals(PciApi.PCI_COMMAND_INTX_DISABLE | PciApi.PCI_COMMAND_MEMORY | PciApi.PCI_COMMAND_MASTER,
                pool.pci_read_config_word(d, PciApi.PCI_COMMAND));
        assertEquals(0x04, FakeHost.read(edu.resolve("config"), PciApi.PCI_COMMAND + 1, 1)[0], "0x400 in the file");
        pool.pci_intx(d, true);
        assertEquals(PciApi.PCI_COMMAND_MEMORY | PciApi.PCI_COMMAND_MASTER, pool.pci_read_config_word(d,
                PciApi.PCI_COMMAND));
    }
}
