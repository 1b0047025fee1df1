package io.kmem.tool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.tool.MainTest.Result;
import io.kmem.stats.HostInfo;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Collectors;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * {@code kmem tour} (what {@code make run} runs) as a test: it exits 0, every section is there,
 * nothing disagrees, and the ioremap and DMA sections show what they promise.
 */
class TourTest {
    private static final List<String> SECTIONS = List.of("-- The direct map", "-- The page allocator (buddy)",
            "-- The slab allocator", "-- vmalloc:", "-- ioremap and MMIO", "-- The DMA API", "verify: ");

    @Test
    void theTourPassesWithIoremapAndDmaOnPhysicalAddresses() {
        Result r = MainTest.run("tour", "--mib", "32", "--huge-mib", "0");
        assertEquals(0, r.status(), r.toString());
        assertSections(r);
        // ioremap of the stand-in: listed by vmallocinfo as ioremap, accessors seen by the "device".
        assertTrue(r.out().lines().anyMatch(l -> l.matches("    0x[0-9a-f]{16}-0x[0-9a-f]{16} +69632 .* ioremap")),
                "the stand-in's vmallocinfo line: " + r);
        assertTrue(r.out().contains("the device's bytes at 0x10 are 78 56 34 12 (little-endian); readl gives"
                + " 0x12345678"), r.toString());
        assertTrue(r.out().contains("a second, overlapping request: ResourceBusyException:"), r.toString());
        assertTrue(r.out().contains("\npinning: long-term pin ("), r.toString());
        assertTrue(r.out().lines().anyMatch(l -> l.matches("  [0-9a-f]+-[0-9a-f]+ : kmem-tour")),
                "the request in the iomem excerpt: " + r);
        // DMA: a 32-bit mask refuses a buffer above 4 GiB (every frame on hosts that give user
        // memory above it) and takes one below; a 64-bit mask takes it.
        Matcher buf = Pattern.compile("kmalloc\\(1500\\) at 0x[0-9a-f]+, phys 0x([0-9a-f]+) \\((above|below) 4 GiB\\)")
                .matcher(r.out());
        assertTrue(buf.find(), r.toString());
        boolean refused = r.out().contains("    DMA_MAPPING_ERROR: refused, never handed to the device");
        assertEquals(buf.group(2).equals("above"), refused, r.toString());
        assertTrue(r.out().contains("dma_set_mask_and_coherent(dev, DMA_BIT_MASK(64)) = 0; dma_map_single = 0x"
                + buf.group(1) + ", its physical address"), r.toString());
        assertTrue(r.out().contains("dma_alloc_coherent(dev, 8192, GFP_KERNEL) = cpu 0x"), r.toString());
        assertTrue(r.out().contains("zeroed, 2 contiguous frames by pagemap"), r.toString());
        assertTrue(r.out().contains("three dma_pool_alloc blocks, aligned to 64, from one coherent page: cpu 0x"),
                r.toString());
    }

    @Test
    void unprivilegedTheTourSaysDmaNeedsPhysicalAddresses() {
        Result r = MainTest.run("tour", "--unprivileged", "--mib", "16", "--huge-mib", "0");
        assertEquals(0, r.status(), r.toString());
        assertSections(r);
        assertTrue(r.out().contains("the device's bytes at 0x10 are 78 56 34 12"), r.toString());
        assertTrue(r.out().contains("skipped: DMA needs physical addresses, and this pool has none (--unprivileged);"),
                r.toString());
        assertTrue(r.out().contains("has no physical addresses (built unprivileged)"), r.toString());
        assertTrue(r.out().contains("\npinning: mlock only (0 kB pinned long-term): an unprivileged pool has no"
                + " physical addresses to keep in place"), r.toString());
    }

    /**
     * A real user without root: the tour as {@code nobody}, with the 8 MiB RLIMIT_MEMLOCK a
     * Debian user gets by default. The default pool shrinks to fit it (4 MiB) and takes no
     * hugepages; every section runs and agrees. Switching users needs root.
     */
    @Test
    void theUnprivilegedTourRunsAsARealUserUnderAnEightMibMemlockLimit() throws Exception {
        assertTrue(HostInfo.read().capSysAdmin(), "this test runs the tour as the user nobody, which needs root;"
                + " run the suite as root");
        String java = ProcessHandle.current().info().command().orElseThrow();
        // the tool's classes and the library's (target/classes, or its jar), not ~/.m2's test libraries
        String classes = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                .filter(e -> !e.contains("/.m2/")).map(e -> Path.of(e).toAbsolutePath().toString())
                .collect(Collectors.joining(File.pathSeparator));
        Process p = new ProcessBuilder("sh", "-c", "ulimit -l 8192 && exec setpriv --reuid=nobody --regid=nogroup"
                + " --clear-groups \"$0\" --enable-native-access=ALL-UNNAMED -cp \"$1\" io.kmem.tool.Main tour"
                + " --unprivileged", java, classes)
                .directory(new File(System.getProperty("java.io.tmpdir"))).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        Result r = new Result(p.waitFor(), out, "");
        assertEquals(0, r.status(), "kmem tour --unprivileged as nobody, ulimit -l 8192 (" + classes
                + " must be readable by nobody): " + r);
        assertTrue(out.contains("pool 'default': 1024 frames (4 MiB)"), "half of the 8 MiB memlock limit: " + r);
        assertSections(r);
        assertTrue(out.contains("skipped: DMA needs physical addresses, and this pool has none (--unprivileged);"),
                r.toString());
    }

    private static void assertSections(Result r) {
        int at = -1;
        for (String s : SECTIONS) {
            int i = r.out().indexOf(s);
            assertTrue(i > at, "'" + s + "' follows the sections before it: " + r);
            at = i;
        }
        assertFalse(r.out().contains("MISMATCH"), r.toString());
    }
}
