package io.kmem.internal.dma;

/**
 * How a device addresses pool memory when it sits behind an IOMMU: the DMA address of a CPU
 * address is an I/O virtual address of the device's domain, not the physical address
 * (DESIGN.md, "Two ways a device addresses memory"). Set on a {@link DeviceImpl} with
 * {@link DeviceImpl#translation(DmaTranslation)}; a device without one uses dma-direct
 * (DMA address = physical address).
 *
 * <p>Implementations are thread-safe; {@link #toDma} is on the {@code dma_map_*} path.
 */
public interface DmaTranslation {
    /**
     * The DMA address of the {@code size} bytes at pool address {@code cpuAddr}, which the
     * device reaches as one contiguous range, or {@link DmaDirect#DMA_MAPPING_ERROR} when they
     * are not all mapped contiguously into the domain ({@link #why} says why).
     */
    long toDma(long cpuAddr, long size);

    /** The CPU address whose DMA address is {@code dma}, or 0 when the domain maps none there. */
    long toCpu(long dma);

    /** Why the last {@link #toDma} (or {@link #map}) of {@code cpuAddr} failed, for the warning. */
    String why(long cpuAddr, long size);

    /**
     * {@code dma_map_*} and {@code dma_alloc_coherent}: the DMA address of the buffer, mapping it
     * into the domain first where the domain maps per call; {@link DmaDirect#DMA_MAPPING_ERROR}
     * when it cannot. A domain that maps the whole pool returns {@link #toDma}.
     */
    default long map(long cpuAddr, long size) {
        return toDma(cpuAddr, size);
    }

    /**
     * {@code dma_unmap_*} and {@code dma_free_coherent}: undoes {@link #map} of {@code size}
     * bytes at {@code dma} (per call: the IOVA faults again). A whole-pool domain does nothing.
     */
    default void unmap(long dma, long size) {
    }
}
