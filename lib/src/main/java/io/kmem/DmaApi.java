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

    /**
     * {@code DMA_BIT_MASK(n)}: the mask of an n-bit device, 2^n - 1 (all ones for 64).
     *
     * @param n the bits of DMA address the device drives, 0 to 64
     * @return the mask: the highest DMA address the device reaches
     */
    static long DMA_BIT_MASK(int n) {
        return DmaDirect.bitMask(n);
    }

    /**
     * {@code dma_set_mask}: the highest address the device reaches in streaming DMA. Returns 0,
     * or -EIO (-5) for a mask this machine cannot serve ({@code dma_supported}: below 32 bits,
     * a mask must reach the DMA zone's 16 MiB), leaving the mask as it was.
     *
     * @param dev  the device
     * @param mask the highest DMA address it reaches, e.g. {@code DMA_BIT_MASK(64)}
     * @return 0, or -EIO (-5) with the mask unchanged
     */
    int dma_set_mask(Device dev, long mask);

    /**
     * {@code dma_set_coherent_mask}: the same for {@link #dma_alloc_coherent}; 0 or -EIO.
     *
     * @param dev  the device
     * @param mask the highest DMA address of its coherent buffers
     * @return 0, or -EIO (-5) with the mask unchanged
     */
    int dma_set_coherent_mask(Device dev, long mask);

    /**
     * {@code dma_set_mask_and_coherent}: both masks; 0, or -EIO with neither changed.
     *
     * @param dev  the device
     * @param mask the highest DMA address it reaches, for both masks
     * @return 0, or -EIO (-5) with neither mask changed
     */
    int dma_set_mask_and_coherent(Device dev, long mask);

    /**
     * {@code dma_get_mask}: the device's streaming DMA mask.
     *
     * @param dev the device
     * @return its {@code dma_mask} ({@code DMA_BIT_MASK(32)} until set)
     */
    long dma_get_mask(Device dev);

    /**
     * {@code dma_supported}: whether {@link #dma_set_mask} would accept {@code mask}.
     *
     * @param dev  the device (the answer does not depend on it: dma-direct)
     * @param mask a DMA mask
     * @return true for a mask of 32 bits or more, or one reaching the DMA zone's limit
     */
    boolean dma_supported(Device dev, long mask);

    /**
     * {@code dma_alloc_coherent}: {@code size} bytes of zeroed, physically contiguous memory
     * that the CPU and the device share, every byte of it within the device's coherent mask
     * (the zone is chosen from the mask, as the kernel's dma-direct does, and a block below a
     * mask between zone limits is searched for). Zone modifiers in {@code gfp} are ignored.
     * Returns the CPU and DMA addresses, or null (NULL) when nothing in the pool fits, with a
     * warning unless {@code __GFP_NOWARN}.
     *
     * @param dev  the device; its coherent mask bounds the buffer
     * @param size bytes, above 0 (whole pages of {@code get_order(size)} are taken)
     * @param gfp  {@link io.kmem.gfp.Gfp} flags (may it block, warn); zone modifiers are ignored
     * @return the buffer's CPU and DMA addresses, or null when nothing in the pool fits
     * @throws PrivilegeException in a pool without physical addresses
     * @throws IllegalArgumentException for a size of 0 or less, or unknown GFP bits
     */
    DmaBuffer dma_alloc_coherent(Device dev, long size, int gfp);

    /**
     * {@code dma_free_coherent}: frees what {@link #dma_alloc_coherent} returned, given as in C.
     *
     * @param dev       the device that allocated it
     * @param size      the size it was allocated with
     * @param cpuAddr   its CPU address ({@link DmaBuffer#cpuAddr()})
     * @param dmaHandle its DMA address ({@link DmaBuffer#dmaHandle()})
     * @throws BadAddressException when {@code dmaHandle} is not {@code cpuAddr}'s, or the size or
     *         address is not that of an allocation
     * @throws DoubleFreeException when it is freed already
     * @throws IllegalArgumentException for a size of 0 or less
     */
    void dma_free_coherent(Device dev, long size, long cpuAddr, long dmaHandle);

    /**
     * {@code dma_free_coherent} of a {@link DmaBuffer}.
     *
     * @param dev the device that allocated it
     * @param buf what {@link #dma_alloc_coherent} returned
     * @throws BadAddressException when it is not an allocation of {@code dev}
     * @throws DoubleFreeException when it is freed already
     */
    void dma_free_coherent(Device dev, DmaBuffer buf);

    /**
     * {@code dma_map_single}: hands {@code size} bytes of pool memory at {@code cpuAddr}
     * (kmalloc, the page allocator) to the device. Returns the DMA address, or
     * {@link #DMA_MAPPING_ERROR} with a rate-limited warning when the buffer reaches above the
     * device's DMA mask: such an address is never handed out.
     *
     * @param dev     the device
     * @param cpuAddr the buffer's direct-map address
     * @param size    bytes, above 0
     * @param dir     which way the data flows
     * @return the DMA address, or {@link #DMA_MAPPING_ERROR}
     * @throws BadAddressException when the buffer is not pool memory
     * @throws IllegalArgumentException for {@code DMA_NONE} or a size of 0 or less
     * @throws PrivilegeException in a pool without physical addresses
     */
    long dma_map_single(Device dev, long cpuAddr, long size, DmaDirection dir);

    /**
     * {@code dma_unmap_single}: gives the buffer back to the CPU; address, size and direction
     * must be those of the map.
     *
     * @param dev     the device that mapped it
     * @param dmaAddr the DMA address the map returned
     * @param size    the size it was mapped with
     * @param dir     the direction it was mapped with
     * @throws BadAddressException for a mapping the device does not hold, or one mapped with
     *         another size, direction or function (the kernel's DMA-API debugging messages)
     */
    void dma_unmap_single(Device dev, long dmaAddr, long size, DmaDirection dir);

    /**
     * {@code dma_map_page}: as {@link #dma_map_single}, for {@code size} bytes at {@code offset}
     * in a page handle's block.
     *
     * @param dev    the device
     * @param page   a page handle of this pool
     * @param offset bytes from the page's start, 0 or more; the range may run into the following frames
     * @param size   bytes, above 0
     * @param dir    which way the data flows
     * @return the DMA address, or {@link #DMA_MAPPING_ERROR} when it reaches above the device's mask
     * @throws BadAddressException for a value that is not a page handle, or a range past the pool's frames
     * @throws IllegalArgumentException for {@code DMA_NONE}, a size of 0 or less, or a negative offset
     * @throws PrivilegeException in a pool without physical addresses
     */
    long dma_map_page(Device dev, long page, long offset, long size, DmaDirection dir);

    /**
     * {@code dma_unmap_page}: undoes {@link #dma_map_page}; checked as {@link #dma_unmap_single}.
     *
     * @param dev     the device that mapped it
     * @param dmaAddr the DMA address the map returned
     * @param size    the size it was mapped with
     * @param dir     the direction it was mapped with
     * @throws BadAddressException for a mapping the device does not hold, or one made otherwise
     */
    void dma_unmap_page(Device dev, long dmaAddr, long size, DmaDirection dir);

    /**
     * {@code dma_mapping_error}: true when a map returned {@link #DMA_MAPPING_ERROR} (C returns -ENOMEM then).
     *
     * @param dev     the device (not consulted)
     * @param dmaAddr what {@code dma_map_single} or {@code dma_map_page} returned
     * @return true for {@link #DMA_MAPPING_ERROR}, false for a DMA address
     */
    boolean dma_mapping_error(Device dev, long dmaAddr);

    /**
     * {@code dma_sync_single_for_cpu}: the CPU takes the mapped bytes back to read what the
     * device wrote (x86 is coherent: an acquire fence, so later reads stay after it).
     *
     * @param dev     the device that holds the mapping
     * @param dmaAddr the first DMA address to sync, inside the mapping
     * @param size    bytes, above 0, inside the mapping
     * @param dir     the mapping's direction (any but DMA_NONE for a bidirectional mapping)
     * @throws BadAddressException when the range is not inside a mapping of the device
     */
    void dma_sync_single_for_cpu(Device dev, long dmaAddr, long size, DmaDirection dir);

    /**
     * {@code dma_sync_single_for_device}: hands the bytes back to the device after the CPU
     * wrote them (a release fence, so earlier writes stay before it).
     *
     * @param dev     the device that holds the mapping
     * @param dmaAddr the first DMA address to sync, inside the mapping
     * @param size    bytes, above 0, inside the mapping
     * @param dir     the mapping's direction (any but DMA_NONE for a bidirectional mapping)
     * @throws BadAddressException when the range is not inside a mapping of the device
     */
    void dma_sync_single_for_device(Device dev, long dmaAddr, long size, DmaDirection dir);

    /**
     * {@code dma_pool_create}: a pool of {@code size}-byte blocks of coherent memory for
     * {@code dev}, each aligned to {@code align} (0: 1) and never crossing a multiple of
     * {@code boundary} (0: none within a page), carved from {@code dma_alloc_coherent} pages.
     *
     * @param name     the pool's name, for reports
     * @param dev      the device the blocks are for
     * @param size     bytes of each block, 1 to {@code Integer.MAX_VALUE} (rounded up to the alignment, at least 16)
     * @param align    alignment of each block in bytes: 0 (none) or a power of two
     * @param boundary 0, or a power of two no block may cross, at least the block size
     * @return the DMA pool
     * @throws IllegalArgumentException where the kernel returns NULL: a size of 0 or above
     *         {@code INT_MAX}, an alignment or boundary that is not a power of two, a boundary
     *         below the size (a null device throws {@link NullPointerException}, as everywhere)
     */
    DmaPool dma_pool_create(String name, Device dev, long size, long align, long boundary);

    /**
     * {@code dma_pool_alloc}: a block's CPU address, its DMA address stored in {@code handle[0]}
     * (C's {@code dma_addr_t *handle}); 0 (NULL) when no page can be had. Not zeroed.
     *
     * @param pool   a DMA pool of this pool
     * @param gfp    {@link io.kmem.gfp.Gfp} flags for a new page; {@code __GFP_ZERO} zeroes the block
     * @param handle receives the block's DMA address in element 0
     * @return the block's CPU address, or 0 (NULL) when out of memory
     * @throws KmemException after {@link #dma_pool_destroy}
     */
    long dma_pool_alloc(DmaPool pool, int gfp, long[] handle);

    /**
     * {@code dma_pool_zalloc}: {@link #dma_pool_alloc}, zeroed.
     *
     * @param pool   a DMA pool of this pool
     * @param gfp    {@link io.kmem.gfp.Gfp} flags for a new page
     * @param handle receives the block's DMA address in element 0
     * @return the zeroed block's CPU address, or 0 (NULL) when out of memory
     * @throws KmemException after {@link #dma_pool_destroy}
     */
    long dma_pool_zalloc(DmaPool pool, int gfp, long[] handle);

    /**
     * {@code dma_pool_free}: frees the block at {@code vaddr} whose DMA address is {@code dmaAddr}.
     *
     * @param pool    the DMA pool the block came from
     * @param vaddr   the block's CPU address, as {@link #dma_pool_alloc} returned it
     * @param dmaAddr the block's DMA address, as it stored in {@code handle[0]}
     * @throws KmemException after {@link #dma_pool_destroy}
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
     * @param pool a DMA pool of this pool, or null
     * @throws KmemException when it was destroyed already
     */
    void dma_pool_destroy(DmaPool pool);

    /**
     * {@code dma_map_sg}: maps the first {@code nents} entries of {@code sgt} for {@code dev}.
     * Each entry goes through the path of {@link #dma_map_page} (mask check, recorded on the
     * device); then neighbours whose DMA addresses are contiguous merge into one segment while
     * it stays within {@link #dma_get_max_seg_size}. The segments are written to the first
     * entries ({@link ScatterlistApi#sg_dma_address}, {@link ScatterlistApi#sg_dma_len}).
     *
     * @param dev   the device
     * @param sgt   a table of this pool, not mapped
     * @param nents the entries to map, 1 to {@code orig_nents}
     * @param dir   which way the data flows
     * @return the DMA segments, 1 to {@code nents}; 0 when an entry reaches above the device's
     *         mask (nothing stays mapped then), as the kernel returns 0
     * @throws BadAddressException for a table mapped already or freed
     * @throws IllegalArgumentException for {@code DMA_NONE}, a count outside the table, or an empty entry
     * @throws PrivilegeException in a pool without physical addresses
     */
    int dma_map_sg(Device dev, SgTable sgt, int nents, DmaDirection dir);

    /**
     * {@code dma_unmap_sg}: undoes {@link #dma_map_sg}. {@code nents} is the count given to the
     * map, not the count it returned, as in the kernel.
     *
     * @param dev   the device that mapped it
     * @param sgt   the table
     * @param nents the {@code nents} passed to {@code dma_map_sg}
     * @param dir   the direction it was mapped with
     * @throws DoubleFreeException when it is unmapped already
     * @throws BadAddressException for a table never mapped, mapped by another device, or with
     *         another count or direction (the messages of the kernel's DMA-API debugging)
     */
    void dma_unmap_sg(Device dev, SgTable sgt, int nents, DmaDirection dir);

    /**
     * {@code dma_map_sgtable}: {@link #dma_map_sg} of every entry, the segment count stored in
     * {@link SgTable#nents()}.
     *
     * @param dev the device
     * @param sgt a table of this pool, not mapped
     * @param dir which way the data flows
     * @return 0, or -EIO (-5) when an entry reaches above the device's mask (nothing stays mapped)
     * @throws BadAddressException for a table mapped already or freed
     * @throws PrivilegeException in a pool without physical addresses
     */
    int dma_map_sgtable(Device dev, SgTable sgt, DmaDirection dir);

    /**
     * {@code dma_unmap_sgtable}: {@link #dma_unmap_sg} of every entry ({@code orig_nents}).
     *
     * @param dev the device that mapped it
     * @param sgt the table
     * @param dir the direction it was mapped with
     * @throws DoubleFreeException when it is unmapped already
     * @throws BadAddressException for a table not mapped by {@code dev} with {@code dir}
     */
    void dma_unmap_sgtable(Device dev, SgTable sgt, DmaDirection dir);

    /**
     * {@code dma_sync_sg_for_cpu}: the CPU takes the mapped entries back to read what the
     * device wrote (an acquire fence on x86).
     *
     * @param dev   the device that holds the mapping
     * @param sgt   the table
     * @param nents the {@code nents} passed to {@code dma_map_sg}
     * @param dir   the mapping's direction (any but DMA_NONE for a bidirectional mapping)
     * @throws BadAddressException when the table is not mapped by {@code dev} with that count and direction
     */
    void dma_sync_sg_for_cpu(Device dev, SgTable sgt, int nents, DmaDirection dir);

    /**
     * {@code dma_sync_sg_for_device}: hands the entries back to the device after the CPU wrote
     * them (a release fence on x86).
     *
     * @param dev   the device that holds the mapping
     * @param sgt   the table
     * @param nents the {@code nents} passed to {@code dma_map_sg}
     * @param dir   the mapping's direction (any but DMA_NONE for a bidirectional mapping)
     * @throws BadAddressException when the table is not mapped by {@code dev} with that count and direction
     */
    void dma_sync_sg_for_device(Device dev, SgTable sgt, int nents, DmaDirection dir);

    /**
     * {@code dma_set_max_seg_size}: the longest DMA segment the device takes in one descriptor;
     * {@link #dma_map_sg} merges no segment beyond it.
     *
     * @param dev  the device
     * @param size bytes, 1 to {@code UINT_MAX}
     * @return 0
     * @throws IllegalArgumentException for a size outside 1 to {@code UINT_MAX}
     */
    int dma_set_max_seg_size(Device dev, long size);

    /**
     * {@code dma_get_max_seg_size}.
     *
     * @param dev the device
     * @return the longest segment {@link #dma_map_sg} makes for it: 65536 until set, as for a PCI device
     */
    long dma_get_max_seg_size(Device dev);
}
