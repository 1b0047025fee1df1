package io.kmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.error.BadAddressException;
import io.kmem.error.PoolClosedException;
import io.kmem.error.PrivilegeException;
import java.io.File;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

class MemoryPoolTest {
    private static final long MIB = 1L << 20;

    /**
     * kfree finds slabs through the table the run asks for ({@code -Dkmem.slab_table}: the
     * second pass of make test forces the two-level one), and either table finds the slab of
     * an object, refuses an inner pointer and a double free, and forgets a slab given back.
     */
    @Test
    void theRunsSlabTableOptionIsTheOneKfreeUses() {
        String option = System.getProperty("kmem.slab_table", "auto");
        try (MemoryPool pool = MemoryPool.builder().name("table").smallPages(16 * MIB).slubDebug(null).build()) {
            long frames = pool.phys.limitPfn() - pool.phys.basePfn();
            boolean flat = option.equals("auto") && frames <= io.kmem.internal.slub.SlabAllocator.FLAT_TABLE_MAX_FRAMES;
            assertEquals(flat, pool.slab.flatFrameTable(), "-Dkmem.slab_table=" + option + ", direct map of " + frames
                    + " frames");
            assertEquals(flat, pool.slabTableBytes() == 16 + 4 * frames, "a flat table holds a reference per frame of"
                    + " the direct map: " + pool.slabTableBytes() + " bytes for " + frames + " frames");
            long[] objs = new long[600];
            for (int i = 0; i < objs.length; i++) {
                objs[i] = pool.kmalloc(1024, io.kmem.gfp.Gfp.GFP_KERNEL);
            }
            assertThrows(BadAddressException.class, () -> pool.kfree(objs[3] + 8));
            assertTrue(flat || pool.slabTableBytes() < 16 + 4 * frames, "the two-level table costs only the sections"
                    + " that hold slabs: " + pool.slabTableBytes() + " bytes");
            for (long p : objs) {
                pool.kfree(p);
            }
            assertThrows(io.kmem.error.DoubleFreeException.class, () -> pool.kfree(objs[7]));
            assertTrue(pool.shrinkSlabs() > 0, "empty kmalloc-1k slabs go back to the buddy");
            for (long p : new long[] {objs[0], objs[599]}) {
                var e = assertThrows(io.kmem.error.KmemException.class, () -> pool.kfree(p));
                assertTrue(e.getMessage().startsWith("kfree(0x" + Long.toHexString(p) + ")") && !e.getMessage().contains(
                        "cache kmalloc-1k"), "a slab given back is no longer found: " + e.getMessage());
            }
        }
    }

    /**
     * A bring-up that fails after the frames came in (here at the slab allocator, which
     * rejects the slub_debug option) gives them back: the pool's memfd and its io_uring ring
     * are closed, so no frame stays pinned. A ring left open would pin its frames until the
     * process exits, and list addresses that later pools reuse.
     */
    @Test
    void aBringUpThatFailsLeavesNoRingAndNoMemfdBehind() throws IOException {
        List<String> before = descriptors("stillborn");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> MemoryPool.builder().name("stillborn").smallPages(16 * MIB).slubDebug("FQ").build());
        assertTrue(e.getMessage().startsWith("kmem.slub_debug=FQ: unknown flag 'Q'"), e.getMessage());
        List<String> left = descriptors("stillborn");
        left.removeAll(before);
        assertEquals(List.of(), left, "descriptors the failed bring-up left open");
    }

    /** The io_uring rings and the memfds of pool {@code pool} this process has open. */
    private static List<String> descriptors(String pool) throws IOException {
        List<String> out = new ArrayList<>();
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : fds.toList()) {
                String target;
                try {
                    target = Files.readSymbolicLink(fd).toString();
                } catch (IOException gone) {
                    continue;
                }
                if (target.equals("anon_inode:[io_uring]") || target.startsWith("/memfd:kmem:" + pool + ":")) {
                    out.add(target + " (fd " + fd.getFileName() + ")");
                }
            }
        }
        return out;
    }

    @Test
    void pageHandlesTranslateBothWaysAndAgreeWithPagemap() {
        try (MemoryPool pool = MemoryPool.builder().name("t").smallPages(4 * MIB).build()) {
            assertEquals(1024, pool.frames());
            for (long pfn : pool.pfns()) {
                long page = pool.pfn_to_page(pfn);
                assertEquals(pfn, pool.page_to_pfn(page));
                long va = pool.page_address(page);
                assertEquals(page, pool.virt_to_page(va + 4095));
                assertEquals(pfn, pool.virt_to_pfn(va));
                assertEquals(pfn << 12, pool.page_to_phys(page));
                assertEquals(pfn << 12 | 5, pool.virt_to_phys(va + 5));
                assertEquals(va + 5, pool.phys_to_virt(pfn << 12 | 5));
                assertEquals(pfn, pool.pagemapPfn(va), "pagemap agrees for pfn 0x" + Long.toHexString(pfn));
            }
        }
    }

    @Test
    void segmentsReadAndWriteTheFramesAndDieWithThePool() {
        MemoryPool pool = MemoryPool.builder().name("t").smallPages(4 * MIB).build();
        long va = pool.page_address(pool.pfn_to_page(pool.pfns()[0]));
        MemorySegment seg = pool.segment(va, 4096);
        seg.set(ValueLayout.JAVA_INT, 100, 0x12345678);
        assertEquals(0x12345678, pool.segment(va + 100, 4).get(ValueLayout.JAVA_INT, 0));
        pool.close();
        assertThrows(IllegalStateException.class, () -> seg.get(ValueLayout.JAVA_INT, 100),
                "a segment of a closed pool throws instead of touching unmapped memory");
        PoolClosedException e = assertThrows(PoolClosedException.class, () -> pool.page_to_pfn(MemoryPool.PAGE_TAG));
        assertTrue(e.getMessage().startsWith("page_to_pfn: pool 't' is closed"), e.getMessage());
    }

    @Test
    void badInputGetsSpecificErrors() {
        try (MemoryPool pool = MemoryPool.builder().name("t").smallPages(4 * MIB).build()) {
            long pfn = pool.pfns()[0];
            long va = pool.page_address(pool.pfn_to_page(pfn));
            BadAddressException e = assertThrows(BadAddressException.class, () -> pool.page_to_pfn(pfn));
            assertTrue(e.getMessage().contains("is not a page handle") && e.getMessage().contains("not an address or a PFN"),
                    e.getMessage());
            assertThrows(BadAddressException.class, () -> pool.page_address(va));
            e = assertThrows(BadAddressException.class, () -> pool.pfn_to_page(pfn + (1L << 30)));
            assertTrue(e.getMessage().startsWith("pfn_to_page: pfn 0x"), e.getMessage());
            e = assertThrows(BadAddressException.class, () -> pool.virt_to_page(12345));
            assertTrue(e.getMessage().startsWith("virt_to_page: address 0x3039 is not in the direct map"), e.getMessage());
            assertThrows(BadAddressException.class, () -> pool.segment(va, 1L << 40));
            assertThrows(IllegalArgumentException.class, () -> MemoryPool.builder().smallPages(1000));
            assertThrows(IllegalArgumentException.class, () -> MemoryPool.builder().hugePages2m(4096));
            assertThrows(IllegalArgumentException.class, () -> MemoryPool.builder().dmaMask(0));
            assertEquals(pfn, pool.virt_to_pfn(va), "the pool still works after every refusal");
        }
    }

    @Test
    void unprivilegedPoolWorksWithoutPhysicalAddresses() {
        try (MemoryPool pool = MemoryPool.builder().name("laptop").smallPages(4 * MIB).unprivileged().build()) {
            long page = pool.pfn_to_page(pool.pfns()[7]);
            long va = pool.page_address(page);
            pool.segment(va, 4096).fill((byte) 1);
            PrivilegeException e = assertThrows(PrivilegeException.class, () -> pool.virt_to_phys(va));
            assertTrue(e.getMessage().contains("unprivileged"), e.getMessage());
            assertThrows(PrivilegeException.class, () -> pool.phys_to_virt(0x1000));
            assertTrue(pool.meminfo().contains("unprivileged (frame index as PFN)"));
        }
    }

    @Test
    void meminfoSaysWhereEveryFigureCameFrom() {
        try (MemoryPool pool = MemoryPool.builder().name("t").smallPages(8 * MIB).build()) {
            String info = pool.meminfo();
            assertTrue(info.contains("MemTotal:"));
            assertTrue(info.contains("8192 kB"), info);
            assertTrue(info.contains("/proc/zoneinfo") && info.contains("pagemap") && info.contains("mincore"), info);
            assertTrue(info.contains("compact_unevictable_allowed"), info);
            for (String line : info.split("\n")) {
                if (line.matches("^[A-Za-z0-9]+:.*") && !line.startsWith("Hugepages2M")) {
                    int i = info.indexOf(line) + line.length() + 1;
                    assertTrue(info.startsWith("  #", i), "figure has its source on the next line: " + line);
                }
            }
        }
    }

    private static String javaBinary() {
        return System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
    }
}
