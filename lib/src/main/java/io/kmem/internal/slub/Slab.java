package io.kmem.internal.slub;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * One slab: 2^order frames from the buddy, carved into {@link KmemCacheImpl#objects} objects of
 * {@link KmemCacheImpl#size} bytes (the kernel's {@code struct slab}).
 *
 * <pre>
 *  base                                                                 base + PAGE_SIZE << order
 *  | stride 0           | stride 1           | ...  | stride objects-1   | padding (0x5a) |
 *  | [rz][object][rz][fp] ...                       (rz, fp: debug layouts only, see SlubDebug)
 *  object i starts at objBase + i * size; a free object holds the next free object's address
 *  at offset KmemCacheImpl.offset (0 ends the list)
 * </pre>
 *
 * State, all but {@link #state} and {@link #remote} guarded by the cache's lock:
 * <ul>
 * <li><b>frozen</b> (owned): a thread's current slab, or one it allocated from before and
 *     keeps ({@link #frozen} names its {@link CpuSlab}). That thread allocates from it and
 *     frees into it without the lock, its {@link #freelist} included; other threads give
 *     objects back onto {@link #remote} without the lock.
 * <li><b>partial</b>: some objects free; on the cache's partial list.
 * <li><b>full</b>: no object free; on no list (found again through the frame when freed).
 * <li><b>empty</b>: every object free; kept on the partial list while the cache has fewer
 *     than {@link KmemCacheImpl#minPartial} partial slabs, otherwise given back to the buddy.
 * </ul>
 * {@link #inuse} counts objects not on {@link #freelist}: objects handed out, plus those in
 * threads' sheaves; while frozen it is the object count, and unfreezing subtracts what the
 * owner's lists and {@link #remote} give back.
 */
final class Slab {
    /** A granule of {@link #state} where no object starts. */
    static final byte NOT_START = 0;
    static final byte FREE = 1;
    static final byte ALLOCATED = 2;
    private static final VarHandle STATE = MethodHandles.arrayElementVarHandle(byte[].class);
    static final long FROZEN = 1;
    static final VarHandle REMOTE;

    static {
        try {
            REMOTE = MethodHandles.lookup().findVarHandle(Slab.class, "remote", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    final KmemCacheImpl cache;
    /** Direct-map address of the first frame. */
    final long base;
    /** Address of object 0 (base plus the left red zone in debug layouts). */
    final long objBase;
    final long pfn;
    /**
     * One byte per granule of the slab from {@link #objBase}, a granule being the largest
     * power of two that divides the object size ({@link KmemCacheImpl#shift}): FREE or ALLOCATED
     * where an object starts, NOT_START elsewhere. So one shift, one mask and one load tell
     * whether an address is an object start and whether that object is allocated, with no
     * division: kfree catches double frees and inner pointers on every path. An allocation
     * writes FREE to ALLOCATED plainly (the object is on the allocating thread's private list
     * or taken under the lock: nobody else hands it out); every free claims its object with a
     * compare-and-set from ALLOCATED to FREE ({@link #claimFree}), so that of two frees racing
     * on two threads (the owner's lock-free one and another's under the lock) exactly one
     * wins. Costs one byte per object for power-of-two sizes, size / granule bytes per object
     * otherwise.
     */
    final byte[] state;
    /** Debug caches with SLAB_STORE_USER: per object, the last allocation and free. */
    final SlubDebug.Track[] tracks;
    /**
     * Debug caches: per object, the size kmalloc was asked for (SLUB's {@code orig_size});
     * the object size for kmem_cache_alloc and after ksize. With SLAB_RED_ZONE the bytes
     * from it to the object size are red zone ("kmalloc Redzone"). Null in other caches.
     */
    final int[] requested;

    /**
     * Objects other threads gave back to this slab while it is frozen, without the lock
     * (mimalloc's thread-free list): the head of a list linked like {@link #freelist}, or-ed
     * with {@link #FROZEN}. The word is {@link #FROZEN} alone while the slab is frozen with
     * nothing given back, 0 while it is not frozen (then frees take the cache lock). Pushed
     * by compare-and-set only while the bit is set; taken whole by the owner
     * ({@code getAndSet(FROZEN)}); cleared under the lock when the slab is unfrozen, so that a
     * push either lands before the unfreeze, which collects it, or sees the bit gone.
     */
    volatile long remote;
    /**
     * Free objects linked through their free pointers: under the lock while the slab is not
     * frozen; its owner's, without the lock, while frozen (the owner's frees into it while it
     * is not current push onto it).
     */
    long freelist;
    /**
     * While frozen and not current: this slab is on its owner's index of owned slabs with
     * objects on {@link #freelist} ({@link CpuSlab#ready}; the entry may be stale: its list
     * taken meanwhile, or the slab current). Owner's; cleared when the entry is popped or the
     * slab unfrozen, so a slab is on at most one index, at most once.
     */
    boolean queued;
    /** While {@link #queued}: its place in the index, so that unfreezing takes it off in O(1). */
    int readyAt;
    /** While frozen and not current: its slot in its owner's ring of owned slabs ({@link CpuSlab#owned}). */
    int ownedAt;
    int inuse;
    /**
     * The thread cache this slab is frozen to (its owner). Written under the lock, by the
     * owner (or for an ended owner, or at destroy and close); read without it by the free
     * paths, only to see whether the freeing thread owns it: a thread sees its own writes, so
     * a value naming the caller is current, and any other sends the free to the sheaf.
     */
    CpuSlab frozen;
    boolean onPartial;
    Slab prev;
    Slab next;

    Slab(KmemCacheImpl cache, long base, long pfn) {
        this.cache = cache;
        this.base = base;
        this.objBase = base + cache.redLeftPad;
        this.pfn = pfn;
        this.state = new byte[(int) (((long) cache.objects * cache.size) >>> cache.shift)];
        for (int i = 0; i < cache.objects; i++) {
            state[granule(i)] = FREE;
        }
        this.tracks = (cache.flags & KmemCacheImpl.SLAB_STORE_USER) != 0 ? new SlubDebug.Track[2 * cache.objects] : null;
        this.requested = cache.debug ? new int[cache.objects] : null;
    }

    int granule(int i) {
        return (int) (((long) i * cache.size) >>> cache.shift);
    }

    byte state(int i) {
        return state[granule(i)];
    }

    void setState(int i, byte v) {
        state[granule(i)] = v;
    }

    /** The free's claim: ALLOCATED to FREE in one compare-and-set; false when it lost. */
    boolean claimFree(int i) {
        return claimFree(state, granule(i));
    }

    static boolean claimFree(byte[] state, int g) {
        return STATE.compareAndSet(state, g, ALLOCATED, FREE);
    }

    long object(int i) {
        return objBase + (long) i * cache.size;
    }

    /** Index of the object starting at {@code addr}, or -1 when no object starts there. */
    int indexOf(long addr) {
        long off = addr - objBase;
        int i = (int) ((off * cache.mult) >>> 32);
        return off >= 0 && i < cache.objects && (long) i * cache.size == off ? i : -1;
    }

    long bytes() {
        return io.kmem.internal.phys.PhysLayout.PAGE_SIZE << cache.order;
    }
}
