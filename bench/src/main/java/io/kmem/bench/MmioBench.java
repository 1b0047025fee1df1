package io.kmem.bench;

import io.kmem.IoMem;
import io.kmem.MemoryPool;
import io.kmem.bindings.Libc;
import io.kmem.internal.sys.Sys;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.file.Path;
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
 * One MMIO register access through {@link IoMem}, per operation, on a memfd standing in for
 * a device (write-back page cache memory: the figure is kmem's cost, not a device's; a read of
 * a real device register is some hundred nanoseconds to microseconds of bus time on top):
 * <ul>
 *   <li>{@code readl} (an acquire load) and {@code writel} (a release store), with the bounds,
 *       alignment and liveness checks every access makes;
 *   <li>{@code readl_relaxed} and {@code writel_relaxed} (opaque accesses);
 *   <li>against the same accesses straight through an FFM segment of the same mapping, with
 *       the same access modes and only FFM's own checks ({@code ffmGetAcquire},
 *       {@code ffmSetRelease}, {@code ffmGetOpaque}).
 * </ul>
 * Each operation takes the next of 64 registers, so that nothing folds into a constant.
 * {@link BenchMain} runs these under JMH's GC profiler: the accessors allocate nothing, so
 * {@code gc.alloc.rate.norm} should be 0.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 4, time = 1)
@Fork(value = 2, jvmArgsAppend = {"--sun-misc-unsafe-memory-access=allow"})
public class MmioBench {
    private static final int SIZE = 4096;
    private static final VarHandle U32 = ValueLayout.JAVA_INT.withOrder(ByteOrder.LITTLE_ENDIAN).varHandle();

    /** A 4 KiB memfd "BAR" mapped with ioremapFile, and a plain FFM segment of the same bytes. */
    @State(Scope.Thread)
    public static class Bar {
        MemoryPool pool;
        IoMem io;
        MemorySegment raw;
        Arena arena;
        int fd;
        int i;

        @Setup(Level.Trial)
        public void open() {
            pool = MemoryPool.builder().name("bench-mmio").smallPages(4L << 20).build();
            fd = Sys.memfdCreate("kmem-bench-bar", Libc.MFD_CLOEXEC());
            Sys.ftruncate(fd, SIZE);
            io = pool.ioremapFile(Path.of("/proc/self/fd/" + fd), 0, SIZE);
            arena = Arena.ofShared();
            raw = MemorySegment.ofAddress(io.address()).reinterpret(SIZE, arena, null);
        }

        @TearDown(Level.Trial)
        public void close() {
            arena.close();
            pool.iounmap(io);
            Sys.close(fd);
            pool.close();
        }

        long next() {
            return (i++ & 63) << 2;
        }
    }

    @Benchmark
    @Threads(1)
    public int readl(Bar b) {
        return b.io.readl(b.next());
    }

    @Benchmark
    @Threads(1)
    public void writel(Bar b) {
        long off = b.next();
        b.io.writel((int) off, off);
    }

    @Benchmark
    @Threads(1)
    public int readlRelaxed(Bar b) {
        return b.io.readl_relaxed(b.next());
    }

    @Benchmark
    @Threads(1)
    public void writelRelaxed(Bar b) {
        long off = b.next();
        b.io.writel_relaxed((int) off, off);
    }

    @Benchmark
    @Threads(1)
    public int ffmGetAcquire(Bar b) {
        return (int) U32.getAcquire(b.raw, b.next());
    }

    @Benchmark
    @Threads(1)
    public void ffmSetRelease(Bar b) {
        long off = b.next();
        U32.setRelease(b.raw, off, (int) off);
    }

    @Benchmark
    @Threads(1)
    public int ffmGetOpaque(Bar b) {
        return (int) U32.getOpaque(b.raw, b.next());
    }
}
