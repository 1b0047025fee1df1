package io.kmem.example.virtionet;

import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static io.kmem.gfp.Gfp.__GFP_ZERO;

import io.kmem.Device;
import io.kmem.DmaBuffer;
import io.kmem.IoApi;
import io.kmem.IoMem;
import io.kmem.MemoryPool;

/**
 * A split virtqueue (virtio 1.0, section 2.6) in one coherent DMA buffer: the descriptor
 * table, the driver area ("avail" ring) and the device area ("used" ring).
 *
 * <pre>
 *  descriptor table  16 B each: le64 addr, le32 len, le16 flags, le16 next     at 0
 *  avail ring        le16 flags, le16 idx, le16 ring[size], le16 used_event    at 16 * size
 *  used ring         le16 flags, le16 idx, {le32 id, le32 len}[size], avail_event  4-aligned after
 * </pre>
 *
 * <p>Every access to the rings goes through kmem's ring accessors on the {@code DmaBuffer}
 * ({@code WRITE_ONCE}, {@code READ_ONCE}, {@code smp_store_release}, {@code smp_load_acquire}):
 * the JIT can neither hoist a poll of the used index out of a loop nor tear or merge a field
 * the device reads. The ordering rules are the kernel's: the descriptor is written, then
 * {@code dma_wmb()}, then the avail ring entry, then the avail index with a release store;
 * the device's used index is read with an acquire load, then {@code dma_rmb()}, then the used
 * entries. A notification ({@link #kick}) follows a full {@code mb()} so that the device's
 * {@code VRING_USED_F_NO_NOTIFY} flag is read after the index was published.
 *
 * <p>Not thread-safe: one thread adds and reclaims (the driver keeps each queue on one side:
 * RX on the interrupt thread or the poller, TX on the sender).
 */
final class SplitQueue implements AutoCloseable {
    static final int VIRTQ_DESC_F_NEXT = 1;
    static final int VIRTQ_DESC_F_WRITE = 2;
    static final int VRING_AVAIL_F_NO_INTERRUPT = 1;
    static final int VRING_USED_F_NO_NOTIFY = 1;

    final int index;
    final int size;
    private final MemoryPool pool;
    private final Device dev;
    final DmaBuffer ring;
    private final long availOff;
    private final long usedOff;
    private final IoMem notify;
    private final long notifyOff;
    /** The next avail index to publish, and the next used index to consume (both wrap at 2^16). */
    private int availIdx;
    private int lastUsed;
    private long kicks;

    SplitQueue(MemoryPool pool, Device dev, int index, int size, IoMem notify, long notifyOff) {
        if (Integer.bitCount(size) != 1) {
            throw new IllegalArgumentException("queue " + index + ": size " + size + " is not a power of two");
        }
        this.pool = pool;
        this.dev = dev;
        this.index = index;
        this.size = size;
        this.availOff = 16L * size;
        this.usedOff = (availOff + 6 + 2L * size + 3) & ~3L;
        long bytes = usedOff + 6 + 8L * size;
        // Zeroed: the device must see flags 0 and index 0 on both rings.
        this.ring = pool.dma_alloc_coherent(dev, bytes, GFP_KERNEL | __GFP_ZERO);
        if (ring == null) {
            throw new IllegalStateException("queue " + index + ": dma_alloc_coherent of " + bytes + " B failed");
        }
        this.notify = notify;
        this.notifyOff = notifyOff;
    }

    long descAddr() {
        return ring.dmaHandle();
    }

    long driverAddr() {
        return ring.dmaHandle() + availOff;
    }

    long deviceAddr() {
        return ring.dmaHandle() + usedOff;
    }

    /** Writes descriptor {@code id}: one buffer of {@code len} bytes at DMA address {@code addr}. */
    void setDesc(int id, long addr, int len, int flags) {
        long d = 16L * id;
        ring.WRITE_ONCE_u64(d, addr);
        ring.WRITE_ONCE_u32(d + 8, len);
        ring.WRITE_ONCE_u16(d + 12, flags);
        ring.WRITE_ONCE_u16(d + 14, 0);
    }

    /** Makes descriptor chain {@code head} available to the device (no notification yet). */
    void publish(int head) {
        IoApi.dma_wmb();   // the descriptor before the ring entry that names it
        ring.WRITE_ONCE_u16(availOff + 4 + 2L * (availIdx & (size - 1)), head);
        availIdx = (availIdx + 1) & 0xffff;
        ring.smp_store_release_u16(availOff + 2, availIdx);   // the entry before the index
    }

    /** Notifies the device unless it said it does not need it; returns whether it did. */
    boolean kick() {
        IoApi.mb();   // the avail index before the device's flag is read
        if ((ring.READ_ONCE_u16(usedOff) & VRING_USED_F_NO_NOTIFY) != 0) {
            return false;
        }
        notify.writew(index, notifyOff);
        kicks++;
        return true;
    }

    /** Asks the device for interrupts on used buffers, or not ({@code VRING_AVAIL_F_NO_INTERRUPT}). */
    void interrupts(boolean on) {
        ring.WRITE_ONCE_u16(availOff, on ? 0 : VRING_AVAIL_F_NO_INTERRUPT);
    }

    /** True when the device has returned buffers not yet taken with {@link #takeUsed}. */
    boolean hasUsed() {
        return ring.smp_load_acquire_u16(usedOff + 2) != lastUsed;
    }

    /**
     * The next used element as {@code id << 32 | len}, or -1 when there is none. The used
     * index is read with an acquire load and {@code dma_rmb()} orders the element after it.
     */
    long takeUsed() {
        int deviceIdx = ring.smp_load_acquire_u16(usedOff + 2);
        if (deviceIdx == lastUsed) {
            return -1;
        }
        IoApi.dma_rmb();
        long e = usedOff + 4 + 8L * (lastUsed & (size - 1));
        long id = Integer.toUnsignedLong(ring.READ_ONCE_u32(e));
        long len = Integer.toUnsignedLong(ring.READ_ONCE_u32(e + 4));
        lastUsed = (lastUsed + 1) & 0xffff;
        return id << 32 | len;
    }

    /** Buffers the device holds: published and not yet returned to this side. */
    int inFlight() {
        return (availIdx - lastUsed) & 0xffff;
    }

    long kicks() {
        return kicks;
    }

    @Override
    public void close() {
        pool.dma_free_coherent(dev, ring);
    }
}
