package io.kmem.bench;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The single-producer single-consumer ring the producer/consumer workload hands objects
 * through, the same for every allocator: a power-of-two array of slots, each carrying a
 * {@code long} (an address) and an {@code Object} (a Netty buffer; null for the others).
 * The producer publishes a slot with a release store of {@code tail}, the consumer frees it
 * with a release store of {@code head}; each side caches the other's index so that a
 * transfer usually touches no shared line but the slot's.
 */
final class SpscRing {
    private static final VarHandle HEAD;
    private static final VarHandle TAIL;

    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            HEAD = l.findVarHandle(SpscRing.class, "head", long.class);
            TAIL = l.findVarHandle(SpscRing.class, "tail", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final long[] addrs;
    private final Object[] objs;
    private final int mask;
    @SuppressWarnings("unused")
    private long p0, p1, p2, p3, p4, p5, p6;
    private volatile long head;
    private long tailCache;
    @SuppressWarnings("unused")
    private long q0, q1, q2, q3, q4, q5, q6;
    private volatile long tail;
    private long headCache;
    @SuppressWarnings("unused")
    private long r0, r1, r2, r3, r4, r5, r6;

    SpscRing(int capacity) {
        if (Integer.bitCount(capacity) != 1) {
            throw new IllegalArgumentException("capacity " + capacity + " is not a power of two");
        }
        addrs = new long[capacity];
        objs = new Object[capacity];
        mask = capacity - 1;
    }

    /** Producer: false when full. */
    boolean offer(long addr, Object obj) {
        long t = (long) TAIL.getOpaque(this);
        if (t - headCache > mask) {
            headCache = (long) HEAD.getAcquire(this);
            if (t - headCache > mask) {
                return false;
            }
        }
        int i = (int) t & mask;
        addrs[i] = addr;
        objs[i] = obj;
        TAIL.setRelease(this, t + 1);
        return true;
    }

    /** Consumer: the slot index of the next entry (read it with {@link #addr}/{@link #obj}, then {@link #advance}), or -1. */
    int peek() {
        long h = (long) HEAD.getOpaque(this);
        if (h >= tailCache) {
            tailCache = (long) TAIL.getAcquire(this);
            if (h >= tailCache) {
                return -1;
            }
        }
        return (int) h & mask;
    }

    long addr(int i) {
        return addrs[i];
    }

    Object obj(int i) {
        Object o = objs[i];
        objs[i] = null;
        return o;
    }

    void advance() {
        HEAD.setRelease(this, (long) HEAD.getOpaque(this) + 1);
    }
}
