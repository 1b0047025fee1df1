package io.kmem.stats;

/**
 * The DMA API's figures for one pool.
 *
 * @param coherentBuffers live {@code dma_alloc_coherent} buffers, dma_pools' pages included
 * @param streamingMaps   streaming mappings made ({@code dma_map_single}, {@code dma_map_page}), ever
 * @param streamingUnmaps streaming mappings undone, ever; {@code streamingMaps - streamingUnmaps} are live
 * @param mapErrors       mappings refused with {@code DMA_MAPPING_ERROR} (buffer above the device's mask)
 * @param allocFailures   {@code dma_alloc_coherent} calls that returned NULL
 */
public record DmaStats(long coherentBuffers, long streamingMaps, long streamingUnmaps, long mapErrors,
                       long allocFailures) {
}
