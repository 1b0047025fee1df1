package io.kmem.cli;

import io.kmem.MemoryPool;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
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
            out.print(pool.meminfo());
            out.println();
            var v = pool.verify();
            out.printf(Locale.ROOT, "verify: %d frames re-read from pagemap: %s%n", v.framesChecked(),
                    v.ok() ? "every frame at its recorded PFN" : v.moved().size() + " frames moved");
            return mismatches == 0 && v.ok() ? 0 : 1;
        }
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
