package io.kmem;

import io.kmem.error.BadAddressException;
import io.kmem.error.DoubleFreeException;
import io.kmem.error.KmemException;
import io.kmem.gfp.Gfp;
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
     * @param name  the cache's name in slabinfo and reports: one word, no blanks
     * @param size  bytes of each object, 1 to {@link #KMALLOC_MAX_SIZE}
     * @param align alignment of each object in bytes: 0 (8 bytes) or a power of two up to 4096
     * @param flags {@link SlabFlags} bits, 0 for none
     * @param ctor  run on each object's segment when its slab is made, or null for none
     * @return the cache, or null when the pool has a cache of that name already
     * @throws IllegalArgumentException for a bad name, size, alignment or flag
     * @throws KmemException with {@code SLAB_PANIC}, where null would be returned
     */
    KmemCache kmem_cache_create(String name, long size, long align, int flags, Consumer<MemorySegment> ctor);

    /**
     * {@code kmem_cache_alloc}: an object of the cache, in the state it was freed in (or as the
     * constructor left it).
     *
     * @param cache a cache of this pool
     * @param gfp   {@link Gfp} flags for the slab's pages when a new slab is needed
     * @return the object's direct-map address, or 0 (NULL) when out of memory
     * @throws KmemException after {@link #kmem_cache_destroy} of the cache
     */
    long kmem_cache_alloc(KmemCache cache, int gfp);

    /**
     * {@code kmem_cache_zalloc}: {@link #kmem_cache_alloc} with the object zeroed.
     *
     * @param cache a cache of this pool
     * @param gfp   {@link Gfp} flags
     * @return the zeroed object's address, or 0 (NULL) when out of memory
     * @throws KmemException after {@link #kmem_cache_destroy} of the cache
     */
    long kmem_cache_zalloc(KmemCache cache, int gfp);

    /**
     * {@code kmem_cache_free}: gives the object back to its cache.
     *
     * @param cache the cache the object came from
     * @param objp  the object's address, as {@link #kmem_cache_alloc} returned it
     * @throws DoubleFreeException when the object is already free
     * @throws BadAddressException when {@code objp} is not an object of {@code cache}
     */
    void kmem_cache_free(KmemCache cache, long objp);

    /**
     * {@code kmem_cache_alloc_bulk}: fills {@code p[0..size)} with objects. Returns
     * {@code size}, or 0 when not all could be had (then none are kept).
     *
     * @param cache a cache of this pool
     * @param gfp   {@link Gfp} flags
     * @param size  how many objects, 0 to {@code p.length}
     * @param p     receives the objects' addresses (zeroed again on failure)
     * @return {@code size}, or 0 when out of memory
     * @throws IllegalArgumentException for a size outside 0 to {@code p.length}
     */
    int kmem_cache_alloc_bulk(KmemCache cache, int gfp, int size, long[] p);

    /**
     * {@code kmem_cache_free_bulk}: frees {@code p[0..size)}; a null cache means kfree each.
     *
     * @param cache the objects' cache, or null to free each as {@link #kfree} does
     * @param size  how many objects, 0 to {@code p.length}
     * @param p     the objects' addresses
     * @throws DoubleFreeException or {@link BadAddressException} as {@link #kmem_cache_free},
     *         at the first bad object; the ones before it are freed
     * @throws IllegalArgumentException for a size outside 0 to {@code p.length}
     */
    void kmem_cache_free_bulk(KmemCache cache, int size, long[] p);

    /**
     * {@code kmem_cache_shrink}: gives the cache's empty slabs back to the page allocator.
     * Returns the pages released. Other threads' current slabs come back at their next slow
     * path.
     *
     * @param cache a cache of this pool
     * @return the 4 KiB pages given back
     */
    long kmem_cache_shrink(KmemCache cache);

    /**
     * {@code kmem_cache_destroy}: frees the cache and all its slabs. With objects still
     * allocated, reports each (see {@link MemoryPool#takeSlabReports()}) and, as the kernel does, takes
     * the cache off the pool's list (its name may be used again) and leaves its memory as it
     * is; it then refuses allocations, its objects may still be freed, and destroying it again
     * once they are frees it. Destroying a cache that another thread still uses is a bug, as
     * in the kernel.
     *
     * @param cache a cache of this pool, or null (ignored)
     * @throws KmemException when the cache is destroyed already
     */
    void kmem_cache_destroy(KmemCache cache);

    /**
     * {@code kmalloc}: {@code size} bytes, physically contiguous, not cleared. Returns the
     * address, ZERO_SIZE_PTR for size 0, or 0 (NULL) when out of memory or above
     * {@link #KMALLOC_MAX_SIZE} (with a warning unless {@code __GFP_NOWARN}).
     *
     * @param size bytes, 0 or more
     * @param gfp  {@link Gfp} flags ({@code GFP_KERNEL}, {@code GFP_ATOMIC}, zone modifiers ...)
     * @return the object's direct-map address, ZERO_SIZE_PTR for size 0, or 0 (NULL)
     * @throws IllegalArgumentException for a negative size or unknown GFP bits
     */
    long kmalloc(long size, int gfp);

    /**
     * {@code kzalloc}: {@link #kmalloc} with the bytes zeroed.
     *
     * @param size bytes, 0 or more
     * @param gfp  {@link Gfp} flags
     * @return the zeroed object's address, ZERO_SIZE_PTR for size 0, or 0 (NULL)
     * @throws IllegalArgumentException for a negative size or unknown GFP bits
     */
    long kzalloc(long size, int gfp);

    /**
     * {@code kmalloc_array}: {@code n * size} bytes; 0 (NULL) when the product overflows.
     *
     * @param n    number of elements, 0 or more
     * @param size bytes of each element, 0 or more
     * @param gfp  {@link Gfp} flags
     * @return as {@link #kmalloc} for {@code n * size} bytes; 0 (NULL) on overflow
     * @throws IllegalArgumentException for a negative {@code n} or size, or unknown GFP bits
     */
    long kmalloc_array(long n, long size, int gfp);

    /**
     * {@code kcalloc}: {@link #kmalloc_array} zeroed.
     *
     * @param n    number of elements, 0 or more
     * @param size bytes of each element, 0 or more
     * @param gfp  {@link Gfp} flags
     * @return the zeroed array's address, ZERO_SIZE_PTR for 0 bytes, or 0 (NULL) when out of
     *         memory or on overflow
     * @throws IllegalArgumentException for a negative {@code n} or size, or unknown GFP bits
     */
    long kcalloc(long n, long size, int gfp);

    /**
     * {@code krealloc}: the object resized, contents kept up to the smaller size. Returns the
     * new address (the same when it fits), 0 (NULL) when out of memory (the old object is
     * kept), or ZERO_SIZE_PTR for size 0 (the object is freed).
     *
     * @param p       an object kmalloc returned, or NULL / ZERO_SIZE_PTR (then as {@link #kmalloc})
     * @param newSize the new size in bytes, 0 or more
     * @param gfp     {@link Gfp} flags for a new object
     * @return the object's address (maybe new), ZERO_SIZE_PTR, or 0 (NULL) with {@code p} kept
     * @throws IllegalArgumentException for a negative size or unknown GFP bits; {@code p} is unchanged
     * @throws BadAddressException or {@link DoubleFreeException} when {@code p} is not an allocated object
     */
    long krealloc(long p, long newSize, int gfp);

    /**
     * {@code ksize}: the bytes usable at {@code p} (its cache's object size, or its pages).
     *
     * @param p an allocated slab object or large kmalloc, or NULL / ZERO_SIZE_PTR
     * @return the usable bytes, 0 for NULL and ZERO_SIZE_PTR
     * @throws BadAddressException for a free object, the middle of one, or an address no kmalloc returned
     */
    long ksize(long p);

    /**
     * {@code kfree}: frees a kmalloc'd object (any slab object, as in the kernel). NULL and
     * ZERO_SIZE_PTR are no-ops.
     *
     * @param p the address kmalloc (or kmem_cache_alloc) returned, NULL or ZERO_SIZE_PTR
     * @throws DoubleFreeException when the object is already free
     * @throws BadAddressException for an address kmalloc did not return (the message says whose it is)
     */
    void kfree(long p);

    /**
     * {@code kfree_sensitive}: zeroes all {@code ksize(p)} bytes, then frees. NULL and
     * ZERO_SIZE_PTR are no-ops.
     *
     * @param p the address kmalloc returned, NULL or ZERO_SIZE_PTR
     * @throws BadAddressException for an address kmalloc did not return, or a free object
     */
    void kfree_sensitive(long p);

    /**
     * {@code kmemdup}: a kmalloc'd copy of {@code len} bytes at {@code src} (an address in this pool).
     *
     * @param src the first byte to copy: pool memory (direct map or a vmalloc area)
     * @param len bytes to copy, 0 or more
     * @param gfp {@link Gfp} flags for the copy ({@code __GFP_ZERO} is dropped)
     * @return the copy's address, ZERO_SIZE_PTR for 0 bytes, or 0 (NULL) when out of memory
     * @throws BadAddressException when the bytes are not pool memory
     * @throws IllegalArgumentException for a negative length or unknown GFP bits
     */
    long kmemdup(long src, long len, int gfp);

    /**
     * {@code kmemdup}: a kmalloc'd copy of {@code src}'s bytes; 0 (NULL) when out of memory.
     *
     * @param src the bytes to copy, any segment (heap or native)
     * @param gfp {@link Gfp} flags for the copy ({@code __GFP_ZERO} is dropped)
     * @return the copy's address, ZERO_SIZE_PTR for an empty segment, or 0 (NULL)
     * @throws IllegalArgumentException for unknown GFP bits
     */
    long kmemdup(MemorySegment src, int gfp);

    /**
     * The slab object holding {@code addr} (the kernel's {@code kmem_obj_info}): cache, slab,
     * object index and start, and whether it is allocated; null when no slab holds it.
     *
     * @param addr any address, inside an object or not
     * @return what the slab layer knows of it, or null when it is not inside a slab's objects
     */
    KmemObjInfo kmem_obj_info(long addr);

    /**
     * {@code kvmalloc}: kmalloc first (without a warning, and without retrying above one
     * page), vmalloc when that fails or the size is beyond kmalloc; free with {@link #kvfree}.
     * Returns 0 (NULL) on failure; a {@code gfp} that must not block gets no vmalloc.
     *
     * @param size bytes, 0 or more
     * @param gfp  {@link Gfp} flags
     * @return a direct-map or vmalloc address, ZERO_SIZE_PTR for size 0, or 0 (NULL)
     * @throws IllegalArgumentException for a negative size or unknown GFP bits
     */
    long kvmalloc(long size, int gfp);

    /**
     * {@code kvzalloc}: {@link #kvmalloc}, zeroed.
     *
     * @param size bytes, 0 or more
     * @param gfp  {@link Gfp} flags
     * @return the zeroed memory's address, ZERO_SIZE_PTR for size 0, or 0 (NULL)
     * @throws IllegalArgumentException for a negative size or unknown GFP bits
     */
    long kvzalloc(long size, int gfp);

    /**
     * {@code kvfree}: vfree for a vmalloc address, kfree for anything else.
     *
     * @param addr what {@link #kvmalloc} returned, or NULL / ZERO_SIZE_PTR (ignored)
     * @throws DoubleFreeException when it is freed already
     * @throws BadAddressException for an address neither vmalloc nor kmalloc returned
     */
    void kvfree(long addr);
}
