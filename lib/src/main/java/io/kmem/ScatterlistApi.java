package io.kmem;

import io.kmem.error.BadAddressException;
import io.kmem.error.DoubleFreeException;
import io.kmem.error.PoolClosedException;

/**
 * Scatter-gather tables, as {@code <linux/scatterlist.h>} declares them: describe a buffer
 * that is not physically contiguous (a vmalloc area, a list of pages) as runs of contiguous
 * bytes, map them all with one {@link DmaApi#dma_map_sg}, unmap them with one
 * {@link DmaApi#dma_unmap_sg}: no array of DMA addresses for the driver to keep.
 *
 * <pre>
 *   long buf = pool.vmalloc(64 &lt;&lt; 10);
 *   SgTable sgt = pool.sg_alloc_table_from_vmalloc(buf, 64 &lt;&lt; 10, GFP_KERNEL);
 *   int n = pool.dma_map_sg(dev, sgt, sgt.orig_nents(), DMA_FROM_DEVICE);  // 0: refused
 *   for (Scatterlist sg : sgt.for_each_sg(n)) {
 *       post(pool.sg_dma_address(sg), pool.sg_dma_len(sg));
 *   }
 *   ...
 *   pool.dma_unmap_sg(dev, sgt, sgt.orig_nents(), DMA_FROM_DEVICE);       // the nents mapped, not n
 *   pool.sg_free_table(sgt);
 * </pre>
 *
 * <p>{@link MemoryPool} implements this contract; thread safety and the rules for arguments
 * are MemoryPool's. A table belongs to the pool that made it.
 */
public interface ScatterlistApi {

    /**
     * {@code sg_alloc_table}: a table of {@code nents} empty entries, to be filled with
     * {@link #sg_set_page}. The table lives on the Java heap, so it does not fail for lack of
     * pool memory.
     *
     * @param nents the entries, 1 or more
     * @param gfp   {@link io.kmem.gfp.Gfp} flags (checked; the table takes no pool memory)
     * @return the table
     * @throws IllegalArgumentException for a count below 1 or unknown GFP bits
     */
    SgTable sg_alloc_table(int nents, int gfp);

    /**
     * {@code sg_alloc_table_from_pages}: a table over {@code size} bytes that start
     * {@code offset} bytes into the first of {@code n_pages} pages; pages whose frames follow
     * each other (consecutive PFNs) merge into one entry, as the kernel's do (up to
     * {@code UINT_MAX} bytes rounded down to a page per entry).
     *
     * @param pages   page handles ({@code alloc_pages}, {@code vmalloc_to_page}, ...), at least {@code n_pages}
     * @param n_pages how many of them, 1 or more
     * @param offset  bytes into the first page, 0 to 4095
     * @param size    bytes, 1 to {@code n_pages * 4096 - offset}
     * @param gfp     {@link io.kmem.gfp.Gfp} flags (checked)
     * @return the table, {@code orig_nents} = the merged runs
     * @throws BadAddressException for a value that is not a page handle of this pool
     * @throws IllegalArgumentException for counts, offset or size outside their ranges, or unknown GFP bits
     */
    SgTable sg_alloc_table_from_pages(long[] pages, int n_pages, long offset, long size, int gfp);

    /**
     * kmem's shorthand for what a driver does with a vmalloc buffer: {@code vmalloc_to_page}
     * of each of its pages, then {@link #sg_alloc_table_from_pages} over them. Frames of the
     * area that happen to be consecutive merge.
     *
     * @param addr an address in a vmalloc area of this pool
     * @param size bytes from it, 1 or more, inside the area
     * @param gfp  {@link io.kmem.gfp.Gfp} flags (checked)
     * @return the table
     * @throws BadAddressException when the range is not inside one vmalloc area of the pool
     * @throws IllegalArgumentException for a size below 1 or unknown GFP bits
     */
    SgTable sg_alloc_table_from_vmalloc(long addr, long size, int gfp);

    /**
     * {@code sg_set_page}: entry {@code sg} is {@code len} bytes at {@code offset} of the block
     * starting at {@code page} (the range may run into the following frames of the block).
     *
     * @param sg     an entry of a table of this pool
     * @param page   a page handle of this pool
     * @param len    bytes, 1 or more
     * @param offset bytes from the page's start, 0 or more
     * @throws BadAddressException for a page that is not a handle of this pool, or a range past its frames
     * @throws IllegalArgumentException for a length below 1 or a negative offset
     */
    void sg_set_page(Scatterlist sg, long page, int len, int offset);

    /**
     * {@code sg_free_table}. Refused while the table is mapped (kmem's check: the kernel would
     * leak the mapping).
     *
     * @param sgt a table of this pool
     * @throws DoubleFreeException when it is freed already
     * @throws BadAddressException while it is mapped ({@code dma_unmap_sg} first)
     */
    void sg_free_table(SgTable sgt);

    /**
     * {@code sg_page}: the entry's first page.
     *
     * @param sg an entry of a table of this pool
     * @return its page handle, or 0 for an entry not set
     * @throws PoolClosedException after the pool's close
     */
    long sg_page(Scatterlist sg);

    /**
     * {@code sg_virt}: the entry's first byte in the direct map ({@code page_address(sg_page(sg)) + sg->offset}).
     *
     * @param sg an entry of a table of this pool, set
     * @return the direct-map address (for a vmalloc buffer: the alias of its frame, not the vmalloc address)
     * @throws BadAddressException for an entry not set
     */
    long sg_virt(Scatterlist sg);

    /**
     * {@code sg_phys}: the entry's first byte's physical address.
     *
     * @param sg an entry of a table of this pool, set
     * @return the physical address
     * @throws BadAddressException for an entry not set
     */
    long sg_phys(Scatterlist sg);

    /**
     * {@code sg_dma_address}: the DMA address of segment {@code sg} after {@link DmaApi#dma_map_sg}.
     *
     * @param sg one of the first {@code count} entries, {@code count} what {@code dma_map_sg} returned
     * @return its DMA address (0 for an entry that carries no segment)
     * @throws PoolClosedException after the pool's close
     */
    long sg_dma_address(Scatterlist sg);

    /**
     * {@code sg_dma_len}: the bytes of segment {@code sg} after {@link DmaApi#dma_map_sg}.
     *
     * @param sg one of the first {@code count} entries
     * @return its length (0 for an entry that carries no segment)
     * @throws PoolClosedException after the pool's close
     */
    int sg_dma_len(Scatterlist sg);
}
