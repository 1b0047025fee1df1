package io.kmem.bench;

import io.kmem.KmemCache;
import io.kmem.MemoryPool;
import io.kmem.gfp.Gfp;
import io.kmem.internal.slub.KmemCacheImpl;
import io.kmem.stats.SlabCacheStats;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The slab allocator's alloc + free pair of a 64-byte object, per operation:
 * <ul>
 *   <li>{@code kmalloc(64, GFP_KERNEL)} + {@code kfree}, one thread ({@code kmalloc64Pair}):
 *       the kmalloc-64 cache's per-thread slab, plus the size-to-cache lookup and kfree's
 *       frame-to-slab lookup;
 *   <li>{@code kmem_cache_alloc} + {@code kmem_cache_free} on a cache of 64-byte objects, one
 *       thread ({@code kmemCachePair}) and two threads on the same pool and cache
 *       ({@code kmemCachePair2Threads}, time per op on each thread: the per-thread slabs
 *       should keep the threads off each other's cache lines);
 *   <li>against the two allocators a Java driver would otherwise take small buffers from:
 *       Netty's {@link PooledByteBufAllocator}, {@code directBuffer(64)} + {@code release()}
 *       ({@code nettyDirect64Pair}), and libc {@code malloc(64)} + {@code free} through plain
 *       FFM downcalls (no linker options; addresses adapted to {@code long} as
 *       {@link io.kmem.internal.sys.Sys} does) ({@code mallocFree64Pair}).
 * </ul>
 * The peers run on their fast paths: Netty's allocator is a dedicated instance with
 * thread-local caches for every thread (by default only Netty's own threads get them, and
 * JMH's are not Netty's) and with leak detection off (kmem's pool runs without SLUB
 * debugging here too); malloc's arena and tcache stay warm on one thread. One handicap of
 * Netty's is left: JMH's threads are plain threads, not Netty's {@code FastThreadLocalThread}s,
 * so its thread-cache and recycler lookups take the {@code ThreadLocal} fallback (on a
 * {@code FastThreadLocalThread} the pair is about a quarter faster in a plain loop).
 * {@link BenchMain} runs these under JMH's GC profiler and prints each figure's
 * {@code gc.alloc.rate.norm} (the fast paths should allocate nothing on the Java heap).
 * Each pool checks after its trial that the slab allocator made no report and no allocation
 * failed, so that the figures are those of a clean fast path.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 4, time = 1)
@Fork(value = 3, jvmArgsAppend = {"--sun-misc-unsafe-memory-access=allow"})
public class SlabBench {
    static final int GFP = Gfp.GFP_KERNEL;
    static final long SIZE = 64;

    /** libc {@code void *malloc(size_t)}, as {@code (long) -> long}. */
    static final MethodHandle MALLOC;
    /** libc {@code void free(void *)}, as {@code (long) -> void}. */
    static final MethodHandle FREE;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            MethodHandle ofAddress = lookup.findStatic(MemorySegment.class, "ofAddress",
                    MethodType.methodType(MemorySegment.class, long.class));
            MethodHandle addressOf = lookup.findVirtual(MemorySegment.class, "address",
                    MethodType.methodType(long.class));
            MALLOC = MethodHandles.filterReturnValue(
                    libc("malloc", FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_LONG)), addressOf);
            FREE = MethodHandles.filterArguments(libc("free", FunctionDescriptor.ofVoid(ValueLayout.ADDRESS)), 0,
                    ofAddress);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** A plain downcall (no linker options) to a libc function of the default lookup. */
    @SuppressWarnings("restricted")
    private static MethodHandle libc(String name, FunctionDescriptor descriptor) {
        Linker linker = Linker.nativeLinker();
        return linker.downcallHandle(linker.defaultLookup().find(name).orElseThrow(), descriptor);
    }

    /**
     * A 64 MiB pool of 4 KiB frames with a cache of 64-byte objects, shared by every thread
     * of the benchmark: probes kmalloc and the cache once, checks the slab allocator at the end.
     */
    @State(Scope.Benchmark)
    public static class SlabPool {
        MemoryPool pool;
        KmemCache cache;

        @Setup(Level.Trial)
        public void open() {
            pool = MemoryPool.builder().name("bench-slab").smallPages(64L << 20).build();
            cache = pool.kmem_cache_create("bench-obj64", SIZE, 0, 0, null);
            long k = pool.kmalloc(SIZE, GFP);
            long c = cache == null ? 0 : pool.kmem_cache_alloc(cache, GFP);
            if (k == 0 || c == 0) {
                String info = pool.slabinfo();
                pool.close();
                throw new IllegalStateException("SlabBench: " + (cache == null ? "kmem_cache_create returned NULL"
                        : k == 0 ? "kmalloc(64, GFP_KERNEL) returned NULL" : "kmem_cache_alloc returned NULL")
                        + " on a fresh pool; slabinfo:\n" + info);
            }
            pool.kfree(k);
            pool.kmem_cache_free(cache, c);
        }

        @TearDown(Level.Trial)
        public void close() {
            List<String> reports = pool.takeSlabReports();
            List<SlabCacheStats> failed = pool.slabStats().stream().filter(s -> s.failures() > 0).toList();
            pool.close();
            if (!reports.isEmpty() || !failed.isEmpty()) {
                throw new IllegalStateException("SlabBench: the slab allocator left its clean fast path: "
                        + reports.size() + " report(s) " + reports + ", caches with failed allocations " + failed);
            }
        }
    }

    /** A dedicated Netty pooled allocator preferring direct buffers, with caches for every thread. */
    @State(Scope.Benchmark)
    public static class NettyPool {
        PooledByteBufAllocator alloc;

        @Setup(Level.Trial)
        public void open() {
            ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.DISABLED);
            alloc = new PooledByteBufAllocator(true, PooledByteBufAllocator.defaultNumHeapArena(),
                    PooledByteBufAllocator.defaultNumDirectArena(), PooledByteBufAllocator.defaultPageSize(),
                    PooledByteBufAllocator.defaultMaxOrder(), PooledByteBufAllocator.defaultSmallCacheSize(),
                    PooledByteBufAllocator.defaultNormalCacheSize(), true);
            ByteBuf b = alloc.directBuffer((int) SIZE);
            boolean direct = b.isDirect();
            b.release();
            if (!direct) {
                throw new IllegalStateException("SlabBench: Netty's directBuffer(64) is not direct: " + b);
            }
        }
    }

    @Benchmark
    @Threads(1)
    public long kmalloc64Pair(SlabPool p) {
        MemoryPool pool = p.pool;
        long addr = pool.kmalloc(SIZE, GFP);
        pool.kfree(addr);
        return addr;
    }

    @Benchmark
    @Threads(1)
    public long kmemCachePair(SlabPool p) {
        MemoryPool pool = p.pool;
        long addr = pool.kmem_cache_alloc(p.cache, GFP);
        pool.kmem_cache_free(p.cache, addr);
        return addr;
    }

    @Benchmark
    @Threads(2)
    public long kmemCachePair2Threads(SlabPool p) {
        MemoryPool pool = p.pool;
        long addr = pool.kmem_cache_alloc(p.cache, GFP);
        pool.kmem_cache_free(p.cache, addr);
        return addr;
    }

    @Benchmark
    @Threads(1)
    public ByteBuf nettyDirect64Pair(NettyPool p) {
        ByteBuf b = p.alloc.directBuffer((int) SIZE);
        b.release();
        return b;
    }

    @Benchmark
    @Threads(1)
    public long mallocFree64Pair() throws Throwable {
        long addr = (long) MALLOC.invokeExact(SIZE);
        FREE.invokeExact(addr);
        return addr;
    }
}
