package io.kmem.bench;

import io.kmem.Device;
import io.kmem.DmaApi;
import io.kmem.DmaBuffer;
import io.kmem.MemoryPool;
import io.kmem.RwOnceApi;
import io.kmem.gfp.Gfp;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
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
 * One ring access ({@link RwOnceApi}) per operation on a coherent buffer: {@code READ_ONCE}
 * and {@code smp_store_release} by offset on a {@link DmaBuffer}, {@code READ_ONCE} by
 * direct-map address on the pool and on a segment, against the same opaque load straight
 * through an FFM var handle ({@code ffmGetOpaque}). Each operation takes the next of 64
 * descriptors' words. Run under JMH's GC profiler: {@code gc.alloc.rate.norm} should be 0.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 4, time = 1)
@Fork(value = 2, jvmArgsAppend = {"--sun-misc-unsafe-memory-access=allow"})
public class RingBench {
    private static final VarHandle U32 = ValueLayout.JAVA_INT.withOrder(ByteOrder.LITTLE_ENDIAN).varHandle();

    /** A 4 KiB coherent buffer of a small pool. */
    @State(Scope.Thread)
    public static class Ring {
        MemoryPool pool;
        Device dev;
        DmaBuffer buf;
        MemorySegment seg;
        long addr;
        int i;

        @Setup(Level.Trial)
        public void open() {
            pool = MemoryPool.builder().name("bench-ring").smallPages(4L << 20).build();
            dev = new Device("bench-ring");
            pool.dma_set_mask_and_coherent(dev, DmaApi.DMA_BIT_MASK(64));
            buf = pool.dma_alloc_coherent(dev, 4096, Gfp.GFP_KERNEL);
            seg = buf.segment();
            addr = buf.cpuAddr();
        }

        @TearDown(Level.Trial)
        public void close() {
            pool.dma_free_coherent(dev, buf);
            pool.close();
        }

        long next() {
            return (i++ & 63) << 4;
        }
    }

    @Benchmark
    @Threads(1)
    public int bufferReadOnce(Ring r) {
        return r.buf.READ_ONCE_u32(r.next());
    }

    @Benchmark
    @Threads(1)
    public void bufferStoreRelease(Ring r) {
        r.buf.smp_store_release_u32(r.next(), r.i);
    }

    @Benchmark
    @Threads(1)
    public int poolReadOnce(Ring r) {
        return r.pool.READ_ONCE_u32(r.addr + r.next());
    }

    @Benchmark
    @Threads(1)
    public int segmentReadOnce(Ring r) {
        return RwOnceApi.READ_ONCE_u32(r.seg, r.next());
    }

    @Benchmark
    @Threads(1)
    public int ffmGetOpaque(Ring r) {
        return (int) U32.getOpaque(r.seg, r.next());
    }
}
