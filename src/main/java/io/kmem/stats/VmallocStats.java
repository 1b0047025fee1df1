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
 */
public record VmallocStats(long windowBytes, long usedBytes, long largestFreeBytes, long areas, long pagesMapped,
                           long allocs, long frees, long failures, long mmaps, long setAside) {
}
