package io.kmem.debug;

import io.kmem.internal.lib.Ratelimit;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Fault injection, the kernel's {@code struct fault_attr} ({@code lib/fault-inject.c}) as used
 * by {@code failslab} and {@code fail_page_alloc}: makes chosen allocations of one pool return
 * NULL, so that a driver's error paths can be tested.
 *
 * <p>An allocation is failed when, in this order: {@code times} is not used up; more than
 * {@code space} bytes have been asked for since arming (the first {@code space} bytes pass);
 * it is the {@code interval}-th candidate; and a random draw under {@code probability}
 * percent hits. Only candidates count: with {@code ignoreGfpWait} an allocation that may
 * block ({@code __GFP_DIRECT_RECLAIM}, as in {@code GFP_KERNEL}) is never a candidate, and
 * allocations below {@code minOrder} (page allocator) are never candidates either.
 *
 * <p>Settings are read without a lock; a change is seen by allocations that start after it.
 * The fast paths look only at {@link #armed()}: zero cost while disarmed.
 */
public final class FaultAttr {
    private final String name;
    private volatile boolean armed;
    private volatile int probability;
    private volatile long interval = 1;
    private volatile long times = -1;
    private volatile long space;
    private volatile boolean verbose;
    private volatile boolean ignoreGfpWait;
    private volatile int minOrder;
    private volatile Runnable armListener;
    /** The kernel's {@code fault_attr.ratelimit_state}: verbose reports, at most 10 per 5 s. */
    private final Ratelimit verboseLimit = new Ratelimit(TimeUnit.SECONDS.toNanos(5), 10);
    private long count;
    private long spaceLeft;
    private long failures;

    /**
     * A fault attribute set that injects nothing until configured.
     *
     * @param name the kernel's name of this attribute set: "failslab" or "fail_page_alloc"
     */
    public FaultAttr(String name) {
        this.name = name;
    }

    public String name() {
        return name;
    }

    /** True while some allocation could be failed: probability above 0 and times not used up. */
    public boolean armed() {
        return armed;
    }

    /** Percent of candidates failed, 0 to 100; 0 disarms. */
    public synchronized FaultAttr probability(int percent) {
        if (percent < 0 || percent > 100) {
            throw new IllegalArgumentException(name + ": probability " + percent + " is outside 0..100 (percent)");
        }
        this.probability = percent;
        rearm();
        return this;
    }

    /** Only every {@code n}-th candidate may fail (1: each). */
    public synchronized FaultAttr interval(long n) {
        if (n < 1) {
            throw new IllegalArgumentException(name + ": interval " + n + " must be 1 or more");
        }
        this.interval = n;
        count = 0;
        return this;
    }

    /** How many failures at most, then disarmed; -1 for no limit. */
    public synchronized FaultAttr times(long n) {
        if (n < -1) {
            throw new IllegalArgumentException(name + ": times " + n + " must be -1 (no limit) or more");
        }
        this.times = n;
        rearm();
        return this;
    }

    /** Bytes let through before the first failure can happen. */
    public synchronized FaultAttr space(long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException(name + ": space " + bytes + " must not be negative");
        }
        this.space = bytes;
        this.spaceLeft = bytes;
        return this;
    }

    /** Log each injected failure (with the caller's stack at DEBUG level). */
    public FaultAttr verbose(boolean on) {
        this.verbose = on;
        return this;
    }

    /** Never fail an allocation that may block ({@code ignore-gfp-wait}). */
    public FaultAttr ignoreGfpWait(boolean on) {
        this.ignoreGfpWait = on;
        return this;
    }

    /** Page allocator only: never fail an order below this ({@code min-order}). */
    public FaultAttr minOrder(int order) {
        if (order < 0) {
            throw new IllegalArgumentException(name + ": min-order " + order + " must not be negative");
        }
        this.minOrder = order;
        return this;
    }

    /** Disarms and resets every setting to the kernel's defaults. */
    public synchronized FaultAttr reset() {
        probability = 0;
        interval = 1;
        times = -1;
        space = 0;
        spaceLeft = 0;
        verbose = false;
        ignoreGfpWait = false;
        minOrder = 0;
        count = 0;
        rearm();
        return this;
    }

    /** Failures injected since creation. */
    public synchronized long failures() {
        return failures;
    }

    /** Runs {@code listener} after each change of {@link #armed()} (the allocators' fast-path switch). */
    public void onArmChange(Runnable listener) {
        this.armListener = listener;
    }

    private void rearm() {
        boolean was = armed;
        armed = probability > 0 && times != 0;
        Runnable l = armListener;
        if (l != null && was != armed) {
            l.run();
        }
    }

    /**
     * The kernel's {@code should_fail}: true when this allocation is to fail.
     *
     * @param mayBlock whether the caller's GFP flags allow blocking
     * @param order    the page order (0 for slab objects)
     * @param bytes    the size asked for
     */
    public boolean shouldFail(boolean mayBlock, int order, long bytes) {
        if (!armed || (ignoreGfpWait && mayBlock) || order < minOrder) {
            return false;
        }
        synchronized (this) {
            if (!armed) {
                return false;
            }
            if (spaceLeft > 0) {
                spaceLeft -= Math.min(spaceLeft, bytes);
                return false;
            }
            if (interval > 1 && ++count % interval != 0) {
                return false;
            }
            if (probability <= ThreadLocalRandom.current().nextInt(100)) {
                return false;
            }
            if (times > 0) {
                times--;
                rearm();
            }
            failures++;
        }
        if (verbose && verboseLimit.admit() >= 0) {
            System.getLogger("io.kmem.debug").log(System.Logger.Level.INFO, "FAULT_INJECTION: forcing a failure: " + name
                    + ", order " + order + ", " + bytes + " bytes, thread " + Thread.currentThread().getName());
        }
        return true;
    }

    @Override
    public synchronized String toString() {
        return name + ": probability=" + probability + " interval=" + interval + " times=" + times + " space=" + space
                + " verbose=" + verbose + " ignore-gfp-wait=" + ignoreGfpWait + " min-order=" + minOrder
                + " failures=" + failures;
    }
}
