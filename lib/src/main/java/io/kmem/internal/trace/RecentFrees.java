package io.kmem.internal.trace;

import java.util.function.BooleanSupplier;

/**
 * The last few keys freed (addresses, DMA handles, region starts), so that a free of a key that
 * is no longer live can be told apart: freed a moment ago, a double free; otherwise a wild
 * pointer. A ring of {@code capacity} entries; older frees fall out of it and then read as
 * never allocated, as in the kernel's own debugging, which keeps no history either.
 *
 * <p>Thread-safe. A free that records its key under the same lock as the one that takes the
 * object out of its live set ({@link #recordWhile}) makes a racing second free see either the
 * object still live or the key here, never neither.
 */
public final class RecentFrees {
    private final long[] keys;
    private final long[] seconds;
    private int next;

    public RecentFrees(int capacity) {
        keys = new long[capacity];
        seconds = new long[capacity];
    }

    /** Records a free of {@code key} (with a second word, e.g. a length; 0 if none). */
    public synchronized void record(long key, long second) {
        keys[next] = key;
        seconds[next] = second;
        next = (next + 1) % keys.length;
    }

    /**
     * Runs {@code take} (which takes the object out of its live set and says whether it did)
     * and records {@code key} if it did, both under this ring's lock.
     */
    public synchronized boolean recordWhile(long key, long second, BooleanSupplier take) {
        if (!take.getAsBoolean()) {
            return false;
        }
        record(key, second);
        return true;
    }

    /** Was {@code (key, second)} freed recently? */
    public synchronized boolean contains(long key, long second) {
        for (int i = 0; i < keys.length; i++) {
            if (keys[i] == key && seconds[i] == second && (key != 0 || second != 0)) {
                return true;
            }
        }
        return false;
    }
}
