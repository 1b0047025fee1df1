package io.kmem.vmtest;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The pin test's own system calls, made outside kmem on purpose: the control region, the
 * NUMA policy of memory, {@code move_pages(2)} from another process and a seccomp filter are
 * what the environment does to the driver's memory, not what kmem does. Every call goes
 * through {@code syscall(2)} with six {@code long} arguments (the kernel ignores the extra
 * ones); x86-64 numbers.
 */
final class Native {
    static final long SYS_MMAP = 9;
    static final long SYS_MUNMAP = 11;
    static final long SYS_MADVISE = 28;
    static final long SYS_FTRUNCATE = 77;
    static final long SYS_MLOCK = 149;
    static final long SYS_PRCTL = 157;
    static final long SYS_MBIND = 237;
    static final long SYS_MOVE_PAGES = 279;
    static final long SYS_SECCOMP = 317;
    static final long SYS_MEMFD_CREATE = 319;
    static final long SYS_IO_URING_SETUP = 425;

    static final long PROT_READ = 1;
    static final long PROT_WRITE = 2;
    static final long MAP_SHARED = 1;
    static final long MADV_REMOVE = 9;
    static final long MADV_NOHUGEPAGE = 15;
    static final long MADV_POPULATE_WRITE = 23;
    static final long MPOL_BIND = 2;
    static final long MPOL_MF_MOVE_ALL = 1 << 2;
    static final long PR_SET_NO_NEW_PRIVS = 38;
    static final long SECCOMP_SET_MODE_FILTER = 1;
    static final int EPERM = 1;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle SYSCALL = LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow("syscall"),
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                    JAVA_LONG), Linker.Option.firstVariadicArg(1), Linker.Option.captureCallState("errno"));
    private static final VarHandle ERRNO = Linker.Option.captureStateLayout().varHandle(groupElement("errno"));
    private static final MemorySegment STATE = Arena.global().allocate(Linker.Option.captureStateLayout());

    private Native() {
    }

    /** {@code syscall(nr, a...)}; throws naming the call and errno when it returns -1. */
    static synchronized long call(String name, long nr, long... a) {
        long[] x = java.util.Arrays.copyOf(a, 6);
        long r;
        try {
            r = (long) SYSCALL.invokeExact(STATE, nr, x[0], x[1], x[2], x[3], x[4], x[5]);
        } catch (Throwable t) {
            throw new IllegalStateException(name, t);
        }
        if (r == -1) {
            throw new IllegalStateException(name + " failed: errno " + (int) ERRNO.get(STATE, 0L));
        }
        return r;
    }

    /** Like {@link #call} but returns {@code -errno} on failure. */
    static synchronized long callOrErrno(long nr, long... a) {
        long[] x = java.util.Arrays.copyOf(a, 6);
        long r;
        try {
            r = (long) SYSCALL.invokeExact(STATE, nr, x[0], x[1], x[2], x[3], x[4], x[5]);
        } catch (Throwable t) {
            throw new IllegalStateException("syscall " + nr, t);
        }
        return r == -1 ? -(int) ERRNO.get(STATE, 0L) : r;
    }

    /** {@code mbind(addr, len, MPOL_BIND, {node}, ...)}: where the pages of that range will be allocated. */
    static void bindToNode(long addr, long len, int node) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment mask = a.allocate(JAVA_LONG);
            mask.set(JAVA_LONG, 0, 1L << node);
            call("mbind", SYS_MBIND, addr, len, MPOL_BIND, mask.address(), 64, 0);
        }
    }

    /**
     * Forbids io_uring to the calling thread as a container's seccomp profile does:
     * {@code io_uring_setup} fails with EPERM, everything else passes. Without
     * {@code SECCOMP_FILTER_FLAG_TSYNC} the filter (and no_new_privs) binds this thread and the
     * threads it starts, not the process's other threads; a thread cannot drop it.
     */
    static void forbidIoUringInThisThread() {
        try (Arena a = Arena.ofConfined()) {
            // struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }
            MemorySegment prog = a.allocate(8 * 6, 8);
            insn(prog, 0, 0x20, 0, 0, 4);                        // ld  [4]      (arch)
            insn(prog, 1, 0x15, 0, 3, 0xc000003eL);              // jeq AUDIT_ARCH_X86_64, 0, allow
            insn(prog, 2, 0x20, 0, 0, 0);                        // ld  [0]      (nr)
            insn(prog, 3, 0x15, 0, 1, SYS_IO_URING_SETUP);       // jeq io_uring_setup, 0, allow
            insn(prog, 4, 0x06, 0, 0, 0x00050000L | EPERM);      // ret ERRNO(EPERM)
            insn(prog, 5, 0x06, 0, 0, 0x7fff0000L);              // allow: ret ALLOW
            MemorySegment fprog = a.allocate(16, 8);             // struct sock_fprog { u16 len; filter * }
            fprog.set(java.lang.foreign.ValueLayout.JAVA_SHORT, 0, (short) 6);
            fprog.set(JAVA_LONG, 8, prog.address());
            call("prctl(PR_SET_NO_NEW_PRIVS)", SYS_PRCTL, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
            call("seccomp(SECCOMP_SET_MODE_FILTER)", SYS_SECCOMP, SECCOMP_SET_MODE_FILTER, 0, fprog.address());
        }
    }

    private static void insn(MemorySegment prog, int i, int code, int jt, int jf, long k) {
        long off = 8L * i;
        prog.set(java.lang.foreign.ValueLayout.JAVA_SHORT, off, (short) code);
        prog.set(java.lang.foreign.ValueLayout.JAVA_BYTE, off + 2, (byte) jt);
        prog.set(java.lang.foreign.ValueLayout.JAVA_BYTE, off + 3, (byte) jf);
        prog.set(java.lang.foreign.ValueLayout.JAVA_INT, off + 4, (int) k);
    }
}
