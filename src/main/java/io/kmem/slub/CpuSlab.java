package io.kmem.slub;

/**
 * One thread's current slab in one cache (the kernel's {@code struct kmem_cache_cpu}): the
 * slab it allocates from and its private list of that slab's free objects. Only the owner
 * touches {@link #slab} and {@link #freelist}, with plain accesses, except once the owner
 * has ended ({@link Thread#isAlive()} false gives the happens-before) or when the cache is
 * destroyed or the pool closed. Another thread that needs the objects back sets
 * {@link #flushRequested}; the owner flushes at its next slow path.
 */
final class CpuSlab {
    final Thread owner;
    Slab slab;
    long freelist;
    volatile boolean flushRequested;

    CpuSlab(Thread owner) {
        this.owner = owner;
    }
}
