package io.kmem;

import io.kmem.internal.slub.KmemCacheImpl;

/**
 * A slab cache made by {@link MemoryPool#kmem_cache_create}: the kernel's
 * {@code struct kmem_cache *}. A handle: allocate and free through the pool's
 * {@code kmem_cache_*} methods.
 */
public final class KmemCache {
    final KmemCacheImpl impl;
    final MemoryPool pool;

    KmemCache(KmemCacheImpl impl, MemoryPool pool) {
        this.impl = impl;
        this.pool = pool;
    }

    /**
     * The name given at creation; it names the cache in slabinfo and in reports.
     *
     * @return the cache's name
     */
    public String name() {
        return impl.name();
    }

    /**
     * Bytes of each object as asked for.
     *
     * @return the {@code size} given to {@code kmem_cache_create}
     */
    public int objectSize() {
        return impl.objectSize();
    }

    /**
     * Bytes from one object to the next in a slab (object, alignment and debug metadata).
     *
     * @return the object stride in bytes, at least {@link #objectSize()}
     */
    public int size() {
        return impl.size();
    }

    /**
     * Alignment of each object's address, in bytes.
     *
     * @return the alignment, a power of two
     */
    public int align() {
        return impl.align();
    }

    /**
     * The {@link SlabFlags} in force, including those {@code kmem.slub_debug} added.
     *
     * @return the {@code SLAB_*} bits
     */
    public int flags() {
        return impl.flags();
    }

    /**
     * Each slab is 2^order pages.
     *
     * @return the order of the cache's slabs
     */
    public int order() {
        return impl.order();
    }

    /**
     * Objects in one slab.
     *
     * @return how many objects each slab holds
     */
    public int objectsPerSlab() {
        return impl.objectsPerSlab();
    }

    @Override
    public String toString() {
        return "kmem_cache " + name() + " (object " + objectSize() + " B, size " + size() + " B, align " + align()
                + ", order " + order() + ", " + objectsPerSlab() + " objects a slab)";
    }
}
