package io.kmem;

import io.kmem.error.BadAddressException;
import io.kmem.error.PoolClosedException;
import io.kmem.internal.mmio.Ioremap;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.function.IntPredicate;
import java.util.function.LongPredicate;

/**
 * A mapping of device memory that {@link MemoryPool#ioremap} (or {@code pci_iomap},
 * {@code ioremapUio}, {@code ioremapFile}) returned: the kernel's {@code void __iomem *}.
 * Registers are read and written through it at offsets from the start, with the kernel's
 * accessors: {@code regs.writel(1, 0x98)} is C's {@code writel(1, regs + 0x98)}.
 *
 * <p>Why a handle and not a {@code long} address as elsewhere in kmem: an access through a
 * bare address cannot be checked without a lookup per access, and an unchecked one that
 * misses the mapping faults the JVM. The handle holds its mapping's segment, so every access
 * is bounds- and liveness-checked in a few instructions, allocates nothing, and an access out
 * of range or after {@code iounmap} throws instead of faulting. The kernel makes
 * {@code __iomem} a type of its own for the same reason (sparse refuses plain dereferences).
 * {@link #address()} gives the address for {@code iounmap(long)} and reports.
 *
 * <h2>Accessors and their ordering (x86, as {@code Documentation/memory-barriers.txt}
 * describes the kernel's)</h2>
 * <pre>
 *   readb/w/l/q(off)          acquire load: later loads and stores, to memory or the device,
 *                             stay after it; so a DMA buffer read after a status register sees
 *                             what the device wrote before it set that status
 *   writeb/w/l/q(v, off)      release store: earlier loads and stores, among them the writes
 *                             that filled a DMA buffer, stay before it; so a doorbell never
 *                             overtakes the descriptor it announces
 *   read*_relaxed, write*_relaxed
 *                             opaque: no fence; each access happens, once, at its full width,
 *                             in program order with other accesses to the same register; not
 *                             ordered against ordinary memory (as the kernel's _relaxed)
 *   ioread8/16/32, iowrite8/16/32   readb/w/l and writeb/w/l (memory BARs)
 *   ioread16be/32be, iowrite16be/32be   the same, big-endian
 *   lo_hi_writeq, hi_lo_writeq, lo_hi_readq, hi_lo_readq
 *                             a 64-bit register as two readl/writel, in the order named
 *   read{b,w,l,q}_poll_timeout(_atomic)   read until a condition holds or a timeout passes:
 *                             0 or -ETIMEDOUT, the last value in val[0] ({@code <linux/iopoll.h>})
 *   memcpy_fromio, memcpy_toio, memset_io   bulk copies, no ordering of their own: follow a
 *                             memcpy_toio with a writel, precede a memcpy_fromio with a readl
 * </pre>
 * Values are little-endian, as PCI registers are. {@code readb} and {@code readw} return the
 * unsigned value ({@code u8}, {@code u16}) in an {@code int}; {@code writeb} and {@code writew}
 * take the low bits of theirs.
 *
 * <p>On x86 an acquire load and a release store compile to a plain {@code mov}, as the
 * kernel's {@code readl}/{@code writel} do; the Java memory model adds that the compiler does
 * not move the accesses named above across them. Orders it leaves out: a release store
 * followed by an acquire load of another address (a {@code writel}, then a {@code readl} of a
 * status register), and two relaxed accesses to different registers. The kernel promises
 * both for one device and gets them from the memory type, not from a fence: the CPU
 * never reorders accesses to uncached memory (UC-, what {@code ioremap}, {@code resourceN}
 * and UIO give), and its compiler is kept from it because the accessors are {@code asm
 * volatile} with a memory clobber. In Java the compiler side holds on HotSpot, whose C2 puts a
 * compiler-only barrier around every acquire, release and opaque access of off-heap memory;
 * it is HotSpot's behaviour, not the specification's. Code that must not depend on it, or
 * that needs a write to reach the device before a later load of ordinary memory, puts
 * {@link IoApi#mb()} between them.
 *
 * <p>Misuse throws {@link BadAddressException} naming the accessor, the offset and the
 * mapping: an offset outside it, one not aligned to the access width (a register access
 * must be one naturally aligned access), any access after {@code iounmap}.
 *
 * <p>Thread safety: accessors may be called from any thread; {@code iounmap} waits for none:
 * an access racing it, or the pool's close, throws {@link BadAddressException}, and every call
 * after the pool's close throws {@link PoolClosedException}.
 */
public final class IoMem {
    private static final VarHandle U8 = ValueLayout.JAVA_BYTE.varHandle();
    private static final VarHandle U16 = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN).varHandle();
    private static final VarHandle U32 = ValueLayout.JAVA_INT.withOrder(ByteOrder.LITTLE_ENDIAN).varHandle();
    private static final VarHandle U64 = ValueLayout.JAVA_LONG.withOrder(ByteOrder.LITTLE_ENDIAN).varHandle();

    final Ioremap.Mapping mapping;
    final MemoryPool pool;
    private final MemorySegment seg;
    private final long address;
    /** Bytes accessible: the mapping's size, 0 once unmapped (the arena's close is the real guard). */
    private long limit;

    IoMem(Ioremap.Mapping mapping, MemoryPool pool) {
        this.mapping = mapping;
        this.pool = pool;
        this.seg = mapping.segment();
        this.address = seg.address();
        this.limit = seg.byteSize();
        mapping.onUnmap(() -> limit = 0);
    }

    /**
     * The virtual address of byte 0: what {@code ioremap} returns in C.
     *
     * @return the address, for {@code iounmap(long)} and reports (it stays the same after {@code iounmap})
     */
    public long address() {
        pool.phys.ensureOpen("address");
        return address;
    }

    /**
     * Bytes mapped.
     *
     * @return the size asked for at mapping time; offsets run from 0 to it
     */
    public long size() {
        pool.phys.ensureOpen("size");
        return mapping.area().size();
    }

    /**
     * The physical address of byte 0 (for a stand-in file: its offset in the file).
     *
     * @return the physical address (or file offset) the mapping starts at
     */
    public long phys() {
        pool.phys.ensureOpen("phys");
        return mapping.area().phys();
    }

    /**
     * The call that made the mapping ("ioremap", "pci_iomap", ...) and the memory type it got.
     *
     * @return the call's name, a blank, and the memory type (e.g. {@code "pci_iomap_wc WC"})
     */
    public String kind() {
        pool.phys.ensureOpen("kind");
        return mapping.area().function() + " " + mapping.area().caching().label();
    }

    /**
     * Whether {@code iounmap} (or the pool's close) has unmapped it.
     *
     * @return true once unmapped; every access throws then
     */
    public boolean unmapped() {
        return mapping.unmapped();
    }

    // ------------------------------------------------------------------ ordered accessors

    /**
     * {@code readb}: the byte at {@code offset}, 0 to 255.
     *
     * @param offset bytes from the mapping's start
     * @return the byte, 0 to 255
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap}
     */
    public int readb(long offset) {
        check("readb", offset, 1);
        try {
            return (byte) U8.getAcquire(seg, offset) & 0xff;
        } catch (IllegalStateException e) {
            throw gone("readb", offset, e);
        }
    }

    /**
     * {@code readw}: the little-endian 16-bit value at {@code offset}, 0 to 65535.
     *
     * @param offset bytes from the mapping's start, a multiple of 2
     * @return the 16-bit value, 0 to 65535
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap}
     */
    public int readw(long offset) {
        check("readw", offset, 2);
        try {
            return (short) U16.getAcquire(seg, offset) & 0xffff;
        } catch (IllegalStateException e) {
            throw gone("readw", offset, e);
        }
    }

    /**
     * {@code readl}: the little-endian 32-bit value at {@code offset}.
     *
     * @param offset bytes from the mapping's start, a multiple of 4
     * @return the 32-bit value (as a signed {@code int})
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap}
     */
    public int readl(long offset) {
        check("readl", offset, 4);
        try {
            return (int) U32.getAcquire(seg, offset);
        } catch (IllegalStateException e) {
            throw gone("readl", offset, e);
        }
    }

    /**
     * {@code readq}: the little-endian 64-bit value at {@code offset}, one access.
     *
     * @param offset bytes from the mapping's start, a multiple of 8
     * @return the 64-bit value
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap}
     */
    public long readq(long offset) {
        check("readq", offset, 8);
        try {
            return (long) U64.getAcquire(seg, offset);
        } catch (IllegalStateException e) {
            throw gone("readq", offset, e);
        }
    }

    /**
     * {@code writeb}: the low 8 bits of {@code value} at {@code offset}.
     *
     * @param value  the value; its low 8 bits are written
     * @param offset bytes from the mapping's start
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap}
     */
    public void writeb(int value, long offset) {
        check("writeb", offset, 1);
        try {
            U8.setRelease(seg, offset, (byte) value);
        } catch (IllegalStateException e) {
            throw gone("writeb", offset, e);
        }
    }

    /**
     * {@code writew}: the low 16 bits of {@code value} at {@code offset}, little-endian.
     *
     * @param value  the value; its low 16 bits are written
     * @param offset bytes from the mapping's start, a multiple of 2
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap}
     */
    public void writew(int value, long offset) {
        check("writew", offset, 2);
        try {
            U16.setRelease(seg, offset, (short) value);
        } catch (IllegalStateException e) {
            throw gone("writew", offset, e);
        }
    }

    /**
     * {@code writel}: {@code value} at {@code offset}, little-endian.
     *
     * @param value  the value
     * @param offset bytes from the mapping's start, a multiple of 4
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap}
     */
    public void writel(int value, long offset) {
        check("writel", offset, 4);
        try {
            U32.setRelease(seg, offset, value);
        } catch (IllegalStateException e) {
            throw gone("writel", offset, e);
        }
    }

    /**
     * {@code writeq}: {@code value} at {@code offset}, little-endian, one access.
     *
     * @param value  the value
     * @param offset bytes from the mapping's start, a multiple of 8
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap}
     */
    public void writeq(long value, long offset) {
        check("writeq", offset, 8);
        try {
            U64.setRelease(seg, offset, value);
        } catch (IllegalStateException e) {
            throw gone("writeq", offset, e);
        }
    }

    // ------------------------------------------------------------------ relaxed accessors

    /**
     * {@code readb_relaxed}: as {@link #readb}, without ordering against ordinary memory.
     *
     * @param offset bytes from the mapping's start
     * @return the byte, 0 to 255
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap}
     */
    public int readb_relaxed(long offset) {
        check("readb_relaxed", offset, 1);
        try {
            return (byte) U8.getOpaque(seg, offset) & 0xff;
        } catch (IllegalStateException e) {
            throw gone("readb_relaxed", offset, e);
        }
    }

    /**
     * {@code readw_relaxed}.
     *
     * @param offset bytes from the mapping's start, a multiple of 2
     * @return the 16-bit value, 0 to 65535
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap}
     */
    public int readw_relaxed(long offset) {
        check("readw_relaxed", offset, 2);
        try {
            return (short) U16.getOpaque(seg, offset) & 0xffff;
        } catch (IllegalStateException e) {
            throw gone("readw_relaxed", offset, e);
        }
    }

    /**
     * {@code readl_relaxed}.
     *
     * @param offset bytes from the mapping's start, a multiple of 4
     * @return the 32-bit value (as a signed {@code int})
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap}
     */
    public int readl_relaxed(long offset) {
        check("readl_relaxed", offset, 4);
        try {
            return (int) U32.getOpaque(seg, offset);
        } catch (IllegalStateException e) {
            throw gone("readl_relaxed", offset, e);
        }
    }

    /**
     * {@code readq_relaxed}.
     *
     * @param offset bytes from the mapping's start, a multiple of 8
     * @return the 64-bit value
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap}
     */
    public long readq_relaxed(long offset) {
        check("readq_relaxed", offset, 8);
        try {
            return (long) U64.getOpaque(seg, offset);
        } catch (IllegalStateException e) {
            throw gone("readq_relaxed", offset, e);
        }
    }

    /**
     * {@code writeb_relaxed}.
     *
     * @param value  the value; its low 8 bits are written
     * @param offset bytes from the mapping's start
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap}
     */
    public void writeb_relaxed(int value, long offset) {
        check("writeb_relaxed", offset, 1);
        try {
            U8.setOpaque(seg, offset, (byte) value);
        } catch (IllegalStateException e) {
            throw gone("writeb_relaxed", offset, e);
        }
    }

    /**
     * {@code writew_relaxed}.
     *
     * @param value  the value; its low 16 bits are written
     * @param offset bytes from the mapping's start, a multiple of 2
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap}
     */
    public void writew_relaxed(int value, long offset) {
        check("writew_relaxed", offset, 2);
        try {
            U16.setOpaque(seg, offset, (short) value);
        } catch (IllegalStateException e) {
            throw gone("writew_relaxed", offset, e);
        }
    }

    /**
     * {@code writel_relaxed}.
     *
     * @param value  the value
     * @param offset bytes from the mapping's start, a multiple of 4
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap}
     */
    public void writel_relaxed(int value, long offset) {
        check("writel_relaxed", offset, 4);
        try {
            U32.setOpaque(seg, offset, value);
        } catch (IllegalStateException e) {
            throw gone("writel_relaxed", offset, e);
        }
    }

    /**
     * {@code writeq_relaxed}.
     *
     * @param value  the value
     * @param offset bytes from the mapping's start, a multiple of 8
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap}
     */
    public void writeq_relaxed(long value, long offset) {
        check("writeq_relaxed", offset, 8);
        try {
            U64.setOpaque(seg, offset, value);
        } catch (IllegalStateException e) {
            throw gone("writeq_relaxed", offset, e);
        }
    }

    // ------------------------------------------------------------------ ioread / iowrite

    /**
     * {@code ioread8}: {@link #readb}.
     *
     * @param offset bytes from the mapping's start
     * @return the byte, 0 to 255
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap}
     */
    public int ioread8(long offset) {
        check("ioread8", offset, 1);
        try {
            return (byte) U8.getAcquire(seg, offset) & 0xff;
        } catch (IllegalStateException e) {
            throw gone("ioread8", offset, e);
        }
    }

    /**
     * {@code ioread16}: {@link #readw}.
     *
     * @param offset bytes from the mapping's start, a multiple of 2
     * @return the 16-bit value, 0 to 65535
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap}
     */
    public int ioread16(long offset) {
        check("ioread16", offset, 2);
        try {
            return (short) U16.getAcquire(seg, offset) & 0xffff;
        } catch (IllegalStateException e) {
            throw gone("ioread16", offset, e);
        }
    }

    /**
     * {@code ioread32}: {@link #readl}.
     *
     * @param offset bytes from the mapping's start, a multiple of 4
     * @return the 32-bit value (as a signed {@code int})
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap}
     */
    public int ioread32(long offset) {
        check("ioread32", offset, 4);
        try {
            return (int) U32.getAcquire(seg, offset);
        } catch (IllegalStateException e) {
            throw gone("ioread32", offset, e);
        }
    }

    /**
     * {@code ioread16be}: the big-endian 16-bit value at {@code offset}, 0 to 65535.
     *
     * @param offset bytes from the mapping's start, a multiple of 2
     * @return the 16-bit value, 0 to 65535
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap}
     */
    public int ioread16be(long offset) {
        check("ioread16be", offset, 2);
        try {
            return Short.reverseBytes((short) U16.getAcquire(seg, offset)) & 0xffff;
        } catch (IllegalStateException e) {
            throw gone("ioread16be", offset, e);
        }
    }

    /**
     * {@code ioread32be}: the big-endian 32-bit value at {@code offset}.
     *
     * @param offset bytes from the mapping's start, a multiple of 4
     * @return the 32-bit value (as a signed {@code int})
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap}
     */
    public int ioread32be(long offset) {
        check("ioread32be", offset, 4);
        try {
            return Integer.reverseBytes((int) U32.getAcquire(seg, offset));
        } catch (IllegalStateException e) {
            throw gone("ioread32be", offset, e);
        }
    }

    /**
     * {@code iowrite8}: {@link #writeb}.
     *
     * @param value  the value; its low 8 bits are written
     * @param offset bytes from the mapping's start
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap}
     */
    public void iowrite8(int value, long offset) {
        check("iowrite8", offset, 1);
        try {
            U8.setRelease(seg, offset, (byte) value);
        } catch (IllegalStateException e) {
            throw gone("iowrite8", offset, e);
        }
    }

    /**
     * {@code iowrite16}: {@link #writew}.
     *
     * @param value  the value; its low 16 bits are written
     * @param offset bytes from the mapping's start, a multiple of 2
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap}
     */
    public void iowrite16(int value, long offset) {
        check("iowrite16", offset, 2);
        try {
            U16.setRelease(seg, offset, (short) value);
        } catch (IllegalStateException e) {
            throw gone("iowrite16", offset, e);
        }
    }

    /**
     * {@code iowrite32}: {@link #writel}.
     *
     * @param value  the value
     * @param offset bytes from the mapping's start, a multiple of 4
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap}
     */
    public void iowrite32(int value, long offset) {
        check("iowrite32", offset, 4);
        try {
            U32.setRelease(seg, offset, value);
        } catch (IllegalStateException e) {
            throw gone("iowrite32", offset, e);
        }
    }

    /**
     * {@code iowrite16be}: the low 16 bits of {@code value} at {@code offset}, big-endian.
     *
     * @param value  the value; its low 16 bits are written
     * @param offset bytes from the mapping's start, a multiple of 2
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap}
     */
    public void iowrite16be(int value, long offset) {
        check("iowrite16be", offset, 2);
        try {
            U16.setRelease(seg, offset, Short.reverseBytes((short) value));
        } catch (IllegalStateException e) {
            throw gone("iowrite16be", offset, e);
        }
    }

    /**
     * {@code iowrite32be}: {@code value} at {@code offset}, big-endian.
     *
     * @param value  the value
     * @param offset bytes from the mapping's start, a multiple of 4
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap}
     */
    public void iowrite32be(int value, long offset) {
        check("iowrite32be", offset, 4);
        try {
            U32.setRelease(seg, offset, Integer.reverseBytes(value));
        } catch (IllegalStateException e) {
            throw gone("iowrite32be", offset, e);
        }
    }

    // ------------------------------------------------------------------ 64-bit registers as two 32-bit halves

    /**
     * {@code lo_hi_writeq}: writes a 64-bit register as two {@link #writel}s, the low half at
     * {@code offset} first, then the high half at {@code offset + 4}: for a device on a bus
     * (or behind a bridge) that takes no 64-bit access, or whose register latches on the
     * write of its high half. The pair is not atomic: the device may see one half new and
     * the other old between them.
     *
     * @param value  the 64-bit value
     * @param offset bytes from the mapping's start, a multiple of 4, with 8 bytes inside the mapping
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap};
     *         checked before either half is written
     */
    public void lo_hi_writeq(long value, long offset) {
        checkPair("lo_hi_writeq", offset);
        writel((int) value, offset);
        writel((int) (value >>> 32), offset + 4);
    }

    /**
     * {@code hi_lo_writeq}: as {@link #lo_hi_writeq}, the high half first, then the low half:
     * for a register that latches on the write of its low half.
     *
     * @param value  the 64-bit value
     * @param offset bytes from the mapping's start, a multiple of 4, with 8 bytes inside the mapping
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap};
     *         checked before either half is written
     */
    public void hi_lo_writeq(long value, long offset) {
        checkPair("hi_lo_writeq", offset);
        writel((int) (value >>> 32), offset + 4);
        writel((int) value, offset);
    }

    /**
     * {@code lo_hi_readq}: reads a 64-bit register as two {@link #readl}s, the low half at
     * {@code offset} first (a device that latches the high half on that read returns a
     * consistent pair), then the high half at {@code offset + 4}.
     *
     * @param offset bytes from the mapping's start, a multiple of 4, with 8 bytes inside the mapping
     * @return the high half's 32 bits above the low half's
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap}
     */
    public long lo_hi_readq(long offset) {
        checkPair("lo_hi_readq", offset);
        long lo = readl(offset) & 0xffffffffL;
        long hi = readl(offset + 4) & 0xffffffffL;
        return hi << 32 | lo;
    }

    /**
     * {@code hi_lo_readq}: as {@link #lo_hi_readq}, the high half first.
     *
     * @param offset bytes from the mapping's start, a multiple of 4, with 8 bytes inside the mapping
     * @return the high half's 32 bits above the low half's
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap}
     */
    public long hi_lo_readq(long offset) {
        checkPair("hi_lo_readq", offset);
        long hi = readl(offset + 4) & 0xffffffffL;
        long lo = readl(offset) & 0xffffffffL;
        return hi << 32 | lo;
    }

    private void checkPair(String function, long offset) {
        check(function, offset, 4);
        if (offset > limit - 8) {
            throw outside(function, offset, 8);
        }
    }

    // ------------------------------------------------------------------ polling (linux/iopoll.h)

    /**
     * {@code readb_poll_timeout}: {@link #readb} at {@code offset} until {@code cond} holds of
     * the value or {@code timeout_us} microseconds have passed, sleeping {@code sleep_us}
     * between reads; the kernel's contract, as {@link IoApi#readx_poll_timeout} describes it.
     *
     * @param offset     bytes from the mapping's start
     * @param val        receives the last value read (0 to 255) in element 0, or null
     * @param cond       the condition on the value that ends the poll
     * @param sleep_us   microseconds to sleep between reads (0: spin)
     * @param timeout_us microseconds before -ETIMEDOUT (0: none)
     * @return 0 when {@code cond} held, -ETIMEDOUT (-110) when it did not by the deadline
     * @throws BadAddressException for an offset outside the mapping, or after {@code iounmap}
     * @throws IllegalArgumentException for a negative sleep or timeout
     */
    public int readb_poll_timeout(long offset, int[] val, IntPredicate cond, long sleep_us, long timeout_us) {
        return poll32("readb_poll_timeout", 1, offset, val, cond, sleep_us, timeout_us, false);
    }

    /**
     * {@code readw_poll_timeout}: as {@link #readb_poll_timeout}, with {@link #readw}.
     *
     * @param offset     bytes from the mapping's start, a multiple of 2
     * @param val        receives the last value read (0 to 65535) in element 0, or null
     * @param cond       the condition on the value that ends the poll
     * @param sleep_us   microseconds to sleep between reads (0: spin)
     * @param timeout_us microseconds before -ETIMEDOUT (0: none)
     * @return 0 when {@code cond} held, -ETIMEDOUT (-110) when it did not by the deadline
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap}
     * @throws IllegalArgumentException for a negative sleep or timeout
     */
    public int readw_poll_timeout(long offset, int[] val, IntPredicate cond, long sleep_us, long timeout_us) {
        return poll32("readw_poll_timeout", 2, offset, val, cond, sleep_us, timeout_us, false);
    }

    /**
     * {@code readl_poll_timeout}: as {@link #readb_poll_timeout}, with {@link #readl}:
     * {@code regs.readl_poll_timeout(STATUS, v, s -> (s & DONE) != 0, 10, 10_000)}.
     *
     * @param offset     bytes from the mapping's start, a multiple of 4
     * @param val        receives the last value read in element 0, or null
     * @param cond       the condition on the value that ends the poll
     * @param sleep_us   microseconds to sleep between reads (0: spin)
     * @param timeout_us microseconds before -ETIMEDOUT (0: none)
     * @return 0 when {@code cond} held, -ETIMEDOUT (-110) when it did not by the deadline
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap}
     * @throws IllegalArgumentException for a negative sleep or timeout
     */
    public int readl_poll_timeout(long offset, int[] val, IntPredicate cond, long sleep_us, long timeout_us) {
        return poll32("readl_poll_timeout", 4, offset, val, cond, sleep_us, timeout_us, false);
    }

    /**
     * {@code readq_poll_timeout}: as {@link #readb_poll_timeout}, with {@link #readq}.
     *
     * @param offset     bytes from the mapping's start, a multiple of 8
     * @param val        receives the last value read in element 0, or null
     * @param cond       the condition on the value that ends the poll
     * @param sleep_us   microseconds to sleep between reads (0: spin)
     * @param timeout_us microseconds before -ETIMEDOUT (0: none)
     * @return 0 when {@code cond} held, -ETIMEDOUT (-110) when it did not by the deadline
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap}
     * @throws IllegalArgumentException for a negative sleep or timeout
     */
    public int readq_poll_timeout(long offset, long[] val, LongPredicate cond, long sleep_us, long timeout_us) {
        return poll64("readq_poll_timeout", offset, val, cond, sleep_us, timeout_us, false);
    }

    /**
     * {@code readb_poll_timeout_atomic}: {@link #readb_poll_timeout} that spins {@code delay_us}
     * between reads instead of sleeping, for atomic context.
     *
     * @param offset     bytes from the mapping's start
     * @param val        receives the last value read (0 to 255) in element 0, or null
     * @param cond       the condition on the value that ends the poll
     * @param delay_us   microseconds to spin between reads (0: none)
     * @param timeout_us microseconds before -ETIMEDOUT (0: none)
     * @return 0 when {@code cond} held, -ETIMEDOUT (-110) when it did not by the deadline
     * @throws BadAddressException for an offset outside the mapping, or after {@code iounmap}
     * @throws IllegalArgumentException for a negative delay or timeout
     */
    public int readb_poll_timeout_atomic(long offset, int[] val, IntPredicate cond, long delay_us, long timeout_us) {
        return poll32("readb_poll_timeout_atomic", 1, offset, val, cond, delay_us, timeout_us, true);
    }

    /**
     * {@code readw_poll_timeout_atomic}.
     *
     * @param offset     bytes from the mapping's start, a multiple of 2
     * @param val        receives the last value read (0 to 65535) in element 0, or null
     * @param cond       the condition on the value that ends the poll
     * @param delay_us   microseconds to spin between reads (0: none)
     * @param timeout_us microseconds before -ETIMEDOUT (0: none)
     * @return 0 when {@code cond} held, -ETIMEDOUT (-110) when it did not by the deadline
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap}
     * @throws IllegalArgumentException for a negative delay or timeout
     */
    public int readw_poll_timeout_atomic(long offset, int[] val, IntPredicate cond, long delay_us, long timeout_us) {
        return poll32("readw_poll_timeout_atomic", 2, offset, val, cond, delay_us, timeout_us, true);
    }

    /**
     * {@code readl_poll_timeout_atomic}.
     *
     * @param offset     bytes from the mapping's start, a multiple of 4
     * @param val        receives the last value read in element 0, or null
     * @param cond       the condition on the value that ends the poll
     * @param delay_us   microseconds to spin between reads (0: none)
     * @param timeout_us microseconds before -ETIMEDOUT (0: none)
     * @return 0 when {@code cond} held, -ETIMEDOUT (-110) when it did not by the deadline
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap}
     * @throws IllegalArgumentException for a negative delay or timeout
     */
    public int readl_poll_timeout_atomic(long offset, int[] val, IntPredicate cond, long delay_us, long timeout_us) {
        return poll32("readl_poll_timeout_atomic", 4, offset, val, cond, delay_us, timeout_us, true);
    }

    /**
     * {@code readq_poll_timeout_atomic}.
     *
     * @param offset     bytes from the mapping's start, a multiple of 8
     * @param val        receives the last value read in element 0, or null
     * @param cond       the condition on the value that ends the poll
     * @param delay_us   microseconds to spin between reads (0: none)
     * @param timeout_us microseconds before -ETIMEDOUT (0: none)
     * @return 0 when {@code cond} held, -ETIMEDOUT (-110) when it did not by the deadline
     * @throws BadAddressException for an offset outside the mapping or unaligned, or after {@code iounmap}
     * @throws IllegalArgumentException for a negative delay or timeout
     */
    public int readq_poll_timeout_atomic(long offset, long[] val, LongPredicate cond, long delay_us, long timeout_us) {
        return poll64("readq_poll_timeout_atomic", offset, val, cond, delay_us, timeout_us, true);
    }

    private int poll32(String function, int bytes, long offset, int[] val, IntPredicate cond, long sleepUs,
            long timeoutUs, boolean atomic) {
        check(function, offset, bytes);
        if (cond == null) {
            throw new NullPointerException(function + ": cond is null");
        }
        Iopoll.check(function, sleepUs, timeoutUs, atomic);
        long[] last = new long[1];
        int rc = Iopoll.poll(function, o -> switch (bytes) {
            case 1 -> readb(o);
            case 2 -> readw(o);
            default -> readl(o);
        }, offset, last, v -> cond.test((int) v), sleepUs, timeoutUs, atomic);
        if (val != null && val.length > 0) {
            val[0] = (int) last[0];
        }
        return rc;
    }

    private int poll64(String function, long offset, long[] val, LongPredicate cond, long sleepUs, long timeoutUs,
            boolean atomic) {
        check(function, offset, 8);
        if (cond == null) {
            throw new NullPointerException(function + ": cond is null");
        }
        return Iopoll.poll(function, this::readq, offset, val, cond, sleepUs, timeoutUs, atomic);
    }

    // ------------------------------------------------------------------ bulk

    /**
     * {@code memcpy_fromio}: copies {@code count} bytes at {@code from} into {@code to}.
     *
     * @param to    where the bytes go, from its byte 0 (any segment, at least {@code count} bytes)
     * @param from  bytes from the mapping's start
     * @param count bytes to copy, 0 or more
     * @throws BadAddressException for a range outside the mapping, or after {@code iounmap}
     */
    public void memcpy_fromio(MemorySegment to, long from, long count) {
        checkRange("memcpy_fromio", from, count);
        try {
            MemorySegment.copy(seg, from, to, 0, count);
        } catch (IllegalStateException e) {
            throw gone("memcpy_fromio", from, e);
        }
    }

    /**
     * {@code memcpy_toio}: copies {@code count} bytes of {@code from} to {@code to}.
     *
     * @param to    bytes from the mapping's start
     * @param from  where the bytes come from, from its byte 0 (any segment, at least {@code count} bytes)
     * @param count bytes to copy, 0 or more
     * @throws BadAddressException for a range outside the mapping, or after {@code iounmap}
     */
    public void memcpy_toio(long to, MemorySegment from, long count) {
        checkRange("memcpy_toio", to, count);
        try {
            MemorySegment.copy(from, 0, seg, to, count);
        } catch (IllegalStateException e) {
            throw gone("memcpy_toio", to, e);
        }
    }

    /**
     * {@code memset_io}: sets {@code count} bytes at {@code offset} to the low 8 bits of {@code value}.
     *
     * @param offset bytes from the mapping's start
     * @param value  the fill byte, in its low 8 bits
     * @param count  bytes to set, 0 or more
     * @throws BadAddressException for a range outside the mapping, or after {@code iounmap}
     */
    public void memset_io(long offset, int value, long count) {
        checkRange("memset_io", offset, count);
        try {
            seg.asSlice(offset, count).fill((byte) value);
        } catch (IllegalStateException e) {
            throw gone("memset_io", offset, e);
        }
    }

    // ------------------------------------------------------------------ checks

    private void check(String function, long offset, int bytes) {
        if (offset < 0 || offset > limit - bytes || ((address + offset) & (bytes - 1)) != 0) {
            throw outside(function, offset, bytes);
        }
    }

    private void checkRange(String function, long offset, long count) {
        if (count < 0 || offset < 0 || offset > limit - count) {
            throw outside(function, offset, count);
        }
    }

    /**
     * An access that passed the check while another thread unmapped the mapping (iounmap, or
     * the pool's close): the JDK's "Already closed" from the segment, made kmem's. Off the fast
     * path: the handler costs the accessors nothing until it runs.
     */
    private RuntimeException gone(String function, long offset, IllegalStateException e) {
        if (seg.scope().isAlive()) {
            return e;
        }
        BadAddressException b = new BadAddressException(function + "(0x" + Long.toHexString(offset) + "): the mapping"
                + " was unmapped (by iounmap or the pool's close) during the access" + where());
        b.initCause(e);
        return b;
    }

    private String where() {
        Ioremap.Area a = mapping.area();
        return String.format(" (%s of %d bytes at 0x%x, phys 0x%x, by %s)", a.function(), a.size(), a.addr(), a.phys(),
                a.caller());
    }

    private RuntimeException outside(String function, long offset, long bytes) {
        if (pool.phys.closed()) {
            return new PoolClosedException(function + "(0x" + Long.toHexString(offset) + "): pool '" + pool.name()
                    + "' is closed; its mappings are unmapped");
        }
        Ioremap.Area a = mapping.area();
        String where = where();
        if (mapping.unmapped()) {
            return new BadAddressException(function + "(0x" + Long.toHexString(offset) + "): the mapping was unmapped by"
                    + " iounmap" + where);
        }
        if (offset >= 0 && bytes > 0 && offset <= a.size() - bytes) {
            return new BadAddressException(function + "(0x" + Long.toHexString(offset) + "): not " + bytes
                    + "-byte aligned (address 0x" + Long.toHexString(address + offset) + "); a register access must be"
                    + " naturally aligned" + where);
        }
        return new BadAddressException(function + "(0x" + Long.toHexString(offset) + ", " + bytes
                + " bytes): outside the mapping; expected an offset from 0 to " + (a.size() - Math.max(bytes, 0)) + where);
    }

    @Override
    public String toString() {
        Ioremap.Area a = mapping.area();
        return String.format("IoMem[0x%x, %d bytes, phys 0x%x, %s %s%s]", a.addr(), a.size(), a.phys(), a.function(),
                a.caching().label(), mapping.unmapped() ? ", unmapped" : "");
    }
}
