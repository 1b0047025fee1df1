package io.kmem.testing;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.function.BooleanSupplier;

/** Waits for another thread's work (an interrupt thread's handler) in tests. */
public final class Await {
    private Await() {
    }

    /**
     * Polls {@code cond} every millisecond for up to a minute (a loaded machine may not run the
     * other thread sooner), then asserts it, failing with {@code what}. Never a duration
     * assertion: a passing condition returns at once.
     */
    public static void until(BooleanSupplier cond, String what) throws InterruptedException {
        for (int i = 0; i < 60_000 && !cond.getAsBoolean(); i++) {
            Thread.sleep(1);
        }
        assertTrue(cond.getAsBoolean(), what);
    }
}
