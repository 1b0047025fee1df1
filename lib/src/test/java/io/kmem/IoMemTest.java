package io.kmem;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.bindings.Libc;
import io.kmem.error.BadAddressException;
import io.kmem.error.DoubleFreeException;
import io.kmem.error.PoolClosedException;
import io.kmem.internal.mmio.Ioremap;
import io.kmem.internal.sys.Sys;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The MMIO accessors over a memfd standing in for a device: values and byte order as the
 * "device" (plain reads and writes of the memfd) sees them, bounds and alignment errors,
 * iounmap misuse, the registry, and no allocation per access.
 */
class IoMemTest {
    private static final long MIB = 1L << 20;
    private static final int SIZE = 8192;

    private MemoryPool pool;
    private int fd;
    private Path dev;

    @BeforeEach
    void setUp() {
        pool = MemoryPool.builder().name("mmio").smallPages(4 * MIB).build();
        fd = Sys.memfdCreate("kmem-fake-bar", Libc.MFD_CLOEXEC());
        Sys.ftruncate(fd, SIZE);
        dev = Path.of("/proc/self/fd/" + fd);
    }

    @AfterEach
    void tearDown() {
        Sys.close(fd);
        pool.close();
    }

    private static String hex(byte[] b) {
        return HexFormat.ofDelimiter(" ").formatHex(b);
    }

    @Test
    void writesLandLittleEndianAndBigEndianWhereTheDeviceSeesThem() {
        IoMem io = pool.ioremapFile(dev, 0, SIZE);
        io.writel(0x11223344, 0x10);
        io.writew(0xa1b2, 0x20);
        io.writeb(0x1ff, 0x22);
        io.writeq(0x0102030405060708L, 0x28);
        io.iowrite32be(0x11223344, 0x30);
        io.iowrite16be(0xa1b2, 0x34);
        io.writel_relaxed(0xcafef00d, 0x38);
        io.iowrite32(0x55667788, 0x40);
        io.iowrite16(0x99aa, 0x44);
        io.iowrite8(0xbb, 0x46);
        assertEquals("44 33 22 11", hex(FakeHost.read(dev, 0x10, 4)), "writel is little-endian");
        assertEquals("b2 a1 ff", hex(FakeHost.read(dev, 0x20, 3)), "writew little-endian, writeb the low byte");
        assertEquals("08 07 06 05 04 03 02 01", hex(FakeHost.read(dev, 0x28, 8)), "writeq one little-endian quad");
        assertEquals("11 22 33 44 a1 b2", hex(FakeHost.read(dev, 0x30, 6)), "iowrite32be/16be are big-endian");
        assertEquals("0d f0 fe ca", hex(FakeHost.read(dev, 0x38, 4)));
        assertEquals("88 77 66 55 aa 99 bb", hex(FakeHost.read(dev, 0x40, 7)));
        pool.iounmap(io);
    }

    @Test
    void readsSeeWhatTheDeviceWroteInEveryWidthAndOrder() {
        FakeHost.write(dev, 0x100, new byte[] {(byte) 0xf1, (byte) 0xf2, (byte) 0xf3, (byte) 0xf4, 5, 6, 7, (byte) 0x88});
        IoMem io = pool.ioremapFile(dev, 0, SIZE);
        assertEquals(0xf1, io.readb(0x100), "readb is unsigned");
        assertEquals(0xf2f1, io.readw(0x100), "readw is unsigned, little-endian");
        assertEquals(0xf4f3f2f1, io.readl(0x100));
        assertEquals(0x88070605f4f3f2f1L, io.readq(0x100));
        assertEquals(0xf1f2f3f4, io.ioread32be(0x100));
        assertEquals(0xf1f2, io.ioread16be(0x100));
        assertEquals(0xf4f3f2f1, io.ioread32(0x100));
        assertEquals(0xf2f1, io.ioread16(0x100));
        assertEquals(0xf1, io.ioread8(0x100));
        assertEquals(0xf1, io.readb_relaxed(0x100));
        assertEquals(0xf2f1, io.readw_relaxed(0x100));
        assertEquals(0xf4f3f2f1, io.readl_relaxed(0x100));
        assertEquals(0x88070605f4f3f2f1L, io.readq_relaxed(0x100));
        FakeHost.write(dev, 0x100, new byte[] {0x2a, 0, 0, 0});
        assertEquals(42, io.readl(0x100), "a register read after the device changed it sees the change");
        pool.iounmap(io);
    }

    @Test
    void relaxedWritesAndBulkCopies() {
        IoMem io = pool.ioremapFile(dev, 0, SIZE);
        io.writeb_relaxed(0x7f, 0);
        io.writew_relaxed(0x1234, 2);
        io.writeq_relaxed(-1L, 8);
        assertEquals("7f 00 34 12", hex(FakeHost.read(dev, 0, 4)));
        assertEquals(-1L, io.readq(8));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment src = a.allocate(300);
            for (int i = 0; i < 300; i++) {
                src.set(ValueLayout.JAVA_BYTE, i, (byte) i);
            }
            io.memcpy_toio(0x1001, src, 300);
            byte[] seen = FakeHost.read(dev, 0x1001, 300);
            for (int i = 0; i < 300; i++) {
                assertEquals((byte) i, seen[i], "memcpy_toio byte " + i);
            }
            MemorySegment back = a.allocate(300);
            io.memcpy_fromio(back, 0x1001, 300);
            assertEquals(-1, src.mismatch(back), "memcpy_fromio returns what memcpy_toio wrote");
            io.memset_io(0x1200, 0x1a5, 16);
            assertArrayEquals(new byte[] {0, (byte) 0xa5}, FakeHost.read(dev, 0x11ff, 2));
            assertArrayEquals(new byte[] {(byte) 0xa5, 0}, FakeHost.read(dev, 0x120f, 2), "memset_io stops at its count");
            assertThrows(BadAddressException.class, () -> io.memcpy_fromio(back, SIZE - 100, 300));
            assertThrows(BadAddressException.class, () -> io.memset_io(-1, 0, 2));
        }
        pool.iounmap(io);
    }

    @Test
    void anUnalignedPhysicalAddressMapsItsPageAndHandsOutTheByte() {
        FakeHost.write(dev, 0x1234, new byte[] {1, 2, 3, 4});
        IoMem io = pool.ioremapFile(dev, 0x1230, 0x20);
        assertEquals(0x1230, io.phys());
        assertEquals(0x20, io.size());
        assertEquals(0x04030201, io.readl(4));
        Ioremap.Area a = pool.ioremap.areas().getFirst();
        assertEquals(0x230, a.addr() - a.start(), "the address keeps the offset in the page");
        assertEquals(4096, a.length());
        pool.iounmap(io.address());
        assertTrue(pool.ioremap.areas().isEmpty());
    }

    @Test
    void offsetsOutsideTheMappingOrMisalignedThrowNamingTheAccessor() {
        IoMem io = pool.ioremapFile(dev, 0, 4096);
        BadAddressException e = assertThrows(BadAddressException.class, () -> io.readl(4096));
        assertTrue(e.getMessage().startsWith("readl(0x1000, 4 bytes): outside the mapping; expected an offset from 0"
                + " to 4092"), e.getMessage());
        assertTrue(e.getMessage().contains("ioremapFile of 4096 bytes"), e.getMessage());
        assertThrows(BadAddressException.class, () -> io.readq(4090));
        assertThrows(BadAddressException.class, () -> io.writel(1, -4));
        assertThrows(BadAddressException.class, () -> io.writeb(1, 4096));
        assertThrows(BadAddressException.class, () -> io.readw(Long.MAX_VALUE));
        e = assertThrows(BadAddressException.class, () -> io.writel(1, 2));
        assertTrue(e.getMessage().contains("not 4-byte aligned"), e.getMessage());
        assertThrows(BadAddressException.class, () -> io.readq_relaxed(4));
        assertEquals(0, io.readl(4092), "the last register is in range");
        pool.iounmap(io);
    }

    @Test
    void iounmapTwiceOrOfAStrangerIsNamedAndAccessAfterwardsThrows() {
        IoMem io = pool.ioremapFile(dev, 0, 4096);
        long addr = io.address();
        BadAddressException inside = assertThrows(BadAddressException.class, () -> pool.iounmap(addr + 8));
        assertTrue(inside.getMessage().contains("inside the mapping at 0x" + Long.toHexString(addr)), inside.getMessage());
        BadAddressException stranger = assertThrows(BadAddressException.class, () -> pool.iounmap(0x1000L));
        assertTrue(stranger.getMessage().startsWith("iounmap(0x1000): not an address ioremap returned"),
                stranger.getMessage());
        pool.iounmap(io);
        assertTrue(io.unmapped());
        DoubleFreeException twice = assertThrows(DoubleFreeException.class, () -> pool.iounmap(io));
        assertTrue(twice.getMessage().startsWith("iounmap(0x" + Long.toHexString(addr) + "): already unmapped"),
                twice.getMessage());
        DoubleFreeException byAddress = assertThrows(DoubleFreeException.class, () -> pool.iounmap(addr));
        assertTrue(byAddress.getMessage().contains("already unmapped (ioremapFile of 4096 bytes"), byAddress.getMessage());
        BadAddressException after = assertThrows(BadAddressException.class, () -> io.readl(0));
        assertTrue(after.getMessage().contains("the mapping was unmapped by iounmap"), after.getMessage());
        assertThrows(BadAddressException.class, () -> io.writel(0, 0));
    }

    @Test
    void iounmapByAddressKillsTheHandleToo() {
        IoMem io = pool.ioremapFile(dev, 0, 4096);
        pool.iounmap(io.address());
        assertThrows(BadAddressException.class, () -> io.readl(0));
    }

    @Test
    void theRegistryAndVmallocinfoListLiveMappingsWithTheirCaller() {
        IoMem a = pool.ioremapFile(dev, 0, 4096);
        IoMem b = pool.ioremapFile(dev, 4096, 100);
        List<Ioremap.Area> areas = pool.ioremap.areas();
        assertEquals(2, areas.size());
        for (Ioremap.Area area : areas) {
            assertEquals("ioremapFile", area.function());
            assertEquals(Ioremap.Caching.WB, area.caching());
            assertTrue(area.caller().contains("IoMemTest.theRegistryAndVmallocinfoListLiveMappingsWithTheirCaller"),
                    area.caller());
        }
        // As the kernel's, a line shows phys= only when it is not 0: the stand-in's first mapping is at 0.
        String[] lines = pool.vmallocinfo().lines().toArray(String[]::new);
        assertEquals(2, lines.length, pool.vmallocinfo());
        assertTrue(pool.vmallocinfo().contains(" phys=0x0000000000001000 ioremap"), pool.vmallocinfo());
        for (String line : lines) {
            assertTrue(line.matches("0x[0-9a-f]{16}-0x[0-9a-f]{16}\\s+8192 \\S+( phys=0x0{12}1000)? ioremap"), line);
        }
        pool.iounmap(a);
        assertEquals(List.of(b.address()), pool.ioremap.areas().stream().map(Ioremap.Area::addr).toList());
        pool.iounmap(b);
    }

    @Test
    void closingThePoolUnmapsItsMappings() {
        IoMem io = pool.ioremapFile(dev, 0, 4096);
        long at = io.address();
        pool.close();
        PoolClosedException access = assertThrows(PoolClosedException.class, () -> io.writel(7, 0),
                "an access after close throws, never faults");
        assertTrue(access.getMessage().startsWith("writel(0x0): pool 'mmio' is closed"), access.getMessage());
        assertTrue(pool.ioremap.areas().isEmpty(), "close unmapped every mapping");
        PoolClosedException e = assertThrows(PoolClosedException.class, () -> pool.ioremapFile(dev, 0, 4096));
        assertTrue(e.getMessage().startsWith("ioremapFile: pool 'mmio' is closed"), e.getMessage());
        assertThrows(PoolClosedException.class, () -> pool.request_mem_region(0x1000, 16, "x"));
        assertThrows(PoolClosedException.class, () -> pool.iounmap(io));
        assertThrows(PoolClosedException.class, () -> pool.iounmap(at));
    }

    @Test
    void aRangePastTheEndOfTheStandInIsRefusedBeforeMapping() {
        BadAddressException e = assertThrows(BadAddressException.class, () -> pool.ioremapFile(dev, 4096, SIZE));
        assertTrue(e.getMessage().contains("lies past the end of"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> pool.ioremapFile(dev, 0, 0));
        assertTrue(pool.ioremap.areas().isEmpty());
    }

    /**
     * {@code com.sun.management.ThreadMXBean.getCurrentThreadAllocatedBytes} as {@code ()long}
     * (no boxing). Looked up by reflection: the tests compile inside module io.kmem, which does
     * not read java.management; they run on the class path, where it is there.
     */
    private static MethodHandle allocatedBytes() throws ReflectiveOperationException {
        Object bean = Class.forName("java.lang.management.ManagementFactory").getMethod("getThreadMXBean").invoke(null);
        Class<?> type = Class.forName("com.sun.management.ThreadMXBean");
        return MethodHandles.publicLookup().findVirtual(type, "getCurrentThreadAllocatedBytes",
                MethodType.methodType(long.class)).bindTo(bean);
    }

    @Test
    void accessorsAllocateNothing() throws Throwable {
        IoMem io = pool.ioremapFile(dev, 0, SIZE);
        MethodHandle allocated = allocatedBytes();
        long sum = 0;
        long least = Long.MAX_VALUE;
        // Until the loop is compiled, the interpreter and on-stack replacement may allocate; on
        // a busy machine that can take more than a few rounds. Once compiled, a round allocates
        // nothing, and an accessor that allocated would allocate in every round.
        for (int round = 0; round < 12 && least != 0; round++) {
            long before = (long) allocated.invokeExact();
            sum += accessLoop(io, 200_000);
            long bytes = (long) allocated.invokeExact() - before;
            if (round > 0) {
                least = Math.min(least, bytes);
            }
        }
        assertEquals(0, least, "bytes allocated by 200k accessor rounds, once compiled (the least of 11 rounds)");
        assertFalse(sum == 42);
        pool.iounmap(io);
    }

    private static long accessLoop(IoMem io, int n) {
        long sum = 0;
        for (int i = 0; i < n; i++) {
            long off = (i & 63) << 3;
            io.writel(i, off);
            sum += io.readl(off);
            io.writeq_relaxed(sum, off);
            sum += io.readq_relaxed(off) + io.readb(off) + io.readw(off) + io.ioread32be(off);
        }
        return sum;
    }

    /** ioremap takes its areas from the vmalloc window, as the kernel's does: guard page, find_vm_area, vmallocinfo. */
    @Test
    void mappingsLiveInTheVmallocWindowWithAGuardPage() {
        IoMem io = pool.ioremapFile(dev, 0, 8192);
        long at = io.address();
        assertTrue(pool.is_vmalloc_addr(at), "an ioremap address is a vmalloc address, as in the kernel");
        VmStruct vm = pool.find_vm_area(at);
        assertEquals(VmStruct.VM_IOREMAP, vm.flags());
        assertEquals(3 * 4096, vm.size(), "two pages and the guard page");
        assertEquals(0, vm.nrPages());
        assertEquals(-1, pool.pagemapPfn(at + 8192), "the guard page is not mapped");
        assertEquals(0, pool.vmalloc_to_page(at), "no frame of the pool behind a device mapping");
        assertTrue(pool.vmallocinfo().contains(" ioremap\n"), pool.vmallocinfo());
        BadAddressException e = assertThrows(BadAddressException.class, () -> pool.vfree(at));
        assertTrue(e.getMessage().contains("ioremap") && e.getMessage().contains("iounmap"), e.getMessage());
        pool.iounmap(io);
        assertEquals(null, pool.find_vm_area(at));
        assertEquals(List.of(), pool.checkVmalloc());
    }
}
