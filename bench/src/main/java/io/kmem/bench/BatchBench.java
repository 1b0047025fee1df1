package io.kmem.bench;

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
 * The batch workload: {@value #N} objects of one size allocated, then all freed in the order
 * they were allocated; time per alloc + free pair. Each allocator in its own fork
 * ({@link Peers}).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 4, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--sun-misc-unsafe-memory-access=allow", "--enable-native-access=ALL-UNNAMED"})
@State(Scope.Thread)
public class BatchBench {
    static final int N = 10_000;

    @Param({"kmem", "mimalloc", "glibc", "netty"})
    public String allocator;

    @Param({"64", "256", "1024", "4096"})
    public int size;

    Peers.Alloc a;

    @Setup(Level.Trial)
    public void open() {
        a = Peers.Alloc.of(allocator, N);
    }

    @TearDown(Level.Trial)
    public void close() {
        a.close();
    }

    @Benchmark
    @OperationsPerInvocation(N)
    @Threads(1)
    public void batch() {
        Peers.Alloc al = a;
        int sz = size;
        for (int i = 0; i < N; i++) {
            al.alloc(i, sz);
        }
        for (int i = 0; i < N; i++) {
            al.free(i);
        }
    }
}
