package io.kmem.internal.slub;

/**
 * One thread's current slab in one cache (the kernel's {@code struct kmem_cache_cpu}): the
 * slab it allocates from, its private list of that slab's free objects, its sheaf (an array
 * of objects of other slabs that this thread freed; SLUB's per-cpu sheaves), the
 * other slabs it owns (mimalloc's thread-owned pages, SLUB's per-cpu partial slabs), and an
 * index of those holding objects it freed. Only the owner touches {@link #slab},
 * {@link #freelist}, the sheaf, the owned slabs and the index (and the owned slabs'
 * {@link Slab#freelist}, {@link Slab#queued}, {@link Slab#readyAt} and {@link Slab#ownedAt}),
 * with plain accesses,
 * except once the owner has ended ({@link Thread#isAlive()} false gives the happens-before) or
 * when the cache is destroyed or the pool closed. Another thread that needs the objects back
 * sets {@link #flushRequested}; the owner flushes at its next slow path.
 */
final class CpuSlab extends CpuSlabFields {
    /** Keeps the next object in the heap off this one's cache line (see {@link CpuSlabPad}). */
    @SuppressWarnings("unused")
    private long q0, q1, q2, q3, q4, q5, q6, q7;

    CpuSlab(Thread owner, boolean irqThread) {
        super(owner, irqThread);
    }
}

/**
 * Two threads' caches allocated one after the other would share a cache line, and every
 * kmalloc and kfree writes {@link CpuSlabFields#freelist}. HotSpot lays out a superclass's
 * fields first, so 64 bytes of padding before and after the hot fields keep them alone
 * (two threads on one cache: 0.90x of one thread's time per pair, in one JMH run).
 */
abstract class CpuSlabPad extends CpuSlabOwner {
    @SuppressWarnings("unused")
    private long p0, p1, p2, p3, p4, p5, p6, p7;

    CpuSlabPad(Thread owner) {
        super(owner);
    }
}

/**
 * The owner, on a line of its own before the padding: every free reads it (through the
 * slab's {@code frozen}) to see whether the caller owns the slab, also from other threads
 * (a consumer freeing what a producer allocated), and a read of the line that the owner
 * writes at every kmalloc and kfree would move that line between their cores each time.
 */
abstract class CpuSlabOwner {
    final Thread owner;

    CpuSlabOwner(Thread owner) {
        this.owner = owner;
    }
}

abstract class CpuSlabFields extends CpuSlabPad {
    Slab slab;
    long freelist;
    volatile boolean flushRequested;
    /** The owner is running the cache's constructor over a new slab (a re-entry is refused). */
    boolean constructing;
    /**
     * The sheaf: objects freed by the owner into slabs other than its current one (into its
     * owned ones only while the sheaf has room; then onto their lists), each claimed (its
     * state byte FREE) but still counted in its slab's {@code inuse}, and the slab of each.
     * kfree pushes, the allocation paths pop without the lock; a sheaf that fills with a free
     * into a slab the owner does not own goes back to its slabs in one pass (without the
     * lock where it can, see KmemCacheImpl's pushRemote).
     */
    final long[] sheafObjs = new long[KmemCacheImpl.SHEAF_SIZE];
    final Slab[] sheafSlabs = new Slab[KmemCacheImpl.SHEAF_SIZE];
    int sheafCount;

    /**
     * The owned slabs: slabs this thread allocated from and still holds (frozen to it, as the
     * current one), in the order they stopped being current, as a ring:
     * {@code owned[(ownedHead + k) & (owned.length - 1)]} for k below {@link #ownedCount}.
     * The owner's frees into them go to its sheaf, or with the sheaf full onto their
     * {@link Slab#freelist} without the lock (putting the slab on {@link #ready}); other
     * threads' frees go onto their {@link Slab#remote}.
     * A slab's slot is its {@link Slab#ownedAt}. Grown (powers of two) in the
     * slow path up to {@link KmemCacheImpl#ownedMax}.
     */
    Slab[] owned;
    int ownedHead;
    int ownedCount;
    /**
     * The index of owned slabs with free objects of the owner's (mimalloc's queue of pages
     * with free blocks): a stack, {@code ready[0..readyCount)}, of owned slabs whose own
     * {@link Slab#freelist} became non-empty by the owner's free ({@link Slab#queued} set).
     * kmalloc's second lock-free path (and the slow path) pops it in O(1) instead of searching
     * the owned slabs. An entry may be stale (its list taken while the slab was current):
     * checked when popped. Unfreezing a slab takes it off ({@link Slab#readyAt}). Sized with
     * {@link #owned} (one more, for the current slab).
     */
    Slab[] ready;
    int readyCount;
    /** Owned slabs the allocation slow path looked at (entries popped, slabs scanned); tests. */
    long ownedLooked;

    /**
     * The owner is an interrupt thread: it keeps no slab between allocations, so that each of
     * them misses the fast path and reaches the atomic-context check in the slow path (read
     * only there; the fast path is unchanged).
     */
    final boolean irqThread;

    CpuSlabFields(Thread owner, boolean irqThread) {
        super(owner);
        this.irqThread = irqThread;
    }
}
