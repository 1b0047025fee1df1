package io.kmem.stats;

/**
 * What the slab layer knows of an address (the kernel's {@code kmem_obj_info}): its cache,
 * slab and object. {@code offset} is where the address lies in the object (0 at its start).
 */
public record KmemObjInfo(String cache, long slabBase, long slabPfn, int slabPages, int index, long objectStart,
                          long offset, int objectSize, boolean allocated) {
}
