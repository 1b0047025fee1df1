package io.kmem.bench;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Control;

/**
 * The producer/consumer workload (a NIC's RX pattern): one thread allocates objects of one
 * size and hands them over through a {@link SpscRing} of 1024 slots, another frees them;
 * the same ring for every allocator ({@link Peers}). The producer's time per object is the
 * figure (it waits whenever the ring is full, so it runs at the pace of the slower side).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 4, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--sun-misc-unsafe-memory-access=allow", "--enable-native-access=ALL-UNNAMED"})
@State(Scope.Group)
public class HandoffBench {
    @Param({"kmem", "mimalloc", "glibc", "netty"})
    public String allocator;

    @Param({"64", "2048"})
    public int size;

    Peers.Alloc a;
    SpscRing ring;

    @Setup(Level.Trial)
    public void open() {
        a = Peers.Alloc.of(allocator, 1);
        ring = new SpscRing(1024);
    }

    @TearDown(Level.Trial)
    public void close() {
        while (a.consume(ring)) {
            // what the consumer left when the run ended
        }
        a.close();
    }

    @Benchmark
    @Group("pc")
    @GroupThreads(1)
    public boolean producer(Control control) {
        return a.produce(ring, size, control);
    }

    @Benchmark
    @Group("pc")
    @GroupThreads(1)
    public void consumer(Control control) {
        for (int spins = 0; !a.consume(ring); spins++) {
            if (control.stopMeasurement) {
                return;
            }
            Peers.Alloc.backoff(spins);
        }
    }
}
