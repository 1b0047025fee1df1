package io.kmem;

import io.kmem.internal.dma.DeviceImpl;

/**
 * A device that does DMA: the kernel's {@code struct device}, as the DMA API sees it. It
 * carries the two DMA masks ({@code dma_mask} for streaming mappings, {@code coherent_dma_mask}
 * for {@code dma_alloc_coherent}), both 32 bits to begin with as for a new PCI device, and the
 * streaming mappings it holds, against which every unmap and sync is checked.
 *
 * <p>A PCI function's device is {@link PciDev#dev()}; any other (a platform device, a test)
 * is made with {@code new Device(name)}. A device is not tied to a pool.
 */
public final class Device {
    final DeviceImpl impl;

    /**
     * A device named {@code name} (the name appears in DMA messages), with 32-bit masks.
     *
     * @param name the device's name ({@code dev_name}), not empty
     * @throws IllegalArgumentException for a null or empty name
     */
    public Device(String name) {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("Device: expected a name, got none");
        }
        this.impl = new DeviceImpl(name);
    }

    /**
     * {@code dev_name}.
     *
     * @return the name given at creation (a PCI function's address for {@link PciDev#dev()})
     */
    public String name() {
        return impl.name();
    }

    /**
     * {@code dma_get_mask}: the streaming DMA mask.
     *
     * @return the highest DMA address of streaming mappings ({@code DMA_BIT_MASK(32)} until set)
     */
    public long dma_mask() {
        return impl.dmaMask();
    }

    /**
     * The coherent DMA mask ({@code dev->coherent_dma_mask}).
     *
     * @return the highest DMA address of coherent buffers ({@code DMA_BIT_MASK(32)} until set)
     */
    public long coherent_dma_mask() {
        return impl.coherentMask();
    }

    /**
     * Streaming mappings ({@code dma_map_single}, {@code dma_map_page}) not unmapped yet.
     *
     * @return how many the device holds now
     */
    public int liveMappings() {
        return impl.liveMappings();
    }

    @Override
    public String toString() {
        return "Device " + impl;
    }
}
