package io.kmem;

import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.error.BadAddressException;
import io.kmem.error.KmemException;
import io.kmem.error.SyscallException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Every argument checked at the door, in the caller's words (the rule in {@link MemoryPool}'s
 * class comment), one test per class of defect, each a table over every entry point of the
 * class: the exception type, a message that starts with the function the caller called and
 * holds the value passed, and afterwards a pool that still serves and accounts for every
 * frame ({@link #assertStillWorks}).
 */
class ArgumentCheckTest {
    /** A GFP bit kmem does not know. */
    private static final int BAD = 0x8000_0000;

    private MemoryPool pool;
    private Device dev;
    private KmemCache cache;
    private DmaPool dmaPool;

    @BeforeEach
    void open() {
        pool = MemoryPool.builder().name("args").smallPages(16L << 20).build();
        dev = new Device("args-dev");
        cache = pool.kmem_cache_create("args_cache", 100, 0, 0, null);
        dmaPool = pool.dma_pool_create("args_dma", dev, 64, 8, 0);
    }

    @AfterEach
    void close() {
        pool.close();
    }

    /** kmalloc, the page allocator and vmalloc serve; every allocator's check is clean; no frame leaked. */
    private void assertStillWorks(String row) {
        long k = pool.kmalloc(100, GFP_KERNEL);
        long p = pool.__get_free_pages(GFP_KERNEL, 2);
        long v = pool.vmalloc(3 * 4096);
        long c = pool.kmem_cache_alloc(cache, GFP_KERNEL);
        assertTrue(k != 0 && p != 0 && v != 0 && c != 0, row + ": the allocators still serve");
        pool.kfree(k);
        pool.free_pages(p, 2);
        pool.vfree(v);
        pool.kmem_cache_free(cache, c);
        assertEquals(List.of(), pool.checkPageAllocator(), row);
        assertEquals(List.of(), pool.validateSlabs(), row);
        assertEquals(List.of(), pool.checkVmalloc(), row);
        assertEquals(List.of(), pool.takeSlabReports(), row);
        FrameAccounting a = FrameAccounting.of(pool);
        assertEquals(0, a.unaccounted(), row + ": " + a);
    }

    private <T extends Throwable> T assertRefused(String function, Class<T> type, Runnable call, String... pieces) {
        T e = assertThrows(type, call::run, function);
        String m = e.getMessage();
        assertTrue(m != null && m.startsWith(function), function + ": the message names the function called: " + m);
        for (String piece : pieces) {
            assertTrue(m.contains(piece), function + ": the message lacks '" + piece + "': " + m);
        }
        pool.takeSlabReports();
        return e;
    }

    @Test
    void unknownGfpBitsAreRefusedByEveryGfpTakingCall() {
        long obj = pool.kmalloc(64, GFP_KERNEL);
        long src = pool.kmalloc(32, GFP_KERNEL);
        int g = GFP_KERNEL | BAD;
        Map<String, Runnable> calls = new LinkedHashMap<>();
        calls.put("alloc_pages", () -> pool.alloc_pages(g, 0));
        calls.put("alloc_page", () -> pool.alloc_page(g));
        calls.put("__get_free_pages", () -> pool.__get_free_pages(g, 1));
        calls.put("__get_free_page", () -> pool.__get_free_page(g));
        calls.put("get_zeroed_page", () -> pool.get_zeroed_page(g));
        calls.put("__get_dma_pages", () -> pool.__get_dma_pages(g, 0));
        calls.put("alloc_pages_exact", () -> pool.alloc_pages_exact(3 * 4096, g));
        calls.put("kmalloc", () -> pool.kmalloc(64, g));
        calls.put("kzalloc", () -> pool.kzalloc(5000, g));
        calls.put("kmalloc_array", () -> pool.kmalloc_array(4, 16, g));
        calls.put("kcalloc", () -> pool.kcalloc(1L << 62, 8, g));
        calls.put("krealloc", () -> pool.krealloc(obj, 32, g));
        calls.put("kmemdup", () -> pool.kmemdup(src, 32, g));
        calls.put("kvmalloc", () -> pool.kvmalloc(1 << 20, g));
        calls.put("kvzalloc", () -> pool.kvzalloc(64, g));
        calls.put("__vmalloc", () -> pool.__vmalloc(8192, BAD));
        calls.put("kmem_cache_alloc", () -> pool.kmem_cache_alloc(cache, g));
        calls.put("kmem_cache_zalloc", () -> pool.kmem_cache_zalloc(cache, g));
        calls.put("kmem_cache_alloc_bulk", () -> pool.kmem_cache_alloc_bulk(cache, g, 2, new long[2]));
        calls.put("dma_alloc_coherent", () -> pool.dma_alloc_coherent(dev, 4096, g));
        calls.put("dma_pool_alloc", () -> pool.dma_pool_alloc(dmaPool, g, new long[1]));
        calls.put("dma_pool_zalloc", () -> pool.dma_pool_zalloc(dmaPool, g, new long[1]));
        for (var c : calls.entrySet()) {
            assertRefused(c.getKey(), IllegalArgumentException.class, c.getValue(), "unknown GFP bits 0x80000000");
        }
        assertEquals(64, pool.ksize(obj), "krealloc with bad flags left the object as it was");
        pool.kfree(obj);
        pool.kfree(src);
        assertStillWorks("gfp");
    }

    @Test
    void negativeSizesThrowAndTooLargeSizesAreNull() {
        long obj = pool.kmalloc(64, GFP_KERNEL);
        pool.segment(obj, 64).fill((byte) 7);
        Map<String, Runnable> negative = new LinkedHashMap<>();
        negative.put("kmalloc", () -> pool.kmalloc(-1, GFP_KERNEL));
        negative.put("kzalloc", () -> pool.kzalloc(-1, GFP_KERNEL));
        negative.put("kmalloc_array", () -> pool.kmalloc_array(-1, 8, GFP_KERNEL));
        negative.put("kcalloc", () -> pool.kcalloc(8, -1, GFP_KERNEL));
        negative.put("krealloc", () -> pool.krealloc(obj, -1, GFP_KERNEL));
        negative.put("kmemdup", () -> pool.kmemdup(obj, -1, GFP_KERNEL));
        negative.put("kvmalloc", () -> pool.kvmalloc(-1, GFP_KERNEL));
        negative.put("kvzalloc", () -> pool.kvzalloc(-1, GFP_KERNEL));
        negative.put("vmalloc", () -> pool.vmalloc(-1));
        negative.put("vzalloc", () -> pool.vzalloc(-1));
        negative.put("__vmalloc", () -> pool.__vmalloc(-1, GFP_KERNEL));
        negative.put("vmalloc_32", () -> pool.vmalloc_32(-1));
        negative.put("vmalloc_user", () -> pool.vmalloc_user(-1));
        negative.put("vcalloc", () -> pool.vcalloc(-1, 8));
        negative.put("alloc_pages_exact", () -> pool.alloc_pages_exact(-1, GFP_KERNEL));
        negative.put("dma_alloc_coherent", () -> pool.dma_alloc_coherent(dev, -1, GFP_KERNEL));
        for (var c : negative.entrySet()) {
            assertRefused(c.getKey(), IllegalArgumentException.class, c.getValue(), "-1");
        }
        assertEquals(64, pool.ksize(obj), "krealloc(obj, -1) left the object allocated");
        assertEquals(7, pool.segment(obj, 64).get(java.lang.foreign.ValueLayout.JAVA_BYTE, 63));

        Map<String, LongSupplier> tooLarge = new LinkedHashMap<>();
        long max = Long.MAX_VALUE;
        tooLarge.put("kmalloc", () -> pool.kmalloc(max, GFP_KERNEL));
        tooLarge.put("kzalloc", () -> pool.kzalloc(max, GFP_KERNEL));
        tooLarge.put("kmalloc_array", () -> pool.kmalloc_array(max, 1, GFP_KERNEL));
        tooLarge.put("kmalloc_array overflow", () -> pool.kmalloc_array(max, 2, GFP_KERNEL));
        tooLarge.put("kcalloc overflow", () -> pool.kcalloc(2, max, GFP_KERNEL));
        tooLarge.put("krealloc", () -> pool.krealloc(obj, max, GFP_KERNEL));
        tooLarge.put("kvmalloc", () -> pool.kvmalloc(max, GFP_KERNEL));
        tooLarge.put("kvzalloc", () -> pool.kvzalloc(max, GFP_KERNEL));
        tooLarge.put("vmalloc", () -> pool.vmalloc(max));
        tooLarge.put("vzalloc", () -> pool.vzalloc(max));
        tooLarge.put("__vmalloc", () -> pool.__vmalloc(max, GFP_KERNEL));
        tooLarge.put("vmalloc_32", () -> pool.vmalloc_32(max));
        tooLarge.put("vmalloc_user", () -> pool.vmalloc_user(max));
        tooLarge.put("vcalloc overflow", () -> pool.vcalloc(max, 2));
        tooLarge.put("alloc_pages_exact", () -> pool.alloc_pages_exact(max, GFP_KERNEL));
        tooLarge.put("dma_alloc_coherent", () -> {
            DmaBuffer b = pool.dma_alloc_coherent(dev, max, GFP_KERNEL);
            return b == null ? 0 : b.cpuAddr();
        });
        for (var c : tooLarge.entrySet()) {
            assertEquals(0, c.getValue().getAsLong(), c.getKey() + "(Long.MAX_VALUE) returns NULL");
        }
        assertEquals(64, pool.ksize(obj), "krealloc(obj, Long.MAX_VALUE) kept the object");
        pool.kfree(obj);
        assertStillWorks("sizes");
    }

    @Test
    void nullReferencesNameTheFunctionAndTheParameter() {
        long obj = pool.kmalloc(64, GFP_KERNEL);
        Map<String, Runnable> calls = new LinkedHashMap<>();
        calls.put("kmem_cache_alloc: cache", () -> pool.kmem_cache_alloc(null, GFP_KERNEL));
        calls.put("kmem_cache_zalloc: cache", () -> pool.kmem_cache_zalloc(null, GFP_KERNEL));
        calls.put("kmem_cache_free: cache", () -> pool.kmem_cache_free(null, obj));
        calls.put("kmem_cache_alloc_bulk: cache", () -> pool.kmem_cache_alloc_bulk(null, GFP_KERNEL, 1, new long[1]));
        calls.put("kmem_cache_alloc_bulk: p", () -> pool.kmem_cache_alloc_bulk(cache, GFP_KERNEL, 1, null));
        calls.put("kmem_cache_free_bulk: p", () -> pool.kmem_cache_free_bulk(cache, 1, null));
        calls.put("kmem_cache_shrink: cache", () -> pool.kmem_cache_shrink(null));
        calls.put("kmemdup: src", () -> pool.kmemdup(null, GFP_KERNEL));
        calls.put("vmap: pages", () -> pool.vmap(null, 1));
        calls.put("dma_set_mask: dev", () -> pool.dma_set_mask(null, -1L));
        calls.put("dma_alloc_coherent: dev", () -> pool.dma_alloc_coherent(null, 4096, GFP_KERNEL));
        calls.put("dma_free_coherent: dev", () -> pool.dma_free_coherent(null, 4096, obj, 0));
        calls.put("dma_free_coherent: buf", () -> pool.dma_free_coherent(dev, null));
        calls.put("dma_map_single: dev", () -> pool.dma_map_single(null, obj, 64, DmaDirection.DMA_TO_DEVICE));
        calls.put("dma_map_single: dir", () -> pool.dma_map_single(dev, obj, 64, null));
        calls.put("dma_unmap_single: dev", () -> pool.dma_unmap_single(null, 0, 64, DmaDirection.DMA_TO_DEVICE));
        calls.put("dma_unmap_single: dir", () -> pool.dma_unmap_single(dev, 0, 64, null));
        calls.put("dma_map_page: dir", () -> pool.dma_map_page(dev, pool.virt_to_page(obj), 0, 64, null));
        calls.put("dma_unmap_page: dev", () -> pool.dma_unmap_page(null, 0, 64, DmaDirection.DMA_TO_DEVICE));
        calls.put("dma_sync_single_for_cpu: dir", () -> pool.dma_sync_single_for_cpu(dev, 0, 64, null));
        calls.put("dma_sync_single_for_device: dev",
                () -> pool.dma_sync_single_for_device(null, 0, 64, DmaDirection.DMA_TO_DEVICE));
        calls.put("dma_pool_create: dev", () -> pool.dma_pool_create("x", null, 64, 8, 0));
        calls.put("dma_pool_alloc: pool", () -> pool.dma_pool_alloc(null, GFP_KERNEL, new long[1]));
        calls.put("dma_pool_alloc: handle", () -> pool.dma_pool_alloc(dmaPool, GFP_KERNEL, null));
        calls.put("dma_pool_zalloc: pool", () -> pool.dma_pool_zalloc(null, GFP_KERNEL, new long[1]));
        calls.put("dma_pool_free: pool", () -> pool.dma_pool_free(null, obj, 0));
        calls.put("iounmap: io", () -> pool.iounmap((IoMem) null));
        calls.put("pci_enable_device: dev", () -> pool.pci_enable_device(null));
        calls.put("pci_set_master: dev", () -> pool.pci_set_master(null));
        calls.put("pci_resource_start: dev", () -> pool.pci_resource_start(null, 0));
        calls.put("pci_read_config_dword: dev", () -> pool.pci_read_config_dword(null, 0));
        calls.put("pci_iomap: dev", () -> pool.pci_iomap(null, 0, 0));
        for (var c : calls.entrySet()) {
            String function = c.getKey().substring(0, c.getKey().indexOf(':'));
            NullPointerException e = assertRefused(function, NullPointerException.class, c.getValue());
            assertEquals(c.getKey() + " is null", e.getMessage());
        }
        pool.kmem_cache_destroy(null);
        pool.dma_pool_destroy(null);
        pool.kfree(obj);
        assertStillWorks("null");
    }

    @Test
    void aConstructorThatThrowsIsReportedNamingTheCacheAndItsSlabGoesBack() {
        boolean[] fail = {true};
        KmemCache c = pool.kmem_cache_create("ctor_throws", 200, 0, 0, seg -> {
            if (fail[0]) {
                throw new IllegalStateException("device not ready");
            }
            seg.fill((byte) 0x5a);
        });
        long freeBefore = FrameAccounting.of(pool).free();
        KmemException e = assertRefused("kmem_cache_alloc", KmemException.class,
                () -> pool.kmem_cache_alloc(c, GFP_KERNEL), "ctor_throws", "constructor");
        assertInstanceOf(IllegalStateException.class, e.getCause());
        assertEquals(freeBefore, FrameAccounting.of(pool).free(), "the slab being built went back");
        assertStillWorks("ctor throws");
        fail[0] = false;
        long o = pool.kmem_cache_alloc(c, GFP_KERNEL);
        assertNotEquals(0, o, "the cache serves once its constructor does");
        assertEquals(0x5a, pool.segment(o, 200).get(java.lang.foreign.ValueLayout.JAVA_BYTE, 199));
        pool.kmem_cache_free(c, o);
        pool.kmem_cache_destroy(c);
        assertStillWorks("ctor throws, then works");
    }

    @Test
    void aConstructorThatAllocatesFromItsOwnCacheIsRefusedNotAStackOverflow() {
        KmemCache[] self = new KmemCache[1];
        self[0] = pool.kmem_cache_create("ctor_recurses", 48, 0, 0, seg -> pool.kmem_cache_alloc(self[0], GFP_KERNEL));
        KmemException e = assertRefused("kmem_cache_alloc", KmemException.class,
                () -> pool.kmem_cache_alloc(self[0], GFP_KERNEL), "ctor_recurses", "constructor");
        assertTrue(e.getCause() instanceof KmemException k && k.getMessage().contains("own cache"), "the cause says"
                + " why: " + e.getCause());
        assertStillWorks("ctor recurses");
        pool.kmem_cache_destroy(self[0]);
        assertStillWorks("ctor recurses, cache destroyed");
    }

    @Test
    void dmaFreesAndUnmapsByAnotherDeviceAreRefusedNamingBoth() {
        Device other = new Device("other-dev");
        assertEquals(0, pool.dma_set_mask_and_coherent(dev, DmaApi.DMA_BIT_MASK(64)));
        assertEquals(0, pool.dma_set_mask_and_coherent(other, DmaApi.DMA_BIT_MASK(64)));
        DmaBuffer buf = pool.dma_alloc_coherent(dev, 8192, GFP_KERNEL);
        assertRefused("dma_free_coherent", BadAddressException.class, () -> pool.dma_free_coherent(other, buf),
                "different device", "[mapped by args-dev]", "[unmapped by other-dev]",
                "0x" + Long.toHexString(buf.cpuAddr()));
        long k = pool.kmalloc(256, GFP_KERNEL);
        long single = pool.dma_map_single(dev, k, 256, DmaDirection.DMA_TO_DEVICE);
        assertRefused("dma_unmap_single", BadAddressException.class,
                () -> pool.dma_unmap_single(other, single, 256, DmaDirection.DMA_TO_DEVICE), "different device",
                "[mapped by args-dev]", "[unmapped by other-dev]", String.format("0x%016x", single));
        long pg = pool.alloc_pages(GFP_KERNEL, 0);
        long page = pool.dma_map_page(dev, pg, 0, 4096, DmaDirection.DMA_FROM_DEVICE);
        assertRefused("dma_unmap_page", BadAddressException.class,
                () -> pool.dma_unmap_page(other, page, 4096, DmaDirection.DMA_FROM_DEVICE), "different device",
                "[mapped by args-dev]", "[unmapped by other-dev]");
        assertEquals(2, dev.liveMappings(), "nothing changed: the owner still holds both mappings");
        pool.dma_unmap_single(dev, single, 256, DmaDirection.DMA_TO_DEVICE);
        pool.dma_unmap_page(dev, page, 4096, DmaDirection.DMA_FROM_DEVICE);
        pool.dma_free_coherent(dev, buf);
        pool.kfree(k);
        pool.__free_pages(pg, 0);
        assertStillWorks("dma");
    }

    @Test
    void messagesNameTheCalledFunctionAndTheAddressPassed() {
        try (Arena arena = Arena.ofConfined()) {
            long foreign = arena.allocate(64).address();
            String hex = "0x" + Long.toHexString(foreign);
            long k = pool.kmalloc(64, GFP_KERNEL);
            pool.kfree(k);
            Map<String, Runnable> calls = new LinkedHashMap<>();
            calls.put("krealloc", () -> pool.krealloc(foreign, 128, GFP_KERNEL));
            calls.put("kfree_sensitive", () -> pool.kfree_sensitive(foreign));
            calls.put("kvfree", () -> pool.kvfree(foreign));
            calls.put("kmemdup", () -> pool.kmemdup(foreign, 8, GFP_KERNEL));
            calls.put("page_address", () -> pool.page_address(foreign));
            calls.put("page_to_phys", () -> pool.page_to_phys(foreign));
            calls.put("dma_map_page", () -> pool.dma_map_page(dev, foreign, 0, 64, DmaDirection.DMA_TO_DEVICE));
            calls.put("kmem_cache_free_bulk", () -> pool.kmem_cache_free_bulk(cache, 1, new long[] {foreign}));
            for (var c : calls.entrySet()) {
                assertRefused(c.getKey(), BadAddressException.class, c.getValue(), hex);
            }
            assertRefused("kmem_cache_free_bulk", io.kmem.error.DoubleFreeException.class,
                    () -> pool.kmem_cache_free_bulk(null, 1, new long[] {k}), "0x" + Long.toHexString(k));
            assertRefused("__get_free_pages", IllegalArgumentException.class,
                    () -> pool.__get_free_pages(GFP_KERNEL, -1), "-1");
            assertRefused("kcalloc", IllegalArgumentException.class, () -> pool.kcalloc(-3, 8, GFP_KERNEL), "-3");
            assertRefused("dma_map_single", BadAddressException.class,
                    () -> pool.dma_map_single(dev, 0xdeadbeefL, 64, DmaDirection.DMA_TO_DEVICE), "0xdeadbeef");
        }
        assertStillWorks("messages");
    }

    @Test
    void pciIomapOfABarAKernelDriverHoldsNamesTheDriverAndHowToUnbind() throws Exception {
        try (FakeHost host = new FakeHost()) {
            Path fn = host.pci("0000:00:04.0", 0x1234, 0x11e8, new long[][] {{0xfea00000L, 1 << 20, 0x40200}});
            Path driver = Files.createDirectories(host.root().resolve("sys/bus/pci/drivers/e1000"));
            Files.createSymbolicLink(fn.resolve("driver"), driver);
            // sysfs refuses the mmap of a BAR a driver holds; /dev/null refuses any mmap.
            Files.delete(fn.resolve("resource0"));
            Files.createSymbolicLink(fn.resolve("resource0"), Path.of("/dev/null"));
            pool.ioRoots(host.roots());
            PciDev d = pool.pci_get_device(0x1234, 0x11e8, null);
            SyscallException e = assertRefused("pci_iomap", SyscallException.class, () -> pool.pci_iomap(d, 0, 0),
                    "0000:00:04.0", "mmap", "kernel driver 'e1000'", "unbind", "driver/unbind");
            assertSame(SyscallException.class, e.getCause().getClass(), "the failed call is the cause");
            Files.delete(fn.resolve("driver"));
            SyscallException bare = assertThrows(SyscallException.class, () -> pool.pci_iomap(d, 0, 0));
            assertTrue(!bare.getMessage().contains("unbind"), "no driver, no unbind hint: " + bare.getMessage());
            assertNull(bare.getCause());
        }
        assertStillWorks("pci");
    }

    /** The driver helpers (scatterlists, ring accessors, dma_set_max_seg_size): every bad argument named. */
    @Test
    void theDriverHelpersRefuseBadArgumentsNamingTheFunctionAndValue() {
        long page = pool.alloc_page(GFP_KERNEL);
        SgTable sgt = pool.sg_alloc_table_from_pages(new long[] {page}, 1, 0, 4096, GFP_KERNEL);
        Map<String, Runnable> npe = new LinkedHashMap<>();
        npe.put("dma_map_sg", () -> pool.dma_map_sg(dev, null, 1, DmaDirection.DMA_TO_DEVICE));
        npe.put("dma_unmap_sg", () -> pool.dma_unmap_sg(null, sgt, 1, DmaDirection.DMA_TO_DEVICE));
        npe.put("dma_map_sgtable", () -> pool.dma_map_sgtable(dev, sgt, null));
        npe.put("dma_sync_sg_for_cpu", () -> pool.dma_sync_sg_for_cpu(dev, null, 1, DmaDirection.DMA_TO_DEVICE));
        npe.put("sg_free_table", () -> pool.sg_free_table(null));
        npe.put("sg_set_page", () -> pool.sg_set_page(null, page, 1, 0));
        npe.put("sg_dma_address", () -> pool.sg_dma_address(null));
        npe.put("sg_alloc_table_from_pages", () -> pool.sg_alloc_table_from_pages(null, 1, 0, 1, GFP_KERNEL));
        npe.put("dma_set_max_seg_size", () -> pool.dma_set_max_seg_size(null, 4096));
        for (var c : npe.entrySet()) {
            assertRefused(c.getKey(), NullPointerException.class, c.getValue(), "is null");
        }
        Map<String, Runnable> iae = new LinkedHashMap<>();
        iae.put("sg_alloc_table", () -> pool.sg_alloc_table(0, GFP_KERNEL));
        iae.put("sg_alloc_table_from_pages", () -> pool.sg_alloc_table_from_pages(new long[] {page}, 1, 4096, 1,
                GFP_KERNEL));
        iae.put("sg_alloc_table_from_vmalloc", () -> pool.sg_alloc_table_from_vmalloc(0, -1, GFP_KERNEL));
        iae.put("sg_set_page", () -> pool.sg_set_page(sgt.sgl(), page, -7, 0));
        iae.put("dma_map_sg", () -> pool.dma_map_sg(dev, sgt, 2, DmaDirection.DMA_TO_DEVICE));
        iae.put("dma_set_max_seg_size", () -> pool.dma_set_max_seg_size(dev, 1L << 32));
        for (var c : iae.entrySet()) {
            assertRefused(c.getKey(), IllegalArgumentException.class, c.getValue());
        }
        assertRefused("sg_alloc_table", IllegalArgumentException.class, () -> pool.sg_alloc_table(1, BAD),
                "unknown GFP bits 0x80000000");
        assertRefused("dma_map_sg", IllegalArgumentException.class, () -> pool.dma_map_sg(dev, sgt, 1,
                DmaDirection.DMA_NONE), "DMA_NONE");
        assertRefused("sg_set_page", BadAddressException.class, () -> pool.sg_set_page(sgt.sgl(), 0x1234, 1, 0),
                "0x1234");
        assertRefused("READ_ONCE_u32", BadAddressException.class, () -> pool.READ_ONCE_u32(0x1234), "0x1234");
        assertRefused("smp_store_release_u64", BadAddressException.class, () -> pool.smp_store_release_u64(
                pool.page_address(page) + 4, 0), "not 8-byte aligned");
        assertRefused("WRITE_ONCE_u16", NullPointerException.class, () -> RwOnceApi.WRITE_ONCE_u16(null, 0, 0),
                "seg is null");
        pool.sg_free_table(sgt);
        pool.__free_page(page);
        assertStillWorks("driver helpers");
    }
}
