package io.kmem.internal.vfio;

import io.kmem.internal.dma.DeviceImpl;
import io.kmem.internal.phys.FramePool;
import java.nio.file.Path;

/**
 * A PCI function opened through VFIO, whole: its container (group and IOMMU), its device
 * descriptor, and the IOMMU domain that maps the pool for it. {@link #open} runs
 * {@link VfioPreflight} first, so each missing prerequisite is named with its fix.
 *
 * <p>What a user needs: read-write access to {@code /dev/vfio/N}, RLIMIT_MEMLOCK above the
 * pool's size or CAP_IPC_LOCK, and a one-time bind of the function to vfio-pci. No pagemap and
 * no CAP_SYS_ADMIN: the device never sees a physical address.
 */
public record VfioPci(VfioContainer container, VfioDevice device, IommuDomain domain, VfioIrqs irqs)
        implements AutoCloseable {

    /** Opens {@code bdf} through VFIO and puts {@code dev} behind a domain mapping {@code phys}. */
    public static VfioPci open(Path sys, Path dev, String bdf, FramePool phys, DeviceImpl dmaDev,
                               io.kmem.internal.irq.IrqTable irqTable, boolean perCall) {
        int group = VfioPreflight.check(sys, dev, bdf);
        VfioContainer c = VfioContainer.open(dev, group, bdf);
        try {
            VfioDevice d = VfioDevice.open(c, bdf);
            IommuDomain domain = new IommuDomain(phys, c, dmaDev, perCall);
            dmaDev.translation(domain);
            return new VfioPci(c, d, domain, new VfioIrqs(d, irqTable));
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
    }

    /** Tears the domain down (the device faults on every IOVA), closes the device and the container. */
    @Override
    public void close() {
        try {
            domain.close();
        } finally {
            device.close();
            container.close();
        }
    }
}
