package io.kmem.vmtest;

import static io.kmem.DmaDirection.DMA_BIDIRECTIONAL;
import static io.kmem.DmaDirection.DMA_FROM_DEVICE;
import static io.kmem.DmaDirection.DMA_TO_DEVICE;
import static io.kmem.DmaApi.DMA_BIT_MASK;
import static io.kmem.gfp.Gfp.GFP_KERNEL;

import io.kmem.Device;
import io.kmem.DmaBuffer;
import io.kmem.DmaPool;
import io.kmem.IoMem;
import io.kmem.MemoryPool;
import io.kmem.PciApi;
import io.kmem.PciDev;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * The edu driver in IOVA mode ({@code tools/vm-test vfio}): QEMU's edu behind an emulated
 * Intel IOMMU, bound to vfio-pci by the guest's init, opened with {@code vfio_open}, on kmem's
 * API alone. It proves:
 *
 * <ol>
 *   <li>the VFIO device is a {@link PciDev} like any other: {@code pci_enable_device},
 *       {@code pci_set_master} through VFIO's config region, BAR0 through the device fd
 *       ({@code pci_iomap}): identity, liveness, factorial;</li>
 *   <li>byte-exact DMA round trips (RAM to device to RAM) through IOVAs for a kmalloc object, an
 *       order-2 page block, each page of a vmalloc area, a dma_pool block and a coherent
 *       buffer, and a page whose physical address lies above edu's 28-bit mask, whose IOVA is
 *       below it; every DMA address is checked to be no physical address of its buffer;</li>
 *   <li>isolation: edu told to write to an IOVA that is not mapped (the physical address of a
 *       canary page of the driver's own) leaves the canary untouched, and the guest kernel logs
 *       a DMAR fault; the same for the IOVA of a buffer after its device's domain was torn down
 *       ({@code vfio_close}) and the device reopened;</li>
 *   <li>interrupts through {@code request_irq} over VFIO eventfds, INTx then MSI: N of N of
 *       edu's raise-interrupt register and a DMA's completion interrupt delivered to the Java
 *       handler on its own thread; a GFP_KERNEL allocation in the handler reported as sleeping in
 *       atomic context, GFP_ATOMIC not;</li>
 *   <li>the cost of {@code dma_map_single} + {@code dma_unmap_single} of 2 KiB through the
 *       pool-wide mapping (a table lookup), under TCG.</li>
 * </ol>
 * Output lines start with {@code kmem-vmtest:}; the last is PASS or FAIL, as for EduDriver.
 */
public final class EduVfioDriver {
    private static final long PAGE = 4096;
    private static final long MIB = 1 << 20;
    private static final long EDU_MASK = DMA_BIT_MASK(Edu.DMA_BITS);
    private static final int PCI_COMMAND = 0x04;
    private static final int PCI_COMMAND_MEMORY = 0x2;
    private static final int PCI_COMMAND_MASTER = 0x4;
    /** edu's interrupt registers: status (RO), raise (write bits), acknowledge (write bits). */
    private static final long EDU_IRQ_STATUS = 0x24;
    private static final long EDU_IRQ_RAISE = 0x60;
    private static final long EDU_IRQ_ACK = 0x64;
    private static final int PCI_IRQ_INTX = PciApi.PCI_IRQ_INTX;
    private static final int PCI_IRQ_MSI = PciApi.PCI_IRQ_MSI;

    private final long t0 = System.nanoTime();
    private final Random random = new Random(18);
    private int checks;

    public static void main(String[] args) {
        EduVfioDriver driver = new EduVfioDriver();
        if (args.length == 2 && args[0].equals("unprivileged")) {
            try {
                driver.unprivileged(args[1]);
                say("unprivileged: PASS, %d checks", driver.checks);
                System.exit(0);
            } catch (Throwable t) {
                say("unprivileged: FAIL: %s", t);
                t.printStackTrace(System.out);
                System.out.flush();
                System.exit(1);
            }
        }
        try {
            driver.run();
            say("PASS: IOVA mode, %d checks, %d ms in the driver", driver.checks,
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - driver.t0));
            System.exit(0);
        } catch (Throwable t) {
            say("FAIL: %s", t);
            t.printStackTrace(System.out);
            System.out.flush();
            System.exit(1);
        }
    }

    private void run() throws Exception {
        say("start (IOVA mode): %s", Files.readString(Path.of("/proc/version")).strip());
        // The canary pool first: frames below 2^28, where edu could write them by physical address
        // but never maps them into edu's domain. Then 128 MiB of the process's own memory, touched,
        // so that the driver's pool gets frames above 256 MiB (beyond edu's reach physically).
        // The mask leaves the top 32 MiB below 2^28 to the IOVAs kmem hands out top-down (16 MiB
        // pool mapped once, then per-call mappings), so a canary's address is never a mapped IOVA;
        // 4 MiB lets the pool harvest up to 64 MiB for its low frames (the guest's kernel hands out
        // low memory last, and 2 MiB with 32 MiB harvested found none in one run of five).
        try (MemoryPool canaries = MemoryPool.builder().name("canaries").smallPages(4 * MIB).dmaMask(EDU_MASK - 32 * MIB)
                .build();
             java.lang.foreign.Arena filler = java.lang.foreign.Arena.ofConfined()) {
            filler.allocate(128 * MIB, PAGE).fill((byte) 1);
            run(canaries);
        }
    }

    private void run(MemoryPool canaries) throws Exception {
        String bdf;
        try (MemoryPool pool = MemoryPool.builder().name("edu-vfio").smallPages(16 * MIB).build()) {
            PciDev found = pool.pci_get_device(Edu.VENDOR, Edu.DEVICE, null);
            check(found != null, "pci_get_device finds edu");
            bdf = found.name();
            PciDev pdev = pool.vfio_open(bdf);
            check(pdev == found, "vfio_open returns the function's one PciDev");
            say("vfio_open(%s): %s", bdf, pdev);
            Edu edu = bringUp(pool, pdev);
            Device dev = pdev.dev();
            check(pool.dma_set_mask_and_coherent(dev, EDU_MASK) == 0, "dma_set_mask_and_coherent(28 bits)");

            roundTrips(pool, dev, edu);
            say("IOMMU domain after the round trips: %s", pdev);
            interrupts(pool, pdev, edu, PCI_IRQ_INTX, "INTx");
            interrupts(pool, pdev, edu, PCI_IRQ_MSI, "MSI");
            long canaryIova = isolation(pool, canaries, dev, edu, "an IOVA never mapped (the physical address of a"
                    + " canary page of the driver's own)", null);
            bench(pool, dev, "the pool-wide IOMMU mapping");

            // Teardown: the IOVA of a live buffer faults once the domain is gone.
            long buf = pool.kmalloc(2048, GFP_KERNEL);
            long iova = pool.dma_map_single(dev, buf, 2048, DMA_FROM_DEVICE);
            check(!pool.dma_mapping_error(dev, iova), "dma_map_single before teardown");
            pool.dma_unmap_single(dev, iova, 2048, DMA_FROM_DEVICE);
            pool.pci_iounmap(pdev, edu.regs());
            pool.vfio_close(pdev);
            say("vfio_close(%s): domain torn down; reopened to DMA to the old IOVA 0x%x", bdf, iova);
            PciDev again = pool.vfio_open(bdf);
            Edu edu2 = bringUp(pool, again);
            isolation(pool, canaries, again.dev(), edu2, "the IOVA of a buffer after vfio_close", new long[] {buf,
                iova});
            check(canaryIova != iova, "distinct probes");
            pool.kfree(buf);
            pool.pci_iounmap(again, edu2.regs());
            pool.vfio_close(again);
        }
        perCall(canaries);
        asUser(bdf);
    }

    /** The unprivileged user the IOVA mode is proven for: no capabilities, only the group's device node. */
    private static final int USER = 1000;

    /**
     * The IOVA mode without root: what an administrator grants once (the group's
     * {@code /dev/vfio/N} to the user, an RLIMIT_MEMLOCK as large as the pool), then this driver
     * again as uid 1000 in a JVM of its own ({@link #unprivileged}): no CAP_SYS_ADMIN, so no
     * pagemap and no physical addresses, and none needed.
     */
    private void asUser(String bdf) throws Exception {
        String group = Files.readSymbolicLink(Path.of("/sys/bus/pci/devices", bdf, "iommu_group")).getFileName()
                .toString();
        Files.createDirectories(Path.of("/etc"));
        Files.writeString(Path.of("/etc/passwd"), "root:x:0:0:root:/:/bin/sh\nkmem:x:" + USER + ":" + USER
                + ":kmem:/tmp:/bin/sh\n");
        Files.writeString(Path.of("/etc/group"), "root:x:0:\nkmem:x:" + USER + ":\n");
        exec(List.of("/bin/chown", USER + ":" + USER, "/dev/vfio/" + group));
        String java = ProcessHandle.current().info().command().orElseThrow();
        String cmd = "ulimit -l unlimited && exec su -s /bin/sh kmem -c '" + java + " -XX:+UseSerialGC"
                + " -XX:TieredStopAtLevel=1 -XX:-UsePerfData -Xmx96m --enable-native-access=io.kmem,io.kmem.vmtest"
                + " -m io.kmem.vmtest/" + EduVfioDriver.class.getName() + " unprivileged " + bdf + "'";
        say("as uid %d: /dev/vfio/%s given to it, RLIMIT_MEMLOCK raised, then: su kmem -c '... EduVfioDriver"
                + " unprivileged %s'", USER, group, bdf);
        Process p = new ProcessBuilder("/bin/sh", "-c", cmd).redirectErrorStream(true).start();
        boolean passed = false;
        try (var out = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream()))) {
            for (String line; (line = out.readLine()) != null;) {
                System.out.println("kmem-vmtest:   [uid " + USER + "] " + line.replaceFirst("^kmem-vmtest: ", ""));
                passed |= line.startsWith("kmem-vmtest: unprivileged: PASS");
            }
        }
        int rc = p.waitFor();
        check(rc == 0 && passed, "the driver as uid %d passed (exit %d)", USER, rc);
    }

    private static void exec(List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).strip();
        if (p.waitFor() != 0) {
            throw new IllegalStateException(cmd + " failed: " + out);
        }
    }

    /**
     * Run as uid 1000 by {@link #asUser}: checks that it has no capability, then builds an
     * unprivileged pool (no pagemap), opens edu through VFIO and proves byte-exact DMA through
     * IOVAs for a kmalloc object and a coherent buffer, and MSI interrupts.
     */
    private void unprivileged(String bdf) throws Exception {
        String status = Files.readString(Path.of("/proc/self/status"));
        String uid = status.lines().filter(l -> l.startsWith("Uid:")).findFirst().orElse("?").replaceAll("\\s+", " ");
        String caps = status.lines().filter(l -> l.startsWith("CapEff:")).findFirst().orElse("?")
                .replaceAll("\\s+", " ");
        check(uid.startsWith("Uid: " + USER + " ") && caps.equals("CapEff: 0000000000000000"),
                "running as uid %d without capabilities: %s, %s", USER, uid, caps);
        say("%s, %s; RLIMIT_MEMLOCK %s", uid, caps, Files.readString(Path.of("/proc/self/limits")).lines()
                .filter(l -> l.startsWith("Max locked memory")).findFirst().orElse("?").replaceAll("\\s+", " "));
        try (MemoryPool pool = MemoryPool.builder().name("edu-user").smallPages(16 * MIB).unprivileged().build()) {
            check(!pool.physical(), "the pool has no physical addresses");
            PciDev pdev = pool.vfio_open(bdf);
            say("vfio_open(%s) without root: %s", bdf, pdev);
            Edu edu = bringUp(pool, pdev);
            Device dev = pdev.dev();
            check(pool.dma_set_mask_and_coherent(dev, EDU_MASK) == 0, "dma_set_mask_and_coherent(28 bits)");
            long src = pool.kmalloc(3000, GFP_KERNEL);
            long dst = pool.kmalloc(3000, GFP_KERNEL);
            long s = pool.dma_map_single(dev, src, 3000, DMA_TO_DEVICE);
            long d = pool.dma_map_single(dev, dst, 3000, DMA_FROM_DEVICE);
            check(!pool.dma_mapping_error(dev, s) && !pool.dma_mapping_error(dev, d), "dma_map_single without root");
            transferNoPhys(pool, edu, "kmalloc(3000), no root", src, s, dst, d, 3000);
            pool.dma_unmap_single(dev, s, 3000, DMA_TO_DEVICE);
            pool.dma_unmap_single(dev, d, 3000, DMA_FROM_DEVICE);
            pool.kfree(src);
            pool.kfree(dst);
            DmaBuffer a = pool.dma_alloc_coherent(dev, 8192, GFP_KERNEL);
            DmaBuffer b = pool.dma_alloc_coherent(dev, 8192, GFP_KERNEL);
            check(a != null && b != null, "dma_alloc_coherent without root");
            transferNoPhys(pool, edu, "dma_alloc_coherent, no root", a.cpuAddr() + 100, a.dmaHandle() + 100,
                    b.cpuAddr() + 5, b.dmaHandle() + 5, 4000);
            pool.dma_free_coherent(dev, a);
            pool.dma_free_coherent(dev, b);
            interrupts(pool, pdev, edu, PCI_IRQ_MSI, "MSI, no root");
            pool.pci_iounmap(pdev, edu.regs());
            pool.vfio_close(pdev);
            check(pool.kmemleak().isEmpty(), "nothing left allocated: %s", pool.kmemleak());
        }
    }

    /** As {@link #transfer}, for a pool without physical addresses (nothing to compare the IOVAs with). */
    private void transferNoPhys(MemoryPool pool, Edu edu, String what, long src, long s, long dst, long d, int len)
            throws Exception {
        dmaThroughEdu(pool, edu, what, src, s, dst, d, len);
        say("round trip ok: %s, %d bytes, IOVAs 0x%x -> 0x%x", what, len, s, d);
    }

    /**
     * The per-call option (Builder.vfioMapPerCall): nothing mapped until a dma_map_*, byte-exact
     * round trips for a kmalloc object and a coherent buffer, the IOVA of a buffer faults again
     * after dma_unmap_single, and the cost of a map+unmap pair with its two ioctls.
     */
    private void perCall(MemoryPool canaries) throws Exception {
        try (MemoryPool pc = MemoryPool.builder().name("edu-percall").smallPages(16 * MIB).vfioMapPerCall().build()) {
            PciDev found = pc.pci_get_device(Edu.VENDOR, Edu.DEVICE, null);
            PciDev pdev = pc.vfio_open(found.name());
            Edu edu = bringUp(pc, pdev);
            Device dev = pdev.dev();
            check(pc.dma_set_mask_and_coherent(dev, EDU_MASK) == 0, "per-call: dma_set_mask_and_coherent(28 bits)");
            check(pdev.toString().contains("per-call mapping): 0 mappings"), "per-call: nothing mapped after"
                    + " vfio_open: %s", pdev);
            long ks = pc.kmalloc(2048, GFP_KERNEL);
            long kd = pc.kmalloc(2048, GFP_KERNEL);
            roundTrip(pc, dev, edu, "per-call: kmalloc(2048), dma_map_single", ks, kd, 2000);
            pc.kfree(ks);
            pc.kfree(kd);
            DmaBuffer cs = pc.dma_alloc_coherent(dev, 4000, GFP_KERNEL);
            DmaBuffer cd = pc.dma_alloc_coherent(dev, 4000, GFP_KERNEL);
            check(cs != null && cd != null, "per-call: two dma_alloc_coherent buffers");
            transfer(pc, edu, "per-call: dma_alloc_coherent", cs.cpuAddr(), cs.dmaHandle(), cd.cpuAddr(),
                    cd.dmaHandle(), 4000);
            pc.dma_free_coherent(dev, cs);
            pc.dma_free_coherent(dev, cd);
            check(pdev.toString().contains("per-call mapping): 0 mappings"), "per-call: every unmap and free unmapped:"
                    + " %s", pdev);
            long buf = pc.kmalloc(2048, GFP_KERNEL);
            long iova = pc.dma_map_single(dev, buf, 2048, DMA_FROM_DEVICE);
            check(!pc.dma_mapping_error(dev, iova), "per-call: dma_map_single");
            pc.dma_unmap_single(dev, iova, 2048, DMA_FROM_DEVICE);
            isolation(pc, canaries, dev, edu, "per-call: the IOVA of a buffer after dma_unmap_single", new long[] {buf,
                iova});
            isolation(pc, canaries, dev, edu, "per-call: an IOVA never mapped (a canary page's physical address)",
                    null);
            bench(pc, dev, "per-call IOMMU mappings (VFIO_IOMMU_MAP_DMA + VFIO_IOMMU_UNMAP_DMA each)");
            pc.kfree(buf);
            pc.pci_iounmap(pdev, edu.regs());
            pc.vfio_close(pdev);
        }
    }

    /** Enable, bus master through VFIO's config region, BAR0 through the device fd. */
    private Edu bringUp(MemoryPool pool, PciDev pdev) {
        pool.pci_enable_device(pdev);
        pool.pci_set_master(pdev);
        int cmd = pool.pci_read_config_word(pdev, PCI_COMMAND);
        check((cmd & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)) == (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER),
                "command register through VFIO has memory space and bus master (0x%04x)", cmd);
        IoMem bar = pool.pci_iomap(pdev, 0, 0);
        Edu edu = new Edu(bar, EDU_MASK);
        check(edu.identity() == Edu.IDENTITY, "identity through the VFIO BAR mapping: 0x%08x", edu.identity());
        check(edu.liveness(0x12345678) == ~0x12345678, "liveness through the VFIO BAR mapping");
        check(edu.factorial(10) == 3628800, "factorial through the VFIO BAR mapping");
        say("BAR0 via the VFIO device fd: %s; identity 0x%08x, liveness and factorial ok; command 0x%04x", bar,
                edu.identity(), cmd);
        return edu;
    }

    private void roundTrips(MemoryPool pool, Device dev, Edu edu) throws Exception {
        // kmalloc objects.
        long ks = pool.kmalloc(2048, GFP_KERNEL);
        long kd = pool.kmalloc(2048, GFP_KERNEL);
        roundTrip(pool, dev, edu, "kmalloc(2048), dma_map_single", ks, kd, 2000);
        pool.kfree(ks);
        pool.kfree(kd);
        // An order-2 page block.
        long bs = pool.__get_free_pages(GFP_KERNEL, 2);
        long bd = pool.__get_free_pages(GFP_KERNEL, 2);
        roundTrip(pool, dev, edu, "order-2 block, dma_map_single", bs + 5000, bd + 9000, 4000);
        pool.free_pages(bs, 2);
        pool.free_pages(bd, 2);
        // Each page of a vmalloc area, through dma_map_page of vmalloc_to_page.
        long va = pool.vmalloc(4 * PAGE);
        long vb = pool.vmalloc(4 * PAGE);
        for (int i = 0; i < 4; i++) {
            long sp = pool.pfn_to_page(pool.vmalloc_to_pfn(va + i * PAGE));
            long dp = pool.pfn_to_page(pool.vmalloc_to_pfn(vb + i * PAGE));
            long s = pool.dma_map_page(dev, sp, 0, PAGE, DMA_TO_DEVICE);
            long d = pool.dma_map_page(dev, dp, 0, PAGE, DMA_FROM_DEVICE);
            notPhysical(pool, "vmalloc page " + i, va + i * PAGE, s);
            transfer(pool, edu, "vmalloc page " + i + ", dma_map_page", va + i * PAGE, s, vb + i * PAGE, d, 4000);
            pool.dma_unmap_page(dev, s, PAGE, DMA_TO_DEVICE);
            pool.dma_unmap_page(dev, d, PAGE, DMA_FROM_DEVICE);
        }
        pool.vfree(va);
        pool.vfree(vb);
        // dma_pool blocks.
        DmaPool dp = pool.dma_pool_create("edu-descs", dev, 512, 64, 0);
        long[] hs = new long[1];
        long[] hd = new long[1];
        long ps = pool.dma_pool_alloc(dp, GFP_KERNEL, hs);
        long pd = pool.dma_pool_alloc(dp, GFP_KERNEL, hd);
        notPhysical(pool, "dma_pool block", ps, hs[0]);
        transfer(pool, edu, "dma_pool block", ps, hs[0], pd, hd[0], 512);
        pool.dma_pool_free(dp, ps, hs[0]);
        pool.dma_pool_free(dp, pd, hd[0]);
        pool.dma_pool_destroy(dp);
        // Coherent buffers.
        DmaBuffer cs = pool.dma_alloc_coherent(dev, 8192, GFP_KERNEL);
        DmaBuffer cd = pool.dma_alloc_coherent(dev, 8192, GFP_KERNEL);
        check(cs != null && cd != null, "dma_alloc_coherent");
        notPhysical(pool, "coherent buffer", cs.cpuAddr(), cs.dmaHandle());
        transfer(pool, edu, "dma_alloc_coherent buffer", cs.cpuAddr() + 4096, cs.dmaHandle() + 4096, cd.cpuAddr(),
                cd.dmaHandle(), 4000);
        pool.dma_free_coherent(dev, cs);
        pool.dma_free_coherent(dev, cd);
        // A page whose physical address is above the mask: its IOVA is below it.
        List<Long> held = new ArrayList<>();
        long high = 0;
        for (int i = 0; i < 4096 && high == 0; i++) {
            long p = pool.__get_free_pages(GFP_KERNEL | io.kmem.gfp.Gfp.__GFP_NOWARN, 0);
            if (p == 0) {
                break;
            }
            if (pool.virt_to_phys(p) > EDU_MASK) {
                high = p;
            } else {
                held.add(p);
            }
        }
        if (high == 0) {
            for (long p : held) {
                pool.free_pages(p, 0);
            }
        }
        check(high != 0, "the pool holds a page above 2^28 physically (guest RAM 512 MiB; init fills the low"
                + " memory first)");
        long low = held.isEmpty() ? pool.__get_free_pages(GFP_KERNEL, 0) : held.remove(0);
        say("page at physical 0x%x, above edu's mask 0x%x:", pool.virt_to_phys(high), EDU_MASK);
        roundTrip(pool, dev, edu, "page above the mask physically, dma_map_single", high, low, 4000);
        pool.free_pages(high, 0);
        pool.free_pages(low, 0);
        for (long p : held) {
            pool.free_pages(p, 0);
        }
    }

    /**
     * request_irq over VFIO eventfds: N of N of edu's raise-interrupt register, then a DMA with
     * its completion interrupt, then one handler call that allocates with GFP_KERNEL (reported
     * as sleeping in atomic context) and GFP_ATOMIC (not).
     */
    private void interrupts(MemoryPool pool, PciDev pdev, Edu edu, int kind, String what) throws Exception {
        IoMem r = edu.regs();
        int nvec = pool.pci_alloc_irq_vectors(pdev, 1, 1, kind);
        check(nvec == 1, "pci_alloc_irq_vectors(%s) = %d", what, nvec);
        int irq = pool.pci_irq_vector(pdev, 0);
        java.util.concurrent.atomic.AtomicLong handled = new java.util.concurrent.atomic.AtomicLong();
        java.util.concurrent.atomic.AtomicInteger allocGfp = new java.util.concurrent.atomic.AtomicInteger(-1);
        List<Long> allocs = new java.util.concurrent.CopyOnWriteArrayList<>();
        List<String> threads = new java.util.concurrent.CopyOnWriteArrayList<>();
        String caller = Thread.currentThread().getName();
        int rc = pool.request_irq(irq, n -> {
            int status = r.readl(EDU_IRQ_STATUS);
            if (status == 0) {
                return io.kmem.IrqHandler.IRQ_NONE;
            }
            r.writel(status, EDU_IRQ_ACK);
            int g = allocGfp.get();
            if (g != -1) {
                allocs.add(pool.kmalloc(128, g));
            }
            threads.add(Thread.currentThread().getName());
            handled.incrementAndGet();
            return io.kmem.IrqHandler.IRQ_HANDLED;
        }, "edu-" + what);
        check(rc == 0, "request_irq(%d, %s) = %d", irq, what, rc);
        int n = 20;
        for (int i = 1; i <= n; i++) {
            r.writel(1, EDU_IRQ_RAISE);
            waitFor(handled, i, what + " raise " + i);
        }
        check(handled.get() == n && pool.kstat_irqs(irq) >= n, "%s: %d of %d raised interrupts handled (count %d)",
                what, handled.get(), n, pool.kstat_irqs(irq));
        check(!threads.contains(caller) && threads.stream().allMatch(t -> t.equals("irq/" + irq + "-edu-" + what)),
                "%s: the handler ran on its own thread only: %s", what, threads.get(0));
        // A DMA with its completion interrupt (command bit 2).
        long buf = pool.kmalloc(256, GFP_KERNEL);
        long d = pool.dma_map_single(dev(pdev), buf, 256, DMA_TO_DEVICE);
        r.writeq(d, Edu.REG_DMA_SRC);
        r.writeq(Edu.BUF, Edu.REG_DMA_DST);
        r.writeq(256, Edu.REG_DMA_COUNT);
        r.writeq(Edu.CMD_START | 0x4, Edu.REG_DMA_CMD);
        waitFor(handled, n + 1, what + " DMA completion");
        pool.dma_unmap_single(dev(pdev), d, 256, DMA_TO_DEVICE);
        pool.kfree(buf);
        // Atomic context: GFP_ATOMIC is fine, GFP_KERNEL is reported (then allowed).
        long before = bugReports(pool);
        allocGfp.set(io.kmem.gfp.Gfp.GFP_ATOMIC);
        r.writel(1, EDU_IRQ_RAISE);
        waitFor(handled, n + 2, what + " GFP_ATOMIC handler");
        check(bugReports(pool) == before, "%s: GFP_ATOMIC in the handler is not reported", what);
        allocGfp.set(GFP_KERNEL);
        r.writel(1, EDU_IRQ_RAISE);
        waitFor(handled, n + 3, what + " GFP_KERNEL handler");
        check(bugReports(pool) == before + 1, "%s: GFP_KERNEL in the handler is reported as sleeping in atomic"
                + " context (%d -> %d)", what, before, bugReports(pool));
        for (long a : allocs) {
            check(a != 0, "the handler's allocations succeeded (reported, then allowed)");
            pool.kfree(a);
        }
        say("interrupts ok (%s): %d raised + 1 DMA completion + 2 allocating, delivered to the handler on %s;"
                + " GFP_KERNEL in the handler reported, GFP_ATOMIC not%n%s", what, n, threads.get(0),
                pool.interrupts().strip());
        pool.free_irq(irq);
        pool.pci_free_irq_vectors(pdev);
    }

    private static Device dev(PciDev p) {
        return p.dev();
    }

    private static long bugReports(MemoryPool pool) {
        String s = pool.interrupts();
        String key = "invalid context: ";
        int at = s.lastIndexOf(key);
        return Long.parseLong(s.substring(at + key.length(), s.indexOf(' ', at + key.length())));
    }

    private static void waitFor(java.util.concurrent.atomic.AtomicLong v, long want, String what) throws Exception {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (v.get() < want) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(what + ": interrupt not delivered within 30 s (" + v.get() + " of " + want
                        + ")");
            }
            Thread.sleep(1);
        }
    }

    /** dma_map_single both buffers, DMA src -> device -> dst, compare, unmap. */
    private void roundTrip(MemoryPool pool, Device dev, Edu edu, String what, long src, long dst, int len)
            throws Exception {
        long s = pool.dma_map_single(dev, src, len, DMA_TO_DEVICE);
        long d = pool.dma_map_single(dev, dst, len, DMA_FROM_DEVICE);
        check(!pool.dma_mapping_error(dev, s) && !pool.dma_mapping_error(dev, d), "%s: dma_map_single", what);
        notPhysical(pool, what, src, s);
        transfer(pool, edu, what, src, s, dst, d, len);
        pool.dma_unmap_single(dev, s, len, DMA_TO_DEVICE);
        pool.dma_unmap_single(dev, d, len, DMA_FROM_DEVICE);
    }

    private void transfer(MemoryPool pool, Edu edu, String what, long src, long s, long dst, long d, int len)
            throws Exception {
        dmaThroughEdu(pool, edu, what, src, s, dst, d, len);
        say("round trip ok: %s, %d bytes, IOVAs 0x%x -> 0x%x (physical 0x%x -> 0x%x)", what, len, s, d,
                physOf(pool, src), physOf(pool, dst));
    }

    /** Random bytes at src, through edu by IOVA s into its buffer and back out to IOVA d, compared at dst. */
    private void dmaThroughEdu(MemoryPool pool, Edu edu, String what, long src, long s, long dst, long d, int len)
            throws Exception {
        byte[] pattern = new byte[len];
        random.nextBytes(pattern);
        MemorySegment sm = pool.segment(src, len);
        MemorySegment dm = pool.segment(dst, len);
        MemorySegment.copy(MemorySegment.ofArray(pattern), 0, sm, 0, len);
        dm.fill((byte) 0);
        edu.dmaToDevice(s, 0, len);
        edu.dmaToRam(0, d, len);
        long mismatch = dm.mismatch(MemorySegment.ofArray(pattern));
        check(mismatch == -1, "%s: %d bytes via IOVA 0x%x -> edu -> IOVA 0x%x, first mismatch at %d", what, len, s, d,
                mismatch);
    }

    private void notPhysical(MemoryPool pool, String what, long cpu, long dma) {
        check(dma != physOf(pool, cpu) && dma + 1 <= EDU_MASK, "%s: DMA address 0x%x is an IOVA below the mask,"
                + " not the physical address 0x%x", what, dma, physOf(pool, cpu));
    }

    /** The physical address of a direct-map or vmalloc address. */
    private static long physOf(MemoryPool pool, long addr) {
        try {
            return pool.virt_to_phys(addr);
        } catch (io.kmem.error.BadAddressException vmallocAddress) {
            return pool.vmalloc_to_pfn(addr) * PAGE + (addr & (PAGE - 1));
        }
    }

    /**
     * Tells edu to write its buffer to an IOVA that the domain does not map: the target page stays
     * as it was and the guest kernel logs a DMAR fault. {@code target} null: a canary page at its
     * physical address (the IOVA it would have in dma-direct mode); else {cpu, iova} of a buffer
     * whose mapping is gone.
     */
    private long isolation(MemoryPool pool, MemoryPool canaries, Device dev, Edu edu, String what, long[] target)
            throws Exception {
        long cpu;
        long iova;
        MemoryPool owner = pool;
        if (target == null) {
            owner = canaries;
            cpu = canaries.__get_free_pages(GFP_KERNEL, 0);
            check(cpu != 0 && canaries.virt_to_phys(cpu) < EDU_MASK, "a canary page below 2^28 physically");
            iova = canaries.virt_to_phys(cpu);
        } else {
            cpu = target[0];
            iova = target[1];
        }
        MemorySegment canary = owner.segment(cpu, 64);
        canary.fill((byte) 0xc5);
        byte[] before = canary.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        int faults = dmarFaults();
        if (target == null) {
            // Fill edu's buffer with something else first. (After a reopen nothing is mapped
            // before the probe: a first DMA use would map the pool again, at the same IOVAs.)
            long src = pool.kmalloc(64, GFP_KERNEL);
            pool.segment(src, 64).fill((byte) 0x3c);
            long s = pool.dma_map_single(dev, src, 64, DMA_TO_DEVICE);
            edu.dmaToDevice(s, 0, 64);
            pool.dma_unmap_single(dev, s, 64, DMA_TO_DEVICE);
            pool.kfree(src);
        }
        edu.dmaToRam(0, iova, 64);
        int after = 0;
        for (int i = 0; i < 50 && (after = dmarFaults()) == faults; i++) {
            Thread.sleep(100);
        }
        check(canary.mismatch(MemorySegment.ofArray(before)) == -1, "%s: the target at IOVA 0x%x is untouched", what,
                iova);
        check(after > faults, "%s: the guest kernel logged a DMAR fault for IOVA 0x%x (faults %d -> %d)", what, iova,
                faults, after);
        say("isolation ok: %s: edu's write to IOVA 0x%x did not land (target bytes unchanged), DMAR faults %d -> %d;"
                + " %s", what, iova, faults, after, lastDmarLine());
        if (target == null) {
            canaries.free_pages(cpu, 0);
        }
        return iova;
    }

    private void bench(MemoryPool pool, Device dev, String how) {
        long buf = pool.kmalloc(2048, GFP_KERNEL);
        int n = how.startsWith("per-call") ? 2_000 : 20_000;
        for (int round = 0; round < 3; round++) {
            long t = System.nanoTime();
            for (int i = 0; i < n; i++) {
                long d = pool.dma_map_single(dev, buf, 2048, DMA_BIDIRECTIONAL);
                pool.dma_unmap_single(dev, d, 2048, DMA_BIDIRECTIONAL);
            }
            long ns = (System.nanoTime() - t) / n;
            say("bench round %d: dma_map_single + dma_unmap_single of 2 KiB through %s: %d ns per pair (TCG guest)",
                    round, how, ns);
        }
        pool.kfree(buf);
    }

    private static int dmarFaults() throws Exception {
        int n = 0;
        for (String l : dmesg()) {
            if (l.contains("DMAR") && l.contains("fault")) {
                n++;
            }
        }
        return n;
    }

    private static String lastDmarLine() throws Exception {
        String last = "(no DMAR line)";
        for (String l : dmesg()) {
            if (l.contains("DMAR") && (l.contains("fault") || l.contains("Request device"))) {
                last = "dmesg: " + l.strip();
            }
        }
        return last;
    }

    private static List<String> dmesg() throws Exception {
        Process p = new ProcessBuilder("/bin/dmesg").redirectErrorStream(true).start();
        List<String> lines = new String(p.getInputStream().readAllBytes()).lines().toList();
        p.waitFor();
        return lines;
    }

    private void check(boolean ok, String format, Object... args) {
        checks++;
        if (!ok) {
            throw new AssertionError(String.format(format, args));
        }
    }

    private static void say(String format, Object... args) {
        System.out.println("kmem-vmtest: " + String.format(format, args));
        System.out.flush();
    }
}
