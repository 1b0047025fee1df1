package io.kmem.bench;

import io.kmem.KmemCache;
import io.kmem.MemoryPool;
import io.kmem.gfp.Gfp;
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
 * The bulk workload: {@value #BULK} objects of 64 bytes taken and given back at once, time
 * per object (allocation + free). kmem: {@code kmem_cache_alloc_bulk} +
 * {@code kmem_cache_free_bulk} on a cache of 64-byte objects; the peers, which have no bulk
 * call, {@value #BULK} allocations then {@value #BULK} frees.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 4, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--sun-misc-unsafe-memory-access=allow", "--enable-native-access=ALL-UNNAMED"})
@State(Scope.Thread)
public class BulkBench {
    static final int BULK = 32;

    @Param({"kmem", "mimalloc", "glibc", "netty"})
    public String allocator;

    Peers.Alloc a;
    MemoryPool pool;
    KmemCache cache;
    final long[] p = new long[BULK];

    @Setup(Level.Trial)
    public void open() {
        a = Peers.Alloc.of(allocator, BULK);
        if (a instanceof Peers.Kmem k) {
            pool = k.pool;
            cache = pool.kmem_cache_create("bench-bulk64", 64, 0, 0, null);
        }
    }

    @TearDown(Level.Trial)
    public void close() {
        if (cache != null) {
            pool.kmem_cache_destroy(cache);
        }
        a.close();
    }

    @Benchmark
    @OperationsPerInvocation(BULK)
    @Threads(1)
    public void bulk() {
        if (cache != null) {
            if (pool.kmem_cache_alloc_bulk(cache, Gfp.GFP_KERNEL, BULK, p) != BULK) {
                throw new IllegalStateException("kmem_cache_alloc_bulk failed");
            }
            pool.kmem_cache_free_bulk(cache, BULK, p);
            return;
        }
        Peers.Alloc al = a;
        for (int i = 0; i < BULK; i++) {
            al.alloc(i, 64);
        }
        for (int i = 0; i < BULK; i++) {
            al.free(i);
        }
    }
}
