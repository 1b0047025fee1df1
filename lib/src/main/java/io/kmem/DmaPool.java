package io.kmem;

import io.kmem.internal.dma.DmaPoolImpl;

/**
 * A pool of small coherent DMA blocks made by {@link MemoryPool#dma_pool_create}: the
 * kernel's {@code struct dma_pool *}. A handle: allocate and free through the pool's
 * {@code dma_pool_*} methods.
 */
public final class DmaPool {
    final DmaPoolImpl impl;
    final MemoryPool pool;

    DmaPool(DmaPoolImpl impl, MemoryPool pool) {
        this.impl = impl;
        this.pool = pool;
    }

    /**
     * The name given at creation.
     *
     * @return the pool's name, as reports show it
     */
    public String name() {
        return impl.name();
    }

    /**
     * Bytes of each block: the size asked for, rounded up to the alignment (at least 16).
     *
     * @return the block size in bytes
     */
    public long size() {
        return impl.size();
    }

    /**
     * Alignment of each block's address (DMA and CPU alike).
     *
     * @return the alignment in bytes (1 when none was asked for)
     */
    public long align() {
        return impl.align();
    }

    /**
     * No block crosses a multiple of this (a power of two).
     *
     * @return the boundary in bytes, at most {@link #allocation()} (that, when none was asked for)
     */
    public long boundary() {
        return impl.boundary();
    }

    /**
     * Bytes of each page the pool takes from {@code dma_alloc_coherent}.
     *
     * @return the larger of 4 KiB and the block size
     */
    public long allocation() {
        return impl.allocation();
    }

    /**
     * Blocks in one such page.
     *
     * @return how many blocks each page holds
     */
    public int blocksPerPage() {
        return impl.blocksPerPage();
    }

    /**
     * Blocks allocated now.
     *
     * @return the blocks handed out and not freed
     * @throws io.kmem.error.PoolClosedException once the pool is closed
     */
    public long active() {
        pool.phys.ensureOpen("active");
        return impl.active();
    }

    @Override
    public String toString() {
        return String.format("dma_pool %s of %s (block %d B, align %d, boundary %d, %d a page of %d B)", name(),
                impl.device().name(), size(), align(), boundary(), blocksPerPage(), allocation());
    }
}
