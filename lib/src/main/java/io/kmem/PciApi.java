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

    // Configuration space offsets
    /** {@code PCI_VENDOR_ID}: 16 bits: the vendor id. */
    int PCI_VENDOR_ID = 0x00;
    /** {@code PCI_DEVICE_ID}: 16 bits: the device id. */
    int PCI_DEVICE_ID = 0x02;
    /** {@code PCI_COMMAND}: 16 bits: the command register ({@code PCI_COMMAND_*}). */
    int PCI_COMMAND = 0x04;
    /** {@code PCI_STATUS}: 16 bits: the status register ({@code PCI_STATUS_*}). */
    int PCI_STATUS = 0x06;
    /** {@code PCI_CLASS_REVISION}: 32 bits: class code (high 24) and revision (low 8). */
    int PCI_CLASS_REVISION = 0x08;
    /** {@code PCI_HEADER_TYPE}: 8 bits: header layout (0 normal, 1 bridge, 2 CardBus), bit 7 multi-function. */
    int PCI_HEADER_TYPE = 0x0e;
    /** {@code PCI_CAPABILITY_LIST}: 8 bits: offset of the first capability (when {@link #PCI_STATUS_CAP_LIST}). */
    int PCI_CAPABILITY_LIST = 0x34;
    /** {@code PCI_INTERRUPT_LINE}: 8 bits: the interrupt line. */
    int PCI_INTERRUPT_LINE = 0x3c;
    /** {@code PCI_INTERRUPT_PIN}: 8 bits: the INTx pin, 1 to 4 for INTA to INTD, 0 none. */
    int PCI_INTERRUPT_PIN = 0x3d;
    /** {@code PCI_CAP_LIST_ID}: within a capability: its id byte ({@code PCI_CAP_ID_*}). */
    int PCI_CAP_LIST_ID = 0x00;
    /** {@code PCI_CAP_LIST_NEXT}: within a capability: the offset of the next one (0: the last). */
    int PCI_CAP_LIST_NEXT = 0x01;
    /** {@code PCI_CFG_SPACE_SIZE}: bytes of conventional configuration space. */
    int PCI_CFG_SPACE_SIZE = 0x100;
    /** {@code PCI_CFG_SPACE_EXP_SIZE}: bytes of PCI Express configuration space (extended capabilities from 0x100). */
    int PCI_CFG_SPACE_EXP_SIZE = 0x1000;

    // PCI_COMMAND bits
    /** {@code PCI_COMMAND_IO}: respond to I/O space accesses. */
    int PCI_COMMAND_IO = 0x01;
    /** {@code PCI_COMMAND_MEMORY}: respond to memory space accesses. */
    int PCI_COMMAND_MEMORY = 0x02;
    /** {@code PCI_COMMAND_MASTER}: bus mastering: the device may DMA. */
    int PCI_COMMAND_MASTER = 0x04;
    /** {@code PCI_COMMAND_SPECIAL}: respond to special cycles. */
    int PCI_COMMAND_SPECIAL = 0x08;
    /** {@code PCI_COMMAND_INVALIDATE}: use memory write and invalidate. */
    int PCI_COMMAND_INVALIDATE = 0x10;
    /** {@code PCI_COMMAND_VGA_PALETTE}: snoop VGA palette writes. */
    int PCI_COMMAND_VGA_PALETTE = 0x20;
    /** {@code PCI_COMMAND_PARITY}: respond to parity errors. */
    int PCI_COMMAND_PARITY = 0x40;
    /** {@code PCI_COMMAND_WAIT}: address/data stepping. */
    int PCI_COMMAND_WAIT = 0x80;
    /** {@code PCI_COMMAND_SERR}: enable SERR#. */
    int PCI_COMMAND_SERR = 0x100;
    /** {@code PCI_COMMAND_FAST_BACK}: back-to-back writes. */
    int PCI_COMMAND_FAST_BACK = 0x200;
    /** {@code PCI_COMMAND_INTX_DISABLE}: the device does not assert INTx ({@link #pci_intx}). */
    int PCI_COMMAND_INTX_DISABLE = 0x400;

    // PCI_STATUS bits
    /** {@code PCI_STATUS_IMM_READY}: immediate readiness. */
    int PCI_STATUS_IMM_READY = 0x01;
    /** {@code PCI_STATUS_INTERRUPT}: an INTx interrupt is pending. */
    int PCI_STATUS_INTERRUPT = 0x08;
    /** {@code PCI_STATUS_CAP_LIST}: the function has a capability list at {@link #PCI_CAPABILITY_LIST}. */
    int PCI_STATUS_CAP_LIST = 0x10;
    /** {@code PCI_STATUS_66MHZ}: 66 MHz capable. */
    int PCI_STATUS_66MHZ = 0x20;
    /** {@code PCI_STATUS_UDF}: user-definable features (obsolete). */
    int PCI_STATUS_UDF = 0x40;
    /** {@code PCI_STATUS_FAST_BACK}: fast back-to-back capable. */
    int PCI_STATUS_FAST_BACK = 0x80;
    /** {@code PCI_STATUS_PARITY}: master data parity error. */
    int PCI_STATUS_PARITY = 0x100;
    /** {@code PCI_STATUS_DEVSEL_MASK}: DEVSEL timing. */
    int PCI_STATUS_DEVSEL_MASK = 0x600;
    /** {@code PCI_STATUS_DEVSEL_FAST}: DEVSEL timing: fast. */
    int PCI_STATUS_DEVSEL_FAST = 0x00;
    /** {@code PCI_STATUS_DEVSEL_MEDIUM}: DEVSEL timing: medium. */
    int PCI_STATUS_DEVSEL_MEDIUM = 0x200;
    /** {@code PCI_STATUS_DEVSEL_SLOW}: DEVSEL timing: slow. */
    int PCI_STATUS_DEVSEL_SLOW = 0x400;
    /** {@code PCI_STATUS_SIG_TARGET_ABORT}: signalled a target abort. */
    int PCI_STATUS_SIG_TARGET_ABORT = 0x800;
    /** {@code PCI_STATUS_REC_TARGET_ABORT}: received a target abort. */
    int PCI_STATUS_REC_TARGET_ABORT = 0x1000;
    /** {@code PCI_STATUS_REC_MASTER_ABORT}: received a master abort. */
    int PCI_STATUS_REC_MASTER_ABORT = 0x2000;
    /** {@code PCI_STATUS_SIG_SYSTEM_ERROR}: signalled SERR#. */
    int PCI_STATUS_SIG_SYSTEM_ERROR = 0x4000;
    /** {@code PCI_STATUS_DETECTED_PARITY}: detected a parity error. */
    int PCI_STATUS_DETECTED_PARITY = 0x8000;

    // Capability ids
    /** {@code PCI_CAP_ID_PM}: power management. */
    int PCI_CAP_ID_PM = 0x01;
    /** {@code PCI_CAP_ID_AGP}: AGP. */
    int PCI_CAP_ID_AGP = 0x02;
    /** {@code PCI_CAP_ID_VPD}: vital product data. */
    int PCI_CAP_ID_VPD = 0x03;
    /** {@code PCI_CAP_ID_SLOTID}: slot identification. */
    int PCI_CAP_ID_SLOTID = 0x04;
    /** {@code PCI_CAP_ID_MSI}: message signalled interrupts. */
    int PCI_CAP_ID_MSI = 0x05;
    /** {@code PCI_CAP_ID_CHSWP}: CompactPCI hot swap. */
    int PCI_CAP_ID_CHSWP = 0x06;
    /** {@code PCI_CAP_ID_PCIX}: PCI-X. */
    int PCI_CAP_ID_PCIX = 0x07;
    /** {@code PCI_CAP_ID_HT}: HyperTransport. */
    int PCI_CAP_ID_HT = 0x08;
    /** {@code PCI_CAP_ID_VNDR}: vendor-specific (virtio's structures). */
    int PCI_CAP_ID_VNDR = 0x09;
    /** {@code PCI_CAP_ID_DBG}: debug port. */
    int PCI_CAP_ID_DBG = 0x0a;
    /** {@code PCI_CAP_ID_CCRC}: CompactPCI central resource control. */
    int PCI_CAP_ID_CCRC = 0x0b;
    /** {@code PCI_CAP_ID_SHPC}: PCI standard hot-plug controller. */
    int PCI_CAP_ID_SHPC = 0x0c;
    /** {@code PCI_CAP_ID_SSVID}: bridge subsystem vendor/device id. */
    int PCI_CAP_ID_SSVID = 0x0d;
    /** {@code PCI_CAP_ID_AGP3}: AGP target PCI-PCI bridge. */
    int PCI_CAP_ID_AGP3 = 0x0e;
    /** {@code PCI_CAP_ID_SECDEV}: secure device. */
    int PCI_CAP_ID_SECDEV = 0x0f;
    /** {@code PCI_CAP_ID_EXP}: PCI Express. */
    int PCI_CAP_ID_EXP = 0x10;
    /** {@code PCI_CAP_ID_MSIX}: MSI-X. */
    int PCI_CAP_ID_MSIX = 0x11;
    /** {@code PCI_CAP_ID_SATA}: SATA data/index configuration. */
    int PCI_CAP_ID_SATA = 0x12;
    /** {@code PCI_CAP_ID_AF}: PCI advanced features. */
    int PCI_CAP_ID_AF = 0x13;
    /** {@code PCI_CAP_ID_EA}: enhanced allocation. */
    int PCI_CAP_ID_EA = 0x14;

    // Extended capability ids
    /** {@code PCI_EXT_CAP_ID_ERR}: advanced error reporting. */
    int PCI_EXT_CAP_ID_ERR = 0x01;
    /** {@code PCI_EXT_CAP_ID_VC}: virtual channel. */
    int PCI_EXT_CAP_ID_VC = 0x02;
    /** {@code PCI_EXT_CAP_ID_DSN}: device serial number. */
    int PCI_EXT_CAP_ID_DSN = 0x03;
    /** {@code PCI_EXT_CAP_ID_PWR}: power budgeting. */
    int PCI_EXT_CAP_ID_PWR = 0x04;
    /** {@code PCI_EXT_CAP_ID_RCLD}: root complex link declaration. */
    int PCI_EXT_CAP_ID_RCLD = 0x05;
    /** {@code PCI_EXT_CAP_ID_RCILC}: root complex internal link control. */
    int PCI_EXT_CAP_ID_RCILC = 0x06;
    /** {@code PCI_EXT_CAP_ID_RCEC}: root complex event collector. */
    int PCI_EXT_CAP_ID_RCEC = 0x07;
    /** {@code PCI_EXT_CAP_ID_MFVC}: multi-function VC. */
    int PCI_EXT_CAP_ID_MFVC = 0x08;
    /** {@code PCI_EXT_CAP_ID_VC9}: virtual channel (second id). */
    int PCI_EXT_CAP_ID_VC9 = 0x09;
    /** {@code PCI_EXT_CAP_ID_RCRB}: root complex register block. */
    int PCI_EXT_CAP_ID_RCRB = 0x0a;
    /** {@code PCI_EXT_CAP_ID_VNDR}: vendor-specific. */
    int PCI_EXT_CAP_ID_VNDR = 0x0b;
    /** {@code PCI_EXT_CAP_ID_CAC}: config access correlation (obsolete). */
    int PCI_EXT_CAP_ID_CAC = 0x0c;
    /** {@code PCI_EXT_CAP_ID_ACS}: access control services. */
    int PCI_EXT_CAP_ID_ACS = 0x0d;
    /** {@code PCI_EXT_CAP_ID_ARI}: alternate routing id. */
    int PCI_EXT_CAP_ID_ARI = 0x0e;
    /** {@code PCI_EXT_CAP_ID_ATS}: address translation services. */
    int PCI_EXT_CAP_ID_ATS = 0x0f;
    /** {@code PCI_EXT_CAP_ID_SRIOV}: single root I/O virtualization. */
    int PCI_EXT_CAP_ID_SRIOV = 0x10;
    /** {@code PCI_EXT_CAP_ID_MRIOV}: multi root I/O virtualization. */
    int PCI_EXT_CAP_ID_MRIOV = 0x11;
    /** {@code PCI_EXT_CAP_ID_MCAST}: multicast. */
    int PCI_EXT_CAP_ID_MCAST = 0x12;
    /** {@code PCI_EXT_CAP_ID_PRI}: page request interface. */
    int PCI_EXT_CAP_ID_PRI = 0x13;
    /** {@code PCI_EXT_CAP_ID_AMD_XXX}: reserved for AMD. */
    int PCI_EXT_CAP_ID_AMD_XXX = 0x14;
    /** {@code PCI_EXT_CAP_ID_REBAR}: resizable BAR. */
    int PCI_EXT_CAP_ID_REBAR = 0x15;
    /** {@code PCI_EXT_CAP_ID_DPA}: dynamic power allocation. */
    int PCI_EXT_CAP_ID_DPA = 0x16;
    /** {@code PCI_EXT_CAP_ID_TPH}: TPH requester. */
    int PCI_EXT_CAP_ID_TPH = 0x17;
    /** {@code PCI_EXT_CAP_ID_LTR}: latency tolerance reporting. */
    int PCI_EXT_CAP_ID_LTR = 0x18;
    /** {@code PCI_EXT_CAP_ID_SECPCI}: secondary PCI Express. */
    int PCI_EXT_CAP_ID_SECPCI = 0x19;
    /** {@code PCI_EXT_CAP_ID_PMUX}: protocol multiplexing. */
    int PCI_EXT_CAP_ID_PMUX = 0x1a;
    /** {@code PCI_EXT_CAP_ID_PASID}: process address space id. */
    int PCI_EXT_CAP_ID_PASID = 0x1b;
    /** {@code PCI_EXT_CAP_ID_DPC}: downstream port containment. */
    int PCI_EXT_CAP_ID_DPC = 0x1d;
    /** {@code PCI_EXT_CAP_ID_L1SS}: L1 PM substates. */
    int PCI_EXT_CAP_ID_L1SS = 0x1e;
    /** {@code PCI_EXT_CAP_ID_PTM}: precision time measurement. */
    int PCI_EXT_CAP_ID_PTM = 0x1f;
    /** {@code PCI_EXT_CAP_ID_DVSEC}: designated vendor-specific. */
    int PCI_EXT_CAP_ID_DVSEC = 0x23;
    /** {@code PCI_EXT_CAP_ID_DLF}: data link feature. */
    int PCI_EXT_CAP_ID_DLF = 0x25;
    /** {@code PCI_EXT_CAP_ID_PL_16GT}: physical layer 16 GT/s. */
    int PCI_EXT_CAP_ID_PL_16GT = 0x26;


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

    /**
     * {@code pci_get_class}: the next PCI function after {@code from} (null: the first) whose
     * 24-bit class code (class, subclass, programming interface) is {@code cls}, in address
     * order, or null. As the kernel's, it matches the whole code: {@code 0x020000} is an
     * Ethernet controller, {@code 0x010802} an NVMe controller.
     *
     * @param cls  the 24-bit class code, 0 to 0xffffff
     * @param from the function to search after, or null to search from the first
     * @return the next function of that class, or null when there is none
     * @throws IllegalArgumentException for a class code outside 24 bits
     */
    PciDev pci_get_class(int cls, PciDev from);

    /**
     * {@code pci_find_capability}: the configuration-space offset of the function's capability
     * {@code cap} ({@code PCI_CAP_ID_*}), or 0 when it has none (or no capability list:
     * {@link #PCI_STATUS_CAP_LIST} clear). Walks the list through {@code pci_read_config_*},
     * as the kernel does: pointers below 0x40 or an id of 0xff end it, at most 48 steps.
     *
     * @param dev the PCI function
     * @param cap the capability id, e.g. {@link #PCI_CAP_ID_MSI}, 0 to 255
     * @return the capability's offset (0x40 to 0xfc), or 0
     * @throws IllegalArgumentException for an id outside 0 to 255
     * @throws KmemException when sysfs shows less configuration space than the list needs (past 64 bytes needs root)
     */
    int pci_find_capability(PciDev dev, int cap);

    /**
     * {@code pci_find_next_capability}: the next capability {@code cap} after the one at
     * {@code pos}: for the vendor capabilities a virtio device has several of.
     *
     * @param dev the PCI function
     * @param pos the offset of a capability ({@link #pci_find_capability}'s result)
     * @param cap the capability id, 0 to 255
     * @return the next such capability's offset, or 0
     * @throws IllegalArgumentException for an id outside 0 to 255 or a position outside 0x40 to 0xfc
     * @throws KmemException when sysfs shows less configuration space than the list needs
     */
    int pci_find_next_capability(PciDev dev, int pos, int cap);

    /**
     * {@code pci_find_ext_capability}: the offset (0x100 or more) of the extended capability
     * {@code cap} ({@code PCI_EXT_CAP_ID_*}), or 0: also for a function whose configuration
     * space is 256 bytes (not PCI Express).
     *
     * @param dev the PCI function
     * @param cap the extended capability id, 0 to 0xffff
     * @return the capability's offset, or 0
     * @throws IllegalArgumentException for an id outside 0 to 0xffff
     * @throws KmemException when sysfs shows less configuration space than the list needs
     */
    int pci_find_ext_capability(PciDev dev, int cap);

    /**
     * {@code pci_find_next_ext_capability}: the next extended capability {@code cap} after the
     * one at {@code start} (0: from the first).
     *
     * @param dev   the PCI function
     * @param start 0, or the offset of an extended capability, 0x100 to 0xffc
     * @param cap   the extended capability id, 0 to 0xffff
     * @return the next such capability's offset, or 0
     * @throws IllegalArgumentException for an id outside 0 to 0xffff or a start outside 0x100 to 0xffc
     * @throws KmemException when sysfs shows less configuration space than the list needs
     */
    int pci_find_next_ext_capability(PciDev dev, int start, int cap);

    /**
     * {@code pci_intx}: enables ({@code enable}) or disables the function's INTx interrupt by
     * clearing or setting {@link #PCI_COMMAND_INTX_DISABLE}; writes the command register only
     * when it changes.
     *
     * @param dev    the PCI function
     * @param enable true to let the function assert INTx
     * @throws SyscallException when {@code config} does not take the write (not root)
     */
    void pci_intx(PciDev dev, boolean enable);
}
