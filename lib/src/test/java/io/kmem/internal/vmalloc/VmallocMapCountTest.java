package io.kmem.internal.vmalloc;

import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.MemoryPool;
import io.kmem.gfp.FrameKind;
import io.kmem.internal.page.BuddyAllocator;
import io.kmem.internal.phys.FramePool;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;

/** What vmalloc areas cost in process mappings (vm.max_map_count), and what happens when they run out. */
class VmallocMapCountTest {
    private static final long MIB = 1L << 20;
    private static final long PAGE = 4096;

    static long maps() {
        try (var lines = Files.lines(Path.of("/proc/self/maps"))) {
            return lines.count();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A pool's layers built by hand, so that its vmalloc can be given a budget of the test's,
     * made once the direct map is there (the budget counts the process's mappings when made).
     */
    record Layers(FramePool phys, BuddyAllocator buddy, Vmalloc vm) implements AutoCloseable {
        static Layers of(Supplier<MapBudget> budget) {
            return of(16 * MIB, budget);
        }

        static Layers of(long bytes, Supplier<MapBudget> budget) {
            long[] max = new long[FrameKind.values().length];
            max[FrameKind.SMALL_4K.ordinal()] = bytes;
            FramePool phys = FramePool.create(new FramePool.Config("vmaps", max, -1, false));
            BuddyAllocator buddy = new BuddyAllocator(phys, 0);
            buddy.grow(FrameKind.SMALL_4K, bytes / PAGE);
            return new Layers(phys, buddy, new Vmalloc(phys, buddy, Vmalloc.DEFAULT_WINDOW, budget.get()));
        }

        long vmalloc() {
            return vm.vmalloc("vmalloc", PAGE, GFP_KERNEL, VmArea.VM_ALLOC);
        }

        @Override
        public void close() {
            vm.close();
            buddy.close();
            phys.close();
        }
    }

    /** The WARNING lines logged on io.kmem.internal.vmalloc while it is open. */
    static final class Warnings extends Handler implements AutoCloseable {
        final Logger logger = Logger.getLogger("io.kmem.internal.vmalloc");
        final List<String> lines = new ArrayList<>();

        Warnings() {
            logger.addHandler(this);
        }

        @Override
        public synchronized void publish(LogRecord r) {
            lines.add(r.getMessage());
        }

        synchronized List<String> matching(String part) {
            return lines.stream().filter(l -> l.contains(part)).toList();
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
            logger.removeHandler(this);
        }
    }

    /** The figure of meminfo's VmallocMapsFree line. */
    static long mapsFree(String meminfo) {
        for (String line : meminfo.split("\n")) {
            if (line.startsWith("VmallocMapsFree:")) {
                return Long.parseLong(line.substring("VmallocMapsFree:".length()).trim());
            }
        }
        throw new AssertionError("no VmallocMapsFree line in\n" + meminfo);
    }

    /**
     * One-page areas cost one mapping each: the guard page is a guard region inside the
     * area's own mapping, not a PROT_NONE mapping of its own (two per area before).
     */
    @Test
    void aLiveOnePageAreaCostsOneMapping() throws Exception {
        int n = 2000;
        try (MemoryPool pool = MemoryPool.builder().name("vmaps").smallPages(16 * MIB).build()) {
            long[] p = new long[n];
            long free0 = mapsFree(pool.meminfo());
            long before = maps();
            for (int i = 0; i < n; i++) {
                p[i] = pool.vmalloc(PAGE);
                assertNotEquals(0, p[i]);
            }
            long after = maps();
            double perArea = (after - before) / (double) n;
            System.out.printf("%d one-page areas: %d mappings, %.3f per area%n", n, after - before, perArea);
            assertTrue(perArea <= 1.01, "mappings per live one-page area: " + perArea);
            for (int i = 0; i < n; i += 499) {
                VmallocTest.assertGuard(pool, p[i] + PAGE);
            }
            long free1 = mapsFree(pool.meminfo());
            assertTrue(free1 <= free0 - n && free1 > 0, "VmallocMapsFree " + free0 + " before, " + free1 + " after");
            for (long a : p) {
                pool.vfree(a);
            }
            assertTrue(maps() - before <= 2, "mappings left after vfree of every area: " + (maps() - before));
        }
    }

    /**
     * The case at the default limit: 40,000 live one-page areas, past the 32,700 that
     * exhausted vm.max_map_count (65,530) at two mappings each (vmalloc then threw ENOMEM or
     * the JVM aborted). At one mapping each they fit under the limit less the reserve, with
     * no raise; the JVM still starts threads. The limit kmem believes is a file of the test's
     * holding the default, with raising off, so that the test means the same on a host whose
     * limit kmem (or anyone) raised before; the host's own limit must be at least the default,
     * or the process could really run out.
     */
    @Test
    void fortyThousandOnePageAreasFitUnderTheDefaultLimit() throws Exception {
        long defaultLimit = 65530;
        long real = MapBudget.readNumber(MapBudget.MAX_MAP_COUNT, -1);
        assertTrue(real >= defaultLimit, "vm.max_map_count is " + real + "; this test needs at least the default "
                + defaultLimit + " (sysctl -w vm.max_map_count=" + defaultLimit + ")");
        Path limitFile = Files.createTempFile("max_map_count", "");
        Files.writeString(limitFile, Long.toString(defaultLimit));
        int n = 40_000;
        try (Layers l = Layers.of(n * PAGE + 8 * MIB, () -> new MapBudget(limitFile, false, MapBudget.MIN_RESERVE))) {
            long[] p = new long[n];
            for (int i = 0; i < n; i++) {
                p[i] = l.vmalloc();
                int at = i;
                assertNotEquals(0, p[i], () -> "area " + at + " of " + n + "; the process has " + maps() + " mappings");
            }
            assertTrue(maps() <= defaultLimit - MapBudget.MIN_RESERVE, maps() + " mappings");
            Thread t = new Thread(() -> { });
            t.start();
            t.join();
            for (long a : p) {
                l.vm().vfree("vfree", a);
            }
            assertEquals(List.of(), l.vm().check());
        } finally {
            Files.delete(limitFile);
        }
    }

    /**
     * Out of mappings, vmalloc returns NULL with its warning, never ENOMEM from mmap, and the
     * JVM keeps working; after vfree it works again. The limit kmem believes is a file of the
     * test's, not the real vm.max_map_count: lowering that would hit every process on the
     * host (other test JVMs among them, which may hold more mappings than the lowered value)
     * for as long as the test runs, and the path under test, the refusal, is the same.
     */
    @Test
    void outOfMappingsVmallocReturnsNullAndWorksAgainAfterVfree() throws Exception {
        Path limitFile = Files.createTempFile("max_map_count", "");
        long room = 600;
        long reserve = 100;
        Supplier<MapBudget> budget = () -> {
            try {
                Files.writeString(limitFile, Long.toString(maps() + reserve + room));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return new MapBudget(limitFile, false, reserve);
        };
        try (Layers l = Layers.of(budget); Warnings w = new Warnings()) {
            long limit = MapBudget.readNumber(limitFile, -1);
            long before = maps();
            List<Long> live = new ArrayList<>();
            long p;
            while ((p = l.vmalloc()) != 0) {
                live.add(p);
                // More than the room when the process drops mappings of its own meanwhile
                // (threads of earlier tests exiting); never without bound.
                assertTrue(live.size() <= 4 * room, "vmalloc never ran out: " + live.size() + " areas");
            }
            assertEquals(0, l.vmalloc(), "still out of mappings");
            assertEquals(2, l.vm.stats().failures(), "the refusals are counted");
            assertTrue(maps() <= limit - reserve / 2, "the process holds " + maps() + " mappings, more than the"
                    + " limit " + limit + " less (about) the reserve " + reserve);
            assertTrue(live.size() >= room / 2, "only " + live.size() + " areas before the refusal (from " + before
                    + " mappings, the limit " + limit + ")");
            List<String> warned = w.matching("vmalloc error: vmalloc: size 4096");
            assertEquals(2, warned.size(), String.valueOf(w.lines));
            assertTrue(warned.get(0).contains("out of process mappings") && warned.get(0).contains(
                    "vm.max_map_count is " + limit), warned.get(0));
            assertTrue(l.vm.stats().mapsFree() < 3, "VmallocMapsFree when refused: " + l.vm.stats().mapsFree());
            byte[][] made = new byte[1][];
            Thread t = new Thread(() -> made[0] = new byte[1 << 20]);
            t.start();
            t.join();
            assertNotNull(made[0], "a new thread ran and allocated");
            for (long a : live) {
                l.vm.vfree("vfree", a);
            }
            assertTrue(maps() <= before + 2, maps() + " mappings after vfree, " + before + " before");
            long again = l.vmalloc();
            assertNotEquals(0, again, "vmalloc after vfree");
            l.vm.vfree("vfree", again);
            assertEquals(List.of(), l.vm.check());
        } finally {
            Files.delete(limitFile);
        }
    }

    /**
     * As root, the real vm.max_map_count is raised, with a warning that names the old and the
     * new value, and the areas are had. A reserve of the test's puts the limit within reach of
     * a hundred areas; raising is harmless to other processes, and the old value comes back
     * afterwards unless someone else changed it meanwhile.
     */
    @Test
    void asRootTheLimitIsRaisedWithAWarning() throws Exception {
        assertTrue(Files.isWritable(MapBudget.MAX_MAP_COUNT), "needs root: the test writes " + MapBudget.MAX_MAP_COUNT);
        long original = MapBudget.readNumber(MapBudget.MAX_MAP_COUNT, -1);
        long raised = original;
        try (Layers l = Layers.of(() -> new MapBudget(MapBudget.MAX_MAP_COUNT, true, original - maps() - 60));
                Warnings w = new Warnings()) {
            assertEquals(original, l.vm.stats().maxMapCount(), "the limit as kmem read it");
            List<Long> live = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                long p = l.vmalloc();
                assertNotEquals(0, p, "area " + i);
                live.add(p);
            }
            raised = MapBudget.readNumber(MapBudget.MAX_MAP_COUNT, -1);
            assertTrue(raised > original, "vm.max_map_count " + raised + ", was " + original);
            assertEquals(raised, l.vm.stats().maxMapCount());
            List<String> warned = w.matching("raised /proc/sys/vm/max_map_count from " + original + " to " + raised);
            assertEquals(1, warned.size(), String.valueOf(w.lines));
            assertEquals(0, l.vm.stats().failures());
            for (long a : live) {
                l.vm.vfree("vfree", a);
            }
        } finally {
            if (raised != original
                    && MapBudget.readNumber(MapBudget.MAX_MAP_COUNT, -1) == raised) {
                Files.writeString(MapBudget.MAX_MAP_COUNT, Long.toString(original));
            }
        }
    }
}
