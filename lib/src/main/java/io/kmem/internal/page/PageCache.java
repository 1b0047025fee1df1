package io.kmem.internal.page;

import io.kmem.gfp.ZoneType;

/**
 * One thread's page cache: the kernel's per-cpu page lists ({@code struct per_cpu_pages}),
 * kept per thread because a Java thread cannot pin itself to a CPU.
 *
 * <p>For each zone and each order from 0 to {@link #MAX_ORDER} (the kernel's
 * {@code PAGE_ALLOC_COSTLY_ORDER}), a stack of free blocks' frame indices. Allocation pops,
 * free pushes; an empty stack is refilled and a full one drained in batches, under the zone
 * lock, by {@link BuddyAllocator}. Blocks here are free: their head records carry
 * {@code PG_PCP} and the order.
 *
 * <p>Concurrency: only the owner thread touches the stacks and counters, with plain
 * accesses, except (1) after the owner has died ({@link Thread#isAlive()} false gives the
 * needed happens-before) and (2) when the pool closes. Another thread that wants the frames
 * sets {@link #drainRequested}; the owner drains at its next call.
 */
final class PageCache {
    static final int MAX_ORDER = 3;
    static final int ORDERS = MAX_ORDER + 1;
    static final int SLOTS = ZoneType.values().length * ORDERS;

    final Thread owner;
    /**
     * The owner is an interrupt thread: the cache holds nothing between its calls (high 0, and
     * {@code BuddyAllocator} drains what a refill left), so that each of its allocations
     * takes the slow path, where a sleeping allocation in atomic context is reported.
     */
    final boolean irqThread;
    final int[][] stacks = new int[SLOTS][];
    final int[] count = new int[SLOTS];
    /**
     * Per slot, how many blocks a free may leave in the stack before it drains: the
     * allocator's base high, raised (doubled, up to its high_max) while the owner frees back
     * blocks it took from the buddy in bursts, and back to the base when the cache drains for
     * another thread or for memory (the kernel's pcp high auto-tuning).
     */
    final int[] high = new int[SLOTS];
    /** Per slot: the stack was refilled from the buddy since it last drained. */
    final boolean[] refilled = new boolean[SLOTS];
    /** Set by another thread that needs the frames back; the owner drains and clears it. */
    volatile boolean drainRequested;

    long allocs;
    long frees;
    long refills;
    long drains;

    PageCache(Thread owner, boolean irqThread) {
        this.owner = owner;
        this.irqThread = irqThread;
    }

    static int slot(int zone, int order) {
        return zone * ORDERS + order;
    }

    /** Frames (4 KiB) held, read racily by reports. */
    long frames() {
        long f = 0;
        for (int s = 0; s < SLOTS; s++) {
            f += (long) count[s] << (s % ORDERS);
        }
        return f;
    }
}
