package io.kmem;

/**
 * What {@link MemoryPool#dma_alloc_coherent} returns: C's {@code void *} return value and its
 * {@code dma_addr_t *dma_handle} output in one.
 *
 * @param cpuAddr   the buffer's direct-map address, for the CPU (read and write it through
 *                  {@link MemoryPool#segment})
 * @param dmaHandle the address the device uses; every byte of the buffer lies at or below the
 *                  device's coherent DMA mask
 * @param size      the bytes asked for (whole pages are allocated, zeroed)
 */
public record DmaBuffer(long cpuAddr, long dmaHandle, long size) {
    @Override
    public String toString() {
        return String.format("DmaBuffer[cpu 0x%x, dma 0x%x, %d bytes]", cpuAddr, dmaHandle, size);
    }
}
