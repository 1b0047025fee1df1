package io.kmem.internal.sys;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import io.kmem.bindings.Libc;
import io.kmem.error.SyscallException;
import io.kmem.bindings.pollfd;
import io.kmem.bindings.rlimit;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.ref.Reference;
import java.lang.invoke.VarHandle;

/**
 * The system calls kmem makes. No other class calls into C: everything below the public API
 * that touches the kernel comes through here.
 *
 * <h2>Conventions</h2>
 * <ul>
 *   <li><b>Pointers are {@code long} addresses</b> where the C API takes or returns the address
 *       of a mapping ({@code mmap}, {@code munmap}, {@code mlock}, ...), so that callers keep
 *       plain numbers and no {@link MemorySegment} escapes a call. Buffers the kernel
 *       reads or writes ({@code pread}, {@code mincore}) are {@link MemorySegment}s, checked
 *       against the count before the call, so the kernel can never write past them.</li>
 *   <li><b>Handles.</b> Every system call goes through one downcall handle,
 *       {@code syscall(2)} with its number (the bindings' {@code SYS_*}, which the C headers
 *       give) and six {@code long} arguments, linked on the first call with
 *       {@link Linker.Option#captureCallState captureCallState("errno")}; only the C
 *       library's own functions ({@code sysconf}, {@code sched_getcpu}, {@code strerror},
 *       {@code strerrorname_np}) have handles of their own, each linked on its first use (a
 *       static final of its own holder class). Linking generates classes for each distinct
 *       call shape, which a process pays at its start; a pool's bring-up makes a dozen
 *       system calls and so links one shape for all of them. Pointer arguments are the
 *       addresses of native segments, kept reachable across the call.</li>
 *   <li><b>errno</b> is captured into a segment of the calling thread (a {@code ThreadLocal}
 *       in an automatic arena; virtual threads get their own), never a shared one, and read
 *       only on failure. {@code strerror} and {@code strerrorname_np} cannot fail and
 *       capture nothing; {@code getpid} cannot fail either (it goes through the same
 *       {@code syscall} handle, its errno never read).</li>
 *   <li><b>Failure</b> throws {@link SyscallException}; its message names the call, its key
 *       arguments, errno, the errno name, {@code strerror} and a hint where one applies.
 *       {@code EINTR} is retried inside for {@code open}, {@code pread}, {@code pwrite},
 *       {@code ftruncate} and {@code fallocate}; {@code close} treats it as done (Linux has
 *       released the descriptor, a retry could close another thread's new one).</li>
 *   <li><b>Allocation.</b> Once compiled, the success path of the calls on addresses,
 *       descriptors and caller buffers allocates nothing (measured with the thread allocation
 *       counter: 0 bytes over 100,000 mmap/mprotect/munmap through {@code syscall}).
 *       {@code open} and {@code memfdCreate} copy their {@code String} into a confined
 *       arena; {@code residentPages} and {@code memlockLimit} allocate a scratch buffer.</li>
 * </ul>
 *
 * <p>All methods are thread-safe and stateless.
 */
public final class Sys {

    private static final Linker LINKER = Linker.nativeLinker();
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");
    private static final VarHandle ERRNO =
            Linker.Option.captureStateLayout().varHandle(groupElement("errno"));

    /**
     * The capture-state segment of the calling thread. The linker writes errno into it right
     * after each call; per thread so that concurrent calls never see each other's errno. Each
     * is owned by its own automatic arena and goes away with its thread.
     */
    private static final ThreadLocal<MemorySegment> CALL_STATE = ThreadLocal.withInitial(
            () -> Arena.ofAuto().allocate(Linker.Option.captureStateLayout()));

    /**
     * {@code (state, long nr, long a1, ..., long a6) -> long}: {@code syscall(2)}, the one
     * downcall every system call goes through. Parameter 0 is the capture-state segment. The
     * six arguments are variadic {@code long}s: the kernel reads whole registers and each call
     * uses the low 32 bits of its {@code int} ones, so an {@code int} passes sign-extended and
     * a pointer as its address; arguments a call does not take are passed as 0 and ignored.
     * One handle instead of one per call: each distinct downcall shape the linker meets
     * generates and loads its own classes (about 10 ms each at a process's start, measured in
     * the README's cold-start section), and a pool's bring-up makes a dozen calls.
     */
    private static final class Syscall {
        static final MethodHandle H = capturing(symbol("syscall"), Desc.SYSCALL.appendArgumentLayouts(
                Libc.C_LONG, Libc.C_LONG, Libc.C_LONG, Libc.C_LONG, Libc.C_LONG, Libc.C_LONG),
                Linker.Option.firstVariadicArg(1));
    }
    /** {@code (state, int name) -> long}: a C library function, not a system call. */
    private static final class Sysconf {
        static final MethodHandle H =
                capturing(symbol("sysconf"), Desc.SYSCONF);
    }
    /** {@code (state) -> int cpu}: the C library's, which reads the CPU without a system call (rseq). */
    private static final class SchedGetcpu {
        static final MethodHandle H =
                capturing(symbol("sched_getcpu"), Desc.SCHED_GETCPU);
    }
    /** {@code (int errno) -> MemorySegment string} */
    private static final class Strerror {
        static final MethodHandle H =
                LINKER.downcallHandle(symbol("strerror"), Desc.STRERROR);
    }
    /** {@code (int errno) -> MemorySegment string or NULL} */
    private static final class StrerrornameNp {
        static final MethodHandle H =
                LINKER.downcallHandle(symbol("strerrorname_np"), Desc.STRERRORNAME_NP);
    }

    /** {@code (void *) -1}, what mmap and mremap return on failure. */
    private static final long MAP_FAILED = Libc.MAP_FAILED().address();

    private static final int EINTR = Libc.EINTR();
    private static final int EAGAIN = Libc.EAGAIN();
    private static final int ENOMEM = Libc.ENOMEM();
    private static final int EINVAL = Libc.EINVAL();
    private static final int EPERM = Libc.EPERM();
    private static final int EACCES = Libc.EACCES();

    /**
     * {@code MADV_GUARD_INSTALL} (Linux 6.13; on shmem and file mappings since 6.15): accesses
     * to the range fault (SIGSEGV) as to an unmapped page, but the range stays part of its
     * mapping, so a guard page costs no mapping (VMA) of its own. The value is the kernel's
     * uapi one: glibc's headers before 2.42 lack it, so it is not among the generated
     * constants.
     */
    public static final int MADV_GUARD_INSTALL = 102;

    /**
     * {@code sizeof(struct io_uring_params)}, and {@code struct iovec}'s size and field offsets,
     * as the bindings give them ({@code SysDescriptorsTest} checks each against
     * {@code io_uring_params.sizeof()} and {@code iovec}'s layout, which {@code BindingsCheckTest}
     * checks against gcc). Constants so that the long-term pin at a pool's bring-up does not
     * initialize the generated struct classes: their static initializers compute every field's
     * layout path, 10 to 40 ms at a process's start, for a size and two offsets.
     */
    public static final long IO_URING_PARAMS_BYTES = 120;
    /** {@code sizeof(struct iovec)}. */
    public static final long IOVEC_BYTES = 16;
    /** {@code offsetof(struct iovec, iov_base)}. */
    public static final long IOV_BASE = 0;
    /** {@code offsetof(struct iovec, iov_len)}. */
    public static final long IOV_LEN = 8;

    /** Pages per mincore call of {@link #residentPages}: a 64 KiB vector. */
    private static final int MINCORE_BATCH = 1 << 16;

    private Sys() {
    }

    // ---------------------------------------------------------------- mappings

    /**
     * {@code mmap(2)}: maps {@code length} bytes.
     *
     * @param addr   the address hint, or the exact address with {@code MAP_FIXED} /
     *               {@code MAP_FIXED_NOREPLACE}; 0 lets the kernel choose
     * @param prot   {@code PROT_*} bits
     * @param flags  {@code MAP_*} bits
     * @param fd     the file to map, or -1 with {@code MAP_ANONYMOUS}
     * @param offset the offset in the file, a multiple of the page size
     * @return the address of the mapping
     * @throws SyscallException if the call fails (e.g. ENOMEM, EAGAIN with {@code MAP_LOCKED},
     *                          EEXIST with {@code MAP_FIXED_NOREPLACE})
     */
    public static long mmap(long addr, long length, int prot, int flags, int fd, long offset) {
        MemorySegment state = CALL_STATE.get();
        long result;
        result = syscall(state, Libc.SYS_mmap(), addr, length, prot, flags, fd, offset);
        if (result == MAP_FAILED) {
            throw mmapFailed(errno(state), addr, length, prot, flags, fd, offset);
        }
        return result;
    }

    /**
     * {@code munmap(2)}: removes the mappings in {@code [addr, addr + length)}.
     *
     * @throws SyscallException if the call fails (EINVAL for a misaligned address or a zero
     *                          length)
     */
    public static void munmap(long addr, long length) {
        MemorySegment state = CALL_STATE.get();
        int result;
        result = (int) syscall(state, Libc.SYS_munmap(), addr, length, 0, 0, 0, 0);
        if (result != 0) {
            throw failure("munmap", "addr=" + hex(addr) + ", len=" + length, errno(state), null);
        }
    }

    /**
     * {@code mremap(2)}: grows, shrinks or moves the mapping at {@code oldAddress}.
     *
     * @param flags      {@code MREMAP_*} bits
     * @param newAddress the destination with {@code MREMAP_FIXED}, otherwise ignored (pass 0)
     * @return the address of the mapping after the call
     * @throws SyscallException if the call fails (ENOMEM when it cannot grow in place and
     *                          {@code MREMAP_MAYMOVE} is not set)
     */
    public static long mremap(long oldAddress, long oldLength, long newLength, int flags, long newAddress) {
        MemorySegment state = CALL_STATE.get();
        long result;
        result = syscall(state, Libc.SYS_mremap(), oldAddress, oldLength, newLength, flags, newAddress, 0);
        if (result == MAP_FAILED) {
            int errno = errno(state);
            String args = "addr=" + hex(oldAddress) + ", old_len=" + oldLength + ", new_len=" + newLength
                    + ", flags=" + Flags.mremap(flags)
                    + ((flags & Libc.MREMAP_FIXED()) != 0 ? ", new_addr=" + hex(newAddress) : "");
            String hint = errno == ENOMEM && (flags & Libc.MREMAP_MAYMOVE()) == 0
                    ? "the mapping cannot grow in place; pass MREMAP_MAYMOVE to let it move" : null;
            throw failure("mremap", args, errno, hint);
        }
        return result;
    }

    /**
     * {@code mprotect(2)}: sets the protection of {@code [addr, addr + length)}.
     *
     * @throws SyscallException if the call fails
     */
    public static void mprotect(long addr, long length, int prot) {
        MemorySegment state = CALL_STATE.get();
        int result;
        result = (int) syscall(state, Libc.SYS_mprotect(), addr, length, prot, 0, 0, 0);
        if (result != 0) {
            throw failure("mprotect", "addr=" + hex(addr) + ", len=" + length + ", prot=" + Flags.prot(prot),
                    errno(state), null);
        }
    }

    /**
     * {@code mlock(2)}: faults in and pins {@code [addr, addr + length)}.
     *
     * @throws SyscallException if the call fails (ENOMEM or EAGAIN past {@code RLIMIT_MEMLOCK},
     *                          EPERM without the privilege)
     */
    public static void mlock(long addr, long length) {
        MemorySegment state = CALL_STATE.get();
        int result;
        result = (int) syscall(state, Libc.SYS_mlock(), addr, length, 0, 0, 0, 0);
        if (result != 0) {
            int errno = errno(state);
            throw failure("mlock", "addr=" + hex(addr) + ", len=" + length, errno, memlockHint(errno));
        }
    }

    /**
     * {@code munlock(2)}: unpins {@code [addr, addr + length)}.
     *
     * @throws SyscallException if the call fails
     */
    public static void munlock(long addr, long length) {
        MemorySegment state = CALL_STATE.get();
        int result;
        result = (int) syscall(state, Libc.SYS_munlock(), addr, length, 0, 0, 0, 0);
        if (result != 0) {
            throw failure("munlock", "addr=" + hex(addr) + ", len=" + length, errno(state), null);
        }
    }

    /**
     * {@code madvise(2)}: gives {@code advice} ({@code MADV_*}) for {@code [addr, addr + length)}.
     *
     * @throws SyscallException if the call fails (EINVAL for advice the kernel does not know)
     */
    public static void madvise(long addr, long length, int advice) {
        MemorySegment state = CALL_STATE.get();
        int result;
        result = (int) syscall(state, Libc.SYS_madvise(), addr, length, advice, 0, 0, 0);
        if (result != 0) {
            int errno = errno(state);
            String hint = null;
            if (errno == EINVAL && (advice == Libc.MADV_HUGEPAGE() || advice == Libc.MADV_NOHUGEPAGE())) {
                hint = "the kernel has no transparent hugepages (CONFIG_TRANSPARENT_HUGEPAGE)";
            } else if (errno == EINVAL && advice == Libc.MADV_POPULATE_WRITE()) {
                hint = "MADV_POPULATE_WRITE needs Linux 5.14 or newer";
            } else if (errno == EINVAL && advice == MADV_GUARD_INSTALL) {
                hint = "MADV_GUARD_INSTALL needs Linux 6.13 or newer, 6.15 on shmem mappings";
            }
            throw failure("madvise", "addr=" + hex(addr) + ", len=" + length + ", advice=" + Flags.madvise(advice),
                    errno, hint);
        }
    }

    /**
     * {@code mincore(2)}: fills {@code vec[i]} with the residency of page {@code i} of
     * {@code [addr, addr + length)} (bit 0 set: resident).
     *
     * @param addr a page-aligned address
     * @param vec  a native segment of at least one byte per page of {@code length}
     * @return the number of resident pages in the range
     * @throws IllegalArgumentException if {@code vec} is not native or too small
     * @throws SyscallException         if the call fails (ENOMEM for a range that is not mapped)
     */
    public static long mincore(long addr, long length, MemorySegment vec) {
        long pages = pages(length);
        checkBuffer("mincore", vec, pages);
        MemorySegment state = CALL_STATE.get();
        int result;
        result = (int) syscall(state, Libc.SYS_mincore(), addr, length, vec.address(), 0, 0, 0);
        Reference.reachabilityFence(vec);
        if (result != 0) {
            throw failure("mincore", "addr=" + hex(addr) + ", len=" + length, errno(state), null);
        }
        long resident = 0;
        for (long i = 0; i < pages; i++) {
            resident += vec.get(ValueLayout.JAVA_BYTE, i) & 1;
        }
        return resident;
    }

    /**
     * The number of resident pages of {@code [addr, addr + length)}, by {@link #mincore} in
     * batches through a scratch vector.
     *
     * @param addr a page-aligned address
     * @return the number of resident pages
     * @throws SyscallException if the call fails (ENOMEM for a range that is not mapped)
     */
    public static long residentPages(long addr, long length) {
        long pageSize = pageSize();
        long pages = pages(length);
        long resident = 0;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment vec = arena.allocate(Math.max(1, Math.min(pages, MINCORE_BATCH)));
            for (long done = 0; done < pages; done += MINCORE_BATCH) {
                long batch = Math.min(pages - done, MINCORE_BATCH);
                long from = addr + done * pageSize;
                resident += mincore(from, Math.min(batch * pageSize, addr + length - from), vec);
            }
        }
        return resident;
    }

    // ---------------------------------------------------------------- files

    /**
     * {@code memfd_create(2)}: creates an anonymous file.
     *
     * @param name  shown in {@code /proc/PID/fd} and {@code /proc/PID/maps}, at most 249 bytes
     * @param flags {@code MFD_*} bits
     * @return the file descriptor
     * @throws SyscallException if the call fails (EINVAL for a long name or unsupported
     *                          hugetlb size)
     */
    public static int memfdCreate(String name, int flags) {
        MemorySegment state = CALL_STATE.get();
        int fd;
        try (Arena arena = Arena.ofConfined()) {
            fd = (int) syscall(state, Libc.SYS_memfd_create(), arena.allocateFrom(name).address(), flags, 0, 0, 0, 0);
        }
        if (fd < 0) {
            int errno = errno(state);
            String hint = (flags & Libc.MFD_HUGETLB()) != 0 && (errno == EINVAL || errno == ENOMEM)
                    ? hugepagesHint(Flags.hugetlbPageSize(flags)) : null;
            throw failure("memfd_create", "name=\"" + name + "\", flags=" + Flags.memfd(flags), errno, hint);
        }
        return fd;
    }

    /**
     * {@code ftruncate(2)}: sets the size of the file {@code fd} to {@code length} bytes.
     *
     * @throws SyscallException if the call fails (EPERM on a file sealed against the change)
     */
    public static void ftruncate(int fd, long length) {
        MemorySegment state = CALL_STATE.get();
        int result;
        int errno;
        do {
            result = (int) syscall(state, Libc.SYS_ftruncate(), fd, length, 0, 0, 0, 0);
            errno = result == 0 ? 0 : errno(state);
        } while (errno == EINTR);
        if (result != 0) {
            String hint = errno == EPERM ? "the file is sealed (F_SEAL_GROW / F_SEAL_SHRINK)" : null;
            throw failure("ftruncate", "fd=" + fd + ", len=" + length, errno, hint);
        }
    }

    /**
     * {@code fallocate(2)}: allocates ({@code mode} 0) or, with
     * {@code FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE}, frees {@code [offset, offset + length)}
     * of the file {@code fd}.
     *
     * @throws SyscallException if the call fails (ENOSPC when a hugetlb file has no free
     *                          hugepages left, EPERM on a sealed file)
     */
    public static void fallocate(int fd, int mode, long offset, long length) {
        MemorySegment state = CALL_STATE.get();
        int result;
        int errno;
        do {
            result = (int) syscall(state, Libc.SYS_fallocate(), fd, mode, offset, length, 0, 0);
            errno = result == 0 ? 0 : errno(state);
        } while (errno == EINTR);
        if (result != 0) {
            String hint = null;
            if (errno == Libc.ENOSPC() || errno == ENOMEM) {
                hint = "if fd is a hugetlb memfd, " + hugepagesHint(0);
            } else if (errno == EPERM) {
                hint = "the file is sealed (F_SEAL_GROW / F_SEAL_WRITE)";
            }
            throw failure("fallocate", "fd=" + fd + ", mode=" + Flags.fallocate(mode) + ", off=" + offset
                    + ", len=" + length, errno, hint);
        }
    }

    /**
     * {@code fcntl(2)} with one {@code int} argument, e.g. {@code F_ADD_SEALS} with
     * {@code F_SEAL_*} bits, or {@code F_GET_SEALS} with 0.
     *
     * @return the result of the command (the seals for {@code F_GET_SEALS})
     * @throws SyscallException if the call fails (EPERM adding seals to a file created without
     *                          {@code MFD_ALLOW_SEALING} or sealed with {@code F_SEAL_SEAL})
     */
    public static int fcntl(int fd, int cmd, int arg) {
        MemorySegment state = CALL_STATE.get();
        int result;
        result = (int) syscall(state, Libc.SYS_fcntl(), fd, cmd, arg, 0, 0, 0);
        if (result == -1) {
            int errno = errno(state);
            boolean seals = cmd == Libc.F_ADD_SEALS();
            String hint = seals && errno == EPERM
                    ? "create the memfd with MFD_ALLOW_SEALING; F_SEAL_SEAL forbids further seals" : null;
            throw failure("fcntl", "fd=" + fd + ", cmd=" + Flags.fcntl(cmd) + ", arg="
                    + (seals ? Flags.seals(arg) : Integer.toString(arg)), errno, hint);
        }
        return result;
    }

    /**
     * {@code open(2)} of an existing file (no {@code O_CREAT}).
     *
     * @param flags {@code O_*} bits
     * @return the file descriptor
     * @throws SyscallException if the call fails (ENOENT, EACCES)
     */
    public static int open(String path, int flags) {
        MemorySegment state = CALL_STATE.get();
        int fd;
        int errno;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cPath = arena.allocateFrom(path);
            do {
                fd = (int) syscall(state, Libc.SYS_openat(), Libc.AT_FDCWD(), cPath.address(), flags, 0, 0, 0);
                errno = fd >= 0 ? 0 : errno(state);
            } while (errno == EINTR);
        }
        if (fd < 0) {
            throw failure("open", "path=\"" + path + "\", flags=" + Flags.open(flags), errno, openHint(path, errno));
        }
        return fd;
    }

    /**
     * Reads up to {@code count} bytes at {@code offset} of the file at {@code path} into
     * {@code buf}: {@code open(O_RDONLY)}, {@link #pread}, {@code close}. For small files such as
     * sysfs attributes and a PCI function's {@code config}; failures name the path.
     *
     * @param buf a native segment of at least {@code count} bytes
     * @return the number of bytes read, fewer than {@code count} at the end of the file
     * @throws SyscallException if a call fails
     */
    public static long preadFile(String path, MemorySegment buf, long count, long offset) {
        checkBuffer("pread", buf, count);
        int fd = open(path, Libc.O_RDONLY() | Libc.O_CLOEXEC());
        try {
            return transfer(Libc.SYS_pread64(), "pread", path, fd, buf, count, offset);
        } finally {
            close(fd);
        }
    }

    /**
     * Writes {@code count} bytes of {@code buf} at {@code offset} of the file at {@code path}:
     * {@code open(O_WRONLY)}, one {@link #pwrite}, {@code close}. For sysfs attributes (one
     * write is one store to the attribute) and a PCI function's {@code config}; failures name
     * the path, and a short write is one.
     *
     * @param buf a native segment of at least {@code count} bytes
     * @throws SyscallException if a call fails or writes fewer bytes (then with errno 0)
     */
    public static void pwriteFile(String path, MemorySegment buf, long count, long offset) {
        checkBuffer("pwrite", buf, count);
        int fd = open(path, Libc.O_WRONLY() | Libc.O_CLOEXEC());
        try {
            long n = transfer(Libc.SYS_pwrite64(), "pwrite", path, fd, buf, count, offset);
            if (n != count) {
                throw new SyscallException("pwrite", 0, "", "pwrite(path=\"" + path + "\", count=" + count + ", off="
                        + offset + "): wrote " + n + " bytes; the file takes no more there");
            }
        } finally {
            close(fd);
        }
    }

    /**
     * One pread or pwrite (system call {@code nr}), retried on EINTR; a failure names the path
     * when there is one ({@link #preadFile}), else the descriptor.
     */
    private static long transfer(int nr, String call, String path, int fd, MemorySegment buf, long count,
                                 long offset) {
        MemorySegment state = CALL_STATE.get();
        long result;
        int errno;
        do {
            result = syscall(state, nr, fd, buf.address(), count, offset, 0, 0);
            Reference.reachabilityFence(buf);
            errno = result >= 0 ? 0 : errno(state);
        } while (errno == EINTR);
        if (result < 0) {
            String hint = errno == Libc.EBUSY() && path != null && path.startsWith("/sys/")
                    ? "the kernel refuses while a driver is bound to the device: unbind it (echo the device's name"
                      + " > its driver/unbind)" : privilegeHint(errno);
            throw failure(call, (path != null ? "path=\"" + path + "\"" : "fd=" + fd) + ", count=" + count + ", off="
                    + offset, errno, hint);
        }
        return result;
    }

    /**
     * {@code close(2)}. EINTR counts as closed: Linux has released the descriptor by then.
     *
     * @throws SyscallException if the call fails (EBADF for a descriptor that is not open)
     */
    public static void close(int fd) {
        MemorySegment state = CALL_STATE.get();
        int result;
        result = (int) syscall(state, Libc.SYS_close(), fd, 0, 0, 0, 0, 0);
        if (result != 0) {
            int errno = errno(state);
            if (errno != EINTR) {
                throw failure("close", "fd=" + fd, errno, null);
            }
        }
    }

    /**
     * {@code pread(2)}: reads up to {@code count} bytes at {@code offset} of the file into
     * {@code buf}, retrying on EINTR.
     *
     * @param buf a native segment of at least {@code count} bytes
     * @return the number of bytes read, fewer than {@code count} at the end of the file
     * @throws IllegalArgumentException if {@code buf} is not native or too small
     * @throws SyscallException         if the call fails
     */
    public static long pread(int fd, MemorySegment buf, long count, long offset) {
        checkBuffer("pread", buf, count);
        return transfer(Libc.SYS_pread64(), "pread", null, fd, buf, count, offset);
    }

    /**
     * {@code pwrite(2)}: writes up to {@code count} bytes of {@code buf} at {@code offset} of
     * the file, retrying on EINTR.
     *
     * @param buf a native segment of at least {@code count} bytes
     * @return the number of bytes written
     * @throws IllegalArgumentException if {@code buf} is not native or too small
     * @throws SyscallException         if the call fails
     */
    public static long pwrite(int fd, MemorySegment buf, long count, long offset) {
        checkBuffer("pwrite", buf, count);
        return transfer(Libc.SYS_pwrite64(), "pwrite", null, fd, buf, count, offset);
    }

    // ---------------------------------------------------------------- io_uring

    /**
     * {@code io_uring_setup(2)} through {@code syscall(2)}: a ring of {@code entries} entries.
     * kmem uses rings only to register buffers (the long-term pin), never to submit I/O.
     *
     * @param params a zeroed {@code struct io_uring_params} the kernel fills in
     * @return the ring's file descriptor (close-on-exec)
     * @throws SyscallException if the call fails: ENOSYS (no io_uring in this kernel), EPERM
     *                          (io_uring disabled by {@code kernel.io_uring_disabled} or
     *                          blocked by a seccomp profile), ENOMEM, EMFILE
     */
    public static int ioUringSetup(int entries, MemorySegment params) {
        checkBuffer("io_uring_setup", params, IO_URING_PARAMS_BYTES);
        MemorySegment state = CALL_STATE.get();
        long result;
        result = syscall(state, Libc.SYS_io_uring_setup(), entries, params.address(), 0, 0, 0, 0);
        Reference.reachabilityFence(params);
        if (result < 0) {
            int errno = errno(state);
            throw failure("io_uring_setup", "entries=" + entries, errno, ioUringHint(errno));
        }
        return (int) result;
    }

    /**
     * {@code io_uring_register(2)} through {@code syscall(2)}.
     *
     * @param opcode {@code IORING_REGISTER_BUFFERS} ({@code arg}: {@code nrArgs} struct iovec),
     *               {@code IORING_UNREGISTER_BUFFERS} ({@code arg} NULL, {@code nrArgs} 0), ...
     * @return the call's non-negative result
     * @throws SyscallException if the call fails; for buffer registration: ENOMEM (the user's
     *                          RLIMIT_MEMLOCK, or hugetlb pages in ZONE_MOVABLE), EFAULT (pages
     *                          that cannot be pinned), EOPNOTSUPP (file-backed memory other than
     *                          shmem and hugetlbfs), EBUSY (buffers already registered), EINVAL
     *                          (an iovec above 1 GiB, more than 16384 of them)
     */
    public static int ioUringRegister(int fd, int opcode, MemorySegment arg, int nrArgs) {
        MemorySegment state = CALL_STATE.get();
        long result;
        while (true) {
            result = syscall(state, Libc.SYS_io_uring_register(), fd, opcode, arg.address(), nrArgs, 0, 0);
            Reference.reachabilityFence(arg);
            if (result >= 0) {
                return (int) result;
            }
            int errno = errno(state);
            if (errno != EINTR) {
                throw failure("io_uring_register", "fd=" + fd + ", opcode=" + opcode + ", nr_args=" + nrArgs, errno,
                        null);
            }
        }
    }

    private static String ioUringHint(int errno) {
        if (errno == EPERM) {
            return "io_uring is disabled for this process: sysctl kernel.io_uring_disabled=0 (or add the user to"
                    + " kernel.io_uring_group), or allow io_uring_setup in the container's seccomp profile";
        }
        if (errno == Libc.ENOSYS()) {
            return "this kernel has no io_uring (built without CONFIG_IO_URING, or older than 5.1)";
        }
        return null;
    }

    // ---------------------------------------------------------------- process and system

    /**
     * {@code sysconf(3)}, e.g. {@code _SC_PAGESIZE} or {@code _SC_NPROCESSORS_ONLN}.
     *
     * @return the value, or -1 if the system has no limit for {@code name}
     * @throws SyscallException if {@code name} is not valid (EINVAL)
     */
    public static long sysconf(int name) {
        MemorySegment state = CALL_STATE.get();
        long result;
        try {
            result = (long) Sysconf.H.invokeExact(state, name);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (result == -1) {
            int errno = errno(state);
            if (errno == EINVAL) {
                throw failure("sysconf", "name=" + name, errno, null);
            }
        }
        return result;
    }

    /**
     * The soft {@code RLIMIT_MEMLOCK} of this process ({@code getrlimit(2)}): how many bytes it
     * may pin with {@code mlock} or {@code MAP_LOCKED} without {@code CAP_IPC_LOCK}.
     *
     * @return the limit in bytes, {@link Long#MAX_VALUE} for {@code RLIM_INFINITY}
     * @throws SyscallException if the call fails
     */
    public static long memlockLimit() {
        MemorySegment state = CALL_STATE.get();
        int result;
        long soft;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment limits = rlimit.allocate(arena);
            // getrlimit(2) as the C library makes it: prlimit64 on this process, reading only.
            result = (int) syscall(state, Libc.SYS_prlimit64(), 0, Libc.RLIMIT_MEMLOCK(), 0, limits.address(), 0, 0);
            soft = rlimit.rlim_cur(limits);
        }
        if (result != 0) {
            throw failure("getrlimit", "resource=RLIMIT_MEMLOCK", errno(state), null);
        }
        // rlim_t is unsigned: RLIM_INFINITY is all ones, anything above Long.MAX_VALUE is as good.
        return soft == Libc.RLIM_INFINITY() || soft < 0 ? Long.MAX_VALUE : soft;
    }

    /** {@return the process id, {@code getpid(2)}}; cannot fail. */
    public static int getpid() {
        return (int) syscall(CALL_STATE.get(), Libc.SYS_getpid(), 0, 0, 0, 0, 0, 0);
    }

    /**
     * {@code sched_getcpu(3)}.
     *
     * @return the CPU the calling thread ran on during the call
     * @throws SyscallException if the call fails (ENOSYS)
     */
    public static int schedGetcpu() {
        MemorySegment state = CALL_STATE.get();
        int cpu;
        try {
            cpu = (int) SchedGetcpu.H.invokeExact(state);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (cpu < 0) {
            throw failure("sched_getcpu", "", errno(state), null);
        }
        return cpu;
    }

    /** {@return the page size in bytes, {@code sysconf(_SC_PAGESIZE)}}; read once, cannot fail. */
    public static long pageSize() {
        return PageSize.VALUE;
    }

    /**
     * {@return the message {@code strerror(3)} gives for {@code errno}, e.g. "Cannot allocate
     * memory", or "Unknown error N"}; cannot fail.
     */
    public static String strerror(int errno) {
        MemorySegment message;
        try {
            message = (MemorySegment) Strerror.H.invokeExact(errno);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return message.getString(0);
    }

    /**
     * {@return the symbolic name {@code strerrorname_np(3)} gives for {@code errno}, e.g.
     * "ENOMEM", or "UNKNOWN" for a number that is not an errno}; cannot fail.
     */
    public static String errnoName(int errno) {
        MemorySegment name;
        try {
            name = (MemorySegment) StrerrornameNp.H.invokeExact(errno);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return name.equals(MemorySegment.NULL) ? "UNKNOWN" : name.getString(0);
    }

    // ---------------------------------------------------------------- internals

    /**
     * The C declarations of the functions linked here, as the bindings declare them
     * ({@code syscall}: its fixed argument; {@code SysDescriptorsTest} checks each against the
     * bindings). They are written out rather than read from {@code Libc.foo$descriptor()}
     * because jextract keeps each descriptor in a holder class that also links its own
     * downcall handle, which Sys never uses: reading them linked every call twice, and
     * linking costs start-up time. Symbols come from the default lookup (the C library).
     */
    static final class Desc {
        static final FunctionDescriptor SYSCONF = FunctionDescriptor.of(Libc.C_LONG, Libc.C_INT);
        static final FunctionDescriptor SCHED_GETCPU = FunctionDescriptor.of(Libc.C_INT);
        static final FunctionDescriptor STRERROR = FunctionDescriptor.of(Libc.C_POINTER, Libc.C_INT);
        static final FunctionDescriptor STRERRORNAME_NP = FunctionDescriptor.of(Libc.C_POINTER, Libc.C_INT);
        static final FunctionDescriptor SYSCALL = FunctionDescriptor.of(Libc.C_LONG, Libc.C_LONG);

        private Desc() {
        }
    }

    private static MemorySegment symbol(String name) {
        return LINKER.defaultLookup().findOrThrow(name);
    }

    /** Holds the page size, read once on first use. */
    private static final class PageSize {
        static final long VALUE = sysconf(Libc._SC_PAGESIZE());
    }

    /**
     * A downcall handle for {@code address} and {@code descriptor} that captures errno into a
     * leading capture-state segment parameter.
     */
    private static MethodHandle capturing(MemorySegment address, FunctionDescriptor descriptor,
                                          Linker.Option... more) {
        Linker.Option[] options = new Linker.Option[more.length + 1];
        options[0] = CAPTURE_ERRNO;
        System.arraycopy(more, 0, options, 1, more.length);
        return LINKER.downcallHandle(address, descriptor, options);
    }

    /**
     * {@code syscall(nr, a1, ..., a6)}: the call's result, or -1 with errno in {@code state}.
     * Pointer arguments are addresses of native segments, which the caller keeps reachable
     * until the call returns ({@link Reference#reachabilityFence}).
     */
    private static long syscall(MemorySegment state, long nr, long a1, long a2, long a3, long a4, long a5, long a6) {
        try {
            return (long) Syscall.H.invokeExact(state, nr, a1, a2, a3, a4, a5, a6);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }

    private static long pages(long length) {
        long pageSize = pageSize();
        return (length + pageSize - 1) / pageSize;
    }

    private static void checkBuffer(String call, MemorySegment buf, long count) {
        if (!buf.isNative()) {
            throw new IllegalArgumentException(call + ": buffer must be a native segment, got " + buf);
        }
        if (count < 0 || count > buf.byteSize()) {
            throw new IllegalArgumentException(call + ": " + count + " bytes do not fit the buffer of "
                    + buf.byteSize() + " bytes");
        }
    }

    private static Error rethrow(Throwable t) {
        if (t instanceof RuntimeException e) {
            throw e;
        }
        if (t instanceof Error e) {
            return e;
        }
        return new AssertionError("downcall threw a checked exception", t);
    }

    private static SyscallException mmapFailed(int errno, long addr, long length, int prot, int flags, int fd,
                                               long offset) {
        boolean anonymous = (flags & Libc.MAP_ANONYMOUS()) != 0;
        String args = (addr != 0 ? "addr=" + hex(addr) + ", " : "") + "len=" + length + ", prot=" + Flags.prot(prot)
                + ", flags=" + Flags.mmap(flags) + (anonymous ? "" : ", fd=" + fd + (offset != 0 ? ", off=" + offset : ""));
        String hint = null;
        if ((flags & Libc.MAP_HUGETLB()) != 0 && (errno == ENOMEM || errno == EINVAL)) {
            hint = hugepagesHint(Flags.hugetlbPageSize(flags));
        } else if ((flags & Libc.MAP_LOCKED()) != 0 && (errno == ENOMEM || errno == EAGAIN || errno == EPERM)) {
            hint = memlockHint(errno);
        } else if (errno == Libc.EEXIST() && (flags & Libc.MAP_FIXED_NOREPLACE()) != 0) {
            hint = "the range is already mapped";
        } else if (errno == ENOMEM) {
            hint = "out of address space or memory: check ulimit -v, vm.max_map_count and vm.overcommit_memory";
        } else {
            hint = privilegeHint(errno);
        }
        return failure("mmap", args, errno, hint);
    }

    private static String memlockHint(int errno) {
        if (errno != ENOMEM && errno != EAGAIN && errno != EPERM) {
            return null;
        }
        String limit;
        try {
            long bytes = memlockLimit();
            limit = bytes == Long.MAX_VALUE ? "unlimited" : bytes + " bytes";
        } catch (RuntimeException e) {
            limit = "unknown";
        }
        String fix = "raise RLIMIT_MEMLOCK (ulimit -l unlimited; now " + limit + ") or run as root";
        // mlock also says ENOMEM for a range with holes, whatever the limit.
        return errno == ENOMEM ? "if the whole range is mapped, " + fix : fix;
    }

    private static String hugepagesHint(long pageSize) {
        String knob = pageSize == 0 ? "/proc/sys/vm/nr_hugepages"
                : "/sys/kernel/mm/hugepages/hugepages-" + (pageSize >>> 10) + "kB/nr_hugepages";
        return "reserve hugepages with `echo N > " + knob + "` (as root)";
    }

    private static String privilegeHint(int errno) {
        return errno == EPERM || errno == EACCES ? "run as root" : null;
    }

    /** What to do when a device file does not open; the privilege hint for anything else. */
    private static String openHint(String path, int errno) {
        if (path.endsWith("/dev/mem")) {
            if (errno == Libc.ENOENT()) {
                return "this system has no /dev/mem: a kernel built without CONFIG_DEVMEM, or a container that does"
                        + " not pass it in; map a PCI BAR through its sysfs resourceN (pci_iomap) instead";
            }
            if (errno == EPERM || errno == EACCES) {
                return "/dev/mem needs root (CAP_SYS_RAWIO) and a kernel not in lockdown";
            }
        }
        if (path.contains("/dev/uio") && errno == Libc.ENOENT()) {
            return "no such UIO device: load a UIO driver (modprobe uio_pci_generic) and bind the device to it";
        }
        return privilegeHint(errno);
    }

    /**
     * {@code ioctl(2)} with a pointer argument: the kernel reads and writes {@code arg} (a
     * native segment; VFIO's structs begin with their {@code argsz}).
     *
     * @param name the request's name for messages ({@code VFIO_IOMMU_MAP_DMA})
     * @return the call's non-negative result (a descriptor for {@code VFIO_GROUP_GET_DEVICE_FD})
     * @throws SyscallException if the call fails; its {@code call()} is "ioctl(NAME)"
     */
    public static int ioctl(int fd, long request, String name, MemorySegment arg) {
        if (!arg.isNative()) {
            throw new IllegalArgumentException("ioctl(" + name + "): the argument must be a native segment");
        }
        MemorySegment state = CALL_STATE.get();
        int result;
        int errno;
        do {
            result = (int) syscall(state, Libc.SYS_ioctl(), fd, request, arg.address(), 0, 0, 0);
            errno = result >= 0 ? 0 : errno(state);
        } while (errno == EINTR);
        Reference.reachabilityFence(arg);
        if (result < 0) {
            throw failure("ioctl(" + name + ")", "fd=" + fd, errno, privilegeHint(errno));
        }
        return result;
    }

    /**
     * {@code ioctl(2)} with an integer argument ({@code VFIO_CHECK_EXTENSION},
     * {@code VFIO_SET_IOMMU}, {@code VFIO_GET_API_VERSION} with 0).
     *
     * @return the call's non-negative result
     * @throws SyscallException if the call fails; its {@code call()} is "ioctl(NAME)"
     */
    public static int ioctl(int fd, long request, String name, long arg) {
        MemorySegment state = CALL_STATE.get();
        int result;
        int errno;
        do {
            result = (int) syscall(state, Libc.SYS_ioctl(), fd, request, arg, 0, 0, 0);
            errno = result >= 0 ? 0 : errno(state);
        } while (errno == EINTR);
        if (result < 0) {
            throw failure("ioctl(" + name + ")", "fd=" + fd + ", arg=" + arg, errno, privilegeHint(errno));
        }
        return result;
    }

    /**
     * {@code poll(2)} on two descriptors for input, without a timeout (EINTR retried): blocks
     * until one is readable (or hung up).
     *
     * @return bit 0 set when {@code a} is ready, bit 1 when {@code b} is
     * @throws SyscallException if the call fails
     */
    public static int pollIn(int a, int b) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment fds = pollfd.allocateArray(2, arena);
            short pollin = (short) Libc.POLLIN();
            MemorySegment first = pollfd.asSlice(fds, 0);
            MemorySegment second = pollfd.asSlice(fds, 1);
            pollfd.fd(first, a);
            pollfd.events(first, pollin);
            pollfd.fd(second, b);
            pollfd.events(second, pollin);
            MemorySegment state = CALL_STATE.get();
            int n;
            int errno;
            do {
                n = (int) syscall(state, Libc.SYS_poll(), fds.address(), 2, -1, 0, 0, 0);
                errno = n >= 0 ? 0 : errno(state);
            } while (errno == EINTR);
            if (n < 0) {
                throw failure("poll", "fds=[" + a + ", " + b + "], POLLIN", errno, null);
            }
            return (pollfd.revents(first) != 0 ? 1 : 0) | (pollfd.revents(second) != 0 ? 2 : 0);
        }
    }

    /**
     * {@code eventfd(2)} with {@code EFD_CLOEXEC}: a counter descriptor the kernel (VFIO's
     * interrupt trigger) or a thread signals by adding to it.
     *
     * @return the descriptor
     * @throws SyscallException if the call fails (EMFILE, ENOMEM)
     */
    public static int eventfd(int initval) {
        MemorySegment state = CALL_STATE.get();
        int fd;
        fd = (int) syscall(state, Libc.SYS_eventfd2(), initval, Libc.EFD_CLOEXEC(), 0, 0, 0, 0);
        if (fd < 0) {
            throw failure("eventfd", "initval=" + initval + ", flags=EFD_CLOEXEC", errno(state), null);
        }
        return fd;
    }

    /**
     * {@code read(2)} of up to {@code count} bytes into {@code buf} (an eventfd's 8-byte counter,
     * a UIO device's interrupt count); blocks as the descriptor does. EINTR is retried.
     *
     * @return the bytes read
     * @throws SyscallException if the call fails
     */
    public static long read(int fd, MemorySegment buf, long count) {
        checkBuffer("read", buf, count);
        MemorySegment state = CALL_STATE.get();
        long n;
        int errno;
        do {
            n = syscall(state, Libc.SYS_read(), fd, buf.address(), count, 0, 0, 0);
            errno = n >= 0 ? 0 : errno(state);
        } while (errno == EINTR);
        Reference.reachabilityFence(buf);
        if (n < 0) {
            throw failure("read", "fd=" + fd + ", count=" + count, errno, null);
        }
        return n;
    }

    /**
     * {@code write(2)} of {@code count} bytes of {@code buf} (an eventfd's increment, a UIO
     * device's re-enable). EINTR is retried.
     *
     * @return the bytes written
     * @throws SyscallException if the call fails
     */
    public static long write(int fd, MemorySegment buf, long count) {
        checkBuffer("write", buf, count);
        MemorySegment state = CALL_STATE.get();
        long n;
        int errno;
        do {
            n = syscall(state, Libc.SYS_write(), fd, buf.address(), count, 0, 0, 0);
            errno = n >= 0 ? 0 : errno(state);
        } while (errno == EINTR);
        Reference.reachabilityFence(buf);
        if (n < 0) {
            throw failure("write", "fd=" + fd + ", count=" + count, errno, null);
        }
        return n;
    }

    private static SyscallException failure(String call, String args, int errno, String hint) {
        if (hint == null && errno == Libc.ENOSYS()) {
            hint = "this kernel does not implement " + call;
        }
        String name = errnoName(errno);
        String message = call + "(" + args + "): errno " + errno + " " + name + " (" + strerror(errno) + ")"
                + (hint != null ? "; hint: " + hint : "");
        return new SyscallException(call, errno, name, message);
    }

    private static String hex(long address) {
        return "0x" + Long.toHexString(address);
    }
}
