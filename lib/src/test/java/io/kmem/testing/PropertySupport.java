package io.kmem.testing;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayDeque;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.ObjIntConsumer;
import java.util.function.Predicate;
import java.util.function.Supplier;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.state.Action;
import net.jqwik.api.state.ActionChain;
import net.jqwik.api.state.Transformer;

/**
 * What the {@code *Properties} classes share: the labelled check, the pattern written into
 * what a model holds, the per-property tally, the last calls a model remembers for its
 * message, and running a chain then closing its pool whatever happened.
 *
 * <p>Its package is the one test package with no main package to mirror: it is not in
 * module {@code io.kmem}, so that the tool's tests, compiled against that module, see it on
 * the class path (the library's test jar); {@code ReliabilityProperties} there uses it.
 *
 * <p>A labelled check throws an {@link AssertionError} whose message starts with the label
 * in brackets ({@code [no two live objects overlap] ...}): jqwik prints it with the
 * shrunk chain, and a reader finds the property's contract by the label.
 */
public final class PropertySupport {
    private PropertySupport() {
    }

    // ================================================================== labelled checks

    /** Fails with {@code [label] message} unless {@code ok}; the message is built only then. */
    public static void require(String label, boolean ok, Supplier<String> message) {
        if (!ok) {
            throw new AssertionError("[" + label + "] " + message.get());
        }
    }

    /** Fails with {@code [label] message} unless {@code ok}. */
    public static void require(String label, boolean ok, String message) {
        if (!ok) {
            throw new AssertionError("[" + label + "] " + message);
        }
    }

    /** Fails with {@code [label]} and {@code format} applied to {@code args} unless {@code ok}. */
    public static void require(String label, boolean ok, String format, Object... args) {
        if (!ok) {
            throw new AssertionError("[" + label + "] " + String.format(format, args));
        }
    }

    /** The first four problems of a report, and how many more there are. */
    public static String firstFew(List<String> problems) {
        return problems.size() <= 4 ? problems.toString()
                : problems.subList(0, 4) + " and " + (problems.size() - 4) + " more";
    }

    // ================================================================== patterns

    /** Word {@code word} of the pattern of {@code tag}: never zero, different for every tag and word. */
    public static long pattern(long tag, long word) {
        long x = tag * 0x9E3779B97F4A7C15L + word;
        x ^= x >>> 31;
        return x * 0xBF58476D1CE4E5B9L | 1;
    }

    /**
     * Writes the pattern of {@code tag} over {@code len} bytes: word i is pattern(tag, i), a
     * partial last word its low bytes.
     */
    public static void writePattern(MemorySegment seg, long tag, long len) {
        long words = len >>> 3;
        for (long w = 0; w < words; w++) {
            seg.set(ValueLayout.JAVA_LONG_UNALIGNED, w << 3, pattern(tag, w));
        }
        long last = pattern(tag, words);
        for (long b = words << 3; b < len; b++) {
            seg.set(ValueLayout.JAVA_BYTE, b, (byte) (last >>> ((b & 7) << 3)));
        }
    }

    /** The first byte of {@code len} that differs from the pattern of {@code tag}, or -1. */
    public static long patternMismatch(MemorySegment seg, long tag, long len) {
        long words = len >>> 3;
        for (long w = 0; w < words; w++) {
            long got = seg.get(ValueLayout.JAVA_LONG_UNALIGNED, w << 3);
            long want = pattern(tag, w);
            if (got != want) {
                return (w << 3) + Long.numberOfTrailingZeros(got ^ want) / 8;
            }
        }
        long last = pattern(tag, words);
        for (long b = words << 3; b < len; b++) {
            if (seg.get(ValueLayout.JAVA_BYTE, b) != (byte) (last >>> ((b & 7) << 3))) {
                return b;
            }
        }
        return -1;
    }

    // ================================================================== actions and chains

    /** An action that a chain takes only in a state where {@code when} holds (a free needs something live). */
    public static <M> Action.Independent<M> actionWhen(Predicate<M> when, Arbitrary<Transformer<M>> transformers) {
        return new Action.Independent<>() {
            @Override
            public boolean precondition(M m) {
                return when.test(m);
            }

            @Override
            public Arbitrary<Transformer<M>> transformer() {
                return transformers;
            }
        };
    }

    /**
     * Runs {@code chain}, then {@code finish} on its final state; whatever happened, hands the
     * final state and the number of steps run to {@code ran} (for a tally) and closes it, so
     * that no pool outlives its try.
     */
    public static <M extends AutoCloseable> void runAndClose(ActionChain<M> chain, Consumer<? super M> finish,
                                                             ObjIntConsumer<? super M> ran) {
        try {
            finish.accept(chain.run());
        } finally {
            chain.finalState().ifPresent(m -> {
                ran.accept(m, chain.transformations().size());
                try {
                    m.close();
                } catch (Exception e) {
                    throw new IllegalStateException("closing " + m, e);
                }
            });
        }
    }

    /** {@link #runAndClose(ActionChain, Consumer, ObjIntConsumer)} without a tally. */
    public static <M extends AutoCloseable> void runAndClose(ActionChain<M> chain, Consumer<? super M> finish) {
        runAndClose(chain, finish, (m, steps) -> { });
    }

    // ================================================================== tallies

    /**
     * The tally of the property running now: what its tries did, printed after it as proof
     * that the chains reach every path. {@link #reset()} from {@code @BeforeProperty};
     * {@link #forThisThread()} when a model is built. Shrinking is not counted: jqwik runs it
     * on another thread, which gets a throwaway tally.
     */
    public static final class Tallies<T> {
        private final Supplier<T> fresh;
        private volatile T current;
        private volatile Thread propertyThread;

        public Tallies(Supplier<T> fresh) {
            this.fresh = fresh;
            this.current = fresh.get();
        }

        /** A new tally for the property about to run on this thread. */
        public void reset() {
            current = fresh.get();
            propertyThread = Thread.currentThread();
        }

        /** The property's tally on its own thread, a throwaway one elsewhere. */
        public T forThisThread() {
            return Thread.currentThread() == propertyThread ? current : fresh.get();
        }

        /** The tally of the property that ran last. */
        public T current() {
            return current;
        }
    }

    // ================================================================== recent calls

    /** The last eight calls a model made, for its {@code toString} in a failure. */
    public static final class Recent {
        private final ArrayDeque<String> calls = new ArrayDeque<>();

        public void note(String call) {
            if (calls.size() == 8) {
                calls.removeFirst();
            }
            calls.addLast(call);
        }

        @Override
        public String toString() {
            return String.join("; ", calls);
        }
    }
}
