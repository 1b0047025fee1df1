package io.kmem.internal.phys;

import io.kmem.bindings.Libc;
import io.kmem.error.SyscallException;
import io.kmem.internal.sys.Sys;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Long-term pins: the kernel's {@code pin_user_pages(FOLL_WRITE | FOLL_LONGTERM)}, the pin it
 * takes for memory a device will DMA to, reached from user space by registering the memory
 * as io_uring fixed buffers ({@code IORING_REGISTER_BUFFERS}, {@code io_uring/rsrc.c}).
 *
 * <h2>Why mlock is not enough</h2>
 * {@code mlock} promises residency, not placement: compaction
 * ({@code vm.compact_unevictable_allowed=1}), NUMA migration, memory offlining and
 * {@code move_pages(2)} from another process still move a locked page to a new frame. A page
 * migrates only while its reference count equals what the kernel expects
 * ({@code folio_migrate_mapping} in {@code mm/migrate.c}); a pin adds to the count, so a
 * pinned page stays where it is until it is unpinned. Pinning first moves pages out of
 * ZONE_MOVABLE and CMA ({@code check_and_migrate_movable_pages} in {@code mm/gup.c}), so a
 * pool reads its PFNs only after the pin.
 *
 * <h2>Contract</h2>
 * {@link #pin} takes {address, length, ...} ranges of mapped shmem or hugetlbfs memory
 * and returns a {@link Pin}; the pages stay pinned until {@link #unpin} (synchronous:
 * {@code IORING_UNREGISTER_BUFFERS}, then the ring is closed). Pins stack: a page in two
 * pins is pinned until both are gone, so a pin can be replaced without a gap by pinning the
 * new ranges before unpinning the old ones. Mappings may change meanwhile: a pin holds
 * pages, not addresses.
 *
 * <h2>Limits</h2>
 * Each iovec covers at most {@value #MAX_IOVEC_BYTES} bytes and a ring registers at most
 * {@value #MAX_BUFFERS} of them, so one {@link Pin} may hold several rings. Without
 * {@code CAP_IPC_LOCK} the pinned bytes are charged to the user's {@code locked_vm} against
 * {@code RLIMIT_MEMLOCK}, shared by every process of that uid and separate from mlock's
 * per-process count. A refusal throws {@link SyscallException}; {@link #refusal} turns it into
 * the reason and the fix.
 *
 * <p>Not thread-safe: the pool calls it under its growth lock.
 */
final class LongTermPin {
    /** The largest iovec io_uring registers ({@code SZ_1G} in {@code io_buffer_validate}). */
    static final long MAX_IOVEC_BYTES = 1L << 30;
    /** The most buffers one registration takes ({@code IORING_MAX_REG_BUFFERS}). */
    static final int MAX_BUFFERS = 1 << 14;

    /** A set of pinned ranges: the rings that hold them and how many bytes they pin. */
    static final class Pin {
        private final int[] rings;
        final long bytes;

        private Pin(int[] rings, long bytes) {
            this.rings = rings;
            this.bytes = bytes;
        }

        int rings() {
            return rings.length;
        }
    }

    /** An errno name that every pin fails with, without asking the kernel; null for none. */
    private final String refuse;

    /**
     * @param refuse null to pin for real; an errno name (EPERM, ENOSYS, ENOMEM, EFAULT,
     *               EOPNOTSUPP) to fail every pin as the kernel would (tests of the fallback)
     */
    LongTermPin(String refuse) {
        this.refuse = refuse;
    }

    /**
     * Pins {@code ranges} ({address, length, ...}, page-aligned, each mapped).
     *
     * @throws SyscallException when io_uring is unavailable or the kernel refuses the pin;
     *                          nothing stays pinned then
     */
    Pin pin(long[] ranges) {
        int iovecs = 0;
        long bytes = 0;
        for (int i = 0; i < ranges.length; i += 2) {
            iovecs += (int) ((ranges[i + 1] + MAX_IOVEC_BYTES - 1) / MAX_IOVEC_BYTES);
            bytes += ranges[i + 1];
        }
        int[] rings = new int[(iovecs + MAX_BUFFERS - 1) / MAX_BUFFERS];
        int made = 0;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment vec = arena.allocate(Sys.IOVEC_BYTES * Math.min(iovecs, MAX_BUFFERS), 8);
            int n = 0;
            for (int i = 0; i < ranges.length; i += 2) {
                for (long off = 0; off < ranges[i + 1]; off += MAX_IOVEC_BYTES) {
                    long v = Sys.IOVEC_BYTES * n++;
                    vec.set(ValueLayout.JAVA_LONG, v + Sys.IOV_BASE, ranges[i] + off);
                    vec.set(ValueLayout.JAVA_LONG, v + Sys.IOV_LEN, Math.min(MAX_IOVEC_BYTES, ranges[i + 1] - off));
                    if (n == MAX_BUFFERS) {
                        rings[made] = register(arena, vec, n);
                        made++;
                        n = 0;
                    }
                }
            }
            if (n > 0) {
                rings[made] = register(arena, vec, n);
                made++;
            }
        } catch (RuntimeException e) {
            for (int i = 0; i < made; i++) {
                release(rings[i], e);
            }
            throw e;
        }
        return new Pin(rings, bytes);
    }

    /** Unpins every range of {@code pin} before returning, and closes its rings. */
    void unpin(Pin pin) {
        RuntimeException first = null;
        for (int ring : pin.rings) {
            try {
                Sys.ioUringRegister(ring, Libc.IORING_UNREGISTER_BUFFERS(), MemorySegment.NULL, 0);
            } catch (RuntimeException e) {
                first = first == null ? e : first;
            }
            try {
                Sys.close(ring);
            } catch (RuntimeException e) {
                first = first == null ? e : first;
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /** A ring with the first {@code n} iovecs of {@code vec} registered. */
    private int register(Arena arena, MemorySegment vec, int n) {
        if (refuse != null) {
            throw injected(refuse);
        }
        int ring = Sys.ioUringSetup(1, arena.allocate(Sys.IO_URING_PARAMS_BYTES, 8));
        try {
            Sys.ioUringRegister(ring, Libc.IORING_REGISTER_BUFFERS(), vec, n);
        } catch (RuntimeException e) {
            release(ring, e);
            throw e;
        }
        return ring;
    }

    private static void release(int ring, RuntimeException cause) {
        try {
            Sys.close(ring);
        } catch (RuntimeException suppressed) {
            cause.addSuppressed(suppressed);
        }
    }

    private static SyscallException injected(String errnoName) {
        int errno = switch (errnoName) {
            case "EPERM" -> Libc.EPERM();
            case "ENOSYS" -> Libc.ENOSYS();
            case "ENOMEM" -> Libc.ENOMEM();
            case "EFAULT" -> Libc.EFAULT();
            case "EOPNOTSUPP" -> Libc.EOPNOTSUPP();
            default -> throw new IllegalArgumentException("kmem.pin.refuse: expected EPERM, ENOSYS, ENOMEM, EFAULT or"
                    + " EOPNOTSUPP, got " + errnoName);
        };
        String call = errno == Libc.EPERM() || errno == Libc.ENOSYS() ? "io_uring_setup" : "io_uring_register";
        return new SyscallException(call, errno, errnoName, call + ": errno " + errno + " " + errnoName + " ("
                + Sys.strerror(errno) + "), injected by kmem.pin.refuse");
    }

    /**
     * Why a pin was refused and what fixes it, in one sentence for a warning or an exception.
     *
     * @param hugetlb whether the refused memory was hugetlb
     */
    static String refusal(SyscallException e, boolean hugetlb) {
        int errno = e.errno();
        String what = e.call() + " " + e.errnoName();
        if (e.call().equals("io_uring_setup")) {
            if (errno == Libc.EPERM()) {
                return "io_uring is forbidden (" + what + "): kernel.io_uring_disabled is set (Linux 6.6+) or a"
                        + " seccomp profile blocks io_uring (containers); fix: sysctl kernel.io_uring_disabled=0,"
                        + " or allow io_uring_setup and io_uring_register in the seccomp profile";
            }
            if (errno == Libc.ENOSYS()) {
                return "this kernel has no io_uring (" + what + "; Linux 5.1+ with CONFIG_IO_URING is needed)";
            }
            return "io_uring_setup failed (" + e.getMessage() + ")";
        }
        if (errno == Libc.ENOMEM() && hugetlb) {
            return "the kernel cannot pin these hugetlb pages (" + what + "): on Linux 6.1 hugetlb pages in"
                    + " ZONE_MOVABLE (movablecore=, kernelcore=, movable memory blocks) cannot be pinned long-term;"
                    + " fix: reserve hugepages in ZONE_NORMAL (boot without movablecore, or hugepages= on the kernel"
                    + " command line)";
        }
        if (errno == Libc.ENOMEM()) {
            long limit = Sys.memlockLimit();
            return "RLIMIT_MEMLOCK is exhausted (" + what + "): pinned pages are charged to the user's locked_vm,"
                    + " shared by every process of this uid (limit " + (limit == Long.MAX_VALUE ? "unlimited"
                    : (limit >> 10) + " kB") + "); fix: ulimit -l unlimited (or LimitMEMLOCK=infinity, memlock in"
                    + " /etc/security/limits.conf), or run with CAP_IPC_LOCK";
        }
        if (errno == Libc.EFAULT()) {
            return "the kernel could not pin the pages (" + what + ")" + (hugetlb
                    ? ": on Linux 6.1 hugetlb pages in ZONE_MOVABLE cannot be pinned; fix: reserve hugepages in"
                      + " ZONE_NORMAL" : "");
        }
        if (errno == Libc.EOPNOTSUPP()) {
            return "io_uring refuses to pin this memory (" + what + "): only anonymous, shmem and hugetlbfs memory"
                    + " can be registered";
        }
        return "the long-term pin failed (" + e.getMessage() + ")";
    }
}
