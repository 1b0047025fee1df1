package io.kmem.stats;

/**
 * The slab layer's counters outside its caches.
 *
 * @param largeAllocs   kmalloc calls above 8 KiB served straight from the page allocator
 * @param largeFrees    their kfree calls
 * @param largeFailures large kmalloc calls that returned NULL (above 4 MiB, or out of memory)
 * @param misuses       misuses reported (double frees, bad pointers, wrong caches)
 */
public record LargeKmallocStats(long largeAllocs, long largeFrees, long largeFailures, long misuses) {
}
