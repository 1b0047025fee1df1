package io.kmem;

import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.internal.phys.FramePool;
import io.kmem.gfp.FrameKind;
import io.kmem.stats.FrameVerification;
import io.kmem.stats.MovedFrame;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Physical stability: the kernel's compaction ({@code /proc/sys/vm/compact_memory}) runs while
 * a pool is live and busy, and {@code verify()} re-reads pagemap for every frame.
 * <ul>
 *   <li>With {@code vm.compact_unevictable_allowed=0} (what kmem's README tells users to
 *       set), no frame moves: every frame, 4 KiB or hugetlb, is where the pool recorded it.</li>
 *   <li>With {@code 1} (the kernel's default), compaction may migrate mlocked 4 KiB frames:
 *       any that moved must be reported by {@code verify()} with both PFNs, and none of them
 *       may be a hugetlb frame (hugetlb pages are never moved by compaction).</li>
 * </ul>
 * The test sets the sysctl for each half and puts the host's value back (root; CI is root).
 * That verify() does report a frame whose page changed is shown in {@code FramePoolTest}.
 */
class PhysicalStabilityTest {
    private static final Path SYSCTL = Path.of("/proc/sys/vm/compact_unevictable_allowed");
    private static final Path COMPACT = Path.of("/proc/sys/vm/compact_memory");
    private static final long MIB = 1L << 20;

    @Test
    void compactionLeavesFramesInPlaceOrIsReported() throws IOException {
        assertTrue(Files.isWritable(SYSCTL) && Files.isWritable(COMPACT), "this test needs root to set "
                + SYSCTL + " and write " + COMPACT);
        long hugepages = Long.parseLong(Files.readAllLines(Path.of("/proc/sys/vm/nr_hugepages")).get(0).strip());
        assertTrue(hugepages >= 8, "this test needs 8 reserved 2 MiB hugepages (make test reserves 64), found "
                + hugepages);
        // procfs files report a size of 0: read them by lines (Files.readString stops short).
        String before = Files.readAllLines(SYSCTL).get(0).strip();
        try (MemoryPool pool = MemoryPool.builder().name("stability").smallPages(128 * MIB).hugePages2m(8 * MIB)
                .build()) {
            long[] held = new long[2000];
            for (int i = 0; i < held.length; i++) {
                held[i] = pool.kmalloc(16 + i % 3000, GFP_KERNEL);
            }
            for (String setting : new String[] {"0", "1"}) {
                Files.writeString(SYSCTL, setting);
                for (int round = 0; round < 2; round++) {
                    Files.writeString(COMPACT, "1");
                }
                FrameVerification v = pool.verify();
                assertEquals(pool.frames(), v.framesChecked(), "every frame re-read");
                if (setting.equals("0")) {
                    assertTrue(v.ok(), "compact_unevictable_allowed=0, yet frames moved: " + v.moved());
                }
                List<MovedFrame> huge = v.moved().stream()
                        .filter(m -> m.idx() >= pool.phys.firstIdx(FrameKind.HUGE_2M)).toList();
                assertEquals(List.of(), huge, "hugetlb frames moved");
                for (MovedFrame m : v.moved()) {
                    assertTrue(m.currentPfn() != m.recordedPfn(), "a reported frame really moved: " + m);
                }
                System.out.printf("stability: compact_unevictable_allowed=%s: compaction twice, %d frames checked,"
                        + " %d moved (all 4 KiB)%n", setting, v.framesChecked(), v.moved().size());
            }
            for (long p : held) {
                pool.kfree(p);
            }
        } finally {
            Files.writeString(SYSCTL, before);
        }
    }
}
