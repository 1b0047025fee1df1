package io.kmem;

/**
 * What {@link MemoryPool#find_vm_area} returns: the kernel's {@code struct vm_struct} for one
 * area of the vmalloc window, as a snapshot.
 *
 * @param addr     start of the area
 * @param size     bytes of the range, the guard page included, as the kernel counts it
 *                 ({@link #areaSize()} leaves the guard page out)
 * @param flags    {@link #VM_IOREMAP}, {@link #VM_ALLOC}, {@link #VM_MAP}, {@link #VM_USERMAP}
 * @param nrPages  pages mapped from the pool's frames ({@code nr_pages}; 0 for a device)
 * @param physAddr physical address of a device mapping ({@code phys_addr}), 0 otherwise
 * @param caller   {@code Class.method:line} of the code that asked for the area
 */
public record VmStruct(long addr, long size, int flags, int nrPages, long physAddr, String caller) {
    /** A device mapping made by ioremap. */
    public static final int VM_IOREMAP = 0x1;
    /** An area of vmalloc'ed frames; vfree frees them. */
    public static final int VM_ALLOC = 0x2;
    /** A vmap of pages the caller owns; vunmap leaves them to the caller. */
    public static final int VM_MAP = 0x4;
    /** Zeroed memory meant to be mapped elsewhere (vmalloc_user). */
    public static final int VM_USERMAP = 0x8;

    /**
     * {@code get_vm_area_size}: the bytes that may be mapped, without the guard page.
     *
     * @return {@link #size()} less the 4 KiB guard page
     */
    public long areaSize() {
        return size - 4096;
    }
}
