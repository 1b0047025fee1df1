package io.kmem.bench;

import io.kmem.MemoryPool;
import io.kmem.stats.SlabCacheStats;
import io.netty.buffer.PooledByteBufAllocator;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Memory held per live byte at the end of the batch and ring workloads (not timed; run once
 * by {@link BenchMain} after the JMH suite, in its own process):
 * <ul>
 *   <li>kmem: the bytes of every slab of the pool (slabinfo's num_slabs x pages per slab x
 *       4 KiB), kmalloc's rounding to its size classes included;
 *   <li>mimalloc: the growth of its committed bytes ({@code mi_process_info}'s
 *       current_commit; the JVM does not use mimalloc, so all of it is the workload's);
 *   <li>Netty: {@code usedDirectMemory()} of its dedicated allocator.
 * </ul>
 * "Live" is the sum of the sizes asked for. Batch: {@value BatchBench#N} objects of one size,
 * measured with all of them allocated, and once all are freed (bytes still held); ring: the
 * live set of {@value WorkloadBench#RING} objects of 64 to 2048 bytes after 100 turns.
 */
final class Fragmentation {
    private Fragmentation() {
    }

    interface Held {
        long held();
    }

    static List<String> report() {
        List<String> out = new ArrayList<>();
        out.add("memory held per live byte (fragmentation; target for kmem: <= 1.5 with all objects live)");
        out.add(String.format(Locale.ROOT, "%-34s %14s %14s %14s", "workload", "kmem", "mimalloc", "netty"));
        for (int size : new int[] {64, 256, 1024, 4096}) {
            String[] cols = new String[3];
            for (int k = 0; k < 3; k++) {
                cols[k] = batch(k, size);
            }
            out.add(String.format(Locale.ROOT, "%-34s %14s %14s %14s", "batch " + size + " B: live / freed", cols[0],
                    cols[1], cols[2]));
        }
        String[] cols = new String[3];
        for (int k = 0; k < 3; k++) {
            cols[k] = ring(k);
        }
        out.add(String.format(Locale.ROOT, "%-34s %14s %14s %14s", "ring 64..2048 B, live set 4096", cols[0], cols[1],
                cols[2]));
        out.add("  (live / freed: bytes held per live byte with all objects allocated / bytes still held, in KiB,"
                + " once all are freed)");
        return out;
    }

    private static final String[] NAMES = {"kmem", "mimalloc", "netty"};

    private static Peers.Alloc open(int k, int capacity) {
        return Peers.Alloc.of(NAMES[k], capacity);
    }

    private static Held heldOf(Peers.Alloc a) {
        if (a instanceof Peers.Kmem km) {
            MemoryPool pool = km.pool;
            return () -> {
                long b = 0;
                for (SlabCacheStats s : pool.slabStats()) {
                    b += s.numSlabs() * s.pagesPerSlab() * 4096L;
                }
                return b;
            };
        }
        if (a instanceof Peers.Netty n) {
            PooledByteBufAllocator alloc = n.alloc;
            return () -> alloc.metric().usedDirectMemory();
        }
        MethodHandle info = Peers.mi("mi_process_info", 8, false);
        return () -> {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment m = arena.allocate(8 * 8);
                long base = m.address();
                info.invokeExact(base, base + 8, base + 16, base + 24, base + 32, base + 40, base + 48, base + 56);
                return m.get(ValueLayout.JAVA_LONG, 40);
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
        };
    }

    private static String batch(int k, int size) {
        try (Peers.Alloc a = open(k, BatchBench.N)) {
            Held h = heldOf(a);
            // One round first, so that what the allocator keeps between rounds is in place.
            for (int i = 0; i < BatchBench.N; i++) {
                a.alloc(i, size);
            }
            for (int i = 0; i < BatchBench.N; i++) {
                a.free(i);
            }
            for (int i = 0; i < BatchBench.N; i++) {
                a.alloc(i, size);
            }
            long live = (long) BatchBench.N * size;
            long peak = h.held();
            for (int i = 0; i < BatchBench.N; i++) {
                a.free(i);
            }
            long after = h.held();
            return String.format(Locale.ROOT, "%.2f / %d", peak / (double) live, after >> 10);
        } catch (RuntimeException | Error e) {
            return "n/a (" + e.getClass().getSimpleName() + ")";
        }
    }

    private static String ring(int k) {
        int n = WorkloadBench.RING;
        SplittableRandom r = new SplittableRandom(20);
        int[] sizes = new int[n];
        try (Peers.Alloc a = open(k, n)) {
            Held h = heldOf(a);
            long live = 0;
            for (int i = 0; i < n; i++) {
                sizes[i] = 64 + r.nextInt(2048 - 64 + 1);
                a.alloc(i, sizes[i]);
                live += sizes[i];
            }
            for (int turn = 0; turn < 100; turn++) {
                for (int i = 0; i < n; i++) {
                    a.free(i);
                    live -= sizes[i];
                    sizes[i] = 64 + r.nextInt(2048 - 64 + 1);
                    a.alloc(i, sizes[i]);
                    live += sizes[i];
                }
            }
            long held = h.held();
            for (int i = 0; i < n; i++) {
                a.free(i);
            }
            return String.format(Locale.ROOT, "%.2f / %d", held / (double) live, h.held() >> 10);
        } catch (RuntimeException | Error e) {
            return "n/a (" + e.getClass().getSimpleName() + ")";
        }
    }
}
