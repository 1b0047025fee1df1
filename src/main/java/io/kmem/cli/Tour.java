package io.kmem.cli;

import io.kmem.MemoryPool;
import io.kmem.gfp.Gfp;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Locale;

/** {@code kmem tour}: what the pool is made of, with real addresses checked against pagemap. */
final class Tour {
    private Tour() {
    }

    static int run(MemoryPool.Builder builder, PrintStream out) {
        out.println("== kmem tour ==");
        out.println("Building the pool: memfd frames are mapped and mlocked (4 KiB frames in 2 MiB shmem folios where");
        out.println("the host allows), their PFNs read from /proc/self/pagemap, and each run of consecutive PFNs");
        out.println("mapped into the direct map at directBase + (pfn - basePfn) * 4 KiB.\n");
        try (MemoryPool pool = builder.build()) {
            out.printf(Locale.ROOT, "pool '%s': %d frames (%d MiB) in %.1f ms%n%n", pool.name(), pool.frames(),
                    pool.frames() >> 8, pool.bringUpNanos() / 1e6);
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
                    info == null ? "(buddy, order " + MemoryPool.get_order(sizes[i]) + ")" : info.cache(), p,
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
        long big = pool.vmalloc(8L << 20);
        out.println("/proc/vmallocinfo with a second area of 8 MiB (2 MiB-aligned: large blocks map whole):");
        out.print(pool.vmallocinfo().indent(2));
        pool.vfree(big);
        pool.vfree(v);
        List<String> problems = pool.checkVmalloc();
        out.println(problems.isEmpty() ? "after vfree of both: the window is free again and every frame is back"
                : "checkVmalloc: " + problems);
        return mismatches + problems.size();
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
}
