package io.kmem.stats;

/**
 * vmalloc's window and counters, as meminfo's Vmalloc lines show them.
 *
 * @param windowBytes      the window's size (VmallocTotal)
 * @param usedBytes        bytes of areas and their guard pages
 * @param largestFreeBytes the largest free range (VmallocChunk)
 * @param areas            areas in the window, ioremap's included
 * @param pagesMapped      pages mapped into vmalloc areas now
 * @param allocs           successful vmalloc-family calls and vmaps
 * @param frees            vfree and vunmap calls
 * @param failures         vmalloc-family calls that returned NULL
 * @param mmaps            mmap calls made to map frames
 * @param setAside         hugetlb pieces set aside while gathering frames
 * @param mapsFree         process mappings vmalloc may still take before it refuses (or, as
 *                         root, raises {@code vm.max_map_count}): the limit less the share left
 *                         to the JVM and the mappings the process holds (VmallocMapsFree)
 * @param maxMapCount      {@code vm.max_map_count} as kmem last read or raised it
 */
public record VmallocStats(long windowBytes, long usedBytes, long largestFreeBytes, long areas, long pagesMapped,
                           long allocs, long frees, long failures, long mmaps, long setAside, long mapsFree,
                           long maxMapCount) {
}
