package io.kmem.bench;

import io.kmem.MemoryPool;
import io.kmem.bindings.Libc;
import io.kmem.stats.VmallocStats;
import io.kmem.internal.sys.Sys;
import io.kmem.internal.vmalloc.Vmalloc;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * vmalloc + vfree, one thread, at three sizes:
 * <ul>
 *   <li>1 MiB ({@code vmalloc1MiBPair}, µs a pair), against what a Java driver would do
 *       otherwise for a pinned megabyte: anonymous {@code mmap(MAP_POPULATE | MAP_LOCKED)} +
 *       {@code munmap} through the same FFM wrapper ({@code mmapPopulateLocked1MiBPair});</li>
 *   <li>16 KiB and 64 MiB, reported per page (ns): the fixed cost of an area (range, lookups,
 *       one mmap) against the cost that grows with the pages (frames from the buddy, page
 *       table entries, the unmap).</li>
 * </ul>
 * The pool holds 160 MiB of 4 KiB frames and never grows: each trial checks that no
 * allocation failed and that the window and the frames are consistent afterwards. The
 * kernel's own vmalloc + vfree costs about 375 to 720 ns a page, zeroing included; vmalloc
 * does not zero here (vzalloc does), and frames come mapped and pinned already.
 */
@BenchmarkMode(Mode.AverageTime)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 4, time = 1)
@Fork(value = 2, jvmArgsAppend = {"--sun-misc-unsafe-memory-access=allow"})
public class VmallocBench {
    static final long MIB = 1L << 20;

    @State(Scope.Benchmark)
    public static class Pool {
        MemoryPool pool;

        @Setup(Level.Trial)
        public void open() {
            pool = MemoryPool.builder().name("bench-vmalloc").smallPages(160 * MIB).maxSmallPages(160 * MIB)
                    .slubDebug(null).build();
        }

        @TearDown(Level.Trial)
        public void close() {
            VmallocStats st = pool.vmallocStats();
            List<String> errors = pool.checkVmalloc();
            pool.close();
            if (st.failures() > 0 || !errors.isEmpty() || st.areas() != 0) {
                throw new IllegalStateException("VmallocBench: " + st.failures() + " failed vmalloc(s), " + st.areas()
                        + " area(s) left, check: " + errors);
            }
        }

        long pair(long bytes) {
            long p = pool.vmalloc(bytes);
            if (p == 0) {
                throw new IllegalStateException("VmallocBench: vmalloc(" + bytes + ") returned NULL");
            }
            pool.vfree(p);
            return p;
        }
    }

    @Benchmark
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public long vmalloc1MiBPair(Pool p) {
        return p.pair(MIB);
    }

    @Benchmark
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public long mmapPopulateLocked1MiBPair() {
        long addr = Sys.mmap(0, MIB, Libc.PROT_READ() | Libc.PROT_WRITE(),
                Libc.MAP_PRIVATE() | Libc.MAP_ANONYMOUS() | Libc.MAP_POPULATE() | Libc.MAP_LOCKED(), -1, 0);
        Sys.munmap(addr, MIB);
        return addr;
    }

    @Benchmark
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    @OperationsPerInvocation(4)
    public long vmalloc16KiBPerPage(Pool p) {
        return p.pair(16 << 10);
    }

    @Benchmark
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    @OperationsPerInvocation(16384)
    public long vmalloc64MiBPerPage(Pool p) {
        return p.pair(64 * MIB);
    }
}
