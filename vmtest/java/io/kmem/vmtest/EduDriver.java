package io.kmem.vmtest;

import static io.kmem.DmaDirection.DMA_BIDIRECTIONAL;
import static io.kmem.DmaDirection.DMA_FROM_DEVICE;
import static io.kmem.DmaDirection.DMA_TO_DEVICE;
import static io.kmem.DmaApi.DMA_BIT_MASK;
import static io.kmem.DmaApi.DMA_MAPPING_ERROR;
import static io.kmem.gfp.Gfp.GFP_DMA32;
import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static io.kmem.gfp.Gfp.__GFP_NOWARN;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import io.kmem.Device;
import io.kmem.DmaBuffer;
import io.kmem.DmaDirection;
import io.kmem.DmaPool;
import io.kmem.IoMem;
import io.kmem.DmaApi;
import io.kmem.MemoryPool;
import io.kmem.IrqHandler;
import io.kmem.PciApi;
import io.kmem.PciDev;
import io.kmem.Scatterlist;
import io.kmem.SgTable;
import io.kmem.Resource;
import io.kmem.VmStruct;
import io.kmem.error.BadAddressException;
import io.kmem.error.KmemException;
import io.kmem.error.ResourceBusyException;
import io.kmem.stats.FrameVerification;
import io.kmem.stats.PageStats;
import io.kmem.stats.SlabCacheStats;
import java.lang.foreign.MemorySegment;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A user-space driver for QEMU's edu device, written on kmem's API only (no FFM, no sysfs of
 * its own), run as root inside the guest of {@code make vm-test}. It proves kmem's PCI
 * helpers, ioremap and accessors on a real device, and kmem's physical and DMA addresses by
 * having the device DMA to and from them:
 *
 * <ol>
 *   <li>{@code pci_get_device}, {@code pci_enable_device}, {@code pci_set_master} (the command
 *       register read back through {@code pci_read_config_word}), BAR0 from
 *       {@code pci_resource_start}/{@code _len}/{@code _flags}; {@code request_mem_region} of
 *       the BAR, refused a second time with {@code ResourceBusyException}; the BAR's lines of
 *       {@code iomem()};</li>
 *   <li>BAR0 mapped by {@code pci_iomap} ({@code resource0}) and by {@code ioremap} (through
 *       {@code /dev/mem}): both areas in the pool's vmalloc window, listed by vmallocinfo as
 *       {@code ioremap}; identity and liveness through both, a write through one read through
 *       the other, the factorial unit;</li>
 *   <li>in a pool built for the device's 28-bit DMA mask, after
 *       {@code dma_set_mask_and_coherent(dev, DMA_BIT_MASK(28))}: buffers filled with random
 *       bytes, DMA'd RAM to device to a second buffer, compared byte for byte (a wrong
 *       address reads or writes some other page, and the comparison fails). The DMA addresses
 *       come from kmem's DMA API only: {@code dma_alloc_coherent}, {@code dma_map_page} of a
 *       GFP_DMA32 page and of each page of a vmalloc area (through {@code vmalloc_to_pfn}),
 *       {@code dma_map_single} of kmalloc objects and an order-2 block, {@code dma_pool_alloc}
 *       blocks; each checked with {@code dma_mapping_error}, unmapped after, and checked
 *       against pagemap before the device sees it;</li>
 *   <li>a page above 2^28 from a pool without a mask: kmem's {@code dma_map_single} and
 *       {@code dma_map_page} refuse it ({@code DMA_MAPPING_ERROR}), so it never reaches the
 *       device; the same page maps for a device with a 64-bit mask. The device's own 4095-byte
 *       limit is the driver's to keep ({@link Edu});</li>
 *   <li>{@code iounmap}/{@code pci_iounmap} (later accesses throw), {@code release_mem_region}.</li>
 *   <li>interrupts over UIO: {@code pci_alloc_irq_vectors} refuses a function with no interrupt
 *       source, naming uio_pci_generic; edu is then bound to {@code uio_pci_generic}
 *       ({@code driver_override}, as an administrator would once), and the kernel's sequence,
 *       {@code pci_alloc_irq_vectors(dev, 1, 1, PCI_IRQ_ALL_TYPES)} (INTx is what UIO has),
 *       {@code pci_irq_vector}, {@code request_irq}, delivers N of N of edu's raise-interrupt
 *       register and a DMA completion interrupt to the handler, on its own thread.</li>
 * </ol>
 *
 * <p>Output: every line starts with {@code kmem-vmtest:}. The last line is
 * {@code kmem-vmtest: PASS ...} (exit 0) or {@code kmem-vmtest: FAIL ...} followed by the
 * exception (exit 1). {@code tools/vm-test} on the host passes only on the PASS line.
 */
public final class EduDriver {

    private static final long PAGE = 4096;
    private static final long MIB = 1 << 20;
    private static final long EDU_MASK = DMA_BIT_MASK(Edu.DMA_BITS);
    /** {@code IORESOURCE_MEM}. */
    private static final long IORESOURCE_MEM = 0x200;
    /** Configuration space: the command register and its memory space and bus master bits. */
    private static final int PCI_COMMAND = 0x04;
    private static final int PCI_COMMAND_MEMORY = 0x2;
    private static final int PCI_COMMAND_MASTER = 0x4;

    private final long t0 = System.nanoTime();
    private int checks;
    /** Allocations of the driver's pool that returned NULL, as they may (the pool's failure count must agree). */
    private int nullsSeen;

    /** edu's interrupt registers: status (what raised it), raise, acknowledge. */
    private static final long EDU_IRQ_STATUS = 0x24;
    private static final long EDU_IRQ_RAISE = 0x60;
    private static final long EDU_IRQ_ACK = 0x64;
    /** edu's DMA command bit: raise an interrupt when the transfer is done. */
    private static final long EDU_CMD_IRQ = 0x4;

    public static void main(String[] args) {
        EduDriver driver = new EduDriver();
        try {
            driver.run();
            say("PASS: %d checks, %d ms in the driver", driver.checks, driver.elapsedMs());
            System.exit(0);
        } catch (Throwable t) {
            say("FAIL: %s", t);
            t.printStackTrace(System.out);
            System.out.flush();
            System.exit(1);
        }
    }

    /**
     * Milliseconds since this process started, in 10 ms ticks: {@code /proc/uptime} now less
     * the process's start time in {@code /proc/self/stat} (field 22, clock ticks after boot,
     * USER_HZ 100). Both count from the boot; {@code ProcessHandle.Info.startInstant} adds the
     * boot time, which the kernel gives in whole seconds, and so is off by up to a second.
     */
    private static long msSinceProcessStart() throws IOException {
        String stat = Files.readString(Path.of("/proc/self/stat"));
        String[] after = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        long startTicks = Long.parseLong(after[22 - 3]); // fields 3.. follow the command's ')'
        double uptime = Double.parseDouble(Files.readString(Path.of("/proc/uptime")).split(" ")[0]);
        return Math.round(uptime * 1000) - startTicks * 10;
    }

    private void run() throws Exception {
        say("start: %s, Java %s, pid %d, %d MiB RAM", Files.readString(Path.of("/proc/version")).strip(),
                Runtime.version(), ProcessHandle.current().pid(), memTotalMiB());
        try (MemoryPool pool = MemoryPool.builder().name("edu").smallPages(8 * MIB).dmaMask(EDU_MASK).build()) {
            // The cold start: from the JVM process's start to the first pool.
            say("[%6d ms] pool: '%s' built, %d ms in main", msSinceProcessStart(), pool.name(), elapsedMs());
            // 1. The device, enabled, its BAR claimed.
            PciDev pdev = pool.pci_get_device(Edu.VENDOR, Edu.DEVICE, null);
            check(pdev != null, "pci_get_device(0x%04x, 0x%04x, null) finds the edu device (is QEMU started with"
                    + " -device edu?)", Edu.VENDOR, Edu.DEVICE);
            check(pool.pci_get_device(Edu.VENDOR, Edu.DEVICE, pdev) == null, "one edu device only");
            long bar = pool.pci_resource_start(pdev, 0);
            long len = pool.pci_resource_len(pdev, 0);
            long flags = pool.pci_resource_flags(pdev, 0);
            check((flags & IORESOURCE_MEM) != 0 && len == MIB, "BAR0 of %s is a 1 MiB memory BAR: start 0x%x, len %d,"
                    + " flags 0x%x", pdev.name(), bar, len, flags);
            say("pci_get_device: %s, vendor 0x%04x device 0x%04x class 0x%06x; BAR0 phys 0x%x, %d KiB, flags 0x%x",
                    pdev.name(), pdev.vendor(), pdev.device(), pdev.classCode(), bar, len >> 10, flags);
            int before = pool.pci_read_config_word(pdev, PCI_COMMAND);
            pool.pci_enable_device(pdev);
            pool.pci_set_master(pdev);
            int after = pool.pci_read_config_word(pdev, PCI_COMMAND);
            check((after & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)) == (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER),
                    "command register has memory space and bus master set (0x%04x)", after);
            say("pci_enable_device, pci_set_master: command register 0x%04x -> 0x%04x (memory space, bus master)",
                    before, after);
            resources(pool, bar, len);

            // 2. BAR0 through resource0 and through /dev/mem.
            IoMem viaResource = pool.pci_iomap(pdev, 0, 0);
            IoMem viaDevMem = pool.ioremap(bar, len);
            checkIoremapAreas(pool, bar, len, viaResource, viaDevMem);
            Device dev = pdev.dev();
            Edu edu = new Edu(viaResource, EDU_MASK);
            Edu eduMem = new Edu(viaDevMem, EDU_MASK);
            for (Edu e : List.of(edu, eduMem)) {
                int id = e.identity();
                check(id == Edu.IDENTITY, "identity via %s: 0x%08x (expected 0x%08x)", e.regs(), id, Edu.IDENTITY);
                for (int v : new int[] {0x12345678, 0, -1, 0xa5a55a5a}) {
                    int back = e.liveness(v);
                    check(back == ~v, "liveness via %s: wrote 0x%08x, read 0x%08x (expected 0x%08x)", e.regs(), v,
                            back, ~v);
                }
                say("readl/writel via %s at va 0x%x: identity 0x%08x, liveness ok", e.regs().kind(),
                        e.regs().address(), id);
            }
            viaResource.writel(0x0badf00d, Edu.REG_LIVENESS);
            int seen = viaDevMem.readl(Edu.REG_LIVENESS);
            check(seen == ~0x0badf00d, "a liveness write through pci_iomap reads back through ioremap: 0x%08x", seen);
            viaDevMem.writel(0x600dcafe, Edu.REG_LIVENESS);
            int seen2 = viaResource.readl(Edu.REG_LIVENESS);
            check(seen2 == ~0x600dcafe, "a liveness write through ioremap reads back through pci_iomap: 0x%08x", seen2);
            say("both mappings reach the same register: writel 0x0badf00d via pci_iomap, readl 0x%08x via ioremap;"
                    + " writel 0x600dcafe via ioremap, readl 0x%08x via pci_iomap", seen, seen2);
            for (int n : new int[] {0, 5, 10, 12}) {
                int f = edu.factorial(n);
                check(f == factorial(n), "factorial(%d) = %d (expected %d)", n, f, factorial(n));
            }
            check(eduMem.factorial(10) == 3628800, "factorial(10) via ioremap");
            say("factorial: 0! 5! 10! 12! right via pci_iomap, 10! via ioremap");

            // 3. DMA through kmem's DMA API, 4. the refusal above the mask.
            dma(pool, dev, edu);
            helpers(pool, pdev, dev, edu);
            refusal(dev, edu);
            // The pool's report records, read from this module: every frame still at the PFN
            // the device was given, no allocation failed but those the driver saw fail, the
            // kmalloc objects all freed.
            FrameVerification v = pool.verify();
            check(v.ok() && v.framesChecked() == pool.frames(), "verify: %d of %d frames checked, moved: %s",
                    v.framesChecked(), pool.frames(), v.moved());
            PageStats pages = pool.pageStats();
            check(pages.failures() == nullsSeen, "page allocation failures: %d counted, %d seen: %s", pages.failures(),
                    nullsSeen, pages);
            for (SlabCacheStats c : pool.slabStats()) {
                check(!c.name().startsWith("kmalloc-") || c.activeObjs() == 0, "%s: no object left allocated: %s",
                        c.name(), c);
            }
            say("verify: %d frames at their PFNs after the transfers; %d failed allocation(s), as seen; kmalloc"
                    + " caches empty", v.framesChecked(), pages.failures());

            // 5. Unmapped, released.
            pool.iounmap(viaDevMem);
            pool.pci_iounmap(pdev, viaResource);
            for (IoMem io : List.of(viaResource, viaDevMem)) {
                try {
                    io.readl(Edu.REG_ID);
                    check(false, "a readl after iounmap of %s was let through", io);
                } catch (BadAddressException e) {
                    checks++;
                }
            }
            check(pool.vmallocinfo().lines().noneMatch(l -> l.endsWith(" ioremap")),
                    "vmallocinfo lists no ioremap area after iounmap and pci_iounmap:%n%s", pool.vmallocinfo());
            pool.release_mem_region(bar, len);
            check(pool.iomem().lines().noneMatch(l -> l.endsWith(" : edu")), "iomem has no 'edu' after"
                    + " release_mem_region");
            say("iounmap, pci_iounmap: readl through either throws BadAddressException, vmallocinfo lists neither;"
                    + " release_mem_region: the BAR is free again");

            // 6. Interrupts over UIO.
            uioInterrupts(pool, pdev);
        }
    }

    /**
     * Physical-address mode's interrupts: edu bound to uio_pci_generic, INTx read from
     * /dev/uioN (the count) and re-enabled by a write of 1, behind pci_alloc_irq_vectors and
     * request_irq as a kernel driver would call them.
     */
    private void uioInterrupts(MemoryPool pool, PciDev pdev) throws Exception {
        try {
            int n = pool.pci_alloc_irq_vectors(pdev, 1, 1, PciApi.PCI_IRQ_ALL_TYPES);
            check(false, "pci_alloc_irq_vectors of a function bound to no driver returned %d", n);
        } catch (KmemException e) {
            check(e.getMessage().contains("uio_pci_generic") && e.getMessage().contains("vfio_open"),
                    "pci_alloc_irq_vectors without an interrupt source names the fix: %s", e.getMessage());
        }
        Path dir = Path.of("/sys/bus/pci/devices", pdev.name());
        Files.writeString(dir.resolve("driver_override"), "uio_pci_generic");
        Files.writeString(Path.of("/sys/bus/pci/drivers_probe"), pdev.name());
        String driver = Files.readSymbolicLink(dir.resolve("driver")).getFileName().toString();
        check(driver.equals("uio_pci_generic") && Files.isDirectory(dir.resolve("uio")),
                "%s bound to %s, with a uio device", pdev.name(), driver);
        check(pool.pci_alloc_irq_vectors(pdev, 1, 1, PciApi.PCI_IRQ_MSI | PciApi.PCI_IRQ_MSIX) == -28,
                "pci_alloc_irq_vectors(MSI|MSI-X) of a UIO function is -ENOSPC (UIO has INTx only)");
        int nvec = pool.pci_alloc_irq_vectors(pdev, 1, 1, PciApi.PCI_IRQ_ALL_TYPES);
        check(nvec == 1, "pci_alloc_irq_vectors(dev, 1, 1, PCI_IRQ_ALL_TYPES) = %d (INTx)", nvec);
        int irq = pool.pci_irq_vector(pdev, 0);
        check(irq > 0 && pool.pci_irq_vector(pdev, 1) == -22, "pci_irq_vector: vector 0 is irq %d, vector 1 -EINVAL",
                irq);
        IoMem r = pool.pci_iomap(pdev, 0, 0);
        java.util.concurrent.atomic.AtomicLong handled = new java.util.concurrent.atomic.AtomicLong();
        List<String> threads = new java.util.concurrent.CopyOnWriteArrayList<>();
        String caller = Thread.currentThread().getName();
        int rc = pool.request_irq(irq, i -> {
            int status = r.readl(EDU_IRQ_STATUS);
            if (status == 0) {
                return IrqHandler.IRQ_NONE;
            }
            r.writel(status, EDU_IRQ_ACK);
            threads.add(Thread.currentThread().getName());
            handled.incrementAndGet();
            return IrqHandler.IRQ_HANDLED;
        }, "edu-uio");
        check(rc == 0, "request_irq(%d, edu-uio) = %d", irq, rc);
        int n = 20;
        for (int i = 1; i <= n; i++) {
            r.writel(1, EDU_IRQ_RAISE);
            waitFor(handled, i, "UIO raise " + i);
        }
        // A DMA with its completion interrupt, to a physical address from the mask-built pool.
        Device dev = pdev.dev();
        long buf = pool.kmalloc(256, GFP_KERNEL);
        long d = pool.dma_map_single(dev, buf, 256, DmaDirection.DMA_TO_DEVICE);
        pool.pci_set_master(pdev);
        r.writeq(d, Edu.REG_DMA_SRC);
        r.writeq(Edu.BUF, Edu.REG_DMA_DST);
        r.writeq(256, Edu.REG_DMA_COUNT);
        r.writeq(Edu.CMD_START | EDU_CMD_IRQ, Edu.REG_DMA_CMD);
        waitFor(handled, n + 1, "UIO DMA completion");
        pool.dma_unmap_single(dev, d, 256, DmaDirection.DMA_TO_DEVICE);
        pool.kfree(buf);
        String report = pool.interrupts();
        check(handled.get() == n + 1 && pool.kstat_irqs(irq) == n + 1, "UIO: %d of %d interrupts handled (kstat_irqs"
                + " %d)", handled.get(), n + 1, pool.kstat_irqs(irq));
        check(!threads.contains(caller) && threads.stream().allMatch(t -> t.equals("irq/" + irq + "-edu-uio")),
                "UIO: the handler ran on its own thread only: %s", threads.get(0));
        check(report.contains("UIO-INTx") && report.contains("edu-uio"), "interrupts() lists the UIO line:%n%s",
                report);
        pool.free_irq(irq);
        pool.pci_free_irq_vectors(pdev);
        pool.pci_iounmap(pdev, r);
        say("interrupts over UIO ok: %s bound to uio_pci_generic, %d raised + 1 DMA completion delivered to the"
                + " handler on %s%n%s", pdev.name(), n, threads.get(0), report.strip());
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

    /** request_mem_region of the BAR, a refused overlapping request, the BAR's lines of iomem(). */
    private void resources(MemoryPool pool, long bar, long len) {
        Resource r = pool.request_mem_region(bar, len, "edu");
        check(r.start() == bar && r.size() == len, "request_mem_region(0x%x, %d, \"edu\") claims the BAR: %s", bar,
                len, r);
        say("request_mem_region: %s", r);
        try {
            Resource again = pool.request_mem_region(bar + 0x1000, 0x1000, "edu-again");
            check(false, "a second, overlapping request_mem_region was granted: %s", again);
        } catch (ResourceBusyException e) {
            checks++;
            say("refused, as it must be: %s", e.getMessage());
        }
        List<String> lines = new ArrayList<>();
        for (String line : pool.iomem().lines().toList()) {
            String[] f = line.strip().split(" : ", 2)[0].split("-");
            if (f.length == 2 && Long.compareUnsigned(Long.parseUnsignedLong(f[0], 16), bar + len - 1) <= 0
                    && Long.compareUnsigned(Long.parseUnsignedLong(f[1], 16), bar) >= 0) {
                lines.add(line);
            }
        }
        String edu = String.format("%08x-%08x : edu", bar, bar + len - 1);
        check(lines.stream().anyMatch(l -> l.strip().equals(edu)), "iomem() shows '%s' among %s", edu, lines);
        say("iomem(), the lines of the BAR:");
        for (String l : lines) {
            say("    %s", l);
        }
    }

    /** Both mappings of the BAR are areas of the vmalloc window, listed by vmallocinfo as ioremap. */
    private void checkIoremapAreas(MemoryPool pool, long bar, long len, IoMem... maps) {
        String phys = String.format("phys=0x%016x ioremap", bar);
        List<String> lines = pool.vmallocinfo().lines().filter(l -> l.endsWith(" ioremap")).toList();
        for (IoMem io : maps) {
            check(io.size() == len && io.phys() == bar, "%s maps %d bytes at phys 0x%x", io, len, bar);
            check(pool.is_vmalloc_addr(io.address()), "%s lies in the pool's vmalloc window", io);
            VmStruct area = pool.find_vm_area(io.address());
            check(area != null && area.addr() == io.address() && area.flags() == VmStruct.VM_IOREMAP
                    && area.physAddr() == bar && area.areaSize() == len,
                    "find_vm_area(0x%x) is the ioremap area of the BAR: %s", io.address(), area);
            String start = String.format("0x%016x-", io.address());
            check(lines.stream().anyMatch(l -> l.startsWith(start) && l.endsWith(phys)),
                    "vmallocinfo lists %s as ioremap of phys 0x%x:%n%s", io, bar, pool.vmallocinfo());
        }
        say("pci_iomap(dev, 0, 0) = %s; ioremap(0x%x, %d) = %s", maps[0], bar, len, maps[1]);
        say("vmallocinfo, the ioremap lines (areas of the pool's vmalloc window, guard page counted):");
        for (String l : lines) {
            say("    %s", l);
        }
    }

    /** Step 3: DMA through kmem buffers whose DMA addresses come from kmem's DMA API. */
    private void dma(MemoryPool pool, Device dev, Edu edu) throws Exception {
        check(pool.dma_set_mask(dev, DMA_BIT_MASK(20)) == -5 && pool.dma_get_mask(dev) == DMA_BIT_MASK(32),
                "dma_set_mask(DMA_BIT_MASK(20)) is -EIO (below the DMA zone's 16 MiB), the mask unchanged");
        int rc = pool.dma_set_mask_and_coherent(dev, EDU_MASK);
        check(rc == 0 && dev.dma_mask() == EDU_MASK && dev.coherent_dma_mask() == EDU_MASK,
                "dma_set_mask_and_coherent(%s, DMA_BIT_MASK(28)) = %d, masks 0x%x 0x%x", dev.name(), rc,
                dev.dma_mask(), dev.coherent_dma_mask());
        say("dma_set_mask(DMA_BIT_MASK(20)) = -EIO; dma_set_mask_and_coherent(%s, DMA_BIT_MASK(28)) = 0: dma_mask"
                + " 0x%x, coherent_dma_mask 0x%x", dev.name(), dev.dma_mask(), dev.coherent_dma_mask());

        long[] pfns = pool.pfns();
        long below16m = 0;
        for (long pfn : pfns) {
            check((pfn + 1) * PAGE - 1 <= EDU_MASK, "frame pfn 0x%x of the DMA-mask pool ends below 2^28", pfn);
            below16m += pfn < (16 * MIB) / PAGE ? 1 : 0;
        }
        for (long pfn : pfns) {
            long va = pool.phys_to_virt(pfn * PAGE);
            long now = pool.pagemapPfn(va);
            check(now == pfn, "pagemap says pfn 0x%x for the frame the pool holds as pfn 0x%x (va 0x%x)", now, pfn, va);
        }
        say("pool 'edu' (dmaMask 0x%x): %d frames, pfn 0x%x..0x%x (phys 0x%x..0x%x), %d below 16 MiB; pagemap agrees",
                EDU_MASK, pfns.length, pfns[0], pfns[pfns.length - 1], pfns[0] * PAGE,
                (pfns[pfns.length - 1] + 1) * PAGE - 1, below16m);

        Mapper single = (va, len, dir) -> {
            long d = pool.dma_map_single(dev, va, len, dir);
            mapped("dma_map_single", pool, dev, va, len, dir, d);
            return new DmaView(d, null, () -> pool.dma_unmap_single(dev, d, len, dir));
        };
        Mapper page = (va, len, dir) -> {
            long pg = pool.virt_to_page(va);
            long d = pool.dma_map_page(dev, pg, va - pool.page_address(pg), len, dir);
            mapped("dma_map_page", pool, dev, va, len, dir, d);
            return new DmaView(d, null, () -> pool.dma_unmap_page(dev, d, len, dir));
        };
        Mapper vmallocPages = (va, len, dir) -> {
            int n = (int) ((va + len - 1) / PAGE - va / PAGE + 1);
            long[] ds = new long[n];
            for (int i = 0; i < n; i++) {
                long p = (va & -PAGE) + i * PAGE;
                long pfn = pool.vmalloc_to_pfn(p);
                ds[i] = pool.dma_map_page(dev, pool.pfn_to_page(pfn), 0, PAGE, dir);
                mapped("dma_map_page", pool, dev, p, PAGE, dir, ds[i]);
                check(ds[i] == pfn * PAGE, "dma_map_page of vmalloc page 0x%x gives dma 0x%x, vmalloc_to_pfn pfn 0x%x",
                        p, ds[i], pfn);
            }
            return new DmaView(ds[0] + (va & (PAGE - 1)), ds, () -> {
                for (long d : ds) {
                    pool.dma_unmap_page(dev, d, PAGE, dir);
                }
            });
        };

        // dma_alloc_coherent: the device's and the CPU's at once, no mapping.
        DmaBuffer cs = pool.dma_alloc_coherent(dev, 6000, GFP_KERNEL);
        DmaBuffer cd = pool.dma_alloc_coherent(dev, 6000, GFP_KERNEL);
        check(cs != null && cd != null, "two dma_alloc_coherent(6000) buffers");
        for (DmaBuffer b : List.of(cs, cd)) {
            check(b.dmaHandle() == pool.virt_to_phys(b.cpuAddr()) && b.dmaHandle() + 2 * PAGE - 1 <= EDU_MASK,
                    "%s: the DMA handle is the CPU address's physical address, within the mask", b);
            check(pool.segment(b.cpuAddr(), b.size()).mismatch(MemorySegment.ofArray(new byte[(int) b.size()])) == -1,
                    "%s is zeroed", b);
        }
        say("dma_alloc_coherent(%s, 6000, GFP_KERNEL): %s and %s, zeroed", dev.name(), cs, cd);
        roundTrip(edu, pool, dev, "dma_alloc_coherent buffer", cs.cpuAddr(), cd.cpuAddr(), 6000, 0,
                coherent(cs), coherent(cd));
        pool.dma_free_coherent(dev, cs);
        pool.dma_free_coherent(dev, cd);

        long dmaPage = pool.__get_dma_pages(GFP_KERNEL | __GFP_NOWARN, 0);
        if (dmaPage == 0) {
            nullsSeen++;
            check(below16m == 0, "__get_dma_pages returned NULL although the pool holds %d frames below 16 MiB",
                    below16m);
            say("__get_dma_pages(GFP_KERNEL, 0): NULL, right: the guest kernel gave the pool no ZONE_DMA frame"
                    + " (below 16 MiB); a GFP_DMA32 page of this pool (below 2^28 by its mask) is used instead");
        } else {
            long dst = pool.__get_dma_pages(GFP_KERNEL, 0);
            check(dst != 0, "a second __get_dma_pages page");
            roundTrip(edu, pool, dev, "__get_dma_pages page, dma_map_single", dmaPage, dst, PAGE, 0, single, single);
            pool.free_page(dmaPage);
            pool.free_page(dst);
        }

        long a = pool.alloc_pages(GFP_KERNEL | GFP_DMA32, 0);
        long b = pool.alloc_pages(GFP_KERNEL | GFP_DMA32, 0);
        check(a != 0 && b != 0, "two alloc_pages(GFP_DMA32, 0) pages from the DMA-mask pool");
        roundTrip(edu, pool, dev, "alloc_pages(GFP_DMA32) page, dma_map_page", pool.page_address(a),
                pool.page_address(b), PAGE, 0, page, page);
        pool.__free_pages(a, 0);
        pool.__free_pages(b, 0);

        for (long[] kind : new long[][] {{4000, 0}, {192, 0x800}}) {
            long src = pool.kmalloc(kind[0], GFP_KERNEL);
            long dst = pool.kmalloc(kind[0], GFP_KERNEL);
            check(src != 0 && dst != 0, "two kmalloc(%d) objects", kind[0]);
            long slack = pool.ksize(dst) - kind[0];
            pool.segment(dst + kind[0], slack).fill((byte) 0x5a);
            roundTrip(edu, pool, dev, "kmalloc(" + kind[0] + "), dma_map_single", src, dst, kind[0], (int) kind[1],
                    single, single);
            MemorySegment tail = pool.segment(dst + kind[0], slack);
            for (long i = 0; i < slack; i++) {
                check(tail.get(JAVA_BYTE, i) == 0x5a, "kmalloc(%d): byte %d past the transfer untouched", kind[0],
                        kind[0] + i);
            }
            pool.kfree(src);
            pool.kfree(dst);
        }

        long va = pool.vmalloc(5 * PAGE);
        long vb = pool.vmalloc(5 * PAGE);
        check(va != 0 && vb != 0, "two vmalloc areas of 5 pages");
        roundTrip(edu, pool, dev, "vmalloc area, dma_map_page of each page through vmalloc_to_pfn", va, vb, 5 * PAGE,
                0, vmallocPages, vmallocPages);
        pool.vfree(va);
        pool.vfree(vb);

        long blk = pool.__get_free_pages(GFP_KERNEL, 2);
        long blk2 = pool.__get_free_pages(GFP_KERNEL, 2);
        check(blk != 0 && blk2 != 0, "two order-2 blocks");
        roundTrip(edu, pool, dev, "order-2 block, dma_map_single", blk, blk2, 4 * PAGE, 0, single, single);
        pool.free_pages(blk, 2);
        pool.free_pages(blk2, 2);

        DmaPool dp = pool.dma_pool_create("edu-desc", dev, 256, 64, PAGE);
        long[] hs = new long[1];
        long[] hd = new long[1];
        long bs = pool.dma_pool_alloc(dp, GFP_KERNEL, hs);
        long bd = pool.dma_pool_zalloc(dp, GFP_KERNEL, hd);
        check(bs != 0 && bd != 0, "two blocks of %s", dp);
        for (long[] blkh : new long[][] {{bs, hs[0]}, {bd, hd[0]}}) {
            check(blkh[1] % 64 == 0 && blkh[1] == pool.virt_to_phys(blkh[0]) && blkh[1] + 255 <= EDU_MASK,
                    "dma_pool block cpu 0x%x dma 0x%x: aligned to 64, its physical address, within the mask",
                    blkh[0], blkh[1]);
        }
        say("dma_pool_create(\"edu-desc\", %s, 256, 64, 4096): %s; blocks cpu 0x%x dma 0x%x, cpu 0x%x dma 0x%x",
                dev.name(), dp, bs, hs[0], bd, hd[0]);
        roundTrip(edu, pool, dev, "dma_pool block", bs, bd, 256, 0x100, coherent(hs[0]), coherent(hd[0]));
        pool.dma_pool_free(dp, bs, hs[0]);
        pool.dma_pool_free(dp, bd, hd[0]);
        pool.dma_pool_destroy(dp);
        check(pool.takeDmaReports().isEmpty(), "dma_pool_destroy of an idle pool reports nothing");
        check(dev.liveMappings() == 0, "%s holds no streaming mapping after every unmap", dev);
    }

    /**
     * Step 4: a page above the mask, from a pool without one. A fresh guest kernel hands out its
     * lowest free frames first, so a pool must take about everything below 256 MiB before it
     * sees a frame above: this one starts at 32 MiB and grows (GFP_KERNEL) until a page above
     * the mask turns up. kmem's map must refuse it; nothing is handed to the device.
     */
    private void refusal(Device dev, Edu edu) {
        try (MemoryPool wide = MemoryPool.builder().name("wide").smallPages(32 * MIB).maxSmallPages(256 * MIB)
                .build()) {
            List<Long> taken = new ArrayList<>();
            long high = 0;
            while (high == 0) {
                long p = wide.__get_free_page(GFP_KERNEL | __GFP_NOWARN);
                if (p == 0) {
                    break;
                }
                taken.add(p);
                if (wide.virt_to_phys(p) > EDU_MASK) {
                    high = p;
                }
            }
            check(high != 0, "a page above 2^28 in pool 'wide' (%d pages taken, all below)", taken.size());
            long pa = wide.virt_to_phys(high);
            check(wide.pagemapPfn(high) == pa / PAGE, "pagemap agrees for va 0x%x", high);
            say("pool 'wide' (no mask): page %d taken, va 0x%x pa 0x%x, lies above 2^28; the pool grew to %d frames",
                    taken.size(), high, pa, wide.frames());
            int live = dev.liveMappings();
            for (DmaDirection dir : List.of(DMA_TO_DEVICE, DMA_FROM_DEVICE)) {
                long d = wide.dma_map_single(dev, high, 64, dir);
                check(wide.dma_mapping_error(dev, d) && d == DMA_MAPPING_ERROR,
                        "dma_map_single(%s, pa 0x%x, 64, %s) above the mask returned 0x%x, not DMA_MAPPING_ERROR",
                        dev.name(), pa, dir, d);
                say("refused by kmem, as it must be: dma_map_single(%s, va 0x%x (pa 0x%x), 64, %s) = DMA_MAPPING_ERROR;"
                        + " nothing handed to the device", dev.name(), high, pa, dir);
            }
            long d = wide.dma_map_page(dev, wide.virt_to_page(high), 0, PAGE, DMA_BIDIRECTIONAL);
            check(wide.dma_mapping_error(dev, d), "dma_map_page of pa 0x%x above the mask returned 0x%x", pa, d);
            check(dev.liveMappings() == live, "the refused maps left no mapping on %s", dev);
            say("refused by kmem, as it must be: dma_map_page(%s, pfn 0x%x, 0, 4096, DMA_BIDIRECTIONAL) ="
                    + " DMA_MAPPING_ERROR", dev.name(), pa / PAGE);

            Device wide64 = new Device("64-bit control");
            check(wide.dma_set_mask(wide64, DMA_BIT_MASK(64)) == 0, "dma_set_mask(DMA_BIT_MASK(64))");
            long ok = wide.dma_map_single(wide64, high, 64, DMA_TO_DEVICE);
            check(ok == pa, "the same page maps for a device with a 64-bit mask: dma 0x%x (pa 0x%x)", ok, pa);
            wide.dma_unmap_single(wide64, ok, 64, DMA_TO_DEVICE);
            say("the same page maps for a device with a 64-bit mask (dma 0x%x): the refusal is edu's 28-bit mask", ok);
            for (long p : taken) {
                wide.free_page(p);
            }
        }
        try {
            edu.check(0x100000, 0, Edu.BUF_SIZE);
            check(false, "a 4096-byte transfer was allowed");
        } catch (Edu.DmaRefused e) {
            checks++;
            say("refused by the driver, as it must be: a full 4096-byte transfer (QEMU 7.2's edu would stop the"
                    + " VM): %s", e.getMessage());
        }
    }

    /**
     * Step 3b, the driver helpers on the device: PCI capabilities and pci_intx on edu's real
     * configuration space; one DMA programmed with lo_hi_writeq and waited for with
     * readl_poll_timeout, and a poll that must time out; a vmalloc area mapped with
     * dma_map_sg, every segment moved through the device both ways, byte-exact.
     */
    private void helpers(MemoryPool pool, PciDev pdev, Device dev, Edu edu) throws InterruptedException {
        // PCI: capabilities, class, INTx.
        int msi = pool.pci_find_capability(pdev, PciApi.PCI_CAP_ID_MSI);
        check(msi >= 0x40 && pool.pci_read_config_byte(pdev, msi) == PciApi.PCI_CAP_ID_MSI,
                "pci_find_capability(%s, PCI_CAP_ID_MSI) = 0x%x: edu's MSI capability", pdev.name(), msi);
        int exp = pool.pci_find_capability(pdev, PciApi.PCI_CAP_ID_EXP);
        int aer = pool.pci_find_ext_capability(pdev, PciApi.PCI_EXT_CAP_ID_ERR);
        check(exp == 0 || pool.pci_read_config_byte(pdev, exp) == PciApi.PCI_CAP_ID_EXP,
                "pci_find_capability(PCI_CAP_ID_EXP) = 0x%x points at a PCI Express capability", exp);
        check(exp != 0 || aer == 0, "no extended capability without PCI Express (found one at 0x%x)", aer);
        check(pool.pci_get_class(pdev.classCode(), null) == pdev, "pci_get_class(0x%06x, null) finds %s",
                pdev.classCode(), pdev.name());
        int cmd = pool.pci_read_config_word(pdev, PciApi.PCI_COMMAND);
        pool.pci_intx(pdev, false);
        int off = pool.pci_read_config_word(pdev, PciApi.PCI_COMMAND);
        pool.pci_intx(pdev, true);
        int on = pool.pci_read_config_word(pdev, PciApi.PCI_COMMAND);
        check((off & PciApi.PCI_COMMAND_INTX_DISABLE) != 0 && (on & PciApi.PCI_COMMAND_INTX_DISABLE) == 0
                && (off & ~PciApi.PCI_COMMAND_INTX_DISABLE) == (on & ~PciApi.PCI_COMMAND_INTX_DISABLE),
                "pci_intx(false) sets, pci_intx(true) clears PCI_COMMAND_INTX_DISABLE alone: 0x%04x, 0x%04x, 0x%04x",
                cmd, off, on);
        say("pci_find_capability: MSI at 0x%x, PCI Express %s, AER %s (the guest's machine type: %s); pci_get_class"
                + "(0x%06x) finds %s; pci_intx: command 0x%04x -> 0x%04x -> 0x%04x", msi, exp == 0 ? "none"
                : "at 0x" + Integer.toHexString(exp), aer == 0 ? "none" : "at 0x" + Integer.toHexString(aer),
                exp == 0 ? "conventional PCI" : "PCI Express", pdev.classCode(), pdev.name(), cmd, off, on);

        // lo_hi_writeq and readl_poll_timeout: a DMA programmed through the 32-bit halves.
        IoMem regs = edu.regs();
        DmaBuffer src = pool.dma_alloc_coherent(dev, PAGE, GFP_KERNEL);
        DmaBuffer dst = pool.dma_alloc_coherent(dev, PAGE, GFP_KERNEL);
        check(src != null && dst != null, "two coherent pages for the quad-register DMA");
        byte[] pattern = new byte[1000];
        new Random(42).nextBytes(pattern);
        MemorySegment.copy(MemorySegment.ofArray(pattern), 0, src.segment(), 0, pattern.length);
        regs.lo_hi_writeq(src.dmaHandle(), Edu.REG_DMA_SRC);
        long back = regs.readq(Edu.REG_DMA_SRC);
        check(back == src.dmaHandle(), "lo_hi_writeq(0x%x, DMA source) reads back 0x%x", src.dmaHandle(), back);
        check((regs.lo_hi_readq(Edu.REG_DMA_SRC) & 0xffffffffL) == src.dmaHandle(), "lo_hi_readq's low half");
        regs.lo_hi_writeq(Edu.BUF, Edu.REG_DMA_DST);
        regs.lo_hi_writeq(pattern.length, Edu.REG_DMA_COUNT);
        regs.writeq(Edu.CMD_START, Edu.REG_DMA_CMD);
        int[] val = new int[1];
        int rc = regs.readl_poll_timeout(Edu.REG_DMA_CMD, val, v -> (v & Edu.CMD_START) == 0, 1000, 30_000_000);
        check(rc == 0 && (val[0] & Edu.CMD_START) == 0, "readl_poll_timeout on the DMA command: %d, 0x%x", rc, val[0]);
        int doneCmd = val[0];
        regs.hi_lo_writeq(Edu.BUF, Edu.REG_DMA_SRC);
        regs.hi_lo_writeq(dst.dmaHandle(), Edu.REG_DMA_DST);
        check(regs.readq(Edu.REG_DMA_DST) == dst.dmaHandle(), "hi_lo_writeq of the destination reads back");
        regs.lo_hi_writeq(pattern.length, Edu.REG_DMA_COUNT);
        regs.writeq(Edu.CMD_START | Edu.CMD_TO_RAM, Edu.REG_DMA_CMD);
        rc = regs.readl_poll_timeout_atomic(Edu.REG_DMA_CMD, val, v -> (v & Edu.CMD_START) == 0, 50, 30_000_000);
        check(rc == 0, "readl_poll_timeout_atomic on the DMA command: %d, 0x%x", rc, val[0]);
        check(dst.segment().asSlice(0, pattern.length).mismatch(MemorySegment.ofArray(pattern)) == -1,
                "the quad-register DMA moved %d bytes byte-exact", pattern.length);
        long t = System.nanoTime();
        rc = regs.readl_poll_timeout(Edu.REG_DMA_CMD, val, v -> (v & 0x80) != 0, 1000, 200_000);
        long waited = (System.nanoTime() - t) / 1000;
        check(rc == -110 && val[0] == regs.readl(Edu.REG_DMA_CMD), "a condition that never holds: %d (-ETIMEDOUT),"
                + " last value 0x%x", rc, val[0]);
        say("lo_hi_writeq/hi_lo_writeq programmed a %d-byte DMA through edu's 64-bit registers (read back 0x%x);"
                + " readl_poll_timeout saw it done (cmd 0x%x); a never-true condition: %d after %d us, last 0x%x",
                pattern.length, back, doneCmd, rc, waited, val[0]);
        pool.dma_free_coherent(dev, src);
        pool.dma_free_coherent(dev, dst);

        // dma_map_sg of a vmalloc area, each segment through the device, both ways.
        int size = 5 * (int) PAGE;
        long area = pool.vmalloc(size + PAGE);
        DmaBuffer other = pool.dma_alloc_coherent(dev, size, GFP_KERNEL);
        check(area != 0 && other != null, "a vmalloc area and a coherent buffer of %d bytes", size);
        long from = area + 300;
        MemorySegment v = pool.segment(from, size);
        byte[] bytes = new byte[size];
        new Random(7).nextBytes(bytes);
        MemorySegment.copy(MemorySegment.ofArray(bytes), 0, v, 0, size);
        SgTable sgt = pool.sg_alloc_table_from_vmalloc(from, size, GFP_KERNEL);
        int n = pool.dma_map_sg(dev, sgt, sgt.orig_nents(), DMA_BIDIRECTIONAL);
        check(n >= 1 && n <= sgt.orig_nents() && dev.liveMappings() == sgt.orig_nents(),
                "dma_map_sg of %d entries: %d segments, %d mappings", sgt.orig_nents(), n, dev.liveMappings());
        int transfers = sgTransfers(pool, edu, sgt, n, other.dmaHandle(), true);
        check(other.segment().mismatch(v) == -1, "every sg segment DMA'd to the device and back into the coherent"
                + " buffer, byte-exact");
        new Random(8).nextBytes(bytes);
        MemorySegment.copy(MemorySegment.ofArray(bytes), 0, other.segment(), 0, size);
        v.fill((byte) 0x5a);
        transfers += sgTransfers(pool, edu, sgt, n, other.dmaHandle(), false);
        pool.dma_sync_sg_for_cpu(dev, sgt, sgt.orig_nents(), DMA_BIDIRECTIONAL);
        check(v.mismatch(other.segment()) == -1, "the device wrote every sg segment of the vmalloc area, byte-exact");
        StringBuilder segs = new StringBuilder();
        for (Scatterlist sg : sgt.for_each_sg(n)) {
            segs.append(String.format(" 0x%x+%d", pool.sg_dma_address(sg), pool.sg_dma_len(sg)));
        }
        int entries = sgt.orig_nents();
        pool.dma_unmap_sg(dev, sgt, entries, DMA_BIDIRECTIONAL);
        pool.sg_free_table(sgt);
        check(dev.liveMappings() == 0, "dma_unmap_sg left no mapping on %s", dev);
        say("ok sg: vmalloc area va 0x%x, %d bytes: %d entries, dma_map_sg -> %d segments [%s ], %d edu transfers,"
                + " byte-exact both ways", from, size, entries, n, segs.toString().strip(), transfers);
        pool.vfree(area);
        pool.dma_free_coherent(dev, other);
    }

    /** Moves each DMA segment of {@code sgt} through edu's buffer to ({@code fromSg}) or from {@code dma}, in order. */
    private int sgTransfers(MemoryPool pool, Edu edu, SgTable sgt, int n, long dma, boolean fromSg)
            throws InterruptedException {
        int transfers = 0;
        long at = 0;
        for (Scatterlist sg : sgt.for_each_sg(n)) {
            long seg = pool.sg_dma_address(sg);
            int len = pool.sg_dma_len(sg);
            for (int off = 0; off < len; ) {
                int k = Math.min(Edu.MAX_TRANSFER, len - off);
                if (fromSg) {
                    edu.dmaToDevice(seg + off, 0, k);
                    edu.dmaToRam(0, dma + at + off, k);
                } else {
                    edu.dmaToDevice(dma + at + off, 0, k);
                    edu.dmaToRam(0, seg + off, k);
                }
                off += k;
                transfers += 2;
            }
            at += len;
        }
        return transfers;
    }

    /** The DMA side of a buffer during one round trip. */
    private record DmaView(long dma, long[] pages, Runnable unmap) {
        /** The DMA address of byte {@code off}; for a buffer mapped page by page, of its page's mapping. */
        long at(long va, long off) {
            if (pages == null) {
                return dma + off;
            }
            long p = va + off;
            return pages[(int) (p / PAGE - va / PAGE)] + (p & (PAGE - 1));
        }
    }

    /** Maps {@code len} bytes at {@code va} for the device, or stands for a buffer that needs no mapping. */
    @FunctionalInterface
    private interface Mapper {
        DmaView map(long va, long len, DmaDirection dir);
    }

    private static Mapper coherent(DmaBuffer b) {
        return coherent(b.dmaHandle());
    }

    private static Mapper coherent(long dma) {
        return (va, len, dir) -> new DmaView(dma, null, () -> { });
    }

    private void mapped(String function, MemoryPool pool, Device dev, long va, long len, DmaDirection dir, long d) {
        check(!pool.dma_mapping_error(dev, d), "%s(%s, va 0x%x, %d, %s) = DMA_MAPPING_ERROR for a buffer of the"
                + " DMA-mask pool", function, dev.name(), va, len, dir);
    }

    /**
     * Fills {@code len} bytes at {@code src} with fresh random bytes and {@code dst} with 0x5a,
     * maps both for the device, checks every page's DMA address against pagemap, DMAs src to
     * the device buffer and the device buffer to dst in transfers of at most 4095 bytes (so a
     * multi-page buffer's transfers straddle its page boundaries; a buffer mapped page by page
     * moves a page at most), unmaps both and compares.
     */
    private void roundTrip(Edu edu, MemoryPool pool, Device dev, String what, long src, long dst, long len,
                           int devOffset, Mapper srcMap, Mapper dstMap) throws InterruptedException {
        MemorySegment s = pool.segment(src, len);
        MemorySegment d = pool.segment(dst, len);
        byte[] pattern = new byte[(int) len];
        new Random(System.nanoTime() ^ src).nextBytes(pattern);
        MemorySegment.copy(MemorySegment.ofArray(pattern), 0, s, 0, len);
        d.fill((byte) 0x5a);
        DmaView sv = srcMap.map(src, len, DMA_TO_DEVICE);
        DmaView dv = dstMap.map(dst, len, DMA_FROM_DEVICE);
        checkPagemap(pool, what + " (source)", src, len, sv);
        checkPagemap(pool, what + " (destination)", dst, len, dv);
        int transfers = 0;
        long t = System.nanoTime();
        for (long off = 0; off < len; ) {
            int n = (int) Math.min(Edu.MAX_TRANSFER - devOffset, len - off);
            if (sv.pages() != null) {
                n = (int) Math.min(n, PAGE - ((src + off) & (PAGE - 1)));
            }
            if (dv.pages() != null) {
                n = (int) Math.min(n, PAGE - ((dst + off) & (PAGE - 1)));
            }
            edu.dmaToDevice(sv.at(src, off), devOffset, n);
            edu.dmaToRam(devOffset, dv.at(dst, off), n);
            off += n;
            transfers++;
        }
        long ms = (System.nanoTime() - t) / 1_000_000;
        sv.unmap().run();
        dv.unmap().run();
        long at = s.mismatch(d);
        if (at != -1) {
            check(false, "%s: %d bytes DMA'd from dma 0x%x through the device to dma 0x%x differ at byte %d"
                    + " (wrote 0x%02x, read back 0x%02x)", what, len, sv.dma(), dv.dma(), at, s.get(JAVA_BYTE, at),
                    d.get(JAVA_BYTE, at));
        }
        checks++;
        say("ok %s: %d bytes va 0x%x dma 0x%x -> edu 0x%x -> va 0x%x dma 0x%x, byte-exact (%d transfer%s each way,"
                + " %d ms)", what, len, src, sv.dma(), Edu.BUF + devOffset, dst, dv.dma(), transfers,
                transfers == 1 ? "" : "s", ms);
    }

    /** pagemap must agree with the DMA address kmem gave for every page of the range before the device sees it. */
    private void checkPagemap(MemoryPool pool, String what, long va, long len, DmaView v) {
        for (long off = 0; off < len; off = ((va + off) & -PAGE) + PAGE - va) {
            long pfn = pool.pagemapPfn(va + off);
            long expected = v.at(va, off) / PAGE;
            check(pfn == expected, "%s: pagemap says pfn 0x%x for va 0x%x, the DMA address 0x%x is in pfn 0x%x", what,
                    pfn, va + off, v.at(va, off), expected);
        }
    }

    private void check(boolean ok, String format, Object... args) {
        if (!ok) {
            throw new AssertionError(String.format(format, args));
        }
        checks++;
    }

    private static int factorial(int n) {
        int f = 1;
        for (int i = 2; i <= n; i++) {
            f *= i;
        }
        return f;
    }

    private long elapsedMs() {
        return (System.nanoTime() - t0) / 1_000_000;
    }

    private static long memTotalMiB() throws java.io.IOException {
        for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
            if (line.startsWith("MemTotal:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) >> 10;
            }
        }
        return -1;
    }

    private static void say(String format, Object... args) {
        System.out.println("kmem-vmtest: " + String.format(format, args));
        System.out.flush();
    }
}
