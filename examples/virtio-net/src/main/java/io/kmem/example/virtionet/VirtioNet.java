package io.kmem.example.virtionet;

import static io.kmem.DmaApi.DMA_BIT_MASK;
import static io.kmem.DmaDirection.DMA_FROM_DEVICE;
import static io.kmem.DmaDirection.DMA_TO_DEVICE;
import static io.kmem.gfp.Gfp.GFP_ATOMIC;
import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static io.kmem.PciApi.PCI_IRQ_INTX;
import static io.kmem.PciApi.PCI_IRQ_MSIX;

import io.kmem.Device;
import io.kmem.IrqHandler;
import io.kmem.KmemCache;
import io.kmem.MemoryPool;
import io.kmem.PciDev;
import java.lang.foreign.MemorySegment;
import java.util.HexFormat;

/**
 * A virtio-net driver (virtio 1.0 over PCI, one receive and one transmit split virtqueue) on
 * kmem's public API. What a kernel driver does in {@code probe}, {@code ndo_open},
 * {@code ndo_start_xmit}, its interrupt handler and {@code remove}, in that order:
 *
 * <ol>
 *   <li><b>probe</b> ({@link #probe}): {@code pci_enable_device}, {@code pci_set_master}; the
 *       virtio capabilities found with {@code pci_find_capability} and mapped with
 *       {@code pci_iomap_range}; reset, feature negotiation ({@code VIRTIO_F_VERSION_1}, the
 *       MAC and link status, and {@code VIRTIO_F_ACCESS_PLATFORM} when the device sits behind
 *       an IOMMU); {@code dma_set_mask_and_coherent};</li>
 *   <li><b>rings</b>: each virtqueue in one {@code dma_alloc_coherent} buffer
 *       ({@link SplitQueue});</li>
 *   <li><b>buffers</b>: receive buffers from a {@code kmem_cache}, each mapped once with
 *       {@code dma_map_single(DMA_FROM_DEVICE)} and recycled with
 *       {@code dma_sync_single_for_cpu}/{@code _for_device} (as the kernel's page_pool does);
 *       transmit buffers from a second {@code kmem_cache}, one per frame, mapped with
 *       {@code dma_map_single(DMA_TO_DEVICE)} and unmapped and freed when the device returns
 *       them (TX completion reclaim);</li>
 *   <li><b>interrupts</b> or polling ({@link #poll});</li>
 *   <li><b>remove</b> ({@link #close}): reset (the device stops all DMA), every buffer
 *       unmapped and freed, rings freed, caches destroyed, BARs unmapped, the device disabled.</li>
 * </ol>
 *
 * <p>Frames are Ethernet frames without the FCS, 14 to 1514 bytes. Each buffer starts with the
 * 12-byte {@code struct virtio_net_hdr_v1} (no offloads are negotiated, so it is all zero on
 * transmit and ignored on receive).
 */
public final class VirtioNet implements AutoCloseable {
    /** Red Hat's PCI vendor ID, and virtio-net's modern (non-transitional) device ID. */
    public static final int VENDOR = 0x1af4;
    public static final int DEVICE = 0x1041;

    static final int VIRTIO_NET_F_MAC = 5;
    static final int VIRTIO_NET_F_STATUS = 16;
    static final int VIRTIO_F_VERSION_1 = 32;
    static final int VIRTIO_F_ACCESS_PLATFORM = 33;
    static final int VIRTIO_NET_S_LINK_UP = 1;

    /** {@code sizeof(struct virtio_net_hdr_v1)}. */
    public static final int HDR_LEN = 12;
    /** The largest frame this driver sends or receives (no jumbo frames, no GSO). */
    public static final int MAX_FRAME = 1514;
    /** Each packet buffer: the header and the largest frame, rounded to a cache-friendly size. */
    static final int BUF_SIZE = 2048;
    static final int RX_QUEUE = 0;
    static final int TX_QUEUE = 1;
    static final int MAX_QUEUE_SIZE = 256;

    /** How received frames are noticed. */
    public enum Mode {
        /** The caller calls {@link #poll}; the device raises no interrupt. */
        POLLING,
        /**
         * The device interrupts: MSI-X (one vector for configuration changes, one for the
         * receive queue) when the function is open through VFIO, else INTx (through
         * uio_pci_generic or VFIO), whose handler reads and so clears the ISR status. Frames
         * are received on the interrupt thread.
         */
        INTERRUPTS
    }

    /** Where received frames go: called for each frame, on the thread that polls or takes the interrupt. */
    @FunctionalInterface
    public interface FrameSink {
        /**
         * One received frame. The segment is valid only during the call (its buffer goes back
         * to the device after it): copy what must be kept.
         *
         * @param frame the Ethernet frame, destination MAC first
         */
        void receive(MemorySegment frame);
    }

    /**
     * Counters of one NIC.
     *
     * @param txFrames  frames handed to the device
     * @param txBytes   their bytes
     * @param txDone    transmit buffers the device returned (reclaimed, unmapped, freed)
     * @param txBusy    {@link #xmit} calls refused because the transmit ring was full
     * @param rxFrames  frames received
     * @param rxBytes   their bytes
     * @param rxDropped buffers the device returned with a frame too short or too long
     * @param kicks     notifications written to the device (both queues)
     * @param irqs      interrupts taken (all vectors; 0 when polling)
     * @param configIrqs of which configuration changes (link status)
     */
    public record Stats(long txFrames, long txBytes, long txDone, long txBusy, long rxFrames, long rxBytes,
            long rxDropped, long kicks, long irqs, long configIrqs) {
    }

    private final MemoryPool pool;
    private final PciDev pdev;
    private final Device dev;
    private final VirtioPci vp;
    private final long features;
    private final byte[] mac = new byte[6];
    private final SplitQueue rx;
    private final SplitQueue tx;
    private final KmemCache rxCache;
    private final KmemCache txCache;
    private final long[] rxBuf;
    private final long[] rxDma;
    private final long[] txBuf;
    private final long[] txDma;
    private final int[] txLen;
    /** Free transmit descriptors, a stack. */
    private final int[] txFree;
    private int txFreeTop;
    private final FrameSink sink;

    private long txFrames;
    private long txBytes;
    private long txDone;
    private long txBusy;
    private volatile long rxFrames;
    private volatile long rxBytes;
    private volatile long rxDropped;
    private final Mode mode;
    /** The irq numbers requested (config and receive for MSI-X, one for INTx), for free_irq. */
    private final int[] irqLines = {-1, -1};
    private boolean msix;
    private boolean vectorsAllocated;
    private volatile long rxIrqs;
    private volatile long configIrqs;
    private volatile boolean closed;

    private VirtioNet(MemoryPool pool, PciDev pdev, FrameSink sink, Mode mode) {
        this.pool = pool;
        this.pdev = pdev;
        this.dev = pdev.dev();
        this.sink = sink;
        this.mode = mode;
        pool.pci_enable_device(pdev);
        pool.pci_set_master(pdev);
        VirtioPci vp = new VirtioPci(pool, pdev);
        this.vp = vp;
        SplitQueue rx = null;
        SplitQueue tx = null;
        KmemCache rxCache = null;
        KmemCache txCache = null;
        try {
            // 3.1.1 of the specification: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK.
            vp.reset();
            vp.status(VirtioPci.STATUS_ACKNOWLEDGE);
            vp.status(VirtioPci.STATUS_ACKNOWLEDGE | VirtioPci.STATUS_DRIVER);
            long offered = vp.deviceFeatures();
            if ((offered & bit(VIRTIO_F_VERSION_1)) == 0) {
                throw new IllegalStateException(pdev.name() + ": the device does not offer VIRTIO_F_VERSION_1 (features"
                        + " 0x" + Long.toHexString(offered) + "); this driver speaks virtio 1.0 only");
            }
            long wanted = bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_NET_F_MAC) | bit(VIRTIO_NET_F_STATUS)
                    | bit(VIRTIO_F_ACCESS_PLATFORM);
            this.features = offered & wanted;
            vp.driverFeatures(features);
            vp.status(VirtioPci.STATUS_ACKNOWLEDGE | VirtioPci.STATUS_DRIVER | VirtioPci.STATUS_FEATURES_OK);
            if ((vp.status() & VirtioPci.STATUS_FEATURES_OK) == 0) {
                throw new IllegalStateException(pdev.name() + ": the device refused features 0x"
                        + Long.toHexString(features) + " (FEATURES_OK did not stick)");
            }
            if (pool.dma_set_mask_and_coherent(dev, DMA_BIT_MASK(64)) != 0) {
                throw new IllegalStateException(pdev.name() + ": dma_set_mask_and_coherent(64 bits) failed");
            }
            readMac();
            if (mode == Mode.INTERRUPTS) {
                allocateVectors();
            }
            rx = setupQueue(RX_QUEUE, msix ? 1 : VirtioPci.NO_VECTOR);
            tx = setupQueue(TX_QUEUE, VirtioPci.NO_VECTOR);   // TX completions are reclaimed by the sender
            // One cache each way per NIC, named as slabinfo will show them.
            rxCache = pool.kmem_cache_create("virtio-net-rx-" + pdev.name(), BUF_SIZE, 64, 0, null);
            txCache = pool.kmem_cache_create("virtio-net-tx-" + pdev.name(), BUF_SIZE, 64, 0, null);
            if (rxCache == null || txCache == null) {
                throw new IllegalStateException(pdev.name() + ": kmem_cache_create of its packet buffer caches failed"
                        + " (is the NIC probed twice on one pool?)");
            }
        } catch (RuntimeException e) {
            vp.status(VirtioPci.STATUS_FAILED);
            if (vectorsAllocated) {
                pool.pci_free_irq_vectors(pdev);
            }
            for (AutoCloseable c : new AutoCloseable[] {rx, tx}) {
                closeQuietly(c);
            }
            if (rxCache != null) {
                pool.kmem_cache_destroy(rxCache);
            }
            if (txCache != null) {
                pool.kmem_cache_destroy(txCache);
            }
            vp.close();
            pool.pci_clear_master(pdev);
            pool.pci_disable_device(pdev);
            throw e;
        }
        this.rx = rx;
        this.tx = tx;
        this.rxCache = rxCache;
        this.txCache = txCache;
        this.rxBuf = new long[rx.size];
        this.rxDma = new long[rx.size];
        this.txBuf = new long[tx.size];
        this.txDma = new long[tx.size];
        this.txLen = new int[tx.size];
        this.txFree = new int[tx.size];
        for (int i = 0; i < tx.size; i++) {
            txFree[txFreeTop++] = tx.size - 1 - i;
        }
    }

    /**
     * Probes {@code pdev} and brings the NIC up: the receive ring filled, the interrupt
     * handlers requested (in {@link Mode#INTERRUPTS}), the device told DRIVER_OK.
     *
     * @param pool the pool every ring and buffer comes from
     * @param pdev a virtio-net device (vendor 0x1af4, device 0x1041): from {@code pci_get_device}
     *             (physical addresses; bound to no kernel driver, or to uio_pci_generic for
     *             interrupts) or from {@code vfio_open} (I/O virtual addresses)
     * @param sink where received frames go
     * @param mode polling or interrupts
     * @return the running NIC
     * @throws IllegalStateException when the device is not a usable virtio-net device (the reason given)
     */
    public static VirtioNet probe(MemoryPool pool, PciDev pdev, FrameSink sink, Mode mode) {
        VirtioNet nic = new VirtioNet(pool, pdev, sink, mode);
        try {
            nic.fillRx();
            nic.tx.interrupts(false);
            nic.rx.interrupts(mode == Mode.INTERRUPTS);
            if (mode == Mode.INTERRUPTS) {
                nic.requestIrqs();
            }
            nic.vp.status(VirtioPci.STATUS_ACKNOWLEDGE | VirtioPci.STATUS_DRIVER | VirtioPci.STATUS_FEATURES_OK
                    | VirtioPci.STATUS_DRIVER_OK);
            nic.rx.kick();
        } catch (RuntimeException e) {
            nic.close();
            throw e;
        }
        return nic;
    }

    /**
     * MSI-X with two vectors (0: configuration changes, 1: the receive queue) when the
     * function offers it, else its INTx line; as a kernel driver's
     * {@code pci_alloc_irq_vectors} with fallback.
     */
    private void allocateVectors() {
        int n = pool.pci_alloc_irq_vectors(pdev, 2, 2, PCI_IRQ_MSIX);
        if (n == 2) {
            msix = true;
        } else {
            n = pool.pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_INTX);
            if (n != 1) {
                throw new IllegalStateException(pdev.name() + ": no interrupt vectors (pci_alloc_irq_vectors: " + n
                        + "); bind the function to vfio-pci (and open it with vfio_open) or to uio_pci_generic,"
                        + " or probe it in Mode.POLLING");
            }
        }
        vectorsAllocated = true;
        // The device's own vector numbers: an MSI-X table index, or VIRTIO_MSI_NO_VECTOR for INTx.
        vp.common.writew(msix ? 0 : VirtioPci.NO_VECTOR, VirtioPci.CONFIG_MSIX_VECTOR);
        if (msix && vp.common.readw(VirtioPci.CONFIG_MSIX_VECTOR) != 0) {
            throw new IllegalStateException(pdev.name() + ": the device refused MSI-X vector 0 for configuration"
                    + " changes");
        }
    }

    private void requestIrqs() {
        String name = "virtio-net-" + pdev.name();
        if (msix) {
            irqLines[0] = request(pool.pci_irq_vector(pdev, 0), irq -> {
                configIrqs++;
                return IrqHandler.IRQ_HANDLED;
            }, name + "-config");
            irqLines[1] = request(pool.pci_irq_vector(pdev, 1), irq -> {
                rxIrqs++;
                receive(Integer.MAX_VALUE);
                return IrqHandler.IRQ_HANDLED;
            }, name + "-rx");
        } else {
            irqLines[0] = request(pool.pci_irq_vector(pdev, 0), this::intx, name);
        }
    }

    private int request(int irq, IrqHandler handler, String name) {
        int rc = pool.request_irq(irq, handler, name);
        if (rc != 0) {
            throw new IllegalStateException(pdev.name() + ": request_irq(" + irq + ", " + name + ") = " + rc);
        }
        return irq;
    }

    /**
     * The INTx handler: reading the ISR status clears it and lowers the line (4.1.4.5); bit 0
     * is a queue interrupt, bit 1 a configuration change. A shared line that was not this
     * device's reads 0: {@code IRQ_NONE}.
     */
    private int intx(int irq) {
        int isr = vp.isr.readb(0);
        if (isr == 0) {
            return IrqHandler.IRQ_NONE;
        }
        if ((isr & 2) != 0) {
            configIrqs++;
        }
        if ((isr & 1) != 0) {
            rxIrqs++;
            receive(Integer.MAX_VALUE);
        }
        return IrqHandler.IRQ_HANDLED;
    }

    private static long bit(int n) {
        return 1L << n;
    }

    private static void closeQuietly(AutoCloseable c) {
        if (c != null) {
            try {
                c.close();
            } catch (Exception ignored) {
                // tearing down after a failed probe: the first failure is the one reported
            }
        }
    }

    private void readMac() {
        if ((features & bit(VIRTIO_NET_F_MAC)) == 0) {
            // No MAC from the device: a locally administered one from the bus address.
            byte[] b = pdev.name().getBytes();
            mac[0] = 0x02;
            for (int i = 1; i < 6; i++) {
                mac[i] = b[b.length - 6 + i];
            }
            return;
        }
        int gen;
        do {   // 4.1.4.3.1: re-read until config_generation is the same before and after
            gen = vp.common.readb(VirtioPci.CONFIG_GENERATION);
            for (int i = 0; i < 6; i++) {
                mac[i] = (byte) vp.device.readb(i);
            }
        } while (gen != vp.common.readb(VirtioPci.CONFIG_GENERATION));
    }

    private SplitQueue setupQueue(int index, int vector) {
        int queues = vp.common.readw(VirtioPci.NUM_QUEUES);
        if (index >= queues) {
            throw new IllegalStateException(pdev.name() + ": queue " + index + " requested, the device has " + queues);
        }
        vp.common.writew(index, VirtioPci.QUEUE_SELECT);
        int max = vp.common.readw(VirtioPci.QUEUE_SIZE);
        if (max == 0) {
            throw new IllegalStateException(pdev.name() + ": queue " + index + " is not available (size 0)");
        }
        int size = Math.min(Integer.highestOneBit(max), MAX_QUEUE_SIZE);
        int notifyOff = vp.common.readw(VirtioPci.QUEUE_NOTIFY_OFF);
        SplitQueue q = new SplitQueue(pool, dev, index, size, vp.notify, vp.notifyOffset(notifyOff));
        vp.common.writew(size, VirtioPci.QUEUE_SIZE);
        writeq(VirtioPci.QUEUE_DESC, q.descAddr());
        writeq(VirtioPci.QUEUE_DRIVER, q.driverAddr());
        writeq(VirtioPci.QUEUE_DEVICE, q.deviceAddr());
        vp.common.writew(vector, VirtioPci.QUEUE_MSIX_VECTOR);
        if (vp.common.readw(VirtioPci.QUEUE_MSIX_VECTOR) != vector) {
            throw new IllegalStateException(pdev.name() + ": queue " + index + " refused MSI-X vector " + vector);
        }
        vp.common.writew(1, VirtioPci.QUEUE_ENABLE);
        return q;
    }

    /**
     * A 64-bit register of the common configuration: the specification lets the device take
     * it as two 32-bit writes, low half first ({@code lo_hi_writeq}), which every transport
     * accepts.
     */
    private void writeq(long offset, long value) {
        vp.common.lo_hi_writeq(value, offset);
    }

    /** Every receive descriptor gets a buffer from the rx cache, mapped once for the device to write. */
    private void fillRx() {
        for (int id = 0; id < rx.size; id++) {
            long buf = pool.kmem_cache_alloc(rxCache, GFP_KERNEL);
            if (buf == 0) {
                throw new IllegalStateException(pdev.name() + ": no memory for receive buffer " + id);
            }
            long dma = pool.dma_map_single(dev, buf, BUF_SIZE, DMA_FROM_DEVICE);
            if (pool.dma_mapping_error(dev, dma)) {
                pool.kmem_cache_free(rxCache, buf);
                throw new IllegalStateException(pdev.name() + ": dma_map_single of receive buffer " + id + " failed");
            }
            rxBuf[id] = buf;
            rxDma[id] = dma;
            rx.setDesc(id, dma, BUF_SIZE, SplitQueue.VIRTQ_DESC_F_WRITE);
            rx.publish(id);
        }
    }

    /**
     * Sends one frame: copies it behind a zero header into a buffer of the transmit cache,
     * maps it, and hands it to the device. Transmit buffers the device has returned are
     * reclaimed first.
     *
     * @param frame an Ethernet frame of 14 to 1514 bytes
     * @return false when the transmit ring is full (try again after the device has sent some)
     * @throws IllegalArgumentException for a frame of another length
     */
    public boolean xmit(MemorySegment frame) {
        long len = frame.byteSize();
        if (len < 14 || len > MAX_FRAME) {
            throw new IllegalArgumentException("xmit: a frame of " + len + " bytes; expected 14 to " + MAX_FRAME);
        }
        ensureOpen("xmit");
        reclaimTx();
        if (txFreeTop == 0) {
            txBusy++;
            return false;
        }
        // ndo_start_xmit runs where it may not sleep: GFP_ATOMIC.
        long buf = pool.kmem_cache_alloc(txCache, GFP_ATOMIC);
        if (buf == 0) {
            txBusy++;
            return false;
        }
        MemorySegment seg = pool.segment(buf, HDR_LEN + len);
        seg.asSlice(0, HDR_LEN).fill((byte) 0);
        MemorySegment.copy(frame, 0, seg, HDR_LEN, len);
        int bytes = (int) (HDR_LEN + len);
        long dma = pool.dma_map_single(dev, buf, bytes, DMA_TO_DEVICE);
        if (pool.dma_mapping_error(dev, dma)) {
            pool.kmem_cache_free(txCache, buf);
            throw new IllegalStateException(pdev.name() + ": dma_map_single of a " + bytes + "-byte transmit buffer failed");
        }
        int id = txFree[--txFreeTop];
        txBuf[id] = buf;
        txDma[id] = dma;
        txLen[id] = bytes;
        tx.setDesc(id, dma, bytes, 0);
        tx.publish(id);
        tx.kick();
        txFrames++;
        txBytes += len;
        return true;
    }

    /**
     * Reclaims transmit buffers the device has returned: each unmapped and freed to its cache.
     *
     * @return how many were reclaimed
     */
    public int reclaimTx() {
        int n = 0;
        for (long e; (e = tx.takeUsed()) != -1; n++) {
            int id = (int) (e >>> 32);
            if (id >= tx.size || txBuf[id] == 0) {
                throw new IllegalStateException(pdev.name() + ": the device returned transmit descriptor " + id
                        + ", which it was not given");
            }
            pool.dma_unmap_single(dev, txDma[id], txLen[id], DMA_TO_DEVICE);
            pool.kmem_cache_free(txCache, txBuf[id]);
            txBuf[id] = 0;
            txFree[txFreeTop++] = id;
            txDone++;
        }
        return n;
    }

    /**
     * Receives up to {@code budget} frames (NAPI's poll): each handed to the sink, its buffer
     * synced back to the device and reposted; the device is notified once at the end.
     *
     * @param budget the most frames to take
     * @return how many were taken
     */
    public int poll(int budget) {
        ensureOpen("poll");
        if (mode != Mode.POLLING) {
            throw new IllegalStateException("poll: " + pdev.name() + " receives on its interrupt thread (Mode.INTERRUPTS)");
        }
        return receive(budget);
    }

    /** The receive work of {@link #poll} and of the interrupt handlers (one thread at a time). */
    private int receive(int budget) {
        int n = 0;
        for (long e; n < budget && (e = rx.takeUsed()) != -1; n++) {
            int id = (int) (e >>> 32);
            int len = (int) e;
            if (id >= rx.size) {
                throw new IllegalStateException(pdev.name() + ": the device returned receive descriptor " + id
                        + " of " + rx.size);
            }
            pool.dma_sync_single_for_cpu(dev, rxDma[id], len, DMA_FROM_DEVICE);
            int frameLen = len - HDR_LEN;
            if (frameLen < 14 || frameLen > MAX_FRAME) {
                rxDropped++;
            } else {
                sink.receive(pool.segment(rxBuf[id] + HDR_LEN, frameLen));
                rxFrames++;
                rxBytes += frameLen;
            }
            pool.dma_sync_single_for_device(dev, rxDma[id], BUF_SIZE, DMA_FROM_DEVICE);
            rx.publish(id);
        }
        if (n > 0) {
            rx.kick();
        }
        return n;
    }

    /** The MAC address the device reported. */
    public byte[] mac() {
        return mac.clone();
    }

    /** The MAC address as {@code 52:54:00:12:34:56}. */
    public String macString() {
        return HexFormat.ofDelimiter(":").formatHex(mac);
    }

    /** True when the device reports link up (always, if it offers no link status). */
    public boolean linkUp() {
        if ((features & bit(VIRTIO_NET_F_STATUS)) == 0) {
            return true;
        }
        return (vp.device.readw(6) & VIRTIO_NET_S_LINK_UP) != 0;
    }

    /** True when the interrupts are MSI-X (else INTx, or polling). */
    public boolean msix() {
        return msix;
    }

    /** The mode the NIC was probed in. */
    public Mode mode() {
        return mode;
    }

    /** The negotiated feature bits. */
    public long features() {
        return features;
    }

    /** The PCI device. */
    public PciDev pdev() {
        return pdev;
    }

    /** The sizes of the receive and transmit rings. */
    public int rxRingSize() {
        return rx.size;
    }

    public int txRingSize() {
        return tx.size;
    }

    /** The capabilities the transport found, one line each. */
    public java.util.List<String> capabilities() {
        return vp.capabilities();
    }

    public Stats stats() {
        return new Stats(txFrames, txBytes, txDone, txBusy, rxFrames, rxBytes, rxDropped, rx.kicks() + tx.kicks(),
                rxIrqs + configIrqs, configIrqs);
    }

    private void ensureOpen(String function) {
        if (closed) {
            throw new IllegalStateException(function + ": " + pdev.name() + " was closed");
        }
    }

    /**
     * Removes the NIC: resets the device (it stops all DMA), unmaps and frees every buffer,
     * frees the rings, destroys the caches, unmaps the BARs and disables the device.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        vp.reset();   // no more DMA and no more interrupts from the device
        // free_irq waits for a handler that is running now, so no buffer is freed under it.
        for (int irq : irqLines) {
            if (irq >= 0) {
                pool.free_irq(irq);
            }
        }
        if (vectorsAllocated) {
            pool.pci_free_irq_vectors(pdev);
        }
        for (int id = 0; id < rx.size; id++) {
            if (rxBuf[id] != 0) {
                pool.dma_unmap_single(dev, rxDma[id], BUF_SIZE, DMA_FROM_DEVICE);
                pool.kmem_cache_free(rxCache, rxBuf[id]);
                rxBuf[id] = 0;
            }
        }
        for (int id = 0; id < tx.size; id++) {
            if (txBuf[id] != 0) {
                pool.dma_unmap_single(dev, txDma[id], txLen[id], DMA_TO_DEVICE);
                pool.kmem_cache_free(txCache, txBuf[id]);
                txBuf[id] = 0;
            }
        }
        rx.close();
        tx.close();
        pool.kmem_cache_destroy(rxCache);
        pool.kmem_cache_destroy(txCache);
        vp.close();
        pool.pci_clear_master(pdev);
        pool.pci_disable_device(pdev);
    }

    @Override
    public String toString() {
        return "virtio-net " + pdev.name() + " " + macString();
    }
}
