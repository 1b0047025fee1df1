package io.kmem.stats;

import io.kmem.gfp.ZoneType;

/**
 * One zone's figures, as /proc/zoneinfo shows them: free, cached in threads' page caches, the
 * watermarks, managed and present frames (counts of 4 KiB frames), the spanned PFNs, and free
 * blocks per order ({@code nrFree[order]}).
 */
public record ZoneStats(ZoneType zone, long free, long cached, long min, long low, long high, long managed,
                        long present, long spannedFirstPfn, long spannedLastPfn, long[] nrFree) {
}
