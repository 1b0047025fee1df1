package io.kmem.tool;

import static io.kmem.testing.PropertySupport.require;
import static io.kmem.testing.PropertySupport.runAndClose;

import io.kmem.MemoryPool;
import io.kmem.tool.Harness.Burst;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import net.jqwik.api.AfterFailureMode;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.state.Action;
import net.jqwik.api.state.ActionChain;
import net.jqwik.api.state.ActionChainArbitrary;
import net.jqwik.api.state.Transformer;

/**
 * Every allocator at once on one pool, against one model: jqwik {@link ActionChain}s of the
 * {@link Harness}'s bursts on one thread, each burst driven by a seed the action carries, so
 * that a failing chain replays exactly. The pool starts at 32 MiB and may grow to 512 MiB;
 * the model stops allocating at 160 MiB or 40 000 objects, so that a GFP_KERNEL NULL is never
 * explained by the pool's limit, even with SLUB debugging doubling small objects: the
 * harness runs strict ({@value Harness#NOT_NULL}). A CI run makes more than a million
 * allocator calls; the run prints the total.
 *
 * <p>The labelled checks are the harness's: on every call, on every free, and after every
 * burst as the chain's invariants ({@value Harness#CONSISTENT}, {@value Harness#COUNTS},
 * {@value Harness#INTACT} on a sample); at the end {@link Harness#finish}, whose faults fail
 * the try with their labels ({@value Harness#AT_REST} ...). {@code make soak} runs the same
 * harness on threads for a given time ({@code kmem stress --strict}).
 */
class ReliabilityProperties {
    private static final long MIB = 1L << 20;
    /** Allocator calls made by every chain of this JVM. */
    private static final AtomicLong CALLS = new AtomicLong();

    @Property(tries = 18, seed = "20251126", afterFailure = AfterFailureMode.RANDOM_SEED,
            edgeCases = EdgeCasesMode.NONE)
    void everyAllocatorAtOnceMatchesTheModel(@ForAll("chains") ActionChain<Harness> chain) {
        chain.withInvariant(Harness.CONSISTENT, Harness::checkConsistent)
                .withInvariant(Harness.COUNTS, Harness::checkCounts)
                .withInvariant(Harness.INTACT, Harness::checkSample);
        runAndClose(chain, h -> {
            List<String> faults = h.finish(Harness.Report.NONE);
            require(Harness.AT_REST, faults.isEmpty(), () -> String.join("\n", faults));
        }, (h, steps) -> CALLS.addAndGet(h.calls()));
    }

    @AfterContainer
    static void report() {
        System.out.println("ReliabilityProperties: " + CALLS.get() + " allocator calls in all chains");
    }

    @Provide
    Arbitrary<ActionChain<Harness>> chains() {
        ActionChainArbitrary<Harness> chains = ActionChain.startWith(ReliabilityProperties::harness);
        for (Burst b : Burst.values()) {
            chains = chains.withAction(b.weight, burst(b));
        }
        return chains.withMaxTransformations(115);
    }

    static Harness harness() {
        MemoryPool pool = MemoryPool.builder().name("reliability").smallPages(32 * MIB).maxSmallPages(512 * MIB)
                .build();
        return new Harness(pool, new Harness.Config(0, 1, 160 * MIB, 40_000, true, Harness.PAGE, 6000));
    }

    private static Action.Independent<Harness> burst(Burst b) {
        return () -> Combinators.combine(Arbitraries.longs(), Arbitraries.integers().between(50, 6000))
                .as((seed, n) -> Transformer.mutate(b.label + "(seed " + seed + ", " + n + ")",
                        h -> h.burst(b, seed, n)));
    }
}
