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
 * The page workloads, time per alloc + free pair: {@code order0Batch}, {@value #N} order-0
 * pages allocated then freed; {@code mixedBatch}, {@value #MIXED} blocks of orders 0 to 3
 * (a fixed random sequence) allocated then freed; {@code order0Hot}, the hot pair. kmem's
 * {@code __get_free_pages}/{@code free_pages} against 4 KiB-aligned {@code aligned_alloc} of
 * mimalloc ({@code mi_aligned_alloc}) and glibc of the same sizes.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 4, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--sun-misc-unsafe-memory-access=allow", "--enable-native-access=ALL-UNNAMED"})
@State(Scope.Thread)
public class PagesBench {
    static final int N = 4096;
    static final int MIXED = 1024;

    @Param({"kmem", "mimalloc", "glibc"})
    public String allocator;

    Peers.Alloc a;
    final int[] orders = new int[MIXED];

    @Setup(Level.Trial)
    public void open() {
        a = Peers.Alloc.of(allocator, N + 1);
        SplittableRandom r = new SplittableRandom(3);
        for (int i = 0; i < MIXED; i++) {
            orders[i] = r.nextInt(4);
        }
    }

    @TearDown(Level.Trial)
    public void close() {
        a.close();
    }

    @Benchmark
    @OperationsPerInvocation(N)
    @Threads(1)
    public void order0Batch() {
        Peers.Alloc al = a;
        for (int i = 0; i < N; i++) {
            al.allocPages(i, 0);
        }
        for (int i = 0; i < N; i++) {
            al.freePages(i, 0);
        }
    }

    @Benchmark
    @OperationsPerInvocation(MIXED)
    @Threads(1)
    public void mixedBatch() {
        Peers.Alloc al = a;
        int[] o = orders;
        for (int i = 0; i < MIXED; i++) {
            al.allocPages(i, o[i]);
        }
        for (int i = 0; i < MIXED; i++) {
            al.freePages(i, o[i]);
        }
    }

    @Benchmark
    @Threads(1)
    public void order0Hot() {
        a.allocPages(N, 0);
        a.freePages(N, 0);
    }
}
