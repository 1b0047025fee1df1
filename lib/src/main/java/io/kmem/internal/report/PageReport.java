package io.kmem.internal.report;

import io.kmem.internal.page.BuddyAllocator;
import io.kmem.internal.page.BuddyAllocator.CacheStats;
import io.kmem.stats.PageStats;
import io.kmem.stats.ZoneStats;
import java.util.List;
import java.util.Locale;

/**
 * Reports on a pool's page allocator in the kernel's own formats: {@code /proc/buddyinfo}
 * and a {@code /proc/zoneinfo}-style view. Zones the pool holds no frames in are left out,
 * as the kernel leaves out unpopulated zones. There is one node, node 0.
 */
public final class PageReport {
    private PageReport() {
    }

    /**
     * {@code /proc/buddyinfo}: per zone, the number of free blocks of each order 0..10 in the
     * buddy's free lists (frames in per-thread caches are not in these lists, as pcp pages
     * are not in the kernel's).
     */
    public static String buddyinfo(BuddyAllocator buddy) {
        StringBuilder sb = new StringBuilder();
        for (ZoneStats z : buddy.zoneStats()) {
            if (z.managed() == 0) {
                continue;
            }
            sb.append(String.format(Locale.ROOT, "Node 0, zone %8s ", z.zone().procName()));
            for (long n : z.nrFree()) {
                sb.append(String.format(Locale.ROOT, "%6d ", n));
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    /**
     * A {@code /proc/zoneinfo}-style view: per zone, free frames, watermarks, span, present
     * and managed frames; then the per-thread page caches ("pagesets") with their counts per
     * order 0..3, high and batch.
     */
    public static String zoneinfo(BuddyAllocator buddy) {
        StringBuilder sb = new StringBuilder();
        for (ZoneStats z : buddy.zoneStats()) {
            if (z.managed() == 0) {
                continue;
            }
            sb.append(String.format(Locale.ROOT, "Node 0, zone %8s%n", z.zone().procName()));
            sb.append(String.format(Locale.ROOT, "  pages free     %d%n", z.free()));
            sb.append(String.format(Locale.ROOT, "        min      %d%n", z.min()));
            sb.append(String.format(Locale.ROOT, "        low      %d%n", z.low()));
            sb.append(String.format(Locale.ROOT, "        high     %d%n", z.high()));
            sb.append(String.format(Locale.ROOT, "        spanned  %d%n",
                    z.spannedLastPfn() < 0 ? 0 : z.spannedLastPfn() - z.spannedFirstPfn() + 1));
            sb.append(String.format(Locale.ROOT, "        present  %d%n", z.present()));
            sb.append(String.format(Locale.ROOT, "        managed  %d%n", z.managed()));
            sb.append(String.format(Locale.ROOT, "      nr_free_pages %d%n", z.free()));
            sb.append(String.format(Locale.ROOT, "      nr_free_pcp   %d%n", z.cached()));
            sb.append(String.format(Locale.ROOT, "      nr_used       %d%n", z.managed() - z.free() - z.cached()));
            sb.append(String.format(Locale.ROOT, "  start_pfn:           %d%n", Math.max(0, z.spannedFirstPfn())));
        }
        List<CacheStats> caches = buddy.cacheStats();
        sb.append("pagesets (per-thread page caches; count in blocks of order 0 1 2 3)\n");
        for (CacheStats c : caches) {
            sb.append(String.format(Locale.ROOT, "    thread: %s%s%n", c.thread(), c.alive() ? "" : " (ended)"));
            sb.append(String.format(Locale.ROOT, "              count: %s (%d frames)%n", join(c.count()), c.frames()));
            sb.append(String.format(Locale.ROOT, "              high:  %s%n", join(c.high())));
            sb.append(String.format(Locale.ROOT, "              batch: %s%n", join(c.batch())));
            sb.append(String.format(Locale.ROOT, "              refills %d drains %d slow allocs %d slow frees %d%n",
                    c.refills(), c.drains(), c.allocs(), c.frees()));
        }
        PageStats s = buddy.stats();
        sb.append(String.format(Locale.ROOT, "allocation failures %d, growths %d (%d frames), harvests %d (%d found"
                        + " their block; %d frames taken, %d given back), waits %d (%.1f ms)%n", s.failures(),
                s.growths(), s.grownFrames(), s.harvests(), s.harvestHits(), s.harvestTaken(), s.harvestReturned(),
                s.waits(), s.waitNanos() / 1e6));
        return sb.toString();
    }

    private static String join(int[] values) {
        StringBuilder sb = new StringBuilder();
        for (int v : values) {
            sb.append(sb.isEmpty() ? "" : " ").append(v);
        }
        return sb.toString();
    }
}
