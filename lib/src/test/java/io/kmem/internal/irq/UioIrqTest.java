package io.kmem.internal.irq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.error.KmemException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Finding a function's UIO device in a fake sysfs: a function bound elsewhere (or nowhere) is
 * refused with the fix; a bound one names its /dev/uioN. The interrupts themselves are proven
 * in the guest (tools/vm-test: edu on uio_pci_generic).
 */
class UioIrqTest {
    @TempDir
    Path root;

    @Test
    void aFunctionWithoutUioIsRefusedWithTheFix() throws Exception {
        Path dir = Files.createDirectories(root.resolve("sys/bus/pci/devices/0000:00:04.0"));
        Files.createDirectories(root.resolve("sys/bus/pci/drivers/e1000"));
        Files.createSymbolicLink(dir.resolve("driver"), root.resolve("sys/bus/pci/drivers/e1000"));
        KmemException e = assertThrows(KmemException.class,
                () -> UioIrq.find("pci_alloc_irq_vectors", dir, "0000:00:04.0", root.resolve("dev")));
        String m = e.getMessage();
        assertTrue(m.startsWith("pci_alloc_irq_vectors(0000:00:04.0): no interrupt source") && m.contains("bound to"
                + " e1000") && m.contains("echo uio_pci_generic > " + dir.resolve("driver_override"))
                && m.contains("vfio_open"), m);
    }

    @Test
    void aBoundFunctionNamesItsUioDevice() throws Exception {
        Path dir = Files.createDirectories(root.resolve("sys/bus/pci/devices/0000:00:04.0"));
        Files.createDirectories(dir.resolve("uio/uio3"));
        UioIrq u = UioIrq.find("pci_alloc_irq_vectors", dir, "0000:00:04.0", root.resolve("dev"));
        assertEquals("UIO-INTx", u.type());
        assertEquals("0000:00:04.0 " + root.resolve("dev/uio3"), u.toString());
    }
}
