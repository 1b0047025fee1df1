/*
 * The C declarations kmem binds: jextract reads this header (with native/jextract.args) to
 * generate bindings/io/kmem/bindings, and native/probe.c includes it to print the real values
 * the bindings test checks against. Only system headers; no declarations of our own.
 */
#ifndef KMEM_H
#define KMEM_H

#define _GNU_SOURCE

#include <sys/mman.h>       /* mmap, munmap, mremap, mprotect, mlock, madvise, mincore, memfd_create, PROT_*, MAP_*, MADV_*, MFD_* */
#include <fcntl.h>          /* open, fcntl, fallocate, O_*, F_*SEAL*, AT_FDCWD */
#include <unistd.h>         /* close, read, write, pread, pwrite, ftruncate, sysconf, getpid, _SC_* */
#include <sys/resource.h>   /* getrlimit, struct rlimit, RLIMIT_MEMLOCK */
#include <string.h>         /* strerror, strerrorname_np */
#include <errno.h>          /* E* */
#include <sched.h>          /* sched_getcpu */
#include <linux/falloc.h>   /* FALLOC_FL_* */
#include <linux/memfd.h>    /* MFD_HUGE_* */
#include <sys/ioctl.h>      /* ioctl */
#include <linux/vfio.h>     /* VFIO_*, struct vfio_* (container, group, device, IOMMU type1) */
#include <sys/syscall.h>    /* syscall, SYS_* (Sys makes every system call through syscall(2)) */
#include <sys/uio.h>        /* struct iovec */
#include <linux/io_uring.h> /* struct io_uring_params, IORING_REGISTER_BUFFERS, IORING_UNREGISTER_BUFFERS */
#include <poll.h>           /* poll, struct pollfd, POLLIN */

/*
 * jextract bundles clang's builtin headers (stdint.h among them) in its own include directory,
 * searched before libclang 14's resource directory, which holds the same headers. Clang's
 * <stdint.h> #include_next's the system one, finds its own second copy instead (emptied by its
 * include guard), and glibc's <stdint.h> is never read: <sys/eventfd.h> then fails with
 * "unknown type name 'uint64_t'". Reading glibc's first gives jextract uint64_t; gcc
 * (native/probe.c) needs no help and does not see this.
 */
#if defined(__clang__)
#include </usr/include/stdint.h>
#endif
#include <sys/eventfd.h>    /* eventfd, EFD_CLOEXEC */

#endif /* KMEM_H */
