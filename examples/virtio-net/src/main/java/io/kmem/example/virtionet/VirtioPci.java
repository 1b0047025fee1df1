package io.kmem.example.virtionet;

import io.kmem.IoMem;
import io.kmem.MemoryPool;
import io.kmem.PciApi;
import io.kmem.PciDev;
import java.util.ArrayList;
import java.util.List;

/**
 * The virtio 1.0 PCI transport ("modern" virtio, section 4.1 of the virtio specification):
 * the device describes where its register blocks are with vendor-specific PCI capabilities,
 * each naming a BAR, an offset and a length. This class finds them with kmem's capability
 * walk, maps each block with {@code pci_iomap_range}, and gives the common configuration's
 * registers names.
 *
 * <p>Layout of {@code struct virtio_pci_common_cfg} (all little-endian, as {@code readl} and
 * friends are):
 * <pre>
 *  0x00 le32 device_feature_select   0x14 u8   device_status       0x1e le16 queue_notify_off
 *  0x04 le32 device_feature          0x15 u8   config_generation   0x20 le64 queue_desc
 *  0x08 le32 driver_feature_select   0x16 le16 queue_select        0x28 le64 queue_driver
 *  0x0c le32 driver_feature          0x18 le16 queue_size          0x30 le64 queue_device
 *  0x10 le16 config_msix_vector      0x1a le16 queue_msix_vector
 *  0x12 le16 num_queues              0x1c le16 queue_enable
 * </pre>
 */
final class VirtioPci implements AutoCloseable {
    static final int VIRTIO_PCI_CAP_COMMON_CFG = 1;
    static final int VIRTIO_PCI_CAP_NOTIFY_CFG = 2;
    static final int VIRTIO_PCI_CAP_ISR_CFG = 3;
    static final int VIRTIO_PCI_CAP_DEVICE_CFG = 4;

    static final int DEVICE_FEATURE_SELECT = 0x00;
    static final int DEVICE_FEATURE = 0x04;
    static final int DRIVER_FEATURE_SELECT = 0x08;
    static final int DRIVER_FEATURE = 0x0c;
    static final int CONFIG_MSIX_VECTOR = 0x10;
    static final int NUM_QUEUES = 0x12;
    static final int DEVICE_STATUS = 0x14;
    static final int CONFIG_GENERATION = 0x15;
    static final int QUEUE_SELECT = 0x16;
    static final int QUEUE_SIZE = 0x18;
    static final int QUEUE_MSIX_VECTOR = 0x1a;
    static final int QUEUE_ENABLE = 0x1c;
    static final int QUEUE_NOTIFY_OFF = 0x1e;
    static final int QUEUE_DESC = 0x20;
    static final int QUEUE_DRIVER = 0x28;
    static final int QUEUE_DEVICE = 0x30;

    /** Device status bits. */
    static final int STATUS_ACKNOWLEDGE = 1;
    static final int STATUS_DRIVER = 2;
    static final int STATUS_DRIVER_OK = 4;
    static final int STATUS_FEATURES_OK = 8;
    static final int STATUS_DEVICE_NEEDS_RESET = 64;
    static final int STATUS_FAILED = 128;
    /** {@code VIRTIO_MSI_NO_VECTOR}: no MSI-X vector for this source. */
    static final int NO_VECTOR = 0xffff;

    private final MemoryPool pool;
    private final PciDev pdev;
    final IoMem common;
    final IoMem isr;
    final IoMem device;
    final IoMem notify;
    final int notifyOffMultiplier;
    private final List<String> found = new ArrayList<>();

    /**
     * Finds and maps the four register blocks of {@code pdev}.
     *
     * @throws IllegalStateException if the device lacks one (a legacy-only virtio device)
     */
    VirtioPci(MemoryPool pool, PciDev pdev) {
        this.pool = pool;
        this.pdev = pdev;
        IoMem common = null;
        IoMem isr = null;
        IoMem device = null;
        IoMem notify = null;
        int multiplier = 0;
        try {
            for (int pos = pool.pci_find_capability(pdev, PciApi.PCI_CAP_ID_VNDR); pos != 0;
                    pos = pool.pci_find_next_capability(pdev, pos, PciApi.PCI_CAP_ID_VNDR)) {
                // struct virtio_pci_cap: vndr, next, len, cfg_type, bar, id, pad[2], offset, length
                int type = pool.pci_read_config_byte(pdev, pos + 3);
                int bar = pool.pci_read_config_byte(pdev, pos + 4);
                long offset = Integer.toUnsignedLong(pool.pci_read_config_dword(pdev, pos + 8));
                long length = Integer.toUnsignedLong(pool.pci_read_config_dword(pdev, pos + 12));
                if (type < VIRTIO_PCI_CAP_COMMON_CFG || type > VIRTIO_PCI_CAP_DEVICE_CFG || bar > 5 || length == 0) {
                    continue;   // PCI_CFG access window, or a type this driver does not use
                }
                found.add(String.format("%s at 0x%02x: BAR%d+0x%x, %d B", name(type), pos, bar, offset, length));
                switch (type) {
                    case VIRTIO_PCI_CAP_COMMON_CFG -> common = common != null ? common
                            : pool.pci_iomap_range(pdev, bar, offset, length);
                    case VIRTIO_PCI_CAP_ISR_CFG -> isr = isr != null ? isr : pool.pci_iomap_range(pdev, bar, offset, length);
                    case VIRTIO_PCI_CAP_DEVICE_CFG -> device = device != null ? device
                            : pool.pci_iomap_range(pdev, bar, offset, length);
                    default -> {
                        if (notify == null) {
                            notify = pool.pci_iomap_range(pdev, bar, offset, length);
                            // struct virtio_pci_notify_cap: the cap, then le32 notify_off_multiplier
                            multiplier = pool.pci_read_config_dword(pdev, pos + 16);
                        }
                    }
                }
            }
            if (common == null || isr == null || device == null || notify == null) {
                throw new IllegalStateException(pdev.name() + ": not a virtio 1.0 PCI device: of the common, notify, ISR"
                        + " and device configuration capabilities it has " + found + " (a legacy-only device? start"
                        + " QEMU's virtio-net-pci with disable-legacy=on)");
            }
        } catch (RuntimeException e) {
            for (IoMem io : new IoMem[] {common, isr, device, notify}) {
                if (io != null) {
                    pool.pci_iounmap(pdev, io);
                }
            }
            throw e;
        }
        this.common = common;
        this.isr = isr;
        this.device = device;
        this.notify = notify;
        this.notifyOffMultiplier = multiplier;
    }

    private static String name(int type) {
        return switch (type) {
            case VIRTIO_PCI_CAP_COMMON_CFG -> "common";
            case VIRTIO_PCI_CAP_NOTIFY_CFG -> "notify";
            case VIRTIO_PCI_CAP_ISR_CFG -> "isr";
            default -> "device";
        };
    }

    /** The capabilities found, one line each. */
    List<String> capabilities() {
        return List.copyOf(found);
    }

    /** The 64 feature bits the device offers. */
    long deviceFeatures() {
        common.writel(0, DEVICE_FEATURE_SELECT);
        long lo = Integer.toUnsignedLong(common.readl(DEVICE_FEATURE));
        common.writel(1, DEVICE_FEATURE_SELECT);
        long hi = Integer.toUnsignedLong(common.readl(DEVICE_FEATURE));
        return hi << 32 | lo;
    }

    void driverFeatures(long features) {
        common.writel(0, DRIVER_FEATURE_SELECT);
        common.writel((int) features, DRIVER_FEATURE);
        common.writel(1, DRIVER_FEATURE_SELECT);
        common.writel((int) (features >>> 32), DRIVER_FEATURE);
    }

    int status() {
        return common.readb(DEVICE_STATUS);
    }

    void status(int status) {
        common.writeb(status, DEVICE_STATUS);
    }

    /**
     * Resets the device: writes 0 to device_status and waits until it reads 0 (the device has
     * stopped using every queue and buffer it was given).
     */
    void reset() {
        common.writeb(0, DEVICE_STATUS);
        int[] last = new int[1];
        if (common.readb_poll_timeout(DEVICE_STATUS, last, v -> v == 0, 10, 1_000_000) != 0) {
            throw new IllegalStateException(pdev.name() + ": device_status still 0x" + Integer.toHexString(last[0])
                    + " one second after a reset (-ETIMEDOUT)");
        }
    }

    /** The address to write a queue's index to, to tell the device that it has new buffers. */
    long notifyOffset(int queueNotifyOff) {
        return (long) queueNotifyOff * notifyOffMultiplier;
    }

    @Override
    public void close() {
        for (IoMem io : new IoMem[] {common, isr, device, notify}) {
            if (!io.unmapped()) {
                pool.pci_iounmap(pdev, io);
            }
        }
    }
}
