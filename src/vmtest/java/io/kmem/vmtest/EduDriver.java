package io.kmem.vmtest;

import static io.kmem.gfp.Gfp.GFP_DMA32;
import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static io.kmem.gfp.Gfp.__GFP_NOWARN;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import io.kmem.MemoryPool;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A user-space driver for QEMU's edu device, written on kmem, run as root inside the guest
 * of {@code make vm-test}. It proves kmem's physical addresses by having the device DMA to
 * and from them:
 *
 * <ol>
 *   <li>find the device in sysfs, enable it, turn on memory space and bus mastering;</li>
 *   <li>map BAR0 through {@code resource0} and through {@code /dev/mem}, check identity and
 *       liveness through both (a write through one view is read through the other), and
 *       the factorial unit;</li>
 *   <li>build a kmem pool for the device's 28-bit DMA mask and, for a page below 256 MiB, a
 *       kmalloc object of each of two sizes and an order-2 block: fill a buffer, DMA it RAM to
 *       device to a second buffer of the same kind, compare byte for byte (a wrong physical
 *       address reads or writes some other page, and the comparison fails); pagemap must agree
 *       with {@code virt_to_phys} for every page handed to the device;</li>
 *   <li>take a page above 2^28 from a pool without a mask and show the driver refuses to hand
 *       it to the device.</li>
 * </ol>
 *
 * <p>Output: every line starts with {@code kmem-vmtest:}. The last line is
 * {@code kmem-vmtest: PASS ...} (exit 0) or {@code kmem-vmtest: FAIL ...} followed by the
 * exception (exit 1). {@code tools/vm-test} on the host passes only on the PASS line.
 */
public final class EduDriver {

    private static final long PAGE = 4096;
    private static final long MIB = 1 << 20;

    private final long t0 = System.nanoTime();
    private int checks;

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

    private void run() throws Exception {
        say("start: %s, Java %s, pid %d, %d MiB RAM", Files.readString(Path.of("/proc/version")).strip(),
                Runtime.version(), ProcessHandle.current().pid(), memTotalMiB());

        // 1. The device.
        PciDevice pci = PciDevice.find(Edu.VENDOR, Edu.DEVICE);
        PciDevice.Bar bar0 = pci.bar(0);
        check(bar0.memory() && bar0.size() == MIB, "BAR0 of %s is a 1 MiB memory BAR: %s", pci.bdf(), bar0);
        say("device %04x:%04x at %s, BAR0 phys 0x%x, %d KiB", Edu.VENDOR, Edu.DEVICE, pci.bdf(), bar0.start(),
                bar0.size() >> 10);
        String enabled = pci.enable();
        check(enabled.equals("1"), "%s/enable reads 1 after writing 1 (read %s)", pci.dir, enabled);
        int before = pci.command();
        int after = pci.setCommandBits(PciDevice.PCI_COMMAND_MEMORY | PciDevice.PCI_COMMAND_MASTER);
        check((after & 0x6) == 0x6, "command register has memory space and bus master set (0x%04x)", after);
        say("enabled; command register 0x%04x -> 0x%04x (memory space, bus master)", before, after);

        // 2. BAR0 through resource0 and through /dev/mem.
        try (BarWindow res = BarWindow.pciResource(pci.resourceFile(0), bar0.start(), bar0.size());
             BarWindow mem = BarWindow.devMem(bar0.start(), bar0.size())) {
            Edu viaResource = new Edu(res);
            Edu viaDevMem = new Edu(mem);
            for (Edu edu : List.of(viaResource, viaDevMem)) {
                int id = edu.identity();
                check(id == Edu.IDENTITY, "identity via %s: 0x%08x (expected 0x%08x)", edu.regs(), id, Edu.IDENTITY);
                for (int v : new int[] {0x12345678, 0, -1, 0xa5a55a5a}) {
                    int back = edu.liveness(v);
                    check(back == ~v, "liveness via %s: wrote 0x%08x, read 0x%08x (expected 0x%08x)", edu.regs(), v,
                            back, ~v);
                }
                say("mapped %s: identity 0x%08x, liveness ok", edu.regs(), id);
            }
            res.writel(Edu.REG_LIVENESS, 0x0badf00d);
            int seen = mem.readl(Edu.REG_LIVENESS);
            check(seen == ~0x0badf00d, "a liveness write through resource0 reads back through /dev/mem: 0x%08x", seen);
            say("both mappings reach the same register: wrote 0x0badf00d via resource0, read 0x%08x via /dev/mem",
                    seen);
            for (int n : new int[] {0, 5, 10, 12}) {
                int f = viaResource.factorial(n);
                check(f == factorial(n), "factorial(%d) = %d (expected %d)", n, f, factorial(n));
            }
            check(viaDevMem.factorial(10) == 3628800, "factorial(10) via /dev/mem");
            say("factorial: 0! 5! 10! 12! right via resource0, 10! via /dev/mem");

            dma(viaResource);
        }
    }

    /** Step 3 and 4: DMA through kmem buffers, and the refusal above the mask. */
    private void dma(Edu edu) throws Exception {
        try (MemoryPool pool = MemoryPool.builder().name("edu").smallPages(8 * MIB).dmaMask(Edu.DMA_MASK).build()) {
            long[] pfns = pool.pfns();
            long below16m = 0;
            for (long pfn : pfns) {
                check((pfn + 1) * PAGE - 1 <= Edu.DMA_MASK, "frame pfn 0x%x of the DMA-mask pool ends below 2^28",
                        pfn);
                below16m += pfn < (16 * MIB) / PAGE ? 1 : 0;
            }
            for (long pfn : pfns) {
                long va = pool.phys_to_virt(pfn * PAGE);
                long now = pool.pagemapPfn(va);
                check(now == pfn, "pagemap says pfn 0x%x for the frame the pool holds as pfn 0x%x (va 0x%x)", now,
                        pfn, va);
            }
            say("pool 'edu' (dmaMask 0x%x): %d frames, pfn 0x%x..0x%x (phys 0x%x..0x%x), %d below 16 MiB;"
                    + " pagemap agrees",
                    Edu.DMA_MASK, pfns.length, pfns[0], pfns[pfns.length - 1], pfns[0] * PAGE,
                    (pfns[pfns.length - 1] + 1) * PAGE - 1, below16m);

            long dmaPage = pool.__get_dma_pages(GFP_KERNEL | __GFP_NOWARN, 0);
            if (dmaPage == 0) {
                check(below16m == 0, "__get_dma_pages returned NULL although the pool holds %d frames below 16 MiB",
                        below16m);
                say("__get_dma_pages(GFP_KERNEL, 0): NULL, right: the guest kernel gave the pool no ZONE_DMA"
                        + " frame (below 16 MiB); a GFP_DMA32 page of this pool (below 2^28 by its mask) is used"
                        + " instead");
            } else {
                long dst = pool.__get_dma_pages(GFP_KERNEL, 0);
                check(dst != 0, "a second __get_dma_pages page");
                roundTrip(edu, pool, "__get_dma_pages page", dmaPage, dst, PAGE, 0);
                pool.free_page(dmaPage);
                pool.free_page(dst);
            }

            long a = pool.__get_free_pages(GFP_KERNEL | GFP_DMA32, 0);
            long b = pool.__get_free_pages(GFP_KERNEL | GFP_DMA32, 0);
            check(a != 0 && b != 0, "two GFP_DMA32 pages from the DMA-mask pool");
            roundTrip(edu, pool, "page (GFP_DMA32, below 2^28)", a, b, PAGE, 0);
            pool.free_page(a);
            pool.free_page(b);

            for (long[] kind : new long[][] {{4000, 0}, {192, 0x800}}) {
                long src = pool.kmalloc(kind[0], GFP_KERNEL);
                long dst = pool.kmalloc(kind[0], GFP_KERNEL);
                check(src != 0 && dst != 0, "two kmalloc(%d) objects", kind[0]);
                long slack = pool.ksize(dst) - kind[0];
                pool.segment(dst + kind[0], slack).fill((byte) 0x5a);
                roundTrip(edu, pool, "kmalloc(" + kind[0] + ")", src, dst, kind[0], (int) kind[1]);
                MemorySegment tail = pool.segment(dst + kind[0], slack);
                for (long i = 0; i < slack; i++) {
                    check(tail.get(JAVA_BYTE, i) == 0x5a,
                            "kmalloc(%d): byte %d past the transfer untouched", kind[0], kind[0] + i);
                }
                pool.kfree(src);
                pool.kfree(dst);
            }

            long va = pool.vmalloc(5 * PAGE);
            long vb = pool.vmalloc(5 * PAGE);
            check(va != 0 && vb != 0, "two vmalloc areas of 5 pages");
            roundTrip(edu, pool, "vmalloc area, page by page through vmalloc_to_pfn", va, vb, 5 * PAGE, 0);
            pool.vfree(va);
            pool.vfree(vb);

            long blk = pool.__get_free_pages(GFP_KERNEL, 2);
            long blk2 = pool.__get_free_pages(GFP_KERNEL, 2);
            check(blk != 0 && blk2 != 0, "two order-2 blocks");
            roundTrip(edu, pool, "order-2 block", blk, blk2, 4 * PAGE, 0);
            pool.free_pages(blk, 2);
            pool.free_pages(blk2, 2);
        }

        // A fresh guest kernel hands out its lowest free frames first, so a pool must take
        // about everything below 256 MiB before it sees a frame above: this one starts at
        // 32 MiB and grows (GFP_KERNEL) until a page above the mask turns up.
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
                if (wide.virt_to_phys(p) > Edu.DMA_MASK) {
                    high = p;
                }
            }
            check(high != 0, "a page above 2^28 in pool 'wide' (%d pages taken, all below)", taken.size());
            say("pool 'wide' (no mask): page %d taken lies above 2^28, the pool grew to %d frames", taken.size(),
                    wide.frames());
            long pa = wide.virt_to_phys(high);
            check(wide.pagemapPfn(high) == pa / PAGE, "pagemap agrees for va 0x%x", high);
            for (int dir = 0; dir < 2; dir++) {
                try {
                    if (dir == 0) {
                        edu.dmaToDevice(pa, 0, 64);
                    } else {
                        edu.dmaToRam(0, pa, 64);
                    }
                    check(false, "a DMA %s pa 0x%x (above the mask) was handed to the device",
                            dir == 0 ? "out of" : "into", pa);
                } catch (Edu.DmaRefused e) {
                    checks++;
                    say("refused, as it must be: a DMA %s page va 0x%x pa 0x%x of pool 'wide': %s",
                            dir == 0 ? "out of (RAM to device)" : "into (device to RAM)", high, pa, e.getMessage());
                }
            }
            try {
                Edu.check(0x100000, 0, Edu.BUF_SIZE);
                check(false, "a 4096-byte transfer was allowed");
            } catch (Edu.DmaRefused e) {
                checks++;
                say("refused, as it must be: a full 4096-byte transfer (QEMU 7.2's edu would stop the VM): %s",
                        e.getMessage());
            }
            for (long p : taken) {
                wide.free_page(p);
            }
        }
    }

    /**
     * Fills {@code len} bytes at {@code src} with fresh random bytes and {@code dst} with 0x5a,
     * DMAs src to the device buffer and the device buffer to dst in transfers of at most
     * 4095 bytes (so an order-2 block's transfers straddle its page boundaries), and compares.
     */
    private void roundTrip(Edu edu, MemoryPool pool, String what, long src, long dst, long len, int devOffset)
            throws InterruptedException {
        checkPagemap(pool, what + " (source)", src, len);
        checkPagemap(pool, what + " (destination)", dst, len);
        MemorySegment s = pool.segment(src, len);
        MemorySegment d = pool.segment(dst, len);
        byte[] pattern = new byte[(int) len];
        new Random(System.nanoTime() ^ src).nextBytes(pattern);
        MemorySegment.copy(MemorySegment.ofArray(pattern), 0, s, 0, len);
        d.fill((byte) 0x5a);
        int transfers = 0;
        long t = System.nanoTime();
        for (long off = 0; off < len; ) {
            int n = (int) Math.min(Edu.MAX_TRANSFER - devOffset, len - off);
            if (pool.is_vmalloc_addr(src)) {
                n = (int) Math.min(n, PAGE - ((src + off) & (PAGE - 1)));
                n = (int) Math.min(n, PAGE - ((dst + off) & (PAGE - 1)));
            }
            edu.dmaToDevice(phys(pool, src + off), devOffset, n);
            edu.dmaToRam(devOffset, phys(pool, dst + off), n);
            off += n;
            transfers++;
        }
        long ms = (System.nanoTime() - t) / 1_000_000;
        long at = s.mismatch(d);
        if (at != -1) {
            check(false, "%s: %d bytes DMA'd from pa 0x%x through the device to pa 0x%x differ at byte %d"
                    + " (wrote 0x%02x, read back 0x%02x)", what, len, phys(pool, src), phys(pool, dst),
                    at, s.get(JAVA_BYTE, at), d.get(JAVA_BYTE, at));
        }
        checks++;
        say("ok %s: %d bytes va 0x%x pa 0x%x -> edu 0x%x -> va 0x%x pa 0x%x, byte-exact (%d transfer%s each way,"
                + " %d ms)",
                what, len, src, phys(pool, src), Edu.BUF + devOffset, dst, phys(pool, dst), transfers,
                transfers == 1 ? "" : "s", ms);
    }

    /**
     * The physical address behind {@code va}: virt_to_phys in the direct map, vmalloc_to_pfn
     * in a vmalloc area (whose pages are contiguous only virtually).
     */
    private static long phys(MemoryPool pool, long va) {
        return pool.is_vmalloc_addr(va) ? pool.vmalloc_to_pfn(va) * PAGE + (va & (PAGE - 1)) : pool.virt_to_phys(va);
    }

    /** pagemap must agree with virt_to_phys (vmalloc_to_pfn) for every page of the range before the device sees it. */
    private void checkPagemap(MemoryPool pool, String what, long va, long len) {
        for (long p = va & -PAGE; p < va + len; p += PAGE) {
            long pfn = pool.pagemapPfn(p);
            long expected = phys(pool, p) / PAGE;
            check(pfn == expected, "%s: pagemap says pfn 0x%x for va 0x%x, virt_to_phys says pfn 0x%x", what, pfn, p,
                    expected);
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
