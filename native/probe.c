/*
 * Prints, one "NAME VALUE" per line, the value of every constant in native/jextract.args and the
 * layout facts the generated bindings encode (struct rlimit, the C type sizes). BindingsCheckTest
 * compiles and runs it and compares each line with the bindings, both ways: a constant the
 * bindings have and the probe does not print (or the reverse) fails the test, so add a line here
 * whenever an --include-constant or --include-struct is added to the argfile.
 *
 *   NAME VALUE                 a constant, as a signed 64-bit decimal (pointers: their address)
 *   sizeof.NAME N              sizeof the C type behind the layout Libc.C_NAME (upper-cased)
 *   STRUCT.sizeof N            sizeof(struct STRUCT)
 *   STRUCT.FIELD.offset N      offsetof(struct STRUCT, FIELD)
 *   STRUCT.FIELD.size N        sizeof(((struct STRUCT *) 0)->FIELD)
 */
#include "kmem.h"

#include <stddef.h>
#include <stdio.h>

#define CONSTANT(name)      printf("%s %lld\n", #name, (long long) (name))
#define SIZEOF(name, type)  printf("sizeof.%s %zu\n", #name, sizeof(type))
#define STRUCT(s)           printf("%s.sizeof %zu\n", #s, sizeof(struct s))
#define FIELD(s, f)         printf("%s.%s.offset %zu\n%s.%s.size %zu\n", #s, #f, offsetof(struct s, f), \
                                   #s, #f, sizeof(((struct s *) 0)->f))
/* A flexible array member (data[]): its offset; its size is 0, as jextract lays it out. */
#define FLEXIBLE(s, f)      printf("%s.%s.offset %zu\n%s.%s.size 0\n", #s, #f, offsetof(struct s, f), #s, #f)

int main(void) {
    CONSTANT(PROT_NONE);
    CONSTANT(PROT_READ);
    CONSTANT(PROT_WRITE);

    CONSTANT(MAP_SHARED);
    CONSTANT(MAP_PRIVATE);
    CONSTANT(MAP_FIXED);
    CONSTANT(MAP_FIXED_NOREPLACE);
    CONSTANT(MAP_ANONYMOUS);
    CONSTANT(MAP_NORESERVE);
    CONSTANT(MAP_POPULATE);
    CONSTANT(MAP_LOCKED);
    CONSTANT(MAP_HUGETLB);
    CONSTANT(MAP_FAILED);

    CONSTANT(MREMAP_MAYMOVE);
    CONSTANT(MREMAP_FIXED);

    CONSTANT(MADV_DONTNEED);
    CONSTANT(MADV_REMOVE);
    CONSTANT(MADV_DONTFORK);
    CONSTANT(MADV_HUGEPAGE);
    CONSTANT(MADV_NOHUGEPAGE);
    CONSTANT(MADV_POPULATE_WRITE);

    CONSTANT(MFD_CLOEXEC);
    CONSTANT(MFD_ALLOW_SEALING);
    CONSTANT(MFD_HUGETLB);
    CONSTANT(MFD_HUGE_2MB);
    CONSTANT(MFD_HUGE_1GB);

    CONSTANT(F_ADD_SEALS);
    CONSTANT(F_GET_SEALS);
    CONSTANT(F_SEAL_SEAL);
    CONSTANT(F_SEAL_SHRINK);
    CONSTANT(F_SEAL_GROW);
    CONSTANT(F_SEAL_WRITE);

    CONSTANT(FALLOC_FL_KEEP_SIZE);
    CONSTANT(FALLOC_FL_PUNCH_HOLE);

    CONSTANT(O_RDONLY);
    CONSTANT(O_WRONLY);
    CONSTANT(O_RDWR);
    CONSTANT(O_CLOEXEC);
    CONSTANT(O_SYNC);

    CONSTANT(_SC_PAGESIZE);
    CONSTANT(_SC_NPROCESSORS_ONLN);

    CONSTANT(RLIMIT_MEMLOCK);
    CONSTANT(RLIM_INFINITY);

    CONSTANT(EPERM);
    CONSTANT(ENOENT);
    CONSTANT(EINTR);
    CONSTANT(EIO);
    CONSTANT(EAGAIN);
    CONSTANT(ENOMEM);
    CONSTANT(EACCES);
    CONSTANT(EBUSY);
    CONSTANT(EEXIST);
    CONSTANT(EINVAL);
    CONSTANT(ENOSPC);
    CONSTANT(ENOSYS);
    CONSTANT(EFAULT);
    CONSTANT(EOPNOTSUPP);

    CONSTANT(SYS_mmap);
    CONSTANT(SYS_munmap);
    CONSTANT(SYS_mremap);
    CONSTANT(SYS_mprotect);
    CONSTANT(SYS_mlock);
    CONSTANT(SYS_munlock);
    CONSTANT(SYS_madvise);
    CONSTANT(SYS_mincore);
    CONSTANT(SYS_memfd_create);
    CONSTANT(SYS_ftruncate);
    CONSTANT(SYS_fallocate);
    CONSTANT(SYS_fcntl);
    CONSTANT(SYS_openat);
    CONSTANT(SYS_close);
    CONSTANT(SYS_pread64);
    CONSTANT(SYS_pwrite64);
    CONSTANT(SYS_read);
    CONSTANT(SYS_write);
    CONSTANT(SYS_eventfd2);
    CONSTANT(SYS_poll);
    CONSTANT(SYS_ioctl);
    CONSTANT(SYS_getpid);
    CONSTANT(SYS_prlimit64);
    CONSTANT(AT_FDCWD);
    CONSTANT(SYS_io_uring_setup);
    CONSTANT(SYS_io_uring_register);
    CONSTANT(IORING_REGISTER_BUFFERS);
    CONSTANT(IORING_UNREGISTER_BUFFERS);

    SIZEOF(bool, _Bool);
    SIZEOF(char, char);
    SIZEOF(short, short);
    SIZEOF(int, int);
    SIZEOF(long, long);
    SIZEOF(long_long, long long);
    SIZEOF(float, float);
    SIZEOF(double, double);
    SIZEOF(pointer, void *);

    STRUCT(rlimit);
    FIELD(rlimit, rlim_cur);
    FIELD(rlimit, rlim_max);

    /* VFIO (linux/vfio.h) and ioctl */
    CONSTANT(VFIO_API_VERSION);
    CONSTANT(VFIO_TYPE1_IOMMU);
    CONSTANT(VFIO_TYPE1v2_IOMMU);
    CONSTANT(VFIO_GET_API_VERSION);
    CONSTANT(VFIO_CHECK_EXTENSION);
    CONSTANT(VFIO_SET_IOMMU);
    CONSTANT(VFIO_GROUP_GET_STATUS);
    CONSTANT(VFIO_GROUP_SET_CONTAINER);
    CONSTANT(VFIO_GROUP_UNSET_CONTAINER);
    CONSTANT(VFIO_GROUP_GET_DEVICE_FD);
    CONSTANT(VFIO_GROUP_FLAGS_VIABLE);
    CONSTANT(VFIO_GROUP_FLAGS_CONTAINER_SET);
    CONSTANT(VFIO_DEVICE_GET_INFO);
    CONSTANT(VFIO_DEVICE_GET_REGION_INFO);
    CONSTANT(VFIO_DEVICE_GET_IRQ_INFO);
    CONSTANT(VFIO_DEVICE_SET_IRQS);
    CONSTANT(VFIO_DEVICE_RESET);
    CONSTANT(VFIO_DEVICE_FLAGS_RESET);
    CONSTANT(VFIO_DEVICE_FLAGS_PCI);
    CONSTANT(VFIO_REGION_INFO_FLAG_READ);
    CONSTANT(VFIO_REGION_INFO_FLAG_WRITE);
    CONSTANT(VFIO_REGION_INFO_FLAG_MMAP);
    CONSTANT(VFIO_PCI_BAR0_REGION_INDEX);
    CONSTANT(VFIO_PCI_CONFIG_REGION_INDEX);
    CONSTANT(VFIO_PCI_NUM_REGIONS);
    CONSTANT(VFIO_PCI_INTX_IRQ_INDEX);
    CONSTANT(VFIO_PCI_MSI_IRQ_INDEX);
    CONSTANT(VFIO_PCI_MSIX_IRQ_INDEX);
    CONSTANT(VFIO_IRQ_INFO_EVENTFD);
    CONSTANT(VFIO_IRQ_INFO_MASKABLE);
    CONSTANT(VFIO_IRQ_INFO_AUTOMASKED);
    CONSTANT(VFIO_IRQ_SET_DATA_NONE);
    CONSTANT(VFIO_IRQ_SET_DATA_EVENTFD);
    CONSTANT(VFIO_IRQ_SET_ACTION_MASK);
    CONSTANT(VFIO_IRQ_SET_ACTION_UNMASK);
    CONSTANT(VFIO_IRQ_SET_ACTION_TRIGGER);
    CONSTANT(VFIO_IOMMU_GET_INFO);
    CONSTANT(VFIO_IOMMU_INFO_PGSIZES);
    CONSTANT(VFIO_IOMMU_INFO_CAPS);
    CONSTANT(VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE);
    CONSTANT(VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL);
    CONSTANT(VFIO_IOMMU_MAP_DMA);
    CONSTANT(VFIO_IOMMU_UNMAP_DMA);
    CONSTANT(VFIO_DMA_MAP_FLAG_READ);
    CONSTANT(VFIO_DMA_MAP_FLAG_WRITE);
    CONSTANT(ENODEV);
    CONSTANT(ENXIO);

    /* interrupt lines: eventfd, poll */
    CONSTANT(EFD_CLOEXEC);
    CONSTANT(POLLIN);

    STRUCT(pollfd);
    FIELD(pollfd, fd);
    FIELD(pollfd, events);
    FIELD(pollfd, revents);

    STRUCT(vfio_info_cap_header);
    FIELD(vfio_info_cap_header, id);
    FIELD(vfio_info_cap_header, version);
    FIELD(vfio_info_cap_header, next);

    STRUCT(vfio_group_status);
    FIELD(vfio_group_status, argsz);
    FIELD(vfio_group_status, flags);

    STRUCT(vfio_device_info);
    FIELD(vfio_device_info, argsz);
    FIELD(vfio_device_info, flags);
    FIELD(vfio_device_info, num_regions);
    FIELD(vfio_device_info, num_irqs);
    FIELD(vfio_device_info, cap_offset);

    STRUCT(vfio_region_info);
    FIELD(vfio_region_info, argsz);
    FIELD(vfio_region_info, flags);
    FIELD(vfio_region_info, index);
    FIELD(vfio_region_info, cap_offset);
    FIELD(vfio_region_info, size);
    FIELD(vfio_region_info, offset);

    STRUCT(vfio_irq_info);
    FIELD(vfio_irq_info, argsz);
    FIELD(vfio_irq_info, flags);
    FIELD(vfio_irq_info, index);
    FIELD(vfio_irq_info, count);

    STRUCT(vfio_irq_set);
    FIELD(vfio_irq_set, argsz);
    FIELD(vfio_irq_set, flags);
    FIELD(vfio_irq_set, index);
    FIELD(vfio_irq_set, start);
    FIELD(vfio_irq_set, count);
    FLEXIBLE(vfio_irq_set, data);

    STRUCT(vfio_iommu_type1_info);
    FIELD(vfio_iommu_type1_info, argsz);
    FIELD(vfio_iommu_type1_info, flags);
    FIELD(vfio_iommu_type1_info, iova_pgsizes);
    FIELD(vfio_iommu_type1_info, cap_offset);

    STRUCT(vfio_iova_range);
    FIELD(vfio_iova_range, start);
    FIELD(vfio_iova_range, end);

    STRUCT(vfio_iommu_type1_info_cap_iova_range);
    FIELD(vfio_iommu_type1_info_cap_iova_range, header);
    FIELD(vfio_iommu_type1_info_cap_iova_range, nr_iovas);
    FIELD(vfio_iommu_type1_info_cap_iova_range, reserved);
    FLEXIBLE(vfio_iommu_type1_info_cap_iova_range, iova_ranges);

    STRUCT(vfio_iommu_type1_info_dma_avail);
    FIELD(vfio_iommu_type1_info_dma_avail, header);
    FIELD(vfio_iommu_type1_info_dma_avail, avail);

    STRUCT(vfio_iommu_type1_dma_map);
    FIELD(vfio_iommu_type1_dma_map, argsz);
    FIELD(vfio_iommu_type1_dma_map, flags);
    FIELD(vfio_iommu_type1_dma_map, vaddr);
    FIELD(vfio_iommu_type1_dma_map, iova);
    FIELD(vfio_iommu_type1_dma_map, size);

    STRUCT(vfio_iommu_type1_dma_unmap);
    FIELD(vfio_iommu_type1_dma_unmap, argsz);
    FIELD(vfio_iommu_type1_dma_unmap, flags);
    FIELD(vfio_iommu_type1_dma_unmap, iova);
    FIELD(vfio_iommu_type1_dma_unmap, size);
    FLEXIBLE(vfio_iommu_type1_dma_unmap, data);

    STRUCT(iovec);
    FIELD(iovec, iov_base);
    FIELD(iovec, iov_len);

    STRUCT(io_sqring_offsets);
    FIELD(io_sqring_offsets, head);
    FIELD(io_sqring_offsets, tail);
    FIELD(io_sqring_offsets, ring_mask);
    FIELD(io_sqring_offsets, ring_entries);
    FIELD(io_sqring_offsets, flags);
    FIELD(io_sqring_offsets, dropped);
    FIELD(io_sqring_offsets, array);
    FIELD(io_sqring_offsets, resv1);
    FIELD(io_sqring_offsets, resv2);

    STRUCT(io_cqring_offsets);
    FIELD(io_cqring_offsets, head);
    FIELD(io_cqring_offsets, tail);
    FIELD(io_cqring_offsets, ring_mask);
    FIELD(io_cqring_offsets, ring_entries);
    FIELD(io_cqring_offsets, overflow);
    FIELD(io_cqring_offsets, cqes);
    FIELD(io_cqring_offsets, flags);
    FIELD(io_cqring_offsets, resv1);
    FIELD(io_cqring_offsets, resv2);

    STRUCT(io_uring_params);
    FIELD(io_uring_params, sq_entries);
    FIELD(io_uring_params, cq_entries);
    FIELD(io_uring_params, flags);
    FIELD(io_uring_params, sq_thread_cpu);
    FIELD(io_uring_params, sq_thread_idle);
    FIELD(io_uring_params, features);
    FIELD(io_uring_params, wq_fd);
    FIELD(io_uring_params, resv);
    FIELD(io_uring_params, sq_off);
    FIELD(io_uring_params, cq_off);
    return 0;
}
