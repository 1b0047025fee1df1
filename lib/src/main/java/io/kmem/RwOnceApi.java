package io.kmem;

import io.kmem.error.BadAddressException;
import java.lang.foreign.MemorySegment;

/**
 * Ring accessors on memory a device shares: the kernel's {@code READ_ONCE}/{@code WRITE_ONCE}
 * ({@code <asm-generic/rwonce.h>}) and {@code smp_load_acquire}/{@code smp_store_release}
 * ({@code <asm/barrier.h>}), for 8, 16, 32 and 64 bits ({@code _u8} ... {@code _u64}),
 * little-endian as descriptors are ({@code __le32}).
 *
 * <p>Three ways to reach the memory, all allocation-free: by the offset in a coherent buffer
 * ({@link DmaBuffer#READ_ONCE_u32(long)}), by a direct-map address of pool memory
 * ({@code pool.READ_ONCE_u32(addr)}: kmalloc, pages, coherent buffers, dma_pool blocks), and
 * by a segment and an offset (the static forms here: any segment, a vmalloc area's from
 * {@code pool.segment} included).
 *
 * <h2>Why not {@code segment.get}</h2>
 * A plain load in a loop that writes nothing may be read once and hoisted out of the loop by
 * the JIT: {@code while (seg.get(JAVA_INT, STATUS) == 0) ;} can spin forever although the device
 * wrote the status. A fence ({@code dma_rmb()}) does not help: it orders accesses, it does not
 * make a load happen again. {@code READ_ONCE} is an opaque access: it is performed each time
 * the program says so, whole, and sees another agent's write eventually. The acquire and
 * release forms add ordering: nothing after an acquire load moves before it, nothing before a
 * release store moves after it. On x86 all of them are one plain {@code mov}; what they cost
 * is only the optimisations they forbid.
 *
 * <h2>The descriptor-ring idiom</h2>
 * <pre>
 *   receive (the device writes descriptors, sets DD last)
 *     while ((buf.READ_ONCE_u32(d + STATUS) &amp; DD) != 0) {   // READ_ONCE: re-read every time
 *         dma_rmb();                          // the status before the length and data it covers
 *         int len = buf.READ_ONCE_u16(d + LEN);
 *         ... copy the packet out, then give the descriptor back:
 *         buf.WRITE_ONCE_u64(d + ADDR, bufDma);
 *         dma_wmb();                          // address and length before the flag
 *         buf.WRITE_ONCE_u32(d + STATUS, 0);
 *     }
 *     regs.writel(tail, RDT);                 // writel is a release: the descriptors before the doorbell
 *
 *   a split ring shared with the device (virtio): publish an index with a release store,
 *   read the device's with an acquire load
 *     avail.smp_store_release_u16(IDX, ++availIdx);       // entries written before the index
 *     while (used.smp_load_acquire_u16(IDX) == lastUsed) ...  // entries read after the index
 * </pre>
 * {@code dma_rmb}/{@code dma_wmb} ({@link IoApi#dma_rmb()}) order accesses to coherent memory
 * only; the MMIO accessors order themselves against memory ({@link IoMem}).
 *
 * <p>{@link MemoryPool} implements the address forms; thread safety and the rules for
 * arguments are MemoryPool's.
 */
public interface RwOnceApi {

    /**
     * {@code READ_ONCE}: one load of the whole byte, never merged with another, cached in a register or hoisted
     * out of a loop (an opaque access); no ordering against other addresses.
     *
     * @param seg    the memory, e.g. {@code pool.segment(addr, size)} (a vmalloc area too)
     * @param offset bytes from the segment's start
     * @return 0 to 255
     * @throws BadAddressException for an offset outside the segment or an unaligned address
     */
    static int READ_ONCE_u8(MemorySegment seg, long offset) {
        Once.check("READ_ONCE_u8", seg, offset, 1);
        return (byte) Once.U8.getOpaque(seg, offset) & 0xff;
    }

    /**
     * {@code READ_ONCE}: one load of the whole little-endian 16-bit value, never merged with another, cached in a
     * register or hoisted out of a loop (an opaque access); no ordering against other addresses.
     *
     * @param seg    the memory, e.g. {@code pool.segment(addr, size)} (a vmalloc area too)
     * @param offset bytes from the segment's start, a multiple of 2
     * @return 0 to 65535
     * @throws BadAddressException for an offset outside the segment or an unaligned address
     */
    static int READ_ONCE_u16(MemorySegment seg, long offset) {
        Once.check("READ_ONCE_u16", seg, offset, 2);
        return (short) Once.U16.getOpaque(seg, offset) & 0xffff;
    }

    /**
     * {@code READ_ONCE}: one load of the whole little-endian 32-bit value, never merged with another, cached in a
     * register or hoisted out of a loop (an opaque access); no ordering against other addresses.
     *
     * @param seg    the memory, e.g. {@code pool.segment(addr, size)} (a vmalloc area too)
     * @param offset bytes from the segment's start, a multiple of 4
     * @return the 32 bits, as a signed {@code int}
     * @throws BadAddressException for an offset outside the segment or an unaligned address
     */
    static int READ_ONCE_u32(MemorySegment seg, long offset) {
        Once.check("READ_ONCE_u32", seg, offset, 4);
        return (int) Once.U32.getOpaque(seg, offset);
    }

    /**
     * {@code READ_ONCE}: one load of the whole little-endian 64-bit value, never merged with another, cached in a
     * register or hoisted out of a loop (an opaque access); no ordering against other addresses.
     *
     * @param seg    the memory, e.g. {@code pool.segment(addr, size)} (a vmalloc area too)
     * @param offset bytes from the segment's start, a multiple of 8
     * @return the 64 bits
     * @throws BadAddressException for an offset outside the segment or an unaligned address
     */
    static long READ_ONCE_u64(MemorySegment seg, long offset) {
        Once.check("READ_ONCE_u64", seg, offset, 8);
        return (long) Once.U64.getOpaque(seg, offset);
    }

    /**
     * {@code WRITE_ONCE}: one store of the whole byte, never torn, merged or left out (an opaque access); no
     * ordering against other addresses.
     *
     * @param seg    the memory, e.g. {@code pool.segment(addr, size)} (a vmalloc area too)
     * @param offset bytes from the segment's start
     * @param value  the value; its low 8 bits are written
     * @throws BadAddressException for an offset outside the segment or an unaligned address
     */
    static void WRITE_ONCE_u8(MemorySegment seg, long offset, int value) {
        Once.check("WRITE_ONCE_u8", seg, offset, 1);
        Once.U8.setOpaque(seg, offset, (byte) value);
    }

    /**
     * {@code WRITE_ONCE}: one store of the whole little-endian 16-bit value, never torn, merged or left out (an
     * opaque access); no ordering against other addresses.
     *
     * @param seg    the memory, e.g. {@code pool.segment(addr, size)} (a vmalloc area too)
     * @param offset bytes from the segment's start, a multiple of 2
     * @param value  the value; its low 16 bits are written
     * @throws BadAddressException for an offset outside the segment or an unaligned address
     */
    static void WRITE_ONCE_u16(MemorySegment seg, long offset, int value) {
        Once.check("WRITE_ONCE_u16", seg, offset, 2);
        Once.U16.setOpaque(seg, offset, (short) value);
    }

    /**
     * {@code WRITE_ONCE}: one store of the whole little-endian 32-bit value, never torn, merged or left out (an
     * opaque access); no ordering against other addresses.
     *
     * @param seg    the memory, e.g. {@code pool.segment(addr, size)} (a vmalloc area too)
     * @param offset bytes from the segment's start, a multiple of 4
     * @param value  the value; all 32 bits are written
     * @throws BadAddressException for an offset outside the segment or an unaligned address
     */
    static void WRITE_ONCE_u32(MemorySegment seg, long offset, int value) {
        Once.check("WRITE_ONCE_u32", seg, offset, 4);
        Once.U32.setOpaque(seg, offset, value);
    }

    /**
     * {@code WRITE_ONCE}: one store of the whole little-endian 64-bit value, never torn, merged or left out (an
     * opaque access); no ordering against other addresses.
     *
     * @param seg    the memory, e.g. {@code pool.segment(addr, size)} (a vmalloc area too)
     * @param offset bytes from the segment's start, a multiple of 8
     * @param value  the value; all 64 bits are written
     * @throws BadAddressException for an offset outside the segment or an unaligned address
     */
    static void WRITE_ONCE_u64(MemorySegment seg, long offset, long value) {
        Once.check("WRITE_ONCE_u64", seg, offset, 8);
        Once.U64.setOpaque(seg, offset, value);
    }

    /**
     * {@code smp_load_acquire}: a {@code READ_ONCE} of the byte that later loads and stores do not pass: read a
     * producer index with it, then the entries it covers.
     *
     * @param seg    the memory, e.g. {@code pool.segment(addr, size)} (a vmalloc area too)
     * @param offset bytes from the segment's start
     * @return 0 to 255
     * @throws BadAddressException for an offset outside the segment or an unaligned address
     */
    static int smp_load_acquire_u8(MemorySegment seg, long offset) {
        Once.check("smp_load_acquire_u8", seg, offset, 1);
        return (byte) Once.U8.getAcquire(seg, offset) & 0xff;
    }

    /**
     * {@code smp_load_acquire}: a {@code READ_ONCE} of the little-endian 16-bit value that later loads and stores
     * do not pass: read a producer index with it, then the entries it covers.
     *
     * @param seg    the memory, e.g. {@code pool.segment(addr, size)} (a vmalloc area too)
     * @param offset bytes from the segment's start, a multiple of 2
     * @return 0 to 65535
     * @throws BadAddressException for an offset outside the segment or an unaligned address
     */
    static int smp_load_acquire_u16(MemorySegment seg, long offset) {
        Once.check("smp_load_acquire_u16", seg, offset, 2);
        return (short) Once.U16.getAcquire(seg, offset) & 0xffff;
    }

    /**
     * {@code smp_load_acquire}: a {@code READ_ONCE} of the little-endian 32-bit value that later loads and stores
     * do not pass: read a producer index with it, then the entries it covers.
     *
     * @param seg    the memory, e.g. {@code pool.segment(addr, size)} (a vmalloc area too)
     * @param offset bytes from the segment's start, a multiple of 4
     * @return the 32 bits, as a signed {@code int}
     * @throws BadAddressException for an offset outside the segment or an unaligned address
     */
    static int smp_load_acquire_u32(MemorySegment seg, long offset) {
        Once.check("smp_load_acquire_u32", seg, offset, 4);
        return (int) Once.U32.getAcquire(seg, offset);
    }

    /**
     * {@code smp_load_acquire}: a {@code READ_ONCE} of the little-endian 64-bit value that later loads and stores
     * do not pass: read a producer index with it, then the entries it covers.
     *
     * @param seg    the memory, e.g. {@code pool.segment(addr, size)} (a vmalloc area too)
     * @param offset bytes from the segment's start, a multiple of 8
     * @return the 64 bits
     * @throws BadAddressException for an offset outside the segment or an unaligned address
     */
    static long smp_load_acquire_u64(MemorySegment seg, long offset) {
        Once.check("smp_load_acquire_u64", seg, offset, 8);
        return (long) Once.U64.getAcquire(seg, offset);
    }

    /**
     * {@code smp_store_release}: a {@code WRITE_ONCE} of the byte that earlier loads and stores do not pass: fill
     * the entries, then publish the index with it.
     *
     * @param seg    the memory, e.g. {@code pool.segment(addr, size)} (a vmalloc area too)
     * @param offset bytes from the segment's start
     * @param value  the value; its low 8 bits are written
     * @throws BadAddressException for an offset outside the segment or an unaligned address
     */
    static void smp_store_release_u8(MemorySegment seg, long offset, int value) {
        Once.check("smp_store_release_u8", seg, offset, 1);
        Once.U8.setRelease(seg, offset, (byte) value);
    }

    /**
     * {@code smp_store_release}: a {@code WRITE_ONCE} of the little-endian 16-bit value that earlier loads and
     * stores do not pass: fill the entries, then publish the index with it.
     *
     * @param seg    the memory, e.g. {@code pool.segment(addr, size)} (a vmalloc area too)
     * @param offset bytes from the segment's start, a multiple of 2
     * @param value  the value; its low 16 bits are written
     * @throws BadAddressException for an offset outside the segment or an unaligned address
     */
    static void smp_store_release_u16(MemorySegment seg, long offset, int value) {
        Once.check("smp_store_release_u16", seg, offset, 2);
        Once.U16.setRelease(seg, offset, (short) value);
    }

    /**
     * {@code smp_store_release}: a {@code WRITE_ONCE} of the little-endian 32-bit value that earlier loads and
     * stores do not pass: fill the entries, then publish the index with it.
     *
     * @param seg    the memory, e.g. {@code pool.segment(addr, size)} (a vmalloc area too)
     * @param offset bytes from the segment's start, a multiple of 4
     * @param value  the value; all 32 bits are written
     * @throws BadAddressException for an offset outside the segment or an unaligned address
     */
    static void smp_store_release_u32(MemorySegment seg, long offset, int value) {
        Once.check("smp_store_release_u32", seg, offset, 4);
        Once.U32.setRelease(seg, offset, value);
    }

    /**
     * {@code smp_store_release}: a {@code WRITE_ONCE} of the little-endian 64-bit value that earlier loads and
     * stores do not pass: fill the entries, then publish the index with it.
     *
     * @param seg    the memory, e.g. {@code pool.segment(addr, size)} (a vmalloc area too)
     * @param offset bytes from the segment's start, a multiple of 8
     * @param value  the value; all 64 bits are written
     * @throws BadAddressException for an offset outside the segment or an unaligned address
     */
    static void smp_store_release_u64(MemorySegment seg, long offset, long value) {
        Once.check("smp_store_release_u64", seg, offset, 8);
        Once.U64.setRelease(seg, offset, value);
    }

    /**
     * {@code READ_ONCE}: one load of the whole byte, never merged with another, cached in a register or hoisted
     * out of a loop (an opaque access); no ordering against other addresses.
     *
     * @param addr a direct-map address of pool memory (kmalloc, the page allocator, dma_alloc_coherent,
     *             a dma_pool block)
     * @return 0 to 255
     * @throws BadAddressException for an address outside the pool's frames (a vmalloc address included:
     *         use the segment form) or unaligned
     */
    int READ_ONCE_u8(long addr);

    /**
     * {@code READ_ONCE}: one load of the whole little-endian 16-bit value, never merged with another, cached in a
     * register or hoisted out of a loop (an opaque access); no ordering against other addresses.
     *
     * @param addr a direct-map address of pool memory (kmalloc, the page allocator, dma_alloc_coherent,
     *             a dma_pool block), a multiple of 2
     * @return 0 to 65535
     * @throws BadAddressException for an address outside the pool's frames (a vmalloc address included:
     *         use the segment form) or unaligned
     */
    int READ_ONCE_u16(long addr);

    /**
     * {@code READ_ONCE}: one load of the whole little-endian 32-bit value, never merged with another, cached in a
     * register or hoisted out of a loop (an opaque access); no ordering against other addresses.
     *
     * @param addr a direct-map address of pool memory (kmalloc, the page allocator, dma_alloc_coherent,
     *             a dma_pool block), a multiple of 4
     * @return the 32 bits, as a signed {@code int}
     * @throws BadAddressException for an address outside the pool's frames (a vmalloc address included:
     *         use the segment form) or unaligned
     */
    int READ_ONCE_u32(long addr);

    /**
     * {@code READ_ONCE}: one load of the whole little-endian 64-bit value, never merged with another, cached in a
     * register or hoisted out of a loop (an opaque access); no ordering against other addresses.
     *
     * @param addr a direct-map address of pool memory (kmalloc, the page allocator, dma_alloc_coherent,
     *             a dma_pool block), a multiple of 8
     * @return the 64 bits
     * @throws BadAddressException for an address outside the pool's frames (a vmalloc address included:
     *         use the segment form) or unaligned
     */
    long READ_ONCE_u64(long addr);

    /**
     * {@code WRITE_ONCE}: one store of the whole byte, never torn, merged or left out (an opaque access); no
     * ordering against other addresses.
     *
     * @param addr a direct-map address of pool memory (kmalloc, the page allocator, dma_alloc_coherent,
     *             a dma_pool block)
     * @param value the value; its low 8 bits are written
     * @throws BadAddressException for an address outside the pool's frames (a vmalloc address included:
     *         use the segment form) or unaligned
     */
    void WRITE_ONCE_u8(long addr, int value);

    /**
     * {@code WRITE_ONCE}: one store of the whole little-endian 16-bit value, never torn, merged or left out (an
     * opaque access); no ordering against other addresses.
     *
     * @param addr a direct-map address of pool memory (kmalloc, the page allocator, dma_alloc_coherent,
     *             a dma_pool block), a multiple of 2
     * @param value the value; its low 16 bits are written
     * @throws BadAddressException for an address outside the pool's frames (a vmalloc address included:
     *         use the segment form) or unaligned
     */
    void WRITE_ONCE_u16(long addr, int value);

    /**
     * {@code WRITE_ONCE}: one store of the whole little-endian 32-bit value, never torn, merged or left out (an
     * opaque access); no ordering against other addresses.
     *
     * @param addr a direct-map address of pool memory (kmalloc, the page allocator, dma_alloc_coherent,
     *             a dma_pool block), a multiple of 4
     * @param value the value; all 32 bits are written
     * @throws BadAddressException for an address outside the pool's frames (a vmalloc address included:
     *         use the segment form) or unaligned
     */
    void WRITE_ONCE_u32(long addr, int value);

    /**
     * {@code WRITE_ONCE}: one store of the whole little-endian 64-bit value, never torn, merged or left out (an
     * opaque access); no ordering against other addresses.
     *
     * @param addr a direct-map address of pool memory (kmalloc, the page allocator, dma_alloc_coherent,
     *             a dma_pool block), a multiple of 8
     * @param value the value; all 64 bits are written
     * @throws BadAddressException for an address outside the pool's frames (a vmalloc address included:
     *         use the segment form) or unaligned
     */
    void WRITE_ONCE_u64(long addr, long value);

    /**
     * {@code smp_load_acquire}: a {@code READ_ONCE} of the byte that later loads and stores do not pass: read a
     * producer index with it, then the entries it covers.
     *
     * @param addr a direct-map address of pool memory (kmalloc, the page allocator, dma_alloc_coherent,
     *             a dma_pool block)
     * @return 0 to 255
     * @throws BadAddressException for an address outside the pool's frames (a vmalloc address included:
     *         use the segment form) or unaligned
     */
    int smp_load_acquire_u8(long addr);

    /**
     * {@code smp_load_acquire}: a {@code READ_ONCE} of the little-endian 16-bit value that later loads and stores
     * do not pass: read a producer index with it, then the entries it covers.
     *
     * @param addr a direct-map address of pool memory (kmalloc, the page allocator, dma_alloc_coherent,
     *             a dma_pool block), a multiple of 2
     * @return 0 to 65535
     * @throws BadAddressException for an address outside the pool's frames (a vmalloc address included:
     *         use the segment form) or unaligned
     */
    int smp_load_acquire_u16(long addr);

    /**
     * {@code smp_load_acquire}: a {@code READ_ONCE} of the little-endian 32-bit value that later loads and stores
     * do not pass: read a producer index with it, then the entries it covers.
     *
     * @param addr a direct-map address of pool memory (kmalloc, the page allocator, dma_alloc_coherent,
     *             a dma_pool block), a multiple of 4
     * @return the 32 bits, as a signed {@code int}
     * @throws BadAddressException for an address outside the pool's frames (a vmalloc address included:
     *         use the segment form) or unaligned
     */
    int smp_load_acquire_u32(long addr);

    /**
     * {@code smp_load_acquire}: a {@code READ_ONCE} of the little-endian 64-bit value that later loads and stores
     * do not pass: read a producer index with it, then the entries it covers.
     *
     * @param addr a direct-map address of pool memory (kmalloc, the page allocator, dma_alloc_coherent,
     *             a dma_pool block), a multiple of 8
     * @return the 64 bits
     * @throws BadAddressException for an address outside the pool's frames (a vmalloc address included:
     *         use the segment form) or unaligned
     */
    long smp_load_acquire_u64(long addr);

    /**
     * {@code smp_store_release}: a {@code WRITE_ONCE} of the byte that earlier loads and stores do not pass: fill
     * the entries, then publish the index with it.
     *
     * @param addr a direct-map address of pool memory (kmalloc, the page allocator, dma_alloc_coherent,
     *             a dma_pool block)
     * @param value the value; its low 8 bits are written
     * @throws BadAddressException for an address outside the pool's frames (a vmalloc address included:
     *         use the segment form) or unaligned
     */
    void smp_store_release_u8(long addr, int value);

    /**
     * {@code smp_store_release}: a {@code WRITE_ONCE} of the little-endian 16-bit value that earlier loads and
     * stores do not pass: fill the entries, then publish the index with it.
     *
     * @param addr a direct-map address of pool memory (kmalloc, the page allocator, dma_alloc_coherent,
     *             a dma_pool block), a multiple of 2
     * @param value the value; its low 16 bits are written
     * @throws BadAddressException for an address outside the pool's frames (a vmalloc address included:
     *         use the segment form) or unaligned
     */
    void smp_store_release_u16(long addr, int value);

    /**
     * {@code smp_store_release}: a {@code WRITE_ONCE} of the little-endian 32-bit value that earlier loads and
     * stores do not pass: fill the entries, then publish the index with it.
     *
     * @param addr a direct-map address of pool memory (kmalloc, the page allocator, dma_alloc_coherent,
     *             a dma_pool block), a multiple of 4
     * @param value the value; all 32 bits are written
     * @throws BadAddressException for an address outside the pool's frames (a vmalloc address included:
     *         use the segment form) or unaligned
     */
    void smp_store_release_u32(long addr, int value);

    /**
     * {@code smp_store_release}: a {@code WRITE_ONCE} of the little-endian 64-bit value that earlier loads and
     * stores do not pass: fill the entries, then publish the index with it.
     *
     * @param addr a direct-map address of pool memory (kmalloc, the page allocator, dma_alloc_coherent,
     *             a dma_pool block), a multiple of 8
     * @param value the value; all 64 bits are written
     * @throws BadAddressException for an address outside the pool's frames (a vmalloc address included:
     *         use the segment form) or unaligned
     */
    void smp_store_release_u64(long addr, long value);
}
