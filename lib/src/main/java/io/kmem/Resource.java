package io.kmem;

/**
 * A region {@link MemoryPool#request_mem_region} (or {@code request_region}) claimed: the
 * kernel's {@code struct resource *}. Release it with the same start and length.
 *
 * @param name  the owner's name, as /proc/iomem shows it
 * @param start first address (or port)
 * @param end   last address (inclusive, as in the kernel)
 * @param owner who requested it (a stack frame of the caller)
 */
public record Resource(String name, long start, long end, String owner) {
    /**
     * {@code resource_size}: bytes (or ports) in the region.
     *
     * @return {@code end - start + 1}
     */
    public long size() {
        return end - start + 1;
    }

    @Override
    public String toString() {
        return String.format("[0x%08x-0x%08x] %s (by %s)", start, end, name, owner);
    }
}
