package io.kmem.vmtest;

/**
 * QEMU's {@code edu} device (docs/specs/edu.rst in QEMU's sources) at the register level,
 * over a mapped BAR0.
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
 * <p>Every DMA is checked before any register is written, and refused with
 * {@link DmaRefused} (nothing reaches the device) when:
 * <ul>
 *   <li>a RAM address of the transfer is above the device's 28-bit DMA mask: edu would
 *       silently clamp it to another page, as a real device would write elsewhere;</li>
 *   <li>the count is 0 or the device side leaves {@code 0x40000 .. 0x40ffe}: QEMU 7.2's edu
 *       stops the whole VM with a "hardware error" for a transfer out of its buffer, and
 *       also for one that ends exactly at the buffer's end, so at most 4095 bytes move.</li>
 * </ul>
 * A transfer completes on the device's timer (100 ms of virtual time); the start bit is
 * polled until it clears.
 */
final class Edu {

    static final int VENDOR = 0x1234;
    static final int DEVICE = 0x11e8;
    static final int IDENTITY = 0x010000ed;

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
    /** edu's DMA mask: {@code DMA_BIT_MASK(28)}. */
    static final long DMA_MASK = (1L << 28) - 1;

    /** How long a factorial or a DMA may take before the driver gives up (wall time). */
    private static final long TIMEOUT_NANOS = 20_000_000_000L;

    /** A DMA the driver refused to hand to the device; the message says why. */
    static final class DmaRefused extends RuntimeException {
        private static final long serialVersionUID = 1L;

        DmaRefused(String message) {
            super(message);
        }
    }

    private final BarWindow regs;

    Edu(BarWindow regs) {
        this.regs = regs;
    }

    BarWindow regs() {
        return regs;
    }

    int identity() {
        return regs.readl(REG_ID);
    }

    /** Writes {@code value} to the liveness register and returns what it reads back (~value when alive). */
    int liveness(int value) {
        regs.writel(REG_LIVENESS, value);
        return regs.readl(REG_LIVENESS);
    }

    /** n! as the device computes it (32 bits). */
    int factorial(int n) throws InterruptedException {
        regs.writel(REG_FACTORIAL, n);
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

    /** DMA {@code count} bytes from RAM at {@code ramPhys} into the device buffer at {@code BUF + devOffset}. */
    void dmaToDevice(long ramPhys, int devOffset, int count) throws InterruptedException {
        check(ramPhys, devOffset, count);
        run(ramPhys, BUF + devOffset, count, CMD_START);
    }

    /** DMA {@code count} bytes from the device buffer at {@code BUF + devOffset} into RAM at {@code ramPhys}. */
    void dmaToRam(int devOffset, long ramPhys, int count) throws InterruptedException {
        check(ramPhys, devOffset, count);
        run(BUF + devOffset, ramPhys, count, CMD_START | CMD_TO_RAM);
    }

    /** Refuses what must not reach the device (see the class comment). */
    static void check(long ramPhys, int devOffset, int count) {
        if (count <= 0 || count > MAX_TRANSFER) {
            throw new DmaRefused("edu DMA refused: count " + count + " outside 1.." + MAX_TRANSFER);
        }
        if (devOffset < 0 || devOffset + count > MAX_TRANSFER) {
            throw new DmaRefused(String.format("edu DMA refused: device range 0x%x-0x%x leaves 0x%x-0x%x",
                    BUF + devOffset, BUF + devOffset + count - 1, BUF, BUF + MAX_TRANSFER - 1));
        }
        if (ramPhys < 0 || ramPhys + count - 1 > DMA_MASK) {
            throw new DmaRefused(String.format("edu DMA refused: RAM range 0x%x-0x%x is above the device's DMA mask"
                    + " 0x%x (28 bits); the device would reach another address", ramPhys, ramPhys + count - 1,
                    DMA_MASK));
        }
    }

    private void run(long src, long dst, int count, long cmd) throws InterruptedException {
        if ((regs.readq(REG_DMA_CMD) & CMD_START) != 0) {
            throw new IllegalStateException("edu: a DMA is already running (cmd 0x"
                    + Long.toHexString(regs.readq(REG_DMA_CMD)) + ")");
        }
        regs.writeq(REG_DMA_SRC, src);
        regs.writeq(REG_DMA_DST, dst);
        regs.writeq(REG_DMA_COUNT, count);
        regs.writeq(REG_DMA_CMD, cmd);
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
