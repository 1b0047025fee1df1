/*
 * The C declarations kmem binds: jextract reads this header (with native/jextract.args) to
 * generate bindings/io/kmem/bindings, and native/probe.c includes it to print the real values
 * the bindings test checks against. Only system headers; no declarations of our own.
 */
#ifndef KMEM_H
#define KMEM_H

#define _GNU_SOURCE

#include <sys/mman.h>       /* mmap, munmap, mremap, mprotect, mlock, madvise, mincore, memfd_create, PROT_*, MAP_*, MADV_*, MFD_* */
#include <fcntl.h>          /* open, fcntl, fallocate, O_*, F_*SEAL* */
#include <unistd.h>         /* close, read, write, pread, pwrite, ftruncate, sysconf, getpid, _SC_* */
#include <sys/resource.h>   /* getrlimit, struct rlimit, RLIMIT_MEMLOCK */
#include <string.h>         /* strerror, strerrorname_np */
#include <errno.h>          /* E* */
#include <sched.h>          /* sched_getcpu */
#include <linux/falloc.h>   /* FALLOC_FL_* */
#include <linux/memfd.h>    /* MFD_HUGE_* */
#include <sys/ioctl.h>      /* ioctl */
#include <linux/vfio.h>     /* VFIO_*, struct vfio_* (container, group, device, IOMMU type1) */
#include <sys/syscall.h>    /* syscall, SYS_io_uring_setup, SYS_io_uring_register */
#include <sys/uio.h>        /* struct iovec */
#include <linux/io_uring.h> /* struct io_uring_params, IORING_REGISTER_BUFFERS, IORING_UNREGISTER_BUFFERS */

#endif /* KMEM_H */
