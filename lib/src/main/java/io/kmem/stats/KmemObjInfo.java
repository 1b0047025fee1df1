package io.kmem.stats;

/**
 * What the slab layer knows of an address (the kernel's {@code kmem_obj_info}): its cache,
 * slab and object.
 *
 * @param cache       the name of the slab's cache
 * @param slabBase    the direct-map address of the slab's first page
 * @param slabPfn     the PFN of the slab's first page
 * @param slabPages   4 KiB pages in the slab
 * @param index       the object's index in the slab, from 0
 * @param objectStart the address of the object's first byte
 * @param offset      where the address lies from the object's start: 0 at its start,
 *                    {@code objectSize} or more in the padding or debug metadata after it
 * @param objectSize  the cache's object size in bytes
 * @param allocated   whether the object is handed out now
 */
public record KmemObjInfo(String cache, long slabBase, long slabPfn, int slabPages, int index, long objectStart,
                          long offset, int objectSize, boolean allocated) {
}
