package io.kmem.bench;

import io.kmem.MemoryPool;
import io.kmem.bindings.Libc;
import io.kmem.gfp.Gfp;
import io.kmem.internal.page.BuddyAllocator;
import io.kmem.internal.phys.PhysLayout;
import io.kmem.stats.PageStats;
import io.kmem.internal.sys.Sys;
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
 * The page allocator's alloc + free pair, per operation:
 * <ul>
 *   <li>order 0 from a pool of 4 KiB frames, one thread ({@code order0Pair}, the per-thread
 *       page cache's fast path) and two threads on the same pool ({@code order0Pair2Threads});
 *   <li>against one page of anonymous {@code mmap(MAP_POPULATE)} + {@code munmap}, through
 *       the same FFM wrapper a Java driver would use ({@code mmapMunmapPage});
 *   <li>order 9 (2 MiB) from a pool of 2 MiB hugetlb frames ({@code order9PairHuge}): above
 *       the page caches' orders, so every pair takes the zone lock.
 * </ul>
 * {@link BenchMain} runs these under JMH's GC profiler and prints each figure's
 * {@code gc.alloc.rate.norm} (bytes allocated per pair; the fast paths should allocate none).
 * Each pool checks after its trial that no allocation failed, grew the pool or waited, so
 * that the figures are those of the path they name.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 4, time = 1)
@Fork(value = 3, jvmArgsAppend = {"--sun-misc-unsafe-memory-access=allow"})
public class PageAllocBench {
    static final int GFP = Gfp.GFP_KERNEL;

    /** Base of the shared pools: build, probe one allocation, check the counters at the end. */
    public abstract static class Pool {
        MemoryPool pool;

        abstract MemoryPool build();

        abstract int order();

        @Setup(Level.Trial)
        public void open() {
            pool = build();
            long addr = pool.__get_free_pages(GFP, order());
            if (addr == 0) {
                String zones = pool.buddyinfo();
                pool.close();
                throw new IllegalStateException("PageAllocBench: __get_free_pages(GFP_KERNEL, " + order()
                        + ") returned NULL on a fresh pool; buddyinfo:\n" + zones);
            }
            pool.free_pages(addr, order());
        }

        @TearDown(Level.Trial)
        public void close() {
            PageStats s = pool.pageStats();
            pool.close();
            if (s.failures() != 0 || s.growths() != 0 || s.waits() != 0) {
                throw new IllegalStateException("PageAllocBench: the pool left its fast path: " + s);
            }
        }
    }

    /** 64 MiB of 4 KiB frames, shared by every thread of the benchmark. */
    @State(Scope.Benchmark)
    public static class SmallPool extends Pool {
        @Override
        MemoryPool build() {
            return MemoryPool.builder().name("bench-order0").smallPages(64L << 20).build();
        }

        @Override
        int order() {
            return 0;
        }
    }

    /**
     * 8 MiB of 2 MiB hugetlb frames (four hugepages): the zone's watermarks leave one order-9
     * block to allocate. {@code make bench} reserves the hugepages ({@code make hugepages}).
     */
    @State(Scope.Benchmark)
    public static class HugePool extends Pool {
        @Override
        MemoryPool build() {
            try {
                return MemoryPool.builder().name("bench-order9").smallPages(0).hugePages2m(8L << 20).build();
            } catch (RuntimeException e) {
                throw new IllegalStateException("PageAllocBench: cannot build a pool of four 2 MiB hugepages"
                        + " (reserve them with `make hugepages`, or echo 64 > /proc/sys/vm/nr_hugepages): " + e, e);
            }
        }

        @Override
        int order() {
            return 9;
        }
    }

    @Benchmark
    @Threads(1)
    public void order0Pair(SmallPool p) {
        MemoryPool pool = p.pool;
        pool.free_page(pool.__get_free_page(GFP));
    }

    @Benchmark
    @Threads(2)
    public void order0Pair2Threads(SmallPool p) {
        MemoryPool pool = p.pool;
        pool.free_page(pool.__get_free_page(GFP));
    }

    @Benchmark
    @Threads(1)
    public void order9PairHuge(HugePool p) {
        MemoryPool pool = p.pool;
        pool.free_pages(pool.__get_free_pages(GFP, 9), 9);
    }

    @Benchmark
    @Threads(1)
    public void mmapMunmapPage() {
        long addr = Sys.mmap(0, PhysLayout.PAGE_SIZE, Libc.PROT_READ() | Libc.PROT_WRITE(),
                Libc.MAP_PRIVATE() | Libc.MAP_ANONYMOUS() | Libc.MAP_POPULATE(), -1, 0);
        Sys.munmap(addr, PhysLayout.PAGE_SIZE);
    }
}
