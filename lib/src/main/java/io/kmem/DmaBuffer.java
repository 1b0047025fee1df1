package io.kmem;

import io.kmem.error.BadAddressException;
import io.kmem.error.PoolClosedException;
import java.lang.foreign.MemorySegment;

/**
 * What {@link MemoryPool#dma_alloc_coherent} returns: C's {@code void *} return value and its
 * {@code dma_addr_t *dma_handle} output in one, with the ring accessors of {@link RwOnceApi}
 * on the buffer by offset ({@code buf.READ_ONCE_u32(off)}), checked against the buffer's size
 * and alignment, allocation-free. Read and write bulk data through {@link #segment()}.
 *
 * <p>Equality is that of the three values (CPU address, DMA address, size). The accessors
 * throw {@link PoolClosedException} once the pool is closed; after {@code dma_free_coherent}
 * they still reach the pages, as a stale pointer does in C: do not use a freed buffer.
 */
public final class DmaBuffer {
    private final long cpuAddr;
    private final long dmaHandle;
    private final long size;
    private final MemorySegment seg;
    private final MemoryPool pool;

    DmaBuffer(long cpuAddr, long dmaHandle, long size, MemorySegment seg, MemoryPool pool) {
        this.cpuAddr = cpuAddr;
        this.dmaHandle = dmaHandle;
        this.size = size;
        this.seg = seg;
        this.pool = pool;
    }

    /**
     * The buffer's direct-map address, for the CPU.
     *
     * @return the CPU address ({@code void *}), page-aligned
     */
    public long cpuAddr() {
        return cpuAddr;
    }

    /**
     * The address the device uses.
     *
     * @return the DMA address; every byte of the buffer lies at or below the device's coherent DMA mask
     */
    public long dmaHandle() {
        return dmaHandle;
    }

    /**
     * The bytes asked for (whole pages are allocated, zeroed).
     *
     * @return the size given to {@code dma_alloc_coherent}
     */
    public long size() {
        return size;
    }

    /**
     * The buffer as a segment of {@link #size()} bytes, for bulk reads and writes.
     *
     * @return a slice of the pool's direct map; inaccessible after the pool's close
     * @throws PoolClosedException after the pool's close
     */
    public MemorySegment segment() {
        pool.phys.ensureOpen("segment");
        return seg;
    }

    /**
     * {@code READ_ONCE}: one load of the whole byte, never merged with another, cached in a register or hoisted
     * out of a loop (an opaque access); no ordering against other addresses.
     *
     * @param offset bytes from the buffer's start, inside the buffer
     * @return 0 to 255
     * @throws BadAddressException for an offset outside the buffer or unaligned
     * @throws PoolClosedException after the pool's close
     */
    public int READ_ONCE_u8(long offset) {
        check("READ_ONCE_u8", offset, 1);
        try {
            return (byte) Once.U8.getOpaque(seg, offset) & 0xff;
        } catch (IllegalStateException e) {
            throw closed("READ_ONCE_u8", e);
        }
    }

    /**
     * {@code READ_ONCE}: one load of the whole little-endian 16-bit value, never merged with another, cached in a
     * register or hoisted out of a loop (an opaque access); no ordering against other addresses.
     *
     * @param offset bytes from the buffer's start, a multiple of 2, inside the buffer
     * @return 0 to 65535
     * @throws BadAddressException for an offset outside the buffer or unaligned
     * @throws PoolClosedException after the pool's close
     */
    public int READ_ONCE_u16(long offset) {
        check("READ_ONCE_u16", offset, 2);
        try {
            return (short) Once.U16.getOpaque(seg, offset) & 0xffff;
        } catch (IllegalStateException e) {
            throw closed("READ_ONCE_u16", e);
        }
    }

    /**
     * {@code READ_ONCE}: one load of the whole little-endian 32-bit value, never merged with another, cached in a
     * register or hoisted out of a loop (an opaque access); no ordering against other addresses.
     *
     * @param offset bytes from the buffer's start, a multiple of 4, inside the buffer
     * @return the 32 bits, as a signed {@code int}
     * @throws BadAddressException for an offset outside the buffer or unaligned
     * @throws PoolClosedException after the pool's close
     */
    public int READ_ONCE_u32(long offset) {
        check("READ_ONCE_u32", offset, 4);
        try {
            return (int) Once.U32.getOpaque(seg, offset);
        } catch (IllegalStateException e) {
            throw closed("READ_ONCE_u32", e);
        }
    }

    /**
     * {@code READ_ONCE}: one load of the whole little-endian 64-bit value, never merged with another, cached in a
     * register or hoisted out of a loop (an opaque access); no ordering against other addresses.
     *
     * @param offset bytes from the buffer's start, a multiple of 8, inside the buffer
     * @return the 64 bits
     * @throws BadAddressException for an offset outside the buffer or unaligned
     * @throws PoolClosedException after the pool's close
     */
    public long READ_ONCE_u64(long offset) {
        check("READ_ONCE_u64", offset, 8);
        try {
            return (long) Once.U64.getOpaque(seg, offset);
        } catch (IllegalStateException e) {
            throw closed("READ_ONCE_u64", e);
        }
    }

    /**
     * {@code WRITE_ONCE}: one store of the whole byte, never torn, merged or left out (an opaque access); no
     * ordering against other addresses.
     *
     * @param offset bytes from the buffer's start, inside the buffer
     * @param value  the value; its low 8 bits are written
     * @throws BadAddressException for an offset outside the buffer or unaligned
     * @throws PoolClosedException after the pool's close
     */
    public void WRITE_ONCE_u8(long offset, int value) {
        check("WRITE_ONCE_u8", offset, 1);
        try {
            Once.U8.setOpaque(seg, offset, (byte) value);
        } catch (IllegalStateException e) {
            throw closed("WRITE_ONCE_u8", e);
        }
    }

    /**
     * {@code WRITE_ONCE}: one store of the whole little-endian 16-bit value, never torn, merged or left out (an
     * opaque access); no ordering against other addresses.
     *
     * @param offset bytes from the buffer's start, a multiple of 2, inside the buffer
     * @param value  the value; its low 16 bits are written
     * @throws BadAddressException for an offset outside the buffer or unaligned
     * @throws PoolClosedException after the pool's close
     */
    public void WRITE_ONCE_u16(long offset, int value) {
        check("WRITE_ONCE_u16", offset, 2);
        try {
            Once.U16.setOpaque(seg, offset, (short) value);
        } catch (IllegalStateException e) {
            throw closed("WRITE_ONCE_u16", e);
        }
    }

    /**
     * {@code WRITE_ONCE}: one store of the whole little-endian 32-bit value, never torn, merged or left out (an
     * opaque access); no ordering against other addresses.
     *
     * @param offset bytes from the buffer's start, a multiple of 4, inside the buffer
     * @param value  the value; all 32 bits are written
     * @throws BadAddressException for an offset outside the buffer or unaligned
     * @throws PoolClosedException after the pool's close
     */
    public void WRITE_ONCE_u32(long offset, int value) {
        check("WRITE_ONCE_u32", offset, 4);
        try {
            Once.U32.setOpaque(seg, offset, value);
        } catch (IllegalStateException e) {
            throw closed("WRITE_ONCE_u32", e);
        }
    }

    /**
     * {@code WRITE_ONCE}: one store of the whole little-endian 64-bit value, never torn, merged or left out (an
     * opaque access); no ordering against other addresses.
     *
     * @param offset bytes from the buffer's start, a multiple of 8, inside the buffer
     * @param value  the value; all 64 bits are written
     * @throws BadAddressException for an offset outside the buffer or unaligned
     * @throws PoolClosedException after the pool's close
     */
    public void WRITE_ONCE_u64(long offset, long value) {
        check("WRITE_ONCE_u64", offset, 8);
        try {
            Once.U64.setOpaque(seg, offset, value);
        } catch (IllegalStateException e) {
            throw closed("WRITE_ONCE_u64", e);
        }
    }

    /**
     * {@code smp_load_acquire}: a {@code READ_ONCE} of the byte that later loads and stores do not pass: read a
     * producer index with it, then the entries it covers.
     *
     * @param offset bytes from the buffer's start, inside the buffer
     * @return 0 to 255
     * @throws BadAddressException for an offset outside the buffer or unaligned
     * @throws PoolClosedException after the pool's close
     */
    public int smp_load_acquire_u8(long offset) {
        check("smp_load_acquire_u8", offset, 1);
        try {
            return (byte) Once.U8.getAcquire(seg, offset) & 0xff;
        } catch (IllegalStateException e) {
            throw closed("smp_load_acquire_u8", e);
        }
    }

    /**
     * {@code smp_load_acquire}: a {@code READ_ONCE} of the little-endian 16-bit value that later loads and stores
     * do not pass: read a producer index with it, then the entries it covers.
     *
     * @param offset bytes from the buffer's start, a multiple of 2, inside the buffer
     * @return 0 to 65535
     * @throws BadAddressException for an offset outside the buffer or unaligned
     * @throws PoolClosedException after the pool's close
     */
    public int smp_load_acquire_u16(long offset) {
        check("smp_load_acquire_u16", offset, 2);
        try {
            return (short) Once.U16.getAcquire(seg, offset) & 0xffff;
        } catch (IllegalStateException e) {
            throw closed("smp_load_acquire_u16", e);
        }
    }

    /**
     * {@code smp_load_acquire}: a {@code READ_ONCE} of the little-endian 32-bit value that later loads and stores
     * do not pass: read a producer index with it, then the entries it covers.
     *
     * @param offset bytes from the buffer's start, a multiple of 4, inside the buffer
     * @return the 32 bits, as a signed {@code int}
     * @throws BadAddressException for an offset outside the buffer or unaligned
     * @throws PoolClosedException after the pool's close
     */
    public int smp_load_acquire_u32(long offset) {
        check("smp_load_acquire_u32", offset, 4);
        try {
            return (int) Once.U32.getAcquire(seg, offset);
        } catch (IllegalStateException e) {
            throw closed("smp_load_acquire_u32", e);
        }
    }

    /**
     * {@code smp_load_acquire}: a {@code READ_ONCE} of the little-endian 64-bit value that later loads and stores
     * do not pass: read a producer index with it, then the entries it covers.
     *
     * @param offset bytes from the buffer's start, a multiple of 8, inside the buffer
     * @return the 64 bits
     * @throws BadAddressException for an offset outside the buffer or unaligned
     * @throws PoolClosedException after the pool's close
     */
    public long smp_load_acquire_u64(long offset) {
        check("smp_load_acquire_u64", offset, 8);
        try {
            return (long) Once.U64.getAcquire(seg, offset);
        } catch (IllegalStateException e) {
            throw closed("smp_load_acquire_u64", e);
        }
    }

    /**
     * {@code smp_store_release}: a {@code WRITE_ONCE} of the byte that earlier loads and stores do not pass: fill
     * the entries, then publish the index with it.
     *
     * @param offset bytes from the buffer's start, inside the buffer
     * @param value  the value; its low 8 bits are written
     * @throws BadAddressException for an offset outside the buffer or unaligned
     * @throws PoolClosedException after the pool's close
     */
    public void smp_store_release_u8(long offset, int value) {
        check("smp_store_release_u8", offset, 1);
        try {
            Once.U8.setRelease(seg, offset, (byte) value);
        } catch (IllegalStateException e) {
            throw closed("smp_store_release_u8", e);
        }
    }

    /**
     * {@code smp_store_release}: a {@code WRITE_ONCE} of the little-endian 16-bit value that earlier loads and
     * stores do not pass: fill the entries, then publish the index with it.
     *
     * @param offset bytes from the buffer's start, a multiple of 2, inside the buffer
     * @param value  the value; its low 16 bits are written
     * @throws BadAddressException for an offset outside the buffer or unaligned
     * @throws PoolClosedException after the pool's close
     */
    public void smp_store_release_u16(long offset, int value) {
        check("smp_store_release_u16", offset, 2);
        try {
            Once.U16.setRelease(seg, offset, (short) value);
        } catch (IllegalStateException e) {
            throw closed("smp_store_release_u16", e);
        }
    }

    /**
     * {@code smp_store_release}: a {@code WRITE_ONCE} of the little-endian 32-bit value that earlier loads and
     * stores do not pass: fill the entries, then publish the index with it.
     *
     * @param offset bytes from the buffer's start, a multiple of 4, inside the buffer
     * @param value  the value; all 32 bits are written
     * @throws BadAddressException for an offset outside the buffer or unaligned
     * @throws PoolClosedException after the pool's close
     */
    public void smp_store_release_u32(long offset, int value) {
        check("smp_store_release_u32", offset, 4);
        try {
            Once.U32.setRelease(seg, offset, value);
        } catch (IllegalStateException e) {
            throw closed("smp_store_release_u32", e);
        }
    }

    /**
     * {@code smp_store_release}: a {@code WRITE_ONCE} of the little-endian 64-bit value that earlier loads and
     * stores do not pass: fill the entries, then publish the index with it.
     *
     * @param offset bytes from the buffer's start, a multiple of 8, inside the buffer
     * @param value  the value; all 64 bits are written
     * @throws BadAddressException for an offset outside the buffer or unaligned
     * @throws PoolClosedException after the pool's close
     */
    public void smp_store_release_u64(long offset, long value) {
        check("smp_store_release_u64", offset, 8);
        try {
            Once.U64.setRelease(seg, offset, value);
        } catch (IllegalStateException e) {
            throw closed("smp_store_release_u64", e);
        }
    }

    private void check(String function, long offset, int bytes) {
        if (offset < 0 || offset > size - bytes || (offset & (bytes - 1)) != 0) {
            pool.phys.ensureOpen(function);
            throw new BadAddressException(String.format("%s(0x%x): %s; expected a %d-byte aligned offset from 0 to %d"
                    + " in %s", function, offset, offset < 0 || offset > size - bytes ? "outside the buffer"
                    : "not aligned", bytes, size - bytes, this));
        }
    }

    private RuntimeException closed(String function, IllegalStateException e) {
        if (!pool.phys.closed()) {
            return e;
        }
        PoolClosedException c = new PoolClosedException(function + ": pool '" + pool.name() + "' is closed; " + this
                + " is gone with it");
        c.initCause(e);
        return c;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DmaBuffer b && b.cpuAddr == cpuAddr && b.dmaHandle == dmaHandle && b.size == size;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(cpuAddr) * 31 + Long.hashCode(dmaHandle) * 17 + Long.hashCode(size);
    }

    @Override
    public String toString() {
        return String.format("DmaBuffer[cpu 0x%x, dma 0x%x, %d bytes]", cpuAddr, dmaHandle, size);
    }
}
