/**
 * The figures the pool's reports are made of, as plain records: zone, page allocator, slab
 * cache, vmalloc and frame-verification figures ({@code MemoryPool.zoneStats()},
 * {@code pageStats()}, {@code slabStats()}, {@code vmallocStats()}, {@code verify()} ...),
 * and the host's facts as read at pool creation ({@link io.kmem.stats.HostInfo},
 * {@code MemoryPool.host()}).
 */
package io.kmem.stats;
