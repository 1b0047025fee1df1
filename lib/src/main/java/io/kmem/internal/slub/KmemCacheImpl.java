package io.kmem.internal.slub;

import static io.kmem.gfp.Gfp.__GFP_DMA;
import static io.kmem.gfp.Gfp.__GFP_DMA32;
import static io.kmem.gfp.Gfp.__GFP_NOFAIL;
import static io.kmem.gfp.Gfp.__GFP_NOWARN;
import static io.kmem.gfp.Gfp.__GFP_ZERO;

import io.kmem.error.BadAddressException;
import io.kmem.error.DoubleFreeException;
import io.kmem.error.KmemException;
import io.kmem.gfp.Gfp;
import io.kmem.internal.phys.PhysLayout;
import io.kmem.internal.trace.AtomicContext;
import io.kmem.stats.SlabCacheStats;
import io.kmem.internal.trace.Trace;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.Reference;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * A slab cache, the kernel's {@code struct kmem_cache} as SLUB runs it: objects of one size
 * carved out of slabs (2^order frames from the buddy), each free object holding the address
 * of the next at {@link #offset}.
 *
 * <h2>Ownership</h2>
 * A thread owns the slabs it allocates from (frozen to its {@link CpuSlab}, as mimalloc's
 * pages belong to a thread and SLUB's per-cpu partial slabs to a CPU): its current slab, and
 * the slabs that ran out while current, kept in the order they did (at most
 * {@link #ownedMax}: an eighth of the pool's frames, 4096 slabs; beyond that the oldest goes
 * back to the cache). Only the owner touches an owned slab's {@link Slab#freelist}; other
 * threads give objects back to it through its {@link Slab#remote} list. The owned slabs whose
 * own list the owner's frees (or its sheaf's flushes) made non-empty are on an index ({@link CpuSlab#ready}, a stack;
 * mimalloc's queue of pages with free blocks), so that the owner finds one in O(1) however
 * many it owns and however its frees scatter over them. So one thread's steady state (batch,
 * ring, random replacement) takes no lock at all, and an emptied slab is reused without going
 * back to the buddy.
 *
 * <h2>Allocation</h2>
 * <ol>
 * <li><b>Fast path</b>, no lock, no Java allocation: the calling thread's {@link CpuSlab} has
 *     a private list of free objects of its current slab; pop the head, after checking that
 *     it is an object start of that slab and free ({@link Slab#state}).
 * <li>Otherwise, still without the lock: a head the fast path refused is checked again, and
 *     reported and dropped if a write after free damaged it; pop the thread's sheaf (objects it freed into slabs
 *     other than its current one); or make the owned slab on top of the index current, its own list
 *     taken whole (entries made stale meanwhile, the list taken while the slab was current,
 *     are dropped as they are popped); or take the current slab's own list or remote list
 *     (objects other threads gave back) whole; or make the first of its owned slabs with
 *     objects other threads gave back current ({@value #OWNED_SCAN} looked at, oldest first,
 *     each without any moved to the tail).
 * <li>Otherwise, under {@link #lock}: the current slab joins the owned ones; freeze the first
 *     partial slab; or (lock dropped) take a new slab from the buddy, run the constructor on
 *     each object, and freeze it.
 * </ol>
 * <h2>Free</h2>
 * <ol>
 * <li>The slab comes from the frame ({@link SlabAllocator#slabOf}); a shift and a mask of
 *     the offset find the object's state byte ({@link Slab#state}), which says whether an
 *     allocated object starts there. Every free claims the object (compare-and-set of its
 *     state byte, ALLOCATED to FREE): of two racing frees one wins, the other is a double
 *     free.
 * <li>Into a slab the caller owns: its current one, onto its private list; another, into
 *     its sheaf ({@link CpuSlab}, {@value #SHEAF_SIZE} objects) while the sheaf has room
 *     (frees and allocations taking turns: the next allocation takes the object back without
 *     touching it), else (a run of frees) straight onto that slab's own
 *     {@link Slab#freelist} (plain stores), the slab going onto the index when its list was
 *     empty and it is not on it already ({@link Slab#queued}). No lock either way.
 * <li>Any other free goes to the thread's sheaf too; a full one goes back first, without
 *     the lock where it can, runs of one slab at a time: objects of the caller's own slabs
 *     onto their lists (plain stores, the index as above), of slabs other threads own onto
 *     their remote lists (one compare-and-set per run); the rest (slabs no thread owns)
 *     under {@link #lock}, in one
 *     round, onto their slabs' lists: a full slab becomes partial; an empty one stays in the
 *     cache while its partial slabs hold at most 1/{@value #RETAIN_DIVISOR} of the pool
 *     (reused without the buddy), else goes back to the buddy once the cache keeps
 *     {@link #minPartial} partial slabs. The page allocator takes kept empty slabs back
 *     under memory pressure ({@link #reclaimEmpty}), with the sheaf and owned slabs of the
 *     thread that asks (others are asked to flush theirs at their next slow path). Unfreezing an owned
 *     slab takes it off its owner's index (and empties the index when all go).
 * </ol>
 * Debug caches (any of {@code SLAB_CONSISTENCY_CHECKS}, {@code SLAB_RED_ZONE},
 * {@code SLAB_POISON}, {@code SLAB_STORE_USER}) take neither fast path: every allocation and
 * free runs under the lock with the checks of {@link SlubDebug}, as in SLUB.
 *
 * <h2>Locks</h2>
 * {@link #lock} (the kernel's {@code list_lock}) guards the partial list, the slab set and
 * every {@link Slab} field but {@code state} and {@code remote}, except that an owned slab's
 * {@code freelist} is its owner's (see {@link CpuSlab}); taken with no other slab lock held. The buddy's locks are taken only with it released (new slabs, discarded slabs,
 * reclaim).
 */
public final class KmemCacheImpl {
    public static final int SLAB_CONSISTENCY_CHECKS = 0x0000_0100;
    public static final int SLAB_RED_ZONE = 0x0000_0400;
    public static final int SLAB_POISON = 0x0000_0800;
    public static final int SLAB_HWCACHE_ALIGN = 0x0000_2000;
    public static final int SLAB_CACHE_DMA = 0x0000_4000;
    public static final int SLAB_CACHE_DMA32 = 0x0000_8000;
    public static final int SLAB_STORE_USER = 0x0001_0000;
    public static final int SLAB_PANIC = 0x0004_0000;
    public static final int DEBUG_FLAGS = SLAB_CONSISTENCY_CHECKS | SLAB_RED_ZONE | SLAB_POISON | SLAB_STORE_USER;
    public static final int VALID_FLAGS = DEBUG_FLAGS | SLAB_HWCACHE_ALIGN | SLAB_CACHE_DMA | SLAB_CACHE_DMA32
            | SLAB_PANIC;

    /** The largest slab order chosen for small objects (the kernel's slub_max_order). */
    static final int MAX_SLAB_ORDER = 3;
    static final int CACHE_LINE = 64;
    private static final int THREAD_SLOTS = 256;
    /** Objects a thread's sheaf holds ({@link CpuSlab}): one lock round per this many frees. */
    static final int SHEAF_SIZE = 64;
    /** Owned slabs the allocation slow path looks at for free objects before taking the lock. */
    static final int OWNED_SCAN = 4;
    /**
     * A cache keeps its empty slabs (instead of giving them back to the buddy) while its
     * partial slabs hold at most 1 / this of the pool's frames; the page allocator takes them
     * back under memory pressure ({@link SlabAllocator#reclaim}).
     */
    static final int RETAIN_DIVISOR = 4;
    private static final int FAST_GFP = Gfp.VALID_MASK & ~(__GFP_DMA | __GFP_DMA32);
    /**
     * The fast paths read and write free pointers at absolute addresses through this
     * global-scope segment: no scope check (about 1 ns each). Safe against a racing pool
     * close because the pool's direct map stays mapped, as inert memory, until the pool is
     * unreachable (see FramePool), and the fast paths keep {@code this} reachable.
     */
    private static final MemorySegment ALL = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);
    private static final ValueLayout.OfLong WORD = ValueLayout.JAVA_LONG_UNALIGNED;

    final SlabAllocator sa;
    final String name;
    final int objectSize;
    final int size;
    final int align;
    final int flags;
    final int order;
    final int objects;
    /** Free pointer's offset from the object start. */
    final int offset;
    /** Left red zone bytes before each object (debug). */
    final int redLeftPad;
    /** End of object plus right red zone, from the object start (debug: where checks stop). */
    final int inuse;
    /**
     * ceil(2^32 / size): object index = (offset * mult) >>> 32 for offsets that are multiples
     * of the size ({@link Slab#indexOf}, slow paths and reports).
     */
    final long mult;
    final int minPartial;
    /** log2 of the state granule: the largest power of two dividing {@link #size}. */
    final int shift;
    /**
     * Bits that must be clear in an object's offset: the granule's low bits, and the sign
     * bit, so that one test also refuses addresses before object 0.
     */
    final long granuleMask;
    final boolean debug;
    final Consumer<MemorySegment> ctor;
    final int zoneGfp;
    final ReentrantLock lock = new ReentrantLock();

    private final MemorySegment dm;
    private final long dbase;
    private final CpuSlab[] bySlot = new CpuSlab[THREAD_SLOTS];
    private final ThreadLocal<CpuSlab> cpus = ThreadLocal.withInitial(this::newCpu);
    private final List<CpuSlab> allCpus = new ArrayList<>();
    private final Set<Slab> slabs = new LinkedHashSet<>();
    private Slab partialHead;
    private int nrPartial;
    /** Set by destroy and pool close. */
    volatile boolean dead;
    /**
     * Every allocation takes the slow path: the cache is dead, or failslab is armed (then
     * every allocation must be offered to it). The allocation fast path reads this one flag;
     * the free fast path needs none (destroy and close unfreeze every thread's slab, so a
     * later free misses the fast path and the slow path says why).
     */
    volatile boolean slowOnly;
    private boolean destroyed;
    /**
     * kmem_cache_destroy found objects still allocated: the cache left its pool's list (its
     * name is free again) and refuses allocations; its objects may still be freed, and a
     * later kmem_cache_destroy releases it.
     */
    private boolean orphaned;

    private long allocSlow;
    private long freeSlow;
    private long slabsAllocated;
    private long slabsFreed;
    private long failures;

    KmemCacheImpl(SlabAllocator sa, String name, int objectSize, int align, int flags, Consumer<MemorySegment> ctor) {
        this.sa = sa;
        this.name = name;
        this.objectSize = objectSize;
        this.flags = flags;
        this.ctor = ctor;
        this.debug = (flags & DEBUG_FLAGS) != 0;
        this.dm = sa.phys.directMap();
        this.dbase = sa.phys.directBase();
        int a = Math.max(align, 8);
        if ((flags & SLAB_HWCACHE_ALIGN) != 0) {
            int ralign = CACHE_LINE;
            while (objectSize <= ralign / 2) {
                ralign /= 2;
            }
            a = Math.max(a, ralign);
        }
        this.align = a;
        // The layout, as SLUB's calculate_sizes: object, right red zone, free pointer, then
        // the left red zone of the next object; see SlubDebug for the bytes.
        int s = roundUp(objectSize, 8);
        if ((flags & SLAB_RED_ZONE) != 0 && s == objectSize) {
            s += 8;
        }
        this.inuse = s;
        if ((flags & (SLAB_POISON | SLAB_RED_ZONE)) != 0 || ctor != null) {
            this.offset = s;
            s += 8;
        } else {
            this.offset = 0;
        }
        this.redLeftPad = (flags & SLAB_RED_ZONE) != 0 ? roundUp(8, a) : 0;
        s += redLeftPad;
        this.size = roundUp(s, a);
        this.order = calculateOrder(size);
        this.objects = (int) ((PhysLayout.PAGE_SIZE << order) / size);
        this.mult = (1L << 32) / size + 1;
        this.shift = Integer.numberOfTrailingZeros(size);
        this.granuleMask = Long.MIN_VALUE | ((1L << shift) - 1);
        this.minPartial = Math.min(10, Math.max(5, (31 - Integer.numberOfLeadingZeros(size)) / 2));
        this.zoneGfp = (flags & SLAB_CACHE_DMA) != 0 ? __GFP_DMA : (flags & SLAB_CACHE_DMA32) != 0 ? __GFP_DMA32 : 0;
    }

    static int roundUp(int v, int a) {
        return (v + a - 1) / a * a;
    }

    /**
     * SLUB's calculate_order: the smallest order up to {@link #MAX_SLAB_ORDER} that holds
     * enough objects (4 x (fls(cpus) + 1), fewer if need be) with little waste (1/16 of the
     * slab, then 1/8, 1/4); objects larger than that get the order that fits one.
     */
    static int calculateOrder(int size) {
        long maxBytes = PhysLayout.PAGE_SIZE << MAX_SLAB_ORDER;
        if (size > maxBytes / 2) {
            return Math.max(0, 64 - Long.numberOfLeadingZeros((size - 1L) >>> PhysLayout.PAGE_SHIFT));
        }
        int cpus = Runtime.getRuntime().availableProcessors();
        int minObjects = (int) Math.min(4 * (32 - Integer.numberOfLeadingZeros(cpus) + 1), maxBytes / size);
        for (int min = minObjects; min >= 1; min--) {
            for (int fraction = 16; fraction >= 4; fraction /= 2) {
                for (int o = 0; o <= MAX_SLAB_ORDER; o++) {
                    long bytes = PhysLayout.PAGE_SIZE << o;
                    if (bytes / size >= min && bytes % size <= bytes / fraction) {
                        return o;
                    }
                }
            }
        }
        return MAX_SLAB_ORDER;
    }

    // ================================================================== allocation

    /** {@code kmem_cache_alloc}: an object's address, or 0 (NULL) when no memory can be had. */
    public long alloc(int gfp) {
        return alloc("kmem_cache_alloc", gfp, objectSize);
    }

    /**
     * {@link #alloc(int)} for {@code function}, the call the caller made (its errors name it).
     *
     * @throws IllegalArgumentException for unknown GFP bits
     * @throws KmemException when the constructor throws (the new slab goes back to the page
     *         allocator; no object is handed out) or allocates from this cache itself
     */
    public long alloc(String function, int gfp) {
        return alloc(function, gfp, objectSize);
    }

    /**
     * kmalloc's allocation: as {@link #alloc(String, int)}, the caller asking for
     * {@code requested} bytes (of at most {@link #objectSize}); only debug caches record it
     * (slow path).
     */
    long alloc(String function, int gfp, int requested) {
        // The volatile read first: C2 keeps no load across it, so read after the thread's
        // slab it would make the free that follows load that slab again (0.4 ns a pair).
        boolean slow = slowOnly;
        CpuSlab c = cpu();
        long obj = c.freelist;
        if (obj != 0 && (gfp & ~FAST_GFP) == 0 && !slow) {
            Slab s = c.slab;
            long off = obj - s.objBase;
            int g = (int) (off >>> shift);
            byte[] st = s.state;
            // Unsigned, as the array's own bounds check: C2 then makes the two one compare.
            if ((off & granuleMask) == 0 && Integer.compareUnsigned(g, st.length) < 0 && st[g] == Slab.FREE) {
                c.freelist = ALL.get(WORD, obj + offset);
                st[g] = Slab.ALLOCATED;
                if ((gfp & __GFP_ZERO) != 0) {
                    zero(obj);
                }
                Reference.reachabilityFence(this);
                return obj;
            }
        } else if (obj == 0 && (c.sheafCount | c.readyCount) != 0 && (gfp & ~FAST_GFP) == 0 && !slow) {
            return allocNext(function, c, gfp, requested);
        }
        return allocSlow(function, c, gfp, requested);
    }

    /**
     * The second fast path, no lock: the current slab ran out, and the thread's sheaf holds
     * objects it freed into slabs other than its current one (claimed, state FREE): the last
     * one freed goes out again (still in the CPU's cache); or its index of owned slabs with free objects
     * ({@link CpuSlab#ready}) names one: it becomes current. Not for an interrupt thread or a
     * constructor (their allocations must reach the slow path's checks), nor when a flush was
     * asked for.
     */
    private long allocNext(String function, CpuSlab c, int gfp, int requested) {
        if (c.irqThread || c.constructing) {
            return allocSlow(function, c, gfp, requested);
        }
        int n = c.sheafCount - 1;
        if (n < 0) {
            if (c.flushRequested || !takeReady(c)) {
                return allocSlow(function, c, gfp, requested);
            }
            // The new current slab's list: the fast path pops it, with its checks (a corrupt
            // head goes to the slow path, whose popChecked reports it).
            return alloc(function, gfp, requested);
        }
        long obj = c.sheafObjs[n];
        Slab s = c.sheafSlabs[n];
        c.sheafSlabs[n] = null;
        c.sheafCount = n;
        s.state[(int) ((obj - s.objBase) >>> shift)] = Slab.ALLOCATED;
        if ((gfp & __GFP_ZERO) != 0) {
            zero(obj);
        }
        Reference.reachabilityFence(this);
        return obj;
    }

    /**
     * {@code kmem_cache_alloc_bulk}'s batched part, SLUB's {@code __kmem_cache_alloc_bulk}:
     * takes a run of objects off the calling thread's private list into {@code p[0..n)} in
     * one pass, with one thread lookup and the fast path's checks per object. Returns how many
     * it took; it stops where the fast path would not apply (list empty, slow-only cache,
     * zone flags, an object failing its checks), and the caller takes the rest one by one
     * through {@link #alloc(String, int)}, whose slow path reports what stopped it.
     */
    public int allocBulk(int gfp, int n, long[] p) {
        boolean slow = slowOnly;
        if (slow || (gfp & ~FAST_GFP) != 0) {
            return 0;
        }
        CpuSlab c = cpu();
        long obj = c.freelist;
        if (obj == 0) {
            return 0;
        }
        Slab s = c.slab;
        long objBase = s.objBase;
        byte[] st = s.state;
        int i = 0;
        while (i < n && obj != 0) {
            long off = obj - objBase;
            int g = (int) (off >>> shift);
            if ((off & granuleMask) != 0 || Integer.compareUnsigned(g, st.length) >= 0 || st[g] != Slab.FREE) {
                break;
            }
            long next = ALL.get(WORD, obj + offset);
            st[g] = Slab.ALLOCATED;
            p[i++] = obj;
            obj = next;
        }
        c.freelist = obj;
        if ((gfp & __GFP_ZERO) != 0) {
            for (int k = 0; k < i; k++) {
                zero(p[k]);
            }
        }
        Reference.reachabilityFence(this);
        return i;
    }

    /**
     * {@code kmem_cache_free_bulk}'s batched part: frees {@code p[from..n)} while they are
     * allocated objects of the calling thread's current slab, each claimed
     * ({@link Slab#claimFree}, as every free) and pushed onto the thread's private list, with
     * one thread lookup and no frame-to-slab lookup (an address within the current slab's
     * objects is one of them). Returns the index of the first object it did not free
     * ({@code n} when all were); the caller frees that one through the single-object path,
     * which also reports a double free or a foreign pointer exactly as {@code kmem_cache_free}.
     */
    public int freeBulk(long[] p, int from, int n) {
        CpuSlab c = cpu();
        Slab s = c.slab;
        if (s == null) {
            return from;
        }
        long objBase = s.objBase;
        byte[] st = s.state;
        long head = c.freelist;
        int i = from;
        for (; i < n; i++) {
            long addr = p[i];
            long off = addr - objBase;
            int g = (int) (off >>> shift);
            if ((off & granuleMask) != 0 || Integer.compareUnsigned(g, st.length) >= 0 || st[g] != Slab.ALLOCATED
                    || !Slab.claimFree(st, g)) {
                break;
            }
            ALL.set(WORD, addr + offset, head);
            head = addr;
        }
        c.freelist = head;
        Reference.reachabilityFence(this);
        return i;
    }

    private void zero(long obj) {
        long at = obj - dbase;
        int words = (objectSize + 7) >>> 3;
        if (words <= 32 && !debug) {
            for (int w = 0; w < words; w++) {
                dm.set(WORD, at + ((long) w << 3), 0L);
            }
        } else {
            dm.asSlice(at, objectSize).fill((byte) 0);
        }
    }

    private long allocSlow(String function, CpuSlab c, int gfp, int requested) {
        if (destroyed || orphaned || sa.phys.closed()) {
            ensureUsable(function + "(" + (name.contains("kmalloc-") ? String.valueOf(objectSize) : name) + ")");
        }
        if ((gfp & ~Gfp.VALID_MASK) != 0) {
            Gfp.check(function + "(" + name + ")", gfp);
        }
        AtomicContext.mightSleep(function + "(" + name + ")", gfp);
        if (c.constructing) {
            throw new KmemException(function + "(" + name + "): called from the constructor of cache " + name
                    + " while it builds a slab; a constructor must not allocate from its own cache (it would recurse"
                    + " without end)");
        }
        if ((gfp & __GFP_NOFAIL) == 0 && sa.failslab.shouldFail(Gfp.mayBlock(gfp), 0, objectSize)) {
            synchronized (this) {
                failures++;
            }
            Trace.allocFailure(sa.phys.name(), "kmem_cache_alloc", name, objectSize, order, gfp,
                    "failslab injected this failure");
            return 0;
        }
        if (debug) {
            return allocDebug(function, c, gfp, requested);
        }
        if (c.flushRequested) {
            flush(c);
        }
        if (c.freelist != 0) {
            // The fast path refused the head of the private list (zone flags, a slow-only
            // cache, or a head a write after free damaged): checked here and reported if
            // corrupt, before anything below makes another list current and drops this one.
            return popChecked(function, c, gfp, requested);
        }
        int n = c.sheafCount - 1;
        if (n >= 0) {
            // An object this thread freed into a slab other than its current one: claimed and
            // counted in its slab already, so taking it back needs no lock.
            long obj = c.sheafObjs[n];
            Slab s = c.sheafSlabs[n];
            c.sheafSlabs[n] = null;
            c.sheafCount = n;
            s.setState(s.indexOf(obj), Slab.ALLOCATED);
            if ((gfp & __GFP_ZERO) != 0) {
                zero(obj);
            }
            return obj;
        }
        Slab cur = c.slab;
        if (cur != null && cur.freelist != 0) {
            // Objects on the current slab's own list (put there while it was not current).
            c.freelist = cur.freelist;
            cur.freelist = 0;
            return popChecked(function, c, gfp, requested);
        }
        if (cur != null && cur.remote != Slab.FROZEN && cur.remote != 0) {
            // Objects other threads gave back to the current slab: taken whole, no lock.
            long w = (long) Slab.REMOTE.getAndSet(cur, Slab.FROZEN);
            if (w != Slab.FROZEN && w != 0) {
                c.freelist = w & ~Slab.FROZEN;
                return popChecked(function, c, gfp, requested);
            }
        }
        if (c.ownedCount > 0 && takeOwned(c)) {
            return popChecked(function, c, gfp, requested);
        }
        long obj = 0;
        Slab fresh = null;
        lockSpinning();
        try {
            allocSlow++;
            obj = refillLocked(c);
            if (obj == 0) {
                reapDeadLocked();
            }
        } finally {
            lock.unlock();
        }
        Slab discard = null;
        if (obj == 0) {
            fresh = newSlab(function, c, gfp);
            if (fresh == null) {
                return fail(gfp);
            }
            lock.lock();
            try {
                slabs.add(fresh);
                discard = retireLocked(c, true);
                freezeLocked(c, fresh);
                obj = c.freelist;
            } finally {
                lock.unlock();
            }
            if (discard != null) {
                sa.discardSlab(discard);
            }
        }
        return popChecked(function, c, gfp, requested);
    }

    /** Pops the head of {@code c}'s list after checking it (a corrupt head is reported and dropped). */
    private long popChecked(String function, CpuSlab c, int gfp, int requested) {
        long obj = c.freelist;
        Slab s = c.slab;
        int i = s.indexOf(obj);
        if (i < 0 || s.state(i) != Slab.FREE) {
            // A list reached through a free pointer that a write after free damaged.
            sa.report(SlubDebug.freelistCorrupt(this, s, obj));
            c.freelist = 0;
            return allocSlow(function, c, gfp, requested);
        }
        c.freelist = dm.get(WORD, obj - dbase + offset);
        s.setState(i, Slab.ALLOCATED);
        if (c.irqThread) {
            // An interrupt thread's next allocation must miss the fast path too.
            lock.lock();
            try {
                unfreezeLocked(c, false);
            } finally {
                lock.unlock();
            }
        }
        if ((gfp & __GFP_ZERO) != 0) {
            zero(obj);
        }
        return obj;
    }

    /**
     * Gives {@code c} a list of free objects: the current slab's remote frees, else the first
     * partial slab. Returns the head of the list, 0 when a new slab is needed. Also drops a
     * list whose head is corrupt (reported).
     */
    private long refillLocked(CpuSlab c) {
        if (c.freelist != 0) {
            Slab s = c.slab;
            if (s.indexOf(c.freelist) >= 0 && s.state(s.indexOf(c.freelist)) == Slab.FREE) {
                return c.freelist;
            }
            sa.report(SlubDebug.freelistCorrupt(this, s, c.freelist));
            c.freelist = 0;
        }
        retireLocked(c, false);
        for (Slab p = partialHead; p != null; p = partialHead) {
            removePartialLocked(p);
            freezeLocked(c, p);
            if (c.freelist != 0) {
                return c.freelist;
            }
        }
        return 0;
    }

    private void freezeLocked(CpuSlab c, Slab s) {
        s.remote = Slab.FROZEN;
        s.frozen = c;
        c.slab = s;
        c.freelist = s.freelist;
        s.freelist = 0;
        s.inuse = objects;
    }

    /**
     * Returns {@code c}'s slab to the cache: its private free objects go back onto the
     * slab's list. Returns the slab if it is now empty and the cache has enough partial slabs
     * (the caller gives it back to the buddy after unlocking), else null.
     */
    private Slab unfreezeLocked(CpuSlab c, boolean mayDiscard) {
        Slab s = c.slab;
        if (s == null) {
            return null;
        }
        long head = c.freelist;
        c.slab = null;
        c.freelist = 0;
        return unfreezeLocked(s, head, mayDiscard);
    }

    /**
     * Returns owned slab {@code s} to the cache with every list of its free objects: its own
     * (the owner's sheaf flushes), its remote one, and {@code head}, the current slab's
     * private list (0 for another owned slab).
     */
    private Slab unfreezeLocked(Slab s, long head, boolean mayDiscard) {
        if (s.queued) {
            unqueue(s.frozen, s);
        }
        s.frozen = null;
        long local = s.freelist;
        s.freelist = 0;
        long remote = (long) Slab.REMOTE.getAndSet(s, 0L) & ~Slab.FROZEN;
        s.inuse -= chainLocked(s, remote);
        s.inuse -= chainLocked(s, local);  // the owner's frees onto the slab's own list
        s.inuse -= chainLocked(s, head);   // the current slab's private list
        if (mayDiscard && s.inuse == 0 && nrPartial >= minPartial && !retainLocked()) {
            slabs.remove(s);
            return s;
        }
        if (s.inuse < objects) {
            addPartialLocked(s);
        }
        return null;
    }

    /**
     * Every slab {@code c} owns besides its current one goes back to the cache; its index of
     * owned slabs with free objects is emptied (the current slab's entry too).
     */
    private void unfreezeOwnedLocked(CpuSlab c) {
        for (int k = 0; k < c.readyCount; k++) {
            c.ready[k].queued = false;
            c.ready[k] = null;
        }
        c.readyCount = 0;
        Slab[] ring = c.owned;
        for (int k = 0; k < c.ownedCount; k++) {
            int at = (c.ownedHead + k) & ring.length - 1;
            Slab s = ring[at];
            ring[at] = null;
            unfreezeLocked(s, 0, false);
        }
        c.ownedHead = 0;
        c.ownedCount = 0;
    }

    /**
     * How many slabs a thread owns besides its current one, at most: an eighth of the pool's
     * frames, and no more than 4096 slabs.
     */
    private int ownedMax() {
        return (int) Math.min(4096, sa.phys.presentFrames() >>> (order + 3));
    }

    /**
     * The owner's current slab ran out: it stays owned, at the tail of the owned slabs (the
     * owner's frees into it stay lock-free, other threads' go onto its remote list). When the
     * thread owns {@link #ownedMax} already, or is an interrupt thread (which keeps no slab),
     * the oldest owned slab (or the current one) goes back to the cache; returned if it is
     * empty and may be discarded ({@code mayDiscard}, see {@link #unfreezeLocked(CpuSlab, boolean)}).
     */
    private Slab retireLocked(CpuSlab c, boolean mayDiscard) {
        Slab cur = c.slab;
        if (cur == null) {
            return null;
        }
        int max = c.irqThread ? 0 : ownedMax();
        if (max == 0) {
            return unfreezeLocked(c, mayDiscard);
        }
        if (c.freelist != 0) {
            // Only a corrupt list (reported by the caller) is left here: dropped.
            c.freelist = 0;
        }
        Slab[] ring = c.owned;
        Slab discard = null;
        if (c.ownedCount >= max) {
            Slab old = ring[c.ownedHead];
            ring[c.ownedHead] = null;
            c.ownedHead = (c.ownedHead + 1) & ring.length - 1;
            c.ownedCount--;
            discard = unfreezeLocked(old, 0, mayDiscard);
        } else if (ring == null || c.ownedCount == ring.length) {
            Slab[] grown = new Slab[ring == null ? 16 : ring.length * 2];
            for (int k = 0; k < c.ownedCount; k++) {
                grown[k] = ring[(c.ownedHead + k) & ring.length - 1];
                grown[k].ownedAt = k;
            }
            ring = grown;
            c.owned = ring;
            c.ownedHead = 0;
            // Every slab on the index is owned (in the ring or current): one more than the ring.
            Slab[] ready = new Slab[ring.length + 1];
            if (c.readyCount > 0) {
                System.arraycopy(c.ready, 0, ready, 0, c.readyCount);
            }
            c.ready = ready;
        }
        int at = (c.ownedHead + c.ownedCount) & ring.length - 1;
        ring[at] = cur;
        cur.ownedAt = at;
        c.ownedCount++;
        c.slab = null;
        return discard;
    }

    /**
     * Without the lock: makes one of the owned slabs with free objects current: the first
     * valid entry of the index of those with objects of the owner's ({@link #takeReady});
     * else, looking at up to {@value #OWNED_SCAN} from the oldest (moving those with none to
     * the tail), the first with objects other threads gave back. The exhausted current slab
     * goes to the tail. Returns false when it found none (the caller takes the lock).
     */
    private boolean takeOwned(CpuSlab c) {
        if (takeReady(c)) {
            return true;
        }
        Slab[] ring = c.owned;
        int mask = ring.length - 1;
        int scan = Math.min(OWNED_SCAN, c.ownedCount);
        for (int k = 0; k < scan; k++) {
            Slab s = ring[c.ownedHead];
            c.ownedLooked++;
            long local = s.freelist;
            long w = s.remote;
            if (local == 0 && w == Slab.FROZEN) {
                // Nothing free: rotate it to the tail, look at the next.
                ring[c.ownedHead] = null;
                int at = (c.ownedHead + c.ownedCount) & mask;
                ring[at] = s;
                s.ownedAt = at;
                c.ownedHead = (c.ownedHead + 1) & mask;
                continue;
            }
            ring[c.ownedHead] = null;
            c.ownedHead = (c.ownedHead + 1) & mask;
            Slab cur = c.slab;
            if (cur != null) {
                int at = (c.ownedHead + c.ownedCount - 1) & mask;   // the exhausted one, at the tail
                ring[at] = cur;
                cur.ownedAt = at;
            } else {
                c.ownedCount--;
            }
            c.slab = s;
            if (local != 0) {
                // (Its entry on the index, if any, is stale now: dropped when popped.)
                s.freelist = 0;
                c.freelist = local;
            } else {
                c.freelist = (long) Slab.REMOTE.getAndSet(s, Slab.FROZEN) & ~Slab.FROZEN;
            }
            return true;
        }
        return false;
    }

    /**
     * Without the lock: pops the index of owned slabs with objects of the owner's
     * ({@link CpuSlab#ready}) until an entry is valid (the slab has objects on its own list
     * and is not current) and makes that slab current, its list the private one; the
     * exhausted current slab takes its slot in the ring. Returns false when the index had none.
     */
    private static boolean takeReady(CpuSlab c) {
        Slab[] ready = c.ready;
        for (int n = c.readyCount - 1; n >= 0; n--) {
            Slab s = ready[n];
            ready[n] = null;
            c.readyCount = n;
            c.ownedLooked++;
            s.queued = false;
            long local = s.freelist;
            Slab cur = c.slab;
            if (local == 0 || s == cur) {
                continue;   // stale: its list was taken while it was current
            }
            Slab[] ring = c.owned;
            int at = s.ownedAt;
            if (cur != null) {
                ring[at] = cur;
                cur.ownedAt = at;
            } else {
                // No current slab to take the slot: the oldest moves into it.
                int head = c.ownedHead;
                Slab old = ring[head];
                ring[head] = null;
                if (head != at) {
                    ring[at] = old;
                    old.ownedAt = at;
                }
                c.ownedHead = (head + 1) & ring.length - 1;
                c.ownedCount--;
            }
            s.freelist = 0;
            c.slab = s;
            c.freelist = local;
            return true;
        }
        return false;
    }

    /** Puts owned slab {@code s} (not current) on {@code c}'s index of slabs with free objects. */
    private static void queue(CpuSlab c, Slab s) {
        s.queued = true;
        s.readyAt = c.readyCount;
        c.ready[c.readyCount++] = s;
    }

    /** Takes owned slab {@code s} off {@code c}'s index (it is being unfrozen). */
    private static void unqueue(CpuSlab c, Slab s) {
        Slab[] ready = c.ready;
        int k = s.readyAt;
        int last = --c.readyCount;
        Slab moved = ready[last];
        ready[k] = moved;
        moved.readyAt = k;
        ready[last] = null;
        s.queued = false;
    }

    /**
     * Whether an empty slab stays in the cache: while the partial slabs hold at most
     * 1/{@value #RETAIN_DIVISOR} of the pool's frames. A kept slab is reused without going
     * through the buddy and being carved again (mimalloc keeps its pages the same way).
     */
    private boolean retainLocked() {
        return ((long) (nrPartial + 1) << order) * RETAIN_DIVISOR <= sa.phys.presentFrames();
    }

    /**
     * Puts a list of {@code s}'s free objects (its remote list, taken) onto its freelist;
     * returns how many. A corrupt link ends the list there (reported; the rest leaks).
     */
    private int chainLocked(Slab s, long head) {
        int n = 0;
        long tail = 0;
        for (long o = head; o != 0; ) {
            int i = s.indexOf(o);
            if (i < 0 || s.state(i) != Slab.FREE || n >= objects) {
                sa.report(SlubDebug.freelistCorrupt(this, s, o));
                if (tail == 0) {
                    head = 0;
                } else {
                    dm.set(WORD, tail - dbase + offset, 0L);
                }
                break;
            }
            n++;
            tail = o;
            o = dm.get(WORD, o - dbase + offset);
        }
        if (tail != 0) {
            dm.set(WORD, tail - dbase + offset, s.freelist);
            s.freelist = head;
        }
        return n;
    }

    private void addPartialLocked(Slab s) {
        if (s.onPartial) {
            return;
        }
        s.onPartial = true;
        s.prev = null;
        s.next = partialHead;
        if (partialHead != null) {
            partialHead.prev = s;
        }
        partialHead = s;
        nrPartial++;
    }

    private void removePartialLocked(Slab s) {
        if (!s.onPartial) {
            return;
        }
        if (s.prev != null) {
            s.prev.next = s.next;
        } else {
            partialHead = s.next;
        }
        if (s.next != null) {
            s.next.prev = s.prev;
        }
        s.prev = s.next = null;
        s.onPartial = false;
        nrPartial--;
    }

    /**
     * A new slab from the buddy with every object free and constructed; null when out of
     * memory. While the constructor runs, {@code c} (the calling thread's) is marked, so that
     * a constructor allocating from this cache is refused at {@link #allocSlow} instead of
     * recursing. A constructor that throws: the slab goes back to the page allocator, and a
     * {@link KmemException} naming the cache carries the constructor's exception.
     */
    private Slab newSlab(String function, CpuSlab c, int gfp) {
        int pageGfp = (gfp & ~(__GFP_ZERO | __GFP_DMA | __GFP_DMA32)) | zoneGfp | (gfp & (__GFP_DMA | __GFP_DMA32));
        Slab s = sa.allocSlab(this, pageGfp | __GFP_NOWARN);
        if (s == null) {
            return null;
        }
        long prevObj = 0;
        int i = 0;
        c.constructing = ctor != null;
        try {
            for (; i < objects; i++) {
                long obj = s.object(i);
                if (debug) {
                    SlubDebug.initFree(this, obj);
                }
                if (ctor != null) {
                    ctor.accept(dm.asSlice(obj - dbase, objectSize));
                }
                if (prevObj != 0) {
                    dm.set(WORD, prevObj - dbase + offset, obj);
                }
                prevObj = obj;
            }
        } catch (Throwable t) {
            sa.freeUnfinishedSlab(s);
            throw new KmemException(function + "(" + name + "): the constructor of cache " + name + " threw " + t
                    + " on object " + i + " of a new slab; the slab went back to the page allocator and no object"
                    + " was handed out", t);
        } finally {
            c.constructing = false;
        }
        dm.set(WORD, prevObj - dbase + offset, 0L);
        if (debug) {
            SlubDebug.initPadding(this, s);
        }
        s.freelist = s.object(0);
        synchronized (this) {
            slabsAllocated++;
        }
        return s;
    }

    private long fail(int gfp) {
        synchronized (this) {
            failures++;
        }
        sa.allocFailed(this, gfp);
        return 0;
    }

    // ================================================================== free

    /**
     * {@code kmem_cache_free} of the object at {@code addr}, found in slab {@code s}.
     *
     * @throws DoubleFreeException when the object is already free
     * @throws BadAddressException when {@code addr} is not the start of an object
     */
    void free(Slab s, long addr, String function) {
        long off = addr - s.objBase;
        int g = (int) (off >>> shift);
        byte[] st = s.state;
        if ((off & granuleMask) == 0 && Integer.compareUnsigned(g, st.length) < 0 && st[g] == Slab.ALLOCATED) {
            CpuSlab c = s.frozen;
            if (c != null && c.owner == Thread.currentThread() && Slab.claimFree(st, g)) {
                // A slab the caller owns: its current one (the private list) or another it
                // keeps (that slab's own list, the slab onto the index when the list was empty).
                if (c.slab == s) {
                    ALL.set(WORD, addr + offset, c.freelist);
                    c.freelist = addr;
                } else {
                    freeOwned(c, s, addr);
                }
                Reference.reachabilityFence(this);
                return;
            }
        }
        freeSlow(s, addr, function);
    }

    private void freeSlow(Slab s, long addr, String function) {
        sa.phys.ensureOpen(function);
        int i = s.indexOf(addr);
        if (i < 0) {
            throw sa.misuse(function, addr,
                    new BadAddressException(where(function, addr, s) + "not the start of an object: it is byte "
                    + ((addr - s.objBase) % size) + " of object " + (addr - s.objBase) / size + " (objects are "
                    + size + " bytes apart from 0x" + Long.toHexString(s.objBase) + ")"), debug
                    ? SlubDebug.invalidPointer(this, s, addr) : null);
        }
        if (s.state(i) != Slab.ALLOCATED) {
            throw sa.misuse(function, addr,
                    new DoubleFreeException(where(function, addr, s) + "double free: object " + i
                    + " of its slab is already free"), debug ? SlubDebug.alreadyFree(this, s, i) : null);
        }
        if (debug) {
            freeDebug(s, i, addr);
            return;
        }
        CpuSlab c = cpu();
        if (c.flushRequested) {
            flush(c);
        }
        if (!s.claimFree(i)) {
            throw sa.misuse(function, addr,
                    new DoubleFreeException(where(function, addr, s) + "double free: object " + i
                    + " of its slab is already free (freed by another thread meanwhile)"), null);
        }
        sheafPush(c, s, addr);
    }

    /**
     * The owner's free of claimed object {@code addr} into {@code s}, one of its owned slabs
     * other than the current one (a method of its own keeps {@link #free} small for
     * inlining): into the sheaf while it has room, whence the next allocation takes it back
     * without touching the object (frees and allocations taking turns, as in random
     * replacement); with the sheaf full (a run of frees, as in a batch), straight onto the
     * slab's own list, and the slab onto the index when that list was empty.
     */
    private void freeOwned(CpuSlab c, Slab s, long addr) {
        int n = c.sheafCount;
        if (n < SHEAF_SIZE) {
            c.sheafObjs[n] = addr;
            c.sheafSlabs[n] = s;
            c.sheafCount = n + 1;
            return;
        }
        long h = s.freelist;
        ALL.set(WORD, addr + offset, h);
        s.freelist = addr;
        if (h == 0 && !s.queued) {
            queue(c, s);
        }
    }

    /** Puts claimed object {@code addr} of slab {@code s} in {@code c}'s sheaf, flushing a full one first. */
    private void sheafPush(CpuSlab c, Slab s, long addr) {
        int n = c.sheafCount;
        if (n == SHEAF_SIZE) {
            flushSheaf(c);
            n = c.sheafCount;
        }
        c.sheafObjs[n] = addr;
        c.sheafSlabs[n] = s;
        c.sheafCount = n + 1;
    }

    /** The owner gives its full (or any) sheaf back to the objects' slabs: one lock round. */
    private void flushSheaf(CpuSlab c) {
        if (pushRemote(c) == 0) {
            return;
        }
        int k;
        lockSpinning();
        try {
            k = flushSheafLocked(c, true);
        } finally {
            lock.unlock();
        }
        discardSheaf(c, k);
    }

    /**
     * Gives the sheaf's objects back without the lock: those of slabs the caller owns onto
     * their lists, those of slabs other threads own onto their remote lists (a run of one slab
     * in one compare-and-set); keeps the others (slabs no thread owns) in the sheaf. Returns
     * how many are left.
     */
    private int pushRemote(CpuSlab c) {
        int n = c.sheafCount;
        long[] objs = c.sheafObjs;
        Slab[] slabsOf = c.sheafSlabs;
        int left = 0;
        for (int j = 0; j < n; ) {
            Slab s = slabsOf[j];
            int end = j + 1;
            while (end < n && slabsOf[end] == s) {
                end++;
            }
            long last = objs[end - 1];
            boolean pushed = false;
            if (s.frozen == c) {
                // The caller's own slab: onto its list (the private one if current), plainly.
                linkRun(objs, j, end);
                if (c.slab == s) {
                    ALL.set(WORD, last + offset, c.freelist);
                    c.freelist = objs[j];
                } else {
                    long h = s.freelist;
                    ALL.set(WORD, last + offset, h);
                    s.freelist = objs[j];
                    if (h == 0 && !s.queued) {
                        queue(c, s);
                    }
                }
                pushed = true;
            } else if ((s.remote & Slab.FROZEN) != 0) {
                linkRun(objs, j, end);
                for (long w = s.remote; (w & Slab.FROZEN) != 0; w = s.remote) {
                    ALL.set(WORD, last + offset, w & ~Slab.FROZEN);
                    if (Slab.REMOTE.compareAndSet(s, w, objs[j] | Slab.FROZEN)) {
                        pushed = true;
                        break;
                    }
                }
            }
            if (!pushed) {
                for (int q = j; q < end; q++) {
                    objs[left] = objs[q];
                    slabsOf[left++] = s;
                }
            }
            for (int q = pushed ? j : Math.max(j, left); q < end; q++) {
                slabsOf[q] = null;
            }
            j = end;
        }
        c.sheafCount = left;
        Reference.reachabilityFence(this);
        return left;
    }

    /** Links {@code objs[from..to)} into a list, in that order (the last link left to the caller). */
    private void linkRun(long[] objs, int from, int to) {
        for (int q = from; q < to - 1; q++) {
            ALL.set(WORD, objs[q] + offset, objs[q + 1]);
        }
    }

    /**
     * Puts every object of {@code c}'s sheaf on its slab's list. With {@code mayDiscard},
     * slabs that became empty beyond what the cache keeps leave the cache and are stored in
     * {@code c.sheafSlabs[0..k)}, k returned, for {@link #discardSheaf} after unlocking.
     */
    private int flushSheafLocked(CpuSlab c, boolean mayDiscard) {
        int n = c.sheafCount;
        long[] objs = c.sheafObjs;
        Slab[] slabsOf = c.sheafSlabs;
        int k = 0;
        for (int j = 0; j < n; j++) {
            long addr = objs[j];
            Slab s = slabsOf[j];
            slabsOf[j] = null;
            freeSlow++;
            if (s.frozen != null) {
                // Frozen since pushRemote looked: its own list is its owner's, so onto its
                // remote list (whose FROZEN bit stays while the lock is held).
                for (long w = s.remote; ; w = s.remote) {
                    dm.set(WORD, addr - dbase + offset, w & ~Slab.FROZEN);
                    if (Slab.REMOTE.compareAndSet(s, w, addr | Slab.FROZEN)) {
                        break;
                    }
                }
                continue;
            }
            dm.set(WORD, addr - dbase + offset, s.freelist);
            s.freelist = addr;
            s.inuse--;
            Slab d = putBackLocked(s, mayDiscard);
            if (d != null) {
                slabsOf[k++] = d;
            }
        }
        c.sheafCount = 0;
        return k;
    }

    private void discardSheaf(CpuSlab c, int k) {
        for (int j = 0; j < k; j++) {
            Slab d = c.sheafSlabs[j];
            c.sheafSlabs[j] = null;
            sa.discardSlab(d);
        }
    }

    /**
     * Takes {@link #lock} for the refill and the sheaf flush: tries a while before queueing,
     * since its holders keep it for short list work, and a thread that queues is parked and
     * woken by the scheduler (microseconds), as a producer and a consumer on one cache would
     * be all the time.
     */
    private void lockSpinning() {
        for (int i = 0; i < 64; i++) {
            if (lock.tryLock()) {
                return;
            }
            Thread.onSpinWait();
        }
        lock.lock();
    }

    /** After a free into an unfrozen slab: full becomes partial; empty may go back to the buddy. */
    private Slab putBackLocked(Slab s) {
        return putBackLocked(s, true);
    }

    private Slab putBackLocked(Slab s, boolean mayDiscard) {
        if (mayDiscard && s.inuse == 0 && nrPartial > minPartial && !retainLocked()) {
            removePartialLocked(s);
            slabs.remove(s);
            return s;
        }
        addPartialLocked(s);
        return null;
    }

    String where(String function, long addr, Slab s) {
        return function + "(" + (function.startsWith("kmem_cache") ? name + ", " : "") + "0x" + Long.toHexString(addr)
                + ") on pool '" + sa.phys.name() + "', cache " + name + ", slab at pfn 0x" + Long.toHexString(s.pfn) + ": ";
    }

    // ================================================================== debug paths

    private long allocDebug(String function, CpuSlab c, int gfp, int requested) {
        while (true) {
            Slab fresh = null;
            lock.lock();
            try {
                allocSlow++;
                Slab s = partialHead;
                if (s != null) {
                    long obj = s.freelist;
                    int i = s.indexOf(obj);
                    if (i < 0 || s.state(i) != Slab.FREE) {
                        sa.report(SlubDebug.freelistCorrupt(this, s, obj));
                        s.freelist = 0;
                        removePartialLocked(s);
                        continue;
                    }
                    SlubDebug.checkFree(this, s, i);
                    s.freelist = dm.get(WORD, obj - dbase + offset);
                    s.inuse++;
                    if (s.freelist == 0) {
                        removePartialLocked(s);
                    }
                    s.setState(i, Slab.ALLOCATED);
                    SlubDebug.initAllocated(this, s, i, (gfp & __GFP_ZERO) != 0, requested);
                    if ((gfp & __GFP_ZERO) != 0) {
                        // The kmalloc red zone past the requested size stays (SLUB zeroes orig_size bytes).
                        dm.asSlice(obj - dbase, (flags & SLAB_RED_ZONE) != 0 ? requested : objectSize).fill((byte) 0);
                    }
                    return obj;
                }
            } finally {
                lock.unlock();
            }
            fresh = newSlab(function, c, gfp);
            if (fresh == null) {
                return fail(gfp);
            }
            lock.lock();
            try {
                slabs.add(fresh);
                addPartialLocked(fresh);
            } finally {
                lock.unlock();
            }
        }
    }

    private void freeDebug(Slab s, int i, long addr) {
        Slab discard = null;
        lock.lock();
        try {
            freeSlow++;
            if (s.state(i) != Slab.ALLOCATED) {
                throw sa.misuse("kfree", addr,
                        new DoubleFreeException(where("kfree", addr, s) + "double free: object " + i
                        + " of its slab is already free"), SlubDebug.alreadyFree(this, s, i));
            }
            SlubDebug.checkAllocated(this, s, i);
            s.setState(i, Slab.FREE);
            SlubDebug.initFreed(this, s, i);
            dm.set(WORD, addr - dbase + offset, s.freelist);
            s.freelist = addr;
            s.inuse--;
            discard = putBackLocked(s);
        } finally {
            lock.unlock();
        }
        if (discard != null) {
            sa.discardSlab(discard);
        }
    }

    // ================================================================== per-thread slabs

    /**
     * How many owned slabs the calling thread's allocations looked at to find free objects
     * (index entries popped, slabs scanned); tests: the index keeps it at about one a refill.
     */
    public long ownedSlabsLookedAt() {
        return cpu().ownedLooked;
    }

    CpuSlab cpu() {
        Thread t = Thread.currentThread();
        CpuSlab c = bySlot[(int) t.threadId() & THREAD_SLOTS - 1];
        return c != null && c.owner == t ? c : cpuSlow(t);
    }

    private CpuSlab cpuSlow(Thread t) {
        CpuSlab c = cpus.get();
        int s = (int) t.threadId() & THREAD_SLOTS - 1;
        CpuSlab held = bySlot[s];
        if (held == null || !held.owner.isAlive()) {
            bySlot[s] = c;
        }
        return c;
    }

    private CpuSlab newCpu() {
        CpuSlab c = new CpuSlab(Thread.currentThread(), AtomicContext.onIrqThread());
        lock.lock();
        try {
            allCpus.add(c);
        } finally {
            lock.unlock();
        }
        return c;
    }

    /** The owner's flush of its current slab. */
    private void flush(CpuSlab c) {
        c.flushRequested = false;
        Slab discard;
        int k;
        lock.lock();
        try {
            k = flushSheafLocked(c, true);
            unfreezeOwnedLocked(c);
            discard = unfreezeLocked(c, true);
        } finally {
            lock.unlock();
        }
        discardSheaf(c, k);
        if (discard != null) {
            sa.discardSlab(discard);
        }
    }

    /** Ended threads' slabs come back to the cache. */
    private void reapDeadLocked() {
        for (int k = allCpus.size() - 1; k >= 0; k--) {
            CpuSlab c = allCpus.get(k);
            if (!c.owner.isAlive()) {
                flushSheafLocked(c, false);
                unfreezeOwnedLocked(c);
                unfreezeLocked(c, false);
                allCpus.remove(k);
            }
        }
    }

    /**
     * Flushes the calling thread's and ended threads' current slabs now, and asks every other
     * thread to flush at its next slow path. With {@code force} (destroy, close: the caller
     * promises no other thread uses the cache) every thread's slab is taken back at once.
     */
    void flushAll(boolean force) {
        Thread me = Thread.currentThread();
        lock.lock();
        try {
            reapDeadLocked();
            for (CpuSlab c : allCpus) {
                if (c.owner == me || force) {
                    flushSheafLocked(c, false);
                    unfreezeOwnedLocked(c);
                    unfreezeLocked(c, false);
                } else if (c.slab != null || c.sheafCount > 0 || c.ownedCount > 0) {
                    c.flushRequested = true;
                }
            }
        } finally {
            lock.unlock();
        }
    }

    // ================================================================== shrink, destroy, reports

    /** {@code kmem_cache_shrink}: empty slabs go back to the buddy. Returns how many frames. */
    public long shrink() {
        flushAll(false);
        List<Slab> empty = new ArrayList<>();
        lock.lock();
        try {
            for (Slab s = partialHead; s != null; ) {
                Slab n = s.next;
                if (s.inuse == 0) {
                    removePartialLocked(s);
                    slabs.remove(s);
                    empty.add(s);
                }
                s = n;
            }
        } finally {
            lock.unlock();
        }
        for (Slab s : empty) {
            sa.discardSlab(s);
        }
        return (long) empty.size() << order;
    }

    /**
     * Memory pressure: the empty slabs the cache keeps go back to the buddy, with the calling
     * thread's sheaf and owned slabs (not its current one); other threads that own slabs or
     * hold a sheaf are asked to flush at their next slow path (see {@link #shrink} for a full flush). Returns how many
     * frames.
     */
    long reclaimEmpty() {
        List<Slab> empty = null;
        Thread me = Thread.currentThread();
        lock.lock();
        try {
            for (CpuSlab c : allCpus) {
                if (c.owner == me) {
                    flushSheafLocked(c, false);
                    unfreezeOwnedLocked(c);
                } else if (c.ownedCount > 0 || c.sheafCount > 0) {
                    c.flushRequested = true;
                }
            }
            for (Slab s = partialHead; s != null; ) {
                Slab n = s.next;
                if (s.inuse == 0) {
                    removePartialLocked(s);
                    slabs.remove(s);
                    if (empty == null) {
                        empty = new ArrayList<>();
                    }
                    empty.add(s);
                }
                s = n;
            }
        } finally {
            lock.unlock();
        }
        if (empty == null) {
            return 0;
        }
        for (Slab s : empty) {
            sa.discardSlab(s);
        }
        return (long) empty.size() << order;
    }

    /**
     * {@code kmem_cache_destroy}: every slab goes back to the buddy, unless objects are still
     * allocated; then each leaked object is reported and the cache stays, its memory
     * untouched, but refuses allocations (the caller takes it off the pool's list, as the
     * kernel does). Returns the reports (empty when destroyed).
     */
    List<String> destroy() {
        flushAll(true);
        List<String> leaks = new ArrayList<>();
        List<Slab> all;
        lock.lock();
        try {
            for (Slab s : slabs) {
                for (int i = 0; i < objects; i++) {
                    if (s.state(i) == Slab.ALLOCATED) {
                        leaks.add(SlubDebug.leak(this, s, i));
                    }
                }
            }
            if (!leaks.isEmpty()) {
                orphaned = true;
                dead = true;
                slowOnly = true;
                return leaks;
            }
            destroyed = true;
            dead = true;
            slowOnly = true;
            all = new ArrayList<>(slabs);
            slabs.clear();
            partialHead = null;
            nrPartial = 0;
        } finally {
            lock.unlock();
        }
        for (Slab s : all) {
            sa.discardSlab(s);
        }
        return leaks;
    }

    boolean destroyed() {
        return destroyed;
    }

    private void ensureUsable(String function) {
        sa.phys.ensureOpen(function);
        if (destroyed) {
            throw new KmemException(function + ": cache " + name + " of pool '" + sa.phys.name()
                    + "' was destroyed by kmem_cache_destroy");
        }
        if (orphaned) {
            throw new KmemException(function + ": cache " + name + " of pool '" + sa.phys.name()
                    + "' was destroyed by kmem_cache_destroy with objects still allocated (reported then); only"
                    + " kmem_cache_free of those is allowed");
        }
    }

    /**
     * Walks every slab: SLUB's validate, which repairs what it can (see
     * {@link SlubDebug#validate}). Returns the problems found (reports are also logged).
     */
    List<String> validate() {
        List<String> problems = new ArrayList<>();
        Thread me = Thread.currentThread();
        lock.lock();
        try {
            reapDeadLocked();
            for (Slab s : slabs) {
                CpuSlab owner = s.frozen;
                if (owner != null && owner.owner != me) {
                    // Its list belongs to a running thread, which pops and pushes it unlocked.
                    continue;
                }
                long freelist = s.freelist;
                problems.addAll(SlubDebug.validate(this, s));
                if (s.freelist != freelist && s.frozen == null && s.freelist == 0) {
                    removePartialLocked(s);
                }
            }
        } finally {
            lock.unlock();
        }
        for (String p : problems) {
            sa.report(p);
        }
        return problems;
    }

    /** The cache's figures now; objects count as handed out by their state bytes. */
    SlabCacheStats stats() {
        lock.lock();
        try {
            long active = 0;
            long objs = 0;
            long activeSlabs = 0;
            for (Slab s : slabs) {
                int allocated = 0;
                for (byte b : s.state) {
                    allocated += b == Slab.ALLOCATED ? 1 : 0;
                }
                active += allocated;
                objs += objects;
                if (s.inuse > 0) {
                    activeSlabs++;
                }
            }
            return new SlabCacheStats(name, objectSize, size, objects, 1 << order, active, objs, activeSlabs,
                    slabs.size(), nrPartial, allocSlow, freeSlow, slabsAllocated, slabsFreed, failures);
        } finally {
            lock.unlock();
        }
    }

    synchronized void slabFreed() {
        slabsFreed++;
    }

    /** Slabs of this cache, for reports and checks (a copy, taken under the lock). */
    List<Slab> slabs() {
        lock.lock();
        try {
            return new ArrayList<>(slabs);
        } finally {
            lock.unlock();
        }
    }

    public String name() {
        return name;
    }

    public int objectSize() {
        return objectSize;
    }

    public int size() {
        return size;
    }

    public int align() {
        return align;
    }

    public int flags() {
        return flags;
    }

    public int order() {
        return order;
    }

    public int objectsPerSlab() {
        return objects;
    }
}
