package io.kmem;

/**
 * The kernel's {@code enum dma_data_direction}: which way the data of a streaming DMA mapping
 * flows. The ordinal is the kernel's value.
 */
public enum DmaDirection {
    /** Both ways: the device reads and writes the buffer. */
    DMA_BIDIRECTIONAL,
    /** The device reads the buffer (a packet to send, a command). */
    DMA_TO_DEVICE,
    /** The device writes the buffer (a packet received, a completion). */
    DMA_FROM_DEVICE,
    /** No direction: not valid for a mapping, kept for the kernel's numbering. */
    DMA_NONE
}
