package io.kmem;

import io.kmem.error.BadAddressException;
import io.kmem.error.KmemException;
import io.kmem.error.SyscallException;

/**
 * PCI functions, as {@code <linux/pci.h>} declares them, over sysfs.
 *
 * <p>A {@link PciDev} is found with {@link #pci_get_device}; its BARs are mapped with
 * {@link #pci_iomap} (an {@link IoMem}); its configuration space is read and written
 * with {@code pci_read_config_*} and {@code pci_write_config_*}. {@link PciDev#dev()} is
 * its DMA side.
 *
 * <p>A function bound to {@code vfio-pci} is opened with {@link #vfio_open} instead: the same
 * handle, with BARs and configuration space reached through the VFIO device and DMA addresses
 * that are I/O virtual addresses in the function's IOMMU domain (README, "IOVA mode: VFIO and
 * interrupts"). Interrupt vectors come from {@link #pci_alloc_irq_vectors} (VFIO: MSI-X, MSI or
 * INTx; a function bound to {@code uio_pci_generic}: INTx) and are handed to
 * {@link IrqApi#request_irq}.
 *
 * <p>{@link MemoryPool} implements this contract; thread safety and the rules for arguments
 * are MemoryPool's.
 */
public interface PciApi {

    /** {@code PCI_ANY_ID}: matches any vendor or device id in {@link #pci_get_device}. */
    int PCI_ANY_ID = -1;
    /** {@code PCI_IRQ_INTX} (formerly {@code PCI_IRQ_LEGACY}): the function's INTx line, one vector. */
    int PCI_IRQ_INTX = 1;
    /** {@code PCI_IRQ_MSI}: MSI vectors. */
    int PCI_IRQ_MSI = 2;
    /** {@code PCI_IRQ_MSIX}: MSI-X vectors. */
    int PCI_IRQ_MSIX = 4;
    /** {@code PCI_IRQ_ALL_TYPES}: MSI-X, MSI or INTx, the first the function offers. */
    int PCI_IRQ_ALL_TYPES = PCI_IRQ_INTX | PCI_IRQ_MSI | PCI_IRQ_MSIX;

    /**
     * Opens the PCI function {@code bdf} through VFIO: its IOMMU group goes into a new type1 v2
     * container, and the returned {@link PciDev} works with the rest of the API as any other,
     * with these differences: its BARs map through the VFIO device ({@link #pci_iomap}),
     * configuration space goes through VFIO's config region, and its {@link PciDev#dev()
     * Device}'s DMA addresses are I/O virtual addresses (IOVAs) that kmem chooses below the
     * device's DMA mask (set the mask before the first mapping). The pool's memory is mapped into
     * the device's IOMMU domain; the device reaches nothing else.
     *
     * <p>Needs the function bound to {@code vfio-pci} (once, as root), read-write access to
     * {@code /dev/vfio/N}, and RLIMIT_MEMLOCK above the pool's size or CAP_IPC_LOCK; not
     * pagemap or CAP_SYS_ADMIN.
     *
     * @param bdf the function's address as sysfs names it, "0000:00:03.0"
     * @return the function, open through VFIO until {@link #vfio_close} or the pool's close
     * @throws KmemException naming what is missing and the fix: no IOMMU or VFIO, no such
     *         function, a function not bound to vfio-pci, a group that is not viable (another
     *         device of the group bound to a host driver), no access to the group file, an IOMMU
     *         without interrupt remapping, or a function already open
     * @throws SyscallException when a VFIO call fails (named, with errno and a hint)
     */
    PciDev vfio_open(String bdf);

    /**
     * Closes what {@link #vfio_open} opened: the device's IOMMU mappings are torn down (a DMA to
     * any IOVA faults afterwards), its descriptors closed, its {@link Device} back to physical
     * addresses. {@link #pci_iounmap} its BARs first: a live BAR mapping keeps the device file
     * open.
     *
     * @param dev a function {@link #vfio_open} returned
     * @throws KmemException for a function not open through VFIO
     */
    void vfio_close(PciDev dev);

    /**
     * {@code pci_alloc_irq_vectors}: between {@code min} and {@code max} interrupt vectors of the
     * first kind {@code flags} allow that the function offers, tried as the kernel tries them:
     * MSI-X, then MSI, then INTx (one vector). A function open through VFIO offers what
     * {@code VFIO_DEVICE_GET_IRQ_INFO} reports; a function bound to {@code uio_pci_generic}
     * offers INTx only.
     *
     * @param dev   the function
     * @param min   the fewest vectors the driver can work with, at least 1
     * @param max   the most it wants, at least {@code min}
     * @param flags {@link #PCI_IRQ_MSIX}, {@link #PCI_IRQ_MSI}, {@link #PCI_IRQ_INTX}, or'ed
     * @return the number of vectors allocated, or {@code -ENOSPC} when no allowed kind has
     *         {@code min}
     * @throws IllegalArgumentException for {@code min < 1}, {@code max < min} or unknown flags
     * @throws KmemException for a function neither open through VFIO nor bound to
     *         uio_pci_generic (the message says how to bind it), or vectors allocated already
     */
    int pci_alloc_irq_vectors(PciDev dev, int min, int max, int flags);

    /**
     * {@code pci_irq_vector}: the irq number of vector {@code nr}, for
     * {@link IrqApi#request_irq}.
     *
     * @param dev the function
     * @param nr  the vector, from 0
     * @return the irq number, or {@code -EINVAL} for a vector not allocated
     */
    int pci_irq_vector(PciDev dev, int nr);

    /**
     * {@code pci_free_irq_vectors}: gives the vectors back; each one's line must be freed
     * ({@link IrqApi#free_irq}) first.
     *
     * @param dev the function
     * @throws KmemException when a vector still has a handler
     */
    void pci_free_irq_vectors(PciDev dev);

    /**
     * {@code pci_get_device}: the next PCI function after {@code from} (null: the first) with
     * this vendor and device id ({@link #PCI_ANY_ID} matches any), in address order, or null.
     * Each call reads sysfs again; a function found twice is the same {@code PciDev}.
     *
     * @param vendor the PCI vendor id, or {@link #PCI_ANY_ID}
     * @param device the PCI device id, or {@link #PCI_ANY_ID}
     * @param from   the function to search after, or null to search from the first
     * @return the next matching function, or null when there is none (or no sysfs PCI tree)
     */
    PciDev pci_get_device(int vendor, int device, PciDev from);

    /**
     * {@code pci_enable_device}: writes 1 to the function's sysfs {@code enable} (the kernel
     * then enables it), then makes sure the command register decodes its BARs (memory space,
     * bit 1, for memory BARs; I/O space, bit 0, for port BARs), as {@code pci_enable_resources}
     * does.
     *
     * @param dev the PCI function
     * @throws SyscallException when a file does not take the write (EBUSY: a
     *         kernel driver is bound to the device)
     */
    void pci_enable_device(PciDev dev);

    /**
     * {@code pci_disable_device}: clears bus mastering and writes 0 to {@code enable}.
     *
     * @param dev the PCI function
     * @throws SyscallException when {@code config} or {@code enable} does not take the write
     */
    void pci_disable_device(PciDev dev);

    /**
     * {@code pci_set_master}: sets bus mastering (bit 2 of the command register) so the device can DMA.
     *
     * @param dev the PCI function
     * @throws SyscallException when {@code config} does not take the write (not root)
     */
    void pci_set_master(PciDev dev);

    /**
     * {@code pci_clear_master}: clears bus mastering.
     *
     * @param dev the PCI function
     * @throws SyscallException when {@code config} does not take the write (not root)
     */
    void pci_clear_master(PciDev dev);

    /**
     * {@code pci_resource_start}: the physical address of BAR {@code bar} (0 when absent).
     *
     * @param dev the PCI function
     * @param bar the BAR number, 0 to 5
     * @return the BAR's first physical address (or port), 0 when the function has no such BAR
     * @throws IllegalArgumentException for a BAR number outside 0 to 5
     */
    long pci_resource_start(PciDev dev, int bar);

    /**
     * {@code pci_resource_end}: the last address of BAR {@code bar}.
     *
     * @param dev the PCI function
     * @param bar the BAR number, 0 to 5
     * @return the BAR's last address (inclusive), 0 when the function has no such BAR
     * @throws IllegalArgumentException for a BAR number outside 0 to 5
     */
    long pci_resource_end(PciDev dev, int bar);

    /**
     * {@code pci_resource_len}: the size of BAR {@code bar} in bytes (0 when absent).
     *
     * @param dev the PCI function
     * @param bar the BAR number, 0 to 5
     * @return the BAR's size in bytes (or ports), 0 when the function has no such BAR
     * @throws IllegalArgumentException for a BAR number outside 0 to 5
     */
    long pci_resource_len(PciDev dev, int bar);

    /**
     * {@code pci_resource_flags}: {@code IORESOURCE_*} bits of BAR {@code bar} (0x200 memory, 0x100 I/O, 0x2000 prefetchable).
     *
     * @param dev the PCI function
     * @param bar the BAR number, 0 to 5
     * @return the flags as sysfs {@code resource} shows them, 0 when the function has no such BAR
     * @throws IllegalArgumentException for a BAR number outside 0 to 5
     */
    long pci_resource_flags(PciDev dev, int bar);

    /**
     * {@code pci_read_config_byte}: a byte of configuration space.
     *
     * @param dev   the PCI function
     * @param where the offset in configuration space, 0 to 4095
     * @return the byte, 0 to 255
     * @throws IllegalArgumentException for an offset outside configuration space
     * @throws KmemException when sysfs shows less of it (past 64 bytes needs root)
     */
    int pci_read_config_byte(PciDev dev, int where);

    /**
     * {@code pci_read_config_word}: a little-endian 16-bit word of configuration space.
     *
     * @param dev   the PCI function
     * @param where the offset in configuration space, even, 0 to 4094
     * @return the word, 0 to 65535
     * @throws IllegalArgumentException for an odd offset or one outside configuration space
     * @throws KmemException when sysfs shows less of it (past 64 bytes needs root)
     */
    int pci_read_config_word(PciDev dev, int where);

    /**
     * {@code pci_read_config_dword}: a little-endian 32-bit word of configuration space.
     *
     * @param dev   the PCI function
     * @param where the offset in configuration space, a multiple of 4, 0 to 4092
     * @return the 32 bits (as a signed {@code int})
     * @throws IllegalArgumentException for an unaligned offset or one outside configuration space
     * @throws KmemException when sysfs shows less of it (past 64 bytes needs root)
     */
    int pci_read_config_dword(PciDev dev, int where);

    /**
     * {@code pci_write_config_byte}: writes a byte of configuration space.
     *
     * @param dev   the PCI function
     * @param where the offset in configuration space, 0 to 4095
     * @param val   the value; its low 8 bits are written
     * @throws IllegalArgumentException for an offset outside configuration space
     * @throws SyscallException when {@code config} does not take the write (not root)
     */
    void pci_write_config_byte(PciDev dev, int where, int val);

    /**
     * {@code pci_write_config_word}: writes a little-endian 16-bit word of configuration space.
     *
     * @param dev   the PCI function
     * @param where the offset in configuration space, even, 0 to 4094
     * @param val   the value; its low 16 bits are written
     * @throws IllegalArgumentException for an odd offset or one outside configuration space
     * @throws SyscallException when {@code config} does not take the write (not root)
     */
    void pci_write_config_word(PciDev dev, int where, int val);

    /**
     * {@code pci_write_config_dword}: writes a little-endian 32-bit word of configuration space.
     *
     * @param dev   the PCI function
     * @param where the offset in configuration space, a multiple of 4, 0 to 4092
     * @param val   the value
     * @throws IllegalArgumentException for an unaligned offset or one outside configuration space
     * @throws SyscallException when {@code config} does not take the write (not root)
     */
    void pci_write_config_dword(PciDev dev, int where, int val);

    /**
     * {@code pci_iomap}: maps memory BAR {@code bar} through its sysfs {@code resourceN}
     * (uncached), at most {@code maxlen} bytes of it (0: all).
     *
     * @param dev    the PCI function
     * @param bar    the BAR number, 0 to 5
     * @param maxlen the most bytes to map, 0 for the whole BAR
     * @return the mapping
     * @throws BadAddressException for a BAR the function does not have, or a port I/O BAR
     * @throws SyscallException when sysfs refuses the mapping (not root, or a kernel driver holds
     *         the BAR: the message says which and how to unbind it)
     */
    IoMem pci_iomap(PciDev dev, int bar, long maxlen);

    /**
     * {@code pci_iomap_wc}: as {@link #pci_iomap}, write-combining through {@code resourceN_wc}
     * (sysfs offers it for prefetchable BARs; for others the mapping is uncached, and says so).
     *
     * @param dev    the PCI function
     * @param bar    the BAR number, 0 to 5
     * @param maxlen the most bytes to map, 0 for the whole BAR
     * @return the mapping ({@link IoMem#kind()} tells its memory type)
     * @throws BadAddressException for a BAR the function does not have, or a port I/O BAR
     * @throws SyscallException when sysfs refuses the mapping
     */
    IoMem pci_iomap_wc(PciDev dev, int bar, long maxlen);

    /**
     * {@code pci_iomap_range}: {@code maxlen} bytes (0: the rest) from {@code offset} in BAR {@code bar}.
     *
     * @param dev    the PCI function
     * @param bar    the BAR number, 0 to 5
     * @param offset bytes from the BAR's start, inside the BAR
     * @param maxlen the most bytes to map, 0 for the rest of the BAR
     * @return the mapping
     * @throws BadAddressException for a BAR the function does not have, a port I/O BAR, or an
     *         offset outside the BAR
     * @throws SyscallException when sysfs refuses the mapping
     */
    IoMem pci_iomap_range(PciDev dev, int bar, long offset, long maxlen);

    /**
     * {@code pci_iounmap}: {@link IoApi#iounmap(IoMem)}.
     *
     * @param dev the PCI function the BAR belongs to (not consulted)
     * @param io  a mapping of this pool
     * @throws io.kmem.error.DoubleFreeException when it is unmapped already
     * @throws IllegalArgumentException when it belongs to another pool
     */
    void pci_iounmap(PciDev dev, IoMem io);
}
