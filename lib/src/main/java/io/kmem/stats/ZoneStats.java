package io.kmem.stats;

import io.kmem.gfp.ZoneType;

/**
 * One zone's figures, as /proc/zoneinfo shows them: free, cached in threads' page caches, the
 * watermarks, managed and present frames (counts of 4 KiB frames), the spanned PFNs, and free
 * blocks per order ({@code nrFree[order]}).
 *
 * @param zone            the zone
 * @param free            frames in the zone's free lists
 * @param cached          frames held in threads' page caches (free, but not in the free lists)
 * @param min             the min watermark, in frames: below it only {@code __GFP_HIGH} allocates
 * @param low             the low watermark, in frames
 * @param high            the high watermark, in frames
 * @param managed         frames the page allocator manages in the zone
 * @param present         frames of the pool in the zone
 * @param spannedFirstPfn the lowest PFN of the zone's frames
 * @param spannedLastPfn  the highest PFN of the zone's frames
 * @param nrFree          free blocks per order, indexed by order 0 to {@code MAX_ORDER}
 */
public record ZoneStats(ZoneType zone, long free, long cached, long min, long low, long high, long managed,
                        long present, long spannedFirstPfn, long spannedLastPfn, long[] nrFree) {
}
