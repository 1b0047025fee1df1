package io.kmem;

import io.kmem.error.BadAddressException;
import io.kmem.error.DoubleFreeException;
import io.kmem.gfp.Gfp;
import io.kmem.internal.page.BuddyAllocator;

/**
 * The page allocator, as {@code <linux/gfp.h>} declares it, with the page handles of
 * {@code <linux/mm.h>} its callers need.
 *
 * <p>Blocks are 2^order physically contiguous frames from the buddy allocator, in the
 * direct map; a page handle ({@code struct page *}) is a tagged {@code long}, so that an
 * address or a PFN passed for a page is caught. Out of memory is a normal result: 0 (NULL),
 * counted, with the kernel's allocation-failure warning unless {@code __GFP_NOWARN}. GFP
 * flags are in {@link Gfp}.
 *
 * <p>{@link MemoryPool} implements this contract; thread safety and the rules for arguments
 * are MemoryPool's.
 */
public interface GfpApi {

    /** The largest order the page allocator serves: 2^10 pages, 4 MiB. */
    int MAX_ORDER = BuddyAllocator.MAX_ORDER;

    /** {@code virt_to_pfn}: the PFN of the frame behind a direct-map address. */
    long virt_to_pfn(long addr);

    /**
     * {@code virt_to_page}: the page handle of the frame behind a direct-map address.
     *
     * @throws BadAddressException outside the direct map or on a frame the pool does not hold
     */
    long virt_to_page(long addr);

    /**
     * {@code pfn_to_page}: the page handle of a frame by PFN.
     *
     * @throws BadAddressException for a PFN the pool does not hold
     */
    long pfn_to_page(long pfn);

    /**
     * {@code page_to_pfn}: the PFN of a page handle.
     *
     * @throws BadAddressException for anything but a page handle of this pool
     */
    long page_to_pfn(long page);

    /**
     * {@code page_address}: the direct-map address of a page handle.
     *
     * @throws BadAddressException for anything but a page handle of this pool
     */
    long page_address(long page);

    /** {@code page_to_phys}: the physical address of a page handle. */
    long page_to_phys(long page);

    /**
     * {@code alloc_pages}: a block of 2^{@code order} physically contiguous pages, aligned to
     * its size in physical memory. Returns its page handle, or 0 (NULL) when it cannot be
     * served under {@code gfp} or {@code order} is above {@link #MAX_ORDER} (with a warning,
     * unless {@code __GFP_NOWARN}). See {@link Gfp} for what each flag allows.
     *
     * @throws IllegalArgumentException for a negative order or unknown GFP bits
     */
    long alloc_pages(int gfp, int order);

    /** {@code alloc_page}: {@code alloc_pages(gfp, 0)}. */
    long alloc_page(int gfp);

    /**
     * {@code __get_free_pages}: as {@link #alloc_pages}, returning the block's direct-map
     * address, or 0 (NULL).
     */
    long __get_free_pages(int gfp, int order);

    /** {@code __get_free_page}: one page's address, or 0 (NULL). */
    long __get_free_page(int gfp);

    /** {@code get_zeroed_page}: one zeroed page's address, or 0 (NULL). */
    long get_zeroed_page(int gfp);

    /** {@code __get_dma_pages}: {@code __get_free_pages(gfp | GFP_DMA, order)}, from the DMA zone. */
    long __get_dma_pages(int gfp, int order);

    /**
     * {@code free_pages}: frees the block of {@code order} at {@code addr}, an address
     * {@link #__get_free_pages} returned with that order. 0 is ignored, as in the kernel.
     *
     * @throws DoubleFreeException when the block is already free
     * @throws BadAddressException for any other address, or the wrong order; the allocator
     *         is unchanged
     */
    void free_pages(long addr, int order);

    /** {@code free_page}: {@code free_pages(addr, 0)}. */
    void free_page(long addr);

    /**
     * {@code __free_pages}: frees the block of {@code order} whose page handle
     * {@link #alloc_pages} returned.
     *
     * @throws DoubleFreeException when the block is already free
     * @throws BadAddressException for anything but the head of such a block, or the wrong order
     */
    void __free_pages(long page, int order);

    /** {@code __free_page}: {@code __free_pages(page, 0)}. */
    void __free_page(long page);

    /**
     * {@code alloc_pages_exact}: {@code size} bytes (rounded up to pages) physically
     * contiguous; the pages of the underlying block past the size go back to the allocator.
     * Returns the address, or 0 (NULL). Free with {@link #free_pages_exact}.
     *
     * @throws IllegalArgumentException for a size of 0 or less
     */
    long alloc_pages_exact(long size, int gfp);

    /**
     * {@code free_pages_exact}: frees what {@link #alloc_pages_exact} returned for {@code size}.
     *
     * @throws BadAddressException or {@link DoubleFreeException} when a page is
     *         not allocated; nothing is freed then
     */
    void free_pages_exact(long addr, long size);

    /** {@code get_order}: the smallest order whose block holds {@code size} bytes. */
    static int get_order(long size) {
        if (size <= 0) {
            throw new IllegalArgumentException("get_order: size " + size + " must be positive");
        }
        return BuddyAllocator.getOrder(size);
    }

    /**
     * {@code drain_all_pages}: gives the frames in per-thread page caches back to the buddy:
     * the calling thread's and every ended thread's now, every other thread's at its next
     * allocation or free.
     */
    void drain_all_pages();
}
