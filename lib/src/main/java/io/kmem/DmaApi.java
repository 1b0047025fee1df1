package io.kmem;

import io.kmem.error.BadAddressException;
import io.kmem.error.DoubleFreeException;
import io.kmem.error.KmemException;
import io.kmem.error.PrivilegeException;
import io.kmem.internal.dma.DmaDirect;

/**
 * The DMA API, as {@code <linux/dma-mapping.h>} and {@code <linux/dmapool.h>} declare it.
 *
 * <p>A {@link Device} carries the DMA masks; coherent buffers, streaming mappings and DMA
 * pools hand the device a DMA address (the physical address on dma-direct). A refused
 * mapping returns {@link #DMA_MAPPING_ERROR}, tested with {@link #dma_mapping_error}.
 *
 * <p>{@link MemoryPool} implements this contract; thread safety and the rules for arguments
 * are MemoryPool's.
 */
public interface DmaApi {

    /** {@code DMA_MAPPING_ERROR}: what a refused {@code dma_map_*} returns; test with {@link #dma_mapping_error}. */
    long DMA_MAPPING_ERROR = DmaDirect.DMA_MAPPING_ERROR;

    /** {@code DMA_BIT_MASK(n)}: the mask of an n-bit device, 2^n - 1 (all ones for 64). */
    static long DMA_BIT_MASK(int n) {
        return DmaDirect.bitMask(n);
    }

    /**
     * {@code dma_set_mask}: the highest address the device reaches in streaming DMA. Returns 0,
     * or -EIO (-5) for a mask this machine cannot serve ({@code dma_supported}: below 32 bits,
     * a mask must reach the DMA zone's 16 MiB), leaving the mask as it was.
     */
    int dma_set_mask(Device dev, long mask);

    /** {@code dma_set_coherent_mask}: the same for {@link #dma_alloc_coherent}; 0 or -EIO. */
    int dma_set_coherent_mask(Device dev, long mask);

    /** {@code dma_set_mask_and_coherent}: both masks; 0, or -EIO with neither changed. */
    int dma_set_mask_and_coherent(Device dev, long mask);

    /** {@code dma_get_mask}: the device's streaming DMA mask. */
    long dma_get_mask(Device dev);

    /** {@code dma_supported}: whether {@link #dma_set_mask} would accept {@code mask}. */
    boolean dma_supported(Device dev, long mask);

    /**
     * {@code dma_alloc_coherent}: {@code size} bytes of zeroed, physically contiguous memory
     * that the CPU and the device share, every byte of it within the device's coherent mask
     * (the zone is chosen from the mask, as the kernel's dma-direct does, and a block below a
     * mask between zone limits is searched for). Zone modifiers in {@code gfp} are ignored.
     * Returns the CPU and DMA addresses, or null (NULL) when nothing in the pool fits, with a
     * warning unless {@code __GFP_NOWARN}.
     *
     * @throws PrivilegeException in a pool without physical addresses
     */
    DmaBuffer dma_alloc_coherent(Device dev, long size, int gfp);

    /**
     * {@code dma_free_coherent}: frees what {@link #dma_alloc_coherent} returned, given as in C.
     *
     * @throws BadAddressException when {@code dmaHandle} is not {@code cpuAddr}'s, or the size or
     *         address is not that of an allocation
     * @throws DoubleFreeException when it is freed already
     */
    void dma_free_coherent(Device dev, long size, long cpuAddr, long dmaHandle);

    /** {@code dma_free_coherent} of a {@link DmaBuffer}. */
    void dma_free_coherent(Device dev, DmaBuffer buf);

    /**
     * {@code dma_map_single}: hands {@code size} bytes of pool memory at {@code cpuAddr}
     * (kmalloc, the page allocator) to the device. Returns the DMA address, or
     * {@link #DMA_MAPPING_ERROR} with a rate-limited warning when the buffer reaches above the
     * device's DMA mask: such an address is never handed out.
     *
     * @throws BadAddressException when the buffer is not pool memory
     * @throws IllegalArgumentException for {@code DMA_NONE} or a size of 0
     */
    long dma_map_single(Device dev, long cpuAddr, long size, DmaDirection dir);

    /**
     * {@code dma_unmap_single}: gives the buffer back to the CPU; address, size and direction
     * must be those of the map.
     *
     * @throws BadAddressException for a mapping the device does not hold, or one mapped with
     *         another size, direction or function (the kernel's DMA-API debugging messages)
     */
    void dma_unmap_single(Device dev, long dmaAddr, long size, DmaDirection dir);

    /** {@code dma_map_page}: as {@link #dma_map_single}, for {@code size} bytes at {@code offset} in a page handle's block. */
    long dma_map_page(Device dev, long page, long offset, long size, DmaDirection dir);

    /** {@code dma_unmap_page}: undoes {@link #dma_map_page}; checked as {@link #dma_unmap_single}. */
    void dma_unmap_page(Device dev, long dmaAddr, long size, DmaDirection dir);

    /** {@code dma_mapping_error}: true when a map returned {@link #DMA_MAPPING_ERROR} (C returns -ENOMEM then). */
    boolean dma_mapping_error(Device dev, long dmaAddr);

    /**
     * {@code dma_sync_single_for_cpu}: the CPU takes the mapped bytes back to read what the
     * device wrote (x86 is coherent: an acquire fence, so later reads stay after it).
     *
     * @throws BadAddressException when the range is not inside a mapping of the device
     */
    void dma_sync_single_for_cpu(Device dev, long dmaAddr, long size, DmaDirection dir);

    /**
     * {@code dma_sync_single_for_device}: hands the bytes back to the device after the CPU
     * wrote them (a release fence, so earlier writes stay before it).
     *
     * @throws BadAddressException when the range is not inside a mapping of the device
     */
    void dma_sync_single_for_device(Device dev, long dmaAddr, long size, DmaDirection dir);

    /**
     * {@code dma_pool_create}: a pool of {@code size}-byte blocks of coherent memory for
     * {@code dev}, each aligned to {@code align} (0: 1) and never crossing a multiple of
     * {@code boundary} (0: none within a page), carved from {@code dma_alloc_coherent} pages.
     *
     * @throws IllegalArgumentException where the kernel returns NULL: no device, a size of 0,
     *         an alignment or boundary that is not a power of two, a boundary below the size
     */
    DmaPool dma_pool_create(String name, Device dev, long size, long align, long boundary);

    /**
     * {@code dma_pool_alloc}: a block's CPU address, its DMA address stored in {@code handle[0]}
     * (C's {@code dma_addr_t *handle}); 0 (NULL) when no page can be had. Not zeroed.
     */
    long dma_pool_alloc(DmaPool pool, int gfp, long[] handle);

    /** {@code dma_pool_zalloc}: {@link #dma_pool_alloc}, zeroed. */
    long dma_pool_zalloc(DmaPool pool, int gfp, long[] handle);

    /**
     * {@code dma_pool_free}: frees the block at {@code vaddr} whose DMA address is {@code dmaAddr}.
     *
     * @throws DoubleFreeException when the block is free already
     * @throws BadAddressException when {@code vaddr} is not a block of the pool or {@code dmaAddr}
     *         not its DMA address
     */
    void dma_pool_free(DmaPool pool, long vaddr, long dmaAddr);

    /**
     * {@code dma_pool_destroy}: frees the pool and its pages. With blocks still allocated it
     * reports each ("dma_pool_destroy ... busy"; see {@link MemoryPool#takeDmaReports()}) and leaks the
     * pages, as the kernel does. Null is ignored.
     *
     * @throws KmemException when it was destroyed already
     */
    void dma_pool_destroy(DmaPool pool);
}
