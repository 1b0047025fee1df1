package io.kmem.bench;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The steady-state workloads of one thread, each allocator in its own fork ({@link Peers}),
 * time per alloc + free pair:
 * <ul>
 *   <li>{@code ring}: a live set of {@value #RING} objects of 64 to 2048 bytes (uniform); each
 *       step frees the oldest and allocates a new one in its place (a driver's descriptor and
 *       buffer churn); an invocation is one turn of the ring;
 *   <li>{@code random}: a live set of {@value #LIVE} objects of 16 B to 8 KiB (uniform),
 *       each step frees a random one and allocates a random size in its place (larson-like);
 *       an invocation is {@value #STEPS} steps;
 *   <li>{@code hot64}: the hot pair, {@code alloc(64)} then {@code free}, never leaving the
 *       fast path.
 * </ul>
 * Sizes and victims come from fixed-seed sequences made at setup, the same for every
 * allocator.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 4, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--sun-misc-unsafe-memory-access=allow", "--enable-native-access=ALL-UNNAMED"})
@State(Scope.Thread)
public class WorkloadBench {
    static final int RING = 4096;
    static final int LIVE = 10_000;
    static final int STEPS = 4096;
    static final int SEQ = 1 << 16;

    @Param({"kmem", "mimalloc", "glibc", "netty"})
    public String allocator;

    Peers.Alloc a;
    int[] ringSizes;
    int[] randSizes;
    int[] randSlots;
    int ringAt;
    int seqAt;

    @Setup(Level.Trial)
    public void open() {
        a = Peers.Alloc.of(allocator, LIVE + 1);
        SplittableRandom r = new SplittableRandom(20);
        ringSizes = new int[SEQ];
        randSizes = new int[SEQ];
        randSlots = new int[SEQ];
        for (int i = 0; i < SEQ; i++) {
            ringSizes[i] = 64 + r.nextInt(2048 - 64 + 1);
            randSizes[i] = 16 + r.nextInt(8192 - 16 + 1);
            randSlots[i] = r.nextInt(LIVE);
        }
    }

    /** Fills the live sets anew for each iteration (ring: slots 0..RING-1 are the ring; random: all). */
    @Setup(Level.Iteration)
    public void fill() {
        for (int i = 0; i < LIVE; i++) {
            a.alloc(i, i < RING ? ringSizes[i] : randSizes[(i * 7) & SEQ - 1]);
        }
    }

    @TearDown(Level.Iteration)
    public void empty() {
        for (int i = 0; i < LIVE; i++) {
            a.free(i);
        }
    }

    @TearDown(Level.Trial)
    public void close() {
        a.close();
    }

    @Benchmark
    @OperationsPerInvocation(RING)
    @Threads(1)
    public void ring() {
        Peers.Alloc al = a;
        int[] sizes = ringSizes;
        int k = seqAt;
        for (int i = 0; i < RING; i++) {
            al.free(i);
            al.alloc(i, sizes[k]);
            k = (k + 1) & SEQ - 1;
        }
        seqAt = k;
    }

    @Benchmark
    @OperationsPerInvocation(STEPS)
    @Threads(1)
    public void random() {
        Peers.Alloc al = a;
        int[] sizes = randSizes;
        int[] slots = randSlots;
        int k = seqAt;
        for (int i = 0; i < STEPS; i++) {
            int s = slots[k];
            al.free(s);
            al.alloc(s, sizes[k]);
            k = (k + 1) & SEQ - 1;
        }
        seqAt = k;
    }

    @Benchmark
    @Threads(1)
    public void hot64() {
        a.alloc(LIVE, 64);
        a.free(LIVE);
    }
}
