package io.kmem;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * A race harness: opens the window of two calls racing on one object on purpose, over and over.
 *
 * <p>Two threads, {@code left} and {@code right}, meet at a barrier before every round and then
 * call {@code free} on the same object at once; each spins a random few dozen nanoseconds
 * after the barrier first, so that over many rounds their calls overlap at every offset,
 * including the few nanoseconds between a free's check and its write. The left thread also
 * allocates the objects, a batch at a time before the rounds that use them, so that the left
 * thread owns whatever per-thread state the allocation leaves (its page cache, its current
 * slab) and its frees take the lock-free paths while the right thread's take the locked ones.
 *
 * <pre>
 *   left:  alloc batch | arrive(r) wait(right >= r) jitter free(o[r]) | arrive(r+1) ...
 *   right:             | arrive(r) wait(left >= r)  jitter free(o[r]) | arrive(r+1) ...
 * </pre>
 *
 * Before it allocates a batch, the left thread waits until the right thread's last free
 * returned: otherwise a block the left thread freed first could be handed out again while the
 * right thread's free of it is still under way, and that free would then free the new
 * allocation (a stale free no allocator can tell from a right one). Batches alternate between
 * two arrays, so the left thread never overwrites an object the right thread may still read.
 */
public final class Race {
    private static final int JITTER = 8;

    private Race() {
    }

    /**
     * What the rounds gave: how many rounds freed their object twice or not at all, and the
     * exception of every free that lost.
     *
     * @param rounds      rounds run
     * @param bothFreed   rounds in which both frees returned normally: the object was freed twice
     * @param noneFreed   rounds in which both frees threw: the object was not freed at all
     * @param losers      the exception each losing free threw
     */
    public record Tally(int rounds, int bothFreed, int noneFreed, List<Throwable> losers) {
        /** The exceptions thrown by losing frees, of any other type than {@code expected}. */
        public List<Throwable> unexpected(Class<? extends Throwable> expected) {
            return losers.stream().filter(t -> !expected.isInstance(t)).toList();
        }

        @Override
        public String toString() {
            return rounds + " rounds: " + bothFreed + " freed twice, " + noneFreed + " not freed, " + losers.size()
                    + " losing frees";
        }
    }

    /**
     * Runs {@code rounds} rounds of two racing {@code free} calls on one object each, the
     * objects allocated {@code batch} at a time by {@code alloc} on the left thread.
     */
    public static <T> Tally freeTwice(int rounds, int batch, Supplier<T> alloc, Consumer<T> free) {
        Object[][] objects = {new Object[batch], new Object[batch]};
        boolean[] leftWon = new boolean[rounds];
        boolean[] rightWon = new boolean[rounds];
        List<Throwable> losers = new ArrayList<>();
        Barrier barrier = new Barrier();
        AtomicReference<Throwable> crash = new AtomicReference<>();
        Thread left = Thread.ofPlatform().name("race-left").unstarted(() -> {
            for (int r = 0; r < rounds; r++) {
                Object[] batchOf = objects[r / batch & 1];
                if (r % batch == 0) {
                    await(barrier, r - 1);
                    for (int i = 0; i < Math.min(batch, rounds - r); i++) {
                        batchOf[i] = alloc.get();
                    }
                }
                barrier.left = r;
                while (barrier.right < r) {
                    pause();
                }
                leftWon[r] = attempt(free, batchOf[r % batch], losers);
            }
        });
        Thread right = Thread.ofPlatform().name("race-right").unstarted(() -> {
            for (int r = 0; r < rounds; r++) {
                barrier.right = r;
                while (barrier.left < r) {
                    pause();
                }
                rightWon[r] = attempt(free, objects[r / batch & 1][r % batch], losers);
                barrier.rightDone = r;
            }
        });
        Thread.UncaughtExceptionHandler h = (t, e) -> crash.compareAndSet(null, e);
        left.setUncaughtExceptionHandler(h);
        right.setUncaughtExceptionHandler(h);
        left.start();
        right.start();
        try {
            left.join();
            right.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        if (crash.get() != null) {
            throw new IllegalStateException("a racing thread failed outside the free", crash.get());
        }
        int both = 0;
        int none = 0;
        for (int r = 0; r < rounds; r++) {
            both += leftWon[r] && rightWon[r] ? 1 : 0;
            none += !leftWon[r] && !rightWon[r] ? 1 : 0;
        }
        return new Tally(rounds, both, none, losers);
    }

    /** Waits until the right thread's free of round {@code r} returned. */
    private static void await(Barrier barrier, int r) {
        while (barrier.rightDone < r) {
            pause();
        }
    }

    /** A spin that yields now and then, so that a machine with fewer free cores than spinners still moves. */
    private static void pause() {
        if (ThreadLocalRandom.current().nextInt(256) == 0) {
            Thread.yield();
        } else {
            Thread.onSpinWait();
        }
    }

    private static <T> boolean attempt(Consumer<T> free, Object o, List<Throwable> losers) {
        int spin = ThreadLocalRandom.current().nextInt(JITTER);
        for (int i = 0; i < spin; i++) {
            Thread.onSpinWait();
        }
        try {
            @SuppressWarnings("unchecked")
            T t = (T) o;
            free.accept(t);
            return true;
        } catch (RuntimeException e) {
            synchronized (losers) {
                losers.add(e);
            }
            return false;
        }
    }

    /** The rounds each side has reached, and the last round whose free the right side finished. */
    private static final class Barrier {
        volatile int left = -1;
        volatile int right = -1;
        volatile int rightDone = -1;
    }
}
