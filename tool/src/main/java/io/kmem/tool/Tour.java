package io.kmem.tool;

import io.kmem.Device;
import io.kmem.DmaBuffer;
import io.kmem.DmaDirection;
import io.kmem.DmaPool;
import io.kmem.IoMem;
import io.kmem.GfpApi;
import io.kmem.DmaApi;
import io.kmem.MemoryPool;
import io.kmem.Resource;
import io.kmem.error.BadAddressException;
import io.kmem.error.KmemException;
import io.kmem.error.PrivilegeException;
import io.kmem.error.ResourceBusyException;
import io.kmem.gfp.Gfp;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;

/** {@code kmem tour}: what the pool is made of, with real addresses checked against pagemap. */
final class Tour {
    private Tour() {
    }

    static int run(MemoryPool.Builder builder, PrintStream out) {
        out.println("== kmem tour ==");
        out.println("Building the pool: memfd frames are mapped and mlocked (4 KiB frames in 2 MiB shmem folios where");
        out.println("the host allows), pinned long-term (io_uring buffer registration: the kernel cannot migrate");
        out.println("them), their PFNs read from /proc/self/pagemap, and each run of consecutive PFNs");
        out.println("mapped into the direct map at directBase + (pfn - basePfn) * 4 KiB.\n");
        try (MemoryPool pool = builder.build()) {
            out.printf(Locale.ROOT, "pool '%s': %d frames (%d MiB) in %.1f ms%n", pool.name(), pool.frames(),
                    pool.frames() >> 8, pool.bringUpNanos() / 1e6);
            out.printf(Locale.ROOT, "pinning: %s%n%n", pool.pinState().summary());
            out.println("-- The direct map: virt_to_phys is arithmetic, and pagemap agrees --");
            long[] pfns = samplePfns(pool);
            int mismatches = 0;
            out.printf("  %-18s %-18s %-14s %-14s %s%n", "virtual", "physical", "pfn", "pagemap pfn", "write+read");
            for (long pfn : pfns) {
                long page = pool.pfn_to_page(pfn);
                long va = pool.page_address(page);
                MemorySegment seg = pool.segment(va, 4096);
                seg.set(ValueLayout.JAVA_LONG, 0, 0x6b6d656d00000000L | pfn);
                long pa = pool.physical() ? pool.virt_to_phys(va) : -1;
                long seen = pool.physical() ? pool.pagemapPfn(va) : pfn;
                boolean ok = seen == pfn && seg.get(ValueLayout.JAVA_LONG, 0) == (0x6b6d656d00000000L | pfn);
                mismatches += ok ? 0 : 1;
                out.printf(Locale.ROOT, "  0x%016x %-18s 0x%-12x 0x%-12x %s%n", va,
                        pa < 0 ? "(unprivileged)" : String.format(Locale.ROOT, "0x%x", pa), pfn, seen, ok ? "ok" : "MISMATCH");
            }
            out.println();
            mismatches += pageAllocator(pool, out);
            out.println();
            mismatches += slab(pool, out);
            out.println();
            mismatches += vmalloc(pool, out);
            out.println();
            mismatches += ioremap(pool, out);
            out.println();
            mismatches += dma(pool, out);
            out.println();
            out.print(pool.meminfo());
            out.println();
            var v = pool.verify();
            out.printf(Locale.ROOT, "verify: %d frames re-read from pagemap: %s%n", v.framesChecked(),
                    v.ok() ? "every frame at its recorded PFN" : v.moved().size() + " frames moved");
            return mismatches == 0 && v.ok() ? 0 : 1;
        }
    }

    /**
     * The buddy allocator: one block of several orders, each checked page by page against
     * pagemap, then freed; buddyinfo before and after. Returns the number of mismatches.
     */
    private static int pageAllocator(MemoryPool pool, PrintStream out) {
        out.println("-- The page allocator (buddy): __get_free_pages(GFP_KERNEL, order) --");
        out.println("A block of order n is 2^n pages, physically contiguous and aligned to its size; freeing it");
        out.println("merges it with its free buddy (the block at pfn ^ 2^n) back into larger blocks.");
        out.println("/proc/buddyinfo (free blocks of order 0..10):");
        String before = pool.buddyinfo();
        out.print(before.indent(2));
        int mismatches = 0;
        out.printf("  %-6s %-18s %-18s %-12s %s%n", "order", "virtual", "physical", "pfn", "pagemap, page by page");
        int[] orders = {0, 1, 3, 5, 9};
        long[] addrs = new long[orders.length];
        for (int i = 0; i < orders.length; i++) {
            int order = orders[i];
            long a = pool.__get_free_pages(Gfp.GFP_KERNEL | Gfp.__GFP_NOWARN, order);
            addrs[i] = a;
            if (a == 0) {
                out.printf("  %-6d (none free: this pool holds no %d contiguous frames)%n", order, 1 << order);
                continue;
            }
            long pfn = pool.virt_to_pfn(a);
            int bad = 0;
            for (long p = 0; p < 1L << order; p++) {
                bad += pool.physical() && pool.pagemapPfn(a + (p << 12)) != pfn + p ? 1 : 0;
            }
            mismatches += bad;
            out.printf(Locale.ROOT, "  %-6d 0x%016x %-18s 0x%-10x %s%n", order, a,
                    pool.physical() ? String.format(Locale.ROOT, "0x%x", pool.virt_to_phys(a)) : "(unprivileged)", pfn,
                    bad == 0 ? (1 << order) + " consecutive pfns, aligned" : bad + " pages MISMATCH");
        }
        for (int i = 0; i < orders.length; i++) {
            pool.free_pages(addrs[i], orders[i]);
        }
        pool.drain_all_pages();
        String after = pool.buddyinfo();
        out.println("after free_pages of every block and drain_all_pages:");
        out.print(after.indent(2));
        out.println(after.equals(before) ? "  identical: every block merged back with its buddy"
                : "  DIFFERENT: a block did not merge back");
        return mismatches + (after.equals(before) ? 0 : 1);
    }

    /**
     * The slab allocator: kmalloc of several sizes (which cache, where, contiguous by pagemap),
     * a kmem_cache with a constructor, a large kmalloc from the buddy, then slabinfo.
     * Returns the number of mismatches.
     */
    private static int slab(MemoryPool pool, PrintStream out) {
        out.println("-- The slab allocator: kmalloc(size, GFP_KERNEL) and kmem_cache --");
        out.println("Objects of one size class are carved out of slabs (2^order pages from the buddy); the free");
        out.println("list lives inside the free objects; each thread allocates from its own slab without a lock.");
        int mismatches = 0;
        long[] sizes = {8, 64, 100, 192, 1000, 4096, 20000};
        long[] addrs = new long[sizes.length];
        out.printf("  %-9s %-14s %-18s %-14s %-8s %s%n", "kmalloc", "cache", "virtual", "physical", "ksize", "pagemap");
        for (int i = 0; i < sizes.length; i++) {
            long p = pool.kmalloc(sizes[i], Gfp.GFP_KERNEL);
            addrs[i] = p;
            var info = pool.kmem_obj_info(p);
            boolean ok = true;
            if (pool.physical()) {
                long pfn = pool.virt_to_phys(p) >>> 12;
                for (long a = p & -4096L, k = 0; a < p + sizes[i]; a += 4096, k++) {
                    ok &= pool.pagemapPfn(a) == pfn + k;
                }
            }
            mismatches += ok ? 0 : 1;
            out.printf(Locale.ROOT, "  %-9d %-14s 0x%016x %-14s %-8d %s%n", sizes[i],
                    info == null ? "(buddy, order " + GfpApi.get_order(sizes[i]) + ")" : info.cache(), p,
                    pool.physical() ? String.format(Locale.ROOT, "0x%x", pool.virt_to_phys(p)) : "(unprivileged)",
                    pool.ksize(p), !pool.physical() ? "-" : ok ? "contiguous" : "MISMATCH");
        }
        int[] constructed = new int[1];
        var cache = pool.kmem_cache_create("tour_desc", 48, 16, io.kmem.SlabFlags.SLAB_HWCACHE_ALIGN, obj -> {
            constructed[0]++;
            obj.fill((byte) 0);
        });
        long d = pool.kmem_cache_alloc(cache, Gfp.GFP_KERNEL);
        out.printf(Locale.ROOT, "  %s: object at 0x%x; the constructor ran %d times (once per object of the new"
                + " slab, not per allocation)%n", cache, d, constructed[0]);
        out.println("/proc/slabinfo while the objects are allocated:");
        out.print(pool.slabinfo().lines().filter(l -> l.startsWith("slabinfo") || l.startsWith("#")
                || !l.matches("\\S+\\s+0\\s+0 .*")).map(l -> "  " + l + "\n").reduce("", String::concat));
        pool.kmem_cache_free(cache, d);
        for (long p : addrs) {
            pool.kfree(p);
        }
        pool.kmem_cache_destroy(cache);
        List<String> problems = pool.validateSlabs();
        out.println(problems.isEmpty() ? "after kfree of each: validate finds every free list and count consistent"
                : "validate: " + problems.size() + " PROBLEMS");
        return mismatches + problems.size();
    }

    /**
     * vmalloc: an area contiguous in virtual space over frames that need not be; which frames
     * back it (vmalloc_to_pfn against pagemap, and the same word read through the direct
     * map), its guard page, vmallocinfo. Returns the number of mismatches.
     */
    private static int vmalloc(MemoryPool pool, PrintStream out) {
        out.println("-- vmalloc: virtually contiguous, built from frames that need not be physically contiguous --");
        out.println("vmalloc takes frames from the buddy (largest blocks first) and maps them one after the other in");
        out.println("a window of its own, each frame also staying in the direct map; an unmapped guard page follows.");
        long size = 40 * 4096 + 100;
        long v = pool.vmalloc(size);
        if (v == 0) {
            out.println("  vmalloc(" + size + ") returned NULL: the pool has no 41 free frames");
            return 1;
        }
        int mismatches = 0;
        MemorySegment area = pool.segment(v, 41 * 4096L);
        out.printf(Locale.ROOT, "  vmalloc(%d) = 0x%016x, 41 pages; the runs of frames behind it:%n", size, v);
        out.printf("  %-10s %-18s %-14s %-8s %s%n", "pages", "virtual", "first pfn", "frames", "pagemap, direct map");
        int runStart = 0;
        for (int i = 1; i <= 41; i++) {
            if (i < 41 && pool.vmalloc_to_pfn(v + i * 4096L) == pool.vmalloc_to_pfn(v + (i - 1) * 4096L) + 1) {
                continue;
            }
            boolean ok = true;
            for (int k = runStart; k < i; k++) {
                long va = v + k * 4096L;
                long pfn = pool.vmalloc_to_pfn(va);
                area.set(ValueLayout.JAVA_LONG, k * 4096L, 0x766d616c6c6f6300L | k);
                long direct = pool.physical() ? pool.phys_to_virt(pfn << 12) : pool.page_address(pool.pfn_to_page(pfn));
                ok &= (!pool.physical() || pool.pagemapPfn(va) == pfn)
                        && pool.segment(direct, 8).get(ValueLayout.JAVA_LONG, 0) == (0x766d616c6c6f6300L | k);
            }
            mismatches += ok ? 0 : 1;
            out.printf(Locale.ROOT, "  %-10s 0x%016x 0x%-12x %-8d %s%n", runStart + ".." + (i - 1),
                    v + runStart * 4096L, pool.vmalloc_to_pfn(v + runStart * 4096L), i - runStart,
                    ok ? "agree; a write through the area is read through the direct map" : "MISMATCH");
            runStart = i;
        }
        long guard = v + 41 * 4096L;
        boolean guarded = pool.vmalloc_to_page(guard) == 0 && (!pool.physical() || pool.pagemapPfn(guard) < 0);
        mismatches += guarded ? 0 : 1;
        out.printf(Locale.ROOT, "  guard page 0x%016x: %s%n", guard, guarded ? "not mapped (pagemap: not present)"
                : "MAPPED");
        // 8 MiB, or 2 MiB in a small pool (an unprivileged run's fits its RLIMIT_MEMLOCK).
        long bigMib = pool.frames() >= 4096 ? 8 : 2;
        long big = pool.vmalloc(bigMib << 20);
        if (big == 0) {
            out.println("  vmalloc(" + (bigMib << 20) + ") returned NULL: the pool has no " + bigMib + " MiB free");
            mismatches++;
        } else {
            out.println("/proc/vmallocinfo with a second area of " + bigMib + " MiB (2 MiB-aligned: large blocks map"
                    + " whole):");
            out.print(pool.vmallocinfo().indent(2));
            pool.vfree(big);
        }
        pool.vfree(v);
        List<String> problems = pool.checkVmalloc();
        out.println(problems.isEmpty() ? "after vfree of both: the window is free again and every frame is back"
                : "checkVmalloc: " + problems);
        return mismatches + problems.size();
    }

    /**
     * ioremap on a stand-in device (a file in /dev/shm: no real device is needed, and the accessors behave
     * exactly as on device memory): readl/writel and the bytes the "device" sees, memcpy_toio and
     * memcpy_fromio, the mapping's vmallocinfo line, a checked access outside it; then
     * request_mem_region of a made-up range, the refusal of an overlap, ioremap of RAM refused,
     * and the top of iomem(). Returns the number of mismatches.
     */
    private static int ioremap(MemoryPool pool, PrintStream out) {
        out.println("-- ioremap and MMIO: device registers mapped into the vmalloc window --");
        out.println("ioremap maps a device's physical range (through /dev/mem, a PCI BAR's resourceN, UIO) into an");
        out.println("area of the vmalloc window; readl/writel are single little-endian accesses, ordered as in the");
        out.println("kernel.");
        out.println("Here a 64 KiB file in /dev/shm stands in for the device, so the tour needs no hardware.");
        int mismatches = 0;
        Path file;
        try {
            file = java.nio.file.Files.createTempFile(Path.of(java.nio.file.Files.isDirectory(Path.of("/dev/shm"))
                    ? "/dev/shm" : System.getProperty("java.io.tmpdir")), "kmem-tour-device", "");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        try (Arena arena = Arena.ofConfined();
                java.io.RandomAccessFile standIn = new java.io.RandomAccessFile(file.toFile(), "rw")) {
            standIn.setLength(64 << 10);
            IoMem regs = pool.ioremapFile(file, 0, 64 << 10);
            out.printf(Locale.ROOT, "  ioremapFile(file, 0, 65536) = %s%n", regs);
            String line = pool.vmallocinfo().lines().filter(l -> l.startsWith(String.format(Locale.ROOT, "0x%016x-",
                    regs.address()))).findFirst().orElse("(none)");
            boolean listed = pool.is_vmalloc_addr(regs.address()) && line.endsWith(" ioremap");
            mismatches += listed ? 0 : 1;
            out.println("  its /proc/vmallocinfo line (the range counts the guard page):");
            out.println("    " + line);

            regs.writel(0x12345678, 0x10);
            MemorySegment seen = arena.allocate(16);
            pread(standIn, seen, 4, 0x10);
            byte[] device = seen.asSlice(0, 4).toArray(ValueLayout.JAVA_BYTE);
            int back = regs.readl(0x10);
            boolean ok = back == 0x12345678 && HexFormat.of().formatHex(device).equals("78563412");
            mismatches += ok ? 0 : 1;
            out.printf(Locale.ROOT, "  writel(0x12345678, regs + 0x10): the device's bytes at 0x10 are %s"
                    + " (little-endian); readl gives 0x%08x%s%n", HexFormat.ofDelimiter(" ").formatHex(device), back,
                    ok ? "" : " MISMATCH");

            byte[] msg = "hello, device".getBytes(StandardCharsets.US_ASCII);
            regs.memcpy_toio(0x100, MemorySegment.ofArray(msg), msg.length);
            MemorySegment copy = arena.allocate(msg.length);
            regs.memcpy_fromio(copy, 0x100, msg.length);
            pread(standIn, seen, msg.length, 0x100);
            ok = new String(copy.toArray(ValueLayout.JAVA_BYTE), StandardCharsets.US_ASCII).equals("hello, device")
                    && seen.asSlice(0, msg.length).mismatch(MemorySegment.ofArray(msg)) == -1;
            mismatches += ok ? 0 : 1;
            out.printf(Locale.ROOT, "  memcpy_toio(regs + 0x100, \"hello, device\", 13), memcpy_fromio back: %s%n",
                    ok ? "the device holds the 13 bytes, and they come back" : "MISMATCH");
            try {
                regs.readl(64 << 10);
                mismatches++;
                out.println("  readl(regs + 0x10000): let through, MISMATCH");
            } catch (BadAddressException e) {
                out.println("  readl(regs + 0x10000), past the end: BadAddressException, never a fault:");
                out.println("    " + e.getMessage());
            }
            pool.iounmap(regs);
            boolean gone = pool.vmallocinfo().lines().noneMatch(l -> l.equals(line));
            mismatches += gone ? 0 : 1;
            out.println("  iounmap(regs): " + (gone ? "the area leaves vmallocinfo; accesses through regs throw from"
                    + " now on" : "still listed, MISMATCH"));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        } finally {
            try {
                java.nio.file.Files.deleteIfExists(file);
            } catch (java.io.IOException e) {
                out.println("  (could not delete " + file + ": " + e + ")");
            }
        }

        out.println("Resources: request_mem_region claims a physical range in a tree seeded from the host's");
        out.println("/proc/iomem; a range another owner holds is refused.");
        long start = madeUpRange(pool.iomem());
        Resource r = pool.request_mem_region(start, 0x10000, "kmem-tour");
        out.printf(Locale.ROOT, "  request_mem_region(0x%x, 0x10000, \"kmem-tour\") = %s%n", start, r);
        try {
            pool.request_mem_region(start + 0x8000, 0x1000, "other-driver");
            mismatches++;
            out.println("  a second, overlapping request: granted, MISMATCH");
        } catch (ResourceBusyException e) {
            out.println("  a second, overlapping request: ResourceBusyException:");
            out.println("    " + e.getMessage());
        }
        long ram = systemRam(pool.iomem());
        if (ram >= 0) {
            try {
                IoMem wrong = pool.ioremap(ram, 4096);
                pool.iounmap(wrong);
                mismatches++;
                out.printf(Locale.ROOT, "  ioremap(0x%x, 4096) of System RAM: mapped, MISMATCH%n", ram);
            } catch (KmemException e) {
                out.printf(Locale.ROOT, "  ioremap(0x%x, 4096) of System RAM: %s:%n", ram,
                        e.getClass().getSimpleName());
                out.println("    " + e.getMessage());
            }
        }
        out.println("/proc/iomem as kmem keeps it (top level only; the host's entries and the request):");
        out.print(pool.iomem().lines().filter(l -> !l.startsWith(" ")).map(l -> "  " + l + "\n")
                .reduce("", String::concat));
        pool.release_mem_region(start, 0x10000);
        return mismatches;
    }

    /** A range past everything /proc/iomem lists (at least 4 GiB), 1 MiB-aligned: free on any host. */
    private static long madeUpRange(String iomem) {
        long end = 0;
        for (String l : iomem.lines().toList()) {
            String[] f = l.strip().split(" : ", 2)[0].split("-");
            if (f.length == 2) {
                end = Math.max(end, Long.parseUnsignedLong(f[1], 16));
            }
        }
        return Math.max((end + (1 << 20)) & -(1L << 20), 1L << 32);
    }

    /** The start of the first System RAM range in {@code iomem}, or -1 (not root: no addresses). */
    private static long systemRam(String iomem) {
        for (String l : iomem.lines().toList()) {
            if (l.endsWith(" : System RAM") && !l.startsWith(" ")) {
                long s = Long.parseUnsignedLong(l.strip().split("-")[0], 16);
                if (s != 0) {
                    return s;
                }
            }
        }
        return -1;
    }

    /**
     * The DMA API on the pool (dma-direct, no IOMMU: a DMA address is a physical address): a
     * 32-bit mask refuses a buffer above 4 GiB, a 64-bit mask takes it, dma_alloc_coherent and a
     * dma_pool. An unprivileged pool has no physical addresses, so it says so. Returns the
     * number of mismatches.
     */
    private static int dma(MemoryPool pool, PrintStream out) {
        out.println("-- The DMA API: what a device may reach --");
        out.println("A device's DMA mask is the highest address it can reach. dma_map_single hands it a buffer's");
        out.println("DMA address (here the physical address: no IOMMU), or DMA_MAPPING_ERROR when the buffer lies");
        out.println("above the mask; dma_alloc_coherent and dma_pool give memory within the mask to begin with.");
        Device dev = new Device("tour-nic");
        long buf = pool.kmalloc(1500, Gfp.GFP_KERNEL);
        if (!pool.physical()) {
            try {
                pool.dma_map_single(dev, buf, 1500, DmaDirection.DMA_TO_DEVICE);
                out.println("  dma_map_single in an unprivileged pool: mapped, MISMATCH");
                return 1;
            } catch (PrivilegeException e) {
                out.println("  skipped: DMA needs physical addresses, and this pool has none (--unprivileged);");
                out.println("  dma_map_single says: " + e.getMessage());
                return 0;
            } finally {
                pool.kfree(buf);
            }
        }
        int mismatches = 0;
        long pa = pool.virt_to_phys(buf);
        boolean above = pa + 1499 > DmaApi.DMA_BIT_MASK(32);
        out.printf(Locale.ROOT, "  kmalloc(1500) at 0x%x, phys 0x%x (%s 4 GiB)%n", buf, pa, above ? "above" : "below");
        int rc = pool.dma_set_mask(dev, DmaApi.DMA_BIT_MASK(32));
        out.printf(Locale.ROOT, "  dma_set_mask(dev, DMA_BIT_MASK(32)) = %d; dma_map_single(dev, buf, 1500,"
                + " DMA_TO_DEVICE):%n", rc);
        out.flush();
        long d = pool.dma_map_single(dev, buf, 1500, DmaDirection.DMA_TO_DEVICE);
        mismatches += rc == 0 && pool.dma_mapping_error(dev, d) == above ? 0 : 1;
        out.println(pool.dma_mapping_error(dev, d) ? "    DMA_MAPPING_ERROR: refused, never handed to the device (kmem"
                + " logs the kernel's \"DMA addr ... overflow\" warning)" : String.format(Locale.ROOT, "    0x%x", d));
        if (!pool.dma_mapping_error(dev, d)) {
            pool.dma_unmap_single(dev, d, 1500, DmaDirection.DMA_TO_DEVICE);
        }
        rc = pool.dma_set_mask_and_coherent(dev, DmaApi.DMA_BIT_MASK(64));
        d = pool.dma_map_single(dev, buf, 1500, DmaDirection.DMA_TO_DEVICE);
        mismatches += rc == 0 && d == pa ? 0 : 1;
        out.printf(Locale.ROOT, "  dma_set_mask_and_coherent(dev, DMA_BIT_MASK(64)) = %d; dma_map_single = 0x%x%s%n",
                rc, d, d == pa ? ", its physical address" : " MISMATCH");
        pool.dma_unmap_single(dev, d, 1500, DmaDirection.DMA_TO_DEVICE);
        pool.kfree(buf);

        DmaBuffer cb = pool.dma_alloc_coherent(dev, 8192, Gfp.GFP_KERNEL);
        if (cb == null) {
            mismatches++;
            out.println("  dma_alloc_coherent(dev, 8192) = NULL, MISMATCH (the pool has no 2 free contiguous frames)");
        } else {
            boolean ok = cb.dmaHandle() == pool.virt_to_phys(cb.cpuAddr())
                    && pool.segment(cb.cpuAddr(), 8192).mismatch(MemorySegment.ofArray(new byte[8192])) == -1
                    && pool.pagemapPfn(cb.cpuAddr()) == cb.dmaHandle() >>> 12
                    && pool.pagemapPfn(cb.cpuAddr() + 4096) == (cb.dmaHandle() >>> 12) + 1;
            mismatches += ok ? 0 : 1;
            out.printf(Locale.ROOT, "  dma_alloc_coherent(dev, 8192, GFP_KERNEL) = cpu 0x%x, dma 0x%x: zeroed, %s%n",
                    cb.cpuAddr(), cb.dmaHandle(), ok ? "2 contiguous frames by pagemap" : "MISMATCH");
            pool.dma_free_coherent(dev, cb);
        }
        DmaPool dp = pool.dma_pool_create("tour-desc", dev, 48, 64, 4096);
        long[] handle = new long[1];
        List<long[]> blocks = new ArrayList<>();
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 3; i++) {
            long cpu = pool.dma_pool_alloc(dp, Gfp.GFP_KERNEL, handle);
            blocks.add(new long[] {cpu, handle[0]});
            mismatches += cpu != 0 && handle[0] % 64 == 0 && handle[0] == pool.virt_to_phys(cpu) ? 0 : 1;
            sb.append(String.format(Locale.ROOT, "%s cpu 0x%x dma 0x%x", i == 0 ? "" : ",", cpu, handle[0]));
        }
        out.printf(Locale.ROOT, "  dma_pool_create(\"tour-desc\", dev, 48, 64, 4096): %s%n", dp);
        out.println("  three dma_pool_alloc blocks, aligned to 64, from one coherent page:" + sb);
        for (long[] b : blocks) {
            pool.dma_pool_free(dp, b[0], b[1]);
        }
        pool.dma_pool_destroy(dp);
        mismatches += dev.liveMappings() == 0 ? 0 : 1;
        return mismatches;
    }

    /** A few frames spread over the pool: the lowest, the highest and some between. */
    private static long[] samplePfns(MemoryPool pool) {
        long[] all = pool.pfns();
        int n = Math.min(6, all.length);
        long[] out = new long[n];
        for (int i = 0; i < n; i++) {
            out[i] = all[(int) ((long) i * (all.length - 1) / Math.max(1, n - 1))];
        }
        return out;
    }

    /** What the stand-in device holds: {@code n} bytes at {@code offset} of its file, into {@code dst}. */
    private static void pread(java.io.RandomAccessFile device, MemorySegment dst, int n, long offset)
            throws java.io.IOException {
        byte[] b = new byte[n];
        device.seek(offset);
        device.readFully(b);
        MemorySegment.copy(MemorySegment.ofArray(b), 0, dst, 0, n);
    }
}
