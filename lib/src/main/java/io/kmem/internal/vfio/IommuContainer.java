package io.kmem.internal.vfio;

/**
 * What an {@link IommuDomain} needs of its VFIO container: the function's address, what the
 * IOMMU said about itself at open, and {@code VFIO_IOMMU_MAP_DMA}/{@code _UNMAP_DMA}.
 * {@link VfioContainer} is the one implementation; the seam exists so that the domain's error
 * paths (an exhausted IOVA space, the container's DMA mapping limit) can be driven on a host
 * without an IOMMU by a container that behaves as the kernel's type1 backend does.
 */
public interface IommuContainer {
    /** The PCI function the container holds, {@code DDDD:BB:DD.F}. */
    String bdf();

    /** {@code VFIO_IOMMU_GET_INFO} at open: usable IOVA ranges, page sizes, the DMA mapping limit. */
    IommuInfo info();

    /**
     * {@code VFIO_IOMMU_MAP_DMA} of {@code size} bytes of process memory at {@code vaddr} to
     * {@code iova} (all page-aligned).
     *
     * @throws io.kmem.error.SyscallException with the fix ({@link VfioContainer#mapFailure})
     */
    void map(long vaddr, long iova, long size);

    /** {@code VFIO_IOMMU_UNMAP_DMA} of exactly a range {@link #map} mapped. */
    void unmap(long iova, long size);
}
