package io.kmem.internal.vfio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.FakeHost;
import io.kmem.error.KmemException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Every way a function can fail to open through VFIO before the first ioctl, on a fake
 * sysfs and /dev: each message names the check and gives the fix.
 */
class VfioPreflightTest {
    private static final String EDU = "0000:00:03.0";
    private static final String NIC = "0000:00:03.1";
    private FakeHost host;
    private Path sys;
    private Path dev;

    @BeforeEach
    void setUp() throws IOException {
        host = new FakeHost();
        sys = host.root().resolve("sys");
        dev = host.root().resolve("dev");
        host.pci(EDU, 0x1234, 0x11e8, new long[][] {{0xfea00000L, 1 << 20, 0x40200}});
        host.pci(NIC, 0x8086, 0x100e, new long[][] {{0xfeb00000L, 1 << 17, 0x40200}});
        Files.createDirectories(sys.resolve("bus/pci/drivers/vfio-pci"));
        Files.createDirectories(sys.resolve("bus/pci/drivers/e1000"));
    }

    @AfterEach
    void tearDown() {
        host.close();
    }

    private void group(int n, String... members) throws IOException {
        Path g = sys.resolve("kernel/iommu_groups/" + n + "/devices");
        Files.createDirectories(g);
        for (String m : members) {
            Path fn = sys.resolve("bus/pci/devices/" + m);
            Files.createSymbolicLink(g.resolve(m), fn);
            Files.createSymbolicLink(fn.resolve("iommu_group"), sys.resolve("kernel/iommu_groups/" + n));
        }
    }

    private void bind(String bdf, String driver) throws IOException {
        Files.createSymbolicLink(sys.resolve("bus/pci/devices/" + bdf + "/driver"),
                sys.resolve("bus/pci/drivers/" + driver));
    }

    private void vfioDev(int... groups) throws IOException {
        Files.createDirectories(dev.resolve("vfio"));
        Files.writeString(dev.resolve("vfio/vfio"), "");
        for (int g : groups) {
            Files.writeString(dev.resolve("vfio/" + g), "");
        }
    }

    private String fails() {
        return assertThrows(KmemException.class, () -> VfioPreflight.check(sys, dev, EDU)).getMessage();
    }

    @Test
    void noIommuAtAll() {
        String m = fails();
        assertTrue(m.contains("no IOMMU/VFIO") && m.contains("intel_iommu=on") && m.contains("physical-address mode"),
                m);
    }

    @Test
    void iommuOnButVfioNotLoaded() throws IOException {
        group(7, EDU);
        String m = fails();
        assertTrue(m.contains("no IOMMU/VFIO") && m.contains("modprobe vfio-pci"), m);
    }

    @Test
    void noSuchFunction() {
        String m = assertThrows(KmemException.class, () -> VfioPreflight.check(sys, dev, "0000:00:09.0")).getMessage();
        assertTrue(m.contains("no PCI function 0000:00:09.0") && m.contains("lspci -D"), m);
    }

    @Test
    void notBoundToVfioPci() throws IOException {
        group(7, EDU);
        vfioDev(7);
        String m = fails();
        assertTrue(m.contains("bound to no driver") && m.contains("driver_override") && m.contains("drivers_probe"), m);
        bind(EDU, "e1000");
        m = fails();
        assertTrue(m.contains("bound to 'e1000'") && m.contains("drivers/e1000/unbind"), m);
    }

    @Test
    void groupNotViable() throws IOException {
        group(7, EDU, NIC);
        vfioDev(7);
        bind(EDU, "vfio-pci");
        bind(NIC, "e1000");
        String m = fails();
        assertTrue(m.contains("IOMMU group 7 is not viable") && m.contains(NIC + " (bound to 'e1000')")
                && m.contains("bind every function of the group to vfio-pci"), m);
    }

    @Test
    void viableGroupGivesItsNumber() throws IOException {
        group(7, EDU, NIC);
        vfioDev(7);
        bind(EDU, "vfio-pci");
        assertEquals(7, VfioPreflight.check(sys, dev, EDU), "an unbound sibling keeps the group viable");
    }

    @Test
    void groupFileMissing() throws IOException {
        group(7, EDU);
        vfioDev();
        bind(EDU, "vfio-pci");
        assertTrue(fails().contains("/dev/vfio/7 does not exist"));
    }
}
