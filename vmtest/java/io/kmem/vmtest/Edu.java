package io.kmem.vmtest;

import io.kmem.IoMem;
import io.kmem.MemoryPool;

/**
 * QEMU's {@code edu} device (docs/specs/edu.rst in QEMU's sources) at the register level,
 * over BAR0 mapped by kmem ({@code pci_iomap} or {@code ioremap}), through kmem's accessors.
 *
 * <pre>
 *  BAR0 (1 MiB MMIO)       offset  access  meaning
 *  identification          0x00    RO      0xRRrr00edu: major 1, minor 0 -> 0x010000ed
 *  card liveness           0x04    RW      reads back the inverse of what was written
 *  factorial               0x08    RW      write n; read n! once status bit 0 is clear
 *  status                  0x20    RW      bit 0: computing the factorial
 *  DMA source address      0x80    RW      64 bits
 *  DMA destination address 0x88    RW      64 bits
 *  DMA transfer count      0x90    RW      64 bits
 *  DMA command             0x98    RW      bit 0 start (clears when done), bit 1 direction
 *                                          (0: RAM to device, 1: device to RAM), bit 2 irq
 *  device buffer: device addresses 0x40000 - 0x40fff (4 KiB); DMA mask 28 bits
 * </pre>
 *
 * <p>The RAM side of every DMA is a DMA address kmem handed out ({@code dma_map_single},
 * {@code dma_map_page}, {@code dma_alloc_coherent}, {@code dma_pool_alloc}); keeping a buffer
 * above the device's mask from it is kmem's job, and the driver checks that kmem does it.
 * What the DMA API cannot know is the device's own limit, checked here before any register
 * is written and refused with {@link DmaRefused} (nothing reaches the device): a count of 0,
 * or a device side that leaves {@code 0x40000 .. 0x40ffe}. QEMU 7.2's edu stops the whole VM
 * with a "hardware error" for a transfer out of its buffer, and also for one that ends
 * exactly at the buffer's end, so at most 4095 bytes move.
 *
 * <p>A transfer completes on the device's timer (100 ms of virtual time); the start bit is
 * polled until it clears. The doorbell {@code writeq} of the command is a release (the
 * buffer's bytes are written first), the polling {@code readq} an acquire (what the device
 * wrote is seen after it).
 */
final class Edu {

    static final int VENDOR = 0x1234;
    static final int DEVICE = 0x11e8;
    static final int IDENTITY = 0x010000ed;
    /** edu's DMA address width: {@code DMA_BIT_MASK(28)}. */
    static final int DMA_BITS = 28;

    static final long REG_ID = 0x00;
    static final long REG_LIVENESS = 0x04;
    static final long REG_FACTORIAL = 0x08;
    static final long REG_STATUS = 0x20;
    static final long REG_DMA_SRC = 0x80;
    static final long REG_DMA_DST = 0x88;
    static final long REG_DMA_COUNT = 0x90;
    static final long REG_DMA_CMD = 0x98;

    static final int STATUS_COMPUTING = 0x1;
    static final long CMD_START = 0x1;
    static final long CMD_TO_RAM = 0x2;

    /** The device buffer's first device address and size. */
    static final long BUF = 0x40000;
    static final int BUF_SIZE = 4096;
    /** The most one transfer may move (QEMU 7.2 refuses a transfer ending at the buffer's end). */
    static final int MAX_TRANSFER = BUF_SIZE - 1;

    /** How long a factorial or a DMA may take before the driver gives up (wall time). */
    private static final long TIMEOUT_NANOS = 20_000_000_000L;

    /** A DMA the driver refused to hand to the device; the message says why. */
    static final class DmaRefused extends RuntimeException {
        private static final long serialVersionUID = 1L;

        DmaRefused(String message) {
            super(message);
        }
    }

    private final IoMem regs;
    private final long dmaMask;

    /** The device behind {@code regs}, whose DMA mask was set to {@code dmaMask}. */
    Edu(IoMem regs, long dmaMask) {
        this.regs = regs;
        this.dmaMask = dmaMask;
    }

    IoMem regs() {
        return regs;
    }

    int identity() {
        return regs.readl(REG_ID);
    }

    /** Writes {@code value} to the liveness register and returns what it reads back (~value when alive). */
    int liveness(int value) {
        regs.writel(value, REG_LIVENESS);
        return regs.readl(REG_LIVENESS);
    }

    /** n! as the device computes it (32 bits). */
    int factorial(int n) {
        regs.writel(n, REG_FACTORIAL);
        long deadline = System.nanoTime() + TIMEOUT_NANOS;
        while ((regs.readl(REG_STATUS) & STATUS_COMPUTING) != 0) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("edu: factorial of " + n + " still computing after "
                        + TIMEOUT_NANOS / 1_000_000_000L + " s (status 0x"
                        + Integer.toHexString(regs.readl(REG_STATUS)) + ")");
            }
            Thread.onSpinWait();
        }
        return regs.readl(REG_FACTORIAL);
    }

    /** DMA {@code count} bytes from RAM at DMA address {@code dma} into the device's buffer at {@code devOffset}. */
    void dmaToDevice(long dma, int devOffset, int count) throws InterruptedException {
        check(dma, devOffset, count);
        run(dma, BUF + devOffset, count, CMD_START);
    }

    /** DMA {@code count} bytes from the device's buffer at {@code devOffset} into RAM at DMA address {@code dma}. */
    void dmaToRam(int devOffset, long dma, int count) throws InterruptedException {
        check(dma, devOffset, count);
        run(BUF + devOffset, dma, count, CMD_START | CMD_TO_RAM);
    }

    /**
     * The device's own limits (see the class comment): {@link DmaRefused}. A DMA address that is
     * {@code DMA_MAPPING_ERROR} or above the mask means kmem handed out what it must refuse: an
     * {@link AssertionError}, the driver fails.
     */
    void check(long dma, int devOffset, int count) {
        if (count <= 0 || count > MAX_TRANSFER) {
            throw new DmaRefused("edu DMA refused: count " + count + " outside 1.." + MAX_TRANSFER);
        }
        if (devOffset < 0 || devOffset + count > MAX_TRANSFER) {
            throw new DmaRefused(String.format("edu DMA refused: device range 0x%x-0x%x leaves 0x%x-0x%x",
                    BUF + devOffset, BUF + devOffset + count - 1, BUF, BUF + MAX_TRANSFER - 1));
        }
        if (dma == MemoryPool.DMA_MAPPING_ERROR || Long.compareUnsigned(dma + count - 1, dmaMask) > 0) {
            throw new AssertionError(String.format("edu: DMA address 0x%x+%d reached the driver, above the device's"
                    + " mask 0x%x: kmem's DMA API must have refused it (the device would reach another address)",
                    dma, count, dmaMask));
        }
    }

    private void run(long src, long dst, int count, long cmd) throws InterruptedException {
        if ((regs.readq(REG_DMA_CMD) & CMD_START) != 0) {
            throw new IllegalStateException("edu: a DMA is already running (cmd 0x"
                    + Long.toHexString(regs.readq(REG_DMA_CMD)) + ")");
        }
        regs.writeq(src, REG_DMA_SRC);
        regs.writeq(dst, REG_DMA_DST);
        regs.writeq(count, REG_DMA_COUNT);
        regs.writeq(cmd, REG_DMA_CMD);
        long deadline = System.nanoTime() + TIMEOUT_NANOS;
        while ((regs.readq(REG_DMA_CMD) & CMD_START) != 0) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(String.format("edu: DMA 0x%x -> 0x%x (%d bytes) not done after %d s",
                        src, dst, count, TIMEOUT_NANOS / 1_000_000_000L));
            }
            Thread.sleep(1);
        }
    }
}
