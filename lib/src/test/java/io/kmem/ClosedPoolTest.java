package io.kmem;

import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.bindings.Libc;
import io.kmem.error.BadAddressException;
import io.kmem.error.PoolClosedException;
import io.kmem.gfp.FrameKind;
import io.kmem.internal.sys.Sys;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A closed pool answers every call with {@link PoolClosedException}: every public method of
 * every public type in the exported packages, found by reflection (so a new method cannot be
 * forgotten), is called on a closed pool with arguments that were valid before the close (a
 * kmalloc address, a page handle, a vmalloc address, a KmemCache, a DmaPool and its block, a
 * DmaBuffer, a streaming mapping, an IoMem over a memfd, a PCI function of a fake host), and
 * must throw it, naming the function and the pool. What touches no pool is listed in
 * {@link #EXEMPT_TYPES} and {@link #EXEMPT_METHODS}, each with its reason. And MMIO accesses
 * racing with iounmap or close throw kmem's exceptions, never the JDK's "Already closed".
 */
class ClosedPoolTest {
    private static final Path CLASSES = Path.of("target/classes");
    private static final String NAME = "closed";

    /** Types whose members touch no pool, with the reason. */
    static final Map<Class<?>, String> EXEMPT_TYPES = new HashMap<>();
    /** Single methods ({@code Type.name}, every overload) that touch no pool, with the reason. */
    static final Map<String, String> EXEMPT_METHODS = new HashMap<>();

    static {
        String record = "a record of values; it holds no pool and reads none";
        EXEMPT_TYPES.put(VmStruct.class, record);
        EXEMPT_TYPES.put(Resource.class, record);
        EXEMPT_TYPES.put(IoRoots.class, record + " (paths of the host's files)");
        EXEMPT_TYPES.put(DmaDirection.class, "an enum of constants");
        EXEMPT_TYPES.put(IrqHandler.class, "the driver's own callback; kmem implements none of it");
        EXEMPT_TYPES.put(SlabFlags.class, "constants only");
        EXEMPT_TYPES.put(Device.class, "a device is not tied to a pool (its doc says so): masks and names");
        EXEMPT_TYPES.put(MemoryPool.Builder.class, "makes a new pool; touches no existing one");
        EXEMPT_TYPES.put(io.kmem.debug.FaultAttr.class, "a fault-injection knob on the heap; the pool's getters"
                + " (failslab, fail_page_alloc) throw once it is closed");
        // io.kmem.error, io.kmem.gfp and io.kmem.stats are exempt as whole packages (see exemptPackage).

        String pure = "a pure function of its arguments; touches no pool";
        for (String m : List.of("GfpApi.get_order", "DmaApi.DMA_BIT_MASK", "IoApi.mb", "IoApi.rmb", "IoApi.wmb",
                "IoApi.dma_rmb", "IoApi.dma_wmb")) {
            EXEMPT_METHODS.put(m, pure);
        }
        for (String m : List.of("readx_poll_timeout", "readx_poll_timeout_atomic")) {
            EXEMPT_METHODS.put("IoApi." + m, pure + " (the read it polls is the caller's)");
        }
        for (String op : List.of("READ_ONCE", "WRITE_ONCE", "smp_load_acquire", "smp_store_release")) {
            for (String w : List.of("u8", "u16", "u32", "u64")) {
                EXEMPT_METHODS.put("RwOnceApi." + op + "_" + w, "the static form takes the caller's segment, not a"
                        + " pool (a segment of a closed pool throws the JDK's IllegalStateException); the address"
                        + " forms are MemoryPool's and are called");
            }
        }
        EXEMPT_METHODS.put("MemoryPool.dma_mapping_error", pure + " (a comparison with DMA_MAPPING_ERROR)");
        EXEMPT_METHODS.put("MemoryPool.builder", "makes a builder of a new pool");
        EXEMPT_METHODS.put("MemoryPool.close", "closing a closed pool does nothing (AutoCloseable)");
        EXEMPT_METHODS.put("MemoryPool.name", "the pool's identity, which every message names");
        String attr = "an attribute fixed at creation, held on the heap; returns no memory or address";
        for (String m : List.of("name", "objectSize", "size", "align", "flags", "order", "objectsPerSlab")) {
            EXEMPT_METHODS.put("KmemCache." + m, attr);
        }
        for (String m : List.of("name", "size", "align", "boundary", "allocation", "blocksPerPage")) {
            EXEMPT_METHODS.put("DmaPool." + m, attr);
        }
        for (String m : List.of("name", "vendor", "device", "classCode")) {
            EXEMPT_METHODS.put("PciDev." + m, attr + " (read from sysfs when found)");
        }
        for (String m : List.of("cpuAddr", "dmaHandle", "size")) {
            EXEMPT_METHODS.put("DmaBuffer." + m, attr);
        }
        EXEMPT_METHODS.put("PciDev.dev", "the function's Device, which is not tied to a pool");
        EXEMPT_METHODS.put("IoMem.unmapped", "answers whether the handle is dead (true after close); no memory");
    }

    private static boolean exemptPackage(Class<?> c) {
        return switch (c.getPackageName()) {
            case "io.kmem.error" -> true; // exceptions: values with a message
            case "io.kmem.gfp" -> true; // GFP bits, zone and frame kinds: constants and pure functions
            case "io.kmem.stats" -> true; // snapshots a pool returned, and the host's facts read from /proc
            default -> false;
        };
    }

    private MemoryPool pool;
    private FakeHost host;
    private int fd;
    private final Map<Class<?>, Object> args = new HashMap<>();
    private long[] longs;
    private int[] ints;

    @BeforeEach
    void setUp() {
        host = new FakeHost();
        host.pci("0000:00:04.0", 0x1234, 0x11e8, new long[][] {{0xfea00000L, 1 << 20, 0x40200}});
        pool = MemoryPool.builder().name(NAME).smallPages(16L << 20).build().ioRoots(host.roots());
        fd = Sys.memfdCreate("kmem-closed-bar", Libc.MFD_CLOEXEC());
        Sys.ftruncate(fd, 8192);
    }

    @AfterEach
    void tearDown() {
        pool.close();
        Sys.close(fd);
        host.close();
    }

    /** Valid handles and addresses from the open pool, the arguments every call gets. */
    private void takeArguments() {
        long kaddr = pool.kmalloc(64, GFP_KERNEL);
        long page = pool.alloc_page(GFP_KERNEL);
        long paddr = pool.__get_free_page(GFP_KERNEL);
        long vaddr = pool.vmalloc(8192);
        KmemCache cache = pool.kmem_cache_create("closed_cache", 64, 0, 0, null);
        long obj = pool.kmem_cache_alloc(cache, GFP_KERNEL);
        Device dev = new Device("closed0");
        assertEquals(0, pool.dma_set_mask_and_coherent(dev, DmaApi.DMA_BIT_MASK(64)));
        DmaPool dmaPool = pool.dma_pool_create("closed_prp", dev, 64, 0, 0);
        long[] handle = new long[1];
        long block = pool.dma_pool_alloc(dmaPool, GFP_KERNEL, handle);
        DmaBuffer buf = pool.dma_alloc_coherent(dev, 4096, GFP_KERNEL);
        long mapped = pool.dma_map_single(dev, paddr, 4096, DmaDirection.DMA_TO_DEVICE);
        IoMem io = pool.ioremapFile(Path.of("/proc/self/fd/" + fd), 0, 8192);
        PciDev pci = pool.pci_get_device(0x1234, 0x11e8, null);
        assertNotNull(pci, "the fake host's PCI function");
        SgTable sgt = pool.sg_alloc_table_from_pages(new long[] {page}, 1, 0, 4096, GFP_KERNEL);
        assertTrue(kaddr != 0 && page != 0 && paddr != 0 && vaddr != 0 && obj != 0 && block != 0 && buf != null,
                "the arguments were allocated");
        longs = new long[] {kaddr, page, paddr, vaddr, obj, block, handle[0], buf.cpuAddr(), buf.dmaHandle(), mapped,
                io.address(), pool.virt_to_phys(kaddr), pool.virt_to_pfn(kaddr), 64, 0};
        ints = new int[] {GFP_KERNEL, 0, 1};
        args.put(KmemCache.class, cache);
        args.put(DmaPool.class, dmaPool);
        args.put(Device.class, dev);
        args.put(DmaBuffer.class, buf);
        args.put(IoMem.class, io);
        args.put(PciDev.class, pci);
        args.put(DmaDirection.class, DmaDirection.DMA_TO_DEVICE);
        args.put(SgTable.class, sgt);
        args.put(Scatterlist.class, sgt.sgl());
        args.put(int[].class, new int[1]);
        args.put(java.util.function.IntPredicate.class, (java.util.function.IntPredicate) v -> true);
        args.put(java.util.function.LongPredicate.class, (java.util.function.LongPredicate) v -> true);
        args.put(long[].class, new long[] {page, kaddr});
        args.put(String.class, "closed_x");
        args.put(MemorySegment.class, Arena.ofAuto().allocate(64));
        args.put(Consumer.class, (Consumer<MemorySegment>) s -> { });
        args.put(IrqHandler.class, (IrqHandler) irq -> IrqHandler.IRQ_HANDLED);
        args.put(FrameKind.class, FrameKind.SMALL_4K);
        args.put(Path.class, Path.of("/proc/self/fd/" + fd));
        args.put(IoRoots.class, host.roots());
        args.put(MemoryPool.class, pool);
        args.put(boolean.class, true);
        args.put(Duration.class, Duration.ofMillis(1));
    }

    @Test
    void everyPublicMethodOfTheApiThrowsPoolClosedExceptionOnAClosedPool() throws Exception {
        takeArguments();
        pool.close();

        List<String> failures = new ArrayList<>();
        Set<String> usedExemptions = new TreeSet<>();
        int called = 0;
        for (Class<?> c : apiTypes()) {
            if (exemptPackage(c) || EXEMPT_TYPES.containsKey(c)) {
                checkHoldsNoPool(c, failures);
                continue;
            }
            for (Method m : c.getDeclaredMethods()) {
                if (!Modifier.isPublic(m.getModifiers()) || m.isSynthetic() || isObjectMethod(m)) {
                    continue;
                }
                if (c.isInterface() && !Modifier.isStatic(m.getModifiers())) {
                    continue; // a header contract's function: called on MemoryPool, which implements it
                }
                String key = c.getSimpleName() + "." + m.getName();
                if (EXEMPT_METHODS.containsKey(key)) {
                    usedExemptions.add(key);
                    continue;
                }
                Object target = Modifier.isStatic(m.getModifiers()) ? null : instanceOf(c, failures);
                if (!Modifier.isStatic(m.getModifiers()) && target == null) {
                    continue;
                }
                called++;
                // Every round must throw: the closed check comes before any look at the arguments.
                int rounds = Math.max(longs.length, ints.length);
                for (int r = 0; r < rounds; r++) {
                    String problem = callClosed(m, target, r);
                    if (problem != null) {
                        failures.add(key + signature(m) + ": " + problem);
                        break;
                    }
                }
            }
        }
        Set<String> stale = new TreeSet<>(EXEMPT_METHODS.keySet());
        stale.removeAll(usedExemptions);
        assertEquals(Set.of(), stale, "exemptions for methods that no longer exist");
        assertTrue(called > 170, "methods called: " + called);
        assertEquals(List.of(), failures, failures.size() + " of " + called + " public methods did not throw"
                + " PoolClosedException on a closed pool");
    }

    /** Null when {@code m} threw PoolClosedException naming itself and the pool; else what went wrong. */
    private String callClosed(Method m, Object target, int round) {
        Class<?>[] types = m.getParameterTypes();
        Object[] a = new Object[types.length];
        for (int i = 0; i < types.length; i++) {
            Class<?> t = types[i];
            if (t == long.class) {
                a[i] = longs[(round + i) % longs.length];
            } else if (t == int.class) {
                a[i] = ints[(round + i) % ints.length];
            } else if (args.containsKey(t)) {
                a[i] = args.get(t);
            } else {
                return "no argument for a " + t.getName() + " (add one to takeArguments)";
            }
        }
        try {
            Object r = m.invoke(target, a);
            return "returned " + describe(r) + " (arguments " + java.util.Arrays.deepToString(a) + ")";
        } catch (InvocationTargetException e) {
            Throwable t = e.getCause();
            if (!(t instanceof PoolClosedException)) {
                return "threw " + t + " (arguments " + java.util.Arrays.deepToString(a) + ")";
            }
            String msg = t.getMessage();
            if (!msg.contains("'" + NAME + "'") || !msg.contains(m.getName())) {
                return "PoolClosedException does not name the function and the pool: " + msg;
            }
            return null;
        } catch (IllegalAccessException e) {
            return "not accessible: " + e;
        }
    }

    private static String describe(Object r) {
        if (r instanceof Long l) {
            return "0x" + Long.toHexString(l);
        }
        if (r instanceof long[] arr) {
            return java.util.Arrays.toString(arr);
        }
        return String.valueOf(r);
    }

    private Object instanceOf(Class<?> c, List<String> failures) {
        Object o = args.get(c);
        if (o == null) {
            failures.add(c.getName() + ": no instance to call its methods on (add one to takeArguments, or exempt it)");
        }
        return o;
    }

    /** An exempt type must not reach a pool: no field of a type that holds one. */
    private static void checkHoldsNoPool(Class<?> c, List<String> failures) {
        Set<Class<?>> poolTypes = Set.of(MemoryPool.class, KmemCache.class, DmaPool.class, IoMem.class, PciDev.class);
        for (var f : c.getDeclaredFields()) {
            if (poolTypes.contains(f.getType())) {
                failures.add(c.getName() + " is exempt but holds a " + f.getType().getSimpleName() + " (" + f.getName()
                        + ")");
            }
        }
    }

    private static boolean isObjectMethod(Method m) {
        return switch (m.getName()) {
            case "toString", "hashCode" -> m.getParameterCount() == 0;
            case "equals" -> m.getParameterCount() == 1;
            default -> false;
        };
    }

    private static String signature(Method m) {
        return Stream.of(m.getParameterTypes()).map(Class::getSimpleName)
                .collect(java.util.stream.Collectors.joining(", ", "(", ")"));
    }

    /** Every public type (nested ones included) of every package the module exports. */
    private static List<Class<?>> apiTypes() throws IOException, ClassNotFoundException {
        ModuleDescriptor module = ModuleFinder.of(CLASSES).findAll().iterator().next().descriptor();
        List<Class<?>> out = new ArrayList<>();
        for (ModuleDescriptor.Exports e : module.exports()) {
            try (Stream<Path> files = Files.list(CLASSES.resolve(e.source().replace('.', '/')))) {
                for (Path f : files.filter(p -> p.toString().endsWith(".class")).sorted().toList()) {
                    String name = f.getFileName().toString();
                    if (name.equals("package-info.class")) {
                        continue;
                    }
                    Class<?> c = Class.forName(e.source() + "." + name.substring(0, name.length() - 6), false,
                            ClosedPoolTest.class.getClassLoader());
                    if (isPublic(c)) {
                        out.add(c);
                    }
                }
            }
        }
        assertTrue(out.contains(MemoryPool.class) && out.contains(IoMem.class), "types found: " + out);
        return out;
    }

    private static boolean isPublic(Class<?> c) {
        for (Class<?> k = c; k != null; k = k.getDeclaringClass()) {
            if (!Modifier.isPublic(k.getModifiers())) {
                return false;
            }
        }
        return !c.isAnonymousClass() && !c.isLocalClass();
    }

    // ------------------------------------------------------------------ MMIO racing iounmap and close

    @Test
    void mmioAccessesRacingIounmapThrowBadAddressException() throws Exception {
        race(false);
    }

    @Test
    void mmioAccessesRacingCloseThrowKmemExceptions() throws Exception {
        race(true);
    }

    /**
     * Two threads hammer readl, writel, readq and memcpy_fromio while the main thread unmaps
     * the mapping (or closes the pool); repeated until the window was hit often enough. Every
     * access either succeeds (before the unmap) or throws kmem's exception naming the access
     * and the address; the JDK's IllegalStateException never gets out.
     */
    private void race(boolean close) throws Exception {
        Path file = Path.of("/proc/self/fd/" + fd);
        int rounds = close ? 40 : 200;
        int sawKmem = 0;
        int sawWindow = 0;
        for (int round = 0; round < rounds; round++) {
            if (close) {
                pool.close();
                pool = MemoryPool.builder().name(NAME).smallPages(4L << 20).build();
            }
            IoMem io = pool.ioremapFile(file, 0, 8192);
            AtomicReference<Throwable> wrong = new AtomicReference<>();
            AtomicBoolean stop = new AtomicBoolean();
            CountDownLatch started = new CountDownLatch(2);
            int[] kmemSeen = new int[2];
            int[] inWindow = new int[2];
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                int id = t;
                threads.add(Thread.ofPlatform().start(() -> {
                    MemorySegment to = Arena.ofAuto().allocate(256);
                    started.countDown();
                    while (!stop.get()) {
                        try {
                            for (int i = 0; i < 1000; i++) {
                                io.writel(i, (i & 255) * 4);
                                io.readl((i & 255) * 4);
                                io.readq(0x800);
                                io.memcpy_fromio(to, 0x100, 256);
                            }
                        } catch (BadAddressException | PoolClosedException e) {
                            if (!close && !(e instanceof BadAddressException)) {
                                wrong.compareAndSet(null, e);
                            }
                            String m = e.getMessage();
                            boolean namesAccess = Stream.of("writel", "readl", "readq", "memcpy_fromio")
                                    .anyMatch(m::startsWith);
                            if (!namesAccess || !(m.contains("0x") || m.contains("'" + NAME + "'"))) {
                                wrong.compareAndSet(null, new AssertionError("message names no access: " + m, e));
                            }
                            kmemSeen[id]++;
                            if (e.getCause() instanceof IllegalStateException) {
                                inWindow[id]++; // passed the check, then the unmap closed the segment
                            }
                            return;
                        } catch (Throwable e) {
                            wrong.compareAndSet(null, e);
                            return;
                        }
                    }
                }));
            }
            started.await();
            Thread.onSpinWait();
            if (close) {
                pool.close();
            } else {
                pool.iounmap(io);
            }
            stop.set(true);
            for (Thread t : threads) {
                t.join();
            }
            if (wrong.get() != null) {
                throw new AssertionError("round " + round + ": an access racing " + (close ? "close" : "iounmap")
                        + " threw " + wrong.get(), wrong.get());
            }
            sawKmem += kmemSeen[0] + kmemSeen[1];
            sawWindow += inWindow[0] + inWindow[1];
        }
        System.out.println("mmio race with " + (close ? "close" : "iounmap") + ": " + sawKmem + " accesses of "
                + 2 * rounds + " threads hit the unmap and threw kmem's exception, " + sawWindow
                + " of them inside the access (the JDK's Already closed, translated)");
        assertNotEquals(0, sawKmem, "no access ever hit the unmap: the race was not exercised");
    }
}
