package io.kmem.bench;

import io.kmem.MemoryPool;
import io.kmem.bindings.Libc;
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
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Bring-up of a 1 GiB pool of 4 KiB frames (memfd fallocated, mapped, mlocked, pinned
 * long-term, PFNs read from pagemap, mem_map written, direct map built), the same without the
 * pin, and the cheapest way to get 1 GiB of
 * pinned memory without physical addresses: anonymous mmap(MAP_POPULATE|MAP_LOCKED).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2)
@Measurement(iterations = 5)
@Fork(value = 1, jvmArgsAppend = {"--sun-misc-unsafe-memory-access=allow"})
public class BringUpBench {
    static final long GIB = 1L << 30;

    private MemoryPool pool;
    private long anon;

    @Benchmark
    public long kmemPool1GiB() {
        pool = MemoryPool.builder().name("bench").smallPages(GIB).build();
        return pool.frames();
    }

    /**
     * The same pool without the long-term pin (mlock only: every pin refused as by a kernel
     * without io_uring, through {@code kmem.pin.refuse}); the difference to
     * {@link #kmemPool1GiB} is the pin's own cost.
     */
    @Benchmark
    public long kmemPool1GiBMlockOnly() {
        System.setProperty("kmem.pin.refuse", "ENOSYS");
        try {
            pool = MemoryPool.builder().name("bench").smallPages(GIB).build();
        } finally {
            System.clearProperty("kmem.pin.refuse");
        }
        return pool.frames();
    }

    @Benchmark
    public long anonMmapPopulateLocked1GiB() {
        anon = Sys.mmap(0, GIB, Libc.PROT_READ() | Libc.PROT_WRITE(),
                Libc.MAP_PRIVATE() | Libc.MAP_ANONYMOUS() | Libc.MAP_POPULATE() | Libc.MAP_LOCKED(), -1, 0);
        return anon;
    }

    @TearDown(Level.Invocation)
    public void release() {
        if (pool != null) {
            pool.close();
            pool = null;
        }
        if (anon != 0) {
            Sys.munmap(anon, GIB);
            anon = 0;
        }
    }
}
