package io.kmem;

import io.kmem.error.BadAddressException;
import io.kmem.error.DoubleFreeException;

/**
 * Virtually contiguous memory, as {@code <linux/vmalloc.h>} declares it.
 *
 * <p>An area takes frames from the page allocator, largest free blocks first, and maps them
 * contiguously in the pool's vmalloc window, with an unmapped guard page after it. The
 * memory is not physically contiguous: use {@link SlabApi} or {@link GfpApi} for DMA.
 *
 * <p>{@link MemoryPool} implements this contract; thread safety and the rules for arguments
 * are MemoryPool's.
 */
public interface VmallocApi {

    /**
     * {@code vmalloc}: {@code size} bytes (rounded up to pages), contiguous in virtual space,
     * from frames that need not be physically contiguous; not cleared. An unmapped guard page
     * follows the area. Returns its address, or 0 (NULL) with a warning when the size is 0,
     * larger than the pool can hold or the window can place, the frames cannot be had, or the
     * process is short of mappings ({@code vm.max_map_count}). It may block ({@code GFP_KERNEL}).
     *
     * @param size bytes, rounded up to whole 4 KiB pages
     * @return the area's address in the vmalloc window, or 0 (NULL)
     * @throws IllegalArgumentException for a negative size
     */
    long vmalloc(long size);

    /**
     * {@code vzalloc}: {@link #vmalloc}, zeroed.
     *
     * @param size bytes, rounded up to whole pages
     * @return the zeroed area's address, or 0 (NULL) as for {@link #vmalloc}
     * @throws IllegalArgumentException for a negative size
     */
    long vzalloc(long size);

    /**
     * {@code __vmalloc}: {@link #vmalloc} under {@code gfp} ({@code __GFP_ZERO}, the zone
     * modifiers, {@code __GFP_NOWARN} ...). vmalloc maps memory, and mapping takes the
     * process's mmap lock, which may block: a {@code gfp} that must not block
     * ({@code GFP_ATOMIC}, {@code GFP_NOWAIT}) gets NULL with a warning.
     *
     * @param size bytes, rounded up to whole pages
     * @param gfp  {@link io.kmem.gfp.Gfp} flags; they must allow blocking
     * @return the area's address, or 0 (NULL) as for {@link #vmalloc} or for a non-blocking {@code gfp}
     * @throws IllegalArgumentException for a negative size or unknown GFP bits
     */
    long __vmalloc(long size, int gfp);

    /**
     * {@code vmalloc_32}: {@link #vmalloc} from frames below 4 GiB ({@code GFP_DMA32}), or 0 (NULL).
     *
     * @param size bytes, rounded up to whole pages
     * @return the area's address, or 0 (NULL), e.g. when too few frames lie below 4 GiB
     * @throws IllegalArgumentException for a negative size
     */
    long vmalloc_32(long size);

    /**
     * {@code vmalloc_user}: zeroed, for mapping elsewhere (reported as {@code user}); or 0 (NULL).
     *
     * @param size bytes, rounded up to whole pages
     * @return the zeroed area's address, or 0 (NULL) as for {@link #vmalloc}
     * @throws IllegalArgumentException for a negative size
     */
    long vmalloc_user(long size);

    /**
     * {@code vcalloc}: {@code n * size} zeroed bytes; 0 (NULL) when the product overflows.
     *
     * @param n    number of elements, 0 or more
     * @param size bytes of each element, 0 or more
     * @return the zeroed area's address, or 0 (NULL) as for {@link #vmalloc} (0 bytes included) or on overflow
     * @throws IllegalArgumentException for a negative {@code n} or size
     */
    long vcalloc(long n, long size);

    /**
     * {@code vfree}: frees the area at {@code addr}, an address vmalloc returned; its frames go
     * back to the page allocator and the range to {@code PROT_NONE}. 0 is ignored.
     *
     * @param addr the area's start as a vmalloc-family call returned it, or 0
     * @throws DoubleFreeException for an area freed already
     * @throws BadAddressException for any other address (a kmalloc address, a vmap area, the
     *         middle of an area ...), naming what it is
     */
    void vfree(long addr);

    /**
     * {@code vmap}: maps the first {@code count} page handles of {@code pages} one after the
     * other in a new area of the vmalloc window; the pages stay the caller's. Returns the
     * area's address, or 0 (NULL) for a count of 0 or when the window is full.
     *
     * @param pages page handles of frames the caller holds (from {@link GfpApi#alloc_pages} and friends)
     * @param count how many of them to map, 0 to {@code pages.length}
     * @return the area's address, or 0 (NULL) for a count of 0, a full window or too few process mappings
     * @throws BadAddressException for a value that is not a page handle of this pool
     * @throws IllegalArgumentException for a free page, a count beyond the array, or part of a
     *         hugetlb page
     */
    long vmap(long[] pages, int count);

    /**
     * {@code vunmap}: removes the mapping vmap made at {@code addr}; the pages stay the caller's.
     *
     * @param addr the address {@link #vmap} returned
     * @throws BadAddressException for anything else, a vmalloc area included
     */
    void vunmap(long addr);

    /**
     * {@code is_vmalloc_addr}: whether {@code addr} is in the pool's vmalloc window.
     *
     * @param addr any address
     * @return true inside the window (an area, a guard page or a free range), false elsewhere
     */
    boolean is_vmalloc_addr(long addr);

    /**
     * {@code vmalloc_to_page}: the page handle of the frame mapped at {@code addr}, or 0 (NULL)
     * when nothing is (a guard page, a free range).
     *
     * @param addr an address in the vmalloc window, any byte of the page
     * @return the page handle, or 0 (NULL) for a guard page, a free range or a device mapping
     * @throws BadAddressException when {@code addr} is outside the vmalloc window
     */
    long vmalloc_to_page(long addr);

    /**
     * {@code vmalloc_to_pfn}: the PFN of the frame mapped at {@code addr} (the frame index in
     * an unprivileged pool).
     *
     * @param addr an address in the vmalloc window, any byte of the page
     * @return the frame's PFN
     * @throws BadAddressException when nothing is mapped there or {@code addr} is outside the
     *         window
     */
    long vmalloc_to_pfn(long addr);

    /**
     * {@code find_vm_area}: the area containing {@code addr} (guard page included), or null.
     *
     * @param addr any address
     * @return a snapshot of the area (vmalloc, vmap or ioremap), or null when no area holds {@code addr}
     */
    VmStruct find_vm_area(long addr);
}
