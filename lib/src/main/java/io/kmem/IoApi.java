package io.kmem;

import io.kmem.error.BadAddressException;
import io.kmem.error.DoubleFreeException;
import io.kmem.error.KmemException;
import io.kmem.error.PrivilegeException;
import io.kmem.error.ResourceBusyException;
import io.kmem.error.SyscallException;
import java.lang.invoke.VarHandle;
import java.util.function.LongPredicate;
import java.util.function.LongUnaryOperator;
import java.nio.file.Path;

/**
 * Device memory and ports, as {@code <linux/io.h>} (and {@code <asm/io.h>},
 * {@code <asm/barrier.h>}) declare them: {@code ioremap}, the resource requests, the address
 * translations and the barriers.
 *
 * <p>An {@code ioremap} returns an {@link IoMem}, whose methods are the accessors
 * ({@code readb..readq}, {@code writeb..writeq}, their {@code _relaxed} forms,
 * {@code memcpy_fromio}, {@code memcpy_toio}, {@code memset_io}).
 *
 * <p>{@link MemoryPool} implements this contract; thread safety and the rules for arguments
 * are MemoryPool's.
 */
public interface IoApi {

    /**
     * {@code virt_to_phys}: the physical address of a direct-map address (anything kmalloc or
     * the page allocator returned).
     *
     * @param addr an address in the pool's direct map
     * @return the physical address of that byte
     * @throws BadAddressException outside the direct map, or on a frame the pool does not hold
     * @throws PrivilegeException in an unprivileged pool
     */
    long virt_to_phys(long addr);

    /**
     * {@code phys_to_virt}: the direct-map address of a physical address the pool holds.
     *
     * @param physAddr a physical address inside one of the pool's frames
     * @return the direct-map address of that byte
     * @throws BadAddressException for a physical address the pool does not hold
     * @throws PrivilegeException in an unprivileged pool
     */
    long phys_to_virt(long physAddr);

    /**
     * {@code ioremap}: maps {@code size} bytes of device memory at physical address {@code phys}
     * through {@code /dev/mem}, uncached (UC-), in an area of the pool's vmalloc window (listed
     * by vmallocinfo as {@code ioremap}). The address need not be page-aligned. Mappings do
     * not use the pool's frames; {@code close()} of the pool unmaps them (accesses through
     * their {@link IoMem} throw afterwards), and a closed pool makes no new ones.
     *
     * @param phys the physical address of the first byte
     * @param size bytes to map, above 0
     * @return the mapping, to access with the {@link IoMem} accessors
     * @throws IllegalArgumentException for a size of 0 or less, or a range that wraps
     * @throws BadAddressException when the range overlaps System RAM in {@code /proc/iomem}
     *         ("ioremap on RAM"; the kernel refuses it too)
     * @throws PrivilegeException when {@code /proc/iomem} hides its addresses
     *         (not root)
     * @throws SyscallException when {@code /dev/mem} does not open or map (the
     *         message says why: no /dev/mem in this kernel, STRICT_DEVMEM, not root)
     * @throws KmemException when the vmalloc window has no room for the mapping
     */
    IoMem ioremap(long phys, long size);

    /**
     * {@code ioremap_uc}: as {@link #ioremap}. User space cannot ask for strong UC; the mapping is
     * UC-, which differs from UC only where an MTRR says write-combining.
     *
     * @param phys the physical address of the first byte
     * @param size bytes to map, above 0
     * @return the mapping; failures throw as {@link #ioremap}'s
     */
    IoMem ioremap_uc(long phys, long size);

    /**
     * {@code ioremap_wc}: as {@link #ioremap}; {@code /dev/mem} offers no write-combining, so the
     * mapping is UC- (as the kernel's ioremap_wc is without PAT). For a prefetchable BAR,
     * {@link PciApi#pci_iomap_wc} gives real write-combining.
     *
     * @param phys the physical address of the first byte
     * @param size bytes to map, above 0
     * @return the mapping; failures throw as {@link #ioremap}'s
     */
    IoMem ioremap_wc(long phys, long size);

    /**
     * {@code ioremap_cache}: as {@link #ioremap}, write-back cached (for device memory that allows it).
     *
     * @param phys the physical address of the first byte
     * @param size bytes to map, above 0
     * @return the mapping; failures throw as {@link #ioremap}'s
     */
    IoMem ioremap_cache(long phys, long size);

    /**
     * A regular file, or a memfd as {@code /proc/self/fd/N}, standing in for a device: maps
     * {@code size} bytes at {@code offset} of it, which is also the "physical address" shown
     * for the mapping. For tests and demonstrations; accessors behave exactly as on device
     * memory.
     *
     * @param file   the file standing in for the device
     * @param offset where the mapping starts in the file, in bytes
     * @param size   bytes to map, above 0
     * @return the mapping
     * @throws IllegalArgumentException for a size of 0 or less, or a negative offset
     * @throws BadAddressException when the range is not inside the file
     * @throws SyscallException when the file does not open or map
     */
    IoMem ioremapFile(Path file, long offset, long size);

    /**
     * Map {@code map} of the UIO device {@code uioN}: address, size and offset from
     * {@code sys/class/uio/uioN/maps/mapM}, the bytes through {@code /dev/uioN} at mmap offset
     * {@code map * page size} (uncached, as the UIO core maps physical memory).
     *
     * @param uio the N of {@code /dev/uioN}
     * @param map the M of {@code maps/mapM}
     * @return the mapping
     * @throws KmemException when there is no such device or map
     */
    IoMem ioremapUio(int uio, int map);

    /**
     * {@code iounmap}: unmaps a mapping; later accesses through it throw.
     *
     * @param io a mapping of this pool
     * @throws DoubleFreeException when it is unmapped already
     * @throws IllegalArgumentException when it belongs to another pool
     */
    void iounmap(IoMem io);

    /**
     * {@code iounmap} by address: the address a mapping was returned at ({@link IoMem#address()}).
     * Accesses through its {@link IoMem} throw afterwards.
     *
     * @param addr the mapping's address (or the start of its page)
     * @throws DoubleFreeException when that mapping is unmapped already
     * @throws BadAddressException for an address that is not a mapping's (inside one, or none)
     */
    void iounmap(long addr);

    /**
     * {@code request_mem_region}: claims {@code n} bytes of physical address space at
     * {@code start} for {@code name}, nested in the host's resource that holds them (a PCI
     * BAR, a bus window). Returns the region.
     *
     * @param start the first physical address
     * @param n     bytes, above 0
     * @param name  the owner's name (the driver's), as /proc/iomem shows it
     * @return the region claimed
     * @throws IllegalArgumentException for n of 0 or less, a range that wraps, or no name
     * @throws ResourceBusyException when the range overlaps a claimed region (an
     *         earlier request, System RAM, a kernel driver's): the message names both ranges
     *         and owners
     */
    Resource request_mem_region(long start, long n, String name);

    /**
     * {@code release_mem_region}: releases the region requested with exactly this start and length.
     *
     * @param start the first address the region was requested with
     * @param n     the length it was requested with, in bytes
     * @throws BadAddressException when no requested region has them (or the host's region does)
     * @throws DoubleFreeException when that region was released already
     */
    void release_mem_region(long start, long n);

    /**
     * {@code request_region}: as {@link #request_mem_region}, for I/O ports (0 to 0xffff).
     *
     * @param start the first port
     * @param n     ports, above 0
     * @param name  the owner's name, as /proc/ioports shows it
     * @return the region claimed
     * @throws ResourceBusyException when the range overlaps a claimed region
     * @throws IllegalArgumentException for n of 0 or less, a range outside the port space, or no name
     */
    Resource request_region(long start, long n, String name);

    /**
     * {@code release_region}: as {@link #release_mem_region}, for I/O ports.
     *
     * @param start the first port the region was requested with
     * @param n     the number of ports it was requested with
     * @throws BadAddressException when no requested region has them
     * @throws DoubleFreeException when that region was released already
     */
    void release_region(long start, long n);

    /** {@code ETIMEDOUT} (110 on Linux): the poll helpers return its negation when the condition never held. */
    int ETIMEDOUT = 110;

    /**
     * {@code readx_poll_timeout}: reads {@code op(addr)} until {@code cond} holds of the value or
     * {@code timeout_us} microseconds have passed, sleeping {@code sleep_us} between reads.
     * Returns 0 or -ETIMEDOUT (-110); the last value read goes to {@code val[0]} (C's
     * {@code val} argument: Java has no out-parameters; an array the caller keeps, as
     * {@code dma_pool_alloc}'s {@code handle}, carries a 64-bit value too, which a return value
     * encoding both could not). After the
     * deadline the value is read and tested once more, so a timeout is reported only when the
     * condition was false at a read made after the deadline. For registers use
     * {@link IoMem#readl_poll_timeout} and its siblings; this form takes any read, e.g. a status
     * word in coherent memory: {@code readx_poll_timeout(a -> buf.smp_load_acquire_u32(a), 0, v, x -> x != 0, 10, 1000)}.
     *
     * @param op         the read, given {@code addr}
     * @param addr       what {@code op} is given
     * @param val        receives the last value read in element 0, or null
     * @param cond       the condition on the value that ends the poll
     * @param sleep_us   microseconds to sleep between reads (0: spin); may sleep, so not from atomic context
     * @param timeout_us microseconds before -ETIMEDOUT (0: poll until {@code cond} holds)
     * @return 0 when {@code cond} held, -ETIMEDOUT (-110) when it did not by the deadline
     * @throws IllegalArgumentException for a negative sleep or timeout
     */
    static int readx_poll_timeout(LongUnaryOperator op, long addr, long[] val, LongPredicate cond, long sleep_us,
            long timeout_us) {
        return Iopoll.poll("readx_poll_timeout", op, addr, val, cond, sleep_us, timeout_us, false);
    }

    /**
     * {@code readx_poll_timeout_atomic}: {@link #readx_poll_timeout} that never sleeps: it spins
     * {@code delay_us} between reads ({@code udelay}), for atomic context (an interrupt handler).
     *
     * @param op         the read, given {@code addr}
     * @param addr       what {@code op} is given
     * @param val        receives the last value read in element 0, or null
     * @param cond       the condition on the value that ends the poll
     * @param delay_us   microseconds to spin between reads (0: none)
     * @param timeout_us microseconds before -ETIMEDOUT (0: poll until {@code cond} holds)
     * @return 0 when {@code cond} held, -ETIMEDOUT (-110) when it did not by the deadline
     * @throws IllegalArgumentException for a negative delay or timeout
     */
    static int readx_poll_timeout_atomic(LongUnaryOperator op, long addr, long[] val, LongPredicate cond,
            long delay_us, long timeout_us) {
        return Iopoll.poll("readx_poll_timeout_atomic", op, addr, val, cond, delay_us, timeout_us, true);
    }

    /** {@code mb}: a full fence; loads and stores on neither side cross it. */
    static void mb() {
        VarHandle.fullFence();
    }

    /** {@code rmb}: loads before it are not moved after later loads and stores (an acquire fence). */
    static void rmb() {
        VarHandle.acquireFence();
    }

    /** {@code wmb}: stores after it are not moved before earlier loads and stores (a release fence). */
    static void wmb() {
        VarHandle.releaseFence();
    }

    /** {@code dma_rmb}: orders reads of coherent DMA memory (a descriptor's status, then its data). */
    static void dma_rmb() {
        VarHandle.acquireFence();
    }

    /** {@code dma_wmb}: orders writes to coherent DMA memory (a descriptor's data, then its ready bit). */
    static void dma_wmb() {
        VarHandle.releaseFence();
    }
}
