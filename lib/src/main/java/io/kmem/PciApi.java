package io.kmem;

import io.kmem.error.BadAddressException;
import io.kmem.error.SyscallException;

/**
 * PCI functions, as {@code <linux/pci.h>} declares them, over sysfs.
 *
 * <p>A {@link PciDev} is found with {@link #pci_get_device}; its BARs are mapped with
 * {@link #pci_iomap} (an {@link IoMem}); its configuration space is read and written
 * with {@code pci_read_config_*} and {@code pci_write_config_*}. {@link PciDev#dev()} is
 * its DMA side.
 *
 * <p>{@link MemoryPool} implements this contract; thread safety and the rules for arguments
 * are MemoryPool's.
 */
public interface PciApi {

    /** {@code PCI_ANY_ID}: matches any vendor or device id in {@link #pci_get_device}. */
    int PCI_ANY_ID = -1;

    /**
     * {@code pci_get_device}: the next PCI function after {@code from} (null: the first) with
     * this vendor and device id ({@link #PCI_ANY_ID} matches any), in address order, or null.
     */
    PciDev pci_get_device(int vendor, int device, PciDev from);

    /**
     * {@code pci_enable_device}: writes 1 to the function's sysfs {@code enable} (the kernel
     * then enables it), then makes sure the command register decodes its BARs (memory space,
     * bit 1, for memory BARs; I/O space, bit 0, for port BARs), as {@code pci_enable_resources}
     * does.
     *
     * @throws SyscallException when a file does not take the write (EBUSY: a
     *         kernel driver is bound to the device)
     */
    void pci_enable_device(PciDev dev);

    /** {@code pci_disable_device}: clears bus mastering and writes 0 to {@code enable}. */
    void pci_disable_device(PciDev dev);

    /** {@code pci_set_master}: sets bus mastering (bit 2 of the command register) so the device can DMA. */
    void pci_set_master(PciDev dev);

    /** {@code pci_clear_master}: clears bus mastering. */
    void pci_clear_master(PciDev dev);

    /** {@code pci_resource_start}: the physical address of BAR {@code bar} (0 when absent). */
    long pci_resource_start(PciDev dev, int bar);

    /** {@code pci_resource_end}: the last address of BAR {@code bar}. */
    long pci_resource_end(PciDev dev, int bar);

    /** {@code pci_resource_len}: the size of BAR {@code bar} in bytes (0 when absent). */
    long pci_resource_len(PciDev dev, int bar);

    /** {@code pci_resource_flags}: {@code IORESOURCE_*} bits of BAR {@code bar} (0x200 memory, 0x100 I/O, 0x2000 prefetchable). */
    long pci_resource_flags(PciDev dev, int bar);

    /** {@code pci_read_config_byte}: a byte of configuration space. */
    int pci_read_config_byte(PciDev dev, int where);

    /** {@code pci_read_config_word}: a little-endian 16-bit word of configuration space. */
    int pci_read_config_word(PciDev dev, int where);

    /** {@code pci_read_config_dword}: a little-endian 32-bit word of configuration space. */
    int pci_read_config_dword(PciDev dev, int where);

    /** {@code pci_write_config_byte}. */
    void pci_write_config_byte(PciDev dev, int where, int val);

    /** {@code pci_write_config_word}. */
    void pci_write_config_word(PciDev dev, int where, int val);

    /** {@code pci_write_config_dword}. */
    void pci_write_config_dword(PciDev dev, int where, int val);

    /**
     * {@code pci_iomap}: maps memory BAR {@code bar} through its sysfs {@code resourceN}
     * (uncached), at most {@code maxlen} bytes of it (0: all).
     *
     * @throws BadAddressException for a BAR the function does not have, or a port I/O BAR
     */
    IoMem pci_iomap(PciDev dev, int bar, long maxlen);

    /**
     * {@code pci_iomap_wc}: as {@link #pci_iomap}, write-combining through {@code resourceN_wc}
     * (sysfs offers it for prefetchable BARs; for others the mapping is uncached, and says so).
     */
    IoMem pci_iomap_wc(PciDev dev, int bar, long maxlen);

    /** {@code pci_iomap_range}: {@code maxlen} bytes (0: the rest) from {@code offset} in BAR {@code bar}. */
    IoMem pci_iomap_range(PciDev dev, int bar, long offset, long maxlen);

    /** {@code pci_iounmap}: {@link IoApi#iounmap(IoMem)}. */
    void pci_iounmap(PciDev dev, IoMem io);
}
