package io.kmem;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongPredicate;
import java.util.function.LongUnaryOperator;

/**
 * The loop of {@code <linux/iopoll.h>}'s {@code read_poll_timeout} and
 * {@code read_poll_timeout_atomic}, behind {@link IoApi#readx_poll_timeout} and the
 * {@code read*_poll_timeout} accessors of {@link IoMem}.
 *
 * <ol>
 *   <li>The deadline is now + {@code timeout_us} (0: none, poll until the condition holds).</li>
 *   <li>Each round first notes whether the deadline has passed, then reads and tests: so the
 *       last read always comes after the deadline, and a value that arrives while the caller
 *       was descheduled is still seen (the kernel's order since 6.9).</li>
 *   <li>The condition holds: 0. The deadline had passed: -ETIMEDOUT. Otherwise wait
 *       {@code sleep_us} (the sleeping form parks the thread, as {@code usleep_range} sleeps;
 *       the atomic form spins, as {@code udelay}) and go round again.</li>
 * </ol>
 */
final class Iopoll {
    private Iopoll() {
    }

    static int poll(String function, LongUnaryOperator op, long addr, long[] val, LongPredicate cond, long sleepUs,
            long timeoutUs, boolean atomic) {
        if (op == null || cond == null) {
            throw new NullPointerException(function + ": " + (op == null ? "op" : "cond") + " is null");
        }
        check(function, sleepUs, timeoutUs, atomic);
        long deadline = System.nanoTime() + TimeUnit.MICROSECONDS.toNanos(timeoutUs);
        while (true) {
            boolean expired = timeoutUs != 0 && System.nanoTime() - deadline > 0;
            long v = op.applyAsLong(addr);
            if (val != null && val.length > 0) {
                val[0] = v;
            }
            if (cond.test(v)) {
                return 0;
            }
            if (expired) {
                return -IoApi.ETIMEDOUT;
            }
            if (sleepUs != 0) {
                if (atomic) {
                    delay(sleepUs);
                } else {
                    LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(sleepUs));
                }
            }
            Thread.onSpinWait();
        }
    }

    static void check(String function, long sleepUs, long timeoutUs, boolean atomic) {
        if (sleepUs < 0 || timeoutUs < 0) {
            throw new IllegalArgumentException(function + ": " + (atomic ? "delay_us " : "sleep_us ") + sleepUs
                    + ", timeout_us " + timeoutUs + ": expected 0 or more microseconds (timeout_us 0: none)");
        }
    }

    /** {@code udelay}: spins {@code us} microseconds without giving up the CPU. */
    static void delay(long us) {
        long end = System.nanoTime() + TimeUnit.MICROSECONDS.toNanos(us);
        while (System.nanoTime() - end < 0) {
            Thread.onSpinWait();
        }
    }
}
