package io.kmem.internal.vfio;

import static io.kmem.internal.vfio.IovaAllocator.GRANULE;
import static io.kmem.internal.vfio.IovaAllocator.IOVA_NONE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.internal.vfio.IovaAllocator.Range;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * The IOVA allocator against its contract: top-down below the DMA mask, inside the usable
 * ranges, never in the MSI window, never IOVA 0, size-aligned, NULL (0) when exhausted and
 * usable again after frees, magazines drained when the tree alone cannot serve.
 */
class IovaAllocatorTest {
    private static final long MIB = 1L << 20;
    private static final long GIB = 1L << 30;
    /** edu's 28-bit mask. */
    private static final long MASK28 = (1L << 28) - 1;
    /** The aperture of QEMU's intel-iommu: 39 bits. */
    private static final List<Range> APERTURE39 = List.of(new Range(0, (1L << 39) - 1));

    @Test
    void topDownBelowTheMask() {
        IovaAllocator a = IovaAllocator.withMsiWindow("t", APERTURE39);
        long iova = a.alloc(2048, MASK28);
        assertEquals((1L << 28) - GRANULE, iova, "the highest granule below the mask");
        long next = a.alloc(GRANULE, MASK28);
        assertEquals((1L << 28) - 2 * GRANULE, next);
        long big = a.alloc(64 * MIB, -1L);
        assertTrue(big + 64 * MIB - 1 <= (1L << 39) - 1, "inside the aperture");
        assertEquals(0, big % (2 * MIB), "large blocks are 2 MiB-aligned");
    }

    @Test
    void sizeAlignedUpToOrderFive() {
        IovaAllocator a = IovaAllocator.withMsiWindow("t", APERTURE39);
        for (int pages = 1; pages <= 40; pages++) {
            long iova = a.alloc(pages * GRANULE - 100, MASK28);
            long align = Math.min(Long.highestOneBit(pages) == pages ? pages : Long.highestOneBit(pages) << 1, 512);
            assertEquals(0, iova % (align * GRANULE), pages + " pages at 0x" + Long.toHexString(iova));
            assertTrue(iova + pages * GRANULE - 1 <= MASK28);
        }
    }

    @Test
    void neverTheMsiWindowNorZero() {
        // Usable: 0 to just past the MSI window; a 32-bit limit forces allocations around it.
        IovaAllocator a = IovaAllocator.withMsiWindow("t", List.of(new Range(0, 0xffff_ffffL)));
        long total = 0;
        while (true) {
            long iova = a.alloc(2 * MIB, 0xffff_ffffL);
            if (iova == IOVA_NONE) {
                break;
            }
            assertFalse(iova <= IovaAllocator.MSI_END && iova + 2 * MIB - 1 >= IovaAllocator.MSI_START,
                    "0x" + Long.toHexString(iova) + " overlaps the MSI window");
            assertNotEquals(0, iova);
            total += 2 * MIB;
        }
        // 4 GiB less the 1 MiB window (its 2 MiB block is lost) less the first 2 MiB (holds IOVA 0).
        assertEquals(4 * GIB - 4 * MIB, total);
        long small;
        List<Long> smalls = new ArrayList<>();
        while ((small = a.alloc(GRANULE, 0xffff_ffffL)) != IOVA_NONE) {
            assertFalse(small >= IovaAllocator.MSI_START && small <= IovaAllocator.MSI_END);
            assertNotEquals(0, small);
            smalls.add(small);
        }
        // The granules left: 2 MiB at the bottom less page 0, and 1 MiB beside the window.
        assertEquals((2 * MIB - GRANULE + MIB) / GRANULE, smalls.size());
    }

    @Test
    void usableRangesAreHonouredAndRoundedInwards() {
        IovaAllocator a = new IovaAllocator("t", List.of(new Range(0x1800, 0x4fff), new Range(0x10000, 0x10fff)),
                List.of());
        assertEquals(0x10000, a.alloc(1, -1L));
        assertEquals(0x4000, a.alloc(1, -1L));
        assertEquals(0x3000, a.alloc(1, -1L));
        assertEquals(0x2000, a.alloc(1, -1L));
        assertEquals(IOVA_NONE, a.alloc(1, -1L), "0x1800 rounds up to 0x2000: nothing left");
        assertEquals(1, a.failures());
    }

    @Test
    void exhaustionReturnsNoneAndFreesMakeRoom() {
        IovaAllocator a = new IovaAllocator("t", List.of(new Range(0, 16 * MIB - 1)), List.of());
        List<Long> got = new ArrayList<>();
        long iova;
        while ((iova = a.alloc(MIB, -1L)) != IOVA_NONE) {
            got.add(iova);
        }
        assertEquals(15, got.size(), "16 MiB less the MiB holding IOVA 0");
        assertEquals(IOVA_NONE, a.alloc(MIB, -1L));
        a.free(got.get(3), MIB);
        assertEquals(got.get(3), a.alloc(MIB, -1L));
        assertEquals(IOVA_NONE, a.alloc(GRANULE, 0xfff), "a mask below every free granule");
        assertTrue(a.describe().contains("allocations failed"));
    }

    @Test
    void cachedFreesServeTheSameThreadAndRespectTheLimit() {
        IovaAllocator a = IovaAllocator.withMsiWindow("t", APERTURE39);
        long high = a.alloc(2048, -1L);
        a.free(high, 2048);
        long low = a.alloc(2048, MASK28);
        assertTrue(low <= MASK28, "a cached IOVA above the mask is not handed to a 28-bit device");
        assertEquals(high, a.alloc(2048, -1L), "the cached one serves the next unlimited request");
    }

    @Test
    void magazinesAreDrainedWhenTheTreeRunsDry() throws Exception {
        IovaAllocator a = new IovaAllocator("t", List.of(new Range(0, 64 * GRANULE - 1)), List.of());
        List<Long> got = new ArrayList<>();
        long iova;
        while ((iova = a.alloc(GRANULE, -1L)) != IOVA_NONE) {
            got.add(iova);
        }
        assertEquals(63, got.size());
        // Another thread frees them all: they sit in its magazine, not in the tree.
        AtomicReference<Throwable> err = new AtomicReference<>();
        Thread t = new Thread(() -> got.forEach(i -> a.free(i, GRANULE)));
        t.setUncaughtExceptionHandler((th, e) -> err.set(e));
        t.start();
        t.join();
        assertEquals(null, err.get());
        assertEquals(0, a.freeBytes());
        long order3 = a.alloc(8 * GRANULE, -1L);
        assertNotEquals(IOVA_NONE, order3, "the drain merged the cached granules back into blocks");
        assertEquals(0, order3 % (8 * GRANULE));
    }

    @Test
    void doubleFreeIntoTheTreeIsNamed() {
        IovaAllocator a = new IovaAllocator("edu", List.of(new Range(0, 1L << 32)), List.of());
        long iova = a.alloc(4 * MIB, -1L);
        a.free(iova, 4 * MIB);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> a.free(iova, 4 * MIB));
        assertTrue(e.getMessage().contains("edu") && e.getMessage().contains("double free"), e.getMessage());
    }

    /** Random alloc/free against a model: no two live blocks overlap, each inside its limit. */
    @Test
    void randomAgainstModel() {
        Random r = new Random(18);
        IovaAllocator a = IovaAllocator.withMsiWindow("t", List.of(new Range(0, (1L << 33) - 1)));
        java.util.TreeMap<Long, Long> live = new java.util.TreeMap<>();
        for (int i = 0; i < 20_000; i++) {
            if (live.isEmpty() || r.nextInt(3) > 0) {
                long size = r.nextInt(4) == 0 ? (1 + r.nextInt(600)) * GRANULE : 1 + r.nextInt(40_000);
                long limit = r.nextBoolean() ? MASK28 : r.nextBoolean() ? 0xffff_ffffL : -1L;
                long iova = a.alloc(size, limit);
                if (iova == IOVA_NONE) {
                    continue;
                }
                long end = iova + size - 1;
                assertTrue(Long.compareUnsigned(end, limit) <= 0);
                assertFalse(iova <= IovaAllocator.MSI_END && end >= IovaAllocator.MSI_START);
                var lo = live.floorEntry(end);
                assertTrue(lo == null || lo.getValue() < iova, "overlap at 0x" + Long.toHexString(iova));
                long g = (size + GRANULE - 1) / GRANULE;
                long extent = (g <= IovaAllocator.CACHED_MAX ? Long.highestOneBit(g) == g ? g : Long.highestOneBit(g) << 1 : g) * GRANULE;
                assertTrue(lo == null || lo.getValue() < iova);
                var hi = live.ceilingEntry(iova);
                assertTrue(hi == null || hi.getKey() > iova + extent - 1, "overlap above 0x" + Long.toHexString(iova));
                live.put(iova, iova + extent - 1);
                sizes.put(iova, size);
            } else {
                long k = new ArrayList<>(live.keySet()).get(r.nextInt(live.size()));
                live.remove(k);
                a.free(k, sizes.remove(k));
            }
        }
    }

    private final java.util.Map<Long, Long> sizes = new java.util.HashMap<>();
}
