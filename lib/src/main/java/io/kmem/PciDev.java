package io.kmem;

import io.kmem.internal.pci.PciDevImpl;

/**
 * A PCI function found by {@link MemoryPool#pci_get_device}: the kernel's
 * {@code struct pci_dev *}, read from sysfs. Its DMA side is {@link #dev()}.
 */
public final class PciDev {
    final PciDevImpl impl;
    private final Device dev;
    /** Set while the function is open through VFIO ({@link MemoryPool#vfio_open}), else null. */
    volatile io.kmem.internal.vfio.VfioPci vfio;
    /** Set while the function's UIO interrupt is allocated (pci_alloc_irq_vectors without VFIO), else null. */
    volatile io.kmem.internal.irq.UioIrq uio;

    PciDev(PciDevImpl impl) {
        this.impl = impl;
        this.dev = new Device(impl.name());
    }

    /**
     * {@code pci_name}: the function's address, "0000:00:04.0".
     *
     * @return domain, bus, device and function, as sysfs names the function
     */
    public String name() {
        return impl.name();
    }

    /**
     * {@code pdev->vendor}.
     *
     * @return the PCI vendor id, 0 to 0xffff
     */
    public int vendor() {
        return impl.vendor();
    }

    /**
     * {@code pdev->device}.
     *
     * @return the PCI device id, 0 to 0xffff
     */
    public int device() {
        return impl.device();
    }

    /**
     * {@code pdev->class}: class, subclass, programming interface.
     *
     * @return the 24-bit class code (0 when sysfs shows none)
     */
    public int classCode() {
        return impl.classCode();
    }

    /**
     * {@code &pdev->dev}: the device the DMA API takes.
     *
     * @return the function's one {@link Device}, named as the function
     */
    public Device dev() {
        return dev;
    }

    @Override
    public String toString() {
        io.kmem.internal.vfio.VfioPci v = vfio;
        return v == null ? impl.toString() : impl + ", " + v.domain();
    }
}
