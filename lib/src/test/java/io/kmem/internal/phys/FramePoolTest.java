package io.kmem.internal.phys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.bindings.Libc;
import io.kmem.error.BadAddressException;
import io.kmem.error.KmemException;
import io.kmem.error.PoolClosedException;
import io.kmem.error.PrivilegeException;
import io.kmem.gfp.FrameKind;
import io.kmem.gfp.ZoneType;
import io.kmem.stats.FrameVerification;
import io.kmem.stats.HostInfo;
import io.kmem.stats.MovedFrame;
import io.kmem.internal.sys.Sys;
import io.kmem.error.SyscallException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class FramePoolTest {
    private static final long MIB = 1L << 20;

    static FramePool pool(long smallMax, long hugeMax, long dmaMask, boolean unprivileged) {
        long[] max = new long[FrameKind.values().length];
        max[FrameKind.SMALL_4K.ordinal()] = smallMax;
        max[FrameKind.HUGE_2M.ordinal()] = hugeMax;
        return FramePool.create(new FramePool.Config("test", max, dmaMask, unprivileged));
    }

    static void requireHugepages(long pages) {
        HostInfo host = HostInfo.read();
        if (host.freeHugepages2m() < pages) {
            throw new AssertionError("this test needs " + pages + " free 2 MiB hugepages, the host has "
                    + host.freeHugepages2m() + " (reserved " + host.hugepages2m() + "); reserve them with "
                    + "`echo 64 > /proc/sys/vm/nr_hugepages` as root (make test does it)");
        }
    }

    static MemorySegment at(long addr, long bytes) {
        return MemorySegment.ofAddress(addr).reinterpret(bytes);
    }

    @Test
    void everyFramesDirectMapAddressHasItsRecordedPfnInPagemap() {
        try (FramePool p = pool(16 * MIB, 0, -1, false)) {
            FramePool.Intake in = p.grow(FrameKind.SMALL_4K, 4096);
            assertEquals(4096, in.frames());
            assertEquals(4096, p.presentFrames());
            long[] pfns = p.presentPfns();
            assertTrue(Arrays.equals(pfns, in.pfns()), "intake and present frames agree");
            for (long pfn : pfns) {
                long va = p.directAddress(pfn);
                assertEquals(pfn, p.pagemapPfn(va), "pagemap of direct-map address of pfn 0x" + Long.toHexString(pfn));
                assertEquals(pfn << 12 | 0x123, p.virtToPhys(va + 0x123));
                assertEquals(va + 0x123, p.physToVirt(pfn << 12 | 0x123));
            }
            assertTrue(in.runs() <= pfns.length && in.runs() > 0, "runs mapped in one call each: " + in.runs());
        }
    }

    @Test
    void writesThroughTheMemfdMappingAreReadThroughTheDirectMap() {
        try (FramePool p = pool(8 * MIB, 0, -1, false)) {
            p.grow(FrameKind.SMALL_4K, 2048);
            long first = p.firstIdx(FrameKind.SMALL_4K);
            for (long idx = first; idx < first + 2048; idx++) {
                at(p.frameViewAddress(idx), 4096).set(ValueLayout.JAVA_LONG, 8, idx * 31 + 7);
            }
            for (long idx = first; idx < first + 2048; idx++) {
                long pfn = MemMap.pfn(p.memMap().info(idx));
                assertEquals(idx * 31 + 7, at(p.directAddress(pfn), 4096).get(ValueLayout.JAVA_LONG, 8));
                assertEquals(p.frameViewAddress(idx) - p.frameViewAddress(first), p.memfdOffset(idx));
            }
        }
    }

    @Test
    void zonesFollowPhysicalAddresses() {
        assertEquals(ZoneType.DMA, ZoneType.of(0));
        assertEquals(ZoneType.DMA, ZoneType.of((16 * MIB >> 12) - 1));
        assertEquals(ZoneType.DMA32, ZoneType.of(16 * MIB >> 12));
        assertEquals(ZoneType.DMA32, ZoneType.of((1L << 20) - 1));
        assertEquals(ZoneType.NORMAL, ZoneType.of(1L << 20));
        try (FramePool p = pool(4 * MIB, 0, -1, false)) {
            p.grow(FrameKind.SMALL_4K, 1024);
            long sum = 0;
            for (ZoneType z : ZoneType.values()) {
                sum += p.presentFrames(z);
            }
            assertEquals(1024, sum);
            for (long pfn : p.presentPfns()) {
                long info = p.memMap().info(p.pfnToIdx(pfn));
                assertEquals(ZoneType.of(pfn).ordinal(), MemMap.zone(info));
            }
        }
    }

    /**
     * Hugetlb frames come from a fixed set, the reserved hugepages, so this needs no luck: a
     * probe takes every free hugepage and a mask is put after three quarters of them (by PFN).
     * A masked pool asking for exactly those pages must find every one of them among all the
     * kernel hands out, keep nothing above the mask, and give back what it held back; a
     * further request then finds nothing below the mask and says so. (4 KiB frames would
     * depend on the kernel handing the probe's frames out again, which another process can
     * prevent.)
     */
    @Test
    void dmaMaskPoolKeepsOnlyFramesBelowItsMask() {
        // 64: the further request's limit (16 pages) must be reached before the free set runs out.
        requireHugepages(64);
        long free = HostInfo.read().freeHugepages2m();
        long[] probe;
        try (FramePool p = pool(0, free * 2 * MIB, -1, false)) {
            probe = p.grow(FrameKind.HUGE_2M, free * 512).pfns();
        }
        int below = (int) (free * 3 / 4);
        long mask = ((probe[below * 512 - 1] + 1) << 12) - 1;
        try (FramePool p = pool(0, free * 2 * MIB, mask, false)) {
            FramePool.Intake in = p.grow(FrameKind.HUGE_2M, below * 512L);
            assertEquals(below * 512L, in.frames());
            assertTrue(Arrays.equals(Arrays.copyOf(probe, below * 512), in.pfns()),
                    "exactly the probe's hugepages below the mask");
            assertEquals(below * 512L, p.presentFrames(), "held-back pages are given back, not kept");
            KmemException e = assertThrows(KmemException.class, () -> p.grow(FrameKind.HUGE_2M, 512));
            assertTrue(e.getMessage().contains("below the mask"), e.getMessage());
            assertEquals(below * 512L, p.presentFrames());
        }
        assertEquals(free, HostInfo.read().freeHugepages2m(), "every hugepage is free again after close");
    }

    @Test
    void dmaMaskThatNoFrameMeetsFailsSayingWhy() {
        try (FramePool p = pool(64 * MIB, 0, (16 * MIB) - 1, false)) {
            KmemException e = assertThrows(KmemException.class, () -> p.grow(FrameKind.SMALL_4K, 64));
            assertTrue(e.getMessage().contains("below the mask"), e.getMessage());
            assertEquals(0, p.presentFrames());
            p.close();
        }
    }

    @Test
    void growReleaseAndRegrowRefillsTheHoles() throws Exception {
        try (FramePool p = pool(16 * MIB, 0, -1, false)) {
            long[] first = p.grow(FrameKind.SMALL_4K, 1024).pfns();
            long[] more = p.grow(FrameKind.SMALL_4K, 1024).pfns();
            assertEquals(2048, p.presentFrames());
            long[] give = Arrays.copyOf(more, 512);
            for (long pfn : give) {
                at(p.directAddress(pfn), 4096).set(ValueLayout.JAVA_LONG, 0, 0xdeadbeefL);
            }
            p.release(give);
            assertEquals(1536, p.presentFrames());
            for (long pfn : give) {
                assertEquals(-1, p.pfnToIdx(pfn), "released frame forgotten");
                assertEquals(-1, p.pagemapPfn(p.directAddress(pfn)), "released frame unmapped from the direct map");
                assertThrows(BadAddressException.class, () -> p.virtToPhys(p.directAddress(pfn)));
            }
            long size = java.nio.file.Files.size(java.nio.file.Path.of("/proc/self/fd/" + p.memfd(FrameKind.SMALL_4K)));
            long[] again = p.grow(FrameKind.SMALL_4K, 512).pfns();
            assertEquals(2048, p.presentFrames());
            assertEquals(size, java.nio.file.Files.size(java.nio.file.Path.of("/proc/self/fd/" + p.memfd(FrameKind.SMALL_4K))),
                    "holes refilled before the memfd grows");
            for (long pfn : again) {
                assertEquals(0, at(p.directAddress(pfn), 4096).get(ValueLayout.JAVA_LONG, 0), "refilled frames are new, zeroed pages");
                assertEquals(pfn, p.pagemapPfn(p.directAddress(pfn)));
            }
            assertTrue(first.length == 1024);
            BadAddressException twice = assertThrows(BadAddressException.class, () -> p.release(new long[] {again[0], again[0]}));
            assertTrue(twice.getMessage().contains("twice"), twice.getMessage());
            assertEquals(2048, p.presentFrames(), "a refused release changes nothing");
        }
    }

    @Test
    void growPastTheMaximumIsRefusedAndChangesNothing() {
        try (FramePool p = pool(4 * MIB, 0, -1, false)) {
            p.grow(FrameKind.SMALL_4K, 1000);
            KmemException e = assertThrows(KmemException.class, () -> p.grow(FrameKind.SMALL_4K, 100));
            assertTrue(e.getMessage().contains("maximum"), e.getMessage());
            assertEquals(1000, p.presentFrames());
            p.grow(FrameKind.SMALL_4K, 24);
            assertEquals(1024, p.presentFrames());
        }
    }

    @Test
    void hugetlbFramesAreWholeAlignedRunsOf512() {
        requireHugepages(4);
        try (FramePool p = pool(0, 8 * MIB, -1, false)) {
            FramePool.Intake in = p.grow(FrameKind.HUGE_2M, 2048);
            assertEquals(2048, in.frames());
            long[] pfns = in.pfns();
            for (int i = 0; i < pfns.length; i += 512) {
                assertEquals(0, pfns[i] % 512, "hugepage starts 2 MiB aligned");
                for (int j = 1; j < 512; j++) {
                    assertEquals(pfns[i] + j, pfns[i + j], "hugepage frames are contiguous");
                }
            }
            for (long pfn : pfns) {
                assertTrue((p.memMap().info(p.pfnToIdx(pfn)) & MemMap.PG_HUGETLB) != 0);
                assertEquals(pfn, p.pagemapPfn(p.directAddress(pfn)));
            }
            assertThrows(BadAddressException.class, () -> p.release(Arrays.copyOf(pfns, 100)),
                    "hugetlb frames go back in whole pages");
            p.release(Arrays.copyOf(pfns, 512));
            assertEquals(1536, p.presentFrames());
        }
    }

    @Test
    void hugetlbWithoutFreeHugepagesFailsSayingHowToReserve() {
        HostInfo host = HostInfo.read();
        long free = host.freeHugepages2m();
        try (FramePool p = pool(0, (free + 1) * 2 * MIB, -1, false)) {
            PrivilegeException e = assertThrows(PrivilegeException.class,
                    () -> p.grow(FrameKind.HUGE_2M, (free + 1) * 512));
            assertTrue(e.getMessage().contains("nr_hugepages"), e.getMessage());
            assertEquals(0, p.presentFrames());
        }
    }

    @Test
    void unprivilegedPoolUsesFrameIndexAsPfnAndHasNoPhysicalAddresses() {
        try (FramePool p = pool(4 * MIB, 0, -1, true)) {
            long[] pfns = p.grow(FrameKind.SMALL_4K, 1024).pfns();
            assertFalse(p.physical());
            for (int i = 0; i < pfns.length; i++) {
                assertEquals(p.firstIdx(FrameKind.SMALL_4K) + i, pfns[i]);
                assertEquals(pfns[i], p.virtToPfn("test", p.directAddress(pfns[i])));
            }
            PrivilegeException e = assertThrows(PrivilegeException.class, () -> p.virtToPhys(p.directAddress(pfns[0])));
            assertTrue(e.getMessage().contains("virt_to_phys") && e.getMessage().contains("unprivileged"), e.getMessage());
            assertEquals(1, p.contiguityHistogram()[10], "one run of 1024 frames");
        }
    }

    @Test
    void foreignAddressesAndPfnsAreClearErrors() {
        try (FramePool p = pool(4 * MIB, 0, -1, false)) {
            long[] pfns = p.grow(FrameKind.SMALL_4K, 256).pfns();
            BadAddressException e = assertThrows(BadAddressException.class, () -> p.virtToPhys(0x1000));
            assertTrue(e.getMessage().startsWith("virt_to_phys: address 0x1000 is not in the direct map"), e.getMessage());
            long heap = MemorySegment.ofArray(new byte[0]).address();
            assertThrows(BadAddressException.class, () -> p.virtToPhys(heap));
            // Inside the direct map's reservation, but a PFN the pool does not hold (pfn basePfn is
            // below every zone's start_pfn on x86-64, so never a pool frame).
            long hole = p.directAddress(p.basePfn());
            assertTrue(p.inDirectMap(hole));
            e = assertThrows(BadAddressException.class, () -> p.virtToPhys(hole + 8));
            assertTrue(e.getMessage().contains("is not one of its frames"), e.getMessage());
            e = assertThrows(BadAddressException.class, () -> p.physToVirt(0x1000));
            assertTrue(e.getMessage().startsWith("phys_to_virt: physical address 0x1000"), e.getMessage());
            assertEquals(-1, p.pfnToIdx(pfns[pfns.length - 1] + 1_000_000_000L));
            assertEquals(pfns[0] << 12, p.virtToPhys(p.directAddress(pfns[0])), "still usable after every refusal");
        }
    }

    @Test
    void closedPoolRefusesEveryCall() {
        FramePool p = pool(4 * MIB, 0, -1, false);
        p.grow(FrameKind.SMALL_4K, 16);
        p.close();
        PoolClosedException e = assertThrows(PoolClosedException.class, () -> p.grow(FrameKind.SMALL_4K, 16));
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
        assertThrows(PoolClosedException.class, p::verify);
        assertThrows(IllegalStateException.class, () -> p.directMap().get(ValueLayout.JAVA_BYTE, 0),
                "segments of a closed pool throw rather than touch unmapped memory");
        p.close();
    }

    @Test
    void memfdIsSealedAgainstShrinking() {
        try (FramePool p = pool(4 * MIB, 0, -1, false)) {
            p.grow(FrameKind.SMALL_4K, 64);
            assertTrue((p.seals(FrameKind.SMALL_4K) & Libc.F_SEAL_SHRINK()) != 0, "F_SEAL_SHRINK set");
            int fd = Sys.open("/proc/self/fd/" + p.memfd(FrameKind.SMALL_4K), Libc.O_RDWR());
            try {
                SyscallException e = assertThrows(SyscallException.class, () -> Sys.ftruncate(fd, 0));
                assertEquals("EPERM", e.errnoName());
            } finally {
                Sys.close(fd);
            }
        }
    }

    @Test
    void verifyFindsEveryFrameInPlace() {
        try (FramePool p = pool(8 * MIB, 0, -1, false)) {
            p.grow(FrameKind.SMALL_4K, 2048);
            FrameVerification v = p.verify();
            assertEquals(2048, v.framesChecked());
            assertTrue(v.ok(), () -> "moved: " + v.moved());
        }
    }

    /**
     * What verify() exists for: a frame whose physical page changed under the pool (here the
     * page is punched out of the memfd and faulted in anew, which is what a migration looks
     * like from the pool: same frame, other PFN) is reported with its old and new PFN.
     */
    @Test
    void verifyReportsAFrameWhosePageChanged() {
        try (FramePool p = pool(8 * MIB, 0, -1, false)) {
            p.grow(FrameKind.SMALL_4K, 1024);
            long first = p.firstIdx(FrameKind.SMALL_4K) + 512;
            long[] recorded = new long[512];
            for (int i = 0; i < 512; i++) {
                recorded[i] = MemMap.pfn(p.memMap().info(first + i));
            }
            // A whole 2 MiB stretch, so that a 2 MiB shmem folio goes as a whole (a partial
            // punch of a folio that cannot be split only zeroes the range, keeping the pages).
            Sys.fallocate(p.memfd(FrameKind.SMALL_4K), Libc.FALLOC_FL_PUNCH_HOLE() | Libc.FALLOC_FL_KEEP_SIZE(),
                    p.memfdOffset(first), 512 * 4096L);
            MemorySegment view = MemorySegment.ofAddress(p.frameViewAddress(first)).reinterpret(512 * 4096L);
            for (long off = 0; off < 512 * 4096L; off += 4096) {
                view.set(ValueLayout.JAVA_LONG, off, off);
            }
            FrameVerification v = p.verify();
            int changed = 0;
            for (int i = 0; i < 512; i++) {
                changed += p.pagemapPfn(p.frameViewAddress(first + i)) != recorded[i] ? 1 : 0;
            }
            if (changed == 0) {
                throw new AssertionError("the kernel gave every punched frame its old page back; the test cannot tell"
                        + " a detection from a miss");
            }
            assertEquals(changed, v.moved().size(), "every frame whose page changed is reported: " + v.moved());
            for (MovedFrame m : v.moved()) {
                assertTrue(m.idx() >= first && m.idx() < first + 512, "only the punched stretch: " + m);
                assertEquals(recorded[(int) (m.idx() - first)], m.recordedPfn());
                assertEquals(p.pagemapPfn(p.frameViewAddress(m.idx())), m.currentPfn());
            }
        }
    }

    @Test
    void memMapCostsAtMostSixteenBytesPerFrame() {
        try (FramePool p = pool(64 * MIB, 0, -1, false)) {
            p.grow(FrameKind.SMALL_4K, 16384);
            long[] meta = p.metadataBytes();
            assertTrue(meta[0] <= 16L * 16384, "mem_map resident bytes " + meta[0]);
            assertTrue(meta[0] >= 16L * 16384, "mem_map records are touched: " + meta[0]);
            java.util.Set<Long> sections = new java.util.HashSet<>();
            for (long pfn : p.presentPfns()) {
                sections.add((pfn - p.basePfn()) >>> PfnIndex.SECTION_SHIFT);
            }
            long top = (p.limitPfn() - p.basePfn() + PfnIndex.SECTION_FRAMES - 1) >>> PfnIndex.SECTION_SHIFT;
            assertEquals(16 + 4 * top + (16 + 4L * PfnIndex.SECTION_FRAMES) * sections.size(), meta[1],
                    "pfn index: the top array plus one int[512] per populated 2 MiB section");
            assertTrue(sections.size() <= 16384 / 512 + 2, "4 KiB frames in 2 MiB folios fill whole sections: "
                    + sections.size() + " sections for 16384 frames (shmem THP is '" + p.host().shmemThp()
                    + "'; `make hugepages` sets it to advise)");
        }
    }
}
