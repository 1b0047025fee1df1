package io.kmem;

import io.kmem.error.BadAddressException;
import io.kmem.error.DoubleFreeException;
import io.kmem.internal.slub.SlabAllocator;
import io.kmem.stats.KmemObjInfo;
import java.lang.foreign.MemorySegment;
import java.util.function.Consumer;

/**
 * The slab allocator, as {@code <linux/slab.h>} declares it: {@code kmalloc} and friends,
 * {@code kmem_cache_*}, and {@code kvmalloc}.
 *
 * <p>Objects come from per-size caches (8 bytes to 8 KiB, plus 96 and 192) carved from
 * buddy pages; larger kmalloc requests take whole pages. {@code kfree} finds the slab of any
 * address in O(1). Out of memory is 0 (NULL); misuse (a double free, a foreign pointer)
 * throws an exception naming the function, the address and the cache.
 *
 * <p>{@link MemoryPool} implements this contract; thread safety and the rules for arguments
 * are MemoryPool's.
 */
public interface SlabApi {

    /** What {@code kmalloc(0)} returns: not NULL, but no byte may be touched. */
    long ZERO_SIZE_PTR = SlabAllocator.ZERO_SIZE_PTR;

    /** The largest kmalloc: 4 MiB; larger sizes return NULL with a warning. */
    long KMALLOC_MAX_SIZE = SlabAllocator.KMALLOC_MAX_SIZE;

    /** The largest kmalloc served from a slab cache (8 KiB); above, whole pages from the buddy. */
    int KMALLOC_MAX_CACHE_SIZE = SlabAllocator.KMALLOC_MAX_CACHE_SIZE;

    /**
     * {@code kmem_cache_create}: a cache of {@code size}-byte objects aligned to {@code align}
     * (0: 8 bytes), with {@link SlabFlags} and an optional constructor that runs on every
     * object when its slab is made (not at each allocation: objects come back in the state
     * they were freed in). Returns null when a cache of that name exists (with a warning), or
     * throws with {@code SLAB_PANIC}.
     *
     * @throws IllegalArgumentException for a bad name, size (1 to 4 MiB), alignment or flag
     */
    KmemCache kmem_cache_create(String name, long size, long align, int flags, Consumer<MemorySegment> ctor);

    /** {@code kmem_cache_alloc}: an object's address, or 0 (NULL) when out of memory. */
    long kmem_cache_alloc(KmemCache cache, int gfp);

    /** {@code kmem_cache_zalloc}: a zeroed object's address, or 0 (NULL). */
    long kmem_cache_zalloc(KmemCache cache, int gfp);

    /**
     * {@code kmem_cache_free}.
     *
     * @throws DoubleFreeException when the object is already free
     * @throws BadAddressException when {@code objp} is not an object of {@code cache}
     */
    void kmem_cache_free(KmemCache cache, long objp);

    /**
     * {@code kmem_cache_alloc_bulk}: fills {@code p[0..size)} with objects. Returns
     * {@code size}, or 0 when not all could be had (then none are kept).
     */
    int kmem_cache_alloc_bulk(KmemCache cache, int gfp, int size, long[] p);

    /** {@code kmem_cache_free_bulk}: frees {@code p[0..size)}; a null cache means kfree each. */
    void kmem_cache_free_bulk(KmemCache cache, int size, long[] p);

    /**
     * {@code kmem_cache_shrink}: gives the cache's empty slabs back to the page allocator.
     * Returns the pages released. Other threads' current slabs come back at their next slow
     * path.
     */
    long kmem_cache_shrink(KmemCache cache);

    /**
     * {@code kmem_cache_destroy}: frees the cache and all its slabs. With objects still
     * allocated, reports each (see {@link MemoryPool#takeSlabReports()}) and, as the kernel does, takes
     * the cache off the pool's list (its name may be used again) and leaves its memory as it
     * is; it then refuses allocations, its objects may still be freed, and destroying it again
     * once they are frees it. Destroying a cache that another thread still uses is a bug, as
     * in the kernel.
     */
    void kmem_cache_destroy(KmemCache cache);

    /**
     * {@code kmalloc}: {@code size} bytes, physically contiguous, not cleared. Returns the
     * address, ZERO_SIZE_PTR for size 0, or 0 (NULL) when out of memory or above
     * {@link #KMALLOC_MAX_SIZE} (with a warning unless {@code __GFP_NOWARN}).
     */
    long kmalloc(long size, int gfp);

    /** {@code kzalloc}: {@link #kmalloc} with the bytes zeroed. */
    long kzalloc(long size, int gfp);

    /** {@code kmalloc_array}: {@code n * size} bytes; 0 (NULL) when the product overflows. */
    long kmalloc_array(long n, long size, int gfp);

    /** {@code kcalloc}: {@link #kmalloc_array} zeroed. */
    long kcalloc(long n, long size, int gfp);

    /**
     * {@code krealloc}: the object resized, contents kept up to the smaller size. Returns the
     * new address (the same when it fits), 0 (NULL) when out of memory (the old object is
     * kept), or ZERO_SIZE_PTR for size 0 (the object is freed).
     */
    long krealloc(long p, long newSize, int gfp);

    /** {@code ksize}: the bytes usable at {@code p} (its cache's object size, or its pages). */
    long ksize(long p);

    /**
     * {@code kfree}. NULL and ZERO_SIZE_PTR are no-ops.
     *
     * @throws DoubleFreeException when the object is already free
     * @throws BadAddressException for an address kmalloc did not return (the message says whose it is)
     */
    void kfree(long p);

    /** {@code kfree_sensitive}: zeroes all {@code ksize(p)} bytes, then frees. */
    void kfree_sensitive(long p);

    /**
     * {@code kmemdup}: a kmalloc'd copy of {@code len} bytes at {@code src} (an address in this pool).
     *
     * @throws BadAddressException when the bytes are not pool memory
     */
    long kmemdup(long src, long len, int gfp);

    /** {@code kmemdup}: a kmalloc'd copy of {@code src}'s bytes; 0 (NULL) when out of memory. */
    long kmemdup(MemorySegment src, int gfp);

    /**
     * The slab object holding {@code addr} (the kernel's {@code kmem_obj_info}): cache, slab,
     * object index and start, and whether it is allocated; null when no slab holds it.
     */
    KmemObjInfo kmem_obj_info(long addr);

    /**
     * {@code kvmalloc}: kmalloc first (without a warning, and without retrying above one
     * page), vmalloc when that fails or the size is beyond kmalloc; free with {@link #kvfree}.
     * Returns 0 (NULL) on failure; a {@code gfp} that must not block gets no vmalloc.
     */
    long kvmalloc(long size, int gfp);

    /** {@code kvzalloc}: {@link #kvmalloc}, zeroed. */
    long kvzalloc(long size, int gfp);

    /** {@code kvfree}: vfree for a vmalloc address, kfree for anything else. */
    void kvfree(long addr);
}
