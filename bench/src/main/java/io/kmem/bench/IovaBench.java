package io.kmem.bench;

import io.kmem.internal.vfio.IovaAllocator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The IOVA allocator's alloc + free pair for a 2 KiB streaming mapping (one granule), below
 * edu's 28-bit mask, in a domain shaped like QEMU's intel-iommu (a 39-bit aperture less the
 * MSI window): what a per-call {@code dma_map_single} + {@code dma_unmap_single} of a VFIO
 * device spends choosing its IOVA (the two ioctls come on top). Target: 50 ns or less.
 * {@code pairWithLive} keeps 1,000 other IOVAs live, so the magazine is not trivially empty.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 4, time = 1)
@Fork(value = 2, jvmArgsAppend = {"--sun-misc-unsafe-memory-access=allow"})
public class IovaBench {
    private static final long MASK28 = (1L << 28) - 1;

    @State(Scope.Thread)
    public static class Domain {
        IovaAllocator iova;

        @Setup
        public void setup() {
            iova = IovaAllocator.withMsiWindow("bench", List.of(new IovaAllocator.Range(0, (1L << 39) - 1)));
            for (int i = 0; i < 1000; i++) {
                iova.alloc(2048, MASK28);
            }
        }
    }

    @Benchmark
    public long allocFreePair(Domain d) {
        long a = d.iova.alloc(2048, MASK28);
        d.iova.free(a, 2048);
        return a;
    }
}
