package io.kmem.internal.mmio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.FakeHost;
import io.kmem.MemoryPool;
import io.kmem.Resource;
import io.kmem.error.BadAddressException;
import io.kmem.error.DoubleFreeException;
import io.kmem.error.ResourceBusyException;
import io.kmem.stats.HostInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * request_mem_region / release_mem_region over the resource tree: nesting into the host's
 * resources, every kind of conflict with both ranges and owners named, release misuse, and
 * the /proc/iomem report, checked against the fake host and the real one.
 */
class ResourceTreeTest {

    private static ResourceTree seeded() {
        ResourceTree t = ResourceTree.iomem();
        t.seed(IomemFile.parse(Path.of("/fake/iomem"), IoremapTest.IOMEM.lines().toList()));
        return t;
    }

    @Test
    void aRequestNestsInTheDeviceThatHoldsItAndTheReportIndentsItLikeTheKernel() {
        ResourceTree t = seeded();
        assertEquals(IoremapTest.IOMEM, t.report(), "seeding then reporting gives the file back");
        ResourceTree.Region edu = t.request("request_mem_region", 0xfebd0000L, 0x1000, "edu", "me");
        assertEquals(new ResourceTree.Region(0xfebd0000L, 0xfebd0fffL, "edu",
                ResourceTree.IORESOURCE_MEM | ResourceTree.IORESOURCE_BUSY, "me"), edu);
        t.request("request_mem_region", 0xfe000000L, 0x100, "bridge-regs", "me");
        assertEquals("""
                00000000-00000fff : Reserved
                00001000-0009fbff : System RAM
                000a0000-000bffff : PCI Bus 0000:00
                00100000-07ffffff : System RAM
                  01000000-01ffffff : Kernel code
                fe000000-febfffff : PCI Bus 0000:00
                  fe000000-fe0000ff : bridge-regs
                  febd0000-febdffff : 0000:00:04.0
                    febd0000-febd0fff : edu
                  febf0000-febf0fff : 0000:00:03.0
                    febf0000-febf0fff : e1000
                """, t.report());
        assertEquals(2, t.requested().size());
    }

    @Test
    void conflictsNameBothRangesAndOwners() {
        ResourceTree t = seeded();
        t.request("request_mem_region", 0xfebd0000L, 0x1000, "edu", "EduDriver.probe(EduDriver.java:7)");
        ResourceBusyException mine = assertThrows(ResourceBusyException.class,
                () -> t.request("request_mem_region", 0xfebd0800L, 0x1000, "other", "Other.probe(Other.java:3)"));
        assertEquals("request_mem_region([mem 0xfebd0800-0xfebd17ff] 'other', by Other.probe(Other.java:3)): overlaps"
                + " [mem 0xfebd0000-0xfebd0fff] 'edu' (requested by EduDriver.probe(EduDriver.java:7))", mine.getMessage());
        assertEquals(0xfebd0000L, mine.conflictStart());
        assertEquals("edu", mine.conflictName());
        ResourceBusyException driver = assertThrows(ResourceBusyException.class,
                () -> t.request("request_mem_region", 0xfebf0000L, 0x100, "mine", "me"));
        assertEquals("request_mem_region([mem 0xfebf0000-0xfebf00ff] 'mine', by me): overlaps [mem 0xfebf0000-0xfebf0fff]"
                + " 'e1000' (from the host's /fake/iomem)", driver.getMessage());
        ResourceBusyException ram = assertThrows(ResourceBusyException.class,
                () -> t.request("request_mem_region", 0x2000, 0x1000, "ram", "me"));
        assertEquals("System RAM", ram.conflictName());
        ResourceBusyException straddle = assertThrows(ResourceBusyException.class,
                () -> t.request("request_mem_region", 0xfebdf000L, 0x2000, "wide", "me"));
        assertTrue(straddle.getMessage().contains("straddles the edge of [mem 0xfebd0000-0xfebdffff] '0000:00:04.0'"),
                straddle.getMessage());
        assertEquals(1, t.requested().size(), "no refused request left a trace");
        assertThrows(IllegalArgumentException.class, () -> t.request("request_mem_region", 0x1000, 0, "x", "me"));
        assertThrows(IllegalArgumentException.class, () -> t.request("request_mem_region", -16, 32, "x", "me"));
    }

    @Test
    void releaseNeedsTheExactRegionAndNeverTouchesTheHosts() {
        ResourceTree t = seeded();
        t.request("request_mem_region", 0xfebd0000L, 0x1000, "edu", "me");
        BadAddressException wrongLength = assertThrows(BadAddressException.class,
                () -> t.release("release_mem_region", 0xfebd0000L, 0x800));
        assertTrue(wrongLength.getMessage().startsWith("release_mem_region: Trying to free nonexistent resource"
                + " <0xfebd0000-0xfebd07ff>"), wrongLength.getMessage());
        BadAddressException host = assertThrows(BadAddressException.class,
                () -> t.release("release_mem_region", 0xfebf0000L, 0x1000));
        assertTrue(host.getMessage().contains("'e1000' belongs to the host"), host.getMessage());
        assertEquals("edu", t.release("release_mem_region", 0xfebd0000L, 0x1000).name());
        DoubleFreeException twice = assertThrows(DoubleFreeException.class,
                () -> t.release("release_mem_region", 0xfebd0000L, 0x1000), "released twice");
        assertTrue(twice.getMessage().contains("released twice"), twice.getMessage());
        assertEquals(IoremapTest.IOMEM, t.report());
        t.request("request_mem_region", 0xfebd0000L, 0x1000, "edu-again", "me");
    }

    @Test
    void ioportsHaveTheirOwnTreeAndFourDigitWidth() {
        ResourceTree t = ResourceTree.ioports();
        t.seed(IomemFile.parse(Path.of("/fake/ioports"), """
                0000-0cf7 : PCI Bus 0000:00
                  03f8-03ff : serial
                0cf8-0cff : PCI conf1
                """.lines().toList()));
        t.request("request_region", 0x0300, 8, "mydev", "me");
        ResourceBusyException e = assertThrows(ResourceBusyException.class,
                () -> t.request("request_region", 0x3fc, 2, "uart", "me"));
        assertTrue(e.getMessage().startsWith("request_region([io  0x03fc-0x03fd] 'uart', by me): overlaps"
                + " [io  0x03f8-0x03ff] 'serial'"), e.getMessage());
        assertEquals("""
                0000-0cf7 : PCI Bus 0000:00
                  0300-0307 : mydev
                  03f8-03ff : serial
                0cf8-0cff : PCI conf1
                """, t.report());
        assertThrows(IllegalArgumentException.class, () -> t.request("request_region", 0xfffe, 4, "x", "me"),
                "ports end at 0xffff");
    }

    @Test
    void theRealHostsTreesReportExactlyAsProcDoes() throws IOException {
        assertTrue(HostInfo.read().capSysAdmin(), "this test reads the real /proc/iomem as root; run the suite as root");
        for (String name : new String[] {"iomem", "ioports"}) {
            Path file = Path.of("/proc", name);
            ResourceTree t = name.equals("iomem") ? ResourceTree.iomem() : ResourceTree.ioports();
            IomemFile f = IomemFile.read(file);
            t.seed(f);
            assertEquals(Files.readString(file), t.report(), "the seeded tree reports " + file + " byte for byte");
        }
        ResourceTree t = ResourceTree.iomem();
        t.seed(IomemFile.read(Path.of("/proc/iomem")));
        IomemFile.Entry ram = IomemFile.read(Path.of("/proc/iomem")).systemRam(0, -1L);
        ResourceBusyException e = assertThrows(ResourceBusyException.class,
                () -> t.request("request_mem_region", ram.start(), 4096, "grab-ram", "me"));
        assertEquals("System RAM", e.conflictName(), e.getMessage());
    }

    @Test
    void thePoolsRequestsCarryTheCallerAndShowInItsIomem() {
        try (FakeHost host = new FakeHost().iomem(IoremapTest.IOMEM);
             MemoryPool pool = MemoryPool.builder().name("res").smallPages(4L << 20).build()) {
            pool.ioRoots(host.roots());
            Resource r = pool.request_mem_region(0xfebd0000L, 0x100, "edu");
            assertEquals(0xfebd00ffL, r.end());
            assertEquals(0x100, r.size());
            assertTrue(r.owner().contains("ResourceTreeTest.thePoolsRequestsCarryTheCallerAndShowInItsIomem"),
                    r.owner());
            assertTrue(pool.iomem().contains("  febd0000-febdffff : 0000:00:04.0\n    febd0000-febd00ff : edu\n"),
                    pool.iomem());
            ResourceBusyException e = assertThrows(ResourceBusyException.class,
                    () -> pool.request_mem_region(0xfebd0080L, 0x10, "again"));
            assertTrue(e.getMessage().contains("(requested by " + r.owner() + ")"), e.getMessage());
            pool.release_mem_region(0xfebd0000L, 0x100);
            assertThrows(DoubleFreeException.class, () -> pool.release_mem_region(0xfebd0000L, 0x100));
            Resource port = pool.request_region(0x300, 8, "ports");
            assertEquals(0x307, port.end());
            assertEquals("0300-0307 : ports\n", pool.ioports(), "no /proc/ioports in the fake tree: only ours");
            pool.release_region(0x300, 8);
        }
    }
}
