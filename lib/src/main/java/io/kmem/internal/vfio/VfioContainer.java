package io.kmem.internal.vfio;

import io.kmem.bindings.Libc;
import io.kmem.bindings.vfio_group_status;
import io.kmem.bindings.vfio_iommu_type1_dma_map;
import io.kmem.bindings.vfio_iommu_type1_dma_unmap;
import io.kmem.bindings.vfio_iommu_type1_info;
import io.kmem.error.KmemException;
import io.kmem.error.SyscallException;
import io.kmem.internal.sys.Sys;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Locale;

/**
 * A VFIO container holding one group, with the type1 (v2) IOMMU set: the legacy VFIO API, in
 * the order the kernel's {@code Documentation/driver-api/vfio.rst} gives it.
 *
 * <ol>
 *   <li>open {@code /dev/vfio/vfio}; {@code VFIO_GET_API_VERSION} must be
 *       {@code VFIO_API_VERSION}; {@code VFIO_CHECK_EXTENSION(VFIO_TYPE1v2_IOMMU)} must be 1;</li>
 *   <li>open {@code /dev/vfio/N}; {@code VFIO_GROUP_GET_STATUS} must say viable;</li>
 *   <li>{@code VFIO_GROUP_SET_CONTAINER}, then {@code VFIO_SET_IOMMU(VFIO_TYPE1v2_IOMMU)};</li>
 *   <li>{@code VFIO_IOMMU_GET_INFO} twice: once to learn the size of the capability chain
 *       (the kernel raises {@code argsz}), once to read it ({@link IommuInfo#parse}).</li>
 * </ol>
 * Then {@link #map} and {@link #unmap} ({@code VFIO_IOMMU_MAP_DMA}/{@code _UNMAP_DMA}) put
 * process memory into the group's IOMMU domain; the kernel pins the pages (counted against
 * RLIMIT_MEMLOCK unless CAP_IPC_LOCK) and keeps them pinned until unmapped. {@link #close}
 * closes both files, which unmaps everything.
 *
 * <p>Thread safety: map and unmap may be called from any thread (the kernel serialises them).
 */
public final class VfioContainer implements IommuContainer, AutoCloseable {
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;

    private final String bdf;
    private final int group;
    private final int containerFd;
    private final int groupFd;
    private final IommuInfo info;
    private volatile boolean closed;

    private VfioContainer(String bdf, int group, int containerFd, int groupFd, IommuInfo info) {
        this.bdf = bdf;
        this.group = group;
        this.containerFd = containerFd;
        this.groupFd = groupFd;
        this.info = info;
    }

    /**
     * Opens group {@code group} (found by {@link VfioPreflight#check}) in a new container.
     *
     * @throws KmemException or {@link SyscallException} naming the step and the fix
     */
    public static VfioContainer open(Path dev, int group, String bdf) {
        int container = Sys.open(dev.resolve("vfio/vfio").toString(), Libc.O_RDWR() | Libc.O_CLOEXEC());
        int groupFd = -1;
        try {
            int version = Sys.ioctl(container, Libc.VFIO_GET_API_VERSION(), "VFIO_GET_API_VERSION", 0);
            if (version != Libc.VFIO_API_VERSION()) {
                throw new KmemException("vfio_open(" + bdf + "): VFIO API version " + version + ", kmem speaks "
                        + Libc.VFIO_API_VERSION());
            }
            if (Sys.ioctl(container, Libc.VFIO_CHECK_EXTENSION(), "VFIO_CHECK_EXTENSION", Libc.VFIO_TYPE1v2_IOMMU())
                    != 1) {
                throw new KmemException("vfio_open(" + bdf + "): this kernel's VFIO has no type1 v2 IOMMU backend;"
                        + " modprobe vfio_iommu_type1");
            }
            try {
                groupFd = Sys.open(dev.resolve("vfio/" + group).toString(), Libc.O_RDWR() | Libc.O_CLOEXEC());
            } catch (SyscallException e) {
                throw e.errno() == Libc.EBUSY() ? hinted(e, "IOMMU group " + group + " is open already (another"
                        + " process, or this one: a group belongs to one container; close the other user)") : e;
            }
            try (Arena a = Arena.ofConfined()) {
                MemorySegment st = a.allocate(vfio_group_status.layout());
                vfio_group_status.argsz(st, (int) vfio_group_status.sizeof());
                Sys.ioctl(groupFd, Libc.VFIO_GROUP_GET_STATUS(), "VFIO_GROUP_GET_STATUS", st);
                if ((vfio_group_status.flags(st) & Libc.VFIO_GROUP_FLAGS_VIABLE()) == 0) {
                    throw new KmemException("vfio_open(" + bdf + "): IOMMU group " + group + " is not viable: another"
                            + " function of the group is bound to a host driver; bind every function of the group"
                            + " to vfio-pci (see /sys/kernel/iommu_groups/" + group + "/devices)");
                }
                MemorySegment fd = a.allocateFrom(ValueLayout.JAVA_INT, container);
                Sys.ioctl(groupFd, Libc.VFIO_GROUP_SET_CONTAINER(), "VFIO_GROUP_SET_CONTAINER", fd);
            }
            try {
                Sys.ioctl(container, Libc.VFIO_SET_IOMMU(), "VFIO_SET_IOMMU", Libc.VFIO_TYPE1v2_IOMMU());
            } catch (SyscallException e) {
                throw e.errno() == Libc.EPERM() ? hinted(e, "the IOMMU does not remap interrupts, so VFIO refuses"
                        + " to isolate the device: enable interrupt remapping (QEMU: -device intel-iommu,intremap=on;"
                        + " firmware: VT-d with x2APIC), or, insecurely, modprobe vfio_iommu_type1"
                        + " allow_unsafe_interrupts=1") : e;
            }
            return new VfioContainer(bdf, group, container, groupFd, readInfo(container));
        } catch (RuntimeException e) {
            if (groupFd >= 0) {
                Sys.close(groupFd);
            }
            Sys.close(container);
            throw e;
        }
    }

    private static IommuInfo readInfo(int container) {
        try (Arena a = Arena.ofConfined()) {
            long size = vfio_iommu_type1_info.sizeof();
            for (int attempt = 0; attempt < 3; attempt++) {
                MemorySegment buf = a.allocate(size, 8);
                buf.set(U32, vfio_iommu_type1_info.argsz$offset(), (int) size);
                Sys.ioctl(container, Libc.VFIO_IOMMU_GET_INFO(), "VFIO_IOMMU_GET_INFO", buf);
                long want = Integer.toUnsignedLong(buf.get(U32, vfio_iommu_type1_info.argsz$offset()));
                if (want <= size) {
                    return IommuInfo.parse(buf.asSlice(0, Math.min(size, Math.max(want, vfio_iommu_type1_info.sizeof()))));
                }
                size = want;
            }
            throw new KmemException("VFIO_IOMMU_GET_INFO: the capability chain kept growing");
        }
    }

    /** What the IOMMU said about itself. */
    @Override
    public IommuInfo info() {
        return info;
    }

    public int group() {
        return group;
    }

    int groupFd() {
        return groupFd;
    }

    @Override
    public String bdf() {
        return bdf;
    }

    /**
     * {@code VFIO_IOMMU_MAP_DMA}: the device may read and write {@code size} bytes of this
     * process's memory at {@code vaddr} through IOVA {@code iova} (all page-aligned).
     *
     * @throws SyscallException with the fix: ENOSPC (the container's DMA mapping limit),
     *         ENOMEM/EPERM (RLIMIT_MEMLOCK), EEXIST (the IOVA range is mapped already)
     */
    @Override
    public void map(long vaddr, long iova, long size) {
        ensureOpen("VFIO_IOMMU_MAP_DMA");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = a.allocate(vfio_iommu_type1_dma_map.layout());
            vfio_iommu_type1_dma_map.argsz(m, (int) vfio_iommu_type1_dma_map.sizeof());
            vfio_iommu_type1_dma_map.flags(m, Libc.VFIO_DMA_MAP_FLAG_READ() | Libc.VFIO_DMA_MAP_FLAG_WRITE());
            vfio_iommu_type1_dma_map.vaddr(m, vaddr);
            vfio_iommu_type1_dma_map.iova(m, iova);
            vfio_iommu_type1_dma_map.size(m, size);
            Sys.ioctl(containerFd, Libc.VFIO_IOMMU_MAP_DMA(), "VFIO_IOMMU_MAP_DMA", m);
        } catch (SyscallException e) {
            throw mapFailure(e, bdf, info, vaddr, iova, size);
        }
    }

    /**
     * The failure of a {@code VFIO_IOMMU_MAP_DMA} of {@code size} bytes at {@code vaddr} to
     * {@code iova} for {@code bdf}, with the fix for the errnos the type1 backend gives: ENOSPC
     * (the container's DMA mapping limit, {@code dma_entry_limit}), ENOMEM/EPERM
     * (RLIMIT_MEMLOCK), EEXIST (the IOVA range is mapped already).
     */
    public static SyscallException mapFailure(SyscallException e, String bdf, IommuInfo info, long vaddr, long iova,
                                              long size) {
        String at = String.format(Locale.ROOT, "mapping %d bytes at 0x%x to IOVA 0x%x for %s: ", size, vaddr, iova,
                bdf);
        int errno = e.errno();
        if (errno == Libc.ENOSPC()) {
            return hinted(e, at + "the container's DMA mapping limit is reached ("
                    + (info.dmaAvail() < 0 ? "the kernel did not report it" : info.dmaAvail() + " mappings were"
                    + " available at vfio_open, VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL") + "); unmap buffers no longer in"
                    + " use, map fewer and larger buffers (or the whole pool, the default), or raise the limit:"
                    + " modprobe vfio_iommu_type1 dma_entry_limit=N (65535 by default)");
        }
        if (errno == Libc.ENOMEM() || errno == Libc.EPERM()) {
            return hinted(e, at + "VFIO pins the pages and counts them against RLIMIT_MEMLOCK: raise it above the"
                    + " pool's size (ulimit -l) or give the process CAP_IPC_LOCK");
        }
        if (errno == Libc.EEXIST()) {
            return hinted(e, at + "the IOVA range overlaps a mapping already made");
        }
        return hinted(e, at.substring(0, at.length() - 2));
    }

    /** {@code VFIO_IOMMU_UNMAP_DMA} of exactly a range {@link #map} mapped: the IOVA faults again. */
    @Override
    public void unmap(long iova, long size) {
        ensureOpen("VFIO_IOMMU_UNMAP_DMA");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = a.allocate(vfio_iommu_type1_dma_unmap.layout());
            vfio_iommu_type1_dma_unmap.argsz(m, (int) vfio_iommu_type1_dma_unmap.sizeof());
            vfio_iommu_type1_dma_unmap.iova(m, iova);
            vfio_iommu_type1_dma_unmap.size(m, size);
            Sys.ioctl(containerFd, Libc.VFIO_IOMMU_UNMAP_DMA(), "VFIO_IOMMU_UNMAP_DMA", m);
            if (vfio_iommu_type1_dma_unmap.size(m) != size) {
                throw new KmemException(String.format(Locale.ROOT, "VFIO_IOMMU_UNMAP_DMA(IOVA 0x%x, %d bytes): the"
                        + " kernel unmapped %d bytes", iova, size, vfio_iommu_type1_dma_unmap.size(m)));
            }
        }
    }

    private void ensureOpen(String call) {
        if (closed) {
            throw new KmemException(call + ": the VFIO container of " + bdf + " is closed");
        }
    }

    /** Closes the group and the container: every mapping goes, the pages are unpinned. */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            Sys.close(groupFd);
            Sys.close(containerFd);
        }
    }

    static SyscallException hinted(SyscallException e, String hint) {
        SyscallException x = new SyscallException(e.call(), e.errno(), e.errnoName(), e.getMessage() + "; " + hint);
        x.initCause(e);
        return x;
    }
}
