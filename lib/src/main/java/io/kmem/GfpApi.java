package io.kmem;

import io.kmem.error.BadAddressException;
import io.kmem.error.DoubleFreeException;
import io.kmem.error.PrivilegeException;
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

    /**
     * {@code virt_to_pfn}: the PFN of the frame behind a direct-map address.
     *
     * @param addr an address in the pool's direct map (kmalloc, the page allocator), any byte of the frame
     * @return the frame's PFN (its frame index in an unprivileged pool)
     * @throws BadAddressException outside the direct map or on a frame the pool does not hold
     */
    long virt_to_pfn(long addr);

    /**
     * {@code virt_to_page}: the page handle of the frame behind a direct-map address.
     *
     * @param addr an address in the pool's direct map, any byte of the frame
     * @return the frame's page handle ({@code struct page *})
     * @throws BadAddressException outside the direct map or on a frame the pool does not hold
     */
    long virt_to_page(long addr);

    /**
     * {@code pfn_to_page}: the page handle of a frame by PFN.
     *
     * @param pfn a PFN the pool holds (a frame index in an unprivileged pool)
     * @return the frame's page handle
     * @throws BadAddressException for a PFN the pool does not hold
     */
    long pfn_to_page(long pfn);

    /**
     * {@code page_to_pfn}: the PFN of a page handle.
     *
     * @param page a page handle of this pool ({@link #alloc_pages}, {@link #virt_to_page}, {@link #pfn_to_page})
     * @return the frame's PFN (its frame index in an unprivileged pool)
     * @throws BadAddressException for anything but a page handle of this pool
     */
    long page_to_pfn(long page);

    /**
     * {@code page_address}: the direct-map address of a page handle.
     *
     * @param page a page handle of this pool
     * @return the address of the frame's first byte in the direct map
     * @throws BadAddressException for anything but a page handle of this pool
     */
    long page_address(long page);

    /**
     * {@code page_to_phys}: the physical address of a page handle.
     *
     * @param page a page handle of this pool
     * @return the physical address of the frame's first byte
     * @throws BadAddressException for anything but a page handle of this pool
     * @throws PrivilegeException in an unprivileged pool (no physical addresses)
     */
    long page_to_phys(long page);

    /**
     * {@code alloc_pages}: a block of 2^{@code order} physically contiguous pages, aligned to
     * its size in physical memory. Returns its page handle, or 0 (NULL) when it cannot be
     * served under {@code gfp} or {@code order} is above {@link #MAX_ORDER} (with a warning,
     * unless {@code __GFP_NOWARN}). See {@link Gfp} for what each flag allows.
     *
     * @param gfp   {@link Gfp} flags: may it block, which zones, zeroed, warn
     * @param order log2 of the number of 4 KiB pages, 0 to {@link #MAX_ORDER}
     * @return the page handle of the block's first page, or 0 (NULL)
     * @throws IllegalArgumentException for a negative order or unknown GFP bits
     */
    long alloc_pages(int gfp, int order);

    /**
     * {@code alloc_page}: {@code alloc_pages(gfp, 0)}.
     *
     * @param gfp {@link Gfp} flags
     * @return the page handle of one page, or 0 (NULL)
     * @throws IllegalArgumentException for unknown GFP bits
     */
    long alloc_page(int gfp);

    /**
     * {@code __get_free_pages}: as {@link #alloc_pages}, returning the block's direct-map
     * address, or 0 (NULL).
     *
     * @param gfp   {@link Gfp} flags
     * @param order log2 of the number of 4 KiB pages, 0 to {@link #MAX_ORDER}
     * @return the block's direct-map address (page-aligned), or 0 (NULL)
     * @throws IllegalArgumentException for a negative order or unknown GFP bits
     */
    long __get_free_pages(int gfp, int order);

    /**
     * {@code __get_free_page}: {@code __get_free_pages(gfp, 0)}.
     *
     * @param gfp {@link Gfp} flags
     * @return one page's direct-map address, or 0 (NULL)
     * @throws IllegalArgumentException for unknown GFP bits
     */
    long __get_free_page(int gfp);

    /**
     * {@code get_zeroed_page}: {@code __get_free_pages(gfp | __GFP_ZERO, 0)}.
     *
     * @param gfp {@link Gfp} flags
     * @return one zeroed page's direct-map address, or 0 (NULL)
     * @throws IllegalArgumentException for unknown GFP bits
     */
    long get_zeroed_page(int gfp);

    /**
     * {@code __get_dma_pages}: {@code __get_free_pages(gfp | GFP_DMA, order)}, from the DMA zone
     * (below 16 MiB).
     *
     * @param gfp   {@link Gfp} flags; {@code GFP_DMA} is added
     * @param order log2 of the number of 4 KiB pages, 0 to {@link #MAX_ORDER}
     * @return the block's direct-map address, or 0 (NULL), e.g. when the pool has no DMA-zone frames
     * @throws IllegalArgumentException for a negative order or unknown GFP bits
     */
    long __get_dma_pages(int gfp, int order);

    /**
     * {@code free_pages}: frees the block of {@code order} at {@code addr}, an address
     * {@link #__get_free_pages} returned with that order. 0 is ignored, as in the kernel.
     *
     * @param addr  the block's address as {@link #__get_free_pages} returned it, or 0
     * @param order the order it was allocated with
     * @throws DoubleFreeException when the block is already free
     * @throws BadAddressException for any other address, or the wrong order; the allocator
     *         is unchanged
     */
    void free_pages(long addr, int order);

    /**
     * {@code free_page}: {@code free_pages(addr, 0)}.
     *
     * @param addr a page's address as {@link #__get_free_page} returned it, or 0 (ignored)
     * @throws DoubleFreeException when the page is already free
     * @throws BadAddressException for any other address, or a block of a higher order
     */
    void free_page(long addr);

    /**
     * {@code __free_pages}: frees the block of {@code order} whose page handle
     * {@link #alloc_pages} returned.
     *
     * @param page  the block's page handle as {@link #alloc_pages} returned it
     * @param order the order it was allocated with
     * @throws DoubleFreeException when the block is already free
     * @throws BadAddressException for anything but the head of such a block, or the wrong order
     */
    void __free_pages(long page, int order);

    /**
     * {@code __free_page}: {@code __free_pages(page, 0)}.
     *
     * @param page a page handle as {@link #alloc_page} returned it
     * @throws DoubleFreeException when the page is already free
     * @throws BadAddressException for anything but such a page handle, or a block of a higher order
     */
    void __free_page(long page);

    /**
     * {@code alloc_pages_exact}: {@code size} bytes (rounded up to pages) physically
     * contiguous; the pages of the underlying block past the size go back to the allocator.
     * Returns the address, or 0 (NULL). Free with {@link #free_pages_exact}.
     *
     * @param size bytes, above 0; above 4 MiB ({@link #MAX_ORDER}) always fails
     * @param gfp  {@link Gfp} flags
     * @return the direct-map address of the first page, or 0 (NULL)
     * @throws IllegalArgumentException for a size of 0 or less, or unknown GFP bits
     */
    long alloc_pages_exact(long size, int gfp);

    /**
     * {@code free_pages_exact}: frees what {@link #alloc_pages_exact} returned for {@code size}.
     *
     * @param addr the address {@link #alloc_pages_exact} returned
     * @param size the size it was given, in bytes (rounded up to pages as it was)
     * @throws BadAddressException or {@link DoubleFreeException} when a page is
     *         not allocated; nothing is freed then
     * @throws IllegalArgumentException for a size of 0 or less
     */
    void free_pages_exact(long addr, long size);

    /**
     * {@code get_order}: the smallest order whose block holds {@code size} bytes.
     *
     * @param size bytes, above 0
     * @return log2 of the pages needed, rounded up (0 for up to 4 KiB); may exceed {@link #MAX_ORDER}
     * @throws IllegalArgumentException for a size of 0 or less
     */
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
