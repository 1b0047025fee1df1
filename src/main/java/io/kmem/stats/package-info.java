/**
 * The figures the pool's reports are made of, as plain records: zone, page allocator, slab
 * cache, vmalloc and frame-verification figures ({@code MemoryPool.zoneStats()},
 * {@code pageStats()}, {@code slabStats()}, {@code vmallocStats()}, {@code verify()} ...).
 */
package io.kmem.stats;
