package io.kmem.internal.lib;

/**
 * The kernel's {@code ratelimit_state}: at most {@code burst} events per {@code interval};
 * the rest are counted as suppressed and reported with the next event let through.
 */
public final class Ratelimit {
    private final long intervalNanos;
    private final int burst;
    private long windowStart;
    private int printed;
    private long suppressed;

    public Ratelimit(long intervalNanos, int burst) {
        this.intervalNanos = intervalNanos;
        this.burst = burst;
    }

    /**
     * -1 when this event must be dropped; otherwise how many were dropped since the last
     * one let through.
     */
    public synchronized long admit() {
        long now = System.nanoTime();
        if (printed == 0 || now - windowStart >= intervalNanos) {
            windowStart = now;
            printed = 0;
        }
        if (printed >= burst) {
            suppressed++;
            return -1;
        }
        printed++;
        long s = suppressed;
        suppressed = 0;
        return s;
    }
}
