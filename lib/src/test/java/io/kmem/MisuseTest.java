package io.kmem;

import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.error.BadAddressException;
import io.kmem.error.DoubleFreeException;
import io.kmem.error.KmemException;
import io.kmem.error.PoolClosedException;
import io.kmem.error.ResourceBusyException;
import java.lang.foreign.Arena;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The misuse table of the README, one test per row: each misuse gets its specific error (or,
 * where the kernel returns NULL, NULL and a count), the message names the function, the
 * address and what was expected, and afterwards every allocator of the pool still works and
 * is consistent ({@link #assertStillWorks}).
 */
class MisuseTest {
    private MemoryPool pool;

    @BeforeEach
    void open() {
        pool = MemoryPool.builder().name("misuse").smallPages(16L << 20).build();
    }

    @AfterEach
    void close() {
        pool.close();
    }

    /** Every allocator hands out, frees and checks clean after the misuse. */
    private void assertStillWorks() {
        long k = pool.kmalloc(100, GFP_KERNEL);
        long p = pool.__get_free_pages(GFP_KERNEL, 3);
        long v = pool.vmalloc(3 * 4096);
        assertTrue(k != 0 && p != 0 && v != 0, "kmalloc, __get_free_pages and vmalloc still serve");
        pool.segment(k, 100).fill((byte) 1);
        pool.segment(p, 8 * 4096).fill((byte) 2);
        pool.segment(v, 3 * 4096).fill((byte) 3);
        pool.kfree(k);
        pool.free_pages(p, 3);
        pool.vfree(v);
        assertEquals(List.of(), pool.checkPageAllocator());
        assertEquals(List.of(), pool.validateSlabs());
        assertEquals(List.of(), pool.checkVmalloc());
    }

    /** The misuse throws {@code type}, its message contains every piece; prints the row for the README. */
    private <T extends Throwable> void assertMisuse(String row, Class<T> type, Runnable misuse, String... pieces) {
        T e = assertThrows(type, misuse::run, row);
        for (String piece : pieces) {
            assertTrue(e.getMessage().contains(piece), row + ": message lacks '" + piece + "': " + e.getMessage());
        }
        System.out.println("misuse | " + row + " | " + type.getSimpleName() + ": " + e.getMessage());
        pool.takeSlabReports();
        assertStillWorks();
    }

    private void assertNull(String row, Supplier<Long> call, Supplier<Long> failures, long before) {
        assertEquals(0, call.get(), row + " returns NULL");
        assertEquals(before + 1, failures.get(), row + " is counted as a failure");
        System.out.println("misuse | " + row + " | NULL (0), counted, warning logged");
        assertStillWorks();
    }

    @Test
    void doubleFree() {
        long k = pool.kmalloc(64, GFP_KERNEL);
        pool.kfree(k);
        assertMisuse("kfree twice", DoubleFreeException.class, () -> pool.kfree(k), "kfree(0x" + Long.toHexString(k),
                "kmalloc-64");
        long p = pool.__get_free_page(GFP_KERNEL);
        pool.free_page(p);
        assertMisuse("free_page twice", DoubleFreeException.class, () -> pool.free_page(p), "double free");
        long v = pool.vmalloc(4096);
        pool.vfree(v);
        assertMisuse("vfree twice", DoubleFreeException.class, () -> pool.vfree(v), "vfree(0x" + Long.toHexString(v),
                "already freed");
    }

    @Test
    void freeOfAForeignPointer() {
        try (Arena arena = Arena.ofConfined()) {
            long foreign = arena.allocate(64).address();
            assertMisuse("kfree of memory kmem did not allocate", BadAddressException.class, () -> pool.kfree(foreign),
                    "0x" + Long.toHexString(foreign), "not an address kmalloc returned");
            assertMisuse("free_pages of memory kmem did not allocate", BadAddressException.class,
                    () -> pool.free_pages(foreign & -4096L, 0), "outside its direct map");
            assertMisuse("vfree of memory kmem did not allocate", BadAddressException.class,
                    () -> pool.vfree(foreign), "not a vmalloc address");
        }
    }

    @Test
    void freeWithTheWrongOrder() {
        long p = pool.__get_free_pages(GFP_KERNEL, 2);
        assertMisuse("free_pages with the wrong order", BadAddressException.class, () -> pool.free_pages(p, 1),
                "wrong order", "allocated with order 2");
        pool.free_pages(p, 2);
    }

    @Test
    void kfreeOfAVmallocAddress() {
        long v = pool.vmalloc(2 * 4096);
        assertMisuse("kfree of a vmalloc address", BadAddressException.class, () -> pool.kfree(v), "vmalloc area",
                "vfree");
        pool.vfree(v);
    }

    @Test
    void vfreeOfAKmallocAddress() {
        long k = pool.kmalloc(256, GFP_KERNEL);
        assertMisuse("vfree of a kmalloc address", BadAddressException.class, () -> pool.vfree(k),
                "not a vmalloc address", "kfree");
        pool.kfree(k);
    }

    @Test
    void kcallocOverflow() {
        assertEquals(0, pool.kcalloc(1L << 62, 8, GFP_KERNEL), "kcalloc whose product overflows");
        assertEquals(0, pool.kmalloc_array(1L << 62, 8, GFP_KERNEL), "kmalloc_array whose product overflows");
        assertEquals(0, pool.vcalloc(1L << 62, 8), "vcalloc whose product overflows");
        System.out.println("misuse | kcalloc / kmalloc_array / vcalloc whose n * size overflows | NULL (0)");
        assertStillWorks();
    }

    @Test
    void orderAboveMaxOrder() {
        long before = pool.pageStats().failures();
        assertNull("__get_free_pages(GFP_KERNEL, 11)", () -> pool.__get_free_pages(GFP_KERNEL, 11),
                () -> pool.pageStats().failures(), before);
        assertThrows(IllegalArgumentException.class, () -> pool.__get_free_pages(GFP_KERNEL, -1), "negative order");
    }

    @Test
    void sizeAboveTheMaximum() {
        long before = pool.vmallocStats().failures();
        assertNull("vmalloc of more than the pool can hold", () -> pool.vmalloc(1L << 40),
                () -> pool.vmallocStats().failures(), before);
        assertEquals(0, pool.kmalloc(MemoryPool.KMALLOC_MAX_SIZE + 1, GFP_KERNEL), "kmalloc above KMALLOC_MAX_SIZE");
        System.out.println("misuse | kmalloc above KMALLOC_MAX_SIZE (4 MiB) | NULL (0), warning logged");
        assertStillWorks();
    }

    @Test
    void useOfAClosedPool() {
        long k = pool.kmalloc(64, GFP_KERNEL);
        pool.close();
        for (Runnable r : new Runnable[] {() -> pool.kmalloc(64, GFP_KERNEL), () -> pool.kfree(k),
                () -> pool.__get_free_page(GFP_KERNEL), () -> pool.vmalloc(4096)}) {
            KmemException e = assertThrows(PoolClosedException.class, r::run);
            assertTrue(e.getMessage().contains("'misuse'") && e.getMessage().contains("closed"), e.getMessage());
        }
        System.out.println("misuse | any call on a closed pool | PoolClosedException: "
                + assertThrows(PoolClosedException.class, () -> pool.kmalloc(64, GFP_KERNEL)).getMessage());
        pool = MemoryPool.builder().name("misuse").smallPages(16L << 20).build();
        assertStillWorks();
        assertNotEquals(0, pool.kmalloc(64, GFP_KERNEL), "a new pool serves");
    }

    @Test
    void ioremapOfRam() {
        long ram = pool.virt_to_phys(pool.__get_free_page(GFP_KERNEL));
        assertMisuse("ioremap of RAM (a frame of the pool)", BadAddressException.class, () -> pool.ioremap(ram, 4096),
                "System RAM", "ioremap");
    }

    @Test
    void overlappingRequestMemRegion() {
        long base = 0x7fff_0000_0000L;
        Resource r = pool.request_mem_region(base, 0x1000, "misuse-a");
        assertMisuse("request_mem_region overlapping a busy region", ResourceBusyException.class,
                () -> pool.request_mem_region(base + 0x800, 0x1000, "misuse-b"), "misuse-a", "misuse-b");
        pool.release_mem_region(base, 0x1000);
        assertNotEquals(null, pool.request_mem_region(base + 0x800, 0x1000, "misuse-b"), "free again after release");
        pool.release_mem_region(base + 0x800, 0x1000);
        assertEquals("misuse-a", r.name());
    }

    @Test
    void iounmapTwice() throws Exception {
        java.nio.file.Path dev = java.nio.file.Files.createTempFile("kmem-misuse", ".dev");
        try {
            java.nio.file.Files.write(dev, new byte[8192]);
            IoMem io = pool.ioremapFile(dev, 0, 4096);
            long at = io.address();
            pool.iounmap(io);
            assertMisuse("iounmap twice", DoubleFreeException.class, () -> pool.iounmap(at), "0x" + Long.toHexString(at));
            assertThrows(BadAddressException.class, () -> io.readl(0), "an access through the handle after iounmap");
        } finally {
            java.nio.file.Files.deleteIfExists(dev);
        }
    }
}
