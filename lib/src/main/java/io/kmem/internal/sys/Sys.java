package io.kmem.internal.sys;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import io.kmem.bindings.Libc;
import io.kmem.error.SyscallException;
import io.kmem.bindings.io_uring_params;
import io.kmem.bindings.pollfd;
import io.kmem.bindings.rlimit;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
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
 *   <li><b>Handles.</b> Each call goes through a downcall handle built once, on the call's
 *       first use (a static final of its own holder class, so that a process links only the
 *       calls it makes: linking generates classes and costs start-up time), from the bindings' declarations ({@link Desc}, checked against {@code Libc.foo$descriptor()})
 *       (for the variadic {@code open}, {@code fcntl} and {@code mremap}: the generated invoker's
 *       address and descriptor, with {@link Linker.Option#firstVariadicArg}) and
 *       {@link Linker.Option#captureCallState captureCallState("errno")}. Address arguments
 *       and results are adapted to {@code long} with {@link MemorySegment#ofAddress} and
 *       {@link MemorySegment#address()} filters, which the JIT folds away.</li>
 *   <li><b>errno</b> is captured into a segment of the calling thread (a {@code ThreadLocal}
 *       in an automatic arena; virtual threads get their own), never a shared one, and read
 *       only on failure. {@code getpid}, {@code strerror} and {@code strerrorname_np}
 *       cannot fail and capture nothing.</li>
 *   <li><b>Failure</b> throws {@link SyscallException}; its message names the call, its key
 *       arguments, errno, the errno name, {@code strerror} and a hint where one applies.
 *       {@code EINTR} is retried inside for {@code open}, {@code pread}, {@code pwrite},
 *       {@code ftruncate} and {@code fallocate}; {@code close} treats it as done (Linux has
 *       released the descriptor, a retry could close another thread's new one).</li>
 *   <li><b>Allocation.</b> Once compiled, the success path of the calls on addresses,
 *       descriptors and caller buffers allocates nothing (measured with the thread allocation
 *       counter: 0 bytes per mmap/mprotect/munmap). {@code open} and {@code memfdCreate}
 *       copy their {@code String} into a confined arena; {@code residentPages} and
 *       {@code memlockLimit} allocate a scratch buffer.</li>
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

    private static final MethodHandle OF_ADDRESS;
    private static final MethodHandle ADDRESS_OF;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            OF_ADDRESS = lookup.findStatic(MemorySegment.class, "ofAddress",
                    MethodType.methodType(MemorySegment.class, long.class));
            ADDRESS_OF = lookup.findVirtual(MemorySegment.class, "address", MethodType.methodType(long.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    // Parameter 0 of every errno-capturing handle is the capture-state segment; the
    // indices passed to addressAsLong count it.

    /** {@code (state, long addr, long len, int prot, int flags, int fd, long off) -> long addr} */
    private static final class Mmap {
        static final MethodHandle H =
                addressAsLong(capturing(symbol("mmap"), Desc.MMAP), true, 1);
    }
    /** {@code (state, long addr, long len) -> int} */
    private static final class Munmap {
        static final MethodHandle H =
                addressAsLong(capturing(symbol("munmap"), Desc.MUNMAP), false, 1);
    }
    /** {@code (state, long old, long oldLen, long newLen, int flags, long newAddr) -> long addr} */
    private static final class Mremap {
        static final MethodHandle H =
                addressAsLong(capturing(symbol("mremap"),
                Desc.MREMAP.appendArgumentLayouts(Libc.C_POINTER), Linker.Option.firstVariadicArg(4)), true, 1, 5);
    }
    /** {@code (state, long addr, long len, int prot) -> int} */
    private static final class Mprotect {
        static final MethodHandle H =
                addressAsLong(capturing(symbol("mprotect"), Desc.MPROTECT), false, 1);
    }
    /** {@code (state, long addr, long len) -> int} */
    private static final class Mlock {
        static final MethodHandle H =
                addressAsLong(capturing(symbol("mlock"), Desc.MLOCK), false, 1);
    }
    /** {@code (state, long addr, long len) -> int} */
    private static final class Munlock {
        static final MethodHandle H =
                addressAsLong(capturing(symbol("munlock"), Desc.MUNLOCK), false, 1);
    }
    /** {@code (state, long addr, long len, int advice) -> int} */
    private static final class Madvise {
        static final MethodHandle H =
                addressAsLong(capturing(symbol("madvise"), Desc.MADVISE), false, 1);
    }
    /** {@code (state, long addr, long len, MemorySegment vec) -> int} */
    private static final class Mincore {
        static final MethodHandle H =
                addressAsLong(capturing(symbol("mincore"), Desc.MINCORE), false, 1);
    }
    /** {@code (state, MemorySegment name, int flags) -> int fd} */
    private static final class MemfdCreate {
        static final MethodHandle H =
                capturing(symbol("memfd_create"), Desc.MEMFD_CREATE);
    }
    /** {@code (state, int fd, long len) -> int} */
    private static final class Ftruncate {
        static final MethodHandle H =
                capturing(symbol("ftruncate"), Desc.FTRUNCATE);
    }
    /** {@code (state, int fd, int mode, long off, long len) -> int} */
    private static final class Fallocate {
        static final MethodHandle H =
                capturing(symbol("fallocate"), Desc.FALLOCATE);
    }
    /** {@code (state, int fd, int cmd, int arg) -> int} */
    private static final class Fcntl {
        static final MethodHandle H =
                capturing(symbol("fcntl"),
                Desc.FCNTL.appendArgumentLayouts(Libc.C_INT), Linker.Option.firstVariadicArg(2));
    }
    /** {@code (state, MemorySegment path, int flags, int mode) -> int fd} */
    private static final class Open {
        static final MethodHandle H =
                capturing(symbol("open"),
                Desc.OPEN.appendArgumentLayouts(Libc.C_INT), Linker.Option.firstVariadicArg(2));
    }
    /** {@code (state, int fd) -> int} */
    private static final class Close {
        static final MethodHandle H =
                capturing(symbol("close"), Desc.CLOSE);
    }
    /** {@code (state, int fd, MemorySegment buf, long count, long off) -> long} */
    private static final class Pread {
        static final MethodHandle H =
                capturing(symbol("pread"), Desc.PREAD);
    }
    /** {@code (state, int fd, MemorySegment buf, long count, long off) -> long} */
    private static final class Pwrite {
        static final MethodHandle H =
                capturing(symbol("pwrite"), Desc.PWRITE);
    }
    /** {@code (state, int name) -> long} */
    private static final class Sysconf {
        static final MethodHandle H =
                capturing(symbol("sysconf"), Desc.SYSCONF);
    }
    /** {@code (state, int resource, MemorySegment rlimit) -> int} */
    private static final class Getrlimit {
        static final MethodHandle H =
                capturing(symbol("getrlimit"), Desc.GETRLIMIT);
    }
    /** {@code (state, int fd, MemorySegment buf, long count) -> long} */
    private static final class Read {
        static final MethodHandle H = capturing(symbol("read"), Desc.READ);
    }
    /** {@code (state, int fd, MemorySegment buf, long count) -> long} */
    private static final class Write {
        static final MethodHandle H = capturing(symbol("write"), Desc.WRITE);
    }
    /** {@code (state, unsigned int initval, int flags) -> int fd}: {@code eventfd(2)}. */
    private static final class Eventfd {
        static final MethodHandle H = capturing(symbol("eventfd"), Desc.EVENTFD);
    }
    /** {@code (state, struct pollfd *fds, nfds_t nfds, int timeout) -> int}: {@code poll(2)}. */
    private static final class Poll {
        static final MethodHandle H = capturing(symbol("poll"), Desc.POLL);
    }
    /** {@code (state, int fd, long request, MemorySegment arg) -> int}: ioctl with a pointer argument. */
    private static final class IoctlPtr {
        static final MethodHandle H = capturing(symbol("ioctl"),
                Desc.IOCTL.appendArgumentLayouts(Libc.C_POINTER), Linker.Option.firstVariadicArg(2));
    }
    /** {@code (state, int fd, long request, long arg) -> int}: ioctl with an integer argument. */
    private static final class IoctlLong {
        static final MethodHandle H = capturing(symbol("ioctl"),
                Desc.IOCTL.appendArgumentLayouts(Libc.C_LONG), Linker.Option.firstVariadicArg(2));
    }
    /** {@code (state) -> int cpu} */
    private static final class SchedGetcpu {
        static final MethodHandle H =
                capturing(symbol("sched_getcpu"), Desc.SCHED_GETCPU);
    }
    /**
     * {@code (state, long SYS_io_uring_setup, long entries, MemorySegment params) -> long}: the
     * variadic {@code syscall(2)}; every variadic argument is passed as a {@code long} or a
     * pointer, as the kernel reads whole registers.
     */
    private static final class SyscallIoUringSetup {
        static final MethodHandle H =
                capturing(symbol("syscall"),
                Desc.SYSCALL.appendArgumentLayouts(Libc.C_LONG, Libc.C_POINTER), Linker.Option.firstVariadicArg(1));
    }
    /** {@code (state, long SYS_io_uring_register, long fd, long opcode, MemorySegment arg, long nr) -> long} */
    private static final class SyscallIoUringRegister {
        static final MethodHandle H =
                capturing(symbol("syscall"),
                Desc.SYSCALL.appendArgumentLayouts(Libc.C_LONG, Libc.C_LONG, Libc.C_POINTER, Libc.C_LONG), Linker.Option.firstVariadicArg(1));
    }
    /** {@code () -> int pid} */
    private static final class Getpid {
        static final MethodHandle H =
                LINKER.downcallHandle(symbol("getpid"), Desc.GETPID);
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
        try {
            result = (long) Mmap.H.invokeExact(state, addr, length, prot, flags, fd, offset);
        } catch (Throwable t) {
            throw rethrow(t);
        }
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
        try {
            result = (int) Munmap.H.invokeExact(state, addr, length);
        } catch (Throwable t) {
            throw rethrow(t);
        }
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
        try {
            result = (long) Mremap.H.invokeExact(state, oldAddress, oldLength, newLength, flags, newAddress);
        } catch (Throwable t) {
            throw rethrow(t);
        }
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
        try {
            result = (int) Mprotect.H.invokeExact(state, addr, length, prot);
        } catch (Throwable t) {
            throw rethrow(t);
        }
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
        try {
            result = (int) Mlock.H.invokeExact(state, addr, length);
        } catch (Throwable t) {
            throw rethrow(t);
        }
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
        try {
            result = (int) Munlock.H.invokeExact(state, addr, length);
        } catch (Throwable t) {
            throw rethrow(t);
        }
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
        try {
            result = (int) Madvise.H.invokeExact(state, addr, length, advice);
        } catch (Throwable t) {
            throw rethrow(t);
        }
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
        try {
            result = (int) Mincore.H.invokeExact(state, addr, length, vec);
        } catch (Throwable t) {
            throw rethrow(t);
        }
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
            fd = (int) MemfdCreate.H.invokeExact(state, arena.allocateFrom(name), flags);
        } catch (Throwable t) {
            throw rethrow(t);
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
            try {
                result = (int) Ftruncate.H.invokeExact(state, fd, length);
            } catch (Throwable t) {
                throw rethrow(t);
            }
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
            try {
                result = (int) Fallocate.H.invokeExact(state, fd, mode, offset, length);
            } catch (Throwable t) {
                throw rethrow(t);
            }
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
        try {
            result = (int) Fcntl.H.invokeExact(state, fd, cmd, arg);
        } catch (Throwable t) {
            throw rethrow(t);
        }
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
                fd = (int) Open.H.invokeExact(state, cPath, flags, 0);
                errno = fd >= 0 ? 0 : errno(state);
            } while (errno == EINTR);
        } catch (Throwable t) {
            throw rethrow(t);
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
            return transfer(Pread.H, "pread", path, fd, buf, count, offset);
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
            long n = transfer(Pwrite.H, "pwrite", path, fd, buf, count, offset);
            if (n != count) {
                throw new SyscallException("pwrite", 0, "", "pwrite(path=\"" + path + "\", count=" + count + ", off="
                        + offset + "): wrote " + n + " bytes; the file takes no more there");
            }
        } finally {
            close(fd);
        }
    }

    /**
     * One pread or pwrite through {@code handle}, retried on EINTR; a failure names the path
     * when there is one ({@link #preadFile}), else the descriptor.
     */
    private static long transfer(MethodHandle handle, String call, String path, int fd, MemorySegment buf, long count,
                                 long offset) {
        MemorySegment state = CALL_STATE.get();
        long result;
        int errno;
        do {
            try {
                result = (long) handle.invokeExact(state, fd, buf, count, offset);
            } catch (Throwable t) {
                throw rethrow(t);
            }
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
        try {
            result = (int) Close.H.invokeExact(state, fd);
        } catch (Throwable t) {
            throw rethrow(t);
        }
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
        return transfer(Pread.H, "pread", null, fd, buf, count, offset);
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
        return transfer(Pwrite.H, "pwrite", null, fd, buf, count, offset);
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
        checkBuffer("io_uring_setup", params, io_uring_params.sizeof());
        MemorySegment state = CALL_STATE.get();
        long result;
        try {
            result = (long) SyscallIoUringSetup.H.invokeExact(state, (long) Libc.SYS_io_uring_setup(),
                    (long) entries, params);
        } catch (Throwable t) {
            throw rethrow(t);
        }
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
            try {
                result = (long) SyscallIoUringRegister.H.invokeExact(state, (long) Libc.SYS_io_uring_register(),
                        (long) fd, (long) opcode, arg, (long) nrArgs);
            } catch (Throwable t) {
                throw rethrow(t);
            }
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
            result = (int) Getrlimit.H.invokeExact(state, Libc.RLIMIT_MEMLOCK(), limits);
            soft = rlimit.rlim_cur(limits);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (result != 0) {
            throw failure("getrlimit", "resource=RLIMIT_MEMLOCK", errno(state), null);
        }
        // rlim_t is unsigned: RLIM_INFINITY is all ones, anything above Long.MAX_VALUE is as good.
        return soft == Libc.RLIM_INFINITY() || soft < 0 ? Long.MAX_VALUE : soft;
    }

    /** {@return the process id, {@code getpid(2)}}; cannot fail. */
    public static int getpid() {
        try {
            return (int) Getpid.H.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
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
     * The C declarations of the calls linked here, as the bindings declare them (variadic
     * ones: the fixed arguments; {@code SysDescriptorsTest} checks each against the
     * bindings). They are written out rather than read from {@code Libc.foo$descriptor()}
     * because jextract keeps each descriptor in a holder class that also links its own
     * downcall handle, which Sys never uses: reading them linked every call twice, and
     * linking costs start-up time. Symbols come from the default lookup (the C library).
     */
    static final class Desc {
        static final FunctionDescriptor MMAP = FunctionDescriptor.of(Libc.C_POINTER, Libc.C_POINTER, Libc.C_LONG, Libc.C_INT, Libc.C_INT, Libc.C_INT, Libc.C_LONG);
        static final FunctionDescriptor MUNMAP = FunctionDescriptor.of(Libc.C_INT, Libc.C_POINTER, Libc.C_LONG);
        static final FunctionDescriptor MPROTECT = FunctionDescriptor.of(Libc.C_INT, Libc.C_POINTER, Libc.C_LONG, Libc.C_INT);
        static final FunctionDescriptor MLOCK = FunctionDescriptor.of(Libc.C_INT, Libc.C_POINTER, Libc.C_LONG);
        static final FunctionDescriptor MUNLOCK = FunctionDescriptor.of(Libc.C_INT, Libc.C_POINTER, Libc.C_LONG);
        static final FunctionDescriptor MADVISE = FunctionDescriptor.of(Libc.C_INT, Libc.C_POINTER, Libc.C_LONG, Libc.C_INT);
        static final FunctionDescriptor MINCORE = FunctionDescriptor.of(Libc.C_INT, Libc.C_POINTER, Libc.C_LONG, Libc.C_POINTER);
        static final FunctionDescriptor MEMFD_CREATE = FunctionDescriptor.of(Libc.C_INT, Libc.C_POINTER, Libc.C_INT);
        static final FunctionDescriptor FTRUNCATE = FunctionDescriptor.of(Libc.C_INT, Libc.C_INT, Libc.C_LONG);
        static final FunctionDescriptor FALLOCATE = FunctionDescriptor.of(Libc.C_INT, Libc.C_INT, Libc.C_INT, Libc.C_LONG, Libc.C_LONG);
        static final FunctionDescriptor CLOSE = FunctionDescriptor.of(Libc.C_INT, Libc.C_INT);
        static final FunctionDescriptor PREAD = FunctionDescriptor.of(Libc.C_LONG, Libc.C_INT, Libc.C_POINTER, Libc.C_LONG, Libc.C_LONG);
        static final FunctionDescriptor PWRITE = FunctionDescriptor.of(Libc.C_LONG, Libc.C_INT, Libc.C_POINTER, Libc.C_LONG, Libc.C_LONG);
        static final FunctionDescriptor SYSCONF = FunctionDescriptor.of(Libc.C_LONG, Libc.C_INT);
        static final FunctionDescriptor GETRLIMIT = FunctionDescriptor.of(Libc.C_INT, Libc.C_INT, Libc.C_POINTER);
        static final FunctionDescriptor READ = FunctionDescriptor.of(Libc.C_LONG, Libc.C_INT, Libc.C_POINTER, Libc.C_LONG);
        static final FunctionDescriptor WRITE = FunctionDescriptor.of(Libc.C_LONG, Libc.C_INT, Libc.C_POINTER, Libc.C_LONG);
        static final FunctionDescriptor EVENTFD = FunctionDescriptor.of(Libc.C_INT, Libc.C_INT, Libc.C_INT);
        static final FunctionDescriptor POLL = FunctionDescriptor.of(Libc.C_INT, Libc.C_POINTER, Libc.C_LONG, Libc.C_INT);
        static final FunctionDescriptor SCHED_GETCPU = FunctionDescriptor.of(Libc.C_INT);
        static final FunctionDescriptor GETPID = FunctionDescriptor.of(Libc.C_INT);
        static final FunctionDescriptor STRERROR = FunctionDescriptor.of(Libc.C_POINTER, Libc.C_INT);
        static final FunctionDescriptor STRERRORNAME_NP = FunctionDescriptor.of(Libc.C_POINTER, Libc.C_INT);
        static final FunctionDescriptor OPEN = FunctionDescriptor.of(Libc.C_INT, Libc.C_POINTER, Libc.C_INT);
        static final FunctionDescriptor FCNTL = FunctionDescriptor.of(Libc.C_INT, Libc.C_INT, Libc.C_INT);
        static final FunctionDescriptor IOCTL = FunctionDescriptor.of(Libc.C_INT, Libc.C_INT, Libc.C_LONG);
        static final FunctionDescriptor SYSCALL = FunctionDescriptor.of(Libc.C_LONG, Libc.C_LONG);
        static final FunctionDescriptor MREMAP = FunctionDescriptor.of(Libc.C_POINTER, Libc.C_POINTER, Libc.C_LONG, Libc.C_LONG, Libc.C_INT);

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
     * Adapts the pointer parameters at {@code params} (and the result if {@code result}) of
     * {@code handle} to {@code long} addresses.
     */
    private static MethodHandle addressAsLong(MethodHandle handle, boolean result, int... params) {
        MethodHandle adapted = handle;
        for (int param : params) {
            adapted = MethodHandles.filterArguments(adapted, param, OF_ADDRESS);
        }
        return result ? MethodHandles.filterReturnValue(adapted, ADDRESS_OF) : adapted;
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
        try {
            do {
                result = (int) IoctlPtr.H.invokeExact(state, fd, request, arg);
                errno = result >= 0 ? 0 : errno(state);
            } while (errno == EINTR);
        } catch (Throwable t) {
            throw rethrow(t);
        }
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
        try {
            do {
                result = (int) IoctlLong.H.invokeExact(state, fd, request, arg);
                errno = result >= 0 ? 0 : errno(state);
            } while (errno == EINTR);
        } catch (Throwable t) {
            throw rethrow(t);
        }
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
            try {
                do {
                    n = (int) Poll.H.invokeExact(state, fds, 2L, -1);
                    errno = n >= 0 ? 0 : errno(state);
                } while (errno == EINTR);
            } catch (Throwable t) {
                throw rethrow(t);
            }
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
        try {
            fd = (int) Eventfd.H.invokeExact(state, initval, Libc.EFD_CLOEXEC());
        } catch (Throwable t) {
            throw rethrow(t);
        }
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
        try {
            do {
                n = (long) Read.H.invokeExact(state, fd, buf, count);
                errno = n >= 0 ? 0 : errno(state);
            } while (errno == EINTR);
        } catch (Throwable t) {
            throw rethrow(t);
        }
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
        try {
            do {
                n = (long) Write.H.invokeExact(state, fd, buf, count);
                errno = n >= 0 ? 0 : errno(state);
            } while (errno == EINTR);
        } catch (Throwable t) {
            throw rethrow(t);
        }
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
